import type { DataPlane, Endpoint } from '@gamemesh/native';
import type { ProxyConfig } from './config.js';
import type { KnownPod } from './pods.js';

/** A route as the matchmaker assigns it (RouteAssignment of @gamemesh/matchmaker/link). */
export interface AssignedRoute {
  readonly key: string;
  readonly pod: string;
  readonly expiresAt: number;
}

interface Wanted {
  readonly upstream: Endpoint;
  readonly expiresAt: number;
}

/**
 * Pod id → endpoint of the pods that may take new sessions: static pods and
 * registered pods that are not drained (a drained pod's routes are withdrawn).
 */
export function podEndpoints(pods: readonly KnownPod[]): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  for (const pod of pods) if (!pod.drained) out.set(pod.id, pod.endpoint);
  return out;
}

/**
 * Keeps the data plane's route table (installRoute: resolved once per new
 * flow) equal to the static routes of the config plus the matchmaker's
 * assignments, on every key-mode listener. Established sessions never look
 * at routes again, so replacing the table does not move them.
 */
export class RouteSync {
  private readonly installed = new Map<number, Set<string>>();
  unknownPods = 0;
  /** Routes wanted by the last sync (static plus assigned, deduplicated by key). */
  count = 0;

  constructor(private readonly dp: DataPlane) {}

  sync(
    keyListeners: readonly number[],
    config: ProxyConfig,
    known: readonly KnownPod[],
    assigned: readonly AssignedRoute[],
  ): number {
    const pods = podEndpoints(known);
    const wanted = new Map<string, Wanted>();
    for (const route of config.routes) {
      const upstream = pods.get(route.pod);
      if (upstream !== undefined)
        wanted.set(route.key, { upstream, expiresAt: Number.POSITIVE_INFINITY });
    }
    let unknown = 0;
    for (const route of assigned) {
      const upstream = pods.get(route.pod);
      if (upstream === undefined) {
        unknown++;
        continue;
      }
      wanted.set(route.key, { upstream, expiresAt: route.expiresAt });
    }
    this.unknownPods = unknown;
    this.count = wanted.size;
    if (this.dp.closed) return wanted.size;
    for (const listener of keyListeners) {
      const had = this.installed.get(listener) ?? new Set<string>();
      for (const key of had) if (!wanted.has(key)) this.dp.removeRoute(listener, key);
      for (const [key, route] of wanted)
        this.dp.installRoute(listener, key, route.upstream, route.expiresAt);
      this.installed.set(listener, new Set(wanted.keys()));
    }
    return wanted.size;
  }
}
