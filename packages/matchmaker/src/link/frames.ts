import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Packr } from 'msgpackr';
import { POD_PROTOCOLS } from '../domain/types.js';

/**
 * Link frames: one msgpack map per WebSocket binary message, discriminated by
 * `t`. Client = node proxy, server = matchmaker.
 */

export const LINK_PATH = '/v1/link';
export const LINK_VERSION = 1;

const PodReport = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  address: Type.String({ minLength: 1, maxLength: 256 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  protocol: Type.Union(POD_PROTOCOLS.map((p) => Type.Literal(p))),
  capacity: Type.Integer({ minimum: 0 }),
  freeSlots: Type.Integer({ minimum: 0 }),
  backfillSlots: Type.Integer({ minimum: 0 }),
  sessionId: Type.Union([Type.String({ maxLength: 128 }), Type.Null()]),
  labels: Type.Record(Type.String(), Type.String()),
  draining: Type.Boolean(),
});
export type PodReport = Static<typeof PodReport>;

const Route = Type.Object({
  key: Type.String(),
  kind: Type.Union([
    Type.Literal('routing'),
    Type.Literal('netcode'),
    Type.Literal('protocol-key'),
  ]),
  pod: Type.String(),
  protocol: Type.String(),
  matchId: Type.String(),
  playerId: Type.String(),
  expiresAt: Type.Number(),
});

const ClientFrame = Type.Union([
  Type.Object({
    t: Type.Literal('register'),
    version: Type.Integer(),
    node: Type.Object({
      id: Type.String({ minLength: 1, maxLength: 128 }),
      cluster: Type.String({ minLength: 1, maxLength: 64 }),
      region: Type.String({ maxLength: 64 }),
      publicAddress: Type.String({ minLength: 3, maxLength: 64 }),
    }),
    pods: Type.Array(PodReport, { maxItems: 4096 }),
  }),
  Type.Object({ t: Type.Literal('heartbeat'), pods: Type.Array(PodReport, { maxItems: 4096 }) }),
  Type.Object({ t: Type.Literal('ack'), id: Type.String() }),
  Type.Object({
    t: Type.Literal('nack'),
    id: Type.String(),
    reason: Type.String({ maxLength: 256 }),
  }),
  Type.Object({
    t: Type.Literal('drain'),
    pods: Type.Union([Type.Array(Type.String()), Type.Null()]),
  }),
]);
export type ClientFrame = Static<typeof ClientFrame>;

const ServerFrame = Type.Union([
  Type.Object({ t: Type.Literal('welcome'), version: Type.Integer(), heartbeatMs: Type.Integer() }),
  Type.Object({ t: Type.Literal('resync'), routes: Type.Array(Route) }),
  Type.Object({ t: Type.Literal('assign'), id: Type.String(), routes: Type.Array(Route) }),
  Type.Object({ t: Type.Literal('revoke'), keys: Type.Array(Type.String()) }),
  Type.Object({ t: Type.Literal('error'), code: Type.String(), message: Type.String() }),
]);
export type ServerFrame = Static<typeof ServerFrame>;

// Plain maps, no records/structures extension: any msgpack peer can read the frames.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeFrame(frame: ClientFrame | ServerFrame): Buffer {
  return packr.pack(frame);
}

// Compiled once: every ack of every match is checked, and the interpreted
// Value.Check walked the whole frame union for each.
const clientFrameCheck = TypeCompiler.Compile(ClientFrame);
const serverFrameCheck = TypeCompiler.Compile(ServerFrame);

function decodeWith<T>(check: { Check(value: unknown): boolean }, data: Uint8Array): T | null {
  let value: unknown;
  try {
    value = packr.unpack(data);
  } catch {
    return null;
  }
  return check.Check(value) ? (value as T) : null;
}

/** Null for anything that is not a well-formed client frame; never throws. */
export function decodeClientFrame(data: Uint8Array): ClientFrame | null {
  return decodeWith<ClientFrame>(clientFrameCheck, data);
}

export function decodeServerFrame(data: Uint8Array): ServerFrame | null {
  return decodeWith<ServerFrame>(serverFrameCheck, data);
}
