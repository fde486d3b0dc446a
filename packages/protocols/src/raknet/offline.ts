import { bytesAt, u16be, u32be, u64be } from '@gamemesh/core';
import { MESSAGE_ID, OFFLINE_MAGIC, UDP_IP_OVERHEAD } from './constants.js';
import type { OfflineCode } from './reasons.js';

/**
 * Offline (unconnected) RakNet messages. RakPeer tells them from connected
 * datagrams only by message id, length and the 16-byte magic at a per-id
 * offset (`RakPeer.cpp:4582-4626`, PROTOCOLS.md §1.3); the layouts are §1.4.
 */

export type OfflineMessageName =
  | 'unconnected-ping'
  | 'unconnected-pong'
  | 'out-of-band'
  | 'open-connection-request-1'
  | 'open-connection-reply-1'
  | 'open-connection-request-2'
  | 'open-connection-reply-2'
  | 'connection-attempt-failed'
  | 'already-connected'
  | 'no-free-incoming-connections'
  | 'connection-banned'
  | 'incompatible-protocol-version'
  | 'ip-recently-connected';

interface OfflineShape {
  readonly name: OfflineMessageName;
  readonly magicAt: number;
  readonly minLength: number;
}

// Magic offsets and original minimum lengths from RakPeer's ProcessOfflineNetworkPacket.
const SHAPES: ReadonlyMap<number, OfflineShape> = new Map<number, OfflineShape>([
  [MESSAGE_ID.UNCONNECTED_PING, { name: 'unconnected-ping', magicAt: 9, minLength: 25 }],
  [
    MESSAGE_ID.UNCONNECTED_PING_OPEN_CONNECTIONS,
    { name: 'unconnected-ping', magicAt: 9, minLength: 25 },
  ],
  [MESSAGE_ID.UNCONNECTED_PONG, { name: 'unconnected-pong', magicAt: 17, minLength: 33 }],
  [MESSAGE_ID.OUT_OF_BAND_INTERNAL, { name: 'out-of-band', magicAt: 9, minLength: 25 }],
  [
    MESSAGE_ID.OPEN_CONNECTION_REQUEST_1,
    { name: 'open-connection-request-1', magicAt: 1, minLength: 25 },
  ],
  [
    MESSAGE_ID.OPEN_CONNECTION_REPLY_1,
    { name: 'open-connection-reply-1', magicAt: 1, minLength: 25 },
  ],
  [
    MESSAGE_ID.OPEN_CONNECTION_REQUEST_2,
    { name: 'open-connection-request-2', magicAt: 1, minLength: 25 },
  ],
  [
    MESSAGE_ID.OPEN_CONNECTION_REPLY_2,
    { name: 'open-connection-reply-2', magicAt: 1, minLength: 25 },
  ],
  [
    MESSAGE_ID.CONNECTION_ATTEMPT_FAILED,
    { name: 'connection-attempt-failed', magicAt: 1, minLength: 25 },
  ],
  [MESSAGE_ID.ALREADY_CONNECTED, { name: 'already-connected', magicAt: 1, minLength: 25 }],
  [
    MESSAGE_ID.NO_FREE_INCOMING_CONNECTIONS,
    { name: 'no-free-incoming-connections', magicAt: 1, minLength: 25 },
  ],
  [MESSAGE_ID.CONNECTION_BANNED, { name: 'connection-banned', magicAt: 1, minLength: 25 }],
  [
    MESSAGE_ID.INCOMPATIBLE_PROTOCOL_VERSION,
    { name: 'incompatible-protocol-version', magicAt: 2, minLength: 26 },
  ],
  [MESSAGE_ID.IP_RECENTLY_CONNECTED, { name: 'ip-recently-connected', magicAt: 1, minLength: 25 }],
]);

/** True when `id` is one of the ids RakPeer may treat as an offline message. */
export function isOfflineId(id: number): boolean {
  return SHAPES.has(id);
}

