import type { Ticket } from './types.js';

type Listener = (ticket: Ticket) => void;

/** Carries a local ticket change to other matchmaker replicas (the Redis bus). */
export type WatcherRelay = (ticket: Ticket) => void;

/**
 * In-process wake-ups for long-polls and SSE streams: a ticket change calls
 * only that ticket's listeners, so waiting clients cost nothing until then.
 */
export class TicketWatchers {
  private readonly listeners = new Map<string, Set<Listener>>();
  private relay: WatcherRelay | null = null;

  /** With a shared store, clients may wait on another replica: every change is relayed. */
  setRelay(relay: WatcherRelay | null): void {
    this.relay = relay;
  }

  watch(id: string, listener: Listener): () => void {
    let set = this.listeners.get(id);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(id, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(id);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(id);
    };
  }

  /** A change made by this replica: wakes local waiters and tells the other replicas. */
  notify(ticket: Ticket): void {
    this.deliver(ticket);
    this.relay?.(ticket);
  }

  /** Wakes this replica's waiters only (a change relayed from another replica). */
  deliver(ticket: Ticket): void {
    const set = this.listeners.get(ticket.id);
    if (set === undefined) return;
    for (const listener of [...set]) listener(ticket);
  }

  /** Resolves with the ticket once `done` holds for it, or null after `timeoutMs`. */
  waitFor(
    id: string,
    done: (ticket: Ticket) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Ticket | null> {
    return new Promise((resolve) => {
      const finish = (ticket: Ticket | null): void => {
        clearTimeout(timer);
        unwatch();
        signal?.removeEventListener('abort', onAbort);
        resolve(ticket);
      };
      const onAbort = (): void => finish(null);
      const unwatch = this.watch(id, (ticket) => {
        if (done(ticket)) finish(ticket);
      });
      const timer = setTimeout(() => finish(null), timeoutMs);
      signal?.addEventListener('abort', onAbort);
    });
  }

  get size(): number {
    return this.listeners.size;
  }
}
