import { once } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetcodeClientState } from '../../src/netcode/client.js';
import { NUM_DISCONNECT_PACKETS } from '../../src/netcode/constants.js';
import type {
  NetcodeServer,
  NetcodeServerClient,
  ServerDisconnectReason,
} from '../../src/netcode/server.js';
import { connectedThroughRelay, disconnectBurstAt, withTimeout } from './helpers.js';

/**
 * A server shut down while a client is connected, the hard case being
 * `close()` right after the disconnect packets are queued. Every redundant
 * disconnect packet must reach the wire before the socket goes, so the
 * client ends the session as disconnected by the server instead of waiting
 * out the token's timeout. The relay in front of the server counts what the
 * server actually sent.
 */

/** Short enough that a lost disconnect shows up as `connection_timed_out` within the test's wait. */
const TOKEN_TIMEOUT_SECONDS = 2;
const CLIENT_ID = 502n;

/** Ways a game server ends its sessions; each must get the whole disconnect burst out. */
const ENDINGS: Record<
  string,
  (server: NetcodeServer, client: NetcodeServerClient) => Promise<void>
> = {
  'close() while a client is connected': (server) => server.close(),
  'disconnectClient() then close() in the same tick': (server, client) => {
    server.disconnectClient(client.clientIndex);
    return server.close();
  },
};

for (const [ending, end] of Object.entries(ENDINGS)) {
  test(`${ending}: every disconnect packet leaves; the client sees a server disconnect, not a timeout`, async () => {
    const session = await connectedThroughRelay({
      clientId: CLIENT_ID,
      timeoutSeconds: TOKEN_TIMEOUT_SECONDS,
    });
    try {
      // Whatever ends the client's session first: a lost disconnect shows up as a timeout.
      const ended = withTimeout(
        once(session.client, 'disconnected') as Promise<[NetcodeClientState]>,
        (TOKEN_TIMEOUT_SECONDS + 3) * 1000,
        'the client to see the session end',
      );
      const dropped = once(session.server, 'disconnect') as Promise<
        [NetcodeServerClient, ServerDisconnectReason]
      >;
      await end(session.server, session.slot);
      const [, reason] = await dropped;
      assert.is(reason, 'server', 'the server dropped the slot itself');
      assert.is(session.server.connectedClients.length, 0);
      const [state] = await ended;
      assert.is(state, 'disconnected', 'the disconnect packets reached the client');
      assert.is(session.client.state, 'disconnected');
      assert.is(
        await disconnectBurstAt(session.relay, 'reverse'),
        NUM_DISCONNECT_PACKETS,
        'every redundant packet sent by the server, once',
      );
    } finally {
      await session.stop();
    }
  });
}

test.run();
