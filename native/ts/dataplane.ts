import { EventEmitter } from 'node:events';
import { CLOSE_REASONS, type CloseReason, type Datagram, hex } from '@gamemesh/core';
import {
  binding,
  type RawBinding,
  type RawEvent,
  type RawHandle,
  type RawMemory,
  type RawNewDatagram,
} from './binding.js';
import { callAddon, NativeError, nativeError } from './errors.js';
import {
  type CounterValues,
  decodeSession,
  type NativeCounters,
  type SessionSnapshot,
  SharedCounters,
} from './memory.js';
import {
  argumentIssue,
  type DataPlaneOptions,
  type Endpoint,
  endpoint,
  integerIn,
  isRecord,
  type ListenerOptions,
  MAX_TOKEN_SUFFIX,
  NATIVE_CLOSE_REASONS,
  NATIVE_PROTOCOL_IDS,
  type NativeProtocol,
  protocolId,
  resolveOptions,
  type TrackerOptions,
  trackerArgs,
} from './options.js';
import { RouteTable } from './routes.js';

export interface ClientEndpoint extends Endpoint {
  readonly family: 4 | 6;
}

/** A flow the data plane does not know yet: TS classifies it and answers. */
export interface NewFlow {
  /** `thread:slot:generation`, also the `flow` of the session's events. */
  readonly id: string;
  readonly listener: number;
  readonly client: ClientEndpoint;
  /** The flow's datagrams so far (direction forward); grows until answered. */
  readonly datagrams: readonly Datagram[];
  readonly answered: boolean;
}

export type FlowAnswer =
  | { readonly drop: true }
  | {
      readonly protocol: NativeProtocol;
      readonly tracker?: TrackerOptions;
      /** Where to send the flow. Or `key`: the upstream of a route installed for that key. */
      readonly upstream?: Endpoint;
      readonly key?: string;
      /**
       * Token listeners only, and required there: the token (tokenSuffix
       * bytes) TS accepted for the flow. Its datagrams, held ones included,
       * are forwarded only if they end with exactly these bytes. With `key`,
       * the session's events carry that key instead of the protocol's.
       */
      readonly token?: Uint8Array;
    };

export interface SessionEvent {
  readonly flow: string;
  /** The session's slot in its I/O thread's flow table: see session(slot). */
  readonly slot: number;
  readonly listener: number;
  readonly protocol: NativeProtocol;
  readonly key: string | null;
  readonly at: number;
  readonly client: Endpoint;
  readonly upstream: Endpoint;
}

export interface SessionClosed extends SessionEvent {
  readonly reason: CloseReason;
  readonly packets: { readonly forward: number; readonly reverse: number };
  readonly bytes: { readonly forward: number; readonly reverse: number };
}

export interface DataPlaneEvents {
  newFlow: [flow: NewFlow];
  flowDatagram: [flow: NewFlow, datagram: Datagram];
  opened: [session: SessionEvent];
  closed: [session: SessionClosed];
}

export interface Listener {
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly mode: 'port' | 'key';
  /** Routing-token bytes stripped from each client datagram (0: none). */
  readonly tokenSuffix: number;
}

interface FlowRecord {
  readonly id: string;
  readonly thread: number;
  readonly slot: number;
  readonly gen: number;
  readonly listener: number;
  readonly client: ClientEndpoint;
  readonly datagrams: Datagram[];
  answered: boolean;
  /** What was answered: late datagrams follow it. null = dropped. */
  decision: {
    proto: number;
    tracker: [number, number, number];
    upstream: [number, string, number];
    token: Uint8Array;
  } | null;
  touchedAt: number;
}

const LATE_DATAGRAM_GRACE_MS = 2000;

/** Creates a native data plane: I/O threads start at once, listeners are added afterwards. */
export function createDataPlane(options: DataPlaneOptions = {}): DataPlane {
  const raw = resolveOptions(options);
  return new DataPlane(binding(), raw.threads, raw.pendingMs, raw);
}

type EventListener<K extends keyof DataPlaneEvents> = (...args: DataPlaneEvents[K]) => void;

/**
 * One native data plane. Events are delivered in batches, one wake-up per
 * batch of I/O thread work, never per forwarded datagram; none fire after
 * close() returns (the proxy_shutdown closes fire inside close()).
 */
