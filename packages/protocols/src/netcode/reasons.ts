/**
 * Every reason code the netcode probe returns. The fuzz harness fails on a
 * code missing here; the codes double as metric labels.
 */
export const NETCODE_REASONS = {
  request_1_02: 'connection request: 1078 bytes, byte 0 = 0, "NETCODE 1.02\\0" at 1',
  request_1_01: 'legacy connection request: 1062 bytes, byte 0 = 0, "NETCODE 1.01\\0" at 1',
  encrypted_consistent:
    'enough encrypted packets whose prefix, size and sequence agree (mid-session pickup)',
  encrypted_need_more: 'encrypted packet shape is valid; waiting for more datagrams of evidence',
  empty: 'zero-length datagram',
  request_bad_size: 'byte 0 = 0 (request) but the length is neither 1078 nor 1062',
  request_bad_version: 'request-sized datagram without the netcode version string',
  protocol_id_not_allowed: 'request protocol id is not in the configured allow-list',
  bad_packet_type: 'prefix low nibble is not a packet type 1..6',
  bad_sequence_bytes: 'prefix high nibble (sequence bytes) is not 1..8',
  too_short: 'shorter than prefix + sequence + 16-byte MAC',
  sequence_not_minimal: 'the last sequence byte is zero although more than one byte is used',
  bad_size_for_type: 'length does not match the exact encrypted size of the packet type',
  sequence_not_monotone: 'sequence number repeats, jumps back, or leaps ahead within one direction',
  history_not_netcode: 'an earlier datagram of the flow does not have netcode shape',
} as const;

export type NetcodeReason = keyof typeof NETCODE_REASONS;
