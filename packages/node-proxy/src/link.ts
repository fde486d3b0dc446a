import { hostname } from 'node:os';
import { LinkClient, type PodReport, type RouteAssignment } from '@gamemesh/matchmaker/link';
import type { Logger } from 'pino';
import type { ProxyConfig } from './config.js';
import { formatHostPort } from './endpoint.js';
import type { KnownPod } from './pods.js';

export type MatchmakerConfig = NonNullable<ProxyConfig['matchmaker']>;

/**
 * Why an assignment is refused (nacked): the matchmaker then releases the
 * reservation and requeues the players instead of sending them to a proxy
 * that cannot route them.
 */
export const LINK_NACK_REASONS = {
  unknown_pod: 'a route names a pod this proxy does not have',
  routing_token: 'a routing-token (suffix) route, and this proxy has no token-mode listener',
  draining: 'the proxy is draining: no new sessions',
} as const;

export type LinkNackReason = keyof typeof LINK_NACK_REASONS;

/**
 * The node's pods (static and registered) as the link reports them, with
 * free slots net of open sessions (keyed by `host:port` as formatHostPort
 * prints it) and, for registered pods, never more than the server itself
 * last reported free. A drained pod is reported `draining`.
 */
export function podReports(
  pods: readonly KnownPod[],
  openByUpstream: ReadonlyMap<string, number>,
  draining: boolean,
): PodReport[] {
  return pods.map((pod) => {
    const open = openByUpstream.get(formatHostPort(pod.endpoint)) ?? 0;
    const free = Math.max(0, pod.capacity - open);
    return {
      id: pod.id,
      address: pod.endpoint.address,
      port: pod.endpoint.port,
      protocol: pod.protocol,
      capacity: pod.capacity,
      freeSlots: pod.reportedFreeSlots === null ? free : Math.min(free, pod.reportedFreeSlots),
      backfillSlots: 0,
      sessionId: null,
      labels: { ...pod.labels },
      draining: draining || pod.drained,
    };
  });
}

export interface LinkHooks {
  /** The assigned routing table changed (resync, assign, revoke). */
  readonly onRoutes: () => void;
  readonly draining: () => boolean;
  readonly podIds: () => ReadonlySet<string>;
  /** A token-mode listener exists: `routing`-kind routes can be served. */
  readonly tokenMode: () => boolean;
}

/**
 * The proxy's end of the matchmaker link: the real `LinkClient` (register,
 * heartbeat, assignments acknowledged only once installed, full resync on
 * every reconnect), with its table handed to the route sync. While the
 * matchmaker is away the client keeps its last table, so routing by
 * assignments continues unchanged.
 */
export class MatchmakerLink {
  readonly client: LinkClient;
  connects = 0;
  disconnects = 0;
  readonly nacks = new Map<LinkNackReason, number>();

  constructor(
    config: MatchmakerConfig,
    pods: readonly PodReport[],
    hooks: LinkHooks,
    logger: Logger,
  ) {
    this.client = new LinkClient({
      url: config.url,
      secret: config.secret,
      node: {
        id: config.nodeId ?? hostname(),
        cluster: config.cluster,
        region: config.region,
        publicAddress: config.publicAddress,
      },
      pods,
      reconnectMs: config.reconnectMs,
      refuse: (routes) => {
        const reason = this.refusal(routes, hooks);
        if (reason !== null) {
          this.nacks.set(reason, (this.nacks.get(reason) ?? 0) + 1);
          logger.warn({ event: 'assignment_refused', reason, routes: routes.length }, 'nack');
        }
        return reason;
      },
    });
    // Runs synchronously right after the client stores an assignment and
    // queues its ack, before any later frame is read: the route is in the data
    // plane by the time the matchmaker lets the player see the assignment.
    this.client.on('routes', () => hooks.onRoutes());
    this.client.on('connected', () => {
      this.connects++;
      logger.info({ event: 'matchmaker_connected', routes: this.routes().length }, 'link up');
    });
    this.client.on('disconnected', (code) => {
      this.disconnects++;
      logger.warn(
        { event: 'matchmaker_disconnected', code, routes: this.routes().length },
        'link down; serving the last known routes',
      );
    });
    this.client.on('error', (code, message) =>
      logger.error({ event: 'matchmaker_error', code, message }, 'matchmaker refused the link'),
    );
  }

  private refusal(routes: readonly RouteAssignment[], hooks: LinkHooks): LinkNackReason | null {
    if (hooks.draining()) return 'draining';
    const pods = hooks.podIds();
    for (const route of routes) {
      if (route.kind === 'routing' && !hooks.tokenMode()) return 'routing_token';
      if (!pods.has(route.pod)) return 'unknown_pod';
    }
    return null;
  }

  start(): void {
    this.client.start();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  routes(): RouteAssignment[] {
    return this.client.routes();
  }

  /** A routed session opened: its player arrived, so its slot is the pod's own again. */
  arrived(key: string): void {
    this.client.consume(key);
  }

  setPods(pods: readonly PodReport[]): void {
    this.client.setPods(pods);
  }

  close(): void {
    this.client.close();
  }
}
