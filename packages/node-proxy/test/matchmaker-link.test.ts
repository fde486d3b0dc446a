import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type LinkedProxy,
  SOLO_KCP_MATCHMAKER,
  soloKcpPods,
  startLinkedProxy,
} from './support/linked-proxy.js';
import {
  type LiveMatchmaker,
  MemoryStore,
  type PlayerAssignment,
  requestMatch,
  startMatchmaker,
} from './support/matchmaker.js';
import { bindUdp, closeUdp, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * The proxy linked to a REAL in-process matchmaker (HTTP API, rounds, link
 * server on loopback). Players are real node-kcp clients that learn their
 * conversation id (a protocol-key token) and the proxy's address from the
 * matchmaker's HTTP answer; pods are real node-kcp servers. The matchmaker is
 * then stopped and restarted on the same address and store.
 */

type KcpPairModule = typeof import('../../../native/test/dataplane/kcp-pair.js');
type KcpPair = ReturnType<KcpPairModule['startKcpPair']>;

test('matchmaker link: assignments become routes before players see them; routing survives the matchmaker going away; resync on its return', async () => {
  const { startKcpPair } = await importSiblingTest<KcpPairModule>('native', 'dataplane/kcp-pair');
  const store = new MemoryStore();
  const podIds = ['pod-a', 'pod-b', 'pod-c'];
  const pods = new Map<string, Socket>();
  const clients: Socket[] = [];
  const pairs: KcpPair[] = [];
  let mm: LiveMatchmaker | null = null;
  let proxy: LinkedProxy | null = null;
  try {
    for (const id of podIds) pods.set(id, await bindUdp());
    mm = await startMatchmaker(SOLO_KCP_MATCHMAKER, store);
    const mmPort = mm.port;
    proxy = await startLinkedProxy(mm, { config: soloKcpPods(pods) });
    const { gamePort, link } = proxy;
    const running = proxy.running.proxy;
    const admin = `http://${proxy.running.admin}`;
    const node = await mm.app.matchmaker.store.getNode('node-1');
    assert.equal(
      node?.pods.map((p) => [p.id, p.freeSlots]),
      podIds.map((id) => [id, 1]),
      'registered with its static pods and free capacity',
    );

    /** Checked the moment the player's HTTP answer arrives: the proxy must already route the key. */
    const matched = async (player: string): Promise<PlayerAssignment & { pod: string }> => {
      const request = await requestMatch(mm!, 'solo', player);
      const assignment = await request.assignment();
      const routed = running.routeOf('game', assignment.token);
      const route = link.routes().find((r) => r.key === assignment.token);
      assert.ok(route !== undefined && routed !== null, `${player}: route installed before answer`);
      assert.is(routed.port, pods.get(route.pod)!.address().port);
      assert.is(assignment.connection, `127.0.0.1:${gamePort}`, 'players are sent to the proxy');
      return { ...assignment, pod: route.pod };
    };
    const play = async (a: PlayerAssignment & { pod: string }, tag: string): Promise<KcpPair> => {
      const client = await bindUdp();
      clients.push(client);
      const [host = '', port = ''] = a.connection.split(':');
      const pair = startKcpPair(
        Number(a.token),
        client,
        { address: host, port: Number(port) },
        pods.get(a.pod)!,
      );
      pairs.push(pair);
      const messages = [`${tag} hello`, `${tag} ${'x'.repeat(300)}`, `${tag} bye`];
      for (const m of messages) pair.send(m);
      await waitFor(`${tag} echoed through the proxy`, () => pair.echoed.length >= messages.length);
      assert.equal(pair.echoed.slice(-messages.length), messages);
      return pair;
    };

    const first = await matched('alice');
    const second = await matched('bob');
    assert.is.not(first.pod, second.pod, 'two players, two pods');
    const alice = await play(first, 'alice');
    const sessions = (await (await fetch(`${admin}/sessions?protocol=kcp`)).json()) as {
      sessions: { key: string; upstream: string }[];
    };
    assert.is(
      sessions.sessions.find((s) => s.key === first.token)?.upstream,
      `127.0.0.1:${pods.get(first.pod)!.address().port}`,
      'the session went to the assigned pod',
    );
    await waitFor(
      'heartbeat reports the arrived player',
      () => {
        const pod = link.client.reportedPods().find((p) => p.id === first.pod);
        return pod?.freeSlots === 0;
      },
      3000,
    );

    // The matchmaker goes away: the last known routes keep routing.
    await mm.app.close();
    mm = null;
    await waitFor('the link notices', () => !link.connected, 5000);
    let metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_matchmaker_link_up 0/);
    assert.ok(running.routeOf('game', second.token) !== null, 'routes kept while away');
    await play(second, 'bob');
    alice.send('alice still here');
    await waitFor('alice during the outage', () => alice.echoed.includes('alice still here'));

    // Back on the same address and state: the proxy reconnects and resyncs.
    const connectsBefore = link.connects;
    mm = await startMatchmaker(SOLO_KCP_MATCHMAKER, store, mmPort);
    await waitFor('reconnect and resync', () => link.connects > connectsBefore, 5000);
    assert.equal(
      link
        .routes()
        .map((r) => r.key)
        .sort(),
      [first.token, second.token].sort(),
      'the full resync carries the live assignments',
    );
    const third = await matched('carol');
    assert.ok(![first.pod, second.pod].includes(third.pod), 'the third player gets the free pod');
    await play(third, 'carol');
    metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_matchmaker_link_up 1/);
    assert.match(metrics, /gamemesh_proxy_routes 3/);
    assert.match(metrics, /gamemesh_proxy_sessions_opened_total\{protocol="kcp"\} 3/);
    const logs = proxy.logs.map((l) => l.event);
    assert.ok(logs.includes('matchmaker_disconnected') && logs.includes('matchmaker_connected'));
  } finally {
    for (const pair of pairs) pair.stop();
    await proxy?.close();
    await mm?.app.close();
    for (const s of [...pods.values(), ...clients]) await closeUdp(s);
  }
});

test.run();
