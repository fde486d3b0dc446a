import type { Datagram } from '@gamemesh/core';
import { createRtpFamily, rtcp, rtp } from '@gamemesh/protocols';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzedSequences } from './fuzz-sequences.js';
import { importProtocolsTestModule } from './protocols-test-modules.js';
import { compareTrackers, fixtureFlows, type NativeRun } from './support.js';

/**
 * RTP and RTCP: the native tracker (native/src/trackers/rtp.c, rtcp.c)
 * against the TS tracker (packages/protocols/src/rtp/tracker.ts) on the
 * committed ffmpeg capture, on live ffmpeg streams (with loss, with delay
 * jitter, and RTP + RTCP in one flow as with RFC 5761 muxing), and on 100k
 * mutated sequences. The clock rate is handed over as the proxy does it: the
 * TS side resolves it (here from the SRs of the paired RTCP flow, through
 * the family's shared SR book) and passes { variant: 1 + PT, clockRateHz }.
 */

type FfmpegRtp = typeof import('../../../packages/protocols/test/rtp/ffmpeg-rtp.js');

type Mode = 'rtp' | 'rtcp';

interface Clock {
  readonly payloadType: number;
  readonly hz: number;
}

function isRtcp(b: Uint8Array): boolean {
  return b.length >= 2 && b[0]! >> 6 === 2 && b[1]! >= 200 && b[1]! <= 207;
}

function compare(mode: Mode, datagrams: readonly Datagram[], clock: Clock | null) {
  const clockRates = clock === null ? {} : { [String(clock.payloadType)]: clock.hz };
  const protocol = (mode === 'rtp' ? rtp : rtcp).create({ clockRates });
  const config = clock === null ? {} : { variant: clock.payloadType + 1, clockRateHz: clock.hz };
  return compareTrackers(protocol.createTracker({ variant: 'default' }), mode, config, datagrams);
}

function assertAgree(
  mode: Mode,
  datagrams: readonly Datagram[],
  clock: Clock | null,
  label: string,
): NativeRun {
  const { native, diff } = compare(mode, datagrams, clock);
  assert.equal(diff, [], `${label}: ${diff.join('; ')}`);
  assert.ok(native.events.length > 0, `${label}: native produced no events`);
  const s = native.stats;
  const counted =
    (s.rtpPackets ?? 0) + (s.rtpInvalid ?? 0) + (s.rtcpPackets ?? 0) + (s.rtcpInvalid ?? 0);
  assert.is(counted, datagrams.length, `${label}: native counted every datagram`);
  return native;
}

/** Clock rates of the RTP flows, from the SRs of all RTCP flows (as the proxy's shared SR book does). */
function clocksFromSenderReports(flows: readonly Datagram[][]): Map<number, number> {
  const family = createRtpFamily();
  for (const flow of flows) {
    if (!isRtcp(flow[0]!.data)) continue;
    const tracker = family.rtcp.createTracker({ variant: 'default' });
    for (const d of flow) tracker.observe(d);
  }
  const clocks = new Map<number, number>();
  for (const flow of flows) {
    const first = flow.find((d) => !isRtcp(d.data) && d.data.length >= 12);
    if (first === undefined) continue;
    const ssrc = new DataView(first.data.buffer, first.data.byteOffset).getUint32(8);
    const hz = family.book.estimate(ssrc);
    if (hz !== null) clocks.set(ssrc, hz);
  }
  return clocks;
}

function clockOf(flow: readonly Datagram[], clocks: Map<number, number>): Clock | null {
  const first = flow.find((d) => !isRtcp(d.data) && d.data.length >= 12);
  if (first === undefined) return null;
  const hz = clocks.get(new DataView(first.data.buffer, first.data.byteOffset).getUint32(8));
  return hz === undefined ? null : { payloadType: first.data[1]! & 0x7f, hz };
}

interface Live {
  readonly lossy: { rtp: Datagram[]; rtcp: Datagram[]; all: Datagram[] };
  readonly jittery: { rtp: Datagram[]; rtcp: Datagram[]; all: Datagram[] };
}

let live: Live | null = null;
let captured: Datagram[][] = [];

test.before(async () => {
  const { recordFfmpegRtp } = await importProtocolsTestModule<FfmpegRtp>('rtp/ffmpeg-rtp');
  const [lossy, jittery] = await Promise.all([
    recordFfmpegRtp({ media: 'h264', seconds: 2.5, dropRtp: (_data, index) => index % 9 !== 4 }),
    recordFfmpegRtp({ media: 'opus', seconds: 2.5, delayRtpMs: (_data, index) => (index % 5) * 3 }),
  ]);
  live = { lossy, jittery };
  captured = await fixtureFlows('rtp', 'rtp-h264-opus.pcap');
});

