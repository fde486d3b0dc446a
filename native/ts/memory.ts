import type { RawConstants } from './binding.js';
import { NATIVE_PROTOCOL_IDS, type NativeProtocol } from './options.js';

/**
 * Readers of the memory the I/O threads write and TS reads at scrape time
 * (layout in docs/native.md): per-thread counter blocks of u64, then one block
 * of doubles per session slot guarded by a seqlock (odd = being written).
 */

/** Counter names, in the order of GM_DP_COUNTERS in gm_dataplane.h (a test checks they agree). */
export const COUNTER_NAMES = [
  'rx_client_packets',
  'rx_client_bytes',
  'tx_upstream_packets',
  'tx_upstream_bytes',
  'rx_upstream_packets',
  'rx_upstream_bytes',
  'tx_client_packets',
  'tx_client_bytes',
  'flows_active',
  'flows_created',
  'flows_removed',
  'sessions_opened',
  'sessions_closed',
  'queue_depth',
  'queue_enqueued',
  'events_pushed',
  'events_dropped',
  'upstream_sockets',
  'sweeps',
  'closed_protocol_disconnect',
  'closed_bye',
  'closed_denied',
  'closed_idle',
  'closed_evicted',
  'closed_proxy_shutdown',
  'closed_plugin_error',
  'drop_oversize',
  'drop_queue_full',
  'drop_source_budget',
  'drop_new_flow_rate',
  'drop_pending_window',
  'drop_table_full',
  'drop_flow_denied',
  'drop_unknown_source',
  'drop_send_error',
  'drop_upstream_socket',
  'drop_pending_timeout',
] as const;

export type NativeCounterName = (typeof COUNTER_NAMES)[number];
export type NativeCounters = Readonly<Record<NativeCounterName, number>>;
/** The data plane's counters plus the one kept in TS (flows answered with a key that had no route). */
export type CounterValues = NativeCounters & {
  readonly drop_no_route: number;
} & Readonly<Record<string, number>>;

export interface SessionSnapshot {
  readonly slot: number;
  /** Generation of the flow in the slot: matches the `flow` id of its events. */
  readonly gen: number;
  readonly protocol: NativeProtocol;
  readonly state: 'open' | 'closed';
  readonly listener: number;
  readonly packets: { readonly forward: number; readonly reverse: number };
  readonly bytes: { readonly forward: number; readonly reverse: number };
  readonly firstAt: number;
  readonly lastAt: number;
  /** The tracker's statistics by the TS stats() names; null where not known. */
  readonly stats: Readonly<Record<string, number | null>>;
}

/** Word indexes inside a session block (GM_DP_S_* in gm_dataplane.h; a test checks they agree). */
export const SESSION_FIELDS = {
  seq: 0,
  gen: 1,
  proto: 2,
  state: 3,
  packetsForward: 4,
  bytesForward: 5,
  packetsReverse: 6,
  bytesReverse: 7,
  firstAt: 8,
  lastAt: 9,
  statCount: 10,
  listener: 11,
} as const;
const F = SESSION_FIELDS;

const PROTOCOL_BY_ID = Object.keys(NATIVE_PROTOCOL_IDS) as NativeProtocol[];
const SEQLOCK_RETRIES = 64;

export class SharedMemory {
  private readonly words: BigUint64Array;
  private readonly doubles: Float64Array;
  readonly slots: number;

  constructor(
    memory: ArrayBuffer,
    private readonly constants: RawConstants,
    private readonly threads: number,
    slotsPerThread: number,
    private readonly sessionsOffset: number,
  ) {
    this.words = new BigUint64Array(memory);
    this.doubles = new Float64Array(memory);
    this.slots = threads * slotsPerThread;
  }

  /** Counters summed over threads (gauges too: flows_active, queue_depth, upstream_sockets). */
  counters(): NativeCounters {
    const out = {} as Record<NativeCounterName, number>;
    COUNTER_NAMES.forEach((name, i) => {
      out[name] = this.sumCounter(i);
    });
    return out;
  }

  /** One thread's counters, for per-core views. */
  threadCounters(thread: number): NativeCounters {
    const out = {} as Record<NativeCounterName, number>;
    const base = thread * this.constants.counterStride;
    COUNTER_NAMES.forEach((name, i) => {
      out[name] = Number(this.words[base + i] ?? 0n);
    });
    return out;
  }

  private sumCounter(index: number): number {
    let sum = 0n;
    for (let t = 0; t < this.threads; t++)
      sum += this.words[t * this.constants.counterStride + index] ?? 0n;
    return Number(sum);
  }

  /** A consistent copy of a session block, or null when the slot is free. */
  session(slot: number): SessionSnapshot | null {
    const words = this.constants.sessionWords;
    const base = this.sessionsOffset + slot * words;
    for (let attempt = 0; attempt < SEQLOCK_RETRIES; attempt++) {
      const before = this.doubles[base + F.seq] ?? 0;
      if (before % 2 === 1) continue;
      const block = this.doubles.slice(base, base + words);
      if ((this.doubles[base + F.seq] ?? 0) !== before) continue;
      return this.decode(slot, block);
    }
    return null; /* the writer kept the block busy: the caller reads again at the next scrape */
  }

  private decode(slot: number, b: Float64Array): SessionSnapshot | null {
    const state = b[F.state] ?? 0;
    if (state === 0) return null;
    const protocol = PROTOCOL_BY_ID[b[F.proto] ?? 0] ?? 'none';
    const names = this.constants.statNames[protocol] ?? [];
    const count = Math.min(b[F.statCount] ?? 0, names.length);
    const stats: Record<string, number | null> = {};
    for (let i = 0; i < count; i++) {
      const value = b[this.constants.sessionStatsOffset + i] ?? Number.NaN;
      stats[names[i]!] = Number.isNaN(value) ? null : value;
    }
    return {
      slot,
      gen: b[F.gen] ?? 0,
      protocol,
      state: state === 2 ? 'closed' : 'open',
      listener: b[F.listener] ?? 0,
      packets: { forward: b[F.packetsForward] ?? 0, reverse: b[F.packetsReverse] ?? 0 },
      bytes: { forward: b[F.bytesForward] ?? 0, reverse: b[F.bytesReverse] ?? 0 },
      firstAt: b[F.firstAt] ?? 0,
      lastAt: b[F.lastAt] ?? 0,
      stats,
    };
  }
}
