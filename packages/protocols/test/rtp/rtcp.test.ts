import type { Datagram } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkRtcpCompound,
  createRtpFamily,
  parseRtcpCompound,
  probeRtcp,
  RTCP_PARSE_ERRORS,
  RTCP_REASONS,
} from '../../src/rtp/index.js';
import { bye, bytes, packet, rr, sdesCname, sr, words } from './rtcp-builders.js';

const at = (data: Uint8Array, ms = 0, direction: Datagram['direction'] = 'forward'): Datagram => ({
  data,
  at: ms,
  direction,
});

test('A.2 positives: SR+SDES, RR alone, SR+SDES+BYE, RFC 5506 lone PSFB', () => {
  const cases = [
    bytes(sr(1, 2, 3, 4), sdesCname(1, 'user@host')),
    bytes(rr(7)),
    bytes(sr(1, 2, 3, 4), sdesCname(1, 'a'), bye([1], 'done')),
    bytes(packet(206, 1, words(5, 6))),
  ];
  for (const data of cases) {
    assert.is(checkRtcpCompound(data), null);
    assert.is(probeRtcp(at(data)).verdict, 'match');
    assert.ok(parseRtcpCompound(data).ok);
  }
});

test('A.2 negatives: length sum, P=1 on first, V != 2, first type, short first packet', () => {
  const good = bytes(sr(1, 2, 3, 4), sdesCname(1, 'cname'));
  const longer = new Uint8Array([...good, 0x80, 0xca]);
  assert.is(probeRtcp(at(longer)).reason, 'bad_length_sum');
  const overshoot = good.slice();
  overshoot[31] = overshoot[31]! + 1; // the last packet claims one word more than is there
  assert.is(probeRtcp(at(overshoot)).reason, 'bad_length_sum');
  assert.is(probeRtcp(at(good.subarray(0, good.length - 4))).reason, 'bad_length_sum');
  const padded = good.slice();
  padded[0] = padded[0]! | 0x20;
  assert.is(probeRtcp(at(padded)).reason, 'padding_on_first');
  const v1 = good.slice();
  v1[0] = (v1[0]! & 0x3f) | 0x40;
  assert.is(probeRtcp(at(v1)).reason, 'bad_version');
  const innerV3 = good.slice();
  innerV3[28] = innerV3[28]! | 0xc0;
  assert.is(probeRtcp(at(innerV3)).reason, 'bad_inner_version');
  assert.is(probeRtcp(at(bytes(packet(199, 0, words(1))))).reason, 'not_rtcp_type');
  // An SR claiming one report block but only 6 words long.
  assert.is(
    probeRtcp(at(bytes(packet(200, 1, words(1, 2, 3, 4, 5, 6))))).reason,
    'bad_first_packet',
  );
  assert.is(probeRtcp(at(new Uint8Array([0x80, 0xc9, 0, 0]))).reason, 'too_short');
  for (const data of [longer, padded, v1, innerV3]) assert.not.ok(parseRtcpCompound(data).ok);
  for (const reason of [
    'bad_length_sum',
    'padding_on_first',
    'bad_version',
    'bad_inner_version',
    'not_rtcp_type',
    'bad_first_packet',
    'too_short',
  ]) {
    assert.ok(Object.hasOwn(RTCP_REASONS, reason));
  }
});

test('parser: report blocks with signed 24-bit cumulative lost, SDES, BYE reason', () => {
  const data = bytes(
    rr(0x11111111, [
      {
        ssrc: 0x22222222,
        fraction: 64,
        cumulative: 0xfffffe,
        highest: 70000,
        jitter: 33,
        lsr: 0xabcd0000,
        dlsr: 65536,
      },
      { ssrc: 0x33333333, cumulative: 0x7fffff },
    ]),
    sdesCname(0x11111111, 'alice@10.0.0.1'),
    bye([0x22222222, 0x44444444], 'teardown'),
  );
  const parsed = parseRtcpCompound(data);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const [report, sdes, goodbye] = parsed.packets;
  assert.is(report?.type, 'rr');
  if (report?.type === 'rr') {
    assert.is(report.reports[0]!.cumulativeLost, -2, 'duplicates: negative cumulative lost');
    assert.is(report.reports[0]!.fractionLost, 64);
    assert.is(report.reports[0]!.extendedHighestSequence, 70000);
    assert.is(report.reports[1]!.cumulativeLost, 0x7fffff);
  }
  assert.equal(sdes, {
    type: 'sdes',
    chunks: [{ ssrc: 0x11111111, items: [{ type: 1, text: 'alice@10.0.0.1' }] }],
  });
  assert.equal(goodbye, { type: 'bye', ssrcs: [0x22222222, 0x44444444], reason: 'teardown' });
});

