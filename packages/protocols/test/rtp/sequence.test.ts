import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  estimateClockRate,
  JitterEstimator,
  parseRtpConfig,
  rtp,
  SenderReportBook,
  SequenceState,
} from '../../src/rtp/index.js';

/** A source fed `seqs` in order, A.1 style (the first packet goes through update too). */
function feed(seqs: readonly number[]): { state: SequenceState; counted: boolean[] } {
  const state = new SequenceState(seqs[0]!);
  const counted = seqs.map((seq) => state.update(seq));
  return { state, counted };
}

test('A.1 probation: two sequential packets make a source valid', () => {
  const { state, counted } = feed([10, 11]);
  assert.equal(counted, [false, true]);
  assert.ok(state.valid);
  assert.is(state.baseSeq, 11);
  assert.is(state.received, 1);
});

test('A.1 probation: a gap restarts probation, the next in-order packet validates', () => {
  const { state, counted } = feed([10, 12, 13]);
  assert.equal(counted, [false, false, true]);
  assert.ok(state.valid);
  const lone = feed([7]);
  assert.not.ok(lone.state.valid);
  const constant = feed([5, 5, 5, 5]);
  assert.not.ok(constant.state.valid, 'a constant sequence (KCP conv high bytes) never validates');
});

test('A.1 wrap-around: cycles count and the extended highest sequence continues', () => {
  const { state, counted } = feed([65534, 65535, 0, 1]);
  assert.equal(counted, [false, true, true, true]);
  assert.is(state.cycles, 65536);
  assert.is(state.extendedMax, 65537);
  assert.is(state.expected, 3);
  assert.is(state.received, 3);
  assert.is(state.lost, 0);
});

test('A.1 reordering and duplicates are counted; duplicates make lost negative', () => {
  const { state } = feed([10, 11, 13, 12]);
  assert.is(state.maxSeq, 13);
  assert.is(state.expected, 3);
  assert.is(state.received, 3);
  assert.is(state.lost, 0);
  state.update(13);
  assert.is(state.received, 4);
  assert.is(state.lost, -1);
});

test('A.1 loss: gaps below MAX_DROPOUT count as lost', () => {
  const { state } = feed([100, 101, 102, 105, 106, 110]);
  assert.is(state.expected, 10);
  assert.is(state.received, 5);
  assert.is(state.lost, 5);
  assert.is(state.closeInterval(), Math.floor((5 * 256) / 10));
  // No new packets: the next interval has nothing expected, fraction 0.
  assert.is(state.closeInterval(), 0);
});

test('A.1 large jump: one packet is ignored, two sequential ones restart the source', () => {
  const { state } = feed([100, 101, 102]);
  assert.is(state.update(5000), false);
  assert.is(state.badSeq, 5001);
  assert.is(state.maxSeq, 102, 'a single wild packet leaves the state alone');
  assert.is(state.update(5001), true);
  assert.is(state.baseSeq, 5001);
  assert.is(state.received, 1);
  state.update(5002);
  assert.is(state.expected, 2);
  assert.is(state.lost, 0);
  // A lone jump followed by the old stream: the stream just continues.
  const other = feed([100, 101]);
  assert.is(other.state.update(40000), false);
  assert.is(other.state.update(102), true);
  assert.is(other.state.expected, 2);
  assert.is(other.state.lost, 0);
});

test('A.8 jitter against a hand-computed sequence (8 kHz, 20 ms packets)', () => {
  const jitter = new JitterEstimator(8000);
  // arrivals (ms) and timestamps; D = 0, +40, -40, 0 units -> J = 0, 2.5, 4.84375, 4.541015625
  jitter.observe(0, 0);
  jitter.observe(20, 160);
  assert.is(jitter.units, 0);
  jitter.observe(45, 320);
  assert.is(jitter.milliseconds * 8, 2.5);
  jitter.observe(60, 480);
  assert.is(jitter.milliseconds * 8, 4.84375);
  jitter.observe(80, 640);
  // A second packet of the same frame (same timestamp) must not count.
  jitter.observe(95, 640);
  assert.is(jitter.updates, 4);
  assert.is(jitter.units, 4);
  assert.is(jitter.milliseconds, 4.541015625 / 8);
  // Timestamp wrap-around: a step across 2^32 is still +160.
  const wrap = new JitterEstimator(8000);
  wrap.observe(0, 0xffffff00);
  wrap.observe(20, (0xffffff00 + 160) >>> 0);
  assert.is(wrap.units, 0);
});

