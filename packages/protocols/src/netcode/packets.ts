import { bytesAt, u32le, u64le } from '@gamemesh/core';
import {
  CONNECT_TOKEN_NONCE_BYTES,
  CONNECT_TOKEN_PRIVATE_BYTES,
  CONNECTION_REQUEST_BYTES,
  type EncryptedPacketType,
  MAC_BYTES,
  MAX_PAYLOAD_BYTES,
  MIN_ENCRYPTED_PACKET_BYTES,
  REPLAY_PROTECTION_BUFFER_SIZE,
  REQUEST_OFFSET,
  VERSION_INFO,
  VERSION_INFO_BYTES,
} from './constants.js';
import { openIetf, sealIetf, sequenceNonce } from './crypto.js';
import { writeU32le, writeU64le } from './wire.js';

/**
 * netcode 1.02 packets (PROTOCOLS.md §3.2): the plaintext connection request
 * and the encrypted packets of types 1..6, with the reader rules of
 * netcode_read_packet (netcode.c:1728-1990) as values, not exceptions.
 */

export interface ConnectionRequest {
  readonly protocolId: bigint;
  readonly expireTimestamp: bigint;
  readonly nonce: Uint8Array;
  /** The 1024-byte encrypted private connect token. */
  readonly privateData: Uint8Array;
}

export function writeConnectionRequest(request: ConnectionRequest): Uint8Array {
  const out = new Uint8Array(CONNECTION_REQUEST_BYTES);
  out[0] = 0;
  out.set(VERSION_INFO, REQUEST_OFFSET.versionInfo);
  writeU64le(out, REQUEST_OFFSET.protocolId, request.protocolId);
  writeU64le(out, REQUEST_OFFSET.expireTimestamp, request.expireTimestamp);
  out.set(request.nonce, REQUEST_OFFSET.nonce);
  out.set(request.privateData, REQUEST_OFFSET.privateToken);
  return out;
}

export type RequestErrorCode = 'bad_size' | 'bad_packet_type' | 'bad_version';

export type RequestRead =
  | { readonly ok: true; readonly request: ConnectionRequest; readonly tag: Uint8Array }
  | { readonly ok: false; readonly code: RequestErrorCode };

/** Structural read of a connection request; no key needed. */
export function readConnectionRequest(bytes: Uint8Array): RequestRead {
  if (bytes.length !== CONNECTION_REQUEST_BYTES) return { ok: false, code: 'bad_size' };
  if (bytes[0] !== 0) return { ok: false, code: 'bad_packet_type' };
  if (!bytesAt(bytes, REQUEST_OFFSET.versionInfo, VERSION_INFO))
    return { ok: false, code: 'bad_version' };
  const privateData = bytes.slice(
    REQUEST_OFFSET.privateToken,
    REQUEST_OFFSET.privateToken + CONNECT_TOKEN_PRIVATE_BYTES,
  );
  return {
    ok: true,
    request: {
      protocolId: u64le(bytes, REQUEST_OFFSET.protocolId),
      expireTimestamp: u64le(bytes, REQUEST_OFFSET.expireTimestamp),
      nonce: bytes.slice(REQUEST_OFFSET.nonce, REQUEST_OFFSET.nonce + CONNECT_TOKEN_NONCE_BYTES),
      privateData,
    },
    tag: privateData.subarray(CONNECT_TOKEN_PRIVATE_BYTES - MAC_BYTES),
  };
}

export type EncryptedPacket =
  | { readonly type: 1 }
  | {
      readonly type: 2 | 3;
      readonly challengeSequence: bigint;
      readonly challengeToken: Uint8Array;
    }
  | { readonly type: 4; readonly clientIndex: number; readonly maxClients: number }
  | { readonly type: 5; readonly payload: Uint8Array }
  | { readonly type: 6 };

/** Bytes needed for `sequence` with high zero bytes omitted (netcode.c:1514-1525); at least 1. */
export function sequenceBytesRequired(sequence: bigint): number {
  let n = 1;
  let rest = BigInt.asUintN(64, sequence) >> 8n;
  while (rest > 0n) {
    n++;
    rest >>= 8n;
  }
  return n;
}

function packetAd(protocolId: bigint, prefix: number): Uint8Array {
  const ad = new Uint8Array(VERSION_INFO_BYTES + 8 + 1);
  ad.set(VERSION_INFO, 0);
  writeU64le(ad, VERSION_INFO_BYTES, protocolId);
  ad[VERSION_INFO_BYTES + 8] = prefix;
  return ad;
}

function plaintextOf(packet: EncryptedPacket): Uint8Array {
  switch (packet.type) {
    case 1:
    case 6:
      return new Uint8Array(0);
    case 2:
    case 3: {
      const out = new Uint8Array(8 + packet.challengeToken.length);
      writeU64le(out, 0, packet.challengeSequence);
      out.set(packet.challengeToken, 8);
      return out;
    }
    case 4: {
      const out = new Uint8Array(8);
      writeU32le(out, 0, packet.clientIndex);
      writeU32le(out, 4, packet.maxClients);
      return out;
    }
    case 5:
      return packet.payload;
  }
}

