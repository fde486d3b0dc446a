import { randomUUID } from 'node:crypto';
import type { MatchmakerConfig, PoolConfig } from '../config.js';
import { fail, type Outcome, ok } from '../errors.js';
import type { MatchmakerMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { TokenIssuer } from '../tokens/issue.js';
import { type AllocationFailure, type FleetView, planBackfill, planMatch } from './allocation.js';
import { type MatchFunction, ruleEngine } from './rules.js';
import { buildTicket, type TicketInput } from './tickets.js';
import type { Cluster, NodeProxy, Pod, PodRef, RouteAssignment, Ticket } from './types.js';
import { FINAL_STATES } from './types.js';
import { TicketWatchers } from './watchers.js';

export type DispatchResult = 'ack' | 'proxy_nack' | 'ack_timeout' | 'proxy_gone';

/** Delivers assignments to node proxies (the link server); the player sees them only after 'ack'. */
export interface AssignmentDispatcher {
  dispatch(node: string, routes: readonly RouteAssignment[]): Promise<DispatchResult>;
  revoke(node: string, keys: readonly string[]): void;
}

export interface MatchmakerOptions {
  readonly config: MatchmakerConfig;
  readonly store: Store;
  readonly metrics: MatchmakerMetrics;
  readonly tokens: TokenIssuer;
  /** Per-pool match functions loaded from `matchFunction` modules; others use the rule engine. */
  readonly matchFunctions?: ReadonlyMap<string, MatchFunction>;
  readonly clock?: () => number;
  readonly random?: () => number;
}

export interface RoundSummary {
  readonly expired: number;
  readonly proposals: number;
  readonly assignedTickets: number;
  readonly failures: Partial<Record<AllocationFailure, number>>;
}

/** Key of the purge timer among the per-pool round timers (pool names cannot be empty). */
const PURGE_TIMER = '';
const PURGE_INTERVAL_MS = 5000;

interface StartedRound {
  readonly allocations: Promise<void>;
  readonly summary: () => RoundSummary;
}

/**
 * Tickets → matches → allocation → assignments. Ownership changes go through
 * the store's atomic operations only, so replicas sharing a store can run
 * rounds concurrently without handing out a ticket or a slot twice.
 */
export class Matchmaker {
  readonly pools: ReadonlyMap<string, PoolConfig>;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly watchers = new TicketWatchers();
  readonly store: Store;
  private readonly config: MatchmakerConfig;
  private readonly metrics: MatchmakerMetrics;
  private readonly tokens: TokenIssuer;
  private readonly matchFunctions: ReadonlyMap<string, MatchFunction>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private dispatcher: AssignmentDispatcher | null = null;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<string>();

  constructor(options: MatchmakerOptions) {
    this.config = options.config;
    this.store = options.store;
    this.metrics = options.metrics;
    this.tokens = options.tokens;
    this.matchFunctions = options.matchFunctions ?? new Map();
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pools = new Map(options.config.pools.map((p) => [p.name, p]));
    this.clusters = new Map(options.config.clusters.map((c) => [c.name, c]));
  }

  setDispatcher(dispatcher: AssignmentDispatcher): void {
    this.dispatcher = dispatcher;
  }

  now(): number {
    return this.clock();
  }

  // ---- tickets -------------------------------------------------------------

  async createTicket(
    input: TicketInput,
    owner: string | null,
    idempotency: { key: string; fingerprint: string } | null,
  ): Promise<Outcome<{ ticket: Ticket; replayed: boolean }>> {
    const built = buildTicket(input, this.pools, owner, this.clock());
    if (!built.ok) return built;
    const ticket = built.value;
    const pool = this.pools.get(ticket.pool)!;
    const claim =
      idempotency === null ? null : { ...idempotency, ttlMs: pool.ticketTtlSeconds * 1000 * 2 };
    const result = await this.store.createTicket(ticket, claim);
    if (result.kind === 'conflict') return fail('GM_MM_IDEMPOTENCY_CONFLICT');
    if (result.kind === 'created') this.metrics.ticketsCreated.inc({ pool: ticket.pool });
    return ok({ ticket: result.ticket, replayed: result.kind === 'replayed' });
  }

  async getTicket(id: string, owner: string | null): Promise<Outcome<Ticket>> {
    const ticket = await this.store.getTicket(id);
    if (ticket === null) return fail('GM_MM_TICKET_NOT_FOUND');
    // Bearer callers see only their own tickets; API-key callers (game backends) see all.
    if (owner !== null && ticket.owner !== owner) return fail('GM_MM_FORBIDDEN');
    return ok(ticket);
  }

  async cancelTicket(id: string, owner: string | null): Promise<Outcome<Ticket>> {
    const found = await this.getTicket(id, owner);
    if (!found.ok) return found;
    const ticket = found.value;
    if (FINAL_STATES.has(ticket.state)) return fail('GM_MM_TICKET_FINISHED', ticket.state);
    // A matched ticket can be cancelled too: the allocation in flight sees the
    // state change when it tries to assign and gives the slot back.
    const next: Ticket = { ...ticket, state: 'cancelled', updatedAt: this.clock() };
    const done = await this.store.transition([{ id, from: ['queued', 'matched'], next }]);
    if (!done) {
      const latest = await this.store.getTicket(id);
      return fail('GM_MM_TICKET_FINISHED', latest?.state ?? 'gone');
    }
    this.metrics.ticketsCancelled.inc({ pool: ticket.pool });
    this.watchers.notify(next);
    return ok(next);
  }

  // ---- fleet ---------------------------------------------------------------

  async registerNode(
    node: Omit<NodeProxy, 'lastSeen' | 'connected' | 'draining'>,
  ): Promise<Outcome<NodeProxy>> {
    const cluster = this.clusters.get(node.cluster);
    if (cluster === undefined)
      return fail('GM_MM_LINK_UNKNOWN_CLUSTER', `cluster "${node.cluster}"`);
    const record: NodeProxy = {
      ...node,
      region: node.region || cluster.region,
      lastSeen: this.clock(),
      connected: true,
      draining: false,
    };
    await this.store.upsertNode(record);
    return ok(record);
  }

  async heartbeat(nodeId: string, pods: readonly Pod[] | null): Promise<void> {
    const node = await this.store.getNode(nodeId);
    if (node === null) return;
    await this.store.upsertNode({
      ...node,
      pods: pods ?? node.pods,
      lastSeen: this.clock(),
      connected: true,
    });
  }

  async drainNode(nodeId: string, podIds: readonly string[] | null): Promise<void> {
    const node = await this.store.getNode(nodeId);
    if (node === null) return;
    if (podIds === null) await this.store.upsertNode({ ...node, draining: true });
    else
      await this.store.upsertNode({
        ...node,
        pods: node.pods.map((p) => (podIds.includes(p.id) ? { ...p, draining: true } : p)),
      });
  }

  async nodeDisconnected(nodeId: string): Promise<void> {
    const node = await this.store.getNode(nodeId);
    if (node !== null) await this.store.upsertNode({ ...node, connected: false });
  }

  /** Nodes silent for longer than the heartbeat timeout take no new players. */
  async sweepHeartbeats(): Promise<string[]> {
    const limit = this.clock() - this.config.link.heartbeatTimeoutMs;
    const missed: string[] = [];
    for (const node of await this.store.listNodes()) {
      if (node.connected && node.lastSeen < limit) {
        await this.store.upsertNode({ ...node, connected: false });
        missed.push(node.id);
      }
    }
    return missed;
  }

  // ---- matching rounds -------------------------------------------------------

  start(): void {
    for (const pool of this.pools.values()) {
      if (this.timers.has(pool.name)) continue;
      const timer = setInterval(() => {
        if (this.running.has(pool.name)) return;
        this.running.add(pool.name);
        // The next round may start once this one has claimed its tickets: waiting
        // for every proxy acknowledgement too made a slow ack skip whole intervals.
        this.startRound(pool.name)
          .catch(() => undefined)
          .finally(() => this.running.delete(pool.name));
      }, pool.matchIntervalMs);
      this.timers.set(pool.name, timer);
    }
    if (!this.timers.has(PURGE_TIMER)) {
      // Finished tickets stay readable while their assignment may still be fetched, then go:
      // without this the memory store keeps every ticket ever created.
      const retentionMs =
        Math.max(
          ...[...this.pools.values()].map((p) =>
            Math.max(p.ticketTtlSeconds, p.assignmentTtlSeconds),
          ),
          0,
        ) * 1000;
      const timer = setInterval(() => {
        this.store.purgeFinished(this.clock() - retentionMs).catch(() => undefined);
      }, PURGE_INTERVAL_MS);
      timer.unref();
      this.timers.set(PURGE_TIMER, timer);
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }

  /** One matching round for one pool: expire, backfill, match, allocate; resolves when all is done. */
  async round(poolName: string): Promise<RoundSummary> {
    const started = await this.startRound(poolName);
    await started.allocations;
    return started.summary();
  }

  /**
   * A round up to the point where every match of it is under way: resolves
   * once the tickets are claimed; `allocations` settles when the proxies have
   * answered and the assignments are committed.
   */
  private async startRound(poolName: string): Promise<StartedRound> {
    const pool = this.pools.get(poolName);
    const failures: Partial<Record<AllocationFailure, number>> = {};
    if (pool === undefined) {
      const empty = { expired: 0, proposals: 0, assignedTickets: 0, failures };
      return { allocations: Promise.resolve(), summary: () => empty };
    }
    const now = this.clock();
    for (const reservation of await this.store.releaseExpired(now)) {
      void reservation;
      this.metrics.reservationsExpired.inc();
    }
    let queued = await this.store.queuedTickets(pool.name);
    const expired = await this.expire(queued, now);
    if (expired.size > 0) queued = queued.filter((t) => !expired.has(t.id));

    const fleet = await this.fleetView();
    const fail = (reason: AllocationFailure): void => {
      failures[reason] = (failures[reason] ?? 0) + 1;
      this.metrics.allocationFailures.inc({ reason });
    };
    let assignedTickets = 0;

    if (pool.backfill && this.hasBackfillRoom(fleet)) {
      const placed = new Set<string>();
      for (const ticket of queued) {
        const plan = planBackfill(ticket, pool, fleet);
        if (!plan.ok) continue;
        const result = await this.allocate(pool, [[ticket]], plan.candidates, 'backfill');
        if (typeof result === 'number') {
          placed.add(ticket.id);
          assignedTickets += result;
        } else if (result !== 'skipped') fail(result);
      }
      queued = queued.filter((t) => !placed.has(t.id));
    }

    this.metrics.poolTickets.set({ pool: pool.name }, queued.length);
    const matchFunction = this.matchFunctions.get(pool.name) ?? ruleEngine;
    let proposals: readonly { readonly teams: readonly (readonly string[])[] }[];
    try {
      proposals = await matchFunction({
        pool,
        tickets: queued,
        clusters: [...this.clusters.values()],
        now,
      });
    } catch {
      // A plugged-in function that throws loses its round, not the matchmaker.
      proposals = [];
    }
    const byId = new Map(queued.map((t) => [t.id, t]));
    const used = new Set<string>();
    const claims: Promise<string | null>[] = [];
    const work: Promise<void>[] = [];
    for (const proposal of proposals) {
      const teams = this.resolveProposal(proposal.teams, byId, used);
      if (teams === null) continue;
      const tickets = teams.flat();
      const plan = planMatch(tickets, pool, fleet);
      if (!plan.ok) {
        fail(plan.reason);
        continue;
      }
      const claimed = this.claim(tickets);
      claims.push(claimed);
      work.push(
        claimed
          .then((claimId) =>
            claimId === null
              ? 'skipped'
              : this.allocateClaimed(pool, teams, plan.candidates, 'match', claimId),
          )
          .then((result) => {
            if (typeof result === 'number') assignedTickets += result;
            else if (result !== 'skipped') fail(result);
          }),
      );
    }
    const allocations = Promise.all(work).then(() => undefined);
    // Handled here so a store failure while the claims are awaited is not an unhandled rejection.
    allocations.catch(() => undefined);
    // Claimed tickets are out of the queue, so the next round cannot propose them again.
    await Promise.allSettled(claims);
    return {
      allocations,
      summary: () => ({
        expired: expired.size,
        proposals: proposals.length,
        assignedTickets,
        failures,
      }),
    };
  }

  /** Drops proposals naming unknown, repeated or already used tickets. */
  private resolveProposal(
    teams: readonly (readonly string[])[],
    byId: ReadonlyMap<string, Ticket>,
    used: Set<string>,
  ): Ticket[][] | null {
    const resolved: Ticket[][] = [];
    const mine = new Set<string>();
    for (const team of teams) {
      const out: Ticket[] = [];
      for (const id of team) {
        const ticket = byId.get(id);
        if (ticket === undefined || used.has(id) || mine.has(id)) return null;
        mine.add(id);
        out.push(ticket);
      }
      resolved.push(out);
    }
    if (mine.size === 0) return null;
    for (const id of mine) used.add(id);
    return resolved;
  }

  private async expire(queued: readonly Ticket[], now: number): Promise<Set<string>> {
    const expired = new Set<string>();
    for (const ticket of queued) {
      if (ticket.expiresAt > now) continue;
      const next: Ticket = { ...ticket, state: 'expired', updatedAt: now };
      if (await this.store.transition([{ id: ticket.id, from: ['queued'], next }])) {
        expired.add(ticket.id);
        this.metrics.ticketsExpired.inc({ pool: ticket.pool });
        this.watchers.notify(next);
      }
    }
    return expired;
  }

  private async fleetView(): Promise<FleetView> {
    return {
      clusters: [...this.clusters.values()],
      nodes: await this.store.listNodes(),
      reserved: await this.store.reservedPlayers(),
      random: this.random,
    };
  }

  private hasBackfillRoom(fleet: FleetView): boolean {
    return fleet.nodes.some((n) => n.connected && n.pods.some((p) => p.backfillSlots > 0));
  }

  /**
   * Claims the tickets, reserves room, pushes routes to the node proxy and only
   * after its acknowledgement hands the assignment to the tickets. Any failure
   * puts the tickets back in the queue and releases the room. Returns how
   * many tickets were assigned.
   */
  private async allocate(
    pool: PoolConfig,
    teams: readonly (readonly Ticket[])[],
    candidates: readonly PodRef[],
    kind: 'match' | 'backfill',
  ): Promise<number | 'skipped' | AllocationFailure> {
    const claimId = await this.claim(teams.flat());
    // Cancelled, expired or claimed by another replica since the snapshot.
    if (claimId === null) return 'skipped';
    return this.allocateClaimed(pool, teams, candidates, kind, claimId);
  }

  /** Moves the tickets from 'queued' to 'matched' under a new claim id, all or none. */
  private async claim(tickets: readonly Ticket[]): Promise<string | null> {
    const now = this.clock();
    const claimId = randomUUID();
    const claimed = await this.store.transition(
      tickets.map((t) => ({
        id: t.id,
        from: ['queued'],
        next: { ...t, state: 'matched', matchId: claimId, updatedAt: now },
      })),
    );
    return claimed ? claimId : null;
  }

  private async allocateClaimed(
    pool: PoolConfig,
    teams: readonly (readonly Ticket[])[],
    candidates: readonly PodRef[],
    kind: 'match' | 'backfill',
    claimId: string,
  ): Promise<number | AllocationFailure | 'skipped'> {
    const tickets = teams.flat();
    const now = this.clock();
    const players = tickets.reduce((n, t) => n + t.players.length, 0);
    const reservation = await this.store.reserve({
      id: claimId,
      candidates,
      players,
      kind,
      expiresAt: now + this.config.limits.reservationTimeoutMs,
    });
    if (reservation === null) {
      await this.requeue(tickets);
      return 'contention';
    }
    const node = await this.store.getNode(reservation.ref.node);
    const pod = node?.pods.find((p) => p.id === reservation.ref.pod);
    if (node === null || node === undefined || pod === undefined || this.dispatcher === null) {
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
    const delivered = await this.dispatcher.dispatch(node.id, routes);
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
  ): Promise<number | 'skipped'> {
    const now = this.clock();
    const assigned: Ticket[] = [];
    const revokedKeys: string[] = [];
    for (let i = 0; i < tickets.length; i++) {
      const ticket = tickets[i]!;
      const tokens = issued[i]!;
      const next: Ticket = {
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
      // Only this allocation moves its tickets out of 'matched' (claimId), except a cancel.
      if (await this.store.transition([{ id: ticket.id, from: ['matched'], next }]))
        assigned.push(next);
      else revokedKeys.push(...tokens.map((t) => t.key));
    }
    const usedPlayers = assigned.reduce((n, t) => n + t.players.length, 0);
    if (revokedKeys.length > 0) this.dispatcher?.revoke(node.id, revokedKeys);
    if (assigned.length === 0) {
      await this.store.release(at.claimId);
      return 'skipped';
    }
    await this.store.confirm(at.claimId, usedPlayers);
    const kept = new Set(revokedKeys);
    await this.store.saveRoutes(
      node.id,
      routes.filter((r) => !kept.has(r.key)),
    );
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
    return assigned.length;
  }

  private async requeue(tickets: readonly Ticket[]): Promise<void> {
    for (const ticket of tickets) {
      const next: Ticket = { ...ticket, state: 'queued', matchId: null, updatedAt: this.clock() };
      await this.store.transition([{ id: ticket.id, from: ['matched'], next }]);
    }
  }
}
