import type { Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUdpDatagrams } from '@gamemesh/protocols/inspect';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../src/config.js';
import type { SessionView } from '../src/sessions.js';
import {
  bindUdp,
  closeUdp,
  loopbackPortModeArgs,
  type StartedProxy,
  startProxy,
  waitFor,
} from './support/proxy.js';
import { repoRoot } from './support/sibling-tests.js';

/**
 * A new RTP flow whose first datagrams arrive back to back, as a video
 * keyframe does: the data plane holds them while TS classifies the flow,
 * and every one of them reaches the pod. The datagrams are the first of the
 * H.264 stream of the committed ffmpeg capture, sent in one synchronous
 * loop from this process, which also runs the proxy: the proxy cannot
 * answer before the whole burst is in, so what the data plane cannot hold
 * is dropped (`pending_window`) every time, not by chance of scheduling.
 */

const BURST = 32;
const CAPTURE = join(
  repoRoot(),
  'packages',
  'protocols',
  'test',
  'fixtures',
  'rtp',
  'rtp-h264-opus.pcap',
);

/** The first BURST datagrams of the capture's H.264 RTP stream (PT 96), in sending order. */
async function keyframeBurst(): Promise<Uint8Array[]> {
  const { datagrams } = await readUdpDatagrams(CAPTURE);
  const video = datagrams.filter(
    (d) => d.payload.length >= 12 && d.payload[0]! >> 6 === 2 && (d.payload[1]! & 0x7f) === 96,
  );
  const firstSource = video[0]!.sourcePort;
  return video
    .filter((d) => d.sourcePort === firstSource)
    .slice(0, BURST)
    .map((d) => d.payload);
}

interface BurstRun {
  /** What the pod got, in order. */
  readonly received: Uint8Array[];
  readonly pendingWindowDrops: number;
  readonly flowDenied: number;
  readonly session: SessionView | undefined;
}

/** One proxy (port mode, unknown flows dropped) with `dataPlane` from a config file; one burst through it. */
async function sendBurst(burst: readonly Uint8Array[], dataPlane: string): Promise<BurstRun> {
  const dir = await mkdtemp(join(tmpdir(), 'gm-rtp-burst-'));
  let pod: Socket | null = null;
  let client: Socket | null = null;
  let proxy: StartedProxy | null = null;
  try {
    pod = await bindUdp();
    const received: Uint8Array[] = [];
    pod.on('message', (message) => received.push(new Uint8Array(message)));
    const file = join(dir, 'proxy.yaml');
    await writeFile(
      file,
      `dataPlane: ${dataPlane}\nprotocols: { rtp: { clockRates: { "96": 90000 } } }\n`,
    );
    proxy = await startProxy(['--config', file, ...loopbackPortModeArgs(pod.address().port)]);
    const port = proxy.running.proxy.listenerPorts().default!;
    client = await bindUdp();
    // One synchronous loop: the proxy's JS (this thread) answers the new flow only afterwards.
    for (const datagram of burst) client.send(datagram, port, '127.0.0.1');
    const dp = proxy.running.proxy.dp;
    const settled = () => {
      const c = dp.counters();
      return c.tx_upstream_packets + c.drop_pending_window >= burst.length;
    };
    await waitFor('the burst forwarded or dropped', settled, 5000);
    await waitFor(
      'the pod got what was forwarded',
      () => received.length >= dp.counters().tx_upstream_packets,
      2000,
    );
    const admin = `http://${proxy.running.admin}`;
    const { sessions } = (await (await fetch(`${admin}/sessions?protocol=rtp`)).json()) as {
      sessions: SessionView[];
    };
    return {
      received,
      pendingWindowDrops: dp.counters().drop_pending_window,
      flowDenied: dp.counters().drop_flow_denied,
      session: sessions[0],
    };
  } finally {
    await proxy?.running.close();
    if (client !== null) await closeUdp(client);
    if (pod !== null) await closeUdp(pod);
    await rm(dir, { recursive: true, force: true });
  }
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the committed capture gives a burst of real H.264 RTP datagrams of one stream', async () => {
  const burst = await keyframeBurst();
  assert.is(burst.length, BURST);
  const seqs = burst.map((b) => (b[2]! << 8) | b[3]!);
  assert.ok(
    seqs.every((s, i) => i === 0 || s === ((seqs[i - 1]! + 1) & 0xffff)),
    'consecutive sequence numbers',
  );
  assert.ok(
    burst.some((b) => b.length === 1200),
    'full-size fragments of a key frame (pkt_size=1200)',
  );
});

test(`default pendingWindow: a new RTP flow's first ${BURST} datagrams, back to back, all reach the pod in order`, async () => {
  const burst = await keyframeBurst();
  const run = await sendBurst(burst, '{}');
  assert.is(run.pendingWindowDrops, 0, 'drop_pending_window');
  assert.equal(run.received.map(hexOf), burst.map(hexOf), 'the pod got the burst, byte for byte');
  assert.is(run.session?.protocol, 'rtp', 'classified as RTP');
  assert.is(run.session?.packets.forward, BURST);
});

test('pendingWindow 8 (the data plane default): the same burst loses everything past the 8th datagram', async () => {
  const burst = await keyframeBurst();
  const run = await sendBurst(burst, '{ pendingWindow: 8 }');
  assert.is(run.pendingWindowDrops, BURST - 8, 'drop_pending_window');
  assert.equal(run.received.map(hexOf), burst.slice(0, 8).map(hexOf), 'only the held ones');
  assert.is(run.session?.packets.forward, 8);
});

test('a new RTP flow whose first 8 datagrams arrive swapped in pairs is rtp, not an unknown flow denied', async () => {
  const burst = await keyframeBurst();
  // 1 0 3 2 5 4 7 6 8 9 ...: no two sequence-adjacent packets arrive one after the other
  // within the classifier's 8 datagrams, the in-order evidence RFC 3550 A.1 probation waits for.
  const arrival = burst.map((_, i) => (i < 8 ? i ^ 1 : i)).map((i) => burst[i]!);
  const run = await sendBurst(arrival, '{}');
  assert.is(run.session?.protocol, 'rtp', 'classified as RTP with unknownFlows: drop');
  assert.is(run.session?.packets.forward, BURST);
  assert.is(run.flowDenied, 0, 'drop_flow_denied');
  assert.equal(run.received.map(hexOf), arrival.map(hexOf), 'the pod got them as they came');
});

test('dataPlane.pendingWindow: default 64; 8..64 and at most newFlowQueue, else an error naming the path', () => {
  const listeners = [{ name: 'game', address: '127.0.0.1:0', upstream: '127.0.0.1:9' }];
  const parsed = parseConfig({ listeners });
  assert.ok(parsed.ok);
  assert.is(parsed.ok && parsed.config.dataPlane.pendingWindow, 64);
  for (const pendingWindow of [7, 65, 1.5, '64']) {
    const result = parseConfig({ listeners, dataPlane: { pendingWindow } });
    assert.not.ok(result.ok, `pendingWindow ${String(pendingWindow)}`);
    assert.equal(!result.ok && result.errors.map((e) => e.path), ['dataPlane.pendingWindow']);
  }
  const tooBig = parseConfig({ listeners, dataPlane: { newFlowQueue: 32 } });
  assert.equal(!tooBig.ok && tooBig.errors, [
    {
      path: 'dataPlane.pendingWindow',
      problem:
        "64 is more than dataPlane.newFlowQueue (32), which holds every pending flow's datagrams",
    },
  ]);
  assert.ok(parseConfig({ listeners, dataPlane: { newFlowQueue: 32, pendingWindow: 32 } }).ok);
});

test.run();
