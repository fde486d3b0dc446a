import type { DataPlane, Endpoint } from '@gamemesh/native';
import type { ProxyConfig } from './config.js';
import type { KnownPod } from './pods.js';

/** A route as the matchmaker assigns it (RouteAssignment of @gamemesh/matchmaker/link). */
export interface AssignedRoute {
  readonly key: string;
  /** `routing`: a token id, for token-mode listeners; other kinds are protocol keys for key mode. */
  readonly kind: string;
  readonly pod: string;
  readonly expiresAt: number;
}

/** Listener ids by the routes they take. */
export interface RoutedListeners {
  /** Key mode: protocol keys (assignments of every kind but `routing`). */
  readonly key: readonly number[];
  /** Token mode: token ids (`routing` assignments). */
  readonly token: readonly number[];
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
 * assignments, on every key- and token-mode listener. A token id is only
 * routed on token listeners and a protocol key only on key listeners: the id
 * travels in clear text, so a key listener must not let a protocol key that
 * happens to spell it reach the pod without the token's signature. Static
 * routes go to both. Established sessions never look at routes again, so
 * replacing the table does not move them.
 */
export class RouteSync {
  private readonly installed = new Map<number, Set<string>>();
  unknownPods = 0;
  /** Routes wanted by the last sync (static plus assigned, deduplicated by key). */
  count = 0;

  constructor(private readonly dp: DataPlane) {}

  sync(
    listeners: RoutedListeners,
    config: ProxyConfig,
    known: readonly KnownPod[],
    assigned: readonly AssignedRoute[],
  ): number {
    const pods = podEndpoints(known);
    const byKey = new Map<string, Wanted>();
    const byToken = new Map<string, Wanted>();
    for (const route of config.routes) {
      const upstream = pods.get(route.pod);
      if (upstream === undefined) continue;
      const wanted = { upstream, expiresAt: Number.POSITIVE_INFINITY };
      byKey.set(route.key, wanted);
      byToken.set(route.key, wanted);
    }
    let unknown = 0;
    for (const route of assigned) {
      const upstream = pods.get(route.pod);
      if (upstream === undefined) {
        unknown++;
        continue;
      }
      (route.kind === 'routing' ? byToken : byKey).set(route.key, {
        upstream,
        expiresAt: route.expiresAt,
      });
    }
    this.unknownPods = unknown;
    this.count = new Set([...byKey.keys(), ...byToken.keys()]).size;
    if (this.dp.closed) return this.count;
    for (const listener of listeners.key) this.install(listener, byKey);
    for (const listener of listeners.token) this.install(listener, byToken);
    return this.count;
  }

  private install(listener: number, wanted: ReadonlyMap<string, Wanted>): void {
    const had = this.installed.get(listener) ?? new Set<string>();
    for (const key of had) if (!wanted.has(key)) this.dp.removeRoute(listener, key);
    for (const [key, route] of wanted)
      this.dp.installRoute(listener, key, route.upstream, route.expiresAt);
    this.installed.set(listener, new Set(wanted.keys()));
  }
}
