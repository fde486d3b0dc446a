import {
  type Datagram,
  match,
  needMore,
  no,
  type ProbeNo,
  type ProbeResult,
  u24le,
  u64be,
} from '@gamemesh/core';
import { DATA_HEADER_LENGTH, MESSAGE_ID, SEQUENCE_MASK } from './constants.js';
import { checkConnectedDatagram, connectedKind, walkDataFrames } from './datagram.js';
import { readConnectedMessage } from './messages.js';
import { checkOfflineMessage } from './offline.js';
import { RAKNET_REASONS } from './reasons.js';

/**
 * The RakNet probe (PROTOCOLS.md §5.4 steps 2 and 7). An offline message
 * with the magic is decisive alone (a chance match is ~2^-128). A flow
 * picked up mid-session needs several data datagrams whose frames parse
 * exactly and whose u24 LE sequence numbers increment per direction: the
 * incrementing low byte at byte 1 is what separates RakNet from RTP, whose
 * byte 1 (payload type) stays constant (§5.2). ACK/NAK datagrams are never
 * decisive alone.
 */

export const OFFLINE_VARIANT = 'offline';
export const CONNECTED_VARIANT = 'connected';

const MATCH_OFFLINE = match(OFFLINE_VARIANT, 'offline_magic');
const MATCH_CONNECTED = match(CONNECTED_VARIANT, 'data_sequence');
const NEED_DATA = needMore('data_need_more');
const NEED_ACK = needMore('ack_need_more');
const NO_DISCONTINUITY = no('sequence_discontinuity');

// One prebuilt `no` per code, so the probe path allocates nothing.
const NO_BY_CODE: ReadonlyMap<string, ProbeNo> = new Map(
  Object.keys(RAKNET_REASONS).map((code) => [code, no(code)] as const),
);

function noFor(code: string): ProbeNo {
  return NO_BY_CODE.get(code)!;
}

function isDataHeader(data: Uint8Array): boolean {
  return data.length >= DATA_HEADER_LENGTH && connectedKind(data[0]!) === 'data';
}

export interface ProbeOptions {
  /** Data datagrams (both directions, this one included) needed for a mid-session match. */
  readonly midSessionDatagrams: number;
}

export function createRakNetProbe(options: ProbeOptions) {
  const needed = options.midSessionDatagrams;
  return function probe(datagram: Datagram, history: readonly Datagram[]): ProbeResult {
    const b = datagram.data;
    const offline = checkOfflineMessage(b);
    if (offline === 'ok') return MATCH_OFFLINE;
    if (offline !== 'not_offline') return noFor(offline);
    const connected = checkConnectedDatagram(b);
    if (connected !== 'ok') return noFor(connected);
    if (!isDataHeader(b)) return NEED_ACK;
    // History holds datagrams this probe already accepted one by one; the
    // sequence chain is rechecked across all of them because it is cheap and
    // is the evidence that tells RakNet from RTP.
    const nextSequence = { forward: -1, reverse: -1 };
    nextSequence[datagram.direction] = u24le(b, 1);
    let evidence = 1;
    for (let i = history.length - 1; i >= 0; i--) {
      const earlier = history[i]!;
      if (!isDataHeader(earlier.data)) continue;
      const sequence = u24le(earlier.data, 1);
      const next = nextSequence[earlier.direction];
      if (next !== -1 && ((next - sequence) & SEQUENCE_MASK) !== 1) return NO_DISCONTINUITY;
      nextSequence[earlier.direction] = sequence;
      evidence++;
    }
    return evidence >= needed ? MATCH_CONNECTED : NEED_DATA;
  };
}

/**
 * The client GUID (u64, decimal) where the datagram carries it: unconnected
 * ping bytes 25..32, the last 8 bytes of OPEN_CONNECTION_REQUEST_2, or
 * ID_CONNECTION_REQUEST in the first frame of a data datagram (§1.4).
 */
export function rakNetRoutingKey(datagram: Datagram): string | null {
  const b = datagram.data;
  if (b.length === 0) return null;
  const id = b[0]!;
  if (id === MESSAGE_ID.UNCONNECTED_PING || id === MESSAGE_ID.UNCONNECTED_PING_OPEN_CONNECTIONS) {
    return b.length >= 33 && checkOfflineMessage(b) === 'ok' ? u64be(b, 25).toString() : null;
  }
  if (id === MESSAGE_ID.OPEN_CONNECTION_REQUEST_2) {
    return checkOfflineMessage(b) === 'ok' ? u64be(b, b.length - 8).toString() : null;
  }
  if (!isDataHeader(b)) return null;
  let guid: string | null = null;
  const walked = walkDataFrames(b, (messageAt, length, frameIndex) => {
    if (frameIndex !== 0 || messageAt < 0) return;
    const message = readConnectedMessage(b, messageAt, length);
    if (message?.name === 'connection-request') guid = message.clientGuid.toString();
  });
  return typeof walked === 'number' ? guid : null;
}
