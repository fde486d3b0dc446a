import type { Datagram } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkConnectedDatagram,
  checkOfflineMessage,
  parseConnectedDatagram,
  parseOfflineMessage,
  rakNetRoutingKey,
  raknet,
} from '../../src/raknet/index.js';
import {
  ackNak,
  bytes,
  data,
  datagram,
  frame,
  IPV6,
  magic,
  ping,
  reply1,
  reply2,
  request1,
  request2,
  u64be,
} from './builders.js';

const protocol = raknet.create();
const GUID = 0x1234_5678_9abc_def0n;

function probe(data: Uint8Array, history: Datagram[] = []) {
  return protocol.probe(datagram(data), history);
}

test('offline messages with the magic at the right offset match', () => {
  for (const message of [
    ping(GUID),
    request1(11, 1464),
    reply1(GUID, 1400, null),
    request2(GUID, 1400),
    reply2(GUID, 1400),
  ]) {
    assert.equal(probe(message), { verdict: 'match', variant: 'offline', reason: 'offline_magic' });
  }
  const incompatible = bytes(0x19, 11, magic(), u64be(GUID));
  assert.is(incompatible.length, 26);
  assert.is(probe(incompatible).verdict, 'match');
  const parsed = parseOfflineMessage(incompatible);
  assert.ok(
    parsed.ok && parsed.message.serverGuid === GUID && parsed.message.protocolVersion === 11,
  );
});

test('magic at the wrong offset is magic_missing', () => {
  // Ping with the magic at 1 (where REQUEST_1 has it) instead of 9.
  assert.is(probe(bytes(0x01, magic(), u64be(1n), u64be(GUID))).reason, 'magic_missing');
  // 0x19 carries its magic at 2, after the server protocol byte.
  assert.is(probe(bytes(0x19, magic(), 11, u64be(GUID))).reason, 'magic_missing');
  // REQUEST_1 with the magic shifted by one byte.
  const shifted = new Uint8Array(600);
  shifted.set(bytes(0x05, 0x00, magic()));
  assert.is(probe(shifted).reason, 'magic_missing');
});

test('length rules: originals minimums, exact REQUEST_2 and 0x19 lengths', () => {
  assert.is(probe(bytes(0x05, 0x00)).reason, 'too_short');
  assert.is(probe(request1(11, 24)).reason, 'offline_too_short');
  assert.is(probe(request1(11, 25)).verdict, 'match');
  for (const length of [33, 35, 38, 40, 55, 57, 60, 62]) {
    const message = new Uint8Array(length);
    message.set(bytes(0x07, magic(), 4));
    assert.is(probe(message).reason, 'request2_length', `length ${length}`);
  }
  assert.is(probe(request2(GUID, 1400, { address: IPV6 })).verdict, 'match');
  assert.is(probe(request2(GUID, 1400, { cookie: 0xdeadbeef })).verdict, 'match');
  assert.is(probe(request2(GUID, 1400, { cookie: 0x06000000, address: IPV6 })).verdict, 'match');
  // 34 bytes means IPv4 without a cookie: an IPv6 version byte cannot fit.
  const wrongFamily = request2(GUID, 1400);
  wrongFamily[17] = 6;
  assert.is(probe(wrongFamily).reason, 'request2_address');
  assert.is(probe(bytes(0x19, 11, magic(), u64be(GUID), 0)).reason, 'incompatible_length');
  assert.is(probe(bytes(0x01, u64be(1n), magic(), 1, 2, 3)).reason, 'ping_length');
  assert.is(probe(bytes(0x01, u64be(1n), magic())).verdict, 'match');
  assert.is(probe(bytes(reply2(GUID, 1400), 0)).reason, 'reply2_length');
  const badSecurity = reply1(GUID, 1400, null);
  badSecurity[25] = 2;
  assert.is(probe(badSecurity).reason, 'reply1_security');
  assert.is(probe(reply1(GUID, 1400, 7).subarray(0, 30)).reason, 'reply1_length');
});

