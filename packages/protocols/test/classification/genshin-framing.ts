import { concat, readLe32 } from '../support/bytes.js';
import type { PeerFraming } from '../support/kcp-framing.js';

/**
 * Genshin-style KCP (PROTOCOLS.md §2.3, boba-ps/kcp-ts): every segment
 * carries an extra `u32 token` between conv and cmd, a 28-byte header
 * (cmd at 8, len at 24). No such peer is published on npm, so real node-kcp
 * endpoints talk and each segment they emit is re-laid out with the token
 * inserted; the receiving side strips it before `ikcp_input`.
 */

const PLAIN_HEADER = 24;
const GENSHIN_HEADER = 28;

/** Re-lays every 24-byte-header segment of `kcp` with `token` (u32 LE) after conv. */
export function insertToken(kcp: Uint8Array, token: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset + PLAIN_HEADER <= kcp.length; ) {
    const length = readLe32(kcp, offset + 20);
    const segment = new Uint8Array(GENSHIN_HEADER + length);
    segment.set(kcp.subarray(offset, offset + 4), 0);
    segment.set([token & 0xff, (token >>> 8) & 0xff, (token >>> 16) & 0xff, token >>> 24], 4);
    segment.set(kcp.subarray(offset + 4, offset + PLAIN_HEADER + length), 8);
    parts.push(segment);
    offset += PLAIN_HEADER + length;
  }
  return concat(parts);
}

/** The inverse of `insertToken`; null when the datagram does not walk as 28-byte-header segments. */
export function stripToken(datagram: Uint8Array): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (offset + GENSHIN_HEADER <= datagram.length) {
    const length = readLe32(datagram, offset + 24);
    if (offset + GENSHIN_HEADER + length > datagram.length) return null;
    const segment = new Uint8Array(PLAIN_HEADER + length);
    segment.set(datagram.subarray(offset, offset + 4), 0);
    segment.set(datagram.subarray(offset + 8, offset + GENSHIN_HEADER + length), 4);
    parts.push(segment);
    offset += GENSHIN_HEADER + length;
  }
  if (offset !== datagram.length) return null;
  return concat(parts);
}

export function genshinFraming(token: number): PeerFraming {
  return {
    wrap: (kcp) => [insertToken(kcp, token)],
    unwrap: (datagram) => stripToken(datagram),
  };
}
