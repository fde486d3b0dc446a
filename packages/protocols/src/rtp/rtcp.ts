import { u16be, u32be } from '@gamemesh/core';

/**
 * RTCP compound packets (RFC 3550 §6.4-6.7 and A.2, RFC 4585, RFC 3611,
 * RFC 5506). `checkRtcpCompound` is the allocation-free validity test the
 * probe runs; `parseRtcpCompound` builds packet objects for trackers and
 * never throws: failures are values with a code from RTCP_PARSE_ERRORS.
 */

export const RTCP_PT = {
  SR: 200,
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  RTPFB: 205,
  PSFB: 206,
  XR: 207,
} as const;

export const RTCP_PARSE_ERRORS = {
  too_short: 'shorter than a common header plus sender SSRC',
  bad_version: 'version bits of the first packet are not 2',
  not_rtcp_type: 'first packet type is not in 200..207',
  padding_on_first: 'padding bit set on the first packet',
  bad_first_packet: 'first packet too short for its type and count',
  bad_inner_version: 'a later packet has version bits other than 2',
  bad_length_sum: 'packet lengths do not add up to the datagram length',
  padding_not_last: 'padding bit set on a packet that is not the last one',
  bad_padding: 'padding count is zero, unaligned or longer than the packet body',
  bad_report_count: 'report blocks do not fit in the SR/RR body',
  bad_sdes: 'an SDES chunk or item runs past its packet',
  bad_bye: 'BYE source list or reason runs past its packet',
  bad_app: 'APP packet shorter than SSRC plus name',
  bad_feedback: 'RTPFB/PSFB packet shorter than sender plus media SSRC',
  bad_xr: 'XR packet shorter than its SSRC or a report block runs past it',
} as const;

export type RtcpParseError = keyof typeof RTCP_PARSE_ERRORS;

/** A 24-byte report block of an SR or RR. */
export interface ReportBlock {
  readonly ssrc: number;
  /** 8-bit fixed-point fraction lost since the previous report (0..255). */
  readonly fractionLost: number;
  /** Signed 24-bit: duplicates can make it negative (RFC 3550 §6.4.1). */
  readonly cumulativeLost: number;
  readonly extendedHighestSequence: number;
  readonly jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received, 0 if none. */
  readonly lastSr: number;
  /** Delay since that SR in 1/65536 s. */
  readonly delaySinceLastSr: number;
}

export interface SdesItem {
  readonly type: number;
  readonly text: string;
}

export type RtcpPacket =
  | {
      readonly type: 'sr';
      readonly ssrc: number;
      readonly ntpSeconds: number;
      readonly ntpFraction: number;
      readonly rtpTimestamp: number;
      readonly packetCount: number;
      readonly octetCount: number;
      readonly reports: readonly ReportBlock[];
    }
  | { readonly type: 'rr'; readonly ssrc: number; readonly reports: readonly ReportBlock[] }
  | {
      readonly type: 'sdes';
      readonly chunks: readonly { readonly ssrc: number; readonly items: readonly SdesItem[] }[];
    }
  | { readonly type: 'bye'; readonly ssrcs: readonly number[]; readonly reason: string | null }
  | {
      readonly type: 'app';
      readonly subtype: number;
      readonly ssrc: number;
      readonly name: string;
      readonly dataLength: number;
    }
  | {
      readonly type: 'rtpfb' | 'psfb';
      readonly fmt: number;
      readonly senderSsrc: number;
      readonly mediaSsrc: number;
      /** Generic NACK (RTPFB FMT 1, RFC 4585 §6.2.1): packets reported lost. */
      readonly nackedPackets: number;
    }
  | { readonly type: 'xr'; readonly ssrc: number; readonly blockTypes: readonly number[] }
  | { readonly type: 'other'; readonly packetType: number; readonly count: number };

export type ParsedRtcp =
  | { readonly ok: true; readonly packets: readonly RtcpPacket[] }
  | { readonly ok: false; readonly code: RtcpParseError; readonly offset: number };

const HEADER = 4;
const REPORT_BLOCK = 24;

