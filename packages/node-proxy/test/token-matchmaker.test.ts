import type { Socket } from 'node:dgram';
import { ROUTING_TOKEN_BYTES, verifyRoutingToken } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importKcpTokenPeers } from './support/kcp-token-peers.js';
import {
  type LinkedProxy,
  SOLO_KCP_MATCHMAKER,
  soloKcpPods,
  startLinkedProxy,
} from './support/linked-proxy.js';
import {
  type LiveMatchmaker,
  MemoryStore,
  MM_ROUTING_SECRET,
  requestMatch,
  startMatchmaker,
} from './support/matchmaker.js';
import { bindUdp, closeUdp, waitFor } from './support/proxy.js';

/**
 * The player flow with routing tokens, end to end on loopback: a REAL
 * matchmaker (HTTP API, rounds, link server) with a `routing`-token pool →
 * ticket → assignment (a signed token) → the proxy, linked to the matchmaker
 * and holding the same routing secret, routes the player's token-suffixed
 * traffic to the assigned pod. Players are real node-kcp clients behind a
 * token-appending relay; pods are real node-kcp servers. Mirrors the
 * protocol-key flow of matchmaker-link.test.ts.
 */

/** The solo KCP pool of matchmaker-link.test.ts, its assignments carrying signed routing tokens. */
const SOLO_ROUTING_MATCHMAKER = {
  ...SOLO_KCP_MATCHMAKER,
  pools: SOLO_KCP_MATCHMAKER.pools.map((pool) => ({ ...pool, token: 'routing' })),
};

test('matchmaker with routing tokens: assignment → token-suffixed traffic reaches the assigned pod; the session is keyed by the token id', async () => {
  const { startKcpPair, startTokenAppender } = await importKcpTokenPeers();
  const podIds = ['pod-a', 'pod-b'];
  const pods = new Map<string, Socket>();
  const sockets: Socket[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let mm: LiveMatchmaker | null = null;
  let proxy: LinkedProxy | null = null;
  try {
    for (const id of podIds) pods.set(id, await bindUdp());
    mm = await startMatchmaker(SOLO_ROUTING_MATCHMAKER, new MemoryStore());
    proxy = await startLinkedProxy(mm, {
      listenerMode: 'token',
      config: [
        // The matchmaker signs with it, the proxy verifies with it.
        `routingTokenSecret: ${MM_ROUTING_SECRET}`,
        ...soloKcpPods(pods),
      ],
    });
    const { gamePort, link } = proxy;
    const running = proxy.running.proxy;
    const admin = `http://${proxy.running.admin}`;

    const play = async (player: string, conv: number) => {
      const assignment = await (await requestMatch(mm!, 'solo', player)).assignment();
      const token = new Uint8Array(Buffer.from(assignment.token, 'base64url'));
      assert.is(token.length, ROUTING_TOKEN_BYTES, 'a routing token');
      const check = verifyRoutingToken(MM_ROUTING_SECRET, token);
      assert.ok(check.ok, 'signed with the shared secret');
      const key = check.ok ? check.key : '';
      // The moment the player has its answer, the proxy routes the token id.
      const route = link.routes().find((r) => r.key === key);
      assert.ok(route !== undefined && route.kind === 'routing', `${player}: routing route`);
      assert.is(
        running.routeOf('game', key)?.port,
        pods.get(route.pod)!.address().port,
        `${player}: route installed before the answer`,
      );
      assert.is(assignment.connection, `127.0.0.1:${gamePort}`, 'players are sent to the proxy');
      const [host = '', port = ''] = assignment.connection.split(':');
      const appender = await startTokenAppender({ address: host, port: Number(port) }, token);
      closers.push(() => appender.close());
      const game = await bindUdp();
      sockets.push(game);
      const pair = startKcpPair(
        conv,
        game,
        { address: '127.0.0.1', port: appender.port },
        pods.get(route.pod)!,
      );
      closers.unshift(() => pair.stop());
      const messages = [`${player} hello`, `${player} ${'y'.repeat(500)}`, `${player} bye`];
      for (const m of messages) pair.send(m);
      await waitFor(
        `${player} echoed by the assigned pod`,
        () => pair.echoed.length === messages.length,
      );
      assert.equal(pair.echoed, messages);
      return { key, pod: route.pod };
    };

    const alice = await play('alice', 11);
    const bob = await play('bob', 11);
    assert.is.not(alice.pod, bob.pod, 'two players, two pods (capacity 1 each)');

    const listed = (await (await fetch(`${admin}/sessions?protocol=kcp`)).json()) as {
      sessions: { key: string; upstream: string }[];
    };
    for (const p of [alice, bob])
      assert.is(
        listed.sessions.find((s) => s.key === p.key)?.upstream,
        `127.0.0.1:${pods.get(p.pod)!.address().port}`,
        'the session, keyed by the token id, went to the assigned pod',
      );
    await waitFor(
      'heartbeats report the arrived players',
      () => link.client.reportedPods().every((p) => p.freeSlots === 0),
      3000,
    );
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_sessions_opened_total\{protocol="kcp"\} 2/);
    assert.match(metrics, /gamemesh_proxy_routes 2/);
    assert.not.match(metrics, /gamemesh_proxy_matchmaker_assignments_refused_total\{/);
  } finally {
    for (const close of closers) await close();
    await proxy?.close();
    await mm?.app.close();
    for (const s of [...pods.values(), ...sockets]) await closeUdp(s);
  }
});

test.run();
