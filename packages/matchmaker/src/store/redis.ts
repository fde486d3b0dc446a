import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { NodeProxy, Reservation, RouteAssignment, Ticket } from '../domain/types.js';
import {
  COMMIT,
  CREATE_TICKET,
  GET_NODES,
  LuaScript,
  PURGE_FINISHED,
  QUEUED,
  RELEASE,
  RELEASE_EXPIRED,
  RESERVE,
  RESERVED,
  STALE_CLAIMS,
  TRANSITION,
  UPSERT_NODE,
} from './redis-scripts.js';
import { describeRedisTarget, parseRedisUrl, type RedisTarget } from './redis-url.js';
import {
  type CommitResult,
  type CreateTicketResult,
  type IdempotencyClaim,
  podKey,
  type ReserveRequest,
  type Store,
  type TicketTransition,
} from './store.js';

/** Redis is unreachable or refused a command: HTTP callers get 503 GM_MM_STORE_UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  readonly code = 'GM_MM_STORE_UNAVAILABLE' as const;
}

export interface RedisStoreOptions {
  /** Key prefix; replicas that share state use the same one. Default `gm:mm:`. */
  readonly prefix?: string;
  readonly clock?: () => number;
  /**
   * A ticket 'matched' for longer than this whose reservation is gone was
   * left by a replica that stopped mid-allocation; the sweep requeues it.
   * Must exceed the longest live allocation (reservation timeout + ack timeout).
   */
  readonly staleClaimMs?: number;
  readonly connectTimeoutMs?: number;
}

/** msgpackr without records: plain msgpack that any client (and Lua's cmsgpack) can read. */
const codec = new Packr({ useRecords: false });

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function decode<T>(value: unknown): T {
  return codec.unpack(value as Buffer) as T;
}

function pairs(flat: readonly unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(text(flat[i]), text(flat[i + 1]));
  return out;
}