test('clock estimation from two SRs snaps to common rates, handles wrap, refuses short baselines', () => {
  assert.is(
    estimateClockRate({ ntp: 1000, rtpTimestamp: 0 }, { ntp: 1003, rtpTimestamp: 270_000 }),
    90000,
  );
  assert.is(
    estimateClockRate({ ntp: 1000, rtpTimestamp: 5 }, { ntp: 1003, rtpTimestamp: 5 + 3 * 47_700 }),
    48000,
  );
  assert.is(
    estimateClockRate({ ntp: 1000, rtpTimestamp: 0 }, { ntp: 1002, rtpTimestamp: 2 * 12_345 }),
    12345,
  );
  assert.is(
    estimateClockRate(
      { ntp: 1000, rtpTimestamp: 0xffff0000 },
      { ntp: 1002, rtpTimestamp: (0xffff0000 + 96_000) >>> 0 },
    ),
    48000,
  );
  assert.is(
    estimateClockRate({ ntp: 1000, rtpTimestamp: 0 }, { ntp: 1000.1, rtpTimestamp: 9000 }),
    null,
  );
  assert.is(
    estimateClockRate({ ntp: 1000, rtpTimestamp: 0 }, { ntp: 999, rtpTimestamp: 9000 }),
    null,
  );
});

test('SR book is bounded and least-recently-updated first out', () => {
  const book = new SenderReportBook(2);
  book.record(1, { ntp: 10, rtpTimestamp: 0 });
  book.record(2, { ntp: 10, rtpTimestamp: 0 });
  book.record(1, { ntp: 12, rtpTimestamp: 16_000 });
  book.record(3, { ntp: 10, rtpTimestamp: 0 });
  assert.is(book.size, 2);
  assert.is(book.estimate(1), 8000);
  assert.is(book.estimate(2), null, 'SSRC 2 was evicted');
  // A restarted sender (NTP going back) starts a new baseline.
  book.record(1, { ntp: 5, rtpTimestamp: 0 });
  assert.is(book.estimate(1), null);
});

test('config: payload types 0..127 with positive rates; everything else is an issue', () => {
  const defaults = { clockRates: {} };
  assert.equal(parseRtpConfig({ clockRates: { '96': 90000, '0': 8000 } }, defaults), {
    ok: true,
    value: { clockRates: { '96': 90000, '0': 8000 } },
  });
  assert.equal(parseRtpConfig(undefined, defaults), { ok: true, value: defaults });
  const bad = parseRtpConfig(
    { clockRates: { '128': 90000, '97': -1, x: 5, '07': 8000 }, other: 1 },
    defaults,
  );
  assert.not.ok(bad.ok);
  if (!bad.ok) {
    assert.equal(bad.issues.map((i) => i.path).sort(), [
      '/clockRates/07',
      '/clockRates/128',
      '/clockRates/97',
      '/clockRates/x',
      '/other',
    ]);
  }
  assert.not.ok(parseRtpConfig({ clockRates: [1] }, defaults).ok);
  assert.throws(
    () => rtp.create({ clockRates: { '96': 0 } }),
    (e: unknown) => (e as { code?: string }).code === 'GM_CORE_INVALID_CONFIG',
  );
  assert.equal(rtp.create({ clockRates: { '96': 90000 } }).config.clockRates, { '96': 90000 });
});

test.run();
