import type { DataPlane, SessionClosed, SessionEvent, SessionSnapshot } from '@gamemesh/native';
import { formatHostPort } from './endpoint.js';

type Counts = { forward: number; reverse: number };

/** One session as the admin API shows it. */
export interface SessionView {
  readonly flow: string;
  readonly listener: string;
  readonly protocol: string;
  readonly key: string | null;
  readonly state: 'open' | 'closed';
  readonly client: string;
  readonly upstream: string;
  readonly openedAt: string;
  readonly closedAt: string | null;
  readonly reason: string | null;
  readonly packets: Counts;
  readonly bytes: Counts;
  /** What the protocol reveals; null where it does not (or not yet). */
  readonly lossRatio: number | null;
  readonly jitterMs: number | null;
  readonly rttMs: number | null;
  readonly stats: Readonly<Record<string, number | null>>;
}

interface OpenSession {
  readonly event: SessionEvent;
  readonly gen: number;
  readonly listener: string;
  /** The latest snapshot: what a close reports when the slot is already gone. */
  last: SessionSnapshot | null;
}

export interface ProtocolTotals {
  packets: Counts;
  bytes: Counts;
}

export interface ClosedSessionStats {
  readonly protocol: string;
  readonly lossRatio: number | null;
  readonly jitterMs: number | null;
  readonly rttMs: number | null;
}

function flowGen(flow: string): number {
  return Number(flow.slice(flow.lastIndexOf(':') + 1));
}