/**
 * A.2 compound validity without allocation: V=2, first PT 200..207 (RFC 5506
 * allows a lone feedback packet first, so not only SR/RR), P=0 on the first
 * packet, the first packet long enough for its type, every later packet V=2,
 * and the lengths summing to the datagram exactly. `null` when valid.
 */
export function checkRtcpCompound(b: Uint8Array): RtcpParseError | null {
  const length = b.length;
  if (length < 8) return 'too_short';
  const byte0 = b[0]!;
  if (byte0 >> 6 !== 2) return 'bad_version';
  const pt = b[1]!;
  if (pt < 200 || pt > 207) return 'not_rtcp_type';
  if ((byte0 & 0x20) !== 0) return 'padding_on_first';
  const firstWords = u16be(b, 2);
  const count = byte0 & 0x1f;
  if (pt === RTCP_PT.SR && firstWords < 6 + 6 * count) return 'bad_first_packet';
  if (pt === RTCP_PT.RR && firstWords < 1 + 6 * count) return 'bad_first_packet';
  if ((pt === RTCP_PT.RTPFB || pt === RTCP_PT.PSFB) && firstWords < 2) return 'bad_first_packet';
  let offset = 0;
  while (offset + HEADER <= length) {
    if (b[offset]! >> 6 !== 2) return 'bad_inner_version';
    offset += (u16be(b, offset + 2) + 1) * 4;
  }
  return offset === length ? null : 'bad_length_sum';
}

export function parseRtcpCompound(b: Uint8Array): ParsedRtcp {
  const invalid = checkRtcpCompound(b);
  if (invalid !== null) return { ok: false, code: invalid, offset: 0 };
  const packets: RtcpPacket[] = [];
  let offset = 0;
  while (offset < b.length) {
    const byte0 = b[offset]!;
    const end = offset + (u16be(b, offset + 2) + 1) * 4;
    let bodyEnd = end;
    if ((byte0 & 0x20) !== 0) {
      if (end !== b.length) return { ok: false, code: 'padding_not_last', offset };
      const padding = b[end - 1]!;
      if (padding === 0 || padding % 4 !== 0 || offset + HEADER + padding > end) {
        return { ok: false, code: 'bad_padding', offset };
      }
      bodyEnd = end - padding;
    }
    const packet = parseOne(b, offset, bodyEnd, byte0 & 0x1f, b[offset + 1]!);
    if (typeof packet === 'string') return { ok: false, code: packet, offset };
    packets.push(packet);
    offset = end;
  }
  return { ok: true, packets };
}

