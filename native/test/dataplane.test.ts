import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createDataPlane,
  type DataPlane,
  type NewFlow,
  type SessionClosed,
  type SessionEvent,
} from '../ts/index.js';
import {
  bindSocket,
  closeSocket,
  type Echo,
  sleep,
  startEcho,
  waitFor,
} from './dataplane/support.js';

/**
 * The basic path through the addon: a new flow's first datagrams reach TS,
 * TS answers, and the session then runs natively both ways; events arrive in
 * batches; counters are read from shared memory, session snapshots are
 * computed by the I/O thread when asked (so they are exact, not sampled).
 */

interface Run {
  readonly dp: DataPlane;
  readonly echo: Echo;
  readonly client: Socket;
  readonly replies: Uint8Array[];
  readonly newFlows: NewFlow[];
  readonly opened: SessionEvent[];
  readonly closed: SessionClosed[];
  /** How many times the event callback fired with at least one opened/closed event. */
  eventBatches: number;
}

async function setUp(family: 4 | 6, idleTimeoutMs = 30_000): Promise<Run> {
  const type = family === 4 ? 'udp4' : 'udp6';
  const host = family === 4 ? '127.0.0.1' : '::1';
  const dp = createDataPlane({ maxSessions: 256, idleTimeoutMs, sweepIntervalMs: 20 });
  const echo = await startEcho(type, host);
  const client = await bindSocket(type, host);
  const run: Run = {
    dp,
    echo,
    client,
    replies: [],
    newFlows: [],
    opened: [],
    closed: [],
    eventBatches: 0,
  };
  client.on('message', (data) => run.replies.push(new Uint8Array(data)));
  dp.on('newFlow', (flow) => {
    run.newFlows.push(flow);
    dp.answer(flow, { protocol: 'none', upstream: { address: host, port: echo.port } });
  });
  let lastTick = -1;
  let tick = 0;
  const countBatch = () => {
    // Events of one delivery share a synchronous tick: count distinct ticks.
    if (lastTick !== tick) {
      lastTick = tick;
      run.eventBatches++;
      queueMicrotask(() => tick++);
    }
  };
  dp.on('opened', (event) => {
    countBatch();
    run.opened.push(event);
  });
  dp.on('closed', (event) => {
    countBatch();
    run.closed.push(event);
  });
  return run;
}

async function tearDown(run: Run): Promise<void> {
  run.dp.close();
  await closeSocket(run.client);
  await closeSocket(run.echo.socket);
}

for (const family of [4, 6] as const) {
  const host = family === 4 ? '127.0.0.1' : '::1';
  test(`forwards both ways on ${host}: new flow via TS, then native; counters and stats match`, async () => {
    const run = await setUp(family);
    try {
      const listener = run.dp.addListener({ address: host, mode: 'key' });
      const payloads = Array.from({ length: 200 }, (_, i) =>
        new TextEncoder().encode(`datagram ${i} `.repeat(3)),
      );
      // The first datagram alone: TS answers it, then the rest run natively.
      run.client.send(payloads[0]!, listener.port, host);
      await waitFor('the first echo', () => run.replies.length === 1);
      for (const payload of payloads.slice(1)) {
        run.client.send(payload, listener.port, host);
        await sleep(0);
      }
      await waitFor('every echo', () => run.replies.length === payloads.length);
      assert.equal(run.newFlows.length, 1, 'one new flow reached TS');
      assert.equal(run.newFlows[0]!.datagrams.length, 1, 'only the first datagram went through JS');
      assert.equal(run.newFlows[0]!.client.port, run.client.address().port);
      assert.equal(run.echo.received.length, payloads.length);
      assert.equal(
        new Set(run.replies.map((r) => new TextDecoder().decode(r))).size,
        payloads.length,
      );

      const bytes = payloads.reduce((sum, p) => sum + p.length, 0);
      await waitFor('counters', () => run.dp.counters().tx_client_packets === payloads.length);
      const c = run.dp.counters();
      assert.equal(c.rx_client_packets, payloads.length);
      assert.equal(c.rx_client_bytes, bytes);
      assert.equal(c.tx_upstream_packets, payloads.length);
      assert.equal(c.tx_upstream_bytes, bytes);
      assert.equal(c.rx_upstream_packets, payloads.length);
      assert.equal(c.tx_client_bytes, bytes);
      assert.equal(c.queue_enqueued, 1);
      assert.equal(c.flows_active, 1);
      assert.equal(c.sessions_opened, 1);

      assert.equal(run.opened.length, 1);
      const opened = run.opened[0]!;
      assert.equal(opened.protocol, 'none');
      assert.equal(opened.flow, run.newFlows[0]!.id);
      assert.equal(opened.upstream.port, run.echo.port);
      // Every datagram is accounted before its send is counted: the snapshot already has them all.
      const session = run.dp.session(opened.slot)!;
      assert.equal(session.packets.reverse, payloads.length);
      assert.equal(session.gen, Number(opened.flow.split(':')[2]));
      assert.ok(session.firstAt <= session.lastAt && session.lastAt <= Date.now() + 1000);
      assert.equal(session.state, 'open');
      assert.equal(session.packets.forward, payloads.length);
      assert.equal(session.bytes.forward, bytes);
      assert.equal(session.bytes.reverse, bytes);
    } finally {
      await tearDown(run);
    }
  });
}

