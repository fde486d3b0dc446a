import { type Datagram, type FlowClassifier, ROUTING_TOKEN_BYTES } from '@gamemesh/core';
import {
  createDataPlane,
  type DataPlane,
  type DataPlaneOptions,
  NativeError,
  type NewFlow,
  type SessionClosed,
  type SessionEvent,
} from '@gamemesh/native';
import type { Logger } from 'pino';
import { builtinConfig, type ProxyConfig } from './config.js';
import {
  type AcceptedToken,
  type Decision,
  FlowDecider,
  type ListenerPolicy,
  withoutToken,
} from './decide.js';
import { formatHostPort, type HostPort, parseHostPort } from './endpoint.js';
import { ProxyError } from './errors.js';
import { MatchmakerLink, podReports } from './link.js';
import { type KnownPod, type PodRegistration, PodRegistry, type RegisterResult } from './pods.js';
import { reloadProblems } from './reload.js';
import { type RoutedListeners, RouteSync } from './routes.js';
import { SessionBook } from './sessions.js';

interface PendingFlow {
  readonly classifier: FlowClassifier;
  readonly policy: ListenerPolicy;
  readonly startedAt: number;
  /** Token mode: the verified token, and the flow's datagrams without it (what the classifier sees). */
  readonly token: AcceptedToken | null;
  readonly stripped: Datagram[];
}

interface BoundListener {
  readonly id: number;
  readonly port: number;
  policy: ListenerPolicy;
}

function hostPort(text: string): HostPort {
  const parsed = parseHostPort(text, true);
  if (typeof parsed === 'string') throw new ProxyError('GM_PROXY_CONFIG', parsed);
  return parsed;
}

function policyOf(config: ProxyConfig['listeners'][number]): ListenerPolicy {
  return {
    name: config.name,
    mode: config.mode,
    upstream: config.upstream === undefined ? null : hostPort(config.upstream),
    public: config.public,
    allowLoopbackSources: config.allowLoopbackSources,
  };
}

function deciderOptions(config: ProxyConfig): ConstructorParameters<typeof FlowDecider>[0] {
  return {
    protocols: builtinConfig(config),
    unknownFlows: config.unknownFlows,
    routingTokenSecret: config.routingTokenSecret ?? null,
  };
}

export function dataPlaneOptions(config: ProxyConfig): DataPlaneOptions {
  return {
    threads: config.dataPlane.threads,
    maxSessions: config.limits.maxSessions,
    idleTimeoutMs: config.dataPlane.idleTimeoutMs,
    pendingTimeoutMs: config.dataPlane.pendingTimeoutMs,
    sweepIntervalMs: config.dataPlane.sweepIntervalMs,
    newFlowQueue: config.dataPlane.newFlowQueue,
    pendingWindow: config.dataPlane.pendingWindow,
    gso: config.dataPlane.gso,
    ...(config.limits.sourceBudget === undefined
      ? {}
      : { sourceBudget: config.limits.sourceBudget }),
    ...(config.limits.newFlowBudget === undefined
      ? {}
      : { newFlowBudget: config.limits.newFlowBudget }),
  };
}

/**
 * The node proxy's control plane over one native data plane: classifies new
 * flows, answers them with a protocol and a route, keeps the session book,
 * and installs static routes. Nothing here runs per forwarded
 * datagram: only per new flow and per lifecycle event.
 */
export class NodeProxy {
  readonly dp: DataPlane;
  readonly sessions: SessionBook;
  /** Per outcome and protocol (`matched`, `unknown`, `dropped`). */
  readonly classifications = new Map<string, number>();
  /** Drops decided in TS, by FLOW_DROP_REASONS code. */
  readonly flowDrops = new Map<string, number>();
  private readonly listeners = new Map<string, BoundListener>();
  private readonly pending = new Map<string, PendingFlow>();
  private readonly routes: RouteSync;
  /** Open sessions per upstream `host:port`: the pods' used slots. */
  private readonly openByUpstream = new Map<string, number>();
  /** Game pods registered through the local pod API. */
  private readonly registered: PodRegistry;
  private podTimer: NodeJS.Timeout;
  /** The matchmaker link, when `matchmaker` is configured. */
  readonly link: MatchmakerLink | null;
  private decider: FlowDecider;
  private sweep: NodeJS.Timeout;
  private drainPromise: Promise<void> | null = null;
  private config_: ProxyConfig;
  readonly startedAt = Date.now();

