import type { Reservation } from '../domain/types.js';
import { podKey } from './store.js';

export interface HeldPlayers {
  match: number;
  backfill: number;
}

/**
 * Open reservations with running per-pod totals of the players they hold.
 * A round allocates all its matches at once, so recomputing a pod's held
 * players from every open reservation on each reserve made a round cost
 * O(matches²); the totals make `held` O(1). Every change to the set of
 * reservations goes through `add`/`remove`, which keep the totals exact.
 */
export class ReservationLedger {
  private readonly open = new Map<string, Reservation>();
  private readonly totals = new Map<string, HeldPlayers>();
  /** A lower bound on the earliest expiry, so rounds with nothing due skip the scan. */
  private earliestExpiry = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.open.size;
  }

  get(id: string): Reservation | undefined {
    return this.open.get(id);
  }

  /** Players the pod's open reservations of this kind hold. */
  held(pod: string, kind: Reservation['kind']): number {
    return this.totals.get(pod)?.[kind] ?? 0;
  }

  /** Adds (or replaces, under the same id) a reservation. */
  add(reservation: Reservation): void {
    this.remove(reservation.id);
    this.open.set(reservation.id, reservation);
    const key = podKey(reservation.ref);
    let held = this.totals.get(key);
    if (held === undefined) {
      held = { match: 0, backfill: 0 };
      this.totals.set(key, held);
    }
    held[reservation.kind] += reservation.players;
    if (reservation.expiresAt < this.earliestExpiry) this.earliestExpiry = reservation.expiresAt;
  }

  remove(id: string): Reservation | undefined {
    const reservation = this.open.get(id);
    if (reservation === undefined) return undefined;
    this.open.delete(id);
    const key = podKey(reservation.ref);
    const held = this.totals.get(key);
    if (held !== undefined) {
      held[reservation.kind] -= reservation.players;
      // Pods without open reservations leave the map: callers read its size as "anything held".
      if (held.match === 0 && held.backfill === 0) this.totals.delete(key);
    }
    if (this.open.size === 0) this.earliestExpiry = Number.POSITIVE_INFINITY;
    return reservation;
  }

  /** Removes and returns every reservation whose expiry is at or before `now`. */
  expire(now: number): Reservation[] {
    if (now < this.earliestExpiry) return [];
    const expired: Reservation[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const reservation of this.open.values()) {
      if (reservation.expiresAt <= now) expired.push(reservation);
      else if (reservation.expiresAt < earliest) earliest = reservation.expiresAt;
    }
    for (const reservation of expired) this.remove(reservation.id);
    this.earliestExpiry = earliest;
    return expired;
  }

  /** A copy of the per-pod totals (`node/pod` → players held), pods holding nothing left out. */
  snapshot(): Map<string, HeldPlayers> {
    const out = new Map<string, HeldPlayers>();
    for (const [key, held] of this.totals)
      out.set(key, { match: held.match, backfill: held.backfill });
    return out;
  }

  /** Every open reservation (for checks and tests). */
  list(): Reservation[] {
    return [...this.open.values()];
  }
}
