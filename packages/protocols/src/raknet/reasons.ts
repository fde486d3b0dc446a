/**
 * Every code the RakNet parsers and probe return. Parser codes double as
 * probe `no` reasons, so one table documents both; the codes are metric
 * labels and never renamed.
 */

export const OFFLINE_CODES = {
  too_short: 'datagram of 2 bytes or less (RakPeer treats these as offline but they carry nothing)',
  offline_too_short: 'offline message id but shorter than its original minimum length',
  magic_missing: 'offline message id without the 16-byte offline magic at its offset',
  ping_length: 'unconnected ping neither 25 (no GUID) nor at least 33 bytes',
  reply1_length:
    'OPEN_CONNECTION_REPLY_1 shorter than its fields (28, or 32 with a cookie; padding may follow)',
  reply1_security: 'OPEN_CONNECTION_REPLY_1 hasSecurity byte is neither 0 nor 1',
  request2_length: 'OPEN_CONNECTION_REQUEST_2 length is not 34, 39, 56 or 61',
  request2_address: 'OPEN_CONNECTION_REQUEST_2 address version byte does not fit its length',
  reply2_length:
    'OPEN_CONNECTION_REPLY_2 length does not fit its address (35 for IPv4, 57 for IPv6)',
  incompatible_length: 'INCOMPATIBLE_PROTOCOL_VERSION is not exactly 26 bytes',
} as const;

export const DATAGRAM_CODES = {
  unknown_first_byte: 'first byte is neither an offline id nor a connected datagram header',
  data_truncated: 'data datagram without room for its sequence number and a frame',
  frame_truncated: 'a frame header or payload runs past the end of the datagram',
  frame_flags:
    'frame flags have padding bits set or a *_WITH_ACK_RECEIPT reliability (never written)',
  frame_zero_length: 'frame with a bit length of 0 (rejected by the RakNet reader)',
  frame_channel: 'ordering channel >= 32 (rejected by the RakNet reader)',
  frame_split_index: 'split index >= split count (rejected by the RakNet reader)',
  ack_truncated: 'ACK/NAK range records run past the end of the datagram',
  ack_no_records: 'ACK/NAK with a record count of 0',
  ack_record_flag: 'ACK/NAK record flag byte is neither 0 (range) nor 1 (single)',
  ack_range_inverted: 'ACK/NAK range with max < min (rejected by DS_RangeList)',
  ack_trailing: 'bytes left over after the ACK/NAK records',
} as const;

export const PROBE_ONLY_CODES = {
  offline_magic: 'offline message with the magic at the right offset and a valid layout',
  data_sequence:
    'enough data datagrams whose frames parse exactly and whose u24 LE sequence numbers increment',
  data_need_more: 'a valid data datagram; waiting for more of the sequence',
  ack_need_more: 'a valid ACK/NAK; never decisive alone (a NAK header reads as RTP V=2)',
  sequence_discontinuity:
    'data datagram sequence number does not follow the previous one of its direction',
} as const;

export const RAKNET_REASONS: Readonly<Record<string, string>> = Object.freeze({
  ...OFFLINE_CODES,
  ...DATAGRAM_CODES,
  ...PROBE_ONLY_CODES,
});

export type OfflineCode = keyof typeof OFFLINE_CODES;
export type DatagramCode = keyof typeof DATAGRAM_CODES;