test('offline fields: GUIDs, MTU, protocol, cookie', () => {
  const r1 = parseOfflineMessage(request1(11, 1172));
  assert.ok(r1.ok);
  if (r1.ok) {
    assert.is(r1.message.protocolVersion, 11);
    assert.is(r1.message.mtu, 1200);
  }
  const reply = parseOfflineMessage(reply1(GUID, 1400, 0xcafef00d));
  assert.ok(reply.ok);
  if (reply.ok) {
    assert.is(reply.message.serverGuid, GUID);
    assert.is(reply.message.hasSecurity, true);
    assert.is(reply.message.cookie, 0xcafef00d);
    assert.is(reply.message.mtu, 1400);
  }
  const r2 = parseOfflineMessage(request2(GUID, 1200, { cookie: 0x04040404, address: IPV6 }));
  assert.ok(r2.ok);
  if (r2.ok) {
    assert.is(r2.message.clientGuid, GUID);
    assert.is(r2.message.mtu, 1200);
    assert.is(r2.message.cookie, 0x04040404);
  }
  const r2v6 = parseOfflineMessage(reply2(GUID, 1300, IPV6));
  assert.ok(r2v6.ok && r2v6.message.mtu === 1300 && r2v6.message.serverGuid === GUID);
  assert.is(rakNetRoutingKey(datagram(ping(GUID))), GUID.toString());
  assert.is(rakNetRoutingKey(datagram(request2(GUID, 1400, { cookie: 1 }))), GUID.toString());
  assert.is(rakNetRoutingKey(datagram(request1(11, 100))), null);
  const connect = data(
    0,
    frame({ reliability: 2, payload: bytes(0x09, u64be(GUID), u64be(5n), 0) }),
  );
  assert.is(rakNetRoutingKey(datagram(connect)), GUID.toString());
});

test('frames: the reader rejection rules and exact consumption', () => {
  const payload = [0x86, 1, 2];
  assert.is(
    checkConnectedDatagram(data(1, frame({ payload }), frame({ reliability: 3, payload }))),
    'ok',
  );
  assert.is(checkConnectedDatagram(data(1, frame({ payload, bits: 0 }))), 'frame_zero_length');
  assert.is(checkConnectedDatagram(data(1, frame({ payload, reliability: 5 }))), 'frame_flags');
  assert.is(checkConnectedDatagram(data(1, frame({ payload, extraFlags: 0x01 }))), 'frame_flags');
  assert.is(
    checkConnectedDatagram(data(1, frame({ payload, reliability: 3, channel: 32 }))),
    'frame_channel',
  );
  assert.is(checkConnectedDatagram(data(1, frame({ payload, reliability: 3, channel: 31 }))), 'ok');
  const split = { count: 2, id: 9, index: 2 };
  assert.is(
    checkConnectedDatagram(data(1, frame({ payload, reliability: 2, split }))),
    'frame_split_index',
  );
  // Bit length says 4 bytes, 3 present.
  assert.is(checkConnectedDatagram(data(1, frame({ payload, bits: 32 }))), 'frame_truncated');
  // 9 bits need 2 bytes: a stray trailing byte is a truncated second frame.
  assert.is(checkConnectedDatagram(bytes(data(1, frame({ payload })), 0x00)), 'frame_truncated');
  assert.is(checkConnectedDatagram(bytes(0x84, 0, 0, 0)), 'data_truncated');
  // Alignment bits set: original RakNet never writes them.
  assert.is(checkConnectedDatagram(bytes(0x85, 0, 0, 0, frame({ payload }))), 'unknown_first_byte');
  const parsed = parseConnectedDatagram(
    data(0x123456, frame({ reliability: 4, payload, split: { count: 3, id: 7, index: 1 } })),
  );
  assert.ok(parsed.ok);
  if (parsed.ok && parsed.datagram.kind === 'data') {
    assert.is(parsed.datagram.sequence, 0x123456);
    const only = parsed.datagram.frames[0]!;
    assert.equal(only.split, { count: 3, id: 7, index: 1 });
    assert.is(only.reliableIndex, 7);
    assert.is(only.sequencingIndex, 3);
    assert.is(only.orderingIndex, 5);
    assert.is(only.payloadLength, 3);
  }
});

