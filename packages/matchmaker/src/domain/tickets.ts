import { createHash, randomUUID } from 'node:crypto';
import type { PoolConfig } from '../config.js';
import { fail, type Outcome, ok } from '../errors.js';
import type { AttributeValue, Ticket } from './types.js';

export interface TicketInput {
  readonly pool: string;
  readonly players: readonly {
    readonly id: string;
    readonly attributes?: Readonly<Record<string, AttributeValue>>;
  }[];
  readonly party?: string;
  readonly latencies?: Readonly<Record<string, number>>;
}

/** Domain checks the HTTP schema cannot express; returns a fresh queued ticket. */
export function buildTicket(
  input: TicketInput,
  pools: ReadonlyMap<string, PoolConfig>,
  owner: string | null,
  now: number,
): Outcome<Ticket> {
  const pool = pools.get(input.pool);
  if (pool === undefined) return fail('GM_MM_UNKNOWN_POOL', `pool "${input.pool}"`);
  // A ticket is a party: all its players go to one team, so it must fit one.
  if (input.players.length > pool.teams.size)
    return fail(
      'GM_MM_PARTY_TOO_LARGE',
      `${input.players.length} players, team size ${pool.teams.size}`,
    );
  const ids = new Set<string>();
  for (const player of input.players) {
    if (ids.has(player.id)) return fail('GM_MM_DUPLICATE_PLAYER', `player "${player.id}"`);
    ids.add(player.id);
  }
  return ok({
    id: randomUUID(),
    pool: pool.name,
    players: input.players.map((p) => ({ id: p.id, attributes: p.attributes ?? {} })),
    party: input.party ?? null,
    latencies: input.latencies ?? {},
    owner,
    createdAt: now,
    expiresAt: now + pool.ticketTtlSeconds * 1000,
    state: 'queued',
    matchId: null,
    assignment: null,
    updatedAt: now,
  });
}

/** Stable hash of a request body for idempotency (key order does not matter). */
export function fingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}

/** What clients see of a ticket (owner and internal bookkeeping stay private). */
export function publicTicket(ticket: Ticket) {
  return {
    id: ticket.id,
    pool: ticket.pool,
    state: ticket.state,
    players: ticket.players,
    party: ticket.party,
    latencies: ticket.latencies,
    createdAt: new Date(ticket.createdAt).toISOString(),
    expiresAt: new Date(ticket.expiresAt).toISOString(),
    matchId: ticket.matchId,
    assignment: ticket.assignment === null ? null : publicAssignment(ticket),
  };
}

export function publicAssignment(ticket: Ticket) {
  const a = ticket.assignment;
  if (a === null) return null;
  return {
    connection: a.connection,
    protocol: a.protocol,
    token: a.token,
    tokenKind: a.tokenKind,
    expiresAt: new Date(a.expiresAt).toISOString(),
    cluster: a.cluster,
    matchId: a.matchId,
    players: a.players.map((p) => ({ playerId: p.playerId, token: p.token })),
  };
}
