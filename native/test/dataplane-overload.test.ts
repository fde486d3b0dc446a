import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type NewFlow } from '../ts/index.js';
import {
  bindSocket,
  burstFromChild,
  closeSocket,
  sleep,
  startEcho,
  waitFor,
} from './dataplane/support.js';

/**
 * Overload and bad input: what does not fit is dropped and counted by reason,
 * never queued without bound, and established sessions keep flowing.
 */

test('per-source budget: one source address cannot fill the new-flow queue', async () => {
  const dp = createDataPlane({
    maxSessions: 256,
    newFlowQueue: 64,
    sourceBudget: { burst: 4, perSecond: 0 },
  });
  try {
    const flows: NewFlow[] = [];
    dp.on('newFlow', (flow) => flows.push(flow));
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    burstFromChild(listener.port, 40, 32); // 40 flows from one address (127.0.0.1), distinct ports
    await waitFor('every datagram read', () => dp.counters().rx_client_packets === 40);
    const c = dp.counters();
    assert.equal(c.queue_enqueued, 4, 'the bucket lets a burst of 4 through');
    assert.equal(c.drop_source_budget, 36);
    assert.equal(c.flows_created, 4, 'dropped datagrams take no flow table entry');
    await waitFor('the queued flows reach TS', () => flows.length === 4);
  } finally {
    dp.close();
  }
});

test('bounded queue: overflow is dropped and counted while JS is busy', async () => {
  const dp = createDataPlane({ maxSessions: 256, newFlowQueue: 8, sourceBudget: { burst: 1000 } });
  try {
    const flows: NewFlow[] = [];
    dp.on('newFlow', (flow) => flows.push(flow));
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    burstFromChild(listener.port, 30, 32); // blocks this event loop: nothing drains meanwhile
    await waitFor('every datagram read', () => dp.counters().rx_client_packets === 30);
    const c = dp.counters();
    assert.equal(c.queue_enqueued + c.drop_queue_full, 30);
    assert.ok(c.queue_enqueued >= 8 && c.drop_queue_full > 0, JSON.stringify(c));
    await waitFor('queued flows delivered', () => flows.length === c.queue_enqueued);
  } finally {
    dp.close();
  }
});

test('pending window, oversize datagrams, denied flows and pending timeout are counted', async () => {
  const dp = createDataPlane({
    maxSessions: 64,
    pendingWindow: 3,
    maxDatagramBytes: 512,
    pendingTimeoutMs: 100,
    sweepIntervalMs: 20,
  });
  const a = await bindSocket('udp4', '127.0.0.1');
  const b = await bindSocket('udp4', '127.0.0.1');
  try {
    const flows: NewFlow[] = [];
    dp.on('newFlow', (flow) => flows.push(flow));
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    // Flow a: never answered; 5 datagrams, window 3.
    for (let i = 0; i < 5; i++) a.send(new Uint8Array([i]), listener.port, '127.0.0.1');
    a.send(new Uint8Array(1000), listener.port, '127.0.0.1');
    await waitFor('flow a read', () => dp.counters().rx_client_packets === 6);
    let c = dp.counters();
    assert.equal(c.queue_enqueued, 3);
    assert.equal(c.drop_pending_window, 2);
    assert.equal(c.drop_oversize, 1, 'a datagram over maxDatagramBytes is dropped, not cut');
    await waitFor(
      'pending flow a delivered',
      () => flows.length === 1 && flows[0]!.datagrams.length === 3,
    );
    assert.equal([...flows[0]!.datagrams.map((d) => d.data[0])], [0, 1, 2]);
    // Flow b: TS denies it.
    b.send('knock', listener.port, '127.0.0.1');
    await waitFor('flow b', () => flows.length === 2);
    dp.answer(flows[1]!, { drop: true });
    assert.throws(
      () => dp.answer(flows[1]!, { drop: true }),
      (e: { code?: string }) => e.code === 'GM_NATIVE_UNKNOWN_FLOW',
    );
    await sleep(20);
    b.send('knock again', listener.port, '127.0.0.1');
    await waitFor('denied drop', () => dp.counters().drop_flow_denied === 1);
    await waitFor(
      'pending timeout of flow a',
      () => dp.counters().drop_pending_timeout === 1,
      3000,
    );
    c = dp.counters();
    assert.equal(c.tx_upstream_packets, 0);
    assert.equal(c.sessions_opened, 0);
  } finally {
    dp.close();
    await closeSocket(a);
    await closeSocket(b);
  }
});

test('an established session keeps flowing while a flood of new flows is dropped', async () => {
  const dp = createDataPlane({
    maxSessions: 1024,
    newFlowQueue: 16,
    sourceBudget: { burst: 2, perSecond: 0 },
  });
  const echo = await startEcho();
  const client = await bindSocket('udp4', '127.0.0.1');
  try {
    let replies = 0;
    client.on('message', () => replies++);
    dp.on('newFlow', (flow) => {
      if (flow.client.port === client.address().port) {
        dp.answer(flow, { protocol: 'none', upstream: { address: '127.0.0.1', port: echo.port } });
      }
    });
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    client.send('hello', listener.port, '127.0.0.1');
    await waitFor('session up', () => replies === 1);
    burstFromChild(listener.port, 300, 64);
    for (let i = 0; i < 100; i++) {
      client.send(`after ${i}`, listener.port, '127.0.0.1');
      await sleep(0);
    }
    await waitFor('every session datagram echoed', () => replies === 101);
    assert.equal(
      dp.counters().drop_source_budget,
      300 - 1,
      'the flood spent the shared source budget',
    );
  } finally {
    dp.close();
    await closeSocket(client);
    await closeSocket(echo.socket);
  }
});

test.run();