test('parser: APP, generic NACK, PLI, XR blocks, padding on the last packet', () => {
  const app = packet(204, 3, [
    ...words(9),
    ...[...'GMSH'].map((c) => c.charCodeAt(0)),
    ...words(1, 2),
  ]);
  const nack = packet(205, 1, words(1, 2, (100 << 16) | 0b101));
  const pli = packet(206, 1, words(1, 2));
  // XR: SSRC, then a block BT=4 (receiver reference time, 2 words) and BT=5 (DLRR, 3 words).
  const xr = packet(207, 0, words(9, (4 << 24) | 2, 1, 2, (5 << 24) | 3, 1, 2, 3));
  const paddedBye = packet(203, 1, [...words(9), 0, 0, 0, 4], { padding: true });
  const parsed = parseRtcpCompound(bytes(rr(9), app, nack, pli, xr, paddedBye));
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal(
    parsed.packets.slice(1).map((p) => p.type),
    ['app', 'rtpfb', 'psfb', 'xr', 'bye'],
  );
  assert.equal(parsed.packets[1], {
    type: 'app',
    subtype: 3,
    ssrc: 9,
    name: 'GMSH',
    dataLength: 8,
  });
  assert.is(parsed.packets[2]?.type === 'rtpfb' ? parsed.packets[2].nackedPackets : -1, 3);
  assert.equal(parsed.packets[4], { type: 'xr', ssrc: 9, blockTypes: [4, 5] });
  assert.equal(parsed.packets[5], { type: 'bye', ssrcs: [9], reason: null });
  // The same padding on a packet that is not last is refused.
  const early = parseRtcpCompound(bytes(rr(9), paddedBye, pli));
  assert.equal(early.ok ? '' : early.code, 'padding_not_last');
  const brokenXr = parseRtcpCompound(bytes(rr(9), packet(207, 0, words(9, (4 << 24) | 5))));
  assert.equal(brokenXr.ok ? '' : brokenXr.code, 'bad_xr');
  const brokenSdes = parseRtcpCompound(bytes(rr(9), packet(202, 1, words(9, 0x01ff4142))));
  assert.equal(brokenSdes.ok ? '' : brokenSdes.code, 'bad_sdes');
  for (const code of ['padding_not_last', 'bad_xr', 'bad_sdes'])
    assert.ok(Object.hasOwn(RTCP_PARSE_ERRORS, code));
});

test('tracker: RTT from an RR echoing an SR seen the other way, CNAME, BYE closes each SSRC once', () => {
  const { rtcp } = createRtpFamily();
  const tracker = rtcp.createTracker({ variant: 'default' });
  // SR NTP 0x00012345.67890000 -> LSR (middle 32 bits) 0x23456789.
  const opened = tracker.observe(
    at(
      bytes(sr(0xaaaa, 0x00012345, 0x67890000, 1000), sdesCname(0xaaaa, 'sender')),
      1000,
      'forward',
    ),
  );
  assert.equal(
    opened.map((e) => [e.type, e.key]),
    [['opened', String(0xaaaa)]],
  );
  tracker.observe(
    at(
      bytes(rr(0xbbbb, [{ ssrc: 0xaaaa, lsr: 0x23456789, dlsr: 65536 / 16, jitter: 12 }])),
      1100,
      'reverse',
    ),
  );
  let stats = tracker.stats();
  assert.ok(Math.abs((stats.rttMs as number) - 37.5) < 1e-9, `rtt ${stats.rttMs}`);
  assert.is(stats.cname, 'sender');
  assert.is(stats.srCount, 1);
  assert.is(stats.rrCount, 1);
  assert.is(stats.reportedJitter, 12);
  // An RR in the same direction as the SR proves nothing about the round trip.
  tracker.observe(
    at(bytes(rr(0xbbbb, [{ ssrc: 0xaaaa, lsr: 0x23456789, dlsr: 0 }])), 5000, 'forward'),
  );
  assert.ok(Math.abs((tracker.stats().rttMs as number) - 37.5) < 1e-9);
  const closed = tracker.observe(
    at(bytes(rr(0xaaaa), bye([0xaaaa, 0xcccc], 'bye now')), 6000, 'forward'),
  );
  assert.equal(closed, [
    { type: 'closed', key: String(0xaaaa), at: 6000, reason: 'bye' },
    { type: 'closed', key: String(0xcccc), at: 6000, reason: 'bye' },
  ]);
  assert.equal(tracker.observe(at(bytes(rr(0xaaaa), bye([0xaaaa])), 6001, 'forward')), []);
  stats = tracker.stats();
  assert.is(stats.byeCount, 2);
  assert.is(stats.byeReason, 'bye now');
  assert.is(tracker.key(), String(0xaaaa));
  // Invalid compounds are counted, never thrown.
  tracker.observe(at(new Uint8Array([0x80, 0xc9, 0, 9, 1, 2]), 7000));
  assert.is(tracker.stats().rtcpInvalid, 1);
});

test.run();
