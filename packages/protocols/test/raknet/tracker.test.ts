import type { LifecycleEvent } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { raknet } from '../../src/raknet/index.js';
import { ackNak, bytes, data, datagram, frame, magic, request1, u64be } from './builders.js';

/** Tracker edge cases real peers rarely produce: wrap, loss, split fragments, refusals. */

const protocol = raknet.create();
const SERVER = 77n;

function feed(
  tracker: ReturnType<typeof protocol.createTracker>,
  items: Parameters<typeof datagram>[],
): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  for (const args of items) events.push(...tracker.observe(datagram(...args)));
  return events;
}

test('sequence gaps are wrap-safe and late arrivals fill them', () => {
  const tracker = protocol.createTracker({ variant: 'connected' });
  const payload = frame({ payload: [0x86, 0] });
  const events = feed(tracker, [
    [data(0xfffffe, payload)],
    [data(0xffffff, payload)],
    [data(0x000001, payload)],
    [data(0x000004, payload)],
    [data(0x000003, payload)],
    [data(10, payload), 'reverse'],
  ]);
  assert.is(events.length, 1);
  assert.is(events[0]!.type, 'opened');
  const stats = tracker.stats();
  assert.is(stats.forwardDatagrams, 5);
  assert.is(stats.reverseDatagrams, 1);
  // Missing 0, 2 and 3; 3 arrived late.
  assert.is(stats.forwardSequenceGaps, 2);
  assert.is(stats.reverseSequenceGaps, 0);
  assert.is(stats.handshakeSeen, false);
});

test('ACK/NAK counts cover sequence numbers; lossRatio = nak / (ack + nak)', () => {
  const tracker = protocol.createTracker({ variant: 'connected' });
  feed(tracker, [
    [
      ackNak(0xc0, [
        [0, 5],
        [7, 7],
      ]),
      'reverse',
    ],
    [ackNak(0xa0, [[6, 6]]), 'reverse'],
  ]);
  const stats = tracker.stats();
  assert.is(stats.ackDatagrams, 1);
  assert.is(stats.nakDatagrams, 1);
  assert.is(stats.ackCount, 7);
  assert.is(stats.nakCount, 1);
  assert.is(stats.lossRatio, 1 / 8);
});

test('0x15 inside a later split fragment is not a disconnect; inside the first one it is', () => {
  const tracker = protocol.createTracker({ variant: 'connected' });
  const later = frame({
    reliability: 3,
    payload: [0x15, 0, 0],
    split: { count: 2, id: 1, index: 1 },
  });
  assert.equal(
    feed(tracker, [[data(0, later)]]).map((e) => e.type),
    ['opened'],
  );
  const first = frame({ reliability: 3, payload: [0x15], split: { count: 2, id: 2, index: 0 } });
  const events = feed(tracker, [[data(1, first)], [data(2, frame({ payload: [0x15] }))]]);
  assert.equal(
    events.map((e) => e.type),
    ['closed'],
  );
  assert.is(events[0]!.type === 'closed' && events[0]!.reason, 'protocol_disconnect');
});

test('a malformed data datagram carrying 0x15 does not close the session', () => {
  const tracker = protocol.createTracker({ variant: 'connected' });
  const broken = bytes(data(0, frame({ payload: [0x15] })), 0xff);
  assert.equal(feed(tracker, [[broken]]), []);
  assert.is(tracker.stats().malformedDatagrams, 1);
});

test('a refusal after REQUEST_1 is opened-then-denied, with the server GUID', () => {
  for (const id of [0x12, 0x14, 0x17, 0x1a]) {
    const tracker = protocol.createTracker({ variant: 'offline' });
    const events = feed(tracker, [
      [request1(11, 1464)],
      [bytes(id, magic(), u64be(SERVER)), 'reverse'],
    ]);
    assert.equal(
      events.map((e) => e.type),
      ['opened', 'closed'],
      `id ${id}`,
    );
    const closed = events[1]!;
    assert.is(closed.type === 'closed' && closed.reason, 'denied');
    assert.is(tracker.stats().serverGuid, SERVER.toString());
    assert.is(tracker.stats().protocolVersion, 11);
  }
  const tracker = protocol.createTracker({ variant: 'offline' });
  const events = feed(tracker, [
    [request1(12, 548)],
    [bytes(0x19, 11, magic(), u64be(SERVER)), 'reverse'],
  ]);
  assert.equal(
    events.map((e) => e.type),
    ['opened', 'closed'],
  );
  // The session's protocol is the client's; the 0x19 names the server's.
  assert.is(tracker.stats().protocolVersion, 12);
  assert.is(tracker.stats().mtu, 576);
});

test('RTT: a pong matched to its ping by the echoed time, per leg', () => {
  const tracker = protocol.createTracker({ variant: 'connected' });
  const pingFrame = (time: bigint) => frame({ payload: bytes(0x00, u64be(time)) });
  const pongFrame = (echo: bigint) => frame({ payload: bytes(0x03, u64be(echo), u64be(999n)) });
  tracker.observe(datagram(data(0, pingFrame(500n)), 'forward', 1000));
  tracker.observe(datagram(data(1, pingFrame(501n)), 'forward', 1010));
  assert.is(tracker.stats().rttMs, null);
  // The pong for the second ping; the first is never answered.
  tracker.observe(datagram(data(0, pongFrame(501n)), 'reverse', 1035));
  assert.is(tracker.stats().upstreamRttMs, 25);
  assert.is(tracker.stats().rttMs, 25);
  // A pong echoing a time never pinged is ignored.
  tracker.observe(datagram(data(1, pongFrame(123n)), 'reverse', 1040));
  tracker.observe(datagram(data(2, pingFrame(7n)), 'reverse', 1100));
  tracker.observe(datagram(data(2, pongFrame(7n)), 'forward', 1104));
  assert.is(tracker.stats().downstreamRttMs, 4);
  assert.is(tracker.stats().rttMs, 29);
});

test.run();
