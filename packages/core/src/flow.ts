import type { Classification, Classifier, FaultListener, FlowClassifier } from './classifier.js';
import type { Datagram, Direction } from './datagram.js';
import {
  type CloseReason,
  type DetailValue,
  type LifecycleEvent,
  NO_EVENTS,
  type ProtocolStats,
  type SessionTracker,
} from './protocol.js';

/**
 * One flow seen end to end: classification, then the matched protocol's
 * tracker, plus the protocol-neutral counters every session has. Used by
 * `gamemesh-inspect` and by the proxy's TypeScript path.
 */

export interface DirectionCounters {
  forward: number;
  reverse: number;
}

export interface FlowOpened {
  readonly at: number;
  readonly key: string | null;
  readonly detail: Readonly<Record<string, DetailValue>>;
}

export interface FlowClosed {
  readonly at: number;
  readonly reason: CloseReason;
}

export interface Flow {
  /** Feeds one datagram; returns lifecycle events (for the session book). */
  observe(datagram: Datagram): readonly LifecycleEvent[];
  /** Closes from outside: idle backstop, eviction, shutdown, or a close for this key from another flow. */
  close(reason: CloseReason, at: number): void;
  readonly classification: Classification;
  readonly packets: Readonly<DirectionCounters>;
  readonly bytes: Readonly<DirectionCounters>;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
  readonly opened: FlowOpened | null;
  readonly closed: FlowClosed | null;
  /** Routing key: the tracker's once known, else the first one a datagram carried. */
  key(): string | null;
  /** The tracker's statistics; null before a match or for unknown flows. */
  stats(): ProtocolStats | null;
  /** Set when the tracker threw and was detached. */
  readonly trackerFault: string | null;
}

export interface FlowOptions {
  readonly onFault?: FaultListener;
}

export function createFlow(classifier: Classifier, options: FlowOptions = {}): Flow {
  return new ClassifiedFlow(classifier.flow(), options.onFault ?? (() => {}));
}

class ClassifiedFlow implements Flow {
  readonly packets: DirectionCounters = { forward: 0, reverse: 0 };
  readonly bytes: DirectionCounters = { forward: 0, reverse: 0 };
  firstAt: number | null = null;
  lastAt: number | null = null;
  opened: FlowOpened | null = null;
  closed: FlowClosed | null = null;
  trackerFault: string | null = null;
  private tracker: SessionTracker | null = null;
  private firstKey: string | null = null;
  private lastStats: ProtocolStats | null = null;

  constructor(
    private readonly classifier: FlowClassifier,
    private readonly onFault: FaultListener,
  ) {}

  get classification(): Classification {
    return this.classifier.classification;
  }

  observe(datagram: Datagram): readonly LifecycleEvent[] {
    this.count(datagram.direction, datagram.data.length);
    if (this.firstAt === null) this.firstAt = datagram.at;
    this.lastAt = datagram.at;
    const before = this.classifier.classification.state;
    if (before === 'unknown') return NO_EVENTS;
    if (before === 'matched') return this.track([datagram]);
    const history = [...this.classifier.history];
    const after = this.classifier.offer(datagram);
    if (after.state !== 'matched') return NO_EVENTS;
    try {
      this.tracker = after.protocol.createTracker({ variant: after.variant });
    } catch (error) {
      this.detach('tracker', error);
      return NO_EVENTS;
    }
    // The tracker sees the whole flow, including datagrams that arrived while pending.
    history.push(datagram);
    return this.track(history);
  }

  close(reason: CloseReason, at: number): void {
    if (this.closed === null) this.closed = { at, reason };
  }

  key(): string | null {
    if (this.tracker !== null) {
      try {
        const key = this.tracker.key();
        if (key !== null) return key;
      } catch (error) {
        this.detach('tracker', error);
      }
    }
    return this.opened?.key ?? this.firstKey;
  }

  stats(): ProtocolStats | null {
    if (this.tracker === null) return this.lastStats;
    try {
      return this.tracker.stats();
    } catch (error) {
      this.detach('tracker', error);
      return this.lastStats;
    }
  }

  private count(direction: Direction, length: number): void {
    if (direction === 'forward') {
      this.packets.forward++;
      this.bytes.forward += length;
    } else {
      this.packets.reverse++;
      this.bytes.reverse += length;
    }
  }

  private track(datagrams: readonly Datagram[]): readonly LifecycleEvent[] {
    const tracker = this.tracker;
    const classification = this.classifier.classification;
    if (tracker === null || classification.state !== 'matched') return NO_EVENTS;
    let events: LifecycleEvent[] | null = null;
    for (const datagram of datagrams) {
      let produced: readonly LifecycleEvent[];
      try {
        if (this.firstKey === null) this.firstKey = classification.protocol.routingKey(datagram);
      } catch (error) {
        this.onFault({ protocol: classification.protocol.name, stage: 'routingKey', error });
      }
      try {
        produced = tracker.observe(datagram);
      } catch (error) {
        this.detach('tracker', error);
        this.close('plugin_error', datagram.at);
        return events ?? NO_EVENTS;
      }
      if (produced.length === 0) continue;
      for (const event of produced) this.apply(event);
      events = events ?? [];
      events.push(...produced);
    }
    return events ?? NO_EVENTS;
  }

  private apply(event: LifecycleEvent): void {
    if (event.type === 'opened') {
      if (this.opened === null) {
        this.opened = { at: event.at, key: event.key, detail: event.detail ?? {} };
      }
      return;
    }
    // A close naming another key (RTCP BYE for a different SSRC) is for the
    // session book to route; it closes this flow only when the keys agree.
    const own = this.key();
    if (event.key === null || own === null || event.key === own) this.close(event.reason, event.at);
  }

  private detach(stage: 'tracker', error: unknown): void {
    const classification = this.classifier.classification;
    const protocol = classification.state === 'matched' ? classification.protocol.name : 'unknown';
    this.onFault({ protocol, stage, error });
    this.trackerFault = error instanceof Error ? error.message : String(error);
    if (this.tracker !== null) {
      try {
        this.lastStats = this.tracker.stats();
      } catch {
        this.lastStats = null;
      }
    }
    this.tracker = null;
  }
}
