import { once } from 'node:events';
import type { Datagram, Direction } from '@gamemesh/core';
import { NetcodeClient } from '../../src/netcode/client.js';
import { NUM_DISCONNECT_PACKETS } from '../../src/netcode/constants.js';
import { NetcodeServer, type NetcodeServerClient } from '../../src/netcode/server.js';
import {
  type ConnectTokenOptions,
  type GeneratedConnectToken,
  generateConnectToken,
} from '../../src/netcode/token.js';
import { fromHex } from '../../src/netcode/wire.js';
import { type RecordingRelay, startRecordingRelay } from '../support/relay.js';

/** A test-only key (also in test/fixtures/netcode/private-key.txt); never use it for real traffic. */
export const TEST_PRIVATE_KEY_HEX =
  '60d7a3b5c96f3b8e1d3f52a4b7c0e9f1a2b3c4d5e6f708192a3b4c5d6e7f8091';
export const TEST_PRIVATE_KEY = fromHex(TEST_PRIVATE_KEY_HEX)!;
export const TEST_PROTOCOL_ID = 0x1122334455667788n;

/** A server for the test key and protocol id, not started yet. */
export function testServer(maxClients: number): NetcodeServer {
  return new NetcodeServer({
    privateKey: TEST_PRIVATE_KEY,
    protocolId: TEST_PROTOCOL_ID,
    maxClients,
  });
}

/** A token for the test protocol id, signed with the test key unless another `privateKey` is given. */
export function testToken(
  options: Omit<ConnectTokenOptions, 'protocolId' | 'privateKey'> & {
    readonly privateKey?: Uint8Array;
  },
): GeneratedConnectToken {
  return generateConnectToken({
    protocolId: TEST_PROTOCOL_ID,
    privateKey: TEST_PRIVATE_KEY,
    ...options,
  });
}

/**
 * Starts a recording relay in front of `server` (bound at `bound`) and makes
 * the server expect the relay's address in tokens, as it would behind a proxy.
 */
export async function relayInFront(server: NetcodeServer, bound: string): Promise<RecordingRelay> {
  const relay = await startRecordingRelay({ upstreamPort: Number(bound.split(':')[1]) });
  server.setPublicAddress(`127.0.0.1:${relay.port}`);
  return relay;
}

/** Resolves when `predicate` holds, polling every 5 ms; rejects after `timeoutMs`. */
export async function until(
  predicate: () => boolean,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The low nibble of an encrypted packet's prefix byte is its type; 6 = disconnect. */
export const isDisconnectPacket = (data: Uint8Array): boolean => (data[0]! & 0x0f) === 6;

/**
 * Waits until a whole disconnect burst sent in `direction` (`forward`: by
 * the client) is at the relay; resolves to how many disconnect packets came.
 */
export async function disconnectBurstAt(
  relay: RecordingRelay,
  direction: Direction,
): Promise<number> {
  const count = () =>
    relay.datagrams.filter((d) => d.direction === direction && isDisconnectPacket(d.data)).length;
  await until(() => count() >= NUM_DISCONNECT_PACKETS, 2000, `the ${direction} disconnect burst`);
  return count();
}

export interface RelayedSessionOptions {
  readonly clientId: bigint;
  /** The token's timeout: a lost disconnect shows up as a timeout after that long. */
  readonly timeoutSeconds: number;
  readonly maxClients?: number;
  readonly expireSeconds?: number;
  readonly userData?: Uint8Array;
}

export interface RelayedSession {
  readonly server: NetcodeServer;
  readonly relay: RecordingRelay;
  readonly client: NetcodeClient;
  readonly minted: GeneratedConnectToken;
  /** The client's slot on the server. */
  readonly slot: NetcodeServerClient;
  /** Closes the client, the server and the relay, in that order (each close is idempotent). */
  stop(): Promise<void>;
}

/**
 * A client connected to a fresh server through a recording relay: the token
 * lists the relay, the server's public address is the relay's, and the relay
 * keeps what each side actually sent.
 */
export async function connectedThroughRelay(
  options: RelayedSessionOptions,
): Promise<RelayedSession> {
  const server = testServer(options.maxClients ?? 2);
  let relay: RecordingRelay | null = null;
  let client: NetcodeClient | null = null;
  const stop = async () => {
    await client?.close();
    await server.close();
    await relay?.close();
  };
  try {
    relay = await relayInFront(server, await server.start());
    const minted = testToken({
      clientId: options.clientId,
      serverAddresses: [`127.0.0.1:${relay.port}`],
      expireSeconds: options.expireSeconds ?? 30,
      timeoutSeconds: options.timeoutSeconds,
      ...(options.userData === undefined ? {} : { userData: options.userData }),
    });
    const live = new NetcodeClient({ connectToken: minted.bytes });
    client = live;
    const joined = once(server, 'connect');
    await live.connect();
    const [slot] = await withTimeout(joined, 3000, 'server connect');
    await until(() => live.state === 'connected', 3000, 'client connected');
    return { server, relay, client: live, minted, slot, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface RecordedSession {
  readonly datagrams: Datagram[];
  readonly minted: GeneratedConnectToken;
  readonly serverPayloads: Uint8Array[];
  readonly clientPayloads: Uint8Array[];
  readonly clientIndex: number;
}

/**
 * A full real session through the recording relay: connect, `payloads` each
 * way, client disconnect; everything is closed before returning.
 */
export async function recordSession(payloads = 3, clientId = 77n): Promise<RecordedSession> {
  const session = await connectedThroughRelay({
    clientId,
    timeoutSeconds: 5,
    maxClients: 4,
    expireSeconds: 60,
    userData: new TextEncoder().encode('team=blue'),
  });
  const { server, client, relay, slot } = session;
  const serverPayloads: Uint8Array[] = [];
  const clientPayloads: Uint8Array[] = [];
  try {
    server.on('payload', (_, payload) => serverPayloads.push(payload));
    client.on('payload', (payload) => clientPayloads.push(payload));
    for (let i = 0; i < payloads; i++) {
      client.send(new TextEncoder().encode(`c2s ${i}`));
      server.sendPayload(slot.clientIndex, new TextEncoder().encode(`s2c ${i}`));
    }
    await until(
      () => serverPayloads.length === payloads && clientPayloads.length === payloads,
      3000,
      'payloads',
    );
    const gone = once(server, 'disconnect');
    await client.disconnect();
    const [, reason] = await withTimeout(gone, 3000, 'server disconnect');
    if (reason !== 'client_disconnect') throw new Error(`unexpected disconnect reason ${reason}`);
    // The server reacts to the first packet of the burst; the record keeps all of them.
    await disconnectBurstAt(relay, 'forward');
    return {
      datagrams: [...relay.datagrams],
      minted: session.minted,
      serverPayloads,
      clientPayloads,
      clientIndex: slot.clientIndex,
    };
  } finally {
    await session.stop();
  }
}
