import { isIP } from 'node:net';
import type { RawOptions } from './binding.js';
import { nativeError } from './errors.js';

/** Protocol ids of src/trackers/gm_tracker.h (enum gm_proto); `none` forwards without tracking. */
export const NATIVE_PROTOCOL_IDS = {
  none: 0,
  raknet: 1,
  kcp: 2,
  netcode: 3,
  rtp: 4,
  rtcp: 5,
} as const;

export type NativeProtocol = keyof typeof NATIVE_PROTOCOL_IDS;

/** Close reasons by native id (gm_close_reason), in the order of CLOSE_REASONS in @gamemesh/core. */
export const NATIVE_CLOSE_REASONS = [
  null,
  'protocol_disconnect',
  'bye',
  'denied',
  'idle',
  'evicted',
  'proxy_shutdown',
  'plugin_error',
] as const;

export interface DataPlaneOptions {
  /** I/O threads; more than one shards listeners with SO_REUSEPORT. Default 1. */
  readonly threads?: number;
  /** Flow table capacity over all threads. Default 65536. */
  readonly maxSessions?: number;
  /** New-flow datagrams queued per thread for classification. Default 1024. */
  readonly newFlowQueue?: number;
  /** Lifecycle events buffered per thread between deliveries. Default 4096. */
  readonly eventRing?: number;
  /** Idle backstop of a session. Default 30000. */
  readonly idleTimeoutMs?: number;
  /** How long a new flow may wait for answer(). Default 5000. */
  readonly pendingTimeoutMs?: number;
  /** Cadence of the idle sweep. Default 250. */
  readonly sweepIntervalMs?: number;
  /** recvmmsg/sendmmsg batch. Default 32. */
  readonly batchSize?: number;
  /** Largest datagram forwarded; larger ones are dropped (drop_oversize). Default 2048. */
  readonly maxDatagramBytes?: number;
  /** Datagrams of a pending flow delivered for classification. Default 8. */
  readonly pendingWindow?: number;
  /** Per-source-address budget of new-flow datagrams (token bucket). */
  readonly sourceBudget?: { readonly burst?: number; readonly perSecond?: number };
  /**
   * Per-thread budget of datagrams handed to TS for classification (token
   * bucket): bounds the JS work a flood from many spoofed sources can cause.
   */
  readonly newFlowBudget?: { readonly burst?: number; readonly perSecond?: number };
  /**
   * Send runs of equal-size datagrams to one destination as one UDP GSO send
   * (the kernel cuts it into the same datagrams). Default true. Off when a
   * qdisc must see every datagram: a GSO send crosses the qdiscs as one unit
   * and is segmented after them (docs/native.md "Send path").
   */
  readonly gso?: boolean;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface TrackerOptions {
  /** Native variant id of the protocol (see the protocol's header in src/trackers). Default 0. */
  readonly variant?: number;
  /** RTP media clock, when known (0 = estimate from sender reports). */
  readonly clockRateHz?: number;
  /** KCP: largest PUSH payload accepted (0 = the tracker's default). */
  readonly maxPushLen?: number;
}

export interface ListenerOptions {
  readonly address: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** `port`: one fixed upstream; `key`: the upstream comes from answer() / installed routes. */
  readonly mode: 'port' | 'key';
  /** Required in `port` mode. */
  readonly upstream?: Endpoint;
  /**
   * `port` mode only: open every new flow with this tracker without asking
   * TS (no newFlow events). Without it, new flows are classified by TS.
   */
  readonly protocol?: NativeProtocol;
  readonly tracker?: TrackerOptions;
  /**
   * Bytes of routing token every client datagram ends with (0, the default:
   * none; at most MAX_TOKEN_SUFFIX). A new flow's datagrams reach TS with the
   * token; answer() names the token accepted for the flow, and from then on
   * the data plane forwards only datagrams ending with exactly that token,
   * without it. Not with a fixed `protocol` (TS must see the token).
   */
  readonly tokenSuffix?: number;
}

/** Longest token suffix a listener can strip (GM_DP_MAX_TOKEN_SUFFIX in gm_dataplane.h). */
export const MAX_TOKEN_SUFFIX = 32;

type Issue = (message: string) => never;

const optionIssue: Issue = (message) => {
  throw nativeError('GM_NATIVE_INVALID_OPTION', message);
};
export const argumentIssue: Issue = (message) => {
  throw nativeError('GM_NATIVE_INVALID_ARGUMENT', message);
};

export function integerIn(
  value: unknown,
  min: number,
  max: number,
  name: string,
  issue: Issue,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return issue(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function numberIn(value: unknown, min: number, max: number, name: string, issue: Issue): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    return issue(`${name} must be a number in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function booleanOption(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean')
    return optionIssue(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function resolveOptions(input: unknown): RawOptions {
  if (input !== undefined && !isRecord(input)) optionIssue('options must be an object');
  const o: Record<string, unknown> = input ?? {};
  const budget = o.sourceBudget ?? {};
  if (!isRecord(budget)) optionIssue('sourceBudget must be an object');
  const b = budget as Record<string, unknown>;
  const flowBudget = o.newFlowBudget ?? {};
  if (!isRecord(flowBudget)) optionIssue('newFlowBudget must be an object');
  const f = flowBudget as Record<string, unknown>;
  const threads = integerIn(o.threads ?? 1, 1, 64, 'threads', optionIssue);
  const idleMs = integerIn(o.idleTimeoutMs ?? 30_000, 1, 86_400_000, 'idleTimeoutMs', optionIssue);
  return {
    threads,
    maxSessions: integerIn(o.maxSessions ?? 65_536, threads, 1 << 26, 'maxSessions', optionIssue),
    queueCapacity: integerIn(o.newFlowQueue ?? 1024, 1, 1 << 20, 'newFlowQueue', optionIssue),
    eventCapacity: integerIn(o.eventRing ?? 4096, 1, 1 << 22, 'eventRing', optionIssue),
    idleMs,
    pendingMs: integerIn(
      o.pendingTimeoutMs ?? 5000,
      1,
      86_400_000,
      'pendingTimeoutMs',
      optionIssue,
    ),
    sweepMs: integerIn(o.sweepIntervalMs ?? 250, 1, 60_000, 'sweepIntervalMs', optionIssue),
    batch: integerIn(o.batchSize ?? 32, 1, 64, 'batchSize', optionIssue),
    maxDatagram: integerIn(o.maxDatagramBytes ?? 2048, 64, 65_535, 'maxDatagramBytes', optionIssue),
    pendingWindow: integerIn(o.pendingWindow ?? 8, 1, 64, 'pendingWindow', optionIssue),
    sourceBurst: numberIn(b.burst ?? 8, 1, 1e6, 'sourceBudget.burst', optionIssue),
    sourceRate: numberIn(b.perSecond ?? 32, 0, 1e9, 'sourceBudget.perSecond', optionIssue),
    flowBurst: numberIn(f.burst ?? 1024, 1, 1e7, 'newFlowBudget.burst', optionIssue),
    flowRate: numberIn(f.perSecond ?? 8000, 0, 1e9, 'newFlowBudget.perSecond', optionIssue),
    gso: booleanOption(o.gso ?? true, 'gso') ? 1 : 0,
  };
}

/** An endpoint as the addon takes it: family, address text, port. */
export function endpoint(
  value: unknown,
  name: string,
  allowPortZero = false,
): [4 | 6, string, number] {
  if (!isRecord(value) || typeof value.address !== 'string')
    return argumentIssue(`${name} must be { address, port }`);
  const family = isIP(value.address);
  if (family !== 4 && family !== 6)
    return argumentIssue(`${name}.address is not an IP address: ${value.address}`);
  const port = integerIn(value.port, allowPortZero ? 0 : 1, 65_535, `${name}.port`, argumentIssue);
  return [family, value.address, port];
}

export function protocolId(value: unknown, name: string): number {
  if (typeof value !== 'string' || !Object.hasOwn(NATIVE_PROTOCOL_IDS, value)) {
    return argumentIssue(`${name} must be one of ${Object.keys(NATIVE_PROTOCOL_IDS).join(', ')}`);
  }
  return NATIVE_PROTOCOL_IDS[value as NativeProtocol];
}

export function trackerArgs(value: unknown, name: string): [number, number, number] {
  if (value === undefined) return [0, 0, 0];
  if (!isRecord(value)) return argumentIssue(`${name} must be an object`);
  return [
    integerIn(value.variant ?? 0, 0, 255, `${name}.variant`, argumentIssue),
    integerIn(value.clockRateHz ?? 0, 0, 4_294_967_295, `${name}.clockRateHz`, argumentIssue),
    integerIn(value.maxPushLen ?? 0, 0, 65_535, `${name}.maxPushLen`, argumentIssue),
  ];
}

export { isRecord };