/** Server refusals of a connection attempt (offline, server to client). */
export const DENIAL_IDS: ReadonlySet<number> = new Set<number>([
  MESSAGE_ID.ALREADY_CONNECTED,
  MESSAGE_ID.NO_FREE_INCOMING_CONNECTIONS,
  MESSAGE_ID.CONNECTION_BANNED,
  MESSAGE_ID.INCOMPATIBLE_PROTOCOL_VERSION,
  MESSAGE_ID.IP_RECENTLY_CONNECTED,
]);

// SystemAddress: u8 version + 4-byte address + u16 port, or + 28-byte sockaddr_in6 (§1.1).
const IPV4_ADDRESS_LENGTH = 7;
const IPV6_ADDRESS_LENGTH = 29;
const REQUEST_2_COOKIE_LENGTH = 5;
// REPLY_1: id, magic, u64 server GUID, u8 hasSecurity, [u32 cookie], u16 MTU.
// (A LIBCAT public key after the cookie is not supported: Bedrock and
// raknet-native build without LIBCAT_SECURITY.)
const REPLY_1_MTU_AT = 26;

/**
 * Validates an offline message without allocating. `'ok'` when valid;
 * `'not_offline'` when the first byte is not an offline id at all.
 */
export function checkOfflineMessage(b: Uint8Array): 'ok' | 'not_offline' | OfflineCode {
  if (b.length <= 2) return 'too_short';
  const id = b[0]!;
  const shape = SHAPES.get(id);
  if (shape === undefined) return 'not_offline';
  if (b.length < shape.minLength) return 'offline_too_short';
  if (!bytesAt(b, shape.magicAt, OFFLINE_MAGIC)) return 'magic_missing';
  switch (id) {
    case MESSAGE_ID.UNCONNECTED_PING:
    case MESSAGE_ID.UNCONNECTED_PING_OPEN_CONNECTIONS:
      // 25 = senders that omit the GUID; RakPeer::Ping writes it (33).
      return b.length === 25 || b.length >= 33 ? 'ok' : 'ping_length';
    case MESSAGE_ID.OPEN_CONNECTION_REPLY_1:
      return checkReply1(b);
    case MESSAGE_ID.OPEN_CONNECTION_REQUEST_2:
      return checkRequest2(b);
    case MESSAGE_ID.OPEN_CONNECTION_REPLY_2:
      return reply2AddressLength(b) === 0 ? 'reply2_length' : 'ok';
    case MESSAGE_ID.INCOMPATIBLE_PROTOCOL_VERSION:
      return b.length === 26 ? 'ok' : 'incompatible_length';
    default:
      return 'ok';
  }
}

function checkReply1(b: Uint8Array): 'ok' | OfflineCode {
  // REPLY_1 may be padded up to the MTU (raknet-native's RakNet pads it to
  // 1464 bytes), so only the fixed fields are checked, not the exact length.
  if (b.length < REPLY_1_MTU_AT + 2) return 'reply1_length';
  const hasSecurity = b[25]!;
  if (hasSecurity === 0) return 'ok';
  if (hasSecurity !== 1) return 'reply1_security';
  return b.length >= REPLY_1_MTU_AT + 6 ? 'ok' : 'reply1_length';
}

function request2HasCookie(length: number): boolean | null {
  if (length === 34 || length === 56) return false;
  if (length === 39 || length === 61) return true;
  return null;
}

function checkRequest2(b: Uint8Array): 'ok' | OfflineCode {
  const cookie = request2HasCookie(b.length);
  if (cookie === null) return 'request2_length';
  // The length fixes both the cookie and the address family (§1.4), so the
  // version byte must agree; a cookie byte alone could look like 4 or 6.
  const version = b[cookie ? 17 + REQUEST_2_COOKIE_LENGTH : 17]!;
  const expected = b.length === 34 || b.length === 39 ? 4 : 6;
  return version === expected ? 'ok' : 'request2_address';
}

/** Address length of a REPLY_2 whose total length fits its version byte, else 0. */
function reply2AddressLength(b: Uint8Array): number {
  const version = b[25];
  if (version === 4 && b.length === 25 + IPV4_ADDRESS_LENGTH + 3) return IPV4_ADDRESS_LENGTH;
  if (version === 6 && b.length === 25 + IPV6_ADDRESS_LENGTH + 3) return IPV6_ADDRESS_LENGTH;
  return 0;
}

