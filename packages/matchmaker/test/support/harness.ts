import type { AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import { type MatchmakerConfig, parseConfig } from '../../src/config.js';
import type { MatchFunction } from '../../src/domain/rules.js';
import { buildApp, type MatchmakerApp } from '../../src/http/app.js';
import { LinkClient } from '../../src/link/client.js';
import { encodeFrame, type PodReport } from '../../src/link/frames.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';

export const API_KEY = 'test-api-key-0123456789';
export const LINK_SECRET = 'test-link-secret-0123456789';
export const ROUTING_SECRET = 'test-routing-secret-0123456789';
export const BEARER_SECRET = 'test-bearer-secret-0123456789';

/** A config for tests: API key and bearer auth on, the given overrides on top. */
export function testConfig(overrides: Record<string, unknown> = {}): MatchmakerConfig {
  const parsed = parseConfig({
    auth: { apiKeys: [API_KEY], bearerSecret: BEARER_SECRET },
    link: { heartbeatTimeoutMs: 1000, ackTimeoutMs: 500 },
    ...overrides,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.config;
}

/** Makes the store of each matchmaker a test starts without naming one. */
export type StoreFactory = (clock?: () => number) => Store | Promise<Store>;

let storeFactory: StoreFactory = (clock) => new MemoryStore(clock);

/** Runs the suites that follow against another store (the Redis contract run sets this). */
export function useStoreFactory(factory: StoreFactory): void {
  storeFactory = factory;
}

export interface RunningMatchmaker extends MatchmakerApp {
  readonly port: number;
  readonly linkUrl: string;
}

/** A real matchmaker listening on an ephemeral loopback port (rounds run only when a test calls them). */
export async function startMatchmaker(
  config: MatchmakerConfig,
  options: {
    store?: Store;
    clock?: () => number;
    random?: () => number;
    matchFunctions?: ReadonlyMap<string, MatchFunction>;
  } = {},
): Promise<RunningMatchmaker> {
  const built = await buildApp({
    config,
    store: options.store ?? (await storeFactory(options.clock)),
    secrets: { link: LINK_SECRET, routing: ROUTING_SECRET },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.matchFunctions === undefined ? {} : { matchFunctions: options.matchFunctions }),
  });
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (built.app.server.address() as AddressInfo).port;
  return { ...built, port, linkUrl: `ws://127.0.0.1:${port}/v1/link` };
}

export function pod(id: string, overrides: Partial<PodReport> = {}): PodReport {
  return {
    id,
    address: '10.0.0.1',
    port: 7000,
    protocol: 'udp',
    capacity: 8,
    freeSlots: 8,
    backfillSlots: 0,
    sessionId: null,
    labels: {},
    draining: false,
    ...overrides,
  };
}

/** A node proxy's real link client, resolved once registered and resynced. */
export async function connectNode(
  mm: RunningMatchmaker,
  node: { id: string; cluster: string; region?: string; publicAddress?: string },
  pods: readonly PodReport[],
  options: { refuse?: (routes: readonly unknown[]) => string | null; secret?: string } = {},
): Promise<LinkClient> {
  const client = new LinkClient({
    url: mm.linkUrl,
    secret: options.secret ?? LINK_SECRET,
    node: {
      id: node.id,
      cluster: node.cluster,
      region: node.region ?? '',
      publicAddress: node.publicAddress ?? '127.0.0.1:7777',
    },
    pods,
    heartbeatMs: 200,
    reconnectMs: 50,
    ...(options.refuse === undefined ? {} : { refuse: options.refuse }),
  });
  client.start();
  await withTimeout(client.ready(), 3000, `node ${node.id} did not register`);
  return client;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
    }),
  ]);
}

export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 3000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const auth = { 'x-api-key': API_KEY };

/**
 * Registers `nodeId` over an open hand-driven link socket (a proxy the test
 * acks or ignores itself, unlike connectNode's real client) and resolves once
 * `store` shows the node connected, so the next match round sees its pods.
 */
export async function registerByHand(
  socket: WebSocket,
  store: Store,
  nodeId: string,
  pods: readonly PodReport[],
): Promise<void> {
  socket.send(
    encodeFrame({
      t: 'register',
      version: 1,
      node: { id: nodeId, cluster: 'local', region: '', publicAddress: '127.0.0.1:9' },
      pods: [...pods],
    }),
  );
  await until(
    async () => (await store.getNode(nodeId))?.connected === true,
    3000,
    `node ${nodeId} registered`,
  );
}
