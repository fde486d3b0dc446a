import type { Cluster, Ticket } from './types.js';

/** A ticket's latency to a cluster: by cluster name first, then by region. */
export function latencyTo(ticket: Ticket, cluster: Cluster): number | undefined {
  return ticket.latencies[cluster.name] ?? ticket.latencies[cluster.region];
}

/** No own keys, without building the key array (called per ticket × cluster in every round). */
function reportsNone(latencies: Readonly<Record<string, number>>): boolean {
  for (const key in latencies) if (Object.hasOwn(latencies, key)) return false;
  return true;
}

/**
 * Whether a ticket may play on a cluster under the pool's latency limit. A
 * ticket that reports no latencies at all is eligible everywhere (clients that
 * cannot measure must still be matched); one that reports some is held to them.
 */
export function latencyAllows(
  ticket: Ticket,
  cluster: Cluster,
  maxLatencyMs: number | undefined,
): boolean {
  if (maxLatencyMs === undefined) return true;
  if (reportsNone(ticket.latencies)) return true;
  const ms = latencyTo(ticket, cluster);
  return ms !== undefined && ms <= maxLatencyMs;
}

/** Worst latency of a group of tickets to a cluster (0 when none is known). */
export function worstLatency(tickets: readonly Ticket[], cluster: Cluster): number {
  let worst = 0;
  for (const ticket of tickets) {
    const ms = latencyTo(ticket, cluster);
    if (ms !== undefined && ms > worst) worst = ms;
  }
  return worst;
}
