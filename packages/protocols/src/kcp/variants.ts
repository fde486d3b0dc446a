import { u16le, u32le } from '@gamemesh/core';
import { crc32Ieee } from './crc32.js';
import {
  createWalkSummary,
  KCP_OVERHEAD,
  WALK_CODES,
  type WalkCode,
  type WalkSummary,
  walkSegments,
} from './segment.js';

/**
 * KCP framings seen on the wire, each detected and unwrapped down to the
 * plain segment walk (PROTOCOLS.md §2.2, §2.3):
 *
 * - `raw`: segments at offset 0 (ikcp.c, node-kcp, kcp-go without FEC/crypt).
 * - `fec`: kcp-go FEC header `seqid u32 | type u16 | size u16` (fec.go
 *   sealData, encode): data shards (0xF1) carry `size = kcp length + 2` and the
 *   segments at 8; parity shards (0xF2) carry Reed-Solomon parity, unreadable
 *   without the rest of the shard group; OOB (0xF3) uses seqid 0xFFFFFFFF.
 * - `crypt-none`: kcp-go NoneBlockCrypt: `nonce[16] | crc32 u32 LE | raw or FEC`,
 *   the CRC-32/IEEE covering everything from byte 20 (sess.go cryptHeaderSize).
 * - `kcp2k`: Mirror's kcp2k (KcpPeer.cs RawSendReliable / SendUnreliable):
 *   `channel u8 | cookie u32 LE | ...`; reliable (1) carries segments of conv 0,
 *   unreliable (2) carries `header u8` (4 data, 5 disconnect) and data.
 *
 * Encrypted kcp-go has no cleartext header at all and is never unwrapped here.
 */

export const KCP_VARIANTS = ['raw', 'fec', 'crypt-none', 'kcp2k'] as const;
export type KcpVariant = (typeof KCP_VARIANTS)[number];

export const FEC_HEADER_SIZE = 8;
export const FEC_TYPE_DATA = 0xf1;
export const FEC_TYPE_PARITY = 0xf2;
export const FEC_TYPE_OOB = 0xf3;
export const FEC_OOB_SEQID = 0xffffffff;
export const CRYPT_HEADER_SIZE = 20;
const CRYPT_NONCE_SIZE = 16;
export const KCP2K_CHANNEL_RELIABLE = 1;
export const KCP2K_CHANNEL_UNRELIABLE = 2;
export const KCP2K_METADATA_SIZE = 5;
export const KCP2K_UNRELIABLE_DATA = 4;
export const KCP2K_UNRELIABLE_DISCONNECT = 5;

// A parity shard is as long as the longest data shard of its group, which
// holds at least the FEC header, the size field and one 24-byte segment.
const FEC_MIN_PARITY_LENGTH = FEC_HEADER_SIZE + KCP_OVERHEAD;

export const FRAME_CODES = {
  ...WALK_CODES,
  fec_size_mismatch: 'FEC data shard whose size field is not the KCP length + 2',
  fec_short_shard: 'FEC parity/OOB shard too short to belong to a KCP shard group',
  fec_oob_seqid: 'FEC OOB shard (0xF3) whose seqid is not 0xFFFFFFFF',
  crc_mismatch: 'KCP after a 20-byte crypt header, but the CRC-32 at offset 16 does not cover it',
  kcp2k_conv_not_zero: 'kcp2k reliable datagram whose segments are not conv 0',
  kcp2k_bad_unreliable:
    'kcp2k unreliable datagram with a header other than 4 (data) / 5 (disconnect), or a wrong length for it',
  kcp2k_too_short: 'kcp2k datagram shorter than channel + cookie + one byte',
  kcp2k_bad_channel: 'kcp2k datagram whose channel byte is neither 1 (reliable) nor 2 (unreliable)',
  fec_bad_type: 'no kcp-go FEC shard type (0xF1/0xF2/0xF3) at offset 4',
} as const;

export type FrameCode = keyof typeof FRAME_CODES;

/** Which variants to try and how strict the walk is. */
export interface FramingOptions {
  readonly maxPushLength: number;
  readonly fec: boolean;
  readonly cryptNone: boolean;
  readonly kcp2k: boolean;
}