test('ACK/NAK records are validated exactly', () => {
  assert.is(
    checkConnectedDatagram(
      ackNak(0xc0, [
        [1, 1],
        [3, 9],
      ]),
    ),
    'ok',
  );
  const parsed = parseConnectedDatagram(
    ackNak(0xa0, [
      [5, 5],
      [7, 8],
    ]),
  );
  assert.ok(parsed.ok && parsed.datagram.kind === 'nak' && parsed.datagram.covered === 3);
  const ack = ackNak(0xc0, [[3, 9]]);
  assert.is(checkConnectedDatagram(ack.subarray(0, ack.length - 1)), 'ack_truncated');
  assert.is(checkConnectedDatagram(bytes(0xc0, 0)), 'ack_truncated');
  assert.is(checkConnectedDatagram(bytes(0xc0, 0, 2, 1, 0, 0, 0)), 'ack_truncated');
  assert.is(checkConnectedDatagram(bytes(0xc0, 0, 0)), 'ack_no_records');
  assert.is(checkConnectedDatagram(bytes(0xc0, 0, 1, 2, 0, 0, 0)), 'ack_record_flag');
  assert.is(checkConnectedDatagram(bytes(0xc0, 0, 1, 0, 9, 0, 0, 3, 0, 0)), 'ack_range_inverted');
  assert.is(checkConnectedDatagram(bytes(ackNak(0xc0, [[1, 1]]), 0)), 'ack_trailing');
  assert.is(checkConnectedDatagram(bytes(0xe0, 0, 1, 1, 0, 0, 0)), 'unknown_first_byte');
});

test('probe: lone ACK/NAK never match; data needs a continuous sequence', () => {
  const history: Datagram[] = [];
  for (let i = 0; i < 12; i++) {
    const d = datagram(
      ackNak(i % 2 === 0 ? 0xc0 : 0xa0, [[i, i + 2]]),
      i % 2 === 0 ? 'forward' : 'reverse',
    );
    assert.equal(protocol.probe(d, history), { verdict: 'need-more', reason: 'ack_need_more' });
    history.push(d);
  }
  const payload = frame({ payload: [0x86, 0] });
  const first = datagram(data(0xfffffe, payload));
  const second = datagram(data(0xffffff, payload));
  const reverse = datagram(data(40, payload), 'reverse');
  const third = datagram(data(0, payload));
  assert.is(protocol.probe(first, []).reason, 'data_need_more');
  assert.is(protocol.probe(second, [first]).reason, 'data_need_more');
  // The u24 wraps from 0xFFFFFF to 0; the reverse direction has its own numbers.
  assert.equal(protocol.probe(third, [first, second, reverse]), {
    verdict: 'match',
    variant: 'connected',
    reason: 'data_sequence',
  });
  assert.is(
    protocol.probe(datagram(data(2, payload)), [first, second]).reason,
    'sequence_discontinuity',
  );
  assert.is(
    raknet.create({ midSessionDatagrams: 5 }).probe(third, [first, second, reverse]).reason,
    'data_need_more',
  );
});

test('probe: an RTP-shaped sequence (byte 1 constant, bytes 2..3 BE seq) fails continuity', () => {
  // Valid RakNet frames behind an RTP-like header: only the sequence check can reject it.
  const rtpLike = (rtpSeq: number): Datagram =>
    datagram(bytes(0x80, 96, rtpSeq >>> 8, rtpSeq & 0xff, frame({ payload: [0x86, 1, 2, 3] })));
  const first = rtpLike(1000);
  assert.is(protocol.probe(first, []).verdict, 'need-more');
  assert.is(protocol.probe(rtpLike(1001), [first]).reason, 'sequence_discontinuity');
});

test('config is validated', () => {
  assert.throws(() => raknet.create({ midSessionDatagrams: 1 }), /GM_CORE_INVALID_CONFIG/);
  assert.throws(() => raknet.create({ midSessionDatagrams: 2.5 }), /GM_CORE_INVALID_CONFIG/);
  const parsed = raknet.parse({ midSessionDatagrams: 'x' });
  assert.ok(!parsed.ok);
  assert.is(raknet.create({ midSessionDatagrams: 4 }).config.midSessionDatagrams, 4);
  assert.ok(checkOfflineMessage(new Uint8Array(0)) === 'too_short');
});

test.run();