function parseOne(
  b: Uint8Array,
  start: number,
  end: number,
  count: number,
  pt: number,
): RtcpPacket | RtcpParseError {
  const body = start + HEADER;
  switch (pt) {
    case RTCP_PT.SR: {
      if (body + 24 + count * REPORT_BLOCK > end) return 'bad_report_count';
      return {
        type: 'sr',
        ssrc: u32be(b, body),
        ntpSeconds: u32be(b, body + 4),
        ntpFraction: u32be(b, body + 8),
        rtpTimestamp: u32be(b, body + 12),
        packetCount: u32be(b, body + 16),
        octetCount: u32be(b, body + 20),
        reports: readReports(b, body + 24, count),
      };
    }
    case RTCP_PT.RR: {
      if (body + 4 + count * REPORT_BLOCK > end) return 'bad_report_count';
      return { type: 'rr', ssrc: u32be(b, body), reports: readReports(b, body + 4, count) };
    }
    case RTCP_PT.SDES:
      return parseSdes(b, body, end, count);
    case RTCP_PT.BYE: {
      if (body + 4 * count > end) return 'bad_bye';
      const ssrcs: number[] = [];
      for (let i = 0; i < count; i++) ssrcs.push(u32be(b, body + 4 * i));
      const reasonAt = body + 4 * count;
      let reason: string | null = null;
      if (reasonAt < end) {
        const reasonLength = b[reasonAt]!;
        if (reasonAt + 1 + reasonLength > end) return 'bad_bye';
        reason = latin1(b, reasonAt + 1, reasonLength);
      }
      return { type: 'bye', ssrcs, reason };
    }
    case RTCP_PT.APP: {
      if (body + 8 > end) return 'bad_app';
      return {
        type: 'app',
        subtype: count,
        ssrc: u32be(b, body),
        name: latin1(b, body + 4, 4),
        dataLength: end - body - 8,
      };
    }
    case RTCP_PT.RTPFB:
    case RTCP_PT.PSFB: {
      if (body + 8 > end) return 'bad_feedback';
      let nackedPackets = 0;
      if (pt === RTCP_PT.RTPFB && count === 1) {
        // Each FCI is PID + bitmask of the 16 following lost packets (RFC 4585 §6.2.1).
        for (let at = body + 8; at + 4 <= end; at += 4)
          nackedPackets += 1 + popcount16(u16be(b, at + 2));
      }
      return {
        type: pt === RTCP_PT.RTPFB ? 'rtpfb' : 'psfb',
        fmt: count,
        senderSsrc: u32be(b, body),
        mediaSsrc: u32be(b, body + 4),
        nackedPackets,
      };
    }
    case RTCP_PT.XR: {
      if (body + 4 > end) return 'bad_xr';
      const blockTypes: number[] = [];
      let at = body + 4;
      // Report blocks: BT, type-specific, u16 length in words after the 4-byte block header (RFC 3611 §3).
      while (at + 4 <= end) {
        blockTypes.push(b[at]!);
        at += 4 + 4 * u16be(b, at + 2);
      }
      if (at !== end) return 'bad_xr';
      return { type: 'xr', ssrc: u32be(b, body), blockTypes };
    }
    default:
      return { type: 'other', packetType: pt, count };
  }
}

function readReports(b: Uint8Array, at: number, count: number): ReportBlock[] {
  const reports: ReportBlock[] = [];
  for (let i = 0; i < count; i++, at += REPORT_BLOCK) {
    const lossWord = u32be(b, at + 4);
    reports.push({
      ssrc: u32be(b, at),
      fractionLost: lossWord >>> 24,
      // Sign-extend the low 24 bits.
      cumulativeLost: ((lossWord & 0xffffff) << 8) >> 8,
      extendedHighestSequence: u32be(b, at + 8),
      jitter: u32be(b, at + 12),
      lastSr: u32be(b, at + 16),
      delaySinceLastSr: u32be(b, at + 20),
    });
  }
  return reports;
}

function parseSdes(
  b: Uint8Array,
  body: number,
  end: number,
  count: number,
): RtcpPacket | RtcpParseError {
  const chunks: { ssrc: number; items: SdesItem[] }[] = [];
  let at = body;
  for (let c = 0; c < count; c++) {
    if (at + 4 > end) return 'bad_sdes';
    const chunk = { ssrc: u32be(b, at), items: [] as SdesItem[] };
    at += 4;
    // Items until a zero type byte; the chunk then pads to a 32-bit boundary (RFC 3550 §6.5).
    for (;;) {
      if (at >= end) return 'bad_sdes';
      const type = b[at]!;
      if (type === 0) break;
      if (at + 2 > end) return 'bad_sdes';
      const itemLength = b[at + 1]!;
      if (at + 2 + itemLength > end) return 'bad_sdes';
      chunk.items.push({ type, text: latin1(b, at + 2, itemLength) });
      at += 2 + itemLength;
    }
    at = (at + 4) & ~3;
    if (at > end) return 'bad_sdes';
    chunks.push(chunk);
  }
  return { type: 'sdes', chunks };
}

function latin1(b: Uint8Array, at: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(b[at + i]!);
  return out;
}

function popcount16(v: number): number {
  let n = 0;
  for (let x = v & 0xffff; x !== 0; x &= x - 1) n++;
  return n;
}

/** The sender SSRC of the first packet (the RTCP routing key), or null. */
export function rtcpSenderSsrc(b: Uint8Array): number | null {
  return b.length >= 8 ? u32be(b, 4) : null;
}