test('committed capture: every flow agrees as rtp and as rtcp', () => {
  assert.ok(captured.length >= 4, `${captured.length} flows`);
  const clocks = clocksFromSenderReports(captured);
  assert.ok(clocks.size >= 2, 'the SRs gave both streams a clock rate');
  for (const [i, flow] of captured.entries()) {
    const mode: Mode = isRtcp(flow[0]!.data) ? 'rtcp' : 'rtp';
    const clock = clockOf(flow, clocks);
    const native = assertAgree(mode, flow, clock, `capture flow ${i} (${mode})`);
    if (mode === 'rtp') {
      assert.ok(native.stats.jitterMs !== null, `flow ${i}: jitter tracked natively`);
      assert.is(native.stats.rtpPackets, flow.length);
      // A.1 probation: the first packet of a source is not counted as received.
      assert.is(native.stats.received, flow.length - 1);
    } else {
      assert.ok((native.stats.srCount ?? 0) >= 1 && native.events.some((e) => e.reason === 'bye'));
    }
    // The other mode only changes the key and the RTCP opened event; it must agree too.
    const other = compare(mode === 'rtp' ? 'rtcp' : 'rtp', flow, clock);
    assert.equal(other.diff, [], `capture flow ${i} in the other mode`);
  }
});

test('live ffmpeg H.264 with loss: same loss, sequence and fraction lost', () => {
  const { rtp: media, rtcp: control, all } = live!.lossy;
  const clock = clockOf(media, clocksFromSenderReports([media, control]));
  const native = assertAgree('rtp', media, clock, 'lossy rtp');
  assert.ok((native.stats.lost ?? 0) > 0 && (native.stats.lossRatio ?? 0) > 0);
  assertAgree('rtcp', control, null, 'lossy rtcp');
  // RTP and RTCP in one flow, as on an RFC 5761 multiplexed port.
  assertAgree('rtp', all, clock, 'lossy muxed');
});

test('live ffmpeg Opus with delay jitter: same A.8 jitter', () => {
  const { rtp: media, rtcp: control, all } = live!.jittery;
  const clock = clockOf(media, clocksFromSenderReports([media, control]));
  assert.ok(clock !== null);
  const native = assertAgree('rtp', media, clock, 'jittery rtp');
  assert.ok((native.stats.jitterMs ?? 0) > 0);
  assertAgree('rtcp', all, clock, 'jittery muxed as rtcp');
});

test('RTT: an RR answering an SR seen the other way', () => {
  // The capture's SR, then the same SR's middle 32 bits echoed in an RR from the other side.
  const flow = captured.find((f) => isRtcp(f[0]!.data))!;
  const sr = flow.find((d) => d.data[1] === 200)!;
  const b = sr.data;
  const rr = new Uint8Array(32);
  rr.set([0x81, 201, 0, 7, 0, 0, 0, 9]);
  rr.set(b.subarray(4, 8), 8); // reportee: the SR's sender
  rr.set(b.subarray(10, 14), 24); // LSR = middle 32 bits of the SR's NTP time
  rr.set([0, 0, 0x10, 0], 28); // DLSR = 1/16 s
  const native = assertAgree(
    'rtcp',
    [sr, { data: rr, direction: 'reverse', at: sr.at + 100 }],
    null,
    'rtt',
  );
  assert.ok(Math.abs((native.stats.rttMs ?? Number.NaN) - 37.5) < 1e-9);
});

test('a corrupted sequence changes both trackers the same way', () => {
  const media = live!.lossy.rtp;
  const clock = clockOf(media, clocksFromSenderReports([media, live!.lossy.rtcp]));
  const clean = compare('rtp', media, clock).native;
  const corrupted = media.map((d, i) => {
    if (i % 3 !== 1) return d;
    const data = d.data.slice();
    data[3] = data[3]! ^ 0x40; // sequence number jumps
    return { ...d, data };
  });
  const { native, diff } = compare('rtp', corrupted, clock);
  assert.equal(diff, []);
  assert.not.equal(native.stats, clean.stats);
});

test('100k mutated sequences: the trackers agree on every one', () => {
  const real = [...captured, live!.lossy.rtp, live!.lossy.rtcp, live!.lossy.all, live!.jittery.all];
  const clock: Clock = { payloadType: 96, hz: 90000 };
  let checked = 0;
  for (const sequence of fuzzedSequences(real, 100_000, 0x7274)) {
    const mode: Mode = checked % 2 === 0 ? 'rtp' : 'rtcp';
    const { diff } = compare(mode, sequence, clock);
    if (diff.length > 0)
      assert.unreachable(
        `sequence ${checked} (${mode}, ${sequence.length} datagrams): ${diff.join('; ')}`,
      );
    checked++;
  }
  assert.is(checked, 100_000);
});

test.run();
