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

/** A pod that can take players in one round's snapshot, with its room under the pending reservations. */
interface PodRoom {
  readonly ref: PodRef;
  readonly key: string;
  readonly room: number;
}

/**
 * Per snapshot: the pods of each cluster that can take `players` more, fullest
 * first. A FleetView is one round's immutable snapshot and every match of the
 * round is planned against it, so the pods and their order are the same for
 * every match of the same shape: computed once, not once per match.
 */
const podsBySnapshot = new WeakMap<
  FleetView,
  Map<string, ReadonlyMap<string, readonly PodRoom[]>>
>();

function fittingPods(
  pool: PoolConfig,
  fleet: FleetView,
  kind: 'match' | 'backfill',
  players: number,
): ReadonlyMap<string, readonly PodRoom[]> {
  let memo = podsBySnapshot.get(fleet);
  if (memo === undefined) {
    memo = new Map();
    podsBySnapshot.set(fleet, memo);
  }
  const memoKey = `${pool.name}\n${pool.protocol}\n${kind}\n${players}`;
  const known = memo.get(memoKey);
  if (known !== undefined) return known;
  const room = (key: string, pod: Pod): number => {
    const held = fleet.reserved.get(key);
    return kind === 'match'
      ? pod.freeSlots - (held?.match ?? 0)
      : Math.min(pod.backfillSlots - (held?.backfill ?? 0), pod.freeSlots - (held?.match ?? 0));
  };
  const byCluster = new Map<string, PodRoom[]>();
  for (const cluster of fleet.clusters) {
    const pods: PodRoom[] = [];
    for (const node of usableNodes(fleet, cluster.name))
      for (const pod of node.pods) {
        if (!podServes(pool, pod)) continue;
        const ref = { node: node.id, pod: pod.id };
        const key = podKey(ref);
        const free = room(key, pod);
        if (free >= players) pods.push({ ref, key, room: free });
      }
    // Packing: the fullest pod that still fits, so empty pods stay empty for scale-down.
    pods.sort((a, b) => a.room - b.room || a.key.localeCompare(b.key));
    byCluster.set(cluster.name, pods);
  }
  memo.set(memoKey, byCluster);
  return byCluster;
}

function candidatesFor(
  tickets: readonly Ticket[],
  pool: PoolConfig,
  fleet: FleetView,
  kind: 'match' | 'backfill',
): AllocationPlan {
  let players = 0;
  for (const ticket of tickets) players += ticket.players.length;
  const byCluster = fittingPods(pool, fleet, kind, players);
  const ranked = rankClusters(tickets, pool, fleet, (c) => {
    let total = 0;
    for (const pod of byCluster.get(c.name) ?? []) total += pod.room;
    return total;
  });
  if (ranked === null) return { ok: false, reason: 'latency' };
  const candidates: PodRef[] = [];
  for (const cluster of ranked)
    for (const pod of byCluster.get(cluster.name) ?? []) candidates.push(pod.ref);
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
