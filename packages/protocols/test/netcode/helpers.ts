import { once } from 'node:events';
import type { Datagram } from '@gamemesh/core';
import { NetcodeClient } from '../../src/netcode/client.js';
import { NetcodeServer } from '../../src/netcode/server.js';
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

export interface RecordedSession {
  readonly datagrams: Datagram[];
  readonly minted: GeneratedConnectToken;
  readonly serverPayloads: Uint8Array[];
  readonly clientPayloads: Uint8Array[];
  readonly clientIndex: number;
}

/**
 * A full real session through the recording relay: the token lists the
 * relay, the server's public address is the relay's. Connect, `payloads`
 * each way, client disconnect; everything is closed before returning.
 */
export async function recordSession(payloads = 3, clientId = 77n): Promise<RecordedSession> {
  const server = testServer(4);
  const serverPayloads: Uint8Array[] = [];
  const clientPayloads: Uint8Array[] = [];
  let relay: RecordingRelay | null = null;
  let client: NetcodeClient | null = null;
  try {
    relay = await relayInFront(server, await server.start());
    const minted = testToken({
      clientId,
      serverAddresses: [`127.0.0.1:${relay.port}`],
      expireSeconds: 60,
      timeoutSeconds: 5,
      userData: new TextEncoder().encode('team=blue'),
    });
    client = new NetcodeClient({ connectToken: minted.bytes });
    server.on('payload', (_, payload) => serverPayloads.push(payload));
    client.on('payload', (payload) => clientPayloads.push(payload));
    const connected = once(server, 'connect');
    await client.connect();
    const [info] = await withTimeout(connected, 3000, 'server connect');
    await until(() => client!.state === 'connected', 3000, 'client connected');
    for (let i = 0; i < payloads; i++) {
      client.send(new TextEncoder().encode(`c2s ${i}`));
      server.sendPayload(info.clientIndex, new TextEncoder().encode(`s2c ${i}`));
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
    // Let the remaining disconnect packets of the burst arrive at the relay.
    await until(
      () => relay!.datagrams.filter((d) => (d.data[0]! & 0x0f) === 6).length >= 10,
      2000,
      'disconnect burst',
    );
    return {
      datagrams: [...relay.datagrams],
      minted,
      serverPayloads,
      clientPayloads,
      clientIndex: info.clientIndex,
    };
  } finally {
    await client?.close();
    await server.close();
    await relay?.close();
  }
}
