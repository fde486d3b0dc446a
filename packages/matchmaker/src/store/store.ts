import type {
  NodeProxy,
  PodRef,
  Reservation,
  RouteAssignment,
  Ticket,
  TicketState,
} from '../domain/types.js';

export interface IdempotencyClaim {
  /** Scoped by the caller (API key or bearer subject) before it reaches the store. */
  readonly key: string;
  /** Hash of the request body: the same key with another body is a conflict. */
  readonly fingerprint: string;
  readonly ttlMs: number;
}

export type CreateTicketResult =
  | { readonly kind: 'created'; readonly ticket: Ticket }
  | { readonly kind: 'replayed'; readonly ticket: Ticket }
  | { readonly kind: 'conflict' };

/** One compare-and-set step: the ticket must be in one of `from` to become `next`. */
export interface TicketTransition {
  readonly id: string;
  readonly from: readonly TicketState[];
  readonly next: Ticket;
}

export type CommitResult =
  | { readonly kind: 'committed'; readonly assigned: ReadonlySet<string> }
  | { readonly kind: 'released' };

export interface ReserveRequest {
  readonly id: string;
  /** Pods in preference order; the first with enough room is taken. */
  readonly candidates: readonly PodRef[];
  readonly players: number;
  readonly kind: 'match' | 'backfill';
  readonly expiresAt: number;
}

/**
 * Shared matchmaker state. Every method that decides ownership (ticket state
 * changes, idempotency claims, reservations) is a single atomic operation, so
 * several matchmaker replicas on one store never hand out a ticket or a slot
 * twice: in memory it is one synchronous step, in Redis one Lua script.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';

  createTicket(ticket: Ticket, claim: IdempotencyClaim | null): Promise<CreateTicketResult>;
  getTicket(id: string): Promise<Ticket | null>;
  /** Queued tickets of a pool, oldest first. */
  queuedTickets(pool: string): Promise<Ticket[]>;
  /** All or nothing: applies every transition only if every ticket is in an allowed state. */
  transition(steps: readonly TicketTransition[]): Promise<boolean>;
  /** Drops finished tickets last updated before `before` (bounded memory). */
  purgeFinished(before: number): Promise<number>;

  upsertNode(node: NodeProxy): Promise<void>;
  getNode(id: string): Promise<NodeProxy | null>;
  listNodes(): Promise<NodeProxy[]>;
  removeNode(id: string): Promise<void>;

  /** Atomically takes room on the first candidate pod that has it; null when none has. */
  reserve(request: ReserveRequest): Promise<Reservation | null>;
  /**
   * The end of an allocation, in one atomic step: if reservation `id` is still
   * open, every ticket still 'matched' under claim `id` becomes its assigned
   * record and the reservation turns into used slots for exactly those
   * tickets' players; tickets cancelled meanwhile are left out. When the
   * reservation was released first (expired by the sweep, or its pod gone)
   * nothing changes: its room may already hold another match.
   */
  commit(id: string, assigned: readonly Ticket[]): Promise<CommitResult>;
  release(id: string): Promise<boolean>;
  /** Releases every reservation past its expiry; returns them. */
  releaseExpired(now: number): Promise<Reservation[]>;
  /** Players held by pending reservations, per pod (`node/pod`). */
  reservedPlayers(): Promise<Map<string, { match: number; backfill: number }>>;

  saveRoutes(node: string, routes: readonly RouteAssignment[]): Promise<void>;
  removeRoutes(node: string, keys: readonly string[]): Promise<void>;
  /** Unexpired routes of a node, for the full resync after a reconnect. */
  routesFor(node: string, now: number): Promise<RouteAssignment[]>;

  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function podKey(ref: PodRef): string {
  return `${ref.node}/${ref.pod}`;
}