  constructor(
    config: ProxyConfig,
    private readonly logger: Logger,
  ) {
    this.config_ = config;
    try {
      this.dp = createDataPlane(dataPlaneOptions(config));
    } catch (error) {
      throw new ProxyError('GM_PROXY_DATA_PLANE', String((error as Error).message));
    }
    this.decider = new FlowDecider(deciderOptions(config));
    this.sessions = new SessionBook((id) => this.listenerName(id), config.sessions.keepClosed);
    this.routes = new RouteSync(this.dp);
    try {
      for (const listener of config.listeners) this.bind(listener);
    } catch (error) {
      this.dp.close();
      throw error;
    }
    this.dp.on('newFlow', (flow) => this.onNewFlow(flow));
    this.dp.on('flowDatagram', (flow, datagram) => this.onFlowDatagram(flow, datagram));
    this.dp.on('opened', (event) => this.onOpened(event));
    this.dp.on('closed', (event) => this.onClosed(event));
    // Flows the data plane timed out while pending get no event: forget their classifiers.
    this.sweep = setInterval(() => this.forgetPending(), 1000);
    this.sweep.unref();
    this.registered = new PodRegistry(config.podApi.heartbeatTimeoutMs);
    this.podTimer = setInterval(
      () => this.expirePods(),
      Math.max(50, Math.min(1000, config.podApi.heartbeatTimeoutMs / 4)),
    );
    this.podTimer.unref();
    this.link =
      config.matchmaker === undefined
        ? null
        : new MatchmakerLink(
            config.matchmaker,
            this.podReports(),
            {
              onRoutes: () => this.syncRoutes(),
              draining: () => this.decider.draining,
              podIds: () =>
                new Set(
                  this.pods()
                    .filter((p) => !p.drained)
                    .map((p) => p.id),
                ),
              tokenMode: () => this.routedListeners().token.length > 0,
            },
            logger,
          );
    this.syncRoutes();
    this.link?.start();
  }

  private podReports(): ReturnType<typeof podReports> {
    return podReports(this.pods(), this.openByUpstream, this.decider.draining);
  }

  /** Static pods of the config and registered pods, with their state. */
  pods(): KnownPod[] {
    return this.registered.all(this.config_);
  }

  /** Reports pod changes to routing and to the matchmaker link at once. */
  private podsChanged(): void {
    this.syncRoutes();
    this.link?.setPods(this.podReports());
  }

  registerPod(body: PodRegistration): RegisterResult {
    const staticIds = new Set(this.config_.pods.map((p) => p.id));
    const result = this.registered.register(body, staticIds, Date.now());
    if (result.ok) {
      this.logger.info(
        {
          event: 'pod_registered',
          pod: result.id,
          address: body.address,
          port: body.port,
          protocol: body.protocol,
          capacity: body.capacity,
          replaced: result.replaced,
        },
        'pod registered',
      );
      this.podsChanged();
    }
    return result;
  }

  /** False for an unknown pod id. */
  podHeartbeat(id: string, freeSlots: number): boolean {
    const beat = this.registered.heartbeat(id, freeSlots, Date.now());
    if (!beat.found) return false;
    if (beat.revived) this.logger.info({ event: 'pod_revived', pod: id }, 'pod heartbeats again');
    this.podsChanged();
    return true;
  }

  /** False for an unknown pod id. Established sessions to it continue. */
  deregisterPod(id: string): boolean {
    if (!this.registered.remove(id)) return false;
    this.logger.info({ event: 'pod_deregistered', pod: id }, 'pod deregistered');
    this.podsChanged();
    return true;
  }

  private expirePods(): void {
    const drained = this.registered.expire(Date.now());
    if (drained.length === 0) return;
    for (const pod of drained)
      this.logger.warn(
        { event: 'pod_drained', pod, heartbeatTimeoutMs: this.registered.heartbeatTimeoutMs },
        'pod missed its heartbeats: drained (no new sessions)',
      );
    this.podsChanged();
  }

  get config(): ProxyConfig {
    return this.config_;
  }

  get draining(): boolean {
    return this.decider.draining;
  }

  get routeCount(): number {
    return this.routes.count;
  }

  /** Where a new flow with this routing key on this listener would go now (null: no route). */
  routeOf(listener: string, key: string): HostPort | null {
    const bound = this.listeners.get(listener);
    return bound === undefined || this.dp.closed ? null : this.dp.route(bound.id, key);
  }

  /** Bound ports by listener name (port 0 in config picks one). */
  listenerPorts(): Record<string, number> {
    return Object.fromEntries([...this.listeners].map(([name, l]) => [name, l.port]));
  }

