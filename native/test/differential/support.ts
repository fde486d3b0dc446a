import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLOSE_REASONS,
  type CloseReason,
  type Datagram,
  hex,
  type ProtocolStats,
  type SessionTracker,
} from '@gamemesh/core';
import { readUdpDatagrams } from '@gamemesh/protocols/inspect';

/**
 * The native-vs-TypeScript differential harness: one datagram sequence runs
 * through a TS tracker (as the proxy creates it) and through the native
 * tracker (the addon's `track()`), and the two results are compared event by
 * event and stat by stat.
 */

/** Protocol ids of native/src/trackers/gm_tracker.h (enum gm_proto). */
export const NATIVE_PROTO = { raknet: 1, kcp: 2, netcode: 3, rtp: 4, rtcp: 5 } as const;

export interface NativeConfig {
  readonly variant?: number;
  readonly clockRateHz?: number;
  readonly maxPushLen?: number;
}

interface RawNativeEvent {
  readonly type: number;
  readonly reason: number;
  readonly keyKind: number;
  readonly key: bigint | Uint8Array | null;
  readonly at: number;
}

interface RawNativeResult {
  readonly events: readonly RawNativeEvent[];
  readonly stats: Float64Array;
  readonly statNames: readonly string[];
}

type TrackFunction = (
  proto: number,
  config: NativeConfig,
  datagrams: readonly { data: Uint8Array; direction: 0 | 1; at: number }[],
) => RawNativeResult;

/** A lifecycle event reduced to what both implementations must agree on. */
export interface ComparableEvent {
  readonly type: 'opened' | 'closed';
  readonly key: string | null;
  readonly reason: CloseReason | null;
  readonly at: number;
}

export interface TrackerRun {
  readonly events: readonly ComparableEvent[];
  /** Stat values by name; null where unknown. */
  readonly stats: Readonly<Record<string, number | string | boolean | null>>;
}

export interface NativeRun extends TrackerRun {
  /** Native stats are all numbers: NaN slots become null. */
  readonly stats: Readonly<Record<string, number | null>>;
  readonly statNames: readonly string[];
}

