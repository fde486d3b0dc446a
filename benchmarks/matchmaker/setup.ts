/**
 * What the matchmaker benchmark runs against: one config, one fleet layout
 * and one ticket shape, shared by the server, the simulated proxies and the
 * load generator so the three processes agree without passing them around.
 */
import { type MatchmakerConfig, parseConfig } from '@gamemesh/matchmaker';
import type { PodReport } from '@gamemesh/matchmaker/link';

export const API_KEY = 'bench-api-key-0123456789abcdef';
export const LINK_SECRET = 'bench-link-secret-0123456789abcdef';
export const ROUTING_SECRET = 'bench-routing-secret-0123456789abcdef';

export const POOL = 'duel';
/** The pool's round period: the p99 target is this + 50 ms. */
export const MATCH_INTERVAL_MS = 100;
export const CLUSTERS = [
  { name: 'eu-1', region: 'eu-west', priority: 0, weight: 1 },
  { name: 'eu-2', region: 'eu-central', priority: 0, weight: 1 },
] as const;

export const NODES_PER_CLUSTER = 2;
export const PODS_PER_NODE = 4;
/**
 * Enough that capacity never decides the figures: the whole run hands out
 * fewer players than one cluster holds, even before routes expire.
 */
export const SLOTS_PER_POD = 20_000;

/**
 * 1v1 with a skill window and a latency limit: the smallest match, so the
 * most allocations and link round trips per assigned ticket (the hardest
 * case per assignment). Every ticket is within the latency limit of both
 * clusters, so both clusters take traffic (chosen by latency bucket, then
 * equal priority, then equal weight).
 */
export function benchConfig(store: string): MatchmakerConfig {
  const parsed = parseConfig({
    listen: '127.0.0.1:0',
    store,
    logLevel: 'silent',
    auth: { apiKeys: [API_KEY] },
    link: { secret: LINK_SECRET },
    tokens: { routingSecret: ROUTING_SECRET },
    limits: { maxWaitSeconds: 30 },
    clusters: CLUSTERS.map((c) => ({ ...c })),
    pools: [
      {
        name: POOL,
        teams: { count: 2, size: 1 },
        maxLatencyMs: 100,
        latencyBucketMs: 25,
        windows: [{ attribute: 'skill', initial: 200, widenPerSecond: 100, max: 1000 }],
        ticketTtlSeconds: 60,
        matchIntervalMs: MATCH_INTERVAL_MS,
        protocol: 'any',
        token: 'routing',
        assignmentTtlSeconds: 30,
      },
    ],
  });
  if (!parsed.ok) throw new Error(`bench config: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

export function podsFor(nodeId: string, nodeIndex: number): PodReport[] {
  return Array.from({ length: PODS_PER_NODE }, (_, p) => ({
    id: `${nodeId}-pod-${p}`,
    address: `10.${nodeIndex}.0.${p + 1}`,
    port: 7777,
    protocol: 'netcode',
    capacity: SLOTS_PER_POD,
    freeSlots: SLOTS_PER_POD,
    backfillSlots: 0,
    sessionId: null,
    labels: {},
    draining: false,
  }));
}

/** A solo player ticket: skill in [1000, 2000), a latency to each cluster in [10, 70) ms. */
export function ticketBody(playerId: string, random: () => number): string {
  const latencies: Record<string, number> = {};
  for (const cluster of CLUSTERS) latencies[cluster.name] = Math.round(10 + random() * 60);
  return JSON.stringify({
    pool: POOL,
    players: [{ id: playerId, attributes: { skill: Math.round(1000 + random() * 1000) } }],
    latencies,
  });
}