  private bind(config: ProxyConfig['listeners'][number]): void {
    const policy = policyOf(config);
    const at = hostPort(config.address);
    try {
      // Token mode is key mode in the data plane, with the token stripped from each datagram.
      const listener = this.dp.addListener({
        address: at.address,
        port: at.port,
        mode: config.mode === 'port' ? 'port' : 'key',
        ...(policy.upstream === null ? {} : { upstream: policy.upstream }),
        ...(config.mode === 'token' ? { tokenSuffix: ROUTING_TOKEN_BYTES } : {}),
      });
      this.listeners.set(config.name, { id: listener.id, port: listener.port, policy });
    } catch (error) {
      const detail = error instanceof NativeError ? error.message : String(error);
      throw new ProxyError(
        'GM_PROXY_LISTEN',
        `listener ${config.name} on ${config.address}: ${detail}`,
      );
    }
  }

  private listenerName(id: number): string {
    for (const [name, l] of this.listeners) if (l.id === id) return name;
    return String(id);
  }

  private policyById(id: number): ListenerPolicy | null {
    for (const l of this.listeners.values()) if (l.id === id) return l.policy;
    return null;
  }

  private routedListeners(): RoutedListeners {
    const all = [...this.listeners.values()];
    const ids = (mode: ListenerPolicy['mode']) =>
      all.filter((l) => l.policy.mode === mode).map((l) => l.id);
    return { key: ids('key'), token: ids('token') };
  }

  private syncRoutes(): void {
    this.routes.sync(this.routedListeners(), this.config_, this.pods(), this.link?.routes() ?? []);
  }

  private onNewFlow(flow: NewFlow): void {
    const policy = this.policyById(flow.listener);
    if (policy === null) return;
    const admitted = this.decider.admit(policy, flow.client.address);
    if (admitted !== null) {
      this.apply(flow, admitted);
      return;
    }
    let token: AcceptedToken | null = null;
    if (policy.mode === 'token') {
      const accepted = this.decider.acceptToken(flow.datagrams[0]!);
      if ('kind' in accepted) {
        this.apply(flow, accepted);
        return;
      }
      token = accepted;
    }
    const pending: PendingFlow = {
      classifier: this.decider.startFlow(),
      policy,
      startedAt: Date.now(),
      token,
      stripped: [],
    };
    this.pending.set(flow.id, pending);
    for (let i = 0; i < flow.datagrams.length && this.pending.has(flow.id); i++)
      this.step(flow, pending, flow.datagrams[i]!);
  }

  private onFlowDatagram(flow: NewFlow, datagram: Datagram): void {
    const pending = this.pending.get(flow.id);
    if (pending !== undefined) this.step(flow, pending, datagram);
  }

  private step(flow: NewFlow, pending: PendingFlow, datagram: Datagram): void {
    // Token mode: the game's own bytes are classified. A datagram with another token is not the
    // flow's (the data plane drops it when the answer comes: drop_token_mismatch).
    const d = pending.token === null ? datagram : withoutToken(pending.token, datagram);
    if (d === null) return;
    pending.stripped.push(d);
    const all = pending.stripped;
    const decision = this.decider.offer(pending.policy, pending.classifier, d, all, pending.token);
    if (decision.kind === 'pending') return;
    this.pending.delete(flow.id);
    this.apply(flow, decision);
  }

  private apply(flow: NewFlow, decision: Exclude<Decision, { kind: 'pending' }>): void {
    if (flow.answered || this.dp.closed) return;
    if (decision.kind === 'drop') {
      this.count(this.flowDrops, decision.reason);
      this.count(this.classifications, `dropped\u0000${decision.protocol}`);
      this.dp.answer(flow, { drop: true });
      this.logger.debug(
        {
          event: 'flow_dropped',
          listener: this.listenerName(flow.listener),
          reason: decision.reason,
        },
        'flow dropped',
      );
      return;
    }
    this.count(this.classifications, `${decision.outcome}\u0000${decision.protocol}`);
    this.dp.answer(flow, decision.answer);
  }

  private count(map: Map<string, number>, label: string): void {
    map.set(label, (map.get(label) ?? 0) + 1);
  }

  private forgetPending(): void {
    const limit = this.config_.dataPlane.pendingTimeoutMs + 2000;
    const now = Date.now();
    for (const [id, p] of this.pending) if (now - p.startedAt > limit) this.pending.delete(id);
  }