export class DataPlane {
  private readonly events = new EventEmitter<DataPlaneEvents>();
  private handle: RawHandle | null;
  private readonly shared: SharedCounters;
  /** Slots over all threads: a session's slot is below this. */
  readonly slots: number;
  /** One snapshot row, reused by session(slot). */
  private readonly row: Float64Array;
  private readonly flows = new Map<string, FlowRecord>();
  private readonly listeners_: Listener[] = [];
  private readonly portUpstreams = new Map<number, Endpoint>();
  private readonly routes = new RouteTable();
  private readonly sessionKeys = new Map<string, string | null>();
  /** Opened, not yet closed sessions by slot: closeSession(slot) names the generation it means. */
  private readonly openSessions = new Map<number, { thread: number; gen: number }>();
  /**
   * Keys answered for token-listener flows, by slot: their sessions are known
   * by the token's key, not the protocol's. By slot, so there is at most one
   * entry per flow table slot however many flows never open.
   */
  private readonly tokenKeys = new Map<number, { gen: number; key: string }>();
  private noRoute = 0;

  /** @internal use createDataPlane() */
  constructor(
    private readonly addon: RawBinding,
    readonly threads: number,
    private readonly pendingMs: number,
    raw: Parameters<RawBinding['create']>[0],
  ) {
    const created = callAddon(() =>
      addon.create(raw, (datagrams, events) => this.onBatch(datagrams, events)),
    );
    this.handle = created.handle;
    this.shared = new SharedCounters(created.memory, addon.constants, threads);
    this.slots = threads * created.layout.slotsPerThread;
    this.row = new Float64Array(addon.constants.sessionWords);
  }

  on<K extends keyof DataPlaneEvents>(event: K, listener: EventListener<K>): this {
    this.events.on(event, listener as never);
    return this;
  }

  once<K extends keyof DataPlaneEvents>(event: K, listener: EventListener<K>): this {
    this.events.once(event, listener as never);
    return this;
  }

  off<K extends keyof DataPlaneEvents>(event: K, listener: EventListener<K>): this {
    this.events.off(event, listener as never);
    return this;
  }

  private emit<K extends keyof DataPlaneEvents>(event: K, ...args: DataPlaneEvents[K]): void {
    (this.events.emit as (event: K, ...args: DataPlaneEvents[K]) => boolean)(event, ...args);
  }

  get closed(): boolean {
    return this.handle === null;
  }

  get listeners(): readonly Listener[] {
    return this.listeners_;
  }

  addListener(options: ListenerOptions): Listener {
    const handle = this.open();
    if (!isRecord(options)) argumentIssue('listener options must be an object');
    const [family, address, port] = endpoint(
      { address: options.address, port: options.port ?? 0 },
      'listener',
      true,
    );
    if (options.mode !== 'port' && options.mode !== 'key')
      argumentIssue("mode must be 'port' or 'key'");
    const upstream = options.upstream === undefined ? null : endpoint(options.upstream, 'upstream');
    if (options.mode === 'port' && upstream === null)
      argumentIssue('a port-mode listener needs an upstream');
    if (options.protocol !== undefined && options.mode !== 'port') {
      argumentIssue('a fixed protocol needs port mode (key mode resolves each flow in TS)');
    }
    const fixed = options.protocol === undefined ? 0xff : protocolId(options.protocol, 'protocol');
    const [variant, clock, maxPush] = trackerArgs(options.tracker, 'tracker');
    const tokenSuffix = integerIn(
      options.tokenSuffix ?? 0,
      0,
      MAX_TOKEN_SUFFIX,
      'tokenSuffix',
      argumentIssue,
    );
    if (tokenSuffix > 0 && options.protocol !== undefined)
      argumentIssue('a token listener cannot have a fixed protocol (TS accepts each token)');
    const result = callAddon(() =>
      this.addon.addListener(
        handle,
        family,
        address,
        port,
        options.mode === 'port' ? 0 : 1,
        fixed,
        upstream?.[0] ?? 0,
        upstream?.[1] ?? '',
        upstream?.[2] ?? 0,
        variant,
        clock,
        maxPush,
        tokenSuffix,
      ),
    );
    const listener: Listener = Object.freeze({
      id: result.id,
      address,
      port: result.port,
      mode: options.mode,
      tokenSuffix,
    });
    this.listeners_.push(listener);
    if (options.upstream !== undefined)
      this.portUpstreams.set(listener.id, { ...options.upstream });
    return listener;
  }

