import { type Datagram, match, needMore, no, type ProbeResult } from '@gamemesh/core';
import {
  CONNECTION_REQUEST_1_01_BYTES,
  CONNECTION_REQUEST_BYTES,
  REQUEST_OFFSET,
} from './constants.js';
import { NETCODE_REASONS, type NetcodeReason } from './reasons.js';
import { encryptedShape, requestVersion, sequenceDelta, sequenceSpace } from './shape.js';

/**
 * The netcode probe (PROTOCOLS.md §5.1/§5.4): a connection request is
 * decisive on its own; without one, encrypted packets must agree on shape
 * and per-direction sequence over several datagrams before the flow is
 * claimed, because prefixes 0x11..0x86 also start RakNet and RTP datagrams.
 */

/** Datagrams (this one included) of consistent encrypted shape needed for a mid-session match. */
export const ENCRYPTED_EVIDENCE = 4;
/** How far back a sequence may arrive (UDP reordering) and how far ahead it may leap (loss). */
export const REORDER_TOLERANCE = 32;
export const MAX_SEQUENCE_LEAP = 1024;

const MATCH_1_02 = match('1.02', 'request_1_02');
const MATCH_1_01 = match('1.01', 'request_1_01');
const MATCH_ENCRYPTED = match('encrypted', 'encrypted_consistent');
const NEED_MORE = needMore('encrypted_need_more');
const NO = Object.fromEntries(
  Object.keys(NETCODE_REASONS).map((reason) => [reason, no(reason)]),
) as Record<NetcodeReason, ProbeResult>;

export type ProtocolIdFilter = readonly Uint8Array[] | null;

export function createProbe(allowedProtocolIds: ProtocolIdFilter) {
  const protocolAllowed = (b: Uint8Array): boolean => {
    if (allowedProtocolIds === null) return true;
    for (const id of allowedProtocolIds) {
      let same = true;
      for (let i = 0; i < 8; i++) {
        if (b[REQUEST_OFFSET.protocolId + i] !== id[i]) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    return false;
  };

  return function probe(datagram: Datagram, history: readonly Datagram[]): ProbeResult {
    const b = datagram.data;
    if (b.length === 0) return NO.empty;
    if (b[0] === 0) {
      const version = requestVersion(b);
      if (version === null) {
        const sized =
          b.length === CONNECTION_REQUEST_BYTES || b.length === CONNECTION_REQUEST_1_01_BYTES;
        return sized ? NO.request_bad_version : NO.request_bad_size;
      }
      if (!protocolAllowed(b)) return NO.protocol_id_not_allowed;
      return version === '1.02' ? MATCH_1_02 : MATCH_1_01;
    }
    const shape = encryptedShape(b);
    if (shape !== 'ok') return NO[shape];
    return checkHistory(datagram, history);
  };
}

// Running maxima per (direction, sequence space), kept in locals so the probe allocates nothing.
function checkHistory(current: Datagram, history: readonly Datagram[]): ProbeResult {
  let forwardSession: Uint8Array | null = null;
  let forwardGlobal: Uint8Array | null = null;
  let reverseSession: Uint8Array | null = null;
  let reverseGlobal: Uint8Array | null = null;
  for (let i = 0; i <= history.length; i++) {
    const datagram = i < history.length ? history[i]! : current;
    const b = datagram.data;
    if (i < history.length && encryptedShape(b) !== 'ok') return NO.history_not_netcode;
    const forward = datagram.direction === 'forward';
    const global = sequenceSpace(b) === 1;
    const max = forward
      ? global
        ? forwardGlobal
        : forwardSession
      : global
        ? reverseGlobal
        : reverseSession;
    if (max !== null) {
      const delta = sequenceDelta(b, max);
      if (delta === 0 || delta <= -REORDER_TOLERANCE || delta > MAX_SEQUENCE_LEAP)
        return NO.sequence_not_monotone;
      if (delta < 0) continue;
    }
    if (forward) {
      if (global) forwardGlobal = b;
      else forwardSession = b;
    } else if (global) reverseGlobal = b;
    else reverseSession = b;
  }
  return history.length + 1 >= ENCRYPTED_EVIDENCE ? MATCH_ENCRYPTED : NEED_MORE;
}