/**
 * The shared store: several matchmaker replicas on one Redis. Records are
 * msgpackr-encoded; every ownership decision is one Lua script (see
 * redis-scripts.ts), so replicas never hand out a ticket or a slot twice.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  private readonly clock: () => number;
  private readonly staleClaimMs: number;

  private constructor(
    readonly client: Redis,
    readonly target: RedisTarget,
    options: RedisStoreOptions,
  ) {
    this.prefix = options.prefix ?? 'gm:mm:';
    this.clock = options.clock ?? Date.now;
    this.staleClaimMs = options.staleClaimMs ?? 30_000;
  }

  /**
   * Connects once, without retrying: an unreachable Redis at start is an
   * error the operator sees at once. After that the client reconnects by
   * itself and commands fail fast (no offline queue) while Redis is away.
   */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const parsed = parseRedisUrl(url);
    if (!parsed.ok) throw new StoreUnavailableError(`store: ${parsed.problem}`);
    const target = parsed.target;
    let started = false;
    const client = new Redis({
      host: target.host,
      port: target.port,
      db: target.db,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      retryStrategy: (times) => (started ? Math.min(50 * times, 1000) : null),
    });
    // Without a listener ioredis prints every reconnect failure; readiness reports it instead.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw new StoreUnavailableError(
        `cannot reach ${describeRedisTarget(target)}: ${(error as Error).message}`,
      );
    }
    started = true;
    return new RedisStore(client, target, options);
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join('');
  }

  private async run(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    try {
      return await script.run(this.client, keys, args);
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message);
    }
  }

  private async command<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message);
    }
  }

  async createTicket(ticket: Ticket, claim: IdempotencyClaim | null): Promise<CreateTicketResult> {
    const now = this.clock();
    const reply = (await this.run(
      SCRIPTS.createTicket,
      [
        this.key('t:', ticket.id),
        this.key('q:', ticket.pool),
        this.key('seq'),
        this.key('i:', claim?.key ?? '-'),
      ],
      [
        this.prefix,
        ticket.id,
        codec.pack(ticket),
        ticket.state,
        String(ticket.createdAt).padStart(15, '0'),
        now,
        ticket.pool,
        claim === null ? '0' : '1',
        claim?.fingerprint ?? '',
        claim === null ? 0 : now + claim.ttlMs,
        claim === null ? 1 : Math.max(1, Math.ceil(claim.ttlMs)),
      ],
    )) as unknown[];
    const kind = text(reply[0]);
    if (kind === 'conflict') return { kind: 'conflict' };
    if (kind === 'replayed') return { kind: 'replayed', ticket: decode<Ticket>(reply[1]) };
    return { kind: 'created', ticket };
  }

  async getTicket(id: string): Promise<Ticket | null> {
    const blob = await this.command(() => this.client.hgetBuffer(this.key('t:', id), 'r'));
    return blob === null ? null : decode<Ticket>(blob);
  }

  async queuedTickets(pool: string): Promise<Ticket[]> {
    const blobs = (await this.run(SCRIPTS.queued, [this.key('q:', pool)], [this.prefix])) as
      | unknown[]
      | null;
    return (blobs ?? []).map((b) => decode<Ticket>(b));
  }

  async transition(steps: readonly TicketTransition[]): Promise<boolean> {
    if (steps.length === 0) return true;
    const keys = [
      ...steps.map((s) => this.key('t:', s.id)),
      ...steps.map((s) => this.key('q:', s.next.pool)),
      this.key('done'),
      this.key('matched'),
    ];
    const args: (string | number | Buffer)[] = [steps.length];
    for (const step of steps)
      args.push(
        step.id,
        step.from.join(','),
        step.next.state,
        codec.pack(step.next),
        step.next.updatedAt,
        step.next.state === 'matched' ? (step.next.matchId ?? '') : '',
      );
    return (await this.run(SCRIPTS.transition, keys, args)) === 1;
  }

  async purgeFinished(before: number): Promise<number> {
    return Number(await this.run(SCRIPTS.purge, [this.key('done')], [this.prefix, before]));
  }

  async upsertNode(node: NodeProxy): Promise<void> {
    const args: (string | number | Buffer)[] = [node.id, codec.pack(node)];
    for (const pod of node.pods)
      args.push(
        pod.id,
        pod.freeSlots,
        pod.backfillSlots,
        node.connected && !node.draining && !pod.draining ? '1' : '0',
      );
    await this.run(
      SCRIPTS.upsertNode,
      [this.key('n:', node.id), this.key('pods:', node.id), this.key('nodes')],
      args,
    );
  }

  /** The node record with the slot counts the store tracks (confirmed reservations shrink them). */
  private nodesFrom(reply: unknown): NodeProxy[] {
    return ((reply as unknown[][] | null) ?? []).map(([blob, flat]) => {
      const node = decode<NodeProxy>(blob);
      const slots = pairs((flat as unknown[]) ?? []);
      const pods = node.pods.map((pod) => ({
        ...pod,
        freeSlots: Number(slots.get(`f|${pod.id}`) ?? pod.freeSlots),
        backfillSlots: Number(slots.get(`b|${pod.id}`) ?? pod.backfillSlots),
      }));
      return { ...node, pods };
    });
  }

  async getNode(id: string): Promise<NodeProxy | null> {
    const reply = await this.run(SCRIPTS.getNodes, [this.key('nodes')], [this.prefix, id]);
    return this.nodesFrom(reply)[0] ?? null;
  }

  async listNodes(): Promise<NodeProxy[]> {
    return this.nodesFrom(await this.run(SCRIPTS.getNodes, [this.key('nodes')], [this.prefix]));
  }

  async removeNode(id: string): Promise<void> {
    await this.command(() =>
      this.client
        .multi()
        .del(this.key('n:', id), this.key('pods:', id), this.key('rt:', id))
        .srem(this.key('nodes'), id)
        .exec(),
    );
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    if (request.candidates.length === 0) return null;
    const args: (string | number)[] = [
      this.prefix,
      request.id,
      request.players,
      request.kind,
      request.expiresAt,
    ];
    for (const ref of request.candidates) args.push(ref.node, ref.pod);
    const chosen = Number(await this.run(SCRIPTS.reserve, [this.key('resx')], args));
    const ref = request.candidates[chosen - 1];
    if (ref === undefined) return null;
    return {
      id: request.id,
      ref,
      players: request.players,
      kind: request.kind,
      expiresAt: request.expiresAt,
    };
  }

  async commit(id: string, assigned: readonly Ticket[]): Promise<CommitResult> {
    const keys = [
      this.key('done'),
      this.key('matched'),
      ...assigned.map((t) => this.key('t:', t.id)),
      ...assigned.map((t) => this.key('q:', t.pool)),
    ];
    const args: (string | number | Buffer)[] = [this.prefix, id, assigned.length];
    for (const ticket of assigned)
      args.push(
        ticket.id,
        ticket.state,
        codec.pack(ticket),
        ticket.updatedAt,
        ticket.players.length,
      );
    const reply = (await this.run(SCRIPTS.commit, keys, args)) as unknown[];
    if (text(reply[0]) !== 'committed') return { kind: 'released' };
    return { kind: 'committed', assigned: new Set(reply.slice(1).map(text)) };
  }

  async release(id: string): Promise<boolean> {
    return (await this.run(SCRIPTS.release, [], [this.prefix, id])) === 1;
  }

  async releaseExpired(now: number): Promise<Reservation[]> {
    const reply = (await this.run(
      SCRIPTS.releaseExpired,
      [this.key('resx')],
      [this.prefix, now],
    )) as unknown[][] | null;
    const released = (reply ?? []).map(
      ([id, node, pod, kind, players, expiresAt]): Reservation => ({
        id: text(id),
        ref: { node: text(node), pod: text(pod) },
        kind: text(kind) === 'backfill' ? 'backfill' : 'match',
        players: Number(text(players)),
        expiresAt: Number(text(expiresAt)),
      }),
    );
    await this.requeueStaleClaims(now);
    return released;
  }

  /**
   * A replica that stopped between claiming tickets and assigning them left
   * them 'matched'; once their reservation is gone and the claim is older than
   * any live allocation can be, they go back to the queue (keeping their age).
   * The compare-and-set makes a concurrent sweep on another replica harmless.
   */
  private async requeueStaleClaims(now: number): Promise<void> {
    const blobs = (await this.run(
      SCRIPTS.staleClaims,
      [this.key('matched'), this.key('resx')],
      [this.prefix, now - this.staleClaimMs],
    )) as unknown[] | null;
    for (const blob of blobs ?? []) {
      const ticket = decode<Ticket>(blob);
      const next: Ticket = { ...ticket, state: 'queued', matchId: null, updatedAt: now };
      await this.transition([{ id: ticket.id, from: ['matched'], next }]);
    }
  }

  async reservedPlayers(): Promise<Map<string, { match: number; backfill: number }>> {
    const reply = (await this.run(SCRIPTS.reserved, [this.key('resx')], [this.prefix])) as
      | unknown[][]
      | null;
    const out = new Map<string, { match: number; backfill: number }>();
    for (const [node, pod, kind, players] of reply ?? []) {
      const key = podKey({ node: text(node), pod: text(pod) });
      const entry = out.get(key) ?? { match: 0, backfill: 0 };
      entry[text(kind) === 'backfill' ? 'backfill' : 'match'] += Number(text(players));
      out.set(key, entry);
    }
    return out;
  }

  async saveRoutes(node: string, routes: readonly RouteAssignment[]): Promise<void> {
    if (routes.length === 0) return;
    const fields = new Map<string, Buffer>(routes.map((r) => [r.key, codec.pack(r)]));
    await this.command(() => this.client.hset(this.key('rt:', node), fields));
  }

  async removeRoutes(node: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.command(() => this.client.hdel(this.key('rt:', node), ...keys));
  }

  async routesFor(node: string, now: number): Promise<RouteAssignment[]> {
    const all = await this.command(() => this.client.hgetallBuffer(this.key('rt:', node)));
    const live: RouteAssignment[] = [];
    const expired: string[] = [];
    for (const [key, blob] of Object.entries(all)) {
      const route = decode<RouteAssignment>(blob);
      if (route.expiresAt <= now) expired.push(key);
      else live.push(route);
    }
    if (expired.length > 0) await this.removeRoutes(node, expired);
    return live;
  }

  /** False when Redis does not answer within `timeoutMs` (a stalled server must not hang /readyz). */
  async ping(timeoutMs = 1000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answer = this.client.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

const SCRIPTS = {
  createTicket: new LuaScript(CREATE_TICKET),
  transition: new LuaScript(TRANSITION),
  queued: new LuaScript(QUEUED),
  purge: new LuaScript(PURGE_FINISHED),
  upsertNode: new LuaScript(UPSERT_NODE),
  getNodes: new LuaScript(GET_NODES),
  reserve: new LuaScript(RESERVE),
  commit: new LuaScript(COMMIT),
  release: new LuaScript(RELEASE),
  releaseExpired: new LuaScript(RELEASE_EXPIRED),
  reserved: new LuaScript(RESERVED),
  staleClaims: new LuaScript(STALE_CLAIMS),
} as const;