/** Where the KCP of one datagram is. Reused in place by the probe and tracker. */
export interface KcpFrame {
  variant: KcpVariant;
  /** First byte of the segments; -1 when the datagram carries none readable (parity, OOB, kcp2k unreliable). */
  kcpStart: number;
  kcpEnd: number;
  /** kcp-go FEC shard type, 0 without an FEC header. */
  fecType: number;
  /** kcp2k channel (1 reliable, 2 unreliable), 0 for other variants. */
  kcp2kChannel: number;
  cookie: number;
  /** kcp2k unreliable header (4 data, 5 disconnect), 0 otherwise. */
  kcp2kHeader: number;
  readonly walk: WalkSummary;
}

export function createFrame(): KcpFrame {
  return {
    variant: 'raw',
    kcpStart: -1,
    kcpEnd: -1,
    fecType: 0,
    kcp2kChannel: 0,
    cookie: 0,
    kcp2kHeader: 0,
    walk: createWalkSummary(),
  };
}

function reset(out: KcpFrame, variant: KcpVariant): void {
  out.variant = variant;
  out.kcpStart = -1;
  out.kcpEnd = -1;
  out.fecType = 0;
  out.kcp2kChannel = 0;
  out.cookie = 0;
  out.kcp2kHeader = 0;
}

function readRaw(data: Uint8Array, start: number, max: number, out: KcpFrame): WalkCode {
  const code = walkSegments(data, start, data.length, max, out.walk);
  if (code === 'ok') {
    out.kcpStart = start;
    out.kcpEnd = data.length;
  }
  return code;
}

function isFecType(data: Uint8Array, start: number): boolean {
  if (data.length - start < FEC_HEADER_SIZE) return false;
  const type = u16le(data, start + 4);
  return type >= FEC_TYPE_DATA && type <= FEC_TYPE_OOB;
}

/** The caller has checked `isFecType(data, start)`. */
function readFec(data: Uint8Array, start: number, max: number, out: KcpFrame): FrameCode {
  const type = u16le(data, start + 4);
  out.fecType = type;
  if (type === FEC_TYPE_DATA) {
    // fec.go encode: size = len(b[payloadOffset:]) = 2 + KCP length.
    if (u16le(data, start + 6) !== data.length - start - 6) return 'fec_size_mismatch';
    return readRaw(data, start + FEC_HEADER_SIZE, max, out);
  }
  if (data.length - start < FEC_MIN_PARITY_LENGTH) return 'fec_short_shard';
  if (type === FEC_TYPE_OOB && u32le(data, start) !== FEC_OOB_SEQID) return 'fec_oob_seqid';
  return 'ok';
}

function readRawOrFec(
  data: Uint8Array,
  start: number,
  options: FramingOptions,
  out: KcpFrame,
): FrameCode {
  if (options.fec && isFecType(data, start))
    return readFec(data, start, options.maxPushLength, out);
  return readRaw(data, start, options.maxPushLength, out);
}

function readCryptNone(data: Uint8Array, options: FramingOptions, out: KcpFrame): FrameCode {
  if (data.length < CRYPT_HEADER_SIZE + KCP_OVERHEAD) return 'too_short';
  // Structure first: it rejects almost everything without touching every byte.
  const inner = readRawOrFec(data, CRYPT_HEADER_SIZE, options, out);
  if (inner !== 'ok') return inner;
  if (crc32Ieee(data, CRYPT_HEADER_SIZE) !== u32le(data, CRYPT_NONCE_SIZE)) return 'crc_mismatch';
  return 'ok';
}

function readKcp2k(data: Uint8Array, max: number, out: KcpFrame): FrameCode {
  if (data.length < KCP2K_METADATA_SIZE + 1) return 'kcp2k_too_short';
  const channel = data[0]!;
  out.kcp2kChannel = channel;
  out.cookie = u32le(data, 1);
  if (channel === KCP2K_CHANNEL_RELIABLE) {
    const code = readRaw(data, KCP2K_METADATA_SIZE, max, out);
    if (code !== 'ok') return code;
    // KcpPeer.cs: `new Kcp(0, RawSendReliable)`.
    return out.walk.conv === 0 ? 'ok' : 'kcp2k_conv_not_zero';
  }
  if (channel !== KCP2K_CHANNEL_UNRELIABLE) return 'kcp2k_bad_channel';
  const header = data[KCP2K_METADATA_SIZE]!;
  out.kcp2kHeader = header;
  // SendData refuses empty messages; SendDisconnect sends the header alone.
  if (header === KCP2K_UNRELIABLE_DATA && data.length > KCP2K_METADATA_SIZE + 1) return 'ok';
  if (header === KCP2K_UNRELIABLE_DISCONNECT && data.length === KCP2K_METADATA_SIZE + 1)
    return 'ok';
  return 'kcp2k_bad_unreliable';
}