function stat(stats: Readonly<Record<string, number | null>>, name: string): number | null {
  const value = stats[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * The proxy's book of sessions, fed by the data plane's opened / closed
 * events. Open sessions are read from the data plane by snapshot when asked
 * (one call for all of them); closed ones are kept in a bounded ring.
 */
export class SessionBook {
  private readonly open = new Map<string, OpenSession>();
  private readonly closed: SessionView[] = [];
  /** Totals of closed sessions per protocol; open ones are added from snapshots. */
  private readonly closedTotals = new Map<string, ProtocolTotals>();
  readonly opened = new Map<string, number>();
  readonly closedBy = new Map<string, number>();

  constructor(
    private readonly listenerName: (id: number) => string,
    private keepClosed: number,
  ) {}

  setKeepClosed(keep: number): void {
    this.keepClosed = keep;
    this.trim();
  }

  get activeCount(): number {
    return this.open.size;
  }

  activeByProtocol(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.open.values())
      out.set(s.event.protocol, (out.get(s.event.protocol) ?? 0) + 1);
    return out;
  }

  onOpened(event: SessionEvent): void {
    this.open.set(event.flow, {
      event,
      gen: flowGen(event.flow),
      listener: this.listenerName(event.listener),
      last: null,
    });
    this.opened.set(event.protocol, (this.opened.get(event.protocol) ?? 0) + 1);
  }

  /**
   * Open sessions of `protocol` keyed `key` whose client has `address` (any
   * port): the flows an RTCP BYE from that client ends. The address matters
   * because SSRCs are chosen by each sender and need not be unique across
   * clients.
   */
  openWithKey(protocol: string, key: string, address: string): SessionEvent[] {
    const out: SessionEvent[] = [];
    for (const { event } of this.open.values()) {
      if (event.protocol === protocol && event.key === key && event.client.address === address)
        out.push(event);
    }
    return out;
  }

  /** Records the close with the session's final stats (a snapshot if the slot still holds it). */
  onClosed(event: SessionClosed, dp: DataPlane | null): SessionView {
    const known = this.open.get(event.flow);
    this.open.delete(event.flow);
    let snapshot = known?.last ?? null;
    if (dp !== null && !dp.closed) {
      const now = dp.session(event.slot);
      if (now !== null && now.gen === flowGen(event.flow)) snapshot = now;
    }
    const view = this.view(
      known?.listener ?? this.listenerName(event.listener),
      event,
      snapshot,
      event.packets,
      event.bytes,
      { reason: event.reason, closedAt: event.at },
    );
    const totals = this.totals(event.protocol);
    totals.packets.forward += event.packets.forward;
    totals.packets.reverse += event.packets.reverse;
    totals.bytes.forward += event.bytes.forward;
    totals.bytes.reverse += event.bytes.reverse;
    const label = `${event.protocol}\u0000${event.reason}`;
    this.closedBy.set(label, (this.closedBy.get(label) ?? 0) + 1);
    this.closed.push(view);
    this.trim();
    return view;
  }

  /** Current views of open sessions (one data plane snapshot call) and the kept closed ones. */
  list(dp: DataPlane | null, protocol?: string): SessionView[] {
    this.refresh(dp);
    const out: SessionView[] = [];
    for (const s of this.open.values()) {
      if (protocol !== undefined && s.event.protocol !== protocol) continue;
      const snap = s.last;
      out.push(
        this.view(
          s.listener,
          s.event,
          snap,
          snap?.packets ?? { forward: 0, reverse: 0 },
          snap?.bytes ?? { forward: 0, reverse: 0 },
          null,
        ),
      );
    }
    for (const view of this.closed)
      if (protocol === undefined || view.protocol === protocol) out.push(view);
    return out;
  }

  /** Packets and bytes per protocol: closed sessions' totals plus open sessions' snapshots. */
  totalsByProtocol(dp: DataPlane | null): Map<string, ProtocolTotals> {
    this.refresh(dp);
    const out = new Map<string, ProtocolTotals>();
    for (const [protocol, t] of this.closedTotals)
      out.set(protocol, { packets: { ...t.packets }, bytes: { ...t.bytes } });
    for (const s of this.open.values()) {
      if (s.last === null) continue;
      let t = out.get(s.event.protocol);
      if (t === undefined) {
        t = { packets: { forward: 0, reverse: 0 }, bytes: { forward: 0, reverse: 0 } };
        out.set(s.event.protocol, t);
      }
      t.packets.forward += s.last.packets.forward;
      t.packets.reverse += s.last.packets.reverse;
      t.bytes.forward += s.last.bytes.forward;
      t.bytes.reverse += s.last.bytes.reverse;
    }
    return out;
  }

  private refresh(dp: DataPlane | null): void {
    if (dp === null || dp.closed || this.open.size === 0) return;
    const sessions = [...this.open.values()];
    const snaps = dp.sessions(sessions.map((s) => s.event.slot));
    sessions.forEach((s, i) => {
      const snap = snaps[i] ?? null;
      if (snap !== null && snap.gen === s.gen) s.last = snap;
    });
  }

  private totals(protocol: string): ProtocolTotals {
    let t = this.closedTotals.get(protocol);
    if (t === undefined) {
      t = { packets: { forward: 0, reverse: 0 }, bytes: { forward: 0, reverse: 0 } };
      this.closedTotals.set(protocol, t);
    }
    return t;
  }

  private trim(): void {
    if (this.closed.length > this.keepClosed)
      this.closed.splice(0, this.closed.length - this.keepClosed);
  }

  private view(
    listener: string,
    event: SessionEvent,
    snapshot: SessionSnapshot | null,
    packets: Counts,
    bytes: Counts,
    closed: { reason: string; closedAt: number } | null,
  ): SessionView {
    const stats = snapshot?.stats ?? {};
    return {
      flow: event.flow,
      listener,
      protocol: event.protocol,
      key: event.key,
      state: closed === null ? 'open' : 'closed',
      client: formatHostPort(event.client),
      upstream: formatHostPort(event.upstream),
      openedAt: new Date(event.at).toISOString(),
      closedAt: closed === null ? null : new Date(closed.closedAt).toISOString(),
      reason: closed?.reason ?? null,
      packets: { forward: packets.forward, reverse: packets.reverse },
      bytes: { forward: bytes.forward, reverse: bytes.reverse },
      lossRatio: stat(stats, 'lossRatio'),
      jitterMs: stat(stats, 'jitterMs'),
      rttMs: stat(stats, 'rttMs'),
      stats,
    };
  }
}