  private onOpened(event: SessionEvent): void {
    this.sessions.onOpened(event);
    this.countUpstream(formatHostPort(event.upstream), 1);
    if (this.link !== null && event.key !== null) this.link.arrived(event.key);
    this.logger.info(
      {
        event: 'session_opened',
        flow: event.flow,
        listener: this.listenerName(event.listener),
        protocol: event.protocol,
        key: event.key,
        client: formatHostPort(event.client),
        upstream: formatHostPort(event.upstream),
      },
      'session opened',
    );
  }

  private onClosed(event: SessionClosed): void {
    const view = this.sessions.onClosed(event, this.dp);
    this.countUpstream(view.upstream, -1);
    this.logger.info(
      {
        event: 'session_closed',
        flow: view.flow,
        listener: view.listener,
        protocol: view.protocol,
        key: view.key,
        reason: view.reason,
        packets: view.packets,
        bytes: view.bytes,
        lossRatio: view.lossRatio,
        jitterMs: view.jitterMs,
        rttMs: view.rttMs,
        stats: view.stats,
      },
      'session closed',
    );
    this.onSessionClosed?.(view);
    if (event.protocol === 'rtcp' && event.reason === 'bye' && event.key !== null) {
      this.closeByeSiblings(event.key, event.client.address);
    }
  }

  /**
   * RTP and RTCP are one family (core's `rtp` family, keyed by SSRC): a BYE on
   * the RTCP flow ends the RTP flows of that SSRC from the same client, which
   * RTCP sends from a socket of its own (RFC 3550 §6.6: BYE ends the source).
   * Their `closed` events follow from the data plane like any other close.
   */
  private closeByeSiblings(ssrc: string, clientAddress: string): void {
    if (this.dp.closed) return;
    for (const rtp of this.sessions.openWithKey('rtp', ssrc, clientAddress)) {
      this.dp.closeSession(rtp.slot, 'bye');
    }
  }

  /** Keeps the pods' used slots; the link hears of a change at once (a heartbeat). */
  private countUpstream(upstream: string, delta: number): void {
    const n = (this.openByUpstream.get(upstream) ?? 0) + delta;
    if (n > 0) this.openByUpstream.set(upstream, n);
    else this.openByUpstream.delete(upstream);
    if (this.link !== null) this.link.setPods(this.podReports());
  }

  /** Observer for closed sessions (the metrics' per-session histograms). */
  onSessionClosed: ((view: ReturnType<SessionBook['onClosed']>) => void) | null = null;

  /**
   * Applies a new config without touching established sessions. What needs a
   * restart (listeners' addresses and modes, data plane sizing, admin
   * address, matchmaker link) is refused as a whole, naming each path.
   */
  reload(next: ProxyConfig): { ok: true } | { ok: false; problems: string[] } {
    const problems = reloadProblems(this.config_, next);
    if (problems.length > 0) return { ok: false, problems };
    for (const listener of next.listeners) {
      const bound = this.listeners.get(listener.name)!;
      const policy = policyOf(listener);
      if (
        policy.upstream !== null &&
        listener.upstream !== this.config_.listeners.find((l) => l.name === listener.name)?.upstream
      )
        this.dp.setUpstream(bound.id, policy.upstream);
      bound.policy = policy;
    }
    const draining = this.decider.draining;
    this.decider = new FlowDecider(deciderOptions(next));
    this.decider.draining = draining;
    this.sessions.setKeepClosed(next.sessions.keepClosed);
    this.logger.level = next.logLevel;
    this.config_ = next;
    this.syncRoutes();
    this.link?.setPods(this.podReports());
    return { ok: true };
  }

  /**
   * No new sessions from now on; established ones run until their protocol
   * closes them or the deadline, then the data plane closes the rest
   * (`proxy_shutdown`). Resolves when the data plane is closed.
   */
  drain(deadlineMs = this.config_.drain.deadlineSeconds * 1000): Promise<void> {
    if (this.drainPromise !== null) return this.drainPromise;
    this.decider.draining = true;
    this.link?.setPods(this.podReports());
    this.logger.info(
      { event: 'drain', sessions: this.sessions.activeCount, deadlineMs },
      'draining',
    );
    this.drainPromise = new Promise((resolve) => {
      const deadline = Date.now() + deadlineMs;
      const check = (): void => {
        if (this.sessions.activeCount === 0 || Date.now() >= deadline || this.dp.closed) {
          this.close();
          resolve();
        } else setTimeout(check, 50);
      };
      check();
    });
    return this.drainPromise;
  }

  /** Stops the link and the data plane; open sessions close with proxy_shutdown. Idempotent. */
  close(): void {
    clearInterval(this.sweep);
    clearInterval(this.podTimer);
    this.link?.close();
    this.decider.draining = true;
    this.dp.close();
    this.pending.clear();
  }
}
