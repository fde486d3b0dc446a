import { FRAME_CODES, type FrameCode } from './variants.js';

/**
 * Every reason code the KCP probe can return. Codes are stable metric labels:
 * never renamed or reused.
 */

export const KCP_MATCH_REASONS = {
  push_segment:
    'the datagram passes the strict walk and carries a PUSH segment (random data passes with p ~ 2^-40)',
  crc_verified:
    'kcp-go crypt=none: KCP or FEC structure at offset 20 and the CRC-32 at offset 16 covers it',
  conv_corroborated:
    'a control-only (or FEC parity) datagram confirmed by an earlier datagram of the same conversation',
  cookie_corroborated:
    'a kcp2k datagram confirmed by an earlier kcp2k datagram with the same cookie',
} as const;

export const KCP_NEED_MORE_REASONS = {
  control_only: 'only ACK/WASK/WINS segments and no earlier datagram of the same conv yet',
  fec_unreadable_shard: 'a kcp-go FEC parity or OOB shard: well-formed header, no readable KCP',
  kcp2k_unreliable:
    'a kcp2k unreliable datagram (3 bytes of structure) with no earlier datagram of its cookie',
} as const;

type FrameFailure = Exclude<FrameCode, 'ok'>;

const FRAME_FAILURES = Object.fromEntries(
  Object.entries(FRAME_CODES).filter(([code]) => code !== 'ok'),
) as Record<FrameFailure, string>;

export const KCP_NO_REASONS = {
  ...FRAME_FAILURES,
  opaque_possibly_encrypted:
    'no framing validates, but this and an opposite-direction datagram look uniformly random with sizes of encrypted kcp-go control packets; not provable without the key',
} as const;

export type KcpNoReason = keyof typeof KCP_NO_REASONS;

export const KCP_REASONS: Readonly<Record<string, string>> = Object.freeze({
  ...KCP_MATCH_REASONS,
  ...KCP_NEED_MORE_REASONS,
  ...KCP_NO_REASONS,
});