test('close() is idempotent, closes open sessions with proxy_shutdown, and nothing fires after it', async () => {
  const run = await setUp(4);
  try {
    const listener = run.dp.addListener({ address: '127.0.0.1', mode: 'key' });
    run.client.send('hello', listener.port, '127.0.0.1');
    await waitFor('the echo', () => run.replies.length === 1);
    await waitFor('opened', () => run.opened.length === 1);
    run.dp.close();
    assert.equal(run.closed.length, 1, 'the shutdown close fires inside close()');
    assert.equal(run.closed[0]!.reason, 'proxy_shutdown');
    assert.equal(run.closed[0]!.packets.forward, 1);
    assert.equal(run.closed[0]!.packets.reverse, 1);
    run.dp.close();
    assert.ok(run.dp.closed);
    run.client.send('after close', listener.port, '127.0.0.1');
    await sleep(50);
    assert.equal(run.closed.length, 1);
    assert.equal(run.newFlows.length, 1);
    assert.equal(run.replies.length, 1, 'the listener socket is gone');
  } finally {
    await tearDown(run);
  }
});

test('the idle backstop closes a quiet session with reason idle, in an event batch', async () => {
  const run = await setUp(4, 100);
  try {
    const listener = run.dp.addListener({ address: '127.0.0.1', mode: 'key' });
    const clients = [
      run.client,
      await bindSocket('udp4', '127.0.0.1'),
      await bindSocket('udp4', '127.0.0.1'),
    ];
    try {
      for (const client of clients) client.send('ping', listener.port, '127.0.0.1');
      await waitFor('three opened', () => run.opened.length === 3);
      await waitFor('three idle closes', () => run.closed.length === 3, 3000);
      assert.ok(run.closed.every((c) => c.reason === 'idle'));
      assert.equal(new Set(run.closed.map((c) => c.flow)).size, 3);
      assert.ok(run.eventBatches < run.opened.length + run.closed.length, 'events arrive batched');
      const c = run.dp.counters();
      assert.equal(c.closed_idle, 3);
      assert.equal(c.flows_active, 0);
      assert.equal(run.dp.session(run.opened[0]!.slot), null, 'a removed session frees its slot');
    } finally {
      for (const client of clients.slice(1)) await closeSocket(client);
    }
  } finally {
    await tearDown(run);
  }
});

test('upstream sockets are shared across pods: a local port is unique per destination only', async () => {
  // All clients share 127.0.0.1: a per-source burst above the default 8 lets all ten in.
  const dp = createDataPlane({ maxSessions: 64, sourceBudget: { burst: 32 } });
  const pods = [await startEcho(), await startEcho()];
  const clients = await Promise.all(
    Array.from({ length: 10 }, () => bindSocket('udp4', '127.0.0.1')),
  );
  try {
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    let replies = 0;
    dp.on('newFlow', (flow) => {
      const pod = pods[flow.client.port % 2]!;
      dp.answer(flow, { protocol: 'none', upstream: { address: '127.0.0.1', port: pod.port } });
    });
    for (const client of clients) {
      client.on('message', () => replies++);
      client.send('hi', listener.port, '127.0.0.1');
    }
    await waitFor('ten echoes', () => replies === clients.length);
    const perPod = pods.map((_, i) => clients.filter((c) => c.address().port % 2 === i).length);
    assert.equal(dp.counters().upstream_sockets, Math.max(...perPod), `flows per pod ${perPod}`);
  } finally {
    dp.close();
    for (const socket of [...clients, ...pods.map((p) => p.socket)]) await closeSocket(socket);
  }
});

test.run();
