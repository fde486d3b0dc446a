import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassifier, createRegistry, type FlowClassifier } from '@gamemesh/core';
import { builtinProtocols } from '@gamemesh/protocols';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createDataPlane,
  type DataPlane,
  NATIVE_PROTOCOL_IDS,
  type NativeProtocol,
  type NewFlow,
} from '../../ts/index.js';
import { buildUdpLoad, JsonChild, numberField } from './tools.js';

/**
 * Overload: an established RTP session keeps flowing through gamemesh while
 * one million spoofed new-flow datagrams (garbage of 1..64 bytes, 16 each
 * from 62,500 loopback aliases 127.64.x.y) hit the same listener. New flows
 * are classified in TS with the real built-in protocols, exactly as the
 * proxy does; the flood must be absorbed by the per-source budget and the
 * bounded new-flow queue (dropped and counted), and the established
 * session's delivery, counted per packet at the sink, must stay >= 99.9%.
 */

const FLOOD_DATAGRAMS = 1_000_000;
const SESSION_SSRC = 0x5e55_10a1;
const SESSION_RATE = 5000; // datagrams/s: a busy game or voice stream
/** The flood starts this long after the session's sender: time enough for TS to classify the session. */
const FLOOD_AFTER_MS = 1500;
/**
 * Delivery is counted from the first datagram the sender can have sent after
 * the flood started: the sender never runs ahead of its rate (plus one batch
 * of 4), so every packet index from here on was sent during or after the
 * flood. Datagrams of the session's start, lost or not while it was being
 * classified, are the classification's business, not the flood's.
 */
const COUNT_FROM = Math.ceil((SESSION_RATE * FLOOD_AFTER_MS) / 1000) + 8;

/** Answers each new flow from the real classifier: matched protocols run natively, the rest are dropped. */
function classifyFlows(plane: DataPlane): void {
  const classifier = createClassifier(createRegistry({ protocols: builtinProtocols() }));
  const flows = new Map<string, FlowClassifier>();
  const decide = (flow: NewFlow) => {
    if (flow.answered) return;
    let state = flows.get(flow.id);
    if (state === undefined) {
      state = classifier.flow();
      flows.set(flow.id, state);
    }
    // Offers only what the classifier has not seen yet.
    const offered = state.history.length;
    let result = state.classification;
    for (const datagram of flow.datagrams.slice(offered)) result = state.offer(datagram);
    if (result.state === 'pending') return;
    flows.delete(flow.id);
    const name = result.state === 'matched' ? result.protocol.name : '';
    if (Object.hasOwn(NATIVE_PROTOCOL_IDS, name) && name !== 'none') {
      plane.answer(flow, { protocol: name as NativeProtocol, tracker: { clockRateHz: 8000 } });
    } else {
      plane.answer(flow, { drop: true });
    }
  };
  plane.on('newFlow', decide);
  plane.on('flowDatagram', (flow) => decide(flow));
  // Pending flows that never decide are timed out natively; their classifiers go with them.
  const sweep = setInterval(() => {
    if (flows.size > 50_000) flows.clear();
  }, 1000);
  sweep.unref();
}

