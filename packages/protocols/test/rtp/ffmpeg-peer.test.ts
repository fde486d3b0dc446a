import {
  createClassifier,
  createFlow,
  createRegistry,
  createSessionBook,
  type Datagram,
  type Flow,
  type LifecycleEvent,
  u32be,
} from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRtpFamily,
  estimateClockRate,
  parseRtcpCompound,
  type RtcpPacket,
  rtp,
} from '../../src/rtp/index.js';
import { type FfmpegRtpRecording, recordFfmpegRtp } from './ffmpeg-rtp.js';

/**
 * ffmpeg as the real RTP/RTCP peer. H.264 goes through a relay that drops a
 * deterministic 5% of RTP datagrams; Opus goes through a delay line with
 * three phases (none, +15 ms on every other packet, +5 ms on every other).
 */

const DROP_PERIOD = 20;
const dropped = new Set<number>();
const isDropped = (index: number): boolean => index >= 5 && index % DROP_PERIOD === 13;

const PHASE_LENGTH = 90;
const phaseDelayMs = (index: number): number => {
  if (index % 2 === 0 || index < PHASE_LENGTH) return 0;
  return index < 2 * PHASE_LENGTH ? 15 : 5;
};

let h264: FfmpegRtpRecording;
let opus: FfmpegRtpRecording;
let h264Forwarded = 0;

test.before(async () => {
  [h264, opus] = await Promise.all([
    recordFfmpegRtp({
      media: 'h264',
      seconds: 3,
      dropRtp: (_data, index) => {
        h264Forwarded = Math.max(h264Forwarded, index + 1);
        if (!isDropped(index)) return true;
        dropped.add(index);
        return false;
      },
    }),
    recordFfmpegRtp({
      media: 'opus',
      seconds: 6.5,
      delayRtpMs: (_data, index) => phaseDelayMs(index),
    }),
  ]);
});

const ssrcOf = (d: Datagram): number => u32be(d.data, 8);
const rtcpPackets = (recording: FfmpegRtpRecording): RtcpPacket[] =>
  recording.rtcp.flatMap((d) => {
    const parsed = parseRtcpCompound(d.data);
    return parsed.ok ? [...parsed.packets] : [];
  });

/** Feeds a recording through real flows and a session book, as the proxy does. */
function runFlows(recording: FfmpegRtpRecording) {
  const family = createRtpFamily();
  const classifier = createClassifier(createRegistry({ protocols: [family.rtcp, family.rtp] }));
  const book = createSessionBook();
  const rtpFlow = createFlow(classifier);
  const rtcpFlow = createFlow(classifier);
  const rtpSet = new Set(recording.rtp);
  const rtcpEvents: LifecycleEvent[] = [];
  let closedElsewhere = 0;
  for (const datagram of recording.all) {
    const flow: Flow = rtpSet.has(datagram) ? rtpFlow : rtcpFlow;
    const events = flow.observe(datagram);
    book.index('rtp', flow);
    if (flow === rtcpFlow) rtcpEvents.push(...events);
    closedElsewhere += book.route('rtp', events);
  }
  return { family, rtpFlow, rtcpFlow, rtcpEvents, closedElsewhere };
}

test('real H.264 stream: RTP matches on the 2nd datagram, RTCP on the 1st, BYE closes the RTP flow', () => {
  assert.ok(h264.rtp.length > 100, `rtp datagrams: ${h264.rtp.length}`);
  const ssrc = ssrcOf(h264.rtp[0]!);
  const { rtpFlow, rtcpFlow, rtcpEvents, closedElsewhere, family } = runFlows(h264);
  const rtpClass = rtpFlow.classification;
  assert.is(
    rtpClass.state === 'matched' ? `${rtpClass.protocol.name}/${rtpClass.reason}` : rtpClass.state,
    'rtp/probation_passed',
  );
  assert.is(
    rtpFlow.opened?.at,
    h264.rtp[1]!.at,
    'A.1 probation with MIN_SEQUENTIAL=2 passes on the second packet',
  );
  assert.is(rtpFlow.key(), String(ssrc));
  const rtcpClass = rtcpFlow.classification;
  assert.is(
    rtcpClass.state === 'matched'
      ? `${rtcpClass.protocol.name}/${rtcpClass.reason}`
      : rtcpClass.state,
    'rtcp/compound_valid',
  );
  assert.is(rtcpFlow.key(), String(ssrc));
  assert.ok(
    rtcpEvents.some((e) => e.type === 'closed' && e.reason === 'bye' && e.key === String(ssrc)),
    'ffmpeg -rtpflags send_bye: the rtcp tracker reports the BYE for the stream SSRC',
  );
  assert.is(rtpFlow.closed?.reason, 'bye');
  assert.is(closedElsewhere, 1, 'the session book routed the BYE to the RTP flow');
  const stats = rtcpFlow.stats()!;
  assert.is(stats.byeCount, 1);
  assert.is(stats.srCount, rtcpPackets(h264).filter((p) => p.type === 'sr').length);
  assert.ok((stats.srCount as number) >= 2);
  assert.is(family.book.estimate(ssrc), 90000, 'H.264 clock from two real SRs');
});

