import type { RawConstants } from './binding.js';
import { NATIVE_PROTOCOL_IDS, type NativeProtocol } from './options.js';

/**
 * Readers of what the I/O threads publish (layout in docs/native.md): the
 * per-thread counter blocks of u64 in memory shared with TS (read without a
 * call), and session snapshot rows of doubles that the I/O threads compute
 * from their flow tables when asked (one call per scrape, not per session).
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
  'drop_token_missing',
  'drop_token_mismatch',
  'tx_gso_sends',
  'tx_gso_segments',
  'tx_gso_fallbacks',
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
  /** Datagrams each way (a session's count wraps at 2^32; the thread counters do not). */
  readonly packets: { readonly forward: number; readonly reverse: number };
  readonly bytes: { readonly forward: number; readonly reverse: number };
  /** First datagram, ms since the epoch. */
  readonly firstAt: number;
  /** Latest datagram, ms since the epoch (ms resolution, from the monotonic clock). */
  readonly lastAt: number;
  /** The tracker's statistics by the TS stats() names; null where not known. */
  readonly stats: Readonly<Record<string, number | null>>;
}

/** Word indexes inside a session snapshot row (GM_DP_S_* in gm_dataplane.h; a test checks they agree). */
export const SESSION_FIELDS = {
  gen: 0,
  proto: 1,
  state: 2,
  packetsForward: 3,
  bytesForward: 4,
  packetsReverse: 5,
  bytesReverse: 6,
  firstAt: 7,
  lastAt: 8,
  statCount: 9,
  listener: 10,
} as const;
const F = SESSION_FIELDS;

const PROTOCOL_BY_ID = Object.keys(NATIVE_PROTOCOL_IDS) as NativeProtocol[];

/** The shared counter blocks, one per I/O thread. */
export class SharedCounters {
  private readonly words: BigUint64Array;

  constructor(
    memory: ArrayBuffer,
    private readonly constants: RawConstants,
    private readonly threads: number,
  ) {
    this.words = new BigUint64Array(memory);
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
}

/** Decodes the snapshot row at `offset` (in doubles) of `rows`; null when no opened session holds the slot. */
export function decodeSession(
  constants: RawConstants,
  slot: number,
  rows: Float64Array,
  offset: number,
): SessionSnapshot | null {
  const field = (index: number): number => rows[offset + index] ?? 0;
  const state = field(F.state);
  if (state === 0) return null;
  const protocol = PROTOCOL_BY_ID[field(F.proto)] ?? 'none';
  const names = constants.statNames[protocol] ?? [];
  const count = Math.min(field(F.statCount), names.length);
  const stats: Record<string, number | null> = {};
  for (let i = 0; i < count; i++) {
    const value = rows[offset + constants.sessionStatsOffset + i] ?? Number.NaN;
    stats[names[i]!] = Number.isNaN(value) ? null : value;
  }
  return {
    slot,
    gen: field(F.gen),
    protocol,
    state: state === 2 ? 'closed' : 'open',
    listener: field(F.listener),
    packets: { forward: field(F.packetsForward), reverse: field(F.packetsReverse) },
    bytes: { forward: field(F.bytesForward), reverse: field(F.bytesReverse) },
    firstAt: field(F.firstAt),
    lastAt: field(F.lastAt),
    stats,
  };
}