  /** Changes a port-mode listener's upstream for flows opened from now on. */
  setUpstream(listener: number, upstream: Endpoint): void {
    const handle = this.open();
    this.knownListener(listener);
    const [family, address, port] = endpoint(upstream, 'upstream');
    callAddon(() => this.addon.setUpstream(handle, listener, family, address, port));
    this.portUpstreams.set(listener, { address, port });
  }

  /**
   * Installs a route ahead of traffic: a flow answered with `{ key }` on this
   * listener goes to `upstream` until `expiresAt` (ms since the epoch).
   * Routes live in the wrapper: keys are resolved once per new flow, in TS.
   */
  installRoute(
    listener: number,
    key: string,
    upstream: Endpoint,
    expiresAt = Number.POSITIVE_INFINITY,
  ): void {
    this.open();
    this.knownListener(listener);
    if (typeof key !== 'string' || key.length === 0)
      argumentIssue('key must be a non-empty string');
    endpoint(upstream, 'upstream');
    if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt))
      argumentIssue('expiresAt must be a number');
    this.routes.install(
      listener,
      key,
      { address: upstream.address, port: upstream.port },
      expiresAt,
    );
  }

  removeRoute(listener: number, key: string): boolean {
    this.open();
    return this.routes.remove(listener, key);
  }

  route(listener: number, key: string, now = Date.now()): Endpoint | null {
    return this.routes.lookup(listener, key, now);
  }

  /** Decides a new flow: its held datagrams are forwarded first, then the flow runs natively. */
  answer(flow: NewFlow | string, decision: FlowAnswer): void {
    const handle = this.open();
    const id = typeof flow === 'string' ? flow : isRecord(flow) ? flow.id : undefined;
    const record = typeof id === 'string' ? this.flows.get(id) : undefined;
    if (record === undefined || record.answered) {
      throw nativeError('GM_NATIVE_UNKNOWN_FLOW', String(id));
    }
    if (!isRecord(decision)) argumentIssue('decision must be an object');
    if ('drop' in decision && decision.drop === true) {
      callAddon(() => this.addon.drop(handle, record.thread, record.slot, record.gen));
      record.answered = true;
      record.decision = null;
      return;
    }
    const chosen = decision as Exclude<FlowAnswer, { drop: true }>;
    const proto = protocolId(chosen.protocol, 'protocol');
    const tracker = trackerArgs(chosen.tracker, 'tracker');
    const token = this.acceptedToken(record.listener, chosen.token);
    let target = chosen.upstream;
    if (target === undefined && chosen.key !== undefined) {
      const routed = this.routes.lookup(record.listener, String(chosen.key), Date.now());
      if (routed === null) {
        this.noRoute++;
        callAddon(() => this.addon.drop(handle, record.thread, record.slot, record.gen));
        record.answered = true;
        record.decision = null;
        return;
      }
      target = routed;
    }
    target ??= this.portUpstreams.get(record.listener);
    if (target === undefined)
      argumentIssue('answer needs an upstream, a routed key, or a port-mode listener');
    const upstream = endpoint(target, 'upstream');
    callAddon(() =>
      this.addon.answer(
        handle,
        record.thread,
        record.slot,
        record.gen,
        proto,
        ...tracker,
        ...upstream,
        record.datagrams.map((d) => ({ data: d.data, at: d.at })),
        token,
      ),
    );
    record.answered = true;
    record.decision = { proto, tracker, upstream, token };
    record.touchedAt = Date.now();
    if (token.length > 0 && chosen.key !== undefined)
      this.tokenKeys.set(record.slot, { gen: record.gen, key: String(chosen.key) });
  }

  /** The answer's token, checked against the listener: required (exact size) on token listeners only. */
  private acceptedToken(listener: number, token: unknown): Uint8Array {
    const suffix = this.listeners_.find((l) => l.id === listener)?.tokenSuffix ?? 0;
    if (suffix === 0) {
      if (token !== undefined) argumentIssue('token is only for listeners with a tokenSuffix');
      return new Uint8Array(0);
    }
    if (!(token instanceof Uint8Array) || token.length !== suffix)
      argumentIssue(`a token listener's answer needs its token: ${suffix} bytes`);
    return Uint8Array.from(token as Uint8Array);
  }

  /**
   * Closes an opened session from the control plane (an RTP session on its
   * RTCP BYE, for one): its I/O thread emits `closed` with `reason` between
   * two batches and stops tracking it; its datagrams are still forwarded
   * until it is idle, as after a protocol's own close. Returns false (and
   * does nothing) when no opened session holds the slot: already closed, gone
   * or never opened. The close is checked against the session's generation,
   * so a slot reused in the meantime is not touched.
   */
  closeSession(slot: number, reason: CloseReason): boolean {
    integerIn(slot, 0, this.slots - 1, 'slot', argumentIssue);
    if (typeof reason !== 'string' || !Object.hasOwn(CLOSE_REASONS, reason)) {
      argumentIssue(`reason must be one of ${Object.keys(CLOSE_REASONS).join(', ')}`);
    }
    const reasonId = NATIVE_CLOSE_REASONS.indexOf(reason);
    const handle = this.handle;
    const session = this.openSessions.get(slot);
    if (handle === null || session === undefined) return false;
    // Forgotten now: a second call before the `closed` event arrives is a no-op too.
    this.openSessions.delete(slot);
    callAddon(() => this.addon.closeSession(handle, session.thread, slot, session.gen, reasonId));
    return true;
  }

  /** Counters summed over the I/O threads, read from shared memory (no call into the addon). */
  counters(): CounterValues {
    return { ...this.shared.counters(), drop_no_route: this.noRoute };
  }

  threadCounters(thread: number): NativeCounters {
    integerIn(thread, 0, this.threads - 1, 'thread', argumentIssue);
    return this.shared.threadCounters(thread);
  }

  /**
   * A session's counters and tracker stats as of now, or null when no opened
   * session holds the slot (or the data plane is closed). Computed by the
   * session's I/O thread between two batches: one call, for a scrape, not per
   * datagram. For many sessions use sessions(slots): one call for all.
   */
  session(slot: number): SessionSnapshot | null {
    integerIn(slot, 0, this.slots - 1, 'slot', argumentIssue);
    const handle = this.handle;
    if (handle === null) return null;
    callAddon(() => this.addon.sessions(handle, Uint32Array.of(slot), this.row));
    return decodeSession(this.addon.constants, slot, this.row, 0);
  }

  /** Snapshots of many sessions at once (each I/O thread is asked once); null entries as in session(). */
  sessions(slots: readonly number[]): (SessionSnapshot | null)[] {
    if (!Array.isArray(slots)) argumentIssue('slots must be an array');
    const ids = Uint32Array.from(slots, (slot) =>
      integerIn(slot, 0, this.slots - 1, 'slot', argumentIssue),
    );
    const handle = this.handle;
    if (handle === null) return slots.map(() => null);
    const words = this.addon.constants.sessionWords;
    const rows = new Float64Array(ids.length * words);
    callAddon(() => this.addon.sessions(handle, ids, rows));
    return Array.from(ids, (slot, i) => decodeSession(this.addon.constants, slot, rows, i * words));
  }

  /**
   * The data plane's own memory accounting in bytes: flow entries touched so
   * far (never-used capacity costs nothing), the flow indexes, and the fixed
   * parts. See docs/native.md "Memory".
   */
  memoryUsage(): RawMemory {
    return callAddon(() => this.addon.memory(this.open()));
  }

  /** Stops the I/O threads and closes every socket. Open sessions close with proxy_shutdown. Idempotent. */
  close(): void {
    const handle = this.handle;
    if (handle === null) return;
    const last = callAddon(() => this.addon.close(handle));
    this.handle = null;
    for (const event of last) this.emitSession(event);
    this.flows.clear();
    this.sessionKeys.clear();
    this.tokenKeys.clear();
  }

  private open(): RawHandle {
    if (this.handle === null) throw nativeError('GM_NATIVE_CLOSED');
    return this.handle;
  }

  private knownListener(listener: number): void {
    if (!this.listeners_.some((l) => l.id === listener)) {
      throw new NativeError('GM_NATIVE_UNKNOWN_LISTENER', String(listener));
    }
  }

  private onBatch(datagrams: RawNewDatagram[], events: RawEvent[]): void {
    if (this.handle === null) return;
    const now = Date.now();
    for (const raw of datagrams) this.onNewDatagram(raw, now);
    for (const event of events) {
      if (this.handle === null) return;
      this.emitSession(event);
    }
    this.forgetStaleFlows(now);
  }

  private onNewDatagram(raw: RawNewDatagram, now: number): void {
    const id = `${raw.thread}:${raw.slot}:${raw.gen}`;
    const datagram: Datagram = { data: raw.data, direction: 'forward', at: raw.at };
    const known = this.flows.get(id);
    if (known === undefined) {
      const record: FlowRecord = {
        id,
        thread: raw.thread,
        slot: raw.slot,
        gen: raw.gen,
        listener: raw.listener,
        client: { address: raw.address, port: raw.port, family: raw.family === 6 ? 6 : 4 },
        datagrams: [datagram],
        answered: false,
        decision: null,
        touchedAt: now,
      };
      this.flows.set(id, record);
      this.emit('newFlow', record);
      return;
    }
    known.touchedAt = now;
    if (!known.answered) {
      known.datagrams.push(datagram);
      this.emit('flowDatagram', known, datagram);
      return;
    }
    // Queued before the answer reached the I/O thread: it follows the answer.
    const d = known.decision;
    const handle = this.handle;
    if (d === null || handle === null) return;
    callAddon(() =>
      this.addon.answer(
        handle,
        known.thread,
        known.slot,
        known.gen,
        d.proto,
        ...d.tracker,
        ...d.upstream,
        [{ data: datagram.data, at: datagram.at }],
        d.token,
      ),
    );
  }

  private forgetStaleFlows(now: number): void {
    for (const [id, record] of this.flows) {
      const limit = record.answered
        ? LATE_DATAGRAM_GRACE_MS
        : this.pendingMs + LATE_DATAGRAM_GRACE_MS;
      if (now - record.touchedAt > limit) this.flows.delete(id);
    }
  }

  private emitSession(raw: RawEvent): void {
    const flow = `${raw.thread}:${raw.slot}:${raw.gen}`;
    const protocol = (Object.keys(NATIVE_PROTOCOL_IDS) as NativeProtocol[])[raw.proto] ?? 'none';
    const base = {
      flow,
      slot: raw.slot,
      listener: raw.listener,
      protocol,
      at: raw.at,
      client: { address: raw.clientAddress, port: raw.clientPort },
      upstream: { address: raw.upstreamAddress, port: raw.upstreamPort },
    };
    const answered = this.tokenKeys.get(raw.slot);
    const tokenKey = answered?.gen === raw.gen ? answered.key : null;
    if (raw.type === 1) {
      const key = tokenKey ?? formatKey(raw.key);
      this.sessionKeys.set(flow, key);
      this.openSessions.set(raw.slot, { thread: raw.thread, gen: raw.gen });
      this.emit('opened', { ...base, key });
      return;
    }
    const key = this.sessionKeys.get(flow) ?? tokenKey;
    this.sessionKeys.delete(flow);
    if (tokenKey !== null) this.tokenKeys.delete(raw.slot);
    if (this.openSessions.get(raw.slot)?.gen === raw.gen) this.openSessions.delete(raw.slot);
    this.emit('closed', {
      ...base,
      key,
      reason: NATIVE_CLOSE_REASONS[raw.reason] ?? 'plugin_error',
      packets: { forward: raw.packetsForward, reverse: raw.packetsReverse },
      bytes: { forward: raw.bytesForward, reverse: raw.bytesReverse },
    });
  }
}

/** Routing keys as the TS protocols print them: numbers in decimal, byte strings in lowercase hex. */
function formatKey(key: bigint | Uint8Array | null): string | null {
  if (key === null) return null;
  return typeof key === 'bigint' ? key.toString(10) : hex(key);
}
