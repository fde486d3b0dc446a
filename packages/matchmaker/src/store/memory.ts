import type { NodeProxy, Pod, Reservation, RouteAssignment, Ticket } from '../domain/types.js';
import { FINAL_STATES } from '../domain/types.js';
import {
  type CreateTicketResult,
  type IdempotencyClaim,
  podKey,
  type ReserveRequest,
  type Store,
  type TicketTransition,
} from './store.js';

interface IdempotencyRecord {
  readonly ticketId: string;
  readonly fingerprint: string;
  readonly expiresAt: number;
}

/**
 * The default store: one process, no persistence. Each method runs to
 * completion without awaiting, which is what makes it atomic.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly tickets = new Map<string, Ticket>();
  /** Queued ticket ids per pool in creation order (Map keeps insertion order). */
  private readonly queues = new Map<string, Map<string, Ticket>>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly nodes = new Map<string, NodeProxy>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly routes = new Map<string, Map<string, RouteAssignment>>();

  constructor(private readonly clock: () => number = Date.now) {}

  private queue(pool: string): Map<string, Ticket> {
    let queue = this.queues.get(pool);
    if (queue === undefined) {
      queue = new Map();
      this.queues.set(pool, queue);
    }
    return queue;
  }

  private put(ticket: Ticket): void {
    this.tickets.set(ticket.id, ticket);
    const queue = this.queue(ticket.pool);
    if (ticket.state === 'queued') {
      // Re-queued tickets keep their age: re-insert in creation order only if absent.
      if (!queue.has(ticket.id)) this.insertByAge(queue, ticket);
      else queue.set(ticket.id, ticket);
    } else queue.delete(ticket.id);
  }

  private insertByAge(queue: Map<string, Ticket>, ticket: Ticket): void {
    const last = [...queue.values()].at(-1);
    if (last === undefined || last.createdAt <= ticket.createdAt) {
      queue.set(ticket.id, ticket);
      return;
    }
    const ordered = [...queue.values(), ticket].sort((a, b) => a.createdAt - b.createdAt);
    queue.clear();
    for (const t of ordered) queue.set(t.id, t);
  }

  async createTicket(ticket: Ticket, claim: IdempotencyClaim | null): Promise<CreateTicketResult> {
    if (claim !== null) {
      const existing = this.idempotency.get(claim.key);
      if (existing !== undefined && existing.expiresAt > this.clock()) {
        if (existing.fingerprint !== claim.fingerprint) return { kind: 'conflict' };
        const original = this.tickets.get(existing.ticketId);
        if (original !== undefined) return { kind: 'replayed', ticket: original };
      }
      this.idempotency.set(claim.key, {
        ticketId: ticket.id,
        fingerprint: claim.fingerprint,
        expiresAt: this.clock() + claim.ttlMs,
      });
    }
    this.put(ticket);
    return { kind: 'created', ticket };
  }

  async getTicket(id: string): Promise<Ticket | null> {
    return this.tickets.get(id) ?? null;
  }

  async queuedTickets(pool: string): Promise<Ticket[]> {
    return [...this.queue(pool).values()];
  }

  async transition(steps: readonly TicketTransition[]): Promise<boolean> {
    for (const step of steps) {
      const current = this.tickets.get(step.id);
      if (current === undefined || !step.from.includes(current.state)) return false;
    }
    for (const step of steps) this.put(step.next);
    return true;
  }

  async purgeFinished(before: number): Promise<number> {
    let purged = 0;
    for (const [id, ticket] of this.tickets) {
      if (FINAL_STATES.has(ticket.state) && ticket.updatedAt < before) {
        this.tickets.delete(id);
        purged++;
      }
    }
    const now = this.clock();
    for (const [key, record] of this.idempotency)
      if (record.expiresAt <= now) this.idempotency.delete(key);
    return purged;
  }

  async upsertNode(node: NodeProxy): Promise<void> {
    this.nodes.set(node.id, node);
  }

  async getNode(id: string): Promise<NodeProxy | null> {
    return this.nodes.get(id) ?? null;
  }

  async listNodes(): Promise<NodeProxy[]> {
    return [...this.nodes.values()];
  }

  async removeNode(id: string): Promise<void> {
    this.nodes.delete(id);
    this.routes.delete(id);
  }

  private held(ref: string, kind: 'match' | 'backfill'): number {
    let held = 0;
    for (const r of this.reservations.values())
      if (r.kind === kind && podKey(r.ref) === ref) held += r.players;
    return held;
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    for (const ref of request.candidates) {
      const node = this.nodes.get(ref.node);
      const pod = node?.pods.find((p) => p.id === ref.pod);
      if (
        node === undefined ||
        pod === undefined ||
        !node.connected ||
        node.draining ||
        pod.draining
      )
        continue;
      const room = request.kind === 'match' ? pod.freeSlots : pod.backfillSlots;
      if (room - this.held(podKey(ref), request.kind) < request.players) continue;
      const reservation: Reservation = {
        id: request.id,
        ref,
        players: request.players,
        kind: request.kind,
        expiresAt: request.expiresAt,
      };
      this.reservations.set(request.id, reservation);
      return reservation;
    }
    return null;
  }

  async confirm(id: string, playersUsed: number): Promise<boolean> {
    const reservation = this.reservations.get(id);
    if (reservation === undefined) return false;
    this.reservations.delete(id);
    const node = this.nodes.get(reservation.ref.node);
    if (node === undefined) return true;
    const pods = node.pods.map((pod): Pod => {
      if (pod.id !== reservation.ref.pod) return pod;
      // Until the proxy's next heartbeat (which already counts acknowledged assignments).
      return reservation.kind === 'match'
        ? { ...pod, freeSlots: Math.max(0, pod.freeSlots - playersUsed) }
        : {
            ...pod,
            backfillSlots: Math.max(0, pod.backfillSlots - playersUsed),
            freeSlots: Math.max(0, pod.freeSlots - playersUsed),
          };
    });
    this.nodes.set(node.id, { ...node, pods });
    return true;
  }

  async release(id: string): Promise<boolean> {
    return this.reservations.delete(id);
  }

  async releaseExpired(now: number): Promise<Reservation[]> {
    const released: Reservation[] = [];
    for (const [id, reservation] of this.reservations) {
      if (reservation.expiresAt <= now) {
        this.reservations.delete(id);
        released.push(reservation);
      }
    }
    return released;
  }

  async reservedPlayers(): Promise<Map<string, { match: number; backfill: number }>> {
    const out = new Map<string, { match: number; backfill: number }>();
    for (const r of this.reservations.values()) {
      const key = podKey(r.ref);
      const entry = out.get(key) ?? { match: 0, backfill: 0 };
      entry[r.kind] += r.players;
      out.set(key, entry);
    }
    return out;
  }

  async saveRoutes(node: string, routes: readonly RouteAssignment[]): Promise<void> {
    let byKey = this.routes.get(node);
    if (byKey === undefined) {
      byKey = new Map();
      this.routes.set(node, byKey);
    }
    for (const route of routes) byKey.set(route.key, route);
  }

  async removeRoutes(node: string, keys: readonly string[]): Promise<void> {
    const byKey = this.routes.get(node);
    if (byKey === undefined) return;
    for (const key of keys) byKey.delete(key);
  }

  async routesFor(node: string, now: number): Promise<RouteAssignment[]> {
    const byKey = this.routes.get(node);
    if (byKey === undefined) return [];
    for (const [key, route] of byKey) if (route.expiresAt <= now) byKey.delete(key);
    return [...byKey.values()];
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
