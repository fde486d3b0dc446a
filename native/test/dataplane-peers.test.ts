import {
  createClassifier,
  createRegistry,
  type Datagram,
  type FlowClassifier,
} from '@gamemesh/core';
import { builtinProtocols } from '@gamemesh/protocols';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type NativeProtocol, type SessionEvent } from '../ts/index.js';
import { startKcpPair } from './dataplane/kcp-pair.js';
import { bindSocket, closeSocket, startEcho, waitFor } from './dataplane/support.js';

/**
 * Real peers through the addon: the new flow is classified by the real
 * classifier over the built-in protocols, routed by its protocol key through
 * a route installed ahead of traffic, and then tracked natively.
 */

test('node-kcp pair: classified as kcp in TS, routed by conv, tracked natively with stats', async () => {
  const registry = createRegistry({ protocols: builtinProtocols() });
  const classifier = createClassifier(registry);
  const dp = createDataPlane({ maxSessions: 64, sweepIntervalMs: 20 });
  const client = await bindSocket('udp4', '127.0.0.1');
  const server = await bindSocket('udp4', '127.0.0.1');
  const decoy = await startEcho();
  const conv = 0x2f3a11;
  let pair: ReturnType<typeof startKcpPair> | null = null;
  try {
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    dp.installRoute(listener.id, String(conv), {
      address: '127.0.0.1',
      port: server.address().port,
    });
    dp.installRoute(listener.id, '999', { address: '127.0.0.1', port: decoy.port });
    const opened: SessionEvent[] = [];
    dp.on('opened', (event) => opened.push(event));
    const classifications = new Map<string, FlowClassifier>();
    const answered: string[] = [];
    const decide = (id: string) => {
      const flow = classifications.get(id)!;
      const c = flow.classification;
      if (c.state !== 'matched') return;
      const last = pending.get(id)!;
      const key = c.protocol.routingKey(last.datagrams[last.datagrams.length - 1]!);
      answered.push(`${c.protocol.name}:${key}`);
      dp.answer(id, { protocol: c.protocol.name as NativeProtocol, key: key ?? '' });
    };
    const pending = new Map<string, { datagrams: readonly Datagram[] }>();
    dp.on('newFlow', (flow) => {
      const classifying = classifier.flow();
      classifications.set(flow.id, classifying);
      pending.set(flow.id, flow);
      for (const d of flow.datagrams) classifying.offer(d);
      decide(flow.id);
    });
    dp.on('flowDatagram', (flow, datagram) => {
      classifications.get(flow.id)!.offer(datagram);
      decide(flow.id);
    });

    pair = startKcpPair(conv, client, { address: '127.0.0.1', port: listener.port }, server);
    const messages = Array.from({ length: 40 }, (_, i) => `message ${i} ${'x'.repeat(i * 20)}`);
    for (const message of messages) pair.send(message);
    await waitFor(
      'every message echoed through the data plane',
      () => pair!.echoed.length === messages.length,
    );
    assert.equal(pair.echoed, messages);
    assert.equal(answered, [`kcp:${conv}`], 'classified once, keyed by conv');
    assert.equal(decoy.received.length, 0);
    assert.equal(opened.length, 1);
    assert.equal(opened[0]!.protocol, 'kcp');
    assert.equal(opened[0]!.key, String(conv));

    const c = dp.counters();
    assert.ok(
      c.queue_enqueued >= 1 && c.queue_enqueued <= 8,
      'only the first datagrams went through JS',
    );
    await waitFor('native kcp stats', () => (dp.session(opened[0]!.slot)?.stats.segments ?? 0) > 0);
    const session = dp.session(opened[0]!.slot)!;
    assert.equal(session.protocol, 'kcp');
    assert.ok(session.packets.forward > 0 && session.packets.reverse > 0);
    console.log('kcp session stats from a snapshot:', JSON.stringify(session.stats));
  } finally {
    pair?.stop();
    dp.close();
    await closeSocket(client);
    await closeSocket(server);
    await closeSocket(decoy.socket);
  }
});

test('two I/O threads with SO_REUSEPORT: flows spread over both, every datagram comes back', async () => {
  const dp = createDataPlane({ threads: 2, maxSessions: 256 });
  const echo = await startEcho();
  const clients = await Promise.all(
    Array.from({ length: 24 }, () => bindSocket('udp4', '127.0.0.1')),
  );
  try {
    const listener = dp.addListener({
      address: '127.0.0.1',
      mode: 'port',
      upstream: { address: '127.0.0.1', port: echo.port },
      protocol: 'none',
    });
    let replies = 0;
    for (const client of clients) client.on('message', () => replies++);
    for (let round = 0; round < 10; round++) {
      for (const client of clients) client.send(`round ${round}`, listener.port, '127.0.0.1');
      await waitFor(`round ${round}`, () => replies === (round + 1) * clients.length);
    }
    const perThread = [dp.threadCounters(0), dp.threadCounters(1)];
    console.log(
      'flows per thread:',
      perThread.map((c) => c.flows_created),
    );
    assert.ok(
      perThread.every((c) => (c.flows_created ?? 0) > 0),
      'the kernel sharded flows over both threads',
    );
    assert.equal(dp.counters().flows_created, clients.length);
    assert.equal(dp.counters().queue_enqueued, 0, 'a fixed-protocol port listener never asks TS');
    await waitFor('tx counters', () => dp.counters().tx_client_packets === 10 * clients.length);
  } finally {
    dp.close();
    for (const client of clients) await closeSocket(client);
    await closeSocket(echo.socket);
  }
});

test.run();
