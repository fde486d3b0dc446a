import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bindUdp, closeUdp, type StartedProxy, startProxy, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * Real node-kcp (reference ikcp.c) pairs through the proxy started by its
 * CLI, on a key-mode listener: each conversation id selects its pod from the
 * configured routes, so two conversations land on two different upstreams.
 */

type KcpPairModule = typeof import('../../../native/test/dataplane/kcp-pair.js');

const CONV_A = 0x1a2b3c;
const CONV_B = 0x0badcafe;

test('key mode: two KCP conversations routed by conv to two upstreams; sessions and metrics', async () => {
  const { startKcpPair } = await importSiblingTest<KcpPairModule>('native', 'dataplane/kcp-pair');
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-kcp-'));
  const podA = await bindUdp();
  const podB = await bindUdp();
  const clientA = await bindUdp();
  const clientB = await bindUdp();
  const fromA = new Set<string>();
  const fromB = new Set<string>();
  podA.on('message', (_m, from) => fromA.add(`${from.port}`));
  podB.on('message', (_m, from) => fromB.add(`${from.port}`));
  let proxy: StartedProxy | null = null;
  const pairs: { stop(): void }[] = [];
  try {
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'logLevel: info',
        'listeners:',
        '  - { name: game, address: "127.0.0.1:0", mode: key, allowLoopbackSources: true }',
        'pods:',
        `  - { id: pod-a, address: "127.0.0.1:${podA.address().port}", protocol: kcp }`,
        `  - { id: pod-b, address: "127.0.0.1:${podB.address().port}", protocol: kcp }`,
        'routes:',
        `  - { key: "${CONV_A}", pod: pod-a }`,
        `  - { key: "${CONV_B}", pod: pod-b }`,
        'dataPlane: { idleTimeoutMs: 600, sweepIntervalMs: 50 }',
      ].join('\n'),
    );
    proxy = await startProxy(['--config', file]);
    const port = proxy.running.proxy.listenerPorts().game!;
    const target = { address: '127.0.0.1', port };
    const pairA = startKcpPair(CONV_A, clientA, target, podA);
    const pairB = startKcpPair(CONV_B, clientB, target, podB);
    pairs.push(pairA, pairB);
    const messages = Array.from({ length: 20 }, (_, i) => `msg ${i} ${'k'.repeat(i * 10)}`);
    for (const m of messages) {
      pairA.send(`A ${m}`);
      pairB.send(`B ${m}`);
    }
    await waitFor(
      'both conversations echoed through the proxy',
      () => pairA.echoed.length === messages.length && pairB.echoed.length === messages.length,
    );
    assert.equal(
      pairA.echoed,
      messages.map((m) => `A ${m}`),
    );
    assert.equal(
      pairB.echoed,
      messages.map((m) => `B ${m}`),
    );
    assert.is(fromA.size, 1, 'pod A saw one upstream socket');
    assert.is(fromB.size, 1, 'pod B saw one upstream socket');

    const admin = `http://${proxy.running.admin}`;
    const listed = (await (await fetch(`${admin}/sessions?protocol=kcp`)).json()) as {
      sessions: {
        key: string;
        upstream: string;
        state: string;
        packets: { forward: number; reverse: number };
        rttMs: number | null;
      }[];
    };
    const byKey = new Map(listed.sessions.map((s) => [s.key, s]));
    assert.is(byKey.get(String(CONV_A))?.upstream, `127.0.0.1:${podA.address().port}`);
    assert.is(byKey.get(String(CONV_B))?.upstream, `127.0.0.1:${podB.address().port}`);
    for (const s of listed.sessions) {
      assert.is(s.state, 'open');
      assert.ok(s.packets.forward > 0 && s.packets.reverse > 0, 'packets both ways');
    }
    const none = (await (await fetch(`${admin}/sessions?protocol=rtp`)).json()) as {
      count: number;
    };
    assert.is(none.count, 0, 'the protocol filter applies');

    // KCP has no disconnect in the protocol: the idle backstop closes the sessions.
    for (const pair of pairs) pair.stop();
    pairs.length = 0;
    await waitFor('idle closes', () => proxy!.running.proxy.sessions.activeCount === 0, 5000);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_sessions_opened_total\{protocol="kcp"\} 2/);
    assert.match(metrics, /gamemesh_proxy_sessions_closed_total\{protocol="kcp",reason="idle"\} 2/);
    assert.match(
      metrics,
      /gamemesh_proxy_classifications_total\{outcome="matched",protocol="kcp"\} 2/,
    );
    assert.match(
      metrics,
      /gamemesh_proxy_packets_total\{protocol="kcp",direction="forward"\} [1-9]/,
    );
    assert.match(metrics, /gamemesh_proxy_routes 2/);
    const closes = proxy.logs.filter((l) => l.event === 'session_closed');
    assert.is(closes.length, 2, 'one log line per close');
    assert.is(closes[0]?.protocol, 'kcp');
    assert.is(closes[0]?.reason, 'idle');
    assert.ok(typeof closes[0]?.stats === 'object', 'close line carries the stats');
    assert.is(proxy.logs.filter((l) => l.event === 'session_opened').length, 2);
  } finally {
    for (const pair of pairs) pair.stop();
    await proxy?.running.close();
    for (const s of [podA, podB, clientA, clientB]) await closeUdp(s);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