export interface OfflineMessage {
  readonly id: number;
  readonly name: OfflineMessageName;
  readonly clientGuid: bigint | null;
  readonly serverGuid: bigint | null;
  /** RakNet protocol byte: REQUEST_1's, or the server's in INCOMPATIBLE_PROTOCOL_VERSION. */
  readonly protocolVersion: number | null;
  /** REQUEST_1: probed MTU (payload length + 28); REPLY_1/REQUEST_2/REPLY_2: the MTU field. */
  readonly mtu: number | null;
  readonly hasSecurity: boolean | null;
  readonly cookie: number | null;
  /** Ping/pong sender time (u64 BE), as sent. */
  readonly time: bigint | null;
}

export type OfflineParse =
  | { readonly ok: true; readonly message: OfflineMessage }
  | { readonly ok: false; readonly code: OfflineCode | 'not_offline' };

export function parseOfflineMessage(b: Uint8Array): OfflineParse {
  const check = checkOfflineMessage(b);
  if (check !== 'ok') return { ok: false, code: check };
  const id = b[0]!;
  const message: {
    -readonly [K in keyof OfflineMessage]: OfflineMessage[K];
  } = {
    id,
    name: SHAPES.get(id)!.name,
    clientGuid: null,
    serverGuid: null,
    protocolVersion: null,
    mtu: null,
    hasSecurity: null,
    cookie: null,
    time: null,
  };
  switch (id) {
    case MESSAGE_ID.UNCONNECTED_PING:
    case MESSAGE_ID.UNCONNECTED_PING_OPEN_CONNECTIONS:
      message.time = u64be(b, 1);
      if (b.length >= 33) message.clientGuid = u64be(b, 25);
      break;
    case MESSAGE_ID.UNCONNECTED_PONG:
      message.time = u64be(b, 1);
      message.serverGuid = u64be(b, 9);
      break;
    case MESSAGE_ID.OPEN_CONNECTION_REQUEST_1:
      message.protocolVersion = b[17]!;
      message.mtu = b.length + UDP_IP_OVERHEAD;
      break;
    case MESSAGE_ID.OPEN_CONNECTION_REPLY_1:
      message.serverGuid = u64be(b, 17);
      message.hasSecurity = b[25] === 1;
      if (message.hasSecurity) message.cookie = u32be(b, REPLY_1_MTU_AT);
      message.mtu = u16be(b, message.hasSecurity ? REPLY_1_MTU_AT + 4 : REPLY_1_MTU_AT);
      break;
    case MESSAGE_ID.OPEN_CONNECTION_REQUEST_2: {
      const cookie = request2HasCookie(b.length) === true;
      message.hasSecurity = cookie;
      if (cookie) message.cookie = u32be(b, 17);
      message.mtu = u16be(b, b.length - 10);
      message.clientGuid = u64be(b, b.length - 8);
      break;
    }
    case MESSAGE_ID.OPEN_CONNECTION_REPLY_2:
      message.serverGuid = u64be(b, 17);
      message.mtu = u16be(b, 25 + reply2AddressLength(b));
      // Original RakNet writes doSecurity as one bit (0x80); Bedrock writes 0/1.
      message.hasSecurity = b[b.length - 1] !== 0;
      break;
    case MESSAGE_ID.INCOMPATIBLE_PROTOCOL_VERSION:
      message.protocolVersion = b[1]!;
      message.serverGuid = u64be(b, 18);
      break;
    case MESSAGE_ID.ALREADY_CONNECTED:
    case MESSAGE_ID.NO_FREE_INCOMING_CONNECTIONS:
    case MESSAGE_ID.CONNECTION_BANNED:
    case MESSAGE_ID.IP_RECENTLY_CONNECTED:
      message.serverGuid = u64be(b, 17);
      break;
    default:
      break;
  }
  return { ok: true, message };
}
