/**
 * netcode 1.02 constants (PROTOCOLS.md §3: netcode.h:89-93, netcode.c:44-62).
 * All integers on the wire are little-endian.
 */

export const CONNECT_TOKEN_BYTES = 2048;
export const CONNECT_TOKEN_PRIVATE_BYTES = 1024;
export const CONNECT_TOKEN_NONCE_BYTES = 24;
export const CHALLENGE_TOKEN_BYTES = 300;
export const VERSION_INFO_BYTES = 13;
export const KEY_BYTES = 32;
export const MAC_BYTES = 16;
export const USER_DATA_BYTES = 256;
export const MAX_SERVERS_PER_CONNECT = 32;
export const MAX_PAYLOAD_BYTES = 1200;
export const MAX_PACKET_BYTES = 1300;
export const REPLAY_PROTECTION_BUFFER_SIZE = 256;
export const PACKET_SEND_RATE_HZ = 10;
export const NUM_DISCONNECT_PACKETS = 10;

/** "NETCODE 1.02\0" */
export const VERSION_INFO = new Uint8Array([
  0x4e, 0x45, 0x54, 0x43, 0x4f, 0x44, 0x45, 0x20, 0x31, 0x2e, 0x30, 0x32, 0x00,
]);
/** "NETCODE 1.01\0": the legacy version, whose request was 1062 bytes (8-byte token sequence instead of a 24-byte nonce). */
export const VERSION_INFO_1_01 = new Uint8Array([
  0x4e, 0x45, 0x54, 0x43, 0x4f, 0x44, 0x45, 0x20, 0x31, 0x2e, 0x30, 0x31, 0x00,
]);

/** 1 + 13 + 8 + 8 + 24 + 1024 (PROTOCOLS.md §3.2; there is no create timestamp in the request). */
export const CONNECTION_REQUEST_BYTES = 1078;
export const CONNECTION_REQUEST_1_01_BYTES = 1062;

export const REQUEST_OFFSET = {
  versionInfo: 1,
  protocolId: 14,
  expireTimestamp: 22,
  nonce: 30,
  privateToken: 54,
  tokenTag: CONNECTION_REQUEST_BYTES - MAC_BYTES,
} as const;

/** The part of the 1024-byte private token that is encrypted; the last 16 bytes hold the MAC. */
export const CONNECT_TOKEN_PRIVATE_PLAINTEXT_BYTES = CONNECT_TOKEN_PRIVATE_BYTES - MAC_BYTES;

export const PACKET_TYPE = {
  request: 0,
  denied: 1,
  challenge: 2,
  response: 3,
  keepAlive: 4,
  payload: 5,
  disconnect: 6,
} as const;

export type PacketTypeName = keyof typeof PACKET_TYPE;
export type PacketType = (typeof PACKET_TYPE)[PacketTypeName];
export type EncryptedPacketType = Exclude<PacketType, 0>;

export const PACKET_TYPE_NAMES: readonly PacketTypeName[] = [
  'request',
  'denied',
  'challenge',
  'response',
  'keepAlive',
  'payload',
  'disconnect',
];

/** Encrypted packets: prefix + at least one sequence byte + MAC. */
export const MIN_ENCRYPTED_PACKET_BYTES = 1 + 1 + MAC_BYTES;

/** Plaintext size per encrypted type; payload is variable (1..1200) and marked -1. */
export const PLAINTEXT_BYTES: Readonly<Record<EncryptedPacketType, number>> = {
  1: 0,
  2: 8 + CHALLENGE_TOKEN_BYTES,
  3: 8 + CHALLENGE_TOKEN_BYTES,
  4: 8,
  5: -1,
  6: 0,
};

/** The reference server seeds its sequence for challenge/denied here (netcode.c:4056, IMPLEMENTERS.md §3). */
export const GLOBAL_SEQUENCE_START = 1n << 63n;
