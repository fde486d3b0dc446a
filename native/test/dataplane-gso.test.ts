import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type DataPlane, type NewFlow } from '../ts/index.js';
import { bindSocket, closeSocket, sleep, waitFor } from './dataplane/support.js';

/**
 * UDP GSO on the send path: runs of equal-size datagrams to one destination
 * leave as one send and arrive as the same datagrams, in order. The forward
 * runs are deterministic: a pending flow's datagrams are held by TS and
 * forwarded in one batch when it answers. The reverse runs come from a pod
 * sending a burst, which the I/O thread reads in batches as they arrive.
 */

const HOST = '127.0.0.1';

/** Datagram i of a burst: its index in the first two bytes, then a pattern, `size` bytes in all. */
function datagram(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let k = 0; k < size; k++) bytes[k] = (i * 31 + k) & 0xff;
  bytes[0] = i >> 8;
  bytes[1] = i & 0xff;
  return bytes;
}

interface Run {
  readonly dp: DataPlane;
  readonly pod: Socket;
  readonly podReceived: Uint8Array[];
  readonly client: Socket;
  readonly clientReceived: Uint8Array[];
  readonly listenerPort: number;
  readonly flows: NewFlow[];
}

async function setUp(gso: boolean | undefined): Promise<Run> {
  const dp = createDataPlane({
    maxSessions: 16,
    pendingWindow: 64,
    ...(gso === undefined ? {} : { gso }),
  });
  const pod = await bindSocket('udp4', HOST);
  const client = await bindSocket('udp4', HOST);
  const run: Run = {
    dp,
    pod,
    podReceived: [],
    client,
    clientReceived: [],
    listenerPort: dp.addListener({ address: HOST, mode: 'key' }).port,
    flows: [],
  };
  pod.on('message', (data) => run.podReceived.push(new Uint8Array(data)));
  client.on('message', (data) => run.clientReceived.push(new Uint8Array(data)));
  dp.on('newFlow', (flow) => run.flows.push(flow));
  return run;
}

async function tearDown(run: Run): Promise<void> {
  run.dp.close();
  await closeSocket(run.client);
  await closeSocket(run.pod);
}

/** Sends `payloads` from the client while its flow is pending, then answers: all are forwarded in one batch. */
async function forwardHeld(run: Run, payloads: readonly Uint8Array[]): Promise<void> {
  for (const payload of payloads) run.client.send(payload, run.listenerPort, HOST);
  await waitFor(
    'every datagram held by TS',
    () => run.flows[0]?.datagrams.length === payloads.length,
  );
  run.dp.answer(run.flows[0]!, {
    protocol: 'none',
    upstream: { address: HOST, port: run.pod.address().port },
  });
  await waitFor('every datagram at the pod', () => run.podReceived.length >= payloads.length);
  await sleep(20); // a duplicate would arrive right behind
}

function assertSame(received: readonly Uint8Array[], sent: readonly Uint8Array[], what: string) {
  assert.is(received.length, sent.length, `${what}: datagram count`);
  for (let i = 0; i < sent.length; i++) {
    assert.equal(received[i], sent[i], `${what}: datagram ${i} (bytes and order)`);
  }
}

function gsoCounters(dp: DataPlane) {
  const c = dp.counters();
  return { sends: c.tx_gso_sends, segments: c.tx_gso_segments, fallbacks: c.tx_gso_fallbacks };
}

test('a burst of equal-size datagrams to one pod leaves as GSO sends and arrives intact, in order', async () => {
  const run = await setUp(undefined);
  try {
    // 64 x 1200 B: 54 fit one send's 65,000 B payload, so the held batch takes two GSO sends.
    const payloads = Array.from({ length: 64 }, (_, i) => datagram(i, 1200));
    await forwardHeld(run, payloads);
    assertSame(run.podReceived, payloads, 'pod');
    assert.equal(gsoCounters(run.dp), { sends: 2, segments: 64, fallbacks: 0 });
    const c = run.dp.counters();
    assert.is(c.tx_upstream_packets, 64, 'forwarded packets are counted per datagram');
    assert.is(c.tx_upstream_bytes, 64 * 1200);
    assert.is(c.drop_send_error, 0);
  } finally {
    await tearDown(run);
  }
});