test('real H.264 stream through a lossy relay: A.3 lost/expected/lossRatio equal the ground truth', () => {
  const tracker = rtp.create().createTracker({ variant: 'default' });
  for (const d of h264.rtp) tracker.observe(d);
  const stats = tracker.stats();
  // Probation ends on RTP datagram 1 (base_seq); the last one kept bounds the extended max.
  let lastKept = h264Forwarded - 1;
  while (dropped.has(lastKept)) lastKept--;
  const truth = [...dropped].filter((i) => i > 1 && i < lastKept).length;
  assert.ok(truth >= 4, `dropped ${truth}`);
  assert.is(stats.expected, lastKept);
  assert.is(stats.lost, truth);
  assert.is(stats.received, lastKept - truth);
  assert.is(stats.lossRatio, truth / lastKept);
  assert.ok(
    Math.abs((stats.fractionLost as number) - 1 / DROP_PERIOD) < 0.04,
    `fraction lost ${stats.fractionLost}`,
  );
  assert.is(stats.payloadType, h264.rtp[0]!.data[1]! & 0x7f);
  assert.is(
    stats.clockRate,
    null,
    'dynamic PT, no config, no SR in a standalone rtp flow: no clock, no jitter',
  );
  assert.is(stats.jitterMs, null);
});

/**
 * RFC 3550 §6.4.1 written out directly over the recorded arrivals: the
 * expected figure for the very datagrams the tracker saw. Arrival times on a
 * loaded machine carry scheduler noise, so the tracker is held to this
 * reference exactly, and to the added delay pattern only from below (noise
 * can add jitter, never remove it).
 */
function referenceJitterMs(datagrams: readonly Datagram[], clockRate: number): number[] {
  const out: number[] = [];
  let jitter = 0;
  let previous: { arrival: number; timestamp: number } | null = null;
  for (const d of datagrams) {
    const timestamp = u32be(d.data, 4);
    const arrival = (d.at * clockRate) / 1000;
    if (previous !== null && timestamp !== previous.timestamp) {
      const transitDelta = arrival - previous.arrival - ((timestamp - previous.timestamp) | 0);
      jitter += (Math.abs(transitDelta) - jitter) / 16;
    }
    if (previous === null || timestamp !== previous.timestamp) previous = { arrival, timestamp };
    out.push((jitter * 1000) / clockRate);
  }
  return out;
}

test('real Opus stream: jitter equals RFC 3550 A.8 over the real arrivals and tracks a 15 ms then 5 ms delay pattern', () => {
  const pt = opus.rtp[0]!.data[1]! & 0x7f;
  const tracker = rtp
    .create({ clockRates: { [String(pt)]: 48000 } })
    .createTracker({ variant: 'default' });
  const reference = referenceJitterMs(opus.rtp, 48000);
  const checkpoints = [PHASE_LENGTH - 1, 2 * PHASE_LENGTH - 1, opus.rtp.length - 1];
  const samples: number[] = [];
  opus.rtp.forEach((d, i) => {
    tracker.observe(d);
    if (!checkpoints.includes(i)) return;
    const measured = tracker.stats().jitterMs as number;
    const expected = reference[i]!;
    // The tracker starts after A.1 probation, the reference at the first
    // packet; that start-up difference decays by 1/16 per packet.
    assert.ok(
      Math.abs(measured - expected) <= 0.02 + expected * 0.01,
      `datagram ${i}: tracker ${measured} ms, RFC 3550 A.8 reference ${expected} ms`,
    );
    samples.push(measured);
  });
  assert.ok(opus.rtp.length >= 3 * PHASE_LENGTH - 10, `opus datagrams: ${opus.rtp.length}`);
  const [, fifteen, five] = samples as [number, number, number];
  const stats = tracker.stats();
  assert.is(stats.clockRateSource, 'config');
  assert.ok(fifteen > 11, `+15 ms on every other packet: ${fifteen} ms`);
  assert.ok(five > 3.5, `+5 ms on every other packet: ${five} ms`);
  assert.is(stats.jitter, Math.floor(((stats.jitterMs as number) * 48000) / 1000));
  assert.is(stats.lost, 0);
});

test('real Opus stream: the family SR book gives the RTP flow a 48 kHz clock estimated from RTCP SRs', () => {
  const srs = rtcpPackets(opus).filter(
    (p): p is Extract<RtcpPacket, { type: 'sr' }> => p.type === 'sr',
  );
  assert.ok(srs.length >= 3, `SRs: ${srs.length}`);
  const sample = (p: (typeof srs)[number]) => ({
    ntp: p.ntpSeconds + p.ntpFraction / 2 ** 32,
    rtpTimestamp: p.rtpTimestamp,
  });
  assert.is(estimateClockRate(sample(srs[0]!), sample(srs[srs.length - 1]!)), 48000);
  const { rtpFlow, family } = runFlows(opus);
  const stats = rtpFlow.stats()!;
  assert.is(family.book.estimate(ssrcOf(opus.rtp[0]!)), 48000);
  assert.is(stats.clockRate, 48000);
  assert.is(stats.clockRateSource, 'estimated');
  assert.type(stats.jitterMs, 'number');
  assert.is(rtpFlow.closed?.reason, 'bye');
});

test.run();
