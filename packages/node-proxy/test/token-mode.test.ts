import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTING_TOKEN_BYTES, signRoutingToken } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SessionView } from '../src/sessions.js';
import { importKcpTokenPeers } from './support/kcp-token-peers.js';
import {
  bindUdp,
  closeUdp,
  type StartedProxy,
  sleep,
  startProxy,
  waitFor,
} from './support/proxy.js';

/**
 * Token mode end to end: real node-kcp pairs whose client side appends a
 * signed routing token through a relay (what a Quilkin client proxy's
 * Concatenate filter does) → gamemesh-proxy token listener → two pods. Both
 * conversations use the SAME conv, so only the tokens can tell them apart.
 * Forged, expired and missing tokens never reach a pod and are counted.
 */

const SECRET = 'token-mode-test-secret-0123456789';
const CONV = 0x7070;

test('token mode: two tokens, two pods; forged, expired and missing tokens dropped and counted; sessions keyed by token id', async () => {
  const { startKcpPair, startTokenAppender } = await importKcpTokenPeers();
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-token-'));
  const sockets: Socket[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let proxy: StartedProxy | null = null;
  try {
    const podA = await bindUdp();
    const podB = await bindUdp();
    sockets.push(podA, podB);
    const inAtA: number[] = [];
    const inAtB: number[] = [];
    podA.on('message', (m) => inAtA.push(m.length));
    podB.on('message', (m) => inAtB.push(m.length));
    const expiresAt = Math.floor(Date.now() / 1000) + 300;
    const tokenA = signRoutingToken(SECRET, expiresAt);
    const tokenB = signRoutingToken(SECRET, expiresAt);
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        '  - { name: game, address: "127.0.0.1:0", mode: token, allowLoopbackSources: true }',
        `routingTokenSecret: ${SECRET}`,
        'pods:',
        `  - { id: pod-a, address: "127.0.0.1:${podA.address().port}", protocol: kcp }`,
        `  - { id: pod-b, address: "127.0.0.1:${podB.address().port}", protocol: kcp }`,
        'routes:',
        `  - { key: "${tokenA.key}", pod: pod-a }`,
        `  - { key: "${tokenB.key}", pod: pod-b }`,
      ].join('\n'),
    );
    proxy = await startProxy(['--config', file]);
    const running = proxy.running.proxy;
    const target = { address: '127.0.0.1', port: running.listenerPorts().game! };
    const admin = `http://${proxy.running.admin}`;

    const player = async (token: Uint8Array, pod: Socket) => {
      const game = await bindUdp();
      sockets.push(game);
      const appender = await startTokenAppender(target, token);
      closers.push(() => appender.close());
      const pair = startKcpPair(CONV, game, { address: '127.0.0.1', port: appender.port }, pod);
      closers.unshift(() => pair.stop());
      return { pair, appender };
    };
    const a = await player(tokenA.bytes, podA);
    const b = await player(tokenB.bytes, podB);
    const messages = Array.from({ length: 12 }, (_, i) => `m${i} ${'t'.repeat(i * 40)}`);
    for (const m of messages) {
      a.pair.send(`A ${m}`);
      b.pair.send(`B ${m}`);
    }
    await waitFor(
      'both players echoed through their pods',
      () => a.pair.echoed.length === messages.length && b.pair.echoed.length === messages.length,
    );
    assert.equal(
      a.pair.echoed,
      messages.map((m) => `A ${m}`),
    );
    assert.equal(
      b.pair.echoed,
      messages.map((m) => `B ${m}`),
    );
    assert.ok(inAtA.length > 0 && inAtB.length > 0, 'each pod got its own player');

    const listed = (await (await fetch(`${admin}/sessions`)).json()) as {
      sessions: SessionView[];
    };
    const byKey = new Map(listed.sessions.map((s) => [s.key, s]));
    assert.is(listed.sessions.length, 2);
    assert.is(byKey.get(tokenA.key)?.upstream, `127.0.0.1:${podA.address().port}`);
    assert.is(byKey.get(tokenB.key)?.upstream, `127.0.0.1:${podB.address().port}`);
    assert.is(byKey.get(tokenA.key)?.protocol, 'kcp', 'the tracker parsed the stripped segments');

    // A token that is not the session's: dropped natively, the session goes on.
    a.appender.setToken(tokenB.bytes);
    a.pair.send('A with the wrong token');
    await waitFor('mismatch counted', () => running.dp.counters().drop_token_mismatch > 0);
    a.appender.setToken(tokenA.bytes);
    await waitFor('retransmitted with the right token', () =>
      a.pair.echoed.includes('A with the wrong token'),
    );

    // New flows with bad tokens: nothing reaches a pod.
    const forged = Uint8Array.from(tokenA.bytes);
    forged[ROUTING_TOKEN_BYTES - 1]! ^= 0x01;
    const expired = signRoutingToken(SECRET, Math.floor(Date.now() / 1000) - 1).bytes;
    const game = Buffer.from('hello pod');
    const sendFrom = async (bytes: Uint8Array) => {
      const s = await bindUdp();
      sockets.push(s);
      s.send(bytes, target.port, target.address);
    };
    await sendFrom(Buffer.concat([game, forged]));
    await sendFrom(Buffer.concat([game, expired]));
    await sendFrom(game); // 9 bytes: no room for a token
    await waitFor(
      'bad tokens counted',
      () =>
        running.flowDrops.get('token_bad_signature') === 1 &&
        running.flowDrops.get('token_expired') === 1 &&
        running.dp.counters().drop_token_missing === 1,
    );
    await sleep(100);
    // KCP segments are 24 bytes or more: a 9-byte datagram at a pod would be the attacker's.
    assert.ok(
      !inAtA.includes(game.length) && !inAtB.includes(game.length),
      'no bad-token payload reached a pod',
    );
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="token_bad_signature"\} 1/);
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="token_expired"\} 1/);
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="token_missing"\} 1/);
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="token_mismatch"\} [1-9]/);
    assert.match(
      metrics,
      /gamemesh_proxy_classifications_total\{outcome="matched",protocol="kcp"\} 2/,
    );
    assert.match(metrics, /gamemesh_proxy_sessions_opened_total\{protocol="kcp"\} 2/);
  } finally {
    for (const close of closers) await close();
    await proxy?.running.close();
    for (const s of sockets) await closeUdp(s);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: a token listener needs the routing secret and takes no upstream; /config redacts it', async () => {
  const { parseConfig } = await import('../src/config.js');
  const listener = { name: 'game', address: '127.0.0.1:0', mode: 'token' };
  const missing = parseConfig({ listeners: [listener] });
  assert.is(missing.ok, false);
  assert.ok(!missing.ok && missing.errors.some((e) => e.path === 'routingTokenSecret'));
  const upstream = parseConfig({
    listeners: [{ ...listener, upstream: '127.0.0.1:9' }],
    routingTokenSecret: SECRET,
  });
  assert.ok(!upstream.ok && upstream.errors.some((e) => e.path === 'listeners[0].upstream'));
  const short = parseConfig({ listeners: [listener], routingTokenSecret: 'short' });
  assert.ok(!short.ok && short.errors.some((e) => e.path === 'routingTokenSecret'));
  const ok = parseConfig({ listeners: [listener], routingTokenSecret: SECRET });
  assert.ok(ok.ok);
  const { redactConfig } = await import('../src/admin.js');
  const shown = redactConfig(ok.config) as { routingTokenSecret: string };
  assert.is(shown.routingTokenSecret, '(redacted)', '/config never shows the secret');
});

test.run();
