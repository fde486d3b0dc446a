import { join } from 'node:path';
import type { Datagram } from '@gamemesh/core';
import { createRandom, type Random } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readUdpDatagrams } from '../../src/inspect/index.js';
import { probeRtp } from '../../src/rtp/index.js';
import { packageRoot } from '../inspect/helpers/paths.js';
import { aloneVerdict, builtin, classifyWithBuiltins } from './classify.js';

// Reordered RTP: the committed ffmpeg capture's streams arrive permuted as a
// path with independent per-packet delays (or a reordering buffer) leaves
// them, and the full built-in classifier must still call them RTP within its
// window. The other side: datagrams that look like RTP in their first bytes
// but are random behind them stay unrecognised, at no higher a rate than
// before reordering was accepted.

const CAPTURE = join(packageRoot(), 'test', 'fixtures', 'rtp', 'rtp-h264-opus.pcap');
/** Packets per trial: more than the classifier's window of 8, so its end is reached. */
const TRIAL_PACKETS = 24;
const TRIALS = 400;

interface Stream {
  readonly name: string;
  readonly packets: readonly Uint8Array[];
}

let streams: Stream[] = [];

test.before(async () => {
  const { datagrams } = await readUdpDatagrams(CAPTURE);
  const bySource = new Map<number, Uint8Array[]>();
  for (const d of datagrams) {
    const list = bySource.get(d.sourcePort) ?? [];
    list.push(d.payload);
    bySource.set(d.sourcePort, list);
  }
  // RTP flows only: RTCP (byte 1 in 200..207) goes from sockets of its own.
  streams = [...bySource.values()]
    .filter((packets) => packets[0]![1]! < 200 || packets[0]![1]! > 207)
    .map((packets) => ({ name: `PT ${packets[0]![1]! & 0x7f}`, packets }));
});

const seqOf = (b: Uint8Array) => (b[2]! << 8) | b[3]!;
const tsOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(4);

/** Sent every 5 ms, each held by an independent uniform 0-20 ms delay: arrival order. */
function delayed(packets: readonly Uint8Array[], random: Random): Datagram[] {
  return packets
    .map((data, i) => ({ data, direction: 'forward' as const, at: i * 5 + random.next() * 20 }))
    .sort((a, b) => a.at - b.at);
}

/** Shuffled within consecutive blocks of `size` (Fisher-Yates per block). */
function blockShuffled(packets: readonly Uint8Array[], size: number, random: Random): Datagram[] {
  const out = [...packets];
  for (let start = 0; start < out.length; start += size) {
    const end = Math.min(start + size, out.length);
    for (let i = end - 1; i > start; i--) {
      const j = start + random.int(i - start + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  return out.map((data, i) => ({ data, direction: 'forward', at: i * 5 }));
}

/**
 * Whether two sequence-consecutive packets arrive one right after the other
 * (timestamps not going back) among the first `window`: what RFC 3550 A.1
 * probation, and so an in-order-only probe, needs to see.
 */
function hasInOrderNeighbours(datagrams: readonly Datagram[], window: number): boolean {
  for (let i = 1; i < Math.min(window, datagrams.length); i++) {
    const [a, b] = [datagrams[i - 1]!.data, datagrams[i]!.data];
    if (seqOf(b) === ((seqOf(a) + 1) & 0xffff) && ((tsOf(b) - tsOf(a)) | 0) >= 0) return true;
  }
  return false;
}

test('real ffmpeg RTP reordered by independent 0-20 ms delays on 5 ms packets, or shuffled in blocks of 5, is rtp within the window', () => {
  assert.is(streams.length, 2, 'the capture has an H.264 and an Opus RTP stream');
  const random = createRandom(0x3550);
  let withoutNeighbours = 0;
  let displaced = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const stream = streams[trial % streams.length]!;
    // Anywhere in the stream: a flow is new to the proxy wherever it (re)starts.
    const start = random.int(stream.packets.length - TRIAL_PACKETS);
    const packets = stream.packets.slice(start, start + TRIAL_PACKETS);
    const arrived = trial % 4 === 3 ? blockShuffled(packets, 5, random) : delayed(packets, random);
    if (!hasInOrderNeighbours(arrived, 8)) withoutNeighbours++;
    if (arrived.some((d, i) => d.data !== packets[i])) displaced++;
    const outcome = classifyWithBuiltins(arrived);
    assert.is(
      outcome.label,
      'rtp/default',
      `${stream.name} trial ${trial}: ${outcome.label}, arrival order ${arrived
        .slice(0, 8)
        .map((d) => seqOf(d.data))
        .join(' ')}`,
    );
    assert.ok(outcome.decidedAt >= 1 && outcome.decidedAt < 8, `decided at ${outcome.decidedAt}`);
  }
  // The permutations are real reordering, and many leave A.1's in-order evidence out of the
  // window entirely: those are the flows an in-order-only probe called unknown.
  assert.ok(displaced > TRIALS * 0.9, `${displaced} of ${TRIALS} trials reordered`);
  assert.ok(
    withoutNeighbours >= TRIALS * 0.05,
    `${withoutNeighbours} of ${TRIALS} trials have no in-order neighbours in the first 8`,
  );
});

test('random datagrams behind RTP-looking first bytes (V=2, PT 96) are never rtp', () => {
  const random = createRandom(0xbad5eed);
  const rtp = builtin('rtp');
  for (let flow = 0; flow < 2000; flow++) {
    const datagrams: Datagram[] = Array.from({ length: 8 }, (_, i) => {
      const data = random.bytes(12 + random.int(300));
      data[0] = 0x80;
      data[1] = 96 | (data[1]! & 0x80);
      return { data, direction: 'forward', at: i * 5 };
    });
    const outcome = classifyWithBuiltins(datagrams);
    assert.not.ok(outcome.label.startsWith('rtp/'), `flow ${flow}: ${outcome.label}`);
    assert.not.ok(outcome.label.startsWith('rtcp/'), `flow ${flow}: ${outcome.label}`);
    assert.not.ok(aloneVerdict(rtp, datagrams).label.startsWith('rtp/'), `flow ${flow} alone`);
  }
});

test('a fixed SSRC and PT with random sequence numbers and timestamps: rare matches, no more than an in-order-only probe', () => {
  // The worst case for the pair rule: every field RTP's continuity does not look at agrees.
  // Per pair: |seq distance| <= 16 with p = 32/65536, timestamps within 2^24 and in the same
  // order with p = 1/256; 28 pairs in 8 datagrams give about 5.3e-5 per flow, the same as
  // A.1's 7 neighbour pairs at 1/65536 x 1/2 each.
  const random = createRandom(0x5eed);
  const FLOWS = 200_000;
  let matched = 0;
  const history: Datagram[] = [];
  for (let flow = 0; flow < FLOWS; flow++) {
    history.length = 0;
    for (let i = 0; i < 8; i++) {
      const data = random.bytes(16);
      data[0] = 0x80;
      data[1] = 96;
      data.set([0xde, 0xad, 0xbe, 0xef], 8);
      const datagram: Datagram = { data, direction: 'forward', at: i };
      if (probeRtp(datagram, history).verdict === 'match') {
        matched++;
        break;
      }
      history.push(datagram);
    }
  }
  assert.ok(matched <= FLOWS * 1e-4, `${matched} of ${FLOWS} flows matched`);
});

test.run();
