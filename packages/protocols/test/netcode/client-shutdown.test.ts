import { once } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetcodeClient } from '../../src/netcode/client.js';
import { NUM_DISCONNECT_PACKETS } from '../../src/netcode/constants.js';
import type { NetcodeServerClient, ServerDisconnectReason } from '../../src/netcode/server.js';
import { connectedThroughRelay, disconnectBurstAt, withTimeout } from './helpers.js';

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
    const session = await connectedThroughRelay({
      clientId: CLIENT_ID,
      timeoutSeconds: TOKEN_TIMEOUT_SECONDS,
    });
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
      assert.is(
        await disconnectBurstAt(session.relay, 'forward'),
        NUM_DISCONNECT_PACKETS,
        'every redundant packet sent by the client, once',
      );
    } finally {
      await session.stop();
    }
  });
}

test.run();