/** Walks up from this file to the directory whose package.json has `name`. */
export function packageRootNamed(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name?: string;
        workspaces?: unknown;
      };
      if (parsed.name === name) return dir;
      // The monorepo root: the package sits in one of its workspaces.
      if (parsed.workspaces !== undefined && name === '@gamemesh/protocols')
        return join(dir, 'packages', 'protocols');
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`package ${name} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The committed captures of one protocol: packages/protocols/test/fixtures/<proto>/<file>. */
export function fixturePath(protocol: string, file: string): string {
  return join(packageRootNamed('@gamemesh/protocols'), 'test', 'fixtures', protocol, file);
}

let loaded: TrackFunction | null = null;

/** The addon's `track`; GM_NATIVE_ADDON overrides the path of the built addon. */
export function nativeTrack(): TrackFunction {
  if (loaded !== null) return loaded;
  const path =
    process.env.GM_NATIVE_ADDON ??
    join(packageRootNamed('@gamemesh/native'), 'build', 'Release', 'gamemesh_native.node');
  const addon = createRequire(import.meta.url)(path) as { track?: TrackFunction };
  if (typeof addon.track !== 'function') throw new Error(`${path} exports no track()`);
  loaded = addon.track;
  return loaded;
}

const CLOSE_REASON_NAMES = Object.keys(CLOSE_REASONS) as CloseReason[];

function nativeKey(event: RawNativeEvent): string | null {
  if (typeof event.key === 'bigint') return event.key.toString(10);
  if (event.key instanceof Uint8Array) return hex(event.key, 0, event.key.length);
  return null;
}

export function runNative(
  proto: number,
  config: NativeConfig,
  datagrams: readonly Datagram[],
): NativeRun {
  const raw = nativeTrack()(
    proto,
    config,
    datagrams.map((d) => ({
      data: d.data,
      direction: d.direction === 'forward' ? 0 : 1,
      at: d.at,
    })),
  );
  const events = raw.events.map(
    (e): ComparableEvent => ({
      type: e.type === 1 ? 'opened' : 'closed',
      key: nativeKey(e),
      reason: e.type === 2 ? (CLOSE_REASON_NAMES[e.reason - 1] ?? null) : null,
      at: e.at,
    }),
  );
  const stats: Record<string, number | null> = {};
  raw.statNames.forEach((name, i) => {
    const value = raw.stats[i]!;
    stats[name] = Number.isNaN(value) ? null : value;
  });
  return { events, stats, statNames: raw.statNames };
}

export function runTs(tracker: SessionTracker, datagrams: readonly Datagram[]): TrackerRun {
  const events: ComparableEvent[] = [];
  for (const datagram of datagrams) {
    for (const event of tracker.observe(datagram)) {
      events.push({
        type: event.type,
        key: event.key,
        reason: event.type === 'closed' ? event.reason : null,
        at: event.at,
      });
    }
  }
  const stats: ProtocolStats = tracker.stats();
  return { events, stats };
}

export interface Comparison {
  readonly native: NativeRun;
  /** What differs between the two runs: empty when they agree. */
  readonly diff: string[];
}

/**
 * One datagram sequence through `tracker` (TS) and through the native
 * tracker of `protocol` with `config`.
 */
export function compareTrackers(
  tracker: SessionTracker,
  protocol: keyof typeof NATIVE_PROTO,
  config: NativeConfig,
  datagrams: readonly Datagram[],
): Comparison {
  const ts = runTs(tracker, datagrams);
  const native = runNative(NATIVE_PROTO[protocol], config, datagrams);
  return { native, diff: differences(ts, native) };
}

/** A numeric native stat (null reads as 0: a counter never touched). */
export function nativeStat(run: NativeRun, name: string): number {
  const value = run.stats[name] ?? 0;
  if (typeof value !== 'number') throw new Error(`native stat ${name} is not a number`);
  return value;
}

function sameNumber(a: number, b: number): boolean {
  if (Number.isInteger(a) && Number.isInteger(b)) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Differences between a TS run and a native run (empty = they agree):
 * identical events, and every stat the native tracker names equal to the TS
 * stat of that name (integers exactly, doubles to 1e-9 relative).
 */
export function differences(ts: TrackerRun, native: NativeRun): string[] {
  const out: string[] = [];
  const count = Math.max(ts.events.length, native.events.length);
  for (let i = 0; i < count; i++) {
    const a = ts.events[i];
    const b = native.events[i];
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`event ${i}: ts ${JSON.stringify(a)} native ${JSON.stringify(b)}`);
  }
  for (const name of native.statNames) {
    if (!Object.hasOwn(ts.stats, name)) {
      out.push(`stat ${name}: not a TS stat`);
      continue;
    }
    // A boolean TS stat is 0 / 1 natively.
    const stat = ts.stats[name];
    const a = typeof stat === 'boolean' ? Number(stat) : stat;
    const b = native.stats[name] ?? null;
    if (a === null || b === null ? a !== b : typeof a !== 'number' || !sameNumber(a, b)) {
      out.push(`stat ${name}: ts ${String(a)} native ${String(b)}`);
    }
  }
  return out;
}

/**
 * The UDP flows of a capture, each as the datagram sequence a proxy would
 * see: the first datagram's sender is the client (`forward`).
 */
export async function captureFlows(path: string): Promise<Datagram[][]> {
  const { datagrams } = await readUdpDatagrams(path);
  const flows = new Map<string, { client: string; datagrams: Datagram[] }>();
  for (const d of datagrams) {
    const source = `${d.sourceAddress}|${d.sourcePort}`;
    const destination = `${d.destinationAddress}|${d.destinationPort}`;
    const id = source < destination ? `${source}~${destination}` : `${destination}~${source}`;
    let flow = flows.get(id);
    if (flow === undefined) {
      flow = { client: source, datagrams: [] };
      flows.set(id, flow);
    }
    flow.datagrams.push({
      data: d.payload,
      direction: source === flow.client ? 'forward' : 'reverse',
      at: d.at,
    });
  }
  return [...flows.values()].map((flow) => flow.datagrams);
}

/** The UDP flows of a committed capture: packages/protocols/test/fixtures/<protocol>/<file>. */
export function fixtureFlows(protocol: string, file: string): Promise<Datagram[][]> {
  return captureFlows(fixturePath(protocol, file));
}
