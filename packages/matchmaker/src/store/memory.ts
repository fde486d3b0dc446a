import type { NodeProxy, Pod, Reservation, RouteAssignment, Ticket } from '../domain/types.js';
import { FINAL_STATES } from '../domain/types.js';
import { ReservationLedger } from './reservation-ledger.js';
import {
  type CommitResult,
  type CreateTicketResult,
  type IdempotencyClaim,
  podKey,
  type ReserveRequest,
  type Store,
  type TicketTransition,
} from './store.js';

/**
 * A pool's queue in creation order (a Map keeps insertion order). Tickets stay
 * in it while 'matched', so one put back in the queue after a failed
 * allocation keeps its place for free; they leave it on a final state.
 */
interface PoolQueue {
  readonly tickets: Map<string, Ticket>;
  /** The newest `createdAt` ever appended: a ticket at or after it appends in O(1). */
  newest: number;
}

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
  private readonly queues = new Map<string, PoolQueue>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly nodes = new Map<string, NodeProxy>();
  private readonly reservations = new ReservationLedger();
  private readonly routes = new Map<string, Map<string, RouteAssignment>>();

  constructor(private readonly clock: () => number = Date.now) {}

  private queue(pool: string): PoolQueue {
    let queue = this.queues.get(pool);
    if (queue === undefined) {
      queue = { tickets: new Map(), newest: Number.NEGATIVE_INFINITY };
      this.queues.set(pool, queue);
    }
    return queue;
  }

  private put(ticket: Ticket): void {
    this.tickets.set(ticket.id, ticket);
    const queue = this.queue(ticket.pool);
    if (FINAL_STATES.has(ticket.state)) queue.tickets.delete(ticket.id);
    // Present: replaced in place, so its age order holds.
    else if (queue.tickets.has(ticket.id)) queue.tickets.set(ticket.id, ticket);
    else this.insertByAge(queue, ticket);
  }

  private insertByAge(queue: PoolQueue, ticket: Ticket): void {
    if (ticket.createdAt >= queue.newest) {
      queue.tickets.set(ticket.id, ticket);
      queue.newest = ticket.createdAt;
      return;
    }
    // Only a clock that stepped back gets here: rebuild in creation order (a stable sort).
    const ordered = [...queue.tickets.values(), ticket].sort((a, b) => a.createdAt - b.createdAt);
    queue.tickets.clear();
    for (const t of ordered) queue.tickets.set(t.id, t);
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
    const queued: Ticket[] = [];
    for (const ticket of this.queue(pool).tickets.values())
      if (ticket.state === 'queued') queued.push(ticket);
    return queued;
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
    // Expired routes too: otherwise only a node's resync would ever drop them.
    for (const byKey of this.routes.values())
      for (const [key, route] of byKey) if (route.expiresAt <= now) byKey.delete(key);
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
      if (room - this.reservations.held(podKey(ref), request.kind) < request.players) continue;
      const reservation: Reservation = {
        id: request.id,
        ref,
        players: request.players,
        kind: request.kind,
        expiresAt: request.expiresAt,
      };
      this.reservations.add(reservation);
      return reservation;
    }
    return null;
  }

  async commit(id: string, assigned: readonly Ticket[]): Promise<CommitResult> {
    const reservation = this.reservations.remove(id);
    if (reservation === undefined) return { kind: 'released' };
    const moved = new Set<string>();
    let playersUsed = 0;
    for (const next of assigned) {
      const current = this.tickets.get(next.id);
      // Still this claim's: not cancelled, not requeued and claimed by another allocation.
      if (current?.state !== 'matched' || current.matchId !== id) continue;
      this.put(next);
      moved.add(next.id);
      playersUsed += next.players.length;
    }
    this.useSlots(reservation, playersUsed);
    return { kind: 'committed', assigned: moved };
  }

  /**
   * Takes the players out of the pod's free (and backfill) slots until the
   * proxy's next heartbeat, which already counts acknowledged assignments.
   */
  private useSlots(reservation: Reservation, playersUsed: number): void {
    const node = this.nodes.get(reservation.ref.node);
    if (node === undefined || playersUsed === 0) return;
    const pods = node.pods.map((pod): Pod => {
      if (pod.id !== reservation.ref.pod) return pod;
      return reservation.kind === 'match'
        ? { ...pod, freeSlots: Math.max(0, pod.freeSlots - playersUsed) }
        : {
            ...pod,
            backfillSlots: Math.max(0, pod.backfillSlots - playersUsed),
            freeSlots: Math.max(0, pod.freeSlots - playersUsed),
          };
    });
    this.nodes.set(node.id, { ...node, pods });
  }

  async release(id: string): Promise<boolean> {
    return this.reservations.remove(id) !== undefined;
  }

  async releaseExpired(now: number): Promise<Reservation[]> {
    return this.reservations.expire(now);
  }

  async reservedPlayers(): Promise<Map<string, { match: number; backfill: number }>> {
    return this.reservations.snapshot();
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
