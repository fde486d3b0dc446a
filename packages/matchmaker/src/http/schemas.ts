import { Type } from '@sinclair/typebox';
import { MM_ERRORS } from '../errors.js';

const Attribute = Type.Union([Type.Number(), Type.String({ maxLength: 256 })]);

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
  tokenKind: Type.Union([
    Type.Literal('routing'),
    Type.Literal('netcode'),
    Type.Literal('protocol-key'),
  ]),
  expiresAt: Type.String({ format: 'date-time' }),
  cluster: Type.String(),
  matchId: Type.String(),
  players: Type.Array(Type.Object({ playerId: Type.String(), token: Type.String() })),
});

export const TicketView = Type.Object(
  {
    id: Type.String(),
    pool: Type.String(),
    state: Type.Union(
      ['queued', 'matched', 'assigned', 'expired', 'cancelled'].map((s) => Type.Literal(s)),
    ),
    players: Type.Array(
      Type.Object({ id: Type.String(), attributes: Type.Record(Type.String(), Attribute) }),
    ),
    party: Type.Union([Type.String(), Type.Null()]),
    latencies: Type.Record(Type.String(), Type.Number()),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    matchId: Type.Union([Type.String(), Type.Null()]),
    assignment: Type.Union([PublicAssignment, Type.Null()]),
  },
  { $id: 'Ticket' },
);

export const AssignmentView = Type.Object({
  ticketId: Type.String(),
  state: Type.String(),
  assignment: Type.Union([PublicAssignment, Type.Null()]),
});

export const ErrorView = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(MM_ERRORS).map((c) => Type.Literal(c))),
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
