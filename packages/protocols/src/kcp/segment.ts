import { u16le, u32le } from '@gamemesh/core';

/**
 * The strict KCP segment walk (PROTOCOLS.md §2.1 "Robust datagram
 * validator"). It is stricter than ikcp_input on purpose: the reference
 * receiver ignores trailing bytes and never checks that control segments are
 * empty, but a classifier needs every byte to be explained before it calls a
 * datagram KCP.
 *
 * Segment header, all little-endian (ikcp.c ikcp_encode_seg):
 *   conv u32 @0, cmd u8 @4, frg u8 @5, wnd u16 @6, ts u32 @8, sn u32 @12,
 *   una u32 @16, len u32 @20, then `len` bytes of data.
 */

export const KCP_OVERHEAD = 24;
export const KCP_CMD_PUSH = 81;
export const KCP_CMD_ACK = 82;
export const KCP_CMD_WASK = 83;
export const KCP_CMD_WINS = 84;

/** IKCP_MTU_DEF 1400 - 24 = 1376 is the reference default; 1476 leaves room for MTU 1500 stacks. */
export const DEFAULT_MAX_PUSH_LENGTH = 1476;

export const WALK_CODES = {
  ok: 'every byte belongs to a well-formed segment of one conversation',
  too_short: 'fewer than 24 bytes where KCP segments should start',
  bad_cmd: 'a segment cmd byte is not 81..84 (PUSH, ACK, WASK, WINS)',
  length_overflow: 'a segment len runs past the end of the datagram',
  control_with_payload: 'an ACK/WASK/WINS segment carries data (the reference never attaches any)',
  push_too_long: 'a PUSH segment is longer than the configured maxPushLength',
  conv_mismatch: 'two segments of one datagram name different conversations',
  trailing_bytes: '1..23 bytes left after the last segment (no exact consumption)',
} as const;

export type WalkCode = keyof typeof WALK_CODES;

/** What a successful walk found. Filled in place so the hot path allocates nothing. */
export interface WalkSummary {
  conv: number;
  segments: number;
  pushes: number;
  acks: number;
  /** WASK + WINS: window probes and their answers. */
  windowProbes: number;
}

export function createWalkSummary(): WalkSummary {
  return { conv: 0, segments: 0, pushes: 0, acks: 0, windowProbes: 0 };
}

/**
 * Walks `data[start..end)` as back-to-back KCP segments. Returns a constant
 * code; `out` is written only when the code is `ok`. Never throws.
 * `frg` is a byte, so the "frg <= 255" rule of §2.1 holds by construction;
 * the reference sender keeps it <= 127 but kcp2k allows up to 255.
 */
export function walkSegments(
  data: Uint8Array,
  start: number,
  end: number,
  maxPushLength: number,
  out: WalkSummary | null,
): WalkCode {
  if (start < 0 || end > data.length || end - start < KCP_OVERHEAD) return 'too_short';
  const conv = u32le(data, start);
  let offset = start;
  let segments = 0;
  let pushes = 0;
  let acks = 0;
  let windowProbes = 0;
  while (end - offset >= KCP_OVERHEAD) {
    const cmd = data[offset + 4]!;
    if (cmd < KCP_CMD_PUSH || cmd > KCP_CMD_WINS) return 'bad_cmd';
    if (segments > 0 && u32le(data, offset) !== conv) return 'conv_mismatch';
    const len = u32le(data, offset + 20);
    const remaining = end - offset - KCP_OVERHEAD;
    if (len > remaining) return 'length_overflow';
    if (cmd === KCP_CMD_PUSH) {
      if (len > maxPushLength) return 'push_too_long';
      pushes++;
    } else {
      if (len !== 0) return 'control_with_payload';
      if (cmd === KCP_CMD_ACK) acks++;
      else windowProbes++;
    }
    segments++;
    offset += KCP_OVERHEAD + len;
  }
  if (offset !== end) return 'trailing_bytes';
  if (out !== null) {
    out.conv = conv;
    out.segments = segments;
    out.pushes = pushes;
    out.acks = acks;
    out.windowProbes = windowProbes;
  }
  return 'ok';
}

/** One decoded segment header; `dataOffset` points into the datagram. */
export interface KcpSegment {
  readonly conv: number;
  readonly cmd: number;
  readonly frg: number;
  readonly wnd: number;
  readonly ts: number;
  readonly sn: number;
  readonly una: number;
  readonly len: number;
  readonly dataOffset: number;
}

export type ParsedSegments =
  | { readonly ok: true; readonly conv: number; readonly segments: readonly KcpSegment[] }
  | { readonly ok: false; readonly code: Exclude<WalkCode, 'ok'> };

const REJECTED = Object.fromEntries(
  Object.keys(WALK_CODES)
    .filter((code) => code !== 'ok')
    .map((code) => [code, Object.freeze({ ok: false, code })]),
) as Record<Exclude<WalkCode, 'ok'>, ParsedSegments>;

/**
 * The walk plus decoded headers, for tools and tests. Allocates only on
 * success; rejections are shared constant values.
 */
export function parseSegments(
  data: Uint8Array,
  start = 0,
  end = data.length,
  maxPushLength = DEFAULT_MAX_PUSH_LENGTH,
): ParsedSegments {
  const code = walkSegments(data, start, end, maxPushLength, null);
  if (code !== 'ok') return REJECTED[code];
  const segments: KcpSegment[] = [];
  for (let offset = start; offset < end; ) {
    const segment = readSegmentHeader(data, offset);
    segments.push(segment);
    offset += KCP_OVERHEAD + segment.len;
  }
  return { ok: true, conv: u32le(data, start), segments };
}

/** Decodes one header. The caller guarantees `offset + 24 <= data.length`. */
export function readSegmentHeader(data: Uint8Array, offset: number): KcpSegment {
  return {
    conv: u32le(data, offset),
    cmd: data[offset + 4]!,
    frg: data[offset + 5]!,
    wnd: u16le(data, offset + 6),
    ts: u32le(data, offset + 8),
    sn: u32le(data, offset + 12),
    una: u32le(data, offset + 16),
    len: u32le(data, offset + 20),
    dataOffset: offset + KCP_OVERHEAD,
  };
}
