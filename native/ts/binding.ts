import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

/** The addon's flat API (src/addon.c). Only the wrapper calls it. */

export interface RawFlowRef {
  readonly thread: number;
  readonly slot: number;
  readonly gen: number;
  readonly listener: number;
}

export interface RawNewDatagram extends RawFlowRef {
  readonly address: string;
  readonly port: number;
  readonly family: number;
  readonly at: number;
  readonly data: Uint8Array;
}

export interface RawEvent extends RawFlowRef {
  readonly type: number;
  readonly reason: number;
  readonly proto: number;
  readonly key: bigint | Uint8Array | null;
  readonly at: number;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly upstreamAddress: string;
  readonly upstreamPort: number;
  readonly packetsForward: number;
  readonly packetsReverse: number;
  readonly bytesForward: number;
  readonly bytesReverse: number;
}

export interface RawOptions {
  readonly threads: number;
  readonly maxSessions: number;
  readonly queueCapacity: number;
  readonly eventCapacity: number;
  readonly idleMs: number;
  readonly pendingMs: number;
  readonly sweepMs: number;
  readonly batch: number;
  readonly maxDatagram: number;
  readonly pendingWindow: number;
  readonly sourceBurst: number;
  readonly sourceRate: number;
  readonly flowBurst: number;
  readonly flowRate: number;
  /** 1: equal-size runs leave as UDP GSO sends; 0: one datagram per message. */
  readonly gso: 0 | 1;
}

export interface RawConstants {
  readonly counterNames: readonly string[];
  readonly counterStride: number;
  readonly sessionWords: number;
  readonly sessionStatsOffset: number;
  readonly statsMax: number;
  readonly flowEntryBytes: number;
  readonly maxThreads: number;
  readonly maxListeners: number;
  readonly maxBatch: number;
  readonly maxHeld: number;
  readonly maxTokenSuffix: number;
  readonly statNames: Readonly<Record<string, readonly string[]>>;
  readonly sessionFields: Readonly<Record<string, number>>;
}

/** The data plane's own memory accounting, in bytes (gm_dp_memory in gm_dataplane.h). */
export interface RawMemory {
  readonly flowEntryBytes: number;
  readonly flowEntriesTouched: number;
  readonly indexBytes: number;
  readonly upstreamBytes: number;
  readonly ringBytes: number;
  readonly sharedBytes: number;
  /** Token store up to the highest slot a token-listener flow used (0 without token listeners). */
  readonly tokenBytes: number;
  readonly capacity: number;
}

export type RawHandle = object & { readonly __brand?: 'gamemesh-dataplane' };

export interface RawBinding {
  create(
    options: RawOptions,
    onBatch: (datagrams: RawNewDatagram[], events: RawEvent[]) => void,
  ): {
    handle: RawHandle;
    memory: ArrayBuffer;
    layout: { slotsPerThread: number };
  };
  addListener(
    handle: RawHandle,
    family: number,
    address: string,
    port: number,
    mode: number,
    fixedProto: number,
    upstreamFamily: number,
    upstreamAddress: string,
    upstreamPort: number,
    variant: number,
    clockRateHz: number,
    maxPushLen: number,
    tokenSuffix: number,
  ): { id: number; port: number };
  setUpstream(
    handle: RawHandle,
    listener: number,
    family: number,
    address: string,
    port: number,
  ): void;
  answer(
    handle: RawHandle,
    thread: number,
    slot: number,
    gen: number,
    proto: number,
    variant: number,
    clockRateHz: number,
    maxPushLen: number,
    upstreamFamily: number,
    upstreamAddress: string,
    upstreamPort: number,
    held: readonly { data: Uint8Array; at: number }[],
    /** The token accepted for a token listener's flow; empty otherwise. */
    token: Uint8Array,
  ): void;
  drop(handle: RawHandle, thread: number, slot: number, gen: number): void;
  /** reason: an index of NATIVE_CLOSE_REASONS (not 0). */
  closeSession(handle: RawHandle, thread: number, slot: number, gen: number, reason: number): void;
  close(handle: RawHandle): RawEvent[];
  /** Fills rows (constants.sessionWords doubles per slot) with snapshots of the given global slots. */
  sessions(handle: RawHandle, slots: Uint32Array, rows: Float64Array): void;
  memory(handle: RawHandle): RawMemory;
  readonly constants: RawConstants;
}

/** The package root: the nearest directory above this file whose package.json names @gamemesh/native. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === '@gamemesh/native') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new NativeError('GM_NATIVE_LOAD_FAILED', 'package root not found');
    dir = parent;
  }
}

let loaded: RawBinding | null = null;

/** Loads the addon once. GM_NATIVE_ADDON overrides the path (e.g. a sanitizer build). */
export function binding(): RawBinding {
  if (loaded !== null) return loaded;
  const path =
    process.env.GM_NATIVE_ADDON ?? join(packageRoot(), 'build', 'Release', 'gamemesh_native.node');
  try {
    loaded = createRequire(import.meta.url)(path) as RawBinding;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new NativeError(
      'GM_NATIVE_LOAD_FAILED',
      `${path}: ${reason} (run npm install in native/)`,
    );
  }
  return loaded;
}
