import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MM_ERRORS } from '../errors.js';

const Attribute = Type.Union([Type.Number(), Type.String({ maxLength: 256 })]);

/*
 * Response schemas avoid `anyOf`: fast-json-stringify serializes an anyOf by
 * running the ajv validator of each branch on the value (date-time formats
 * included) until one matches, for every response. The same shapes written
 * as `nullable`, a string `enum` and a type list serialize straight through
 * and document the same OpenAPI 3.0 (@fastify/swagger turns a union with
 * null into `nullable` anyway).
 */

/** `T | null`, as OpenAPI 3.0 `nullable`. */
function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

/** One of fixed strings, as a string `enum`. */
function StringEnum<const V extends readonly string[]>(values: V) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values] });
}

/** An attribute value in responses: a number or a string (the request schema holds the limits). */
const AttributeView = Type.Unsafe<number | string>({ type: ['number', 'string'] });

export const TicketCreateBody = Type.Object(
  {
    pool: Type.String({ minLength: 1, maxLength: 64 }),
    players: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128 }),
          attributes: Type.Optional(
            Type.Record(Type.String({ maxLength: 64 }), Attribute, { maxProperties: 32 }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 64 },
    ),
    party: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    latencies: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Number({ minimum: 0, maximum: 60000 }), {
        maxProperties: 64,
      }),
    ),
  },
  { additionalProperties: false, $id: 'TicketCreate' },
);

const PublicAssignment = Type.Object({
  connection: Type.String({ description: 'ip:port of the node proxy' }),
  protocol: Type.String(),
  token: Type.String({ description: "the first player's token" }),
  tokenKind: StringEnum(['routing', 'netcode', 'protocol-key']),
  expiresAt: Type.String({ format: 'date-time' }),
  cluster: Type.String(),
  matchId: Type.String(),
  players: Type.Array(Type.Object({ playerId: Type.String(), token: Type.String() })),
});

export const TicketView = Type.Object(
  {
    id: Type.String(),
    pool: Type.String(),
    state: StringEnum(['queued', 'matched', 'assigned', 'expired', 'cancelled']),
    players: Type.Array(
      Type.Object({ id: Type.String(), attributes: Type.Record(Type.String(), AttributeView) }),
    ),
    party: Nullable(Type.String()),
    latencies: Type.Record(Type.String(), Type.Number()),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    matchId: Nullable(Type.String()),
    assignment: Nullable(PublicAssignment),
  },
  { $id: 'Ticket' },
);

export const AssignmentView = Type.Object({
  ticketId: Type.String(),
  state: Type.String(),
  assignment: Nullable(PublicAssignment),
});

export const ErrorView = Type.Object(
  {
    error: Type.Object({
      code: StringEnum(Object.keys(MM_ERRORS)),
      message: Type.String(),
      detail: Type.Optional(Type.String()),
    }),
  },
  { $id: 'Error' },
);

export const TicketParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const WaitQuery = Type.Object({
  wait: Type.Optional(
    Type.Number({ minimum: 0, maximum: 3600, description: 'seconds to wait for an assignment' }),
  ),
});

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
});
