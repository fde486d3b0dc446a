import { once } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetcodeClient } from '../../src/netcode/client.js';
import { NUM_DISCONNECT_PACKETS } from '../../src/netcode/constants.js';
import type { NetcodeServerClient, ServerDisconnectReason } from '../../src/netcode/server.js';
import type { RecordingRelay } from '../support/relay.js';
import { relayInFront, testServer, testToken, until, withTimeout } from './helpers.js';

/**
 * A client shut down the ways an application ends a session, the hard one
 * being `disconnect()` and `close()` in the same tick. Every redundant
 * disconnect packet must reach the wire before the socket goes, so the
 * server frees the slot as a client disconnect instead of waiting out the
 * token's timeout. The relay in front of the server counts what the client
 * actually sent.
 */

/** Short enough that a lost disconnect shows up as a `timeout` within the test's wait. */
const TOKEN_TIMEOUT_SECONDS = 2;
const CLIENT_ID = 501n;

/** The low nibble of an encrypted packet's prefix byte is its type; 6 = disconnect. */
const isDisconnectPacket = (data: Uint8Array): boolean => (data[0]! & 0x0f) === 6;

/** A client connected to a fresh server through a recording relay; `stop()` closes all three. */
async function connectedClient() {
  const server = testServer(2);
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
      clientId: CLIENT_ID,
      serverAddresses: [`127.0.0.1:${relay.port}`],
      expireSeconds: 30,
      timeoutSeconds: TOKEN_TIMEOUT_SECONDS,
    });
    const live = new NetcodeClient({ connectToken: minted.bytes });
    client = live;
    const joined = once(server, 'connect');
    await live.connect();
    await withTimeout(joined, 3000, 'server connect');
    await until(() => live.state === 'connected', 3000, 'client connected');
    return { server, relay, client: live, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Ways an application ends a session; each must get the whole disconnect burst out. */
const ENDINGS: Record<string, (client: NetcodeClient) => Promise<void>> = {
  'disconnect() then close() in the same tick': async (client) => {
    void client.disconnect();
    await client.close();
  },
  'close() alone while connected': (client) => client.close(),
  'disconnect() awaited, then close()': async (client) => {
    await client.disconnect();
    assert.is(client.state, 'disconnected');
    assert.ok(client.port !== null, 'disconnect() keeps the socket until close()');
    await client.close();
  },
};

for (const [ending, end] of Object.entries(ENDINGS)) {
  test(`${ending}: every disconnect packet leaves; the server frees the slot as client_disconnect`, async () => {
    const session = await connectedClient();
    try {
      // Whatever frees the slot first: a lost disconnect shows up as `timeout`.
      const released = withTimeout(
        once(session.server, 'disconnect') as Promise<
          [NetcodeServerClient, ServerDisconnectReason]
        >,
        (TOKEN_TIMEOUT_SECONDS + 3) * 1000,
        'the slot to be freed',
      );
      await end(session.client);
      assert.is(session.client.port, null, 'the socket is released');
      const [slot, reason] = await released;
      assert.is(reason, 'client_disconnect', 'the disconnect packets reached the server');
      assert.is(slot.clientId, CLIENT_ID);
      assert.is(session.server.connectedClients.length, 0);
      const relay = session.relay;
      const sentByClient = () =>
        relay.datagrams.filter((d) => d.direction === 'forward' && isDisconnectPacket(d.data));
      await until(
        () => sentByClient().length >= NUM_DISCONNECT_PACKETS,
        2000,
        'the whole disconnect burst at the relay',
      );
      assert.is(sentByClient().length, NUM_DISCONNECT_PACKETS, 'every redundant packet, once');
    } finally {
      await session.stop();
    }
  });
}

test.run();
