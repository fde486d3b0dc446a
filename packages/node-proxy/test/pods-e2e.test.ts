import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type LinkedProxy, SOLO_KCP_MATCHMAKER, startLinkedProxy } from './support/linked-proxy.js';
import { type LiveMatchmaker, requestMatch, startMatchmaker } from './support/matchmaker.js';
import { bindUdp, closeUdp, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * A game server registers over the pod API of a running proxy (real HTTP);
 * the proxy reports it to a real in-process matchmaker, which assigns a
 * player to it; a real node-kcp client reaches the registered pod through
 * the proxy's key-mode listener. When the pod's heartbeats stop it is
 * drained: reported `draining`, its route withdrawn, while the established
 * session keeps flowing.
 */

type KcpPairModule = typeof import('../../../native/test/dataplane/kcp-pair.js');
type KcpPair = ReturnType<KcpPairModule['startKcpPair']>;

test('a registered pod gets matchmaker players and real UDP; missed heartbeats drain it', async () => {
  const { startKcpPair } = await importSiblingTest<KcpPairModule>('native', 'dataplane/kcp-pair');
  let podSocket: Socket | null = null;
  let client: Socket | null = null;
  let pair: KcpPair | null = null;
  let mm: LiveMatchmaker | null = null;
  let proxy: LinkedProxy | null = null;
  try {
    podSocket = await bindUdp();
    mm = await startMatchmaker(SOLO_KCP_MATCHMAKER);
    proxy = await startLinkedProxy(mm, {
      config: ['podApi: { heartbeatTimeoutMs: 600 }'],
      argv: ['--log-level', 'warn'],
    });
    const { gamePort, link } = proxy;
    const running = proxy.running.proxy;
    const pods = `http://${proxy.running.pods}`;
    const registered = await fetch(`${pods}/v1/pods`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'arena-1',
        address: '127.0.0.1',
        port: podSocket.address().port,
        protocol: 'kcp',
        capacity: 1,
        labels: { map: 'dust' },
      }),
    });
    assert.is(registered.status, 201);
    const beat = () =>
      fetch(`${pods}/v1/pods/arena-1/heartbeat`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ freeSlots: 1 }),
      });
    let beating = true;
    const heartbeats = (async () => {
      while (beating) {
        await beat();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const node = async () => mm!.app.matchmaker.store.getNode('node-1');
    // The pod reaches the matchmaker with the link's next heartbeat.
    const deadline = Date.now() + 3000;
    while ((await node())?.pods.length !== 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(
      (await node())?.pods.map((p) => [p.id, p.port, p.freeSlots, p.labels.map]),
      [['arena-1', podSocket.address().port, 1, 'dust']],
    );

    const assignment = await (await requestMatch(mm, 'solo', 'alice')).assignment();
    assert.equal(running.routeOf('game', assignment.token), {
      address: '127.0.0.1',
      port: podSocket.address().port,
    });
    client = await bindUdp();
    pair = startKcpPair(
      Number(assignment.token),
      client,
      { address: '127.0.0.1', port: gamePort },
      podSocket,
    );
    pair.send('hello arena');
    await waitFor('echo through the proxy', () => pair!.echoed.includes('hello arena'));

    beating = false;
    await heartbeats;
    await waitFor('drained', () => running.pods().some((p) => p.id === 'arena-1' && p.drained));
    assert.is(running.routeOf('game', assignment.token), null, 'no new sessions to a drained pod');
    await waitFor(
      'the matchmaker hears it is draining',
      () => link.client.reportedPods().every((p) => p.draining),
      2000,
    );
    pair.send('still playing');
    await waitFor('the established session continues', () =>
      pair!.echoed.includes('still playing'),
    );
    assert.ok(proxy.logs.some((l) => l.event === 'pod_drained' && l.pod === 'arena-1'));
  } finally {
    pair?.stop();
    await proxy?.close();
    await mm?.app.close();
    if (client !== null) await closeUdp(client);
    if (podSocket !== null) await closeUdp(podSocket);
  }
});

test.run();
