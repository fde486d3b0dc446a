import { randomUUID } from 'node:crypto';
import type { MatchmakerConfig, PoolConfig } from '../config.js';
import { fail, type Outcome, ok } from '../errors.js';
import type { MatchmakerMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { TokenIssuer } from '../tokens/issue.js';
import { type AllocationFailure, type FleetView, planBackfill, planMatch } from './allocation.js';
import { Allocator, type AssignmentDispatcher } from './allocator.js';
import { RoundCadence } from './round-cadence.js';
import { type MatchFunction, ruleEngine } from './rules.js';
import { buildTicket, type TicketInput } from './tickets.js';
import type { Cluster, NodeProxy, Pod, PodRef, Ticket } from './types.js';
import { FINAL_STATES } from './types.js';
import { TicketWatchers } from './watchers.js';

export type { AssignmentDispatcher, DispatchResult } from './allocator.js';

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
  private readonly matchFunctions: ReadonlyMap<string, MatchFunction>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private dispatcher: AssignmentDispatcher | null = null;
  private readonly allocator: Allocator;
  private readonly cadences = new Map<string, RoundCadence>();
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(options: MatchmakerOptions) {
    this.config = options.config;
    this.store = options.store;
    this.metrics = options.metrics;
    this.matchFunctions = options.matchFunctions ?? new Map();
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pools = new Map(options.config.pools.map((p) => [p.name, p]));
    this.clusters = new Map(options.config.clusters.map((c) => [c.name, c]));
    this.allocator = new Allocator({
      config: this.config,
      store: this.store,
      metrics: this.metrics,
      tokens: options.tokens,
      watchers: this.watchers,
      clock: this.clock,
      dispatcher: () => this.dispatcher,
    });
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
      if (this.cadences.has(pool.name)) continue;
      const label = { pool: pool.name };
      const cadence = new RoundCadence(
        pool.matchIntervalMs,
        // The next round may start once this one has claimed its tickets: waiting
        // for every proxy acknowledgement too made a slow ack skip whole intervals.
        () => this.startRound(pool.name),
        {
          delay: (seconds) => this.metrics.roundDelay.observe(label, seconds),
          duration: (seconds) => this.metrics.roundDuration.observe(label, seconds),
        },
      );
      this.cadences.set(pool.name, cadence.start());
    }
    if (this.purgeTimer === null) {
      // Finished tickets stay readable while their assignment may still be fetched, then go:
      // without this the memory store keeps every ticket ever created.
      const retentionMs =
        Math.max(
          ...[...this.pools.values()].map((p) =>
            Math.max(p.ticketTtlSeconds, p.assignmentTtlSeconds),
          ),
          0,
        ) * 1000;
      this.purgeTimer = setInterval(() => {
        this.store.purgeFinished(this.clock() - retentionMs).catch(() => undefined);
      }, PURGE_INTERVAL_MS);
      this.purgeTimer.unref();
    }
  }

  stop(): void {
    for (const cadence of this.cadences.values()) cadence.stop();
    this.cadences.clear();
    if (this.purgeTimer !== null) clearInterval(this.purgeTimer);
    this.purgeTimer = null;
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
    // First, so the room and the tickets it frees (stale claims requeued) count in this round.
    const released = await this.store.releaseExpired(now);
    if (released.length > 0) this.metrics.reservationsExpired.inc(released.length);
    // Independent reads go out together: with Redis each await is a round trip.
    const [snapshot, fleet] = await Promise.all([
      this.store.queuedTickets(pool.name),
      this.fleetView(),
    ]);
    const expired = await this.expire(snapshot, now);
    let queued = expired.size > 0 ? snapshot.filter((t) => !expired.has(t.id)) : snapshot;
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
        const result = await this.allocate(pool, fleet, [[ticket]], plan.candidates, 'backfill');
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
    const claims: Promise<boolean>[] = [];
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
      const claimId = randomUUID();
      const claimed = this.allocator.claim(tickets, claimId);
      // Sent with the claim, not after it (with Redis one round trip instead of two);
      // if the claim fails (a ticket cancelled since the snapshot) the room goes back.
      const reserved = this.allocator.reserve(tickets, plan.candidates, 'match', claimId);
      claims.push(claimed);
      work.push(
        Promise.all([claimed, reserved])
          .then(async ([owned, reservation]) => {
            if (owned)
              return this.allocator.allocateReserved(pool, fleet, teams, reservation, claimId);
            if (reservation !== null) await this.store.release(claimId);
            return 'skipped';
          })
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
    const [nodes, reserved] = await Promise.all([
      this.store.listNodes(),
      this.store.reservedPlayers(),
    ]);
    return { clusters: [...this.clusters.values()], nodes, reserved, random: this.random };
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
    fleet: FleetView,
    teams: readonly (readonly Ticket[])[],
    candidates: readonly PodRef[],
    kind: 'match' | 'backfill',
  ): Promise<number | 'skipped' | AllocationFailure> {
    const tickets = teams.flat();
    const claimId = randomUUID();
    // Cancelled, expired or claimed by another replica since the snapshot.
    if (!(await this.allocator.claim(tickets, claimId))) return 'skipped';
    const reservation = await this.allocator.reserve(tickets, candidates, kind, claimId);
    return this.allocator.allocateReserved(pool, fleet, teams, reservation, claimId);
  }
}
