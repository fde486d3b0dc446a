import type { Ticket } from './types.js';

type Listener = (ticket: Ticket) => void;

/** A pending `waitFor`: its outcome, and how to stop waiting early (idempotent). */
export interface TicketWait {
  readonly result: Promise<Ticket | null>;
  readonly cancel: () => void;
}

/** Carries a local ticket change to other matchmaker replicas (the Redis bus). */
export type WatcherRelay = (ticket: Ticket) => void;

/**
 * In-process wake-ups for long-polls and SSE streams: a ticket change calls
 * only that ticket's listeners, so waiting clients cost nothing until then.
 */
export class TicketWatchers {
  /**
   * A lone listener is stored as itself: nearly every ticket has exactly one
   * waiter (its long-poll), so no Set per ticket and no copy per change.
   */
  private readonly listeners = new Map<string, Listener | Set<Listener>>();
  private relay: WatcherRelay | null = null;

  /** With a shared store, clients may wait on another replica: every change is relayed. */
  setRelay(relay: WatcherRelay | null): void {
    this.relay = relay;
  }

  watch(id: string, listener: Listener): () => void {
    const current = this.listeners.get(id);
    if (current === undefined) this.listeners.set(id, listener);
    else if (typeof current === 'function') this.listeners.set(id, new Set([current, listener]));
    else current.add(listener);
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      this.unwatch(id, listener);
    };
  }

  private unwatch(id: string, listener: Listener): void {
    const current = this.listeners.get(id);
    if (current === undefined) return;
    if (typeof current === 'function') {
      if (current === listener) this.listeners.delete(id);
      return;
    }
    current.delete(listener);
    if (current.size === 0) this.listeners.delete(id);
  }

  /** A change made by this replica: wakes local waiters and tells the other replicas. */
  notify(ticket: Ticket): void {
    this.deliver(ticket);
    this.relay?.(ticket);
  }

  /** Wakes this replica's waiters only (a change relayed from another replica). */
  deliver(ticket: Ticket): void {
    const current = this.listeners.get(ticket.id);
    if (current === undefined) return;
    if (typeof current === 'function') current(ticket);
    else for (const listener of [...current]) listener(ticket);
  }

  /**
   * `result` resolves with the ticket once `done` holds for it, or null after
   * `timeoutMs` or on `cancel()`. A plain cancel function rather than an
   * AbortSignal: every long-poll ends with one, and each `abort()` builds a
   * DOMException with a stack trace.
   */
  waitFor(id: string, done: (ticket: Ticket) => boolean, timeoutMs: number): TicketWait {
    let resolveResult: (ticket: Ticket | null) => void = () => undefined;
    let finished = false;
    const result = new Promise<Ticket | null>((resolve) => {
      resolveResult = resolve;
    });
    const finish = (ticket: Ticket | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unwatch();
      resolveResult(ticket);
    };
    const unwatch = this.watch(id, (ticket) => {
      if (done(ticket)) finish(ticket);
    });
    const timer = setTimeout(() => finish(null), timeoutMs);
    return { result, cancel: () => finish(null) };
  }

  get size(): number {
    return this.listeners.size;
  }
}
