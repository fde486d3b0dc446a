import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { AssignmentDispatcher, DispatchResult, Matchmaker } from '../domain/matchmaker.js';
import type { RouteAssignment, Ticket } from '../domain/types.js';
import type { LinkServer } from '../link/server.js';
import type { RedisStore } from './redis.js';

/**
 * Messages between matchmaker replicas, over Redis pub/sub:
 *   P ev:tickets         every ticket change, so a long-poll or SSE stream on
 *                        any replica wakes up whichever replica made the change
 *   P ev:link:NODE       assign / revoke for a node proxy; only the replica
 *                        holding that proxy's link subscribes
 *   P ev:replica:ID      the proxy's answer to an assign, back to the asker
 */
type BusMessage =
  | { readonly t: 'ticket'; readonly from: string; readonly ticket: Ticket }
  | {
      readonly t: 'assign';
      readonly id: string;
      readonly replyTo: string;
      readonly node: string;
      readonly routes: readonly RouteAssignment[];
    }
  | { readonly t: 'revoke'; readonly node: string; readonly keys: readonly string[] }
  | { readonly t: 'result'; readonly id: string; readonly result: DispatchResult | 'not_here' };

interface PendingAssign {
  readonly resolve: (result: DispatchResult) => void;
  readonly timer: NodeJS.Timeout;
  /** Replicas the request reached (PUBLISH's count), once known. */
  expected: number | null;
  readonly answers: (DispatchResult | 'not_here')[];
}

const codec = new Packr({ useRecords: false });
const RESULTS: ReadonlySet<string> = new Set([
  'ack',
  'proxy_nack',
  'ack_timeout',
  'proxy_gone',
  'not_here',
]);

export interface ReplicaBusStats {
  readonly remoteAssigns: number;
  readonly servedAssigns: number;
  readonly relayedTickets: number;
}

/**
 * What makes replicas on one Redis behave as one matchmaker. Each replica
 * owns only its HTTP clients (long-polls, SSE streams) and the node proxies
 * linked to it; everything else lives in Redis. An allocation made on replica
 * B for a proxy linked to replica A is sent to A, which pushes it over the
 * link and returns the proxy's ack, so the player still sees the assignment
 * only after the proxy holds the route.
 */
export class RedisReplicaBus implements AssignmentDispatcher {
  readonly replicaId = randomUUID();
  private readonly subscriber: Redis;
  private readonly pending = new Map<string, PendingAssign>();
  private readonly linked = new Set<string>();
  private closed = false;
  private counts = { remoteAssigns: 0, servedAssigns: 0, relayedTickets: 0 };

  private constructor(
    private readonly store: RedisStore,
    private readonly matchmaker: Matchmaker,
    private readonly link: LinkServer,
    private readonly answerWithinMs: number,
  ) {
    this.subscriber = store.client.duplicate();
    this.subscriber.on('error', () => undefined);
  }

