import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTING_TOKEN_BYTES, verifyRoutingToken } from '@gamemesh/core';
import { buildApp, MemoryStore, parseConfig } from '@gamemesh/matchmaker';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  freeUdpPort,
  type LiveMatchmaker,
  MM_API_KEY,
  MM_LINK_SECRET,
  requestMatch,
} from './support/matchmaker.js';
import { bindUdp, closeUdp, type StartedProxy, startProxy, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * The player flow with routing tokens, end to end on loopback: a REAL
 * matchmaker (HTTP API, rounds, link server) with a `routing`-token pool →
 * ticket → assignment (a signed token) → the proxy, linked to the matchmaker
 * and holding the same routing secret, routes the player's token-suffixed
 * traffic to the assigned pod. Players are real node-kcp clients behind a
 * token-appending relay; pods are real node-kcp servers. Mirrors the
 * protocol-key flow of matchmaker-link.test.ts.
 */

type KcpPairModule = typeof import('../../../native/test/dataplane/kcp-pair.js');
type AppenderModule = typeof import('../../../native/test/dataplane/token-appender.js');

/** The matchmaker's `tokens.routingSecret` and the proxy's `routingTokenSecret`: must be equal. */
const ROUTING_SECRET = 'token-flow-routing-secret-0123456789';

async function startMatchmaker(store: MemoryStore): Promise<LiveMatchmaker> {
  const parsed = parseConfig({
    auth: { apiKeys: [MM_API_KEY] },
    link: { heartbeatTimeoutMs: 2000, ackTimeoutMs: 2000 },
    clusters: [{ name: 'eu-1', region: 'eu' }],
    pools: [
      {
        name: 'solo',
        teams: { count: 1, size: 1 },
        protocol: 'kcp',
        token: 'routing',
        matchIntervalMs: 20,
        assignmentTtlSeconds: 60,
      },
    ],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const app = await buildApp({
    config: parsed.config,
    store,
    secrets: { link: MM_LINK_SECRET, routing: ROUTING_SECRET },
  });
  try {
    await app.app.listen({ host: '127.0.0.1', port: 0 });
  } catch (error) {
    await app.close();
    throw error;
  }
  app.matchmaker.start();
  const port = (app.app.server.address() as AddressInfo).port;
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    linkUrl: `ws://127.0.0.1:${port}/v1/link`,
  };
}

test('matchmaker with routing tokens: assignment → token-suffixed traffic reaches the assigned pod; the session is keyed by the token id', async () => {
  const { startKcpPair } = await importSiblingTest<KcpPairModule>('native', 'dataplane/kcp-pair');
  const { startTokenAppender } = await importSiblingTest<AppenderModule>(
    'native',
    'dataplane/token-appender',
  );
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-token-mm-'));
  const podIds = ['pod-a', 'pod-b'];
  const pods = new Map<string, Socket>();
  const sockets: Socket[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let mm: LiveMatchmaker | null = null;
  let proxy: StartedProxy | null = null;
  try {
    for (const id of podIds) pods.set(id, await bindUdp());
    mm = await startMatchmaker(new MemoryStore());
    const gamePort = await freeUdpPort();
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        `  - { name: game, address: "127.0.0.1:${gamePort}", mode: token, allowLoopbackSources: true }`,
        `routingTokenSecret: ${ROUTING_SECRET}`,
        'pods:',
        ...podIds.map(
          (id) =>
            `  - { id: ${id}, address: "127.0.0.1:${pods.get(id)!.address().port}", protocol: kcp, capacity: 1 }`,
        ),
        'matchmaker:',
        `  url: ${mm.linkUrl}`,
        `  secret: ${MM_LINK_SECRET}`,
        '  nodeId: node-1',
        '  cluster: eu-1',
        '  region: eu',
        `  publicAddress: "127.0.0.1:${gamePort}"`,
        '  reconnectMs: 100',
      ].join('\n'),
    );
    proxy = await startProxy(['--config', file]);
    const running = proxy.running.proxy;
    const link = running.link!;
    await waitFor('the link registers', () => link.connected, 5000);
    const admin = `http://${proxy.running.admin}`;

    const play = async (player: string, conv: number) => {
      const assignment = await (await requestMatch(mm!, 'solo', player)).assignment();
      const token = new Uint8Array(Buffer.from(assignment.token, 'base64url'));
      assert.is(token.length, ROUTING_TOKEN_BYTES, 'a routing token');
      const check = verifyRoutingToken(ROUTING_SECRET, token);
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
    await proxy?.running.close();
    await mm?.app.close();
    for (const s of [...pods.values(), ...sockets]) await closeUdp(s);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
