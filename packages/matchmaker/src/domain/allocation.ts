import type { PoolConfig } from '../config.js';
import { podKey } from '../store/store.js';
import { latencyAllows, worstLatency } from './latency.js';
import type { Cluster, NodeProxy, Pod, PodRef, Ticket } from './types.js';

export const ALLOCATION_FAILURES = {
  latency: 'no configured cluster is within the pool latency limit for every ticket',
  no_capacity: 'no pod in an eligible cluster has enough free slots',
  contention: 'another allocation took the last room between planning and reserving',
  proxy_nack: 'the node proxy refused the assignment',
  ack_timeout: 'the node proxy did not acknowledge the assignment in time',
  proxy_gone: 'the node proxy disconnected before acknowledging',
  reservation_released:
    'the reservation was released (expired, or its pod went away) before the acknowledged assignment was committed',
} as const;

export type AllocationFailure = keyof typeof ALLOCATION_FAILURES;

export type AllocationPlan =
  | { readonly ok: true; readonly candidates: readonly PodRef[] }
  | { readonly ok: false; readonly reason: AllocationFailure };

export interface FleetView {
  readonly clusters: readonly Cluster[];
  readonly nodes: readonly NodeProxy[];
  /** Players held by pending reservations per pod (`node/pod`). */
  readonly reserved: ReadonlyMap<string, { readonly match: number; readonly backfill: number }>;
  /** Uniform [0, 1): the weighted choice among equally good clusters. */
  readonly random: () => number;
}

function podServes(pool: PoolConfig, pod: Pod): boolean {
  return !pod.draining && (pool.protocol === 'any' || pod.protocol === pool.protocol);
}

function usableNodes(fleet: FleetView, cluster: string): NodeProxy[] {
  return fleet.nodes.filter((n) => n.cluster === cluster && n.connected && !n.draining);
}

/**
 * Orders the clusters every ticket may play on: latency (in buckets, so a
 * few ms do not override an operator's priority), then priority (lower
 * first), then a weighted random draw (weight shares traffic among equals),
 * then free capacity.
 */
export function rankClusters(
  tickets: readonly Ticket[],
  pool: PoolConfig,
  fleet: FleetView,
  capacity: (cluster: Cluster) => number,
): Cluster[] | null {
  const eligible = fleet.clusters.filter((c) =>
    tickets.every((t) => latencyAllows(t, c, pool.maxLatencyMs)),
  );
  if (eligible.length === 0) return null;
  const ranked = eligible.map((cluster) => ({
    cluster,
    bucket: Math.floor(worstLatency(tickets, cluster) / pool.latencyBucketMs),
    // Efraimidis–Spirakis key: sorting by u^(1/w) draws clusters proportionally to weight.
    draw: fleet.random() ** (1 / cluster.weight),
    capacity: capacity(cluster),
  }));
  ranked.sort(
    (a, b) =>
      a.bucket - b.bucket ||
      a.cluster.priority - b.cluster.priority ||
      b.draw - a.draw ||
      b.capacity - a.capacity,
  );
  return ranked.map((r) => r.cluster);
}

function candidatesFor(
  tickets: readonly Ticket[],
  pool: PoolConfig,
  fleet: FleetView,
  kind: 'match' | 'backfill',
): AllocationPlan {
  const players = tickets.reduce((n, t) => n + t.players.length, 0);
  const room = (node: NodeProxy, pod: Pod): number => {
    const held = fleet.reserved.get(podKey({ node: node.id, pod: pod.id }));
    return kind === 'match'
      ? pod.freeSlots - (held?.match ?? 0)
      : Math.min(pod.backfillSlots - (held?.backfill ?? 0), pod.freeSlots - (held?.match ?? 0));
  };
  const fitting = (cluster: Cluster): { ref: PodRef; room: number }[] => {
    const out: { ref: PodRef; room: number }[] = [];
    for (const node of usableNodes(fleet, cluster.name))
      for (const pod of node.pods) {
        if (!podServes(pool, pod)) continue;
        const free = room(node, pod);
        if (free >= players) out.push({ ref: { node: node.id, pod: pod.id }, room: free });
      }
    return out;
  };
  const byCluster = new Map<string, { ref: PodRef; room: number }[]>();
  for (const cluster of fleet.clusters) byCluster.set(cluster.name, fitting(cluster));
  const ranked = rankClusters(tickets, pool, fleet, (c) =>
    (byCluster.get(c.name) ?? []).reduce((n, p) => n + p.room, 0),
  );
  if (ranked === null) return { ok: false, reason: 'latency' };
  const candidates: PodRef[] = [];
  for (const cluster of ranked) {
    // Packing: the fullest pod that still fits, so empty pods stay empty for scale-down.
    const pods = (byCluster.get(cluster.name) ?? []).sort(
      (a, b) => a.room - b.room || podKey(a.ref).localeCompare(podKey(b.ref)),
    );
    for (const pod of pods) candidates.push(pod.ref);
  }
  return candidates.length === 0 ? { ok: false, reason: 'no_capacity' } : { ok: true, candidates };
}

/** Candidate pods for a new match, best first. */
export function planMatch(
  tickets: readonly Ticket[],
  pool: PoolConfig,
  fleet: FleetView,
): AllocationPlan {
  return candidatesFor(tickets, pool, fleet, 'match');
}

/** Candidate pods whose running session has open slots for this ticket, best first. */
export function planBackfill(ticket: Ticket, pool: PoolConfig, fleet: FleetView): AllocationPlan {
  return candidatesFor([ticket], pool, fleet, 'backfill');
}