/**
 * Reads `data` as one given variant. Returns `ok` with `out` filled, or the
 * code of the first rule the datagram broke. Never throws, never allocates.
 */
export function readFrameAs(
  variant: KcpVariant,
  data: Uint8Array,
  options: FramingOptions,
  out: KcpFrame,
): FrameCode {
  reset(out, variant);
  switch (variant) {
    case 'raw':
      return readRaw(data, 0, options.maxPushLength, out);
    case 'fec':
      return isFecType(data, 0) ? readFec(data, 0, options.maxPushLength, out) : 'fec_bad_type';
    case 'crypt-none':
      return readCryptNone(data, options, out);
    case 'kcp2k':
      return readKcp2k(data, options.maxPushLength, out);
  }
}

/**
 * Tries the enabled variants in a fixed order (raw, fec, crypt-none, kcp2k;
 * their markers are disjoint except for improbable overlaps, and the first
 * that explains every byte wins). On failure, returns the code of the variant
 * whose marker the datagram carried, else the raw walk's code.
 */
export function detectFrame(data: Uint8Array, options: FramingOptions, out: KcpFrame): FrameCode {
  const raw = readFrameAs('raw', data, options, out);
  if (raw === 'ok') return raw;
  let failure: FrameCode = raw;
  if (options.fec && isFecType(data, 0)) {
    const fec = readFrameAs('fec', data, options, out);
    if (fec === 'ok') return fec;
    failure = fec;
  }
  if (options.cryptNone && data.length >= CRYPT_HEADER_SIZE + KCP_OVERHEAD) {
    const crypt = readFrameAs('crypt-none', data, options, out);
    if (crypt === 'ok') return crypt;
    if (crypt === 'crc_mismatch') failure = crypt;
  }
  const first = data.length > 0 ? data[0]! : 0;
  if (options.kcp2k && (first === KCP2K_CHANNEL_RELIABLE || first === KCP2K_CHANNEL_UNRELIABLE)) {
    const kcp2k = readFrameAs('kcp2k', data, options, out);
    if (kcp2k === 'ok') return kcp2k;
    if (failure === raw) failure = kcp2k;
  }
  return failure;
}

/** An allocation-friendly view of `detectFrame` for tools and tests. */
export type UnwrappedKcp =
  | {
      readonly ok: true;
      readonly variant: KcpVariant;
      /** Offset and end of the segments; null when the datagram carries none readable. */
      readonly kcp: { readonly start: number; readonly end: number; readonly conv: number } | null;
      readonly fecType: number | null;
      readonly kcp2k: {
        readonly channel: number;
        readonly cookie: number;
        readonly header: number | null;
      } | null;
    }
  | { readonly ok: false; readonly code: Exclude<FrameCode, 'ok'> };

export function unwrapKcp(data: Uint8Array, options: FramingOptions): UnwrappedKcp {
  const frame = createFrame();
  const code = detectFrame(data, options, frame);
  if (code !== 'ok') return { ok: false, code };
  return {
    ok: true,
    variant: frame.variant,
    kcp:
      frame.kcpStart < 0
        ? null
        : { start: frame.kcpStart, end: frame.kcpEnd, conv: frame.walk.conv },
    fecType: frame.fecType === 0 ? null : frame.fecType,
    kcp2k:
      frame.variant === 'kcp2k'
        ? {
            channel: frame.kcp2kChannel,
            cookie: frame.cookie,
            header: frame.kcp2kChannel === KCP2K_CHANNEL_UNRELIABLE ? frame.kcp2kHeader : null,
          }
        : null,
  };
}
