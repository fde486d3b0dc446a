import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createDataPlane,
  NativeError,
  type SessionClosed,
  type SessionEvent,
} from '../ts/index.js';
import { startKcpPair } from './dataplane/kcp-pair.js';
import { bindSocket, closeSocket, sleep, startEcho, waitFor } from './dataplane/support.js';

/**
 * closeSession: the control plane ends an opened session (as the proxy does
 * for an RTP flow when its RTCP flow says BYE). The session's I/O thread
 * emits `closed` once with the given reason, stops tracking it, and keeps
 * forwarding its datagrams until the idle backstop removes the flow.
 */

test('closeSession on a kcp session (node-kcp pair): closed once with bye, untracked, still forwarded', async () => {
  const dp = createDataPlane({ maxSessions: 64, idleTimeoutMs: 300, sweepIntervalMs: 20 });
  const client = await bindSocket('udp4', '127.0.0.1');
  const server = await bindSocket('udp4', '127.0.0.1');
  const conv = 0x51e7;
  let pair: ReturnType<typeof startKcpPair> | null = null;
  try {
    const listener = dp.addListener({
      address: '127.0.0.1',
      mode: 'port',
      upstream: { address: '127.0.0.1', port: server.address().port },
      protocol: 'kcp',
    });
    const opened: SessionEvent[] = [];
    const closed: SessionClosed[] = [];
    dp.on('opened', (event) => opened.push(event));
    dp.on('closed', (event) => closed.push(event));
    pair = startKcpPair(conv, client, { address: '127.0.0.1', port: listener.port }, server);
    const before = Array.from({ length: 10 }, (_, i) => `before ${i}`);
    for (const message of before) pair.send(message);
    await waitFor('echoes while tracked', () => pair!.echoed.length === before.length);
    await waitFor('opened', () => opened.length === 1);
    const session = opened[0]!;
    assert.equal(session.key, String(conv));
    const tracked = dp.session(session.slot)!;
    assert.equal(tracked.state, 'open');
    assert.ok(Number(tracked.stats.segments) > 0, 'the kcp tracker counted segments');

    assert.ok(dp.closeSession(session.slot, 'bye'), 'an opened session is closed');
    assert.not.ok(
      dp.closeSession(session.slot, 'bye'),
      'a second call before the event is a no-op',
    );
    await waitFor('closed with bye', () => closed.length === 1);
    assert.equal(closed[0]!.reason, 'bye');
    assert.equal(closed[0]!.flow, session.flow);
    assert.equal(closed[0]!.key, String(conv));
    assert.equal(dp.counters().closed_bye, 1);
    assert.not.ok(dp.closeSession(session.slot, 'bye'), 'a closed session is a no-op');

    const frozen = dp.session(session.slot)!;
    assert.equal(frozen.state, 'closed');
    const after = Array.from({ length: 10 }, (_, i) => `after ${i}`);
    for (const message of after) pair.send(message);
    await waitFor(
      'echoes after the close',
      () => pair!.echoed.length === before.length + after.length,
    );
    assert.equal(
      pair.echoed,
      [...before, ...after],
      'the closed flow is still forwarded both ways',
    );
    const later = dp.session(session.slot)!;
    assert.ok(later.packets.forward > frozen.packets.forward, 'datagrams are still counted');
    assert.equal(later.stats, frozen.stats, 'the tracker no longer observes the flow');

    pair.stop();
    pair = null;
    await waitFor(
      'the idle backstop removes the flow',
      () => dp.counters().flows_active === 0,
      3000,
    );
    await sleep(50);
    assert.equal(closed.length, 1, 'no second closed event when the closed flow idles out');
    assert.equal(dp.counters().closed_idle, 0);
    assert.equal(dp.counters().sessions_closed, 1);
  } finally {
    pair?.stop();
    dp.close();
    await closeSocket(client);
    await closeSocket(server);
  }
});

test('closeSession reaches the right generation: a slot reused by a new session is closed only when named again', async () => {
  const dp = createDataPlane({ maxSessions: 64, idleTimeoutMs: 100, sweepIntervalMs: 20 });
  const echo = await startEcho();
  const first = await bindSocket('udp4', '127.0.0.1');
  const second = await bindSocket('udp4', '127.0.0.1');
  try {
    const listener = dp.addListener({
      address: '127.0.0.1',
      mode: 'port',
      upstream: { address: '127.0.0.1', port: echo.port },
      protocol: 'none',
    });
    const opened: SessionEvent[] = [];
    const closed: SessionClosed[] = [];
    dp.on('opened', (event) => opened.push(event));
    dp.on('closed', (event) => closed.push(event));
    first.send('one', listener.port, '127.0.0.1');
    await waitFor('first opened', () => opened.length === 1);
    await waitFor('first idles out', () => closed.length === 1, 3000);
    assert.equal(closed[0]!.reason, 'idle');
    assert.not.ok(dp.closeSession(opened[0]!.slot, 'bye'), 'the idled session is gone');

    second.send('two', listener.port, '127.0.0.1');
    await waitFor('second opened', () => opened.length === 2);
    assert.equal(opened[1]!.slot, opened[0]!.slot, 'the freed slot is reused');
    assert.ok(opened[1]!.flow !== opened[0]!.flow, 'under a new generation');
    assert.ok(dp.closeSession(opened[1]!.slot, 'evicted'));
    await waitFor('second closed', () => closed.length === 2);
    assert.equal(closed[1]!.flow, opened[1]!.flow);
    assert.equal(closed[1]!.reason, 'evicted');
    assert.equal(dp.counters().closed_evicted, 1);
  } finally {
    dp.close();
    await closeSocket(first);
    await closeSocket(second);
    await closeSocket(echo.socket);
  }
});

test('closeSession validates its arguments with GM_NATIVE_INVALID_ARGUMENT; a closed data plane is a no-op', () => {
  const dp = createDataPlane({ maxSessions: 16 });
  try {
    const invalid = (call: () => unknown) => {
      try {
        call();
      } catch (error) {
        assert.instance(error, NativeError);
        assert.equal((error as NativeError).code, 'GM_NATIVE_INVALID_ARGUMENT');
        return;
      }
      assert.unreachable('expected GM_NATIVE_INVALID_ARGUMENT');
    };
    invalid(() => dp.closeSession(0, 'goodbye' as never));
    invalid(() => dp.closeSession(0, undefined as never));
    invalid(() => dp.closeSession(-1, 'bye'));
    invalid(() => dp.closeSession(dp.slots, 'bye'));
    invalid(() => dp.closeSession(1.5, 'bye'));
    assert.not.ok(dp.closeSession(0, 'bye'), 'no session holds the slot');
    dp.close();
    assert.not.ok(dp.closeSession(0, 'bye'));
  } finally {
    dp.close();
  }
});

test.run();
