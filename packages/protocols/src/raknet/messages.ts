import { u32be, u64be } from '@gamemesh/core';
import { MESSAGE_ID } from './constants.js';

/**
 * RakNet's own messages inside frames (PROTOCOLS.md §1.5, "First messages
 * inside frames"). Everything from ID_USER_PACKET_ENUM up is the
 * application's and stays opaque.
 */

export type ConnectedMessage =
  | { readonly name: 'connection-request'; readonly clientGuid: bigint }
  | { readonly name: 'connection-request-accepted' }
  | { readonly name: 'new-incoming-connection' }
  | { readonly name: 'connected-ping'; readonly timeHigh: number; readonly timeLow: number }
  | { readonly name: 'connected-pong'; readonly echoHigh: number; readonly echoLow: number }
  | { readonly name: 'disconnection-notification' }
  | { readonly name: 'other'; readonly id: number };

const ACCEPTED: ConnectedMessage = Object.freeze({ name: 'connection-request-accepted' });
const NEW_INCOMING: ConnectedMessage = Object.freeze({ name: 'new-incoming-connection' });
const DISCONNECT: ConnectedMessage = Object.freeze({ name: 'disconnection-notification' });

// RakNet::Time is 64-bit (§1.1); it is kept as two u32 halves so matching a
// pong to its ping compares exactly without BigInt.
const TIME_LENGTH = 8;

/**
 * Reads the message whose id byte is at `offset` (payload of `length` bytes).
 * Null when the payload is too short for the id's fixed fields.
 */
export function readConnectedMessage(
  b: Uint8Array,
  offset: number,
  length: number,
): ConnectedMessage | null {
  if (length < 1 || offset + length > b.length) return null;
  const id = b[offset]!;
  switch (id) {
    case MESSAGE_ID.CONNECTION_REQUEST:
      // u64 client GUID, u64 time, u8 doSecurity.
      return length >= 18 ? { name: 'connection-request', clientGuid: u64be(b, offset + 1) } : null;
    case MESSAGE_ID.CONNECTION_REQUEST_ACCEPTED:
      return ACCEPTED;
    case MESSAGE_ID.NEW_INCOMING_CONNECTION:
      return NEW_INCOMING;
    case MESSAGE_ID.CONNECTED_PING:
      return length >= 1 + TIME_LENGTH
        ? { name: 'connected-ping', timeHigh: u32be(b, offset + 1), timeLow: u32be(b, offset + 5) }
        : null;
    case MESSAGE_ID.CONNECTED_PONG:
      return length >= 1 + TIME_LENGTH
        ? { name: 'connected-pong', echoHigh: u32be(b, offset + 1), echoLow: u32be(b, offset + 5) }
        : null;
    case MESSAGE_ID.DISCONNECTION_NOTIFICATION:
      return DISCONNECT;
    default:
      return { name: 'other', id };
  }
}
