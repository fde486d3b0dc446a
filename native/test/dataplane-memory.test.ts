import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type SessionEvent } from '../ts/index.js';
import { bindSocket, closeSocket, startEcho, waitFor } from './dataplane/support.js';

/**
 * Memory is paid per session, not per unit of capacity: the flow table is
 * touched only as sessions arrive, freed entries are reused before new ones,
 * and sessions keep no stats block of their own (snapshots are computed by
 * the I/O threads when asked, one call for many sessions).
 */

const PER_SESSION_LIMIT = 300;

async function clients(count: number): Promise<Socket[]> {
  return Promise.all(Array.from({ length: count }, () => bindSocket('udp4', '127.0.0.1')));
}

test('untouched capacity costs no memory; an entry plus its index share stays within 300 bytes', () => {
  const capacity = 1 << 22;
  global.gc?.();
  const before = process.memoryUsage.rss();
  const dp = createDataPlane({ maxSessions: capacity, threads: 2 });
  try {
    const grown = process.memoryUsage.rss() - before;
    const m = dp.memoryUsage();
    const perSession = m.flowEntryBytes + m.indexBytes / m.capacity;
    console.log(
      `capacity ${capacity}: RSS +${(grown / 1048576).toFixed(1)} MiB at creation; ` +
        `entry ${m.flowEntryBytes} B + index ${(m.indexBytes / m.capacity).toFixed(1)} B = ${perSession.toFixed(1)} B/session`,
    );
    assert.is(m.capacity, capacity);
    assert.is(m.flowEntriesTouched, 0);
    assert.ok(perSession <= PER_SESSION_LIMIT, `${perSession} B/session`);
    // Eagerly written, this capacity would be over a gigabyte (entries alone: 4M x 256 B).
    assert.ok(grown < 64 * 1048576, `RSS grew ${grown} bytes at creation`);
  } finally {
    dp.close();
  }
});

test('entries are touched as sessions arrive, and freed ones are reused first', async () => {
  const dp = createDataPlane({
    maxSessions: 100_000,
    idleTimeoutMs: 100,
    sweepIntervalMs: 20,
    sourceBudget: { burst: 64 },
  });
  const echo = await startEcho();
  const first = await clients(12);
  const second = await clients(8);
  try {
    const upstream = { address: '127.0.0.1', port: echo.port };
    const opened: SessionEvent[] = [];
    let closed = 0;
    dp.on('newFlow', (flow) => dp.answer(flow, { protocol: 'none', upstream }));
    dp.on('opened', (s) => opened.push(s));
    dp.on('closed', () => closed++);
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    for (const c of first) c.send('one', listener.port, '127.0.0.1');
    await waitFor('12 sessions', () => opened.length === 12);
    assert.is(dp.memoryUsage().flowEntriesTouched, 12);
    await waitFor('12 idle closes', () => closed === 12);
    for (const c of second) c.send('two', listener.port, '127.0.0.1');
    await waitFor('8 more sessions', () => opened.length === 20);
    assert.is(dp.memoryUsage().flowEntriesTouched, 12, 'the freed entries were reused');
    const firstSlots = new Set(opened.slice(0, 12).map((s) => s.slot));
    assert.ok(
      opened.slice(12).every((s) => firstSlots.has(s.slot)),
      'new sessions took freed slots',
    );
  } finally {
    dp.close();
    for (const c of [...first, ...second]) await closeSocket(c);
    await closeSocket(echo.socket);
  }
});

test('sessions(slots) snapshots many sessions over two threads in one call, exactly', async () => {
  const dp = createDataPlane({ threads: 2, maxSessions: 64, sourceBudget: { burst: 64 } });
  const echo = await startEcho();
  const peers = await clients(10);
  try {
    const upstream = { address: '127.0.0.1', port: echo.port };
    const opened: SessionEvent[] = [];
    dp.on('newFlow', (flow) => dp.answer(flow, { protocol: 'none', upstream }));
    dp.on('opened', (s) => opened.push(s));
    const replies = new Map<Socket, number>();
    for (const peer of peers)
      peer.on('message', () => replies.set(peer, (replies.get(peer) ?? 0) + 1));
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    // Peer i sends i + 1 datagrams of i + 10 bytes, one at a time.
    for (let round = 0; round < peers.length; round++) {
      peers.forEach((peer, i) => {
        if (round <= i) peer.send(new Uint8Array(i + 10), listener.port, '127.0.0.1');
      });
      await waitFor(`round ${round}`, () =>
        peers.every((peer, i) => (replies.get(peer) ?? 0) === Math.min(round, i) + 1),
      );
    }
    assert.is(opened.length, peers.length);
    const threads = new Set(opened.map((s) => s.flow.split(':')[0]));
    console.log(`sessions on threads ${[...threads].join(', ')}`);
    const free = opened.every((s) => s.slot !== 63) ? 63 : 0;
    const slots = [...opened.map((s) => s.slot), free];
    const snapshots = dp.sessions(slots);
    assert.is(snapshots.length, slots.length);
    assert.is(snapshots.at(-1), null, 'a free slot has no session');
    for (const [i, event] of opened.entries()) {
      const snapshot = snapshots[i]!;
      const peer = peers.findIndex((p) => p.address().port === event.client.port);
      assert.ok(peer >= 0);
      assert.is(snapshot.slot, event.slot);
      assert.is(snapshot.gen, Number(event.flow.split(':')[2]));
      assert.is(snapshot.state, 'open');
      assert.is(snapshot.protocol, 'none');
      assert.equal(snapshot.packets, { forward: peer + 1, reverse: peer + 1 });
      assert.equal(snapshot.bytes, {
        forward: (peer + 1) * (peer + 10),
        reverse: (peer + 1) * (peer + 10),
      });
      assert.equal(dp.session(event.slot), snapshot, 'session(slot) agrees');
    }
    assert.throws(
      () => dp.sessions([64]),
      (e: { code?: string }) => e.code === 'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.throws(
      () => dp.sessions('0' as unknown as number[]),
      (e: { code?: string }) => e.code === 'GM_NATIVE_INVALID_ARGUMENT',
    );
    dp.close();
    assert.is(dp.session(opened[0]!.slot), null, 'no session after close()');
    assert.equal(dp.sessions([0, 1]), [null, null]);
  } finally {
    dp.close();
    for (const peer of peers) await closeSocket(peer);
    await closeSocket(echo.socket);
  }
});

test.run();
