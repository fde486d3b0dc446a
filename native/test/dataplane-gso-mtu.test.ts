import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type NewFlow } from '../ts/index.js';
import { bindSocket, closeSocket, sleep, waitFor } from './dataplane/support.js';
import { createMtuNamespace } from './dataplane/veth.js';

/**
 * The GSO fallback, forced for real: the pod sits in a network namespace
 * behind a veth of MTU 1280. A run of 1000 B datagrams fits the path and
 * leaves as one GSO send; a run of 1400 B does not (gso_size + headers above
 * the path MTU), so the kernel refuses the GSO send and the data plane sends
 * the run again per datagram, which IP fragments like any plain send. Every
 * datagram arrives either way, in order.
 */

const HOST = '127.0.0.1';
const MTU = 1280;

/** A UDP echo pod inside the namespace: prints its port, then sends every datagram back. */
const ECHO_POD = `
  const socket = require('node:dgram').createSocket('udp4');
  socket.on('message', (data, from) => socket.send(data, from.port, from.address));
  socket.bind(0, process.argv[1], () => console.log(JSON.stringify({ port: socket.address().port })));
`;

function datagram(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(i & 0xff);
  bytes[0] = i;
  return bytes;
}

test('a run above the path MTU falls back to per-datagram sends: all delivered, fallback counted', async () => {
  const ns = await createMtuNamespace(MTU);
  const dp = createDataPlane({ maxSessions: 16, pendingWindow: 64 });
  const clients: Socket[] = [];
  try {
    const pod = ns.spawn(process.execPath, ['-e', ECHO_POD, ns.nsAddress]);
    const podPort = await new Promise<number>((resolve, reject) => {
      pod.once('exit', (code) => reject(new Error(`the echo pod exited with ${code}`)));
      pod.stdout?.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).port));
    });
    const listener = dp.addListener({ address: HOST, mode: 'key' });
    const flows: NewFlow[] = [];
    dp.on('newFlow', (flow) => flows.push(flow));

    /** A new client's burst, held while pending and forwarded in one batch; returns what came back. */
    const roundTrip = async (sizeBytes: number, count: number) => {
      const client = await bindSocket('udp4', HOST);
      clients.push(client);
      const replies: Uint8Array[] = [];
      client.on('message', (data) => replies.push(new Uint8Array(data)));
      const payloads = Array.from({ length: count }, (_, i) => datagram(i, sizeBytes));
      for (const payload of payloads) client.send(payload, listener.port, HOST);
      const flow = () => flows.find((f) => f.client.port === client.address().port);
      await waitFor('the burst held by TS', () => flow()?.datagrams.length === count);
      dp.answer(flow()!, { protocol: 'none', upstream: { address: ns.nsAddress, port: podPort } });
      await waitFor('every echo', () => replies.length >= count);
      await sleep(20); // a duplicate would arrive right behind
      assert.is(replies.length, count);
      for (let i = 0; i < count; i++)
        assert.equal(replies[i], payloads[i], `echo ${i} (bytes, order)`);
    };

    await roundTrip(1000, 20);
    const fitting = dp.counters();
    assert.ok(fitting.tx_gso_sends >= 1, 'the 1000 B run crossed the veth as a GSO send');
    assert.is(fitting.tx_gso_fallbacks, 0);

    await roundTrip(1400, 20);
    const c = dp.counters();
    assert.is(
      c.tx_gso_fallbacks,
      1,
      'the 1400 B run was refused as GSO once and resent per datagram',
    );
    assert.is(c.tx_upstream_packets, 40);
    assert.is(c.tx_upstream_bytes, 20 * 1000 + 20 * 1400);
    assert.is(c.drop_send_error, 0);
  } finally {
    dp.close();
    await Promise.all(clients.map(closeSocket));
    await ns.remove();
  }
});

test.run();
