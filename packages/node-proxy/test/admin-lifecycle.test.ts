import type { Socket } from 'node:dgram';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildAdminApp } from '../src/admin.js';
import { type ProxyConfig, parseConfig } from '../src/config.js';
import { ProxyMetrics } from '../src/metrics.js';
import { NodeProxy } from '../src/proxy.js';
import { bindUdp, closeUdp, waitFor } from './support/proxy.js';

/**
 * The admin API through inject(), drain and reload on a real data plane with
 * plain UDP echo pods (flows no protocol claims are forwarded untracked).
 */

function config(raw: Record<string, unknown>): ProxyConfig {
  const parsed = parseConfig(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.config;
}

async function echoPod(tag: string): Promise<Socket> {
  const socket = await bindUdp();
  socket.on('message', (message, from) =>
    socket.send(Buffer.concat([Buffer.from(`${tag}:`), message]), from.port, from.address),
  );
  return socket;
}

function replies(socket: Socket): string[] {
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  return got;
}

function baseConfig(upstreamPort: number): Record<string, unknown> {
  return {
    listeners: [
      {
        name: 'game',
        address: '127.0.0.1:0',
        upstream: `127.0.0.1:${upstreamPort}`,
        allowLoopbackSources: true,
      },
    ],
    protocols: { netcode: { privateKey: 'ab'.repeat(32) } },
    drain: { deadlineSeconds: 1 },
    logLevel: 'silent',
  };
}

test('admin API: livez, readyz, config (redacted), sessions, metrics, 404 code', async () => {
  const pod = await echoPod('a');
  const client = await bindUdp();
  const got = replies(client);
  const proxy = new NodeProxy(config(baseConfig(pod.address().port)), pino({ level: 'silent' }));
  const app = buildAdminApp({
    proxy,
    metrics: new ProxyMetrics(proxy),
    config: () => proxy.config,
  });
  try {
    assert.is((await app.inject('/livez')).statusCode, 200);
    assert.is((await app.inject('/readyz')).statusCode, 200);
    const shown = (await app.inject('/config')).json();
    assert.is(shown.protocols.netcode.privateKey, '(redacted)');
    const missing = await app.inject('/nope');
    assert.is(missing.statusCode, 404);
    assert.is(missing.json().error.code, 'GM_PROXY_NOT_FOUND');
    assert.is((await app.inject('/sessions?state=sideways')).statusCode, 400);

    client.send('hello', proxy.listenerPorts().game!, '127.0.0.1');
    await waitFor('echo through the proxy', () => got.length === 1);
    assert.equal(got, ['a:hello']);
    const sessions = (await app.inject('/sessions?protocol=none')).json();
    assert.is(sessions.count, 1);
    assert.is(sessions.sessions[0].state, 'open');
    assert.equal(sessions.sessions[0].packets, { forward: 1, reverse: 1 });
    assert.is(sessions.sessions[0].upstream, `127.0.0.1:${pod.address().port}`);
    const metrics = (await app.inject('/metrics')).body;
    assert.match(
      metrics,
      /gamemesh_proxy_classifications_total\{outcome="unknown",protocol="none"\} 1/,
    );
    assert.match(metrics, /gamemesh_proxy_sessions_active\{protocol="none"\} 1/);
    assert.match(metrics, /gamemesh_proxy_dataplane_packets_total\{leg="tx_client"\} 1/);
    assert.match(metrics, /gamemesh_proxy_packets_total\{protocol="none",direction="reverse"\} 1/);
    assert.match(metrics, /gamemesh_proxy_new_flow_queue_depth \d+/);
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="source_budget"\} 0/);
  } finally {
    proxy.close();
    await app.close();
    await closeUdp(pod);
    await closeUdp(client);
  }
});

test('public listener drops loopback sources unless allowed', async () => {
  const pod = await echoPod('a');
  const client = await bindUdp();
  const got = replies(client);
  const raw = baseConfig(pod.address().port);
  (raw.listeners as Record<string, unknown>[])[0]!.allowLoopbackSources = false;
  const proxy = new NodeProxy(config(raw), pino({ level: 'silent' }));
  try {
    client.send('hello', proxy.listenerPorts().game!, '127.0.0.1');
    await waitFor('drop counted', () => proxy.flowDrops.get('source_loopback') === 1);
    client.send('again', proxy.listenerPorts().game!, '127.0.0.1');
    await waitFor('denied natively', () => proxy.dp.counters().drop_flow_denied >= 1);
    assert.equal(got, []);
  } finally {
    proxy.close();
    await closeUdp(pod);
    await closeUdp(client);
  }
});

test('reload changes the upstream for new flows only; restart-only changes are refused', async () => {
  const podA = await echoPod('a');
  const podB = await echoPod('b');
  const early = await bindUdp();
  const late = await bindUdp();
  const gotEarly = replies(early);
  const gotLate = replies(late);
  const proxy = new NodeProxy(config(baseConfig(podA.address().port)), pino({ level: 'silent' }));
  try {
    const port = proxy.listenerPorts().game!;
    early.send('1', port, '127.0.0.1');
    await waitFor('early session', () => gotEarly.length === 1);
    const moved = baseConfig(podB.address().port);
    assert.equal(proxy.reload(config(moved)), { ok: true });
    early.send('2', port, '127.0.0.1');
    late.send('1', port, '127.0.0.1');
    await waitFor('both answered', () => gotEarly.length === 2 && gotLate.length === 1);
    assert.equal(gotEarly, ['a:1', 'a:2'], 'the established session stays on its pod');
    assert.equal(gotLate, ['b:1'], 'new flows go to the new upstream');

    const rebind = baseConfig(podB.address().port);
    (rebind.listeners as Record<string, unknown>[])[0]!.address = '127.0.0.1:1';
    rebind.dataPlane = { threads: 2 };
    const refused = proxy.reload(config(rebind));
    assert.equal(refused, {
      ok: false,
      problems: ['dataPlane: needs a restart', 'listeners[0].address: needs a restart'],
    });
  } finally {
    proxy.close();
    for (const s of [podA, podB, early, late]) await closeUdp(s);
  }
});

test('drain: not ready, no new sessions, established ones run until the deadline', async () => {
  const pod = await echoPod('a');
  const early = await bindUdp();
  const late = await bindUdp();
  const gotEarly = replies(early);
  const gotLate = replies(late);
  const closes: string[] = [];
  const proxy = new NodeProxy(config(baseConfig(pod.address().port)), pino({ level: 'silent' }));
  proxy.dp.on('closed', (s) => closes.push(s.reason));
  const app = buildAdminApp({
    proxy,
    metrics: new ProxyMetrics(proxy),
    config: () => proxy.config,
  });
  try {
    const port = proxy.listenerPorts().game!;
    early.send('1', port, '127.0.0.1');
    await waitFor('established', () => gotEarly.length === 1);
    const drained = proxy.drain(800);
    assert.is((await app.inject('/readyz')).statusCode, 503);
    late.send('1', port, '127.0.0.1');
    early.send('2', port, '127.0.0.1');
    await waitFor('established session still served', () => gotEarly.length === 2);
    await waitFor('new flow refused', () => proxy.flowDrops.get('draining') === 1);
    const started = Date.now();
    await drained;
    assert.ok(Date.now() - started < 1500, 'drain ends at the deadline');
    assert.equal(gotLate, []);
    assert.equal(closes, ['proxy_shutdown']);
    assert.ok(proxy.dp.closed);
  } finally {
    proxy.close();
    await app.close();
    for (const s of [pod, early, late]) await closeUdp(s);
  }
});

test.run();