  /** Subscribes, then takes over dispatch and ticket relaying for this replica. */
  static async start(
    store: RedisStore,
    matchmaker: Matchmaker,
    link: LinkServer,
    ackTimeoutMs: number,
  ): Promise<RedisReplicaBus> {
    // The owner answers within its own ack timeout; the margin covers two pub/sub hops.
    const bus = new RedisReplicaBus(store, matchmaker, link, ackTimeoutMs + 1000);
    await bus.subscriber.connect();
    bus.subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => bus.receive(payload));
    await bus.subscriber.subscribe(
      bus.channel('ev:tickets'),
      bus.channel(`ev:replica:${bus.replicaId}`),
    );
    for (const node of link.connectedNodes) if (link.holds(node)) await bus.linkChanged(node, true);
    link.onLinkChange((node, linked) => void bus.linkChanged(node, linked));
    matchmaker.setDispatcher(bus);
    matchmaker.watchers.setRelay((ticket) => bus.relay(ticket));
    return bus;
  }

  get stats(): ReplicaBusStats {
    return { ...this.counts };
  }

  private channel(name: string): string {
    return `${this.store.prefix}${name}`;
  }

  private async publish(channel: string, message: BusMessage): Promise<number> {
    try {
      return await this.store.client.publish(this.channel(channel), codec.pack(message));
    } catch {
      // Redis away: nobody is reached; callers treat it as such.
      return 0;
    }
  }

  private async linkChanged(node: string, linked: boolean): Promise<void> {
    if (this.closed) return;
    const channel = this.channel(`ev:link:${node}`);
    try {
      if (linked && !this.linked.has(node)) {
        this.linked.add(node);
        await this.subscriber.subscribe(channel);
      } else if (!linked && this.linked.delete(node)) await this.subscriber.unsubscribe(channel);
    } catch {
      // Redis away: ioredis resubscribes on reconnect.
    }
  }

  private relay(ticket: Ticket): void {
    this.counts.relayedTickets++;
    void this.publish('ev:tickets', { t: 'ticket', from: this.replicaId, ticket });
  }

  private receive(payload: Buffer): void {
    let message: BusMessage;
    try {
      message = codec.unpack(payload) as BusMessage;
    } catch {
      return;
    }
    switch (message.t) {
      case 'ticket':
        if (message.from !== this.replicaId) this.matchmaker.watchers.deliver(message.ticket);
        return;
      case 'assign':
        void this.serveAssign(message);
        return;
      case 'revoke':
        if (this.link.holds(message.node)) this.link.revoke(message.node, message.keys);
        return;
      case 'result':
        if (RESULTS.has(message.result)) this.answer(message.id, message.result);
        return;
    }
  }

  /** This replica holds the proxy's link: push the routes and report the proxy's answer. */
  private async serveAssign(message: Extract<BusMessage, { t: 'assign' }>): Promise<void> {
    const result = this.link.holds(message.node)
      ? await this.link.dispatch(message.node, message.routes)
      : 'not_here';
    if (result !== 'not_here') this.counts.servedAssigns++;
    await this.publish(`ev:replica:${message.replyTo}`, { t: 'result', id: message.id, result });
  }

  private answer(id: string, result: DispatchResult | 'not_here'): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    pending.answers.push(result);
    this.settle(id, pending);
  }

  /**
   * Any ack wins: during a reconnect two replicas may briefly both hold the
   * node's link, and the one that reached the proxy decides.
   */
  private settle(id: string, pending: PendingAssign): void {
    const decided = pending.answers.includes('ack');
    const all = pending.expected !== null && pending.answers.length >= pending.expected;
    if (!decided && !all) return;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    if (decided) pending.resolve('ack');
    else
      pending.resolve(
        (pending.answers.find((a) => a !== 'not_here') as DispatchResult | undefined) ??
          'proxy_gone',
      );
  }

  async dispatch(node: string, routes: readonly RouteAssignment[]): Promise<DispatchResult> {
    if (this.link.holds(node)) return this.link.dispatch(node, routes);
    if (this.closed) return 'proxy_gone';
    this.counts.remoteAssigns++;
    const id = randomUUID();
    const result = new Promise<DispatchResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve('ack_timeout');
      }, this.answerWithinMs);
      this.pending.set(id, { resolve, timer, expected: null, answers: [] });
    });
    const reached = await this.publish(`ev:link:${node}`, {
      t: 'assign',
      id,
      replyTo: this.replicaId,
      node,
      routes,
    });
    const pending = this.pending.get(id);
    if (pending !== undefined) {
      pending.expected = reached;
      this.settle(id, pending);
    }
    const outcome = await result;
    // Without an answer the proxy may still install the routes later: take them back.
    if (outcome === 'ack_timeout')
      this.revoke(
        node,
        routes.map((r) => r.key),
      );
    return outcome;
  }

  revoke(node: string, keys: readonly string[]): void {
    if (keys.length === 0) return;
    if (this.link.holds(node)) {
      this.link.revoke(node, keys);
      return;
    }
    void this.publish(`ev:link:${node}`, { t: 'revoke', node, keys }).then(async (reached) => {
      // No replica holds the link: drop the routes so the next resync leaves them out.
      if (reached === 0) await this.store.removeRoutes(node, keys).catch(() => undefined);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.matchmaker.watchers.setRelay(null);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.resolve('proxy_gone');
    }
    try {
      await this.subscriber.quit();
    } catch {
      this.subscriber.disconnect();
    }
  }
}
