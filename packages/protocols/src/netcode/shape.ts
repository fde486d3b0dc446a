import { bytesAt } from '@gamemesh/core';
import {
  CONNECTION_REQUEST_1_01_BYTES,
  CONNECTION_REQUEST_BYTES,
  MAC_BYTES,
  MAX_PAYLOAD_BYTES,
  PLAINTEXT_BYTES,
  VERSION_INFO,
  VERSION_INFO_1_01,
} from './constants.js';
import type { NetcodeReason } from './reasons.js';

/**
 * Keyless structural checks shared by the probe and the tracker
 * (PROTOCOLS.md §3.3 "What a proxy can validate without the server").
 * Allocation-free: they return interned reason strings or numbers.
 */

export type RequestVersion = '1.02' | '1.01';

/** The request's version when `b` is a well-formed connection request of either version, else null. */
export function requestVersion(b: Uint8Array): RequestVersion | null {
  if (b.length === CONNECTION_REQUEST_BYTES && b[0] === 0 && bytesAt(b, 1, VERSION_INFO))
    return '1.02';
  if (b.length === CONNECTION_REQUEST_1_01_BYTES && b[0] === 0 && bytesAt(b, 1, VERSION_INFO_1_01))
    return '1.01';
  return null;
}

/** Shape of an encrypted packet (types 1..6): `ok` or the first rule it breaks. */
export function encryptedShape(b: Uint8Array): NetcodeReason | 'ok' {
  if (b.length === 0) return 'empty';
  const prefix = b[0]!;
  const type = prefix & 0x0f;
  if (type < 1 || type > 6) return 'bad_packet_type';
  const n = prefix >> 4;
  if (n < 1 || n > 8) return 'bad_sequence_bytes';
  if (b.length < 1 + n + MAC_BYTES) return 'too_short';
  // netcode_sequence_number_bytes_required never emits a zero high byte (netcode.c:1514-1525).
  if (n > 1 && b[n] === 0) return 'sequence_not_minimal';
  const plaintext = PLAINTEXT_BYTES[type as 1 | 2 | 3 | 4 | 5 | 6];
  const encrypted = b.length - 1 - n - MAC_BYTES;
  if (plaintext >= 0 ? encrypted !== plaintext : encrypted < 1 || encrypted > MAX_PAYLOAD_BYTES)
    return 'bad_size_for_type';
  return 'ok';
}

export function packetType(b: Uint8Array): number {
  return b[0]! & 0x0f;
}

/**
 * Challenge and denied packets use the server's global sequence (seeded at
 * 1 << 63), the others the per-session one, so they are compared separately.
 */
export function sequenceSpace(b: Uint8Array): 0 | 1 {
  const type = b[0]! & 0x0f;
  return type === 1 || type === 2 ? 1 : 0;
}

function sequenceHalf(b: Uint8Array, from: number): number {
  const n = b[0]! >> 4;
  let value = 0;
  for (let i = Math.min(n, from + 4); i > from; i--) value = value * 256 + b[i]!;
  return value;
}

/** High and low 32 bits of the sequence (exact for all 64 bits, unlike `sequenceNumber`). */
export function sequenceHigh(b: Uint8Array): number {
  return sequenceHalf(b, 4);
}

export function sequenceLow(b: Uint8Array): number {
  return sequenceHalf(b, 0);
}

/** seq(a) - seq(b); exact while the distance is below 2^53, which is all the callers need. */
export function sequenceDelta(a: Uint8Array, b: Uint8Array): number {
  return (
    (sequenceHalf(a, 4) - sequenceHalf(b, 4)) * 4294967296 +
    (sequenceHalf(a, 0) - sequenceHalf(b, 0))
  );
}

/** The sequence as a number (exact up to 2^53; session sequences stay far below). */
export function sequenceNumber(b: Uint8Array): number {
  return sequenceHalf(b, 4) * 4294967296 + sequenceHalf(b, 0);
}
