import { u16be, u32be } from '@gamemesh/core';

/** The RTP fixed header (RFC 3550 §5.1), read from one datagram. */
export interface RtpHeader {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrcCount: number;
  /** RFC 8285 profile (0xBEDE one-byte, 0x100x two-byte) or null without extension. */
  readonly extensionProfile: number | null;
  /** Offset of the payload; `payloadLength` excludes padding. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  readonly paddingLength: number;
}

export const RTP_HEADER_ERRORS = {
  too_short: 'shorter than the 12-byte fixed header',
  bad_version: 'version bits are not 2',
  bad_csrc_length: 'the CSRC list runs past the end',
  bad_extension_length: 'the header extension runs past the end',
  bad_padding: 'padding count is zero or longer than the payload',
} as const;

export type RtpHeaderError = keyof typeof RTP_HEADER_ERRORS;

export const RTP_FIXED_HEADER = 12;

/**
 * Allocation-free header validity check for the probe: `null` when the
 * header is consistent, else the error code. PT 72..76 is a separate check
 * (`isRtcpConflictingPayloadType`) because it is a classification rule, not
 * a parse error.
 */
export function checkRtpHeader(b: Uint8Array): RtpHeaderError | null {
  const length = b.length;
  if (length < RTP_FIXED_HEADER) return 'too_short';
  const byte0 = b[0]!;
  if (byte0 >> 6 !== 2) return 'bad_version';
  let end = RTP_FIXED_HEADER + 4 * (byte0 & 0x0f);
  if (end > length) return 'bad_csrc_length';
  if ((byte0 & 0x10) !== 0) {
    if (end + 4 > length) return 'bad_extension_length';
    end += 4 + 4 * u16be(b, end + 2);
    if (end > length) return 'bad_extension_length';
  }
  if ((byte0 & 0x20) !== 0) {
    // The last byte counts the padding, itself included (RFC 3550 §5.1).
    const padding = b[length - 1]!;
    if (padding === 0 || end + padding > length) return 'bad_padding';
  }
  return null;
}

/** PT 72..76 with M=1 reads as RTCP SR..APP; RFC 3550 §5.1 forbids them for RTP. */
export function isRtcpConflictingPayloadType(payloadType: number): boolean {
  return payloadType >= 72 && payloadType <= 76;
}

export type ParsedRtpHeader =
  | { readonly ok: true; readonly header: RtpHeader }
  | { readonly ok: false; readonly code: RtpHeaderError };

export function parseRtpHeader(b: Uint8Array): ParsedRtpHeader {
  const code = checkRtpHeader(b);
  if (code !== null) return { ok: false, code };
  const byte0 = b[0]!;
  let offset = RTP_FIXED_HEADER + 4 * (byte0 & 0x0f);
  let extensionProfile: number | null = null;
  if ((byte0 & 0x10) !== 0) {
    extensionProfile = u16be(b, offset);
    offset += 4 + 4 * u16be(b, offset + 2);
  }
  const paddingLength = (byte0 & 0x20) !== 0 ? b[b.length - 1]! : 0;
  return {
    ok: true,
    header: {
      marker: (b[1]! & 0x80) !== 0,
      payloadType: b[1]! & 0x7f,
      sequence: u16be(b, 2),
      timestamp: u32be(b, 4),
      ssrc: u32be(b, 8),
      csrcCount: byte0 & 0x0f,
      extensionProfile,
      payloadOffset: offset,
      payloadLength: b.length - offset - paddingLength,
      paddingLength,
    },
  };
}

/**
 * RFC 5761 §4: on a multiplexed port the second byte separates the two;
 * 192..223 is RTCP (RTP avoids PT 64..95 there).
 */
export function looksLikeMuxedRtcp(b: Uint8Array): boolean {
  return b.length >= 2 && b[0]! >> 6 === 2 && b[1]! >= 192 && b[1]! <= 223;
}
