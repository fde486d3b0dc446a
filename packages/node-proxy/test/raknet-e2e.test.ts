import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SessionView } from '../src/sessions.js';
import { freeUdpPort } from './support/matchmaker.js';
import { loopbackPortModeArgs, type StartedProxy, startProxy, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * raknet-native (the reference RakNet library) client and server through the
 * proxy: the server on a pod port, the client talking to the proxy's
 * listener. The client's close sends ID_DISCONNECTION_NOTIFICATION, which the
 * proxy's RakNet tracker must turn into a protocol close within a second.
 */

type RakNetPeers = typeof import('../../protocols/test/raknet/raknet-peers.js');

test('raknet: ping/pong, connect, messages both ways; close → protocol_disconnect within 1 s', async () => {
  const { RakNetClientPeer, RakNetServerPeer, serverSend } = await importSiblingTest<RakNetPeers>(
    'packages/protocols',
    'raknet/raknet-peers',
  );
  const podPort = await freeUdpPort();
  const server = new RakNetServerPeer(podPort);
  let client: InstanceType<RakNetPeers['RakNetClientPeer']> | null = null;
  let proxy: StartedProxy | null = null;
  try {
    proxy = await startProxy(loopbackPortModeArgs(podPort));
    const running = proxy.running.proxy;
    const admin = `http://${proxy.running.admin}`;
    client = new RakNetClientPeer('127.0.0.1', running.listenerPorts().default!);
    await client.ping();
    await client.connect();
    const atServer = await server.connected;
    const up = Array.from({ length: 5 }, (_, i) => `up ${i} ${'u'.repeat(i * 100)}`);
    const down = Array.from({ length: 5 }, (_, i) => `down ${i} ${'d'.repeat(i * 100)}`);
    for (const m of up) client.send(m);
    for (const m of down) serverSend(atServer, m);
    await waitFor(
      'messages both ways',
      () => server.received.length >= up.length && client!.received.length >= down.length,
    );
    assert.equal(server.received, up);
    assert.equal(client.received, down);

    const open = (await (await fetch(`${admin}/sessions?protocol=raknet`)).json()) as {
      sessions: SessionView[];
    };
    assert.is(open.sessions.length, 1, 'one RakNet session for ping, connect and messages');
    const session = open.sessions[0]!;
    assert.is(session.state, 'open');
    assert.ok(session.packets.forward > 0 && session.packets.reverse > 0);

    const closedAt = Date.now();
    client.close();
    client = null;
    await waitFor('the proxy closes the session', () => running.sessions.activeCount === 0, 1000);
    const tookMs = Date.now() - closedAt;
    assert.ok(tookMs <= 1000, `closed in ${tookMs} ms`);
    const closed = (await (
      await fetch(`${admin}/sessions?protocol=raknet&state=closed`)
    ).json()) as {
      sessions: SessionView[];
    };
    assert.is(closed.sessions.length, 1);
    assert.is(closed.sessions[0]?.reason, 'protocol_disconnect');
    assert.is(closed.sessions[0]?.key, atServer.guid, 'keyed by the client GUID the server saw');
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(
      metrics,
      /gamemesh_proxy_sessions_closed_total\{protocol="raknet",reason="protocol_disconnect"\} 1/,
    );
    assert.match(metrics, /gamemesh_proxy_sessions_opened_total\{protocol="raknet"\} 1/);
    assert.not.match(metrics, /gamemesh_proxy_sessions_active\{protocol="raknet"\} [1-9]/);
    await server.disconnected;
  } finally {
    client?.close();
    await proxy?.running.close();
    server.close();
  }
});

test.run();
