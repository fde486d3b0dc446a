import type { Socket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane, type NewFlow } from '../ts/index.js';
import { bindSocket, closeSocket, type Echo, startEcho, waitFor } from './dataplane/support.js';

/**
 * IPv4 and IPv6 clients on one I/O thread share its receive headers. The
 * kernel shrinks a header's address length to 16 bytes when an IPv4 datagram
 * lands in it, so each header must get its full length back before it takes
 * an IPv6 datagram, or the client's address is cut short (a wrong flow, a
 * reply to the wrong address). IPv4 goes first, so every IPv6 datagram lands
 * in headers an IPv4 batch used just before.
 */

const BURST = 48;
const ROUNDS = 3;

function payload(family: 4 | 6, round: number, i: number): Uint8Array {
  return new TextEncoder().encode(`v${family} round ${round} datagram ${i} `.repeat(4));
}

function sendAll(client: Socket, datagrams: Uint8Array[], port: number, host: string): void {
  for (const datagram of datagrams) client.send(datagram, port, host);
}

test('IPv4 and IPv6 flows on one thread keep their full client addresses, batch after batch', async () => {
  const dp = createDataPlane({ threads: 1, maxSessions: 64, batchSize: 64 });
  const sockets: Socket[] = [];
  const echoes: Echo[] = [];
  try {
    const echo4 = await startEcho('udp4', '127.0.0.1');
    const echo6 = await startEcho('udp6', '::1');
    echoes.push(echo4, echo6);
    const client4 = await bindSocket('udp4', '127.0.0.1');
    const client6 = await bindSocket('udp6', '::1');
    sockets.push(client4, client6);
    const replies4: string[] = [];
    const replies6: string[] = [];
    const decode = (data: Uint8Array) => new TextDecoder().decode(data);
    client4.on('message', (data) => replies4.push(decode(data)));
    client6.on('message', (data) => replies6.push(decode(data)));

    const listener4 = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    const listener6 = dp.addListener({ address: '::1', mode: 'key' });
    const newFlows: NewFlow[] = [];
    dp.on('newFlow', (flow) => {
      newFlows.push(flow);
      const pod = flow.listener === listener4.id ? echo4 : echo6;
      const address = flow.listener === listener4.id ? '127.0.0.1' : '::1';
      dp.answer(flow, { protocol: 'none', upstream: { address, port: pod.port } });
    });

    // One datagram each opens the flows through TS; the bursts then run natively.
    sendAll(client4, [payload(4, 0, 0)], listener4.port, '127.0.0.1');
    await waitFor('the first IPv4 echo', () => replies4.length === 1);
    sendAll(client6, [payload(6, 0, 0)], listener6.port, '::1');
    await waitFor('the first IPv6 echo', () => replies6.length === 1);

    const sent4 = [payload(4, 0, 0)];
    const sent6 = [payload(6, 0, 0)];
    for (let round = 1; round <= ROUNDS; round++) {
      const burst4 = Array.from({ length: BURST }, (_, i) => payload(4, round, i));
      sendAll(client4, burst4, listener4.port, '127.0.0.1');
      sent4.push(...burst4);
      await waitFor(`IPv4 round ${round}`, () => replies4.length === sent4.length);
      const burst6 = Array.from({ length: BURST }, (_, i) => payload(6, round, i));
      sendAll(client6, burst6, listener6.port, '::1');
      sent6.push(...burst6);
      await waitFor(`IPv6 round ${round}`, () => replies6.length === sent6.length);
    }

    assert.equal(
      newFlows.map((flow) => `${flow.client.address}:${flow.client.port}`),
      [`127.0.0.1:${client4.address().port}`, `::1:${client6.address().port}`],
      'one flow per client, each with its full address',
    );
    assert.equal(replies4.sort(), sent4.map(decode).sort());
    assert.equal(replies6.sort(), sent6.map(decode).sort());
    const c = dp.counters();
    assert.equal(c.flows_created, 2);
    assert.equal(c.tx_client_packets, sent4.length + sent6.length);
    assert.equal(c.drop_unknown_source + c.drop_send_error + c.drop_pending_window, 0);
  } finally {
    dp.close();
    for (const socket of sockets) await closeSocket(socket);
    for (const echo of echoes) await closeSocket(echo.socket);
  }
});

test.run();