test('a flood of 1M spoofed new-flow datagrams leaves an established RTP session >= 99.9% delivered', async () => {
  const work = mkdtempSync(join(tmpdir(), 'gamemesh-flood-'));
  const children: JsonChild[] = [];
  let plane: DataPlane | undefined;
  try {
    const udpLoad = buildUdpLoad(work);
    const sink = new JsonChild('sink', udpLoad, [
      'sink',
      '--bind',
      '127.0.0.1:0',
      '--ssrc',
      String(SESSION_SSRC),
      '--count-from',
      String(COUNT_FROM),
      '--warmup-ms',
      '600000',
      '--timeout-ms',
      '60000',
    ]);
    children.push(sink);
    const sinkReady = await sink.line((l) => l.ready === true, 5000);
    const sinkPort = numberField(sinkReady, 'port');

    plane = createDataPlane({ threads: 1, pendingTimeoutMs: 1000 });
    classifyFlows(plane);
    const opened: string[] = [];
    plane.on('opened', (session) => {
      if (session.protocol === 'rtp') opened.push(session.key ?? '');
    });
    const listener = plane.addListener({
      address: '127.0.0.1',
      mode: 'port',
      upstream: { address: '127.0.0.1', port: sinkPort },
    });

    const sessionStarted = Date.now();
    const session = new JsonChild('session', udpLoad, [
      'send',
      '--target',
      `127.0.0.1:${listener.port}`,
      '--sources',
      '1',
      '--rtp',
      '--payload',
      '172', // 12-byte RTP header + 160 bytes of 20 ms PCMU
      '--rate',
      String(SESSION_RATE),
      '--duration-ms',
      '50000',
      '--ssrc-base',
      String(SESSION_SSRC),
    ]);
    children.push(session);
    await waitUntil(
      'the RTP session to open',
      () => opened.includes(String(SESSION_SSRC)),
      FLOOD_AFTER_MS,
    );
    await sleep(sessionStarted + FLOOD_AFTER_MS - Date.now());

    const flood = new JsonChild('flood', udpLoad, [
      'flood',
      '--target',
      `127.0.0.1:${listener.port}`,
      '--total',
      String(FLOOD_DATAGRAMS),
      '--sources-per-gen',
      '1024',
      '--per-source',
      '16',
      '--payload',
      '64',
      '--net',
      '64',
    ]);
    children.push(flood);
    const flooded = await flood.line((l) => l.mode === 'flood', 45_000);
    assert.is(numberField(flooded, 'sent'), FLOOD_DATAGRAMS, 'the flooder sent every datagram');

    // The session runs on past the flood, then stops; the sink reports what arrived.
    await sleep(300);
    await session.stop();
    const sent = numberField(await session.line((l) => l.mode === 'send', 5000), 'sent');
    await sleep(300);
    await sink.stop();
    const received = await sink.line((l) => l.mode === 'sink' && 'trackedDistinct' in l, 5000);
    const delivered = numberField(received, 'trackedDistinct');
    const expected = sent - COUNT_FROM;

    const c = plane.counters();
    const count = (name: string) => c[name] ?? 0;
    // Every reason gamemesh drops a datagram for is a drop_* counter.
    const drops = Object.entries(c).filter(
      ([name, value]) => name.startsWith('drop_') && value > 0,
    );
    const dropped = drops.reduce((sum, [, value]) => sum + value, 0);
    const report = {
      sessionSent: sent,
      sentSinceFlood: expected,
      deliveredSinceFlood: delivered,
      delivery: delivered / expected,
      floodSources: flooded.sources,
      floodSeconds: numberField(flooded, 'elapsedNs') / 1e9,
      rxClient: count('rx_client_packets'),
      enqueued: count('queue_enqueued'),
      drops: Object.fromEntries(drops),
      flowsActive: count('flows_active'),
      txUpstream: count('tx_upstream_packets'),
      // Datagrams the kernel dropped because the listener's receive buffer was full.
      listenerSocketDrops: kernelSocketDrops(listener.port),
    };
    console.log(`flood: ${JSON.stringify(report)}`);

    assert.ok(expected > SESSION_RATE, `the session sent ${expected} datagrams during the flood`);
    assert.ok(delivered / expected >= 0.999, `delivery ${delivered}/${expected} is below 99.9%`);
    assert.ok(delivered <= expected, 'no datagram is delivered twice');
    // The flood reached gamemesh and was absorbed by the budget and the bounded queue, not forwarded.
    assert.ok(
      count('rx_client_packets') >= sent + FLOOD_DATAGRAMS / 2,
      'most of the flood reached the listener',
    );
    assert.ok(
      count('drop_source_budget') + count('drop_queue_full') + count('drop_new_flow_rate') > 0,
      'the per-source budget or the new-flow bounds dropped flood datagrams',
    );
    assert.ok(
      count('queue_enqueued') + dropped >=
        count('rx_client_packets') - count('tx_upstream_packets'),
      'every datagram gamemesh received was forwarded, queued or dropped with a counted reason',
    );
    assert.ok(
      count('tx_upstream_packets') <= sent + 16,
      'no flood datagram was forwarded upstream',
    );
    assert.is(
      opened.filter((key) => key !== String(SESSION_SSRC)).length,
      0,
      'no flood source opened a session',
    );
  } finally {
    for (const child of children) await child.stop();
    plane?.close();
    rmSync(work, { recursive: true, force: true });
  }
});

/** The `drops` column of /proc/net/udp for the socket bound to 127.0.0.1:port. */
function kernelSocketDrops(port: number): number | null {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .find((l) => l.trim().split(/\s+/)[1] === local);
  const drops = line?.trim().split(/\s+/).at(-1);
  return drops === undefined ? null : Number(drops);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test.run();
