import type { MatchmakerConfig, PoolConfig } from '../config.js';
import type { MatchmakerMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { TokenIssuer } from '../tokens/issue.js';
import type { AllocationFailure, FleetView } from './allocation.js';
import type { NodeProxy, Pod, PodRef, Reservation, RouteAssignment, Ticket } from './types.js';
import type { TicketWatchers } from './watchers.js';

export type DispatchResult = 'ack' | 'proxy_nack' | 'ack_timeout' | 'proxy_gone';

/** Delivers assignments to node proxies (the link server); the player sees them only after 'ack'. */
export interface AssignmentDispatcher {
  dispatch(node: string, routes: readonly RouteAssignment[]): Promise<DispatchResult>;
  revoke(node: string, keys: readonly string[]): void;
}

export interface AllocatorOptions {
  readonly config: MatchmakerConfig;
  readonly store: Store;
  readonly metrics: MatchmakerMetrics;
  readonly tokens: TokenIssuer;
  readonly watchers: TicketWatchers;
  readonly clock: () => number;
  /** The link server (or the replica bus) once attached; null until then. */
  readonly dispatcher: () => AssignmentDispatcher | null;
}

/**
 * One match from claimed tickets to assignments: reserve room, push the
 * routes to the node proxy, and only after its acknowledgement commit the
 * assignment. Any failure puts the tickets back in the queue (keeping their
 * age) and gives the room back.
 */
export class Allocator {
  private readonly config: MatchmakerConfig;
  private readonly store: Store;
  private readonly metrics: MatchmakerMetrics;
  private readonly tokens: TokenIssuer;
  private readonly watchers: TicketWatchers;
  private readonly clock: () => number;
  private readonly dispatcher: () => AssignmentDispatcher | null;

  constructor(options: AllocatorOptions) {
    this.config = options.config;
    this.store = options.store;
    this.metrics = options.metrics;
    this.tokens = options.tokens;
    this.watchers = options.watchers;
    this.clock = options.clock;
    this.dispatcher = options.dispatcher;
  }

  /** Moves the tickets from 'queued' to 'matched' under the claim id, all or none. */
  async claim(tickets: readonly Ticket[], claimId: string): Promise<boolean> {
    const now = this.clock();
    return this.store.transition(
      tickets.map((t) => ({
        id: t.id,
        from: ['queued'],
        next: { ...t, state: 'matched', matchId: claimId, updatedAt: now },
      })),
    );
  }

  /** Room for the tickets' players on the first candidate pod that has it, under the claim id. */
  reserve(
    tickets: readonly Ticket[],
    candidates: readonly PodRef[],
    kind: 'match' | 'backfill',
    claimId: string,
  ): Promise<Reservation | null> {
    return this.store.reserve({
      id: claimId,
      candidates,
      players: tickets.reduce((n, t) => n + t.players.length, 0),
      kind,
      expiresAt: this.clock() + this.config.limits.reservationTimeoutMs,
    });
  }

  /**
   * Claimed tickets and the room reserved for them (null: no candidate had
   * it) → routes pushed to the node proxy → after its acknowledgement, the
   * commit. Returns how many tickets were assigned.
   */
  async allocateReserved(
    pool: PoolConfig,
    fleet: FleetView,
    teams: readonly (readonly Ticket[])[],
    reservation: Reservation | null,
    claimId: string,
  ): Promise<number | AllocationFailure | 'skipped'> {
    const tickets = teams.flat();
    const now = this.clock();
    const dispatcher = this.dispatcher();
    if (reservation === null) {
      await this.requeue(tickets);
      return 'contention';
    }
    const kind = reservation.kind;
    // The round's snapshot, not a fresh read: the reservation just checked the pod can take
    // players, and with Redis a read here would be one more round trip per match.
    const node = fleet.nodes.find((n) => n.id === reservation.ref.node);
    const pod = node?.pods.find((p) => p.id === reservation.ref.pod);
    if (node === undefined || pod === undefined || dispatcher === null) {
      await this.store.release(claimId);
      await this.requeue(tickets);
      return 'proxy_gone';
    }
    const matchId = kind === 'backfill' && pod.sessionId !== null ? pod.sessionId : claimId;
    const expiresAt = now + pool.assignmentTtlSeconds * 1000;
    const issued = tickets.map((ticket) =>
      ticket.players.map((player) => ({
        player,
        ...this.tokens.issue(pool, node.publicAddress, expiresAt),
      })),
    );
    const routes: RouteAssignment[] = issued.flat().map((i) => ({
      key: i.key,
      kind: i.kind,
      pod: pod.id,
      protocol: pod.protocol,
      matchId,
      playerId: i.player.id,
      expiresAt,
    }));
    const delivered = await dispatcher.dispatch(node.id, routes);
    if (delivered !== 'ack') {
      await this.store.release(claimId);
      await this.requeue(tickets);
      return delivered;
    }
    return this.commit(pool, node, pod, tickets, issued, routes, {
      claimId,
      matchId,
      expiresAt,
      kind,
    });
  }

  private async commit(
    pool: PoolConfig,
    node: NodeProxy,
    pod: Pod,
    tickets: readonly Ticket[],
    issued: readonly (readonly {
      player: { id: string };
      token: string;
      key: string;
      kind: RouteAssignment['kind'];
    }[])[],
    routes: readonly RouteAssignment[],
    at: { claimId: string; matchId: string; expiresAt: number; kind: 'match' | 'backfill' },
  ): Promise<number | 'skipped' | AllocationFailure> {
    const now = this.clock();
    const proposed: Ticket[] = tickets.map((ticket, i) => {
      const tokens = issued[i]!;
      return {
        ...ticket,
        state: 'assigned',
        matchId: at.matchId,
        updatedAt: now,
        assignment: {
          connection: node.publicAddress,
          protocol: pod.protocol,
          token: tokens[0]!.token,
          tokenKind: tokens[0]!.kind,
          expiresAt: at.expiresAt,
          cluster: node.cluster,
          matchId: at.matchId,
          players: tokens.map((t) => ({
            playerId: t.player.id,
            token: t.token,
            routingKey: t.key,
          })),
        },
      };
    });
    // One atomic step decides: the reservation still held (its room is ours) and
    // each ticket still this claim's. Nothing is visible as assigned before it.
    const committed = await this.store.commit(at.claimId, proposed);
    if (committed.kind === 'released') {
      // Expired or dropped while the proxy was answering: the room may already
      // hold another match, so the routes go and the tickets queue again with their age.
      this.dispatcher()?.revoke(
        node.id,
        routes.map((r) => r.key),
      );
      await this.requeue(tickets);
      return 'reservation_released';
    }
    const assigned: Ticket[] = [];
    const revokedKeys: string[] = [];
    proposed.forEach((ticket, i) => {
      // Cancelled while its match was in flight: its slot was not taken, its routes go.
      if (committed.assigned.has(ticket.id)) assigned.push(ticket);
      else revokedKeys.push(...issued[i]!.map((t) => t.key));
    });
    if (revokedKeys.length > 0) this.dispatcher()?.revoke(node.id, revokedKeys);
    if (assigned.length === 0) return 'skipped';
    // Written before the wake-ups go out, so a resync that follows them includes these routes.
    let kept = routes;
    if (revokedKeys.length > 0) {
      const revoked = new Set(revokedKeys);
      kept = routes.filter((r) => !revoked.has(r.key));
    }
    const saved = this.store.saveRoutes(node.id, kept);
    this.metrics.allocations.inc({ cluster: node.cluster, kind: at.kind });
    if (at.kind === 'match') this.metrics.matches.inc({ pool: pool.name, cluster: node.cluster });
    // One counter update per match, not per ticket: each update hashes its labels.
    const poolLabel = { pool: pool.name };
    this.metrics.ticketsMatched.inc(poolLabel, assigned.length);
    this.metrics.ticketsAssigned.inc(poolLabel, assigned.length);
    for (const ticket of assigned) {
      this.metrics.ticketToAssignment.observe(poolLabel, (now - ticket.createdAt) / 1000);
      this.watchers.notify(ticket);
    }
    await saved;
    return assigned.length;
  }

  /** Back to the queue, keeping `createdAt`: the queue's age order puts them first again. */
  async requeue(tickets: readonly Ticket[]): Promise<void> {
    const now = this.clock();
    await Promise.all(
      tickets.map((ticket) => {
        const next: Ticket = { ...ticket, state: 'queued', matchId: null, updatedAt: now };
        return this.store.transition([{ id: ticket.id, from: ['matched'], next }]);
      }),
    );
  }
}
