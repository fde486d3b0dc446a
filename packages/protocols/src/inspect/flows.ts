import {
  type Classifier,
  createClassifier,
  createFlow,
  createSessionBook,
  type Datagram,
  type Flow,
  type PluginFault,
  type Registry,
  type SessionBook,
} from '@gamemesh/core';
import { endpoint, type UdpPacket } from './capture/ip.js';
import { errorMessage } from './errors.js';

/**
 * The flow table: UDP 5-tuples, normalised so both directions of an exchange
 * meet in one flow. `forward` is the direction of the flow's first datagram.
 * Each flow is a core `Flow` (classification, then the matched protocol's
 * tracker); a `SessionBook` carries closes across flows of one family (an
 * RTCP BYE closing the RTP flow of that SSRC).
 */

export interface FlowRecord {
  /** `ip:port` that sent the flow's first datagram. */
  readonly src: string;
  readonly dst: string;
  readonly flow: Flow;
  /** Isolated plugin failures on this flow, `protocol/stage: message`, each once. */
  readonly faults: string[];
}

export interface FaultReport {
  readonly fault: PluginFault;
  readonly flow: FlowRecord | null;
}

export interface FlowTableOptions {
  readonly registry: Registry;
  /** Classifier need-more window, datagrams per direction. */
  readonly window?: number | undefined;
  readonly onFault?: ((report: FaultReport) => void) | undefined;
}

export class FlowTable {
  private readonly byTuple = new Map<string, FlowRecord>();
  private readonly classifier: Classifier;
  private readonly book: SessionBook = createSessionBook();
  private readonly onFault: (report: FaultReport) => void;
  // Probe faults reach the shared classifier's listener; the table knows which flow is being fed.
  private current: FlowRecord | null = null;

  constructor(options: FlowTableOptions) {
    this.onFault = options.onFault ?? (() => {});
    this.classifier = createClassifier(options.registry, {
      ...(options.window === undefined ? {} : { window: options.window }),
      onFault: (fault) => this.fault(fault, this.current),
    });
  }

  get size(): number {
    return this.byTuple.size;
  }

  observe(packet: UdpPacket, at: number): void {
    const from = endpoint(packet.sourceAddress, packet.sourcePort);
    const to = endpoint(packet.destinationAddress, packet.destinationPort);
    const tuple = from < to ? `${from} ${to}` : `${to} ${from}`;
    let record = this.byTuple.get(tuple);
    if (record === undefined) {
      const faults: string[] = [];
      const flow = createFlow(this.classifier, { onFault: (fault) => this.fault(fault, created) });
      const created: FlowRecord = { src: from, dst: to, flow, faults };
      record = created;
      this.byTuple.set(tuple, record);
    }
    const flow = record.flow;
    // Pending flows keep datagrams as classifier history, so they get a copy;
    // decided flows only pass the view to a tracker that must not keep it.
    const data = flow.classification.state === 'pending' ? packet.payload.slice() : packet.payload;
    const datagram: Datagram = { data, direction: from === record.src ? 'forward' : 'reverse', at };
    this.current = record;
    const events = flow.observe(datagram);
    this.current = null;
    const classification = flow.classification;
    if (classification.state !== 'matched') return;
    const family = classification.protocol.family;
    this.book.index(family, flow);
    if (events.length > 0) this.book.route(family, events);
  }

  /** Flows in order of their first datagram. */
  records(): FlowRecord[] {
    return [...this.byTuple.values()].sort((a, b) => (a.flow.firstAt ?? 0) - (b.flow.firstAt ?? 0));
  }

  private fault(fault: PluginFault, flow: FlowRecord | null): void {
    if (flow !== null) {
      const message = errorMessage(fault.error);
      const line = `${fault.protocol}/${fault.stage}: ${message}`;
      if (!flow.faults.includes(line)) flow.faults.push(line);
    }
    this.onFault({ fault, flow });
  }
}