/** prefix | sequence (n bytes LE) | ChaCha20-Poly1305(per-type data) with AD = version || protocol id || prefix. */
export function writeEncryptedPacket(
  packet: EncryptedPacket,
  sequence: bigint,
  key: Uint8Array,
  protocolId: bigint,
): Uint8Array {
  const n = sequenceBytesRequired(sequence);
  const prefix = (n << 4) | packet.type;
  const sealed = sealIetf(
    key,
    sequenceNonce(sequence),
    packetAd(protocolId, prefix),
    plaintextOf(packet),
  );
  const out = new Uint8Array(1 + n + sealed.length);
  out[0] = prefix;
  let rest = BigInt.asUintN(64, sequence);
  for (let i = 0; i < n; i++) {
    out[1 + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  out.set(sealed, 1 + n);
  return out;
}

/**
 * The 256-entry replay window (PROTOCOLS.md §3.2). The "too old" test uses
 * the subtraction form so a sequence near zero cannot wrap (IMPLEMENTERS.md §1).
 */
export class ReplayProtection {
  private mostRecent = 0n;
  private readonly received: (bigint | null)[] = new Array<bigint | null>(
    REPLAY_PROTECTION_BUFFER_SIZE,
  ).fill(null);

  alreadyReceived(sequence: bigint): boolean {
    const size = BigInt(REPLAY_PROTECTION_BUFFER_SIZE);
    if (this.mostRecent >= size && sequence <= this.mostRecent - size) return true;
    const slot = this.received[Number(sequence % size)];
    return slot !== null && slot !== undefined && slot >= sequence;
  }

  advance(sequence: bigint): void {
    if (sequence > this.mostRecent) this.mostRecent = sequence;
    this.received[Number(sequence % BigInt(REPLAY_PROTECTION_BUFFER_SIZE))] = sequence;
  }
}

export type PacketErrorCode =
  | 'too_small'
  | 'bad_packet_type'
  | 'type_not_allowed'
  | 'bad_sequence_bytes'
  | 'replayed'
  | 'decrypt_failed'
  | 'bad_plaintext_size';

export type PacketRead =
  | { readonly ok: true; readonly packet: EncryptedPacket; readonly sequence: bigint }
  | { readonly ok: false; readonly code: PacketErrorCode };

export interface PacketReadOptions {
  readonly key: Uint8Array;
  readonly protocolId: bigint;
  /** Types this side accepts: the server ignores challenges, the client requests and responses. */
  readonly allowed: ReadonlySet<EncryptedPacketType>;
  /** Applied to keep-alive, payload and disconnect, as in the reference. */
  readonly replay?: ReplayProtection;
}

/** Reads one encrypted packet with the checks of netcode_read_packet, in its order. */
export function readEncryptedPacket(bytes: Uint8Array, options: PacketReadOptions): PacketRead {
  if (bytes.length < MIN_ENCRYPTED_PACKET_BYTES) return { ok: false, code: 'too_small' };
  const prefix = bytes[0]!;
  const type = prefix & 0x0f;
  if (type < 1 || type > 6) return { ok: false, code: 'bad_packet_type' };
  if (!options.allowed.has(type as EncryptedPacketType))
    return { ok: false, code: 'type_not_allowed' };
  const n = prefix >> 4;
  if (n < 1 || n > 8) return { ok: false, code: 'bad_sequence_bytes' };
  if (bytes.length < 1 + n + MAC_BYTES) return { ok: false, code: 'too_small' };
  let sequence = 0n;
  for (let i = n; i >= 1; i--) sequence = (sequence << 8n) | BigInt(bytes[i]!);
  const replayed = options.replay !== undefined && type >= 4;
  if (replayed && options.replay!.alreadyReceived(sequence)) return { ok: false, code: 'replayed' };
  if (options.key.length !== 32) return { ok: false, code: 'decrypt_failed' };
  const plain = openIetf(
    options.key,
    sequenceNonce(sequence),
    packetAd(options.protocolId, prefix),
    bytes.subarray(1 + n),
  );
  if (plain === null) return { ok: false, code: 'decrypt_failed' };
  if (replayed) options.replay!.advance(sequence);
  const packet = decodePlaintext(type as EncryptedPacketType, plain);
  return packet === null
    ? { ok: false, code: 'bad_plaintext_size' }
    : { ok: true, packet, sequence };
}

function decodePlaintext(type: EncryptedPacketType, plain: Uint8Array): EncryptedPacket | null {
  switch (type) {
    case 1:
    case 6:
      return plain.length === 0 ? { type } : null;
    case 2:
    case 3:
      return plain.length === 308
        ? { type, challengeSequence: u64le(plain, 0), challengeToken: plain.slice(8) }
        : null;
    case 4:
      return plain.length === 8
        ? { type, clientIndex: u32le(plain, 0), maxClients: u32le(plain, 4) }
        : null;
    case 5:
      return plain.length >= 1 && plain.length <= MAX_PAYLOAD_BYTES
        ? { type, payload: plain }
        : null;
  }
}