test('mixed sizes: equal runs (a shorter last one included) go as GSO, the rest one by one', async () => {
  const run = await setUp(true);
  try {
    const sizes = [
      500, 500, 500, 200, 700, 900, 900, 900, 900, 900, 100, 100, 1200, 1200, 1200, 1300, 40,
    ];
    const payloads = sizes.map((size, i) => datagram(i, size));
    await forwardHeld(run, payloads);
    assertSame(run.podReceived, payloads, 'pod');
    // GSO: [500 500 500 200] [900 x5 100] [1200 x3] [1300 40]; alone: [700] [100].
    assert.equal(gsoCounters(run.dp), { sends: 4, segments: 15, fallbacks: 0 });
    const c = run.dp.counters();
    assert.is(c.tx_upstream_packets, sizes.length);
    assert.is(
      c.tx_upstream_bytes,
      sizes.reduce((sum, size) => sum + size, 0),
    );
  } finally {
    await tearDown(run);
  }
});

/** Opens the flow with one datagram; returns the data plane's upstream socket as the pod sees it. */
async function openFlow(run: Run): Promise<{ address: string; port: number }> {
  const seen = new Promise<{ address: string; port: number }>((resolve) =>
    run.pod.once('message', (_data, from) => resolve({ address: from.address, port: from.port })),
  );
  run.client.send(new Uint8Array([0xff]), run.listenerPort, HOST);
  await waitFor('the new flow', () => run.flows.length === 1);
  run.dp.answer(run.flows[0]!, {
    protocol: 'none',
    upstream: { address: HOST, port: run.pod.address().port },
  });
  return seen;
}

/**
 * Bursts from the pod to the client, back to back (the sends of one tick):
 * `rounds` of them, or, with `untilGso`, until the I/O thread has read two
 * datagrams of a burst in one batch and sent them as one GSO send.
 */
async function reverseBursts(run: Run, rounds: number, untilGso: boolean): Promise<Uint8Array[]> {
  const upstream = await openFlow(run);
  const sizes = [...Array.from({ length: 24 }, () => 1000), 300];
  const sent: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    if (untilGso && run.dp.counters().tx_gso_sends > 0) break;
    const burst = sizes.map((size, i) => datagram(round * sizes.length + i, size));
    for (const payload of burst) run.pod.send(payload, upstream.port, upstream.address);
    sent.push(...burst);
    await waitFor('the burst at the client', () => run.clientReceived.length >= sent.length);
  }
  await sleep(20); // a duplicate would arrive right behind
  return sent;
}

test("the reverse direction: a pod's burst reaches the client through the listener socket, as GSO sends", async () => {
  const run = await setUp(true);
  try {
    const sent = await reverseBursts(run, 50, true);
    assertSame(run.clientReceived, sent, 'client');
    const gso = gsoCounters(run.dp);
    assert.ok(gso.sends > 0, 'some run of the bursts went out as one GSO send');
    assert.ok(gso.segments >= 2 * gso.sends, `${gso.segments} segments in ${gso.sends} sends`);
    assert.is(gso.fallbacks, 0);
    const c = run.dp.counters();
    assert.is(c.tx_client_packets, sent.length, 'reverse packets are counted per datagram');
    assert.is(
      c.tx_client_bytes,
      sent.reduce((sum, d) => sum + d.length, 0),
    );
    assert.is(c.tx_upstream_packets, 1, 'the forward direction carried the opening datagram only');
  } finally {
    await tearDown(run);
  }
});

test('gso: false sends one datagram per message both ways, with the same delivery', async () => {
  const run = await setUp(false);
  try {
    const payloads = Array.from({ length: 64 }, (_, i) => datagram(i, 1200));
    await forwardHeld(run, payloads);
    assertSame(run.podReceived, payloads, 'pod');
    assert.equal(gsoCounters(run.dp), { sends: 0, segments: 0, fallbacks: 0 });
    assert.is(run.dp.counters().tx_upstream_packets, 64);
  } finally {
    await tearDown(run);
  }
  const reverse = await setUp(false);
  try {
    const sent = await reverseBursts(reverse, 10, false);
    assertSame(reverse.clientReceived, sent, 'client');
    assert.equal(gsoCounters(reverse.dp), { sends: 0, segments: 0, fallbacks: 0 });
    assert.is(reverse.dp.counters().tx_client_packets, sent.length);
  } finally {
    await tearDown(reverse);
  }
});

test('gso must be a boolean', () => {
  try {
    createDataPlane({ gso: 1 as unknown as boolean });
    assert.unreachable('a number was accepted');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'GM_NATIVE_INVALID_OPTION');
  }
});

test.run();
