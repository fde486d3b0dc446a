import { type Datagram, match, needMore, no, type ProbeResult } from '@gamemesh/core';
import { KCP_NO_REASONS, type KcpNoReason } from './reasons.js';
import {
  createFrame,
  detectFrame,
  type FramingOptions,
  KCP_VARIANTS,
  KCP2K_METADATA_SIZE,
  type KcpFrame,
  type KcpVariant,
  readFrameAs,
} from './variants.js';

/**
 * The KCP probe. The rule, from the false-positive math of PROTOCOLS.md
 * §2.1 / §5.1 / §5.2:
 *
 * - A datagram whose every byte is explained by the strict walk (any variant)
 *   and that carries a PUSH is `match`: a random datagram needs cmd == 81
 *   (2^-8) and a u32 len equal to the bytes left (2^-32), about 2^-40, and
 *   multi-segment datagrams must chain exactly too.
 * - A kcp-go crypt=none datagram is `match` on its own: structure at 20 plus a
 *   CRC-32 over the rest (2^-32 on top of the walk).
 * - A control-only datagram (ACK/WASK/WINS, len 0) is weaker: zero-filled
 *   structured data lands on len == 0 far more often than random data, so it
 *   is `need-more` until an earlier datagram of the flow (either direction)
 *   validates in the same variant with the same conv, another 2^-32.
 * - kcp-go FEC parity/OOB shards carry no readable KCP (2^-16 of structure)
 *   and kcp2k unreliable datagrams carry three bytes of it: `need-more` until
 *   a datagram of the same FEC stream / kcp2k cookie confirms them.
 * - Nothing validates: `no`. Encrypted kcp-go is never labelled KCP; where the
 *   flow has the shape of it, the `no` says `opaque_possibly_encrypted`.
 *
 * The walk runs before RTP's probe in the built-in order: a KCP datagram
 * whose conv low byte is 0x80..0xBF reads as RTP V=2 (§5.2).
 */

type MatchReason = 'push_segment' | 'conv_corroborated' | 'cookie_corroborated';

const MATCHES = Object.fromEntries(
  KCP_VARIANTS.map((variant) => [
    variant,
    {
      push_segment: match(variant, 'push_segment'),
      conv_corroborated: match(variant, 'conv_corroborated'),
      cookie_corroborated: match(variant, 'cookie_corroborated'),
    },
  ]),
) as Record<KcpVariant, Record<MatchReason, ProbeResult>>;

const CRC_VERIFIED = match('crypt-none', 'crc_verified');
const CONTROL_ONLY = needMore('control_only');
const FEC_UNREADABLE = needMore('fec_unreadable_shard');
const KCP2K_UNRELIABLE = needMore('kcp2k_unreliable');

const NO = Object.fromEntries(
  Object.keys(KCP_NO_REASONS).map((reason) => [reason, no(reason)]),
) as Record<KcpNoReason, ProbeResult>;

// The smallest datagram any variant produces: a kcp2k disconnect (channel, cookie, header).
const MIN_DATAGRAM = KCP2K_METADATA_SIZE + 1;

export function createKcpProbe(
  options: FramingOptions,
): (datagram: Datagram, history: readonly Datagram[]) => ProbeResult {
  // Scratch frames: probes run one at a time, so reuse keeps the path allocation-free.
  const current = createFrame();
  const earlier = createFrame();

  const corroborated = (history: readonly Datagram[]): boolean => {
    for (let i = history.length - 1; i >= 0; i--) {
      if (readFrameAs(current.variant, history[i]!.data, options, earlier) !== 'ok') continue;
      if (current.variant === 'kcp2k') {
        if (earlier.cookie === current.cookie) return true;
        continue;
      }
      const currentReadable = current.kcpStart >= 0;
      const earlierReadable = earlier.kcpStart >= 0;
      if (currentReadable && earlierReadable) {
        if (earlier.walk.conv === current.walk.conv) return true;
      } else if (currentReadable || earlierReadable) {
        // One readable FEC data shard plus a well-formed parity/OOB shard of the same flow.
        return true;
      }
    }
    return false;
  };

  return (datagram, history) => {
    const data = datagram.data;
    if (data.length < MIN_DATAGRAM) return NO.too_short;
    const code = detectFrame(data, options, current);
    if (code !== 'ok')
      return looksEncrypted(datagram, history) ? NO.opaque_possibly_encrypted : NO[code];
    if (current.variant === 'crypt-none') return CRC_VERIFIED;
    const reasons = MATCHES[current.variant];
    if (current.kcpStart >= 0 && current.walk.pushes > 0) return reasons.push_segment;
    if (corroborated(history)) {
      return current.variant === 'kcp2k' ? reasons.cookie_corroborated : reasons.conv_corroborated;
    }
    if (current.variant === 'kcp2k') return current.kcpStart >= 0 ? CONTROL_ONLY : KCP2K_UNRELIABLE;
    return current.kcpStart >= 0 ? CONTROL_ONLY : FEC_UNREADABLE;
  };
}

/**
 * Encrypted kcp-go control packets have fixed sizes: 44 = 20-byte crypt
 * header + one 24-byte ACK, 52 = + 8-byte FEC header (or AEAD: 12-byte nonce
 * + 24 + 16-byte tag), 60 = AEAD + FEC (sess.go, PROTOCOLS.md §2.2, §5.4 step 9).
 */
const ENCRYPTED_CONTROL_SIZES = new Set([44, 52, 60]);
const MIN_ENCRYPTED = 44;
// Plaintext KCP headers are full of zero bytes (high bytes of sn, una, len);
// ciphertext has ~0.17 of them in 44 bytes.
const MAX_ZEROS_IN_CIPHERTEXT = 2;

function looksRandom(data: Uint8Array): boolean {
  if (data.length < MIN_ENCRYPTED) return false;
  let zeros = 0;
  for (let i = 0; i < MIN_ENCRYPTED; i++) {
    if (data[i] === 0 && ++zeros > MAX_ZEROS_IN_CIPHERTEXT) return false;
  }
  return true;
}

/** Only a label for `no`: both directions random-looking, one of them control-sized. */
function looksEncrypted(datagram: Datagram, history: readonly Datagram[]): boolean {
  if (!looksRandom(datagram.data)) return false;
  const currentIsControl = ENCRYPTED_CONTROL_SIZES.has(datagram.data.length);
  for (const earlier of history) {
    if (earlier.direction === datagram.direction) continue;
    if (!currentIsControl && !ENCRYPTED_CONTROL_SIZES.has(earlier.data.length)) continue;
    if (looksRandom(earlier.data)) return true;
  }
  return false;
}

/** The session key: conv in decimal; for kcp2k (conv always 0) the cookie, once the server assigned one. */
export function createKcpRoutingKey(
  options: FramingOptions,
): (datagram: Datagram) => string | null {
  const frame: KcpFrame = createFrame();
  return (datagram) => {
    if (detectFrame(datagram.data, options, frame) !== 'ok') return null;
    if (frame.variant === 'kcp2k') return frame.cookie === 0 ? null : String(frame.cookie);
    return frame.kcpStart >= 0 ? String(frame.walk.conv) : null;
  };
}
