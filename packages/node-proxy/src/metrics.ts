import { COUNTER_NAMES } from '@gamemesh/native';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeProxy } from './proxy.js';
import type { SessionView } from './sessions.js';

const PREFIX = 'gamemesh_proxy_';
const DATA_PLANE_DROPS = COUNTER_NAMES.filter((name) => name.startsWith('drop_'));

/**
 * Proxy metrics on a private registry. Everything the data plane counts is
 * read from its shared memory and session snapshots when Prometheus scrapes
 * (collect callbacks), never pushed per packet. Labels are bounded: protocol,
 * direction, listener-independent reasons from fixed tables.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly rtpLoss: Histogram<'protocol'>;
  private readonly rtpJitter: Histogram<'protocol'>;
  private readonly rtt: Histogram<'protocol'>;

  constructor(proxy: NodeProxy) {
    const registers = [this.registry];
    const p = proxy;
    new Gauge({
      name: `${PREFIX}sessions_active`,
      help: 'Open sessions by protocol.',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const [protocol, n] of p.sessions.activeByProtocol()) this.set({ protocol }, n);
      },
    });
    new Counter({
      name: `${PREFIX}sessions_opened_total`,
      help: 'Sessions opened (the protocol tracker said so; untracked flows when answered).',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const [protocol, n] of p.sessions.opened) this.inc({ protocol }, n);
      },
    });
    new Counter({
      name: `${PREFIX}sessions_closed_total`,
      help: 'Sessions closed, by protocol and why (protocol_disconnect, bye, idle, ...).',
      labelNames: ['protocol', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const [label, n] of p.sessions.closedBy) {
          const [protocol = '', reason = ''] = label.split('\u0000');
          this.inc({ protocol, reason }, n);
        }
      },
    });
    const perProtocol = (unit: 'packets' | 'bytes') =>
      new Counter({
        name: `${PREFIX}${unit}_total`,
        help: `${unit === 'packets' ? 'Datagrams' : 'Bytes'} of sessions by protocol and direction (forward = client to pod).`,
        labelNames: ['protocol', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const [protocol, t] of p.sessions.totalsByProtocol(p.dp)) {
            this.inc({ protocol, direction: 'forward' }, t[unit].forward);
            this.inc({ protocol, direction: 'reverse' }, t[unit].reverse);
          }
        },
      });
    perProtocol('packets');
    perProtocol('bytes');
    new Counter({
      name: `${PREFIX}dataplane_packets_total`,
      help: 'Datagrams through the data plane by leg (rx_client, tx_upstream, rx_upstream, tx_client).',
      labelNames: ['leg'],
      registers,
      collect() {
        this.reset();
        const c = p.dp.counters();
        for (const leg of ['rx_client', 'tx_upstream', 'rx_upstream', 'tx_client'])
          this.inc({ leg }, c[`${leg}_packets`] ?? 0);
      },
    });
    new Counter({
      name: `${PREFIX}drops_total`,
      help: 'Datagrams (data plane) and new flows (proxy) dropped, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        const c = p.dp.counters();
        for (const name of DATA_PLANE_DROPS) this.inc({ reason: name.slice(5) }, c[name]);
        this.inc({ reason: 'no_route' }, c.drop_no_route);
        for (const [reason, n] of p.flowDrops) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: `${PREFIX}classifications_total`,
      help: 'New flows by classification outcome (matched, unknown, dropped) and protocol.',
      labelNames: ['outcome', 'protocol'],
      registers,
      collect() {
        this.reset();
        for (const [label, n] of p.classifications) {
          const [outcome = '', protocol = ''] = label.split('\u0000');
          this.inc({ outcome, protocol }, n);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}new_flow_queue_depth`,
      help: 'Datagrams of new flows waiting for classification.',
      registers,
      collect() {
        this.set(p.dp.counters().queue_depth);
      },
    });
    new Counter({
      name: `${PREFIX}new_flow_queue_overflow_total`,
      help: 'New-flow datagrams dropped because the classification queue was full.',
      registers,
      collect() {
        this.reset();
        this.inc(p.dp.counters().drop_queue_full);
      },
    });
    new Counter({
      name: `${PREFIX}events_dropped_total`,
      help: 'Lifecycle events lost to a full event ring.',
      registers,
      collect() {
        this.reset();
        this.inc(p.dp.counters().events_dropped);
      },
    });
    new Gauge({
      name: `${PREFIX}routes`,
      help: 'Routing keys installed on key- and token-mode listeners.',
      registers,
      collect() {
        this.set(p.routeCount);
      },
    });
    new Gauge({
      name: `${PREFIX}matchmaker_link_up`,
      help: '1 while the matchmaker link is registered and resynced; 0 when away or not configured.',
      registers,
      collect() {
        this.set(p.link?.connected === true ? 1 : 0);
      },
    });
    new Counter({
      name: `${PREFIX}matchmaker_assignments_refused_total`,
      help: 'Assignments nacked to the matchmaker, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of p.link?.nacks ?? []) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: `${PREFIX}draining`,
      help: '1 while the proxy drains (no new sessions).',
      registers,
      collect() {
        this.set(p.draining ? 1 : 0);
      },
    });
    this.rtpLoss = new Histogram({
      name: `${PREFIX}session_loss_ratio`,
      help: 'Loss ratio of each closed session whose protocol reveals it (RTP, RakNet, netcode).',
      labelNames: ['protocol'],
      buckets: [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
      registers,
    });
    this.rtpJitter = new Histogram({
      name: `${PREFIX}session_jitter_seconds`,
      help: 'RFC 3550 interarrival jitter of each closed RTP session.',
      labelNames: ['protocol'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
      registers,
    });
    this.rtt = new Histogram({
      name: `${PREFIX}session_rtt_seconds`,
      help: 'Round-trip time of each closed session whose protocol reveals it.',
      labelNames: ['protocol'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    });
    proxy.onSessionClosed = (view) => this.observeClosed(view);
  }

  /** Per-session distributions are observed once per session, at its close. */
  private observeClosed(view: SessionView): void {
    const labels = { protocol: view.protocol };
    if (view.lossRatio !== null) this.rtpLoss.observe(labels, view.lossRatio);
    if (view.jitterMs !== null) this.rtpJitter.observe(labels, view.jitterMs / 1000);
    if (view.rttMs !== null) this.rtt.observe(labels, view.rttMs / 1000);
  }
}
