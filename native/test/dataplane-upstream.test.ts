import type { RemoteInfo, Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataPlane } from '../ts/index.js';
import { bindSocket, closeSocket, waitFor } from './dataplane/support.js';

/**
 * An upstream socket is connect()ed to its pod while it carries one flow (so
 * forwarding skips a route lookup per datagram) and disconnected when it
 * takes a flow to a second pod. Either way a flow keeps the local port its
 * pod knows it by, and replies from every pod of a shared socket get through.
 */

interface Pod {
  readonly socket: Socket;
  readonly port: number;
  /** Source ports the pod saw, in arrival order. */
  readonly seenPorts: number[];
}

async function startPod(): Promise<Pod> {
  const socket = await bindSocket('udp4', '127.0.0.1');
  const pod: Pod = { socket, port: socket.address().port, seenPorts: [] };
  socket.on('message', (data: Buffer, from: RemoteInfo) => {
    pod.seenPorts.push(from.port);
    socket.send(data, from.port, from.address);
  });
  return pod;
}

/** The remote port of the IPv4 UDP socket bound to local `port` (0 = not connected), from /proc/net/udp. */
function connectedPeerPort(port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const [, local, remote] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex}`) && remote !== undefined) {
      return Number.parseInt(remote.split(':')[1] ?? '', 16);
    }
  }
  return undefined;
}

test('a flow keeps its local port while its socket goes from one pod to two and back', async () => {
  const dp = createDataPlane({ maxSessions: 64, sourceBudget: { burst: 32 } });
  const pods = [await startPod(), await startPod()];
  const clients = [await bindSocket('udp4', '127.0.0.1'), await bindSocket('udp4', '127.0.0.1')];
  const replies = [0, 0];
  try {
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    // Client i goes to pod i: both flows can share one upstream socket (one flow per pod each).
    dp.on('newFlow', (flow) => {
      const index = clients.findIndex((c) => c.address().port === flow.client.port);
      dp.answer(flow, {
        protocol: 'none',
        upstream: { address: '127.0.0.1', port: pods[index]!.port },
      });
    });
    for (const [i, client] of clients.entries()) {
      client.on('message', () => {
        replies[i]!++;
      });
    }
    const send = (i: number) => clients[i]!.send(`from ${i}`, listener.port, '127.0.0.1');

    // One flow on the socket: connected to pod 0.
    send(0);
    await waitFor('echo to client 0', () => replies[0] === 1);
    send(0);
    await waitFor('second echo to client 0', () => replies[0] === 2);
    const port = pods[0]!.seenPorts[0]!;
    assert.is(connectedPeerPort(port), pods[0]!.port, 'the upstream socket is connected to pod 0');

    // A flow to pod 1 takes the same socket, which is disconnected to receive from both pods.
    send(1);
    await waitFor('echo to client 1', () => replies[1] === 1);
    for (let round = 0; round < 3; round++) {
      send(0);
      send(1);
    }
    await waitFor('echoes through the shared socket', () => replies[0] === 5 && replies[1] === 4);

    assert.is(dp.counters().upstream_sockets, 1, 'both flows share one upstream socket');
    assert.is(connectedPeerPort(port), 0, 'the shared socket is not connected');
    assert.ok(
      pods[0]!.seenPorts.every((p) => p === port),
      `pod 0 saw one port: ${pods[0]!.seenPorts}`,
    );
    assert.ok(
      pods[1]!.seenPorts.every((p) => p === port),
      `pod 1 saw the same port: ${pods[1]!.seenPorts}`,
    );
    const counters = dp.counters();
    assert.is(counters.drop_send_error, 0);
    assert.is(counters.drop_unknown_source, 0);
    assert.is(counters.tx_upstream_packets, 9);
    assert.is(counters.tx_client_packets, 9);
  } finally {
    dp.close();
    for (const socket of [...clients, ...pods.map((p) => p.socket)]) await closeSocket(socket);
  }
});

test('a socket emptied of its flows is connected again to the pod of its next flow', async () => {
  const dp = createDataPlane({
    maxSessions: 64,
    sourceBudget: { burst: 32 },
    idleTimeoutMs: 100,
    sweepIntervalMs: 20,
  });
  const pods = [await startPod(), await startPod()];
  const clients = [await bindSocket('udp4', '127.0.0.1'), await bindSocket('udp4', '127.0.0.1')];
  const replies = [0, 0];
  let closed = 0;
  try {
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    dp.on('newFlow', (flow) => {
      const index = clients.findIndex((c) => c.address().port === flow.client.port);
      dp.answer(flow, {
        protocol: 'none',
        upstream: { address: '127.0.0.1', port: pods[index]!.port },
      });
    });
    dp.on('closed', () => closed++);
    for (const [i, client] of clients.entries()) {
      client.on('message', () => {
        replies[i]!++;
      });
    }
    clients[0]!.send('first', listener.port, '127.0.0.1');
    await waitFor('echo to client 0', () => replies[0] === 1);
    await waitFor('the first session idles out', () => closed === 1);
    // The socket is free again; the next flow (to the other pod) connects it to that pod.
    for (let i = 0; i < 3; i++) clients[1]!.send(`again ${i}`, listener.port, '127.0.0.1');
    await waitFor('echoes to client 1', () => replies[1] === 3);
    assert.is(dp.counters().upstream_sockets, 1, 'the free socket was reused');
    assert.is(connectedPeerPort(pods[0]!.seenPorts[0]!), pods[1]!.port, 'connected to pod 1 now');
    assert.equal(pods[1]!.seenPorts, Array(3).fill(pods[0]!.seenPorts[0]), 'same local port');
  } finally {
    dp.close();
    for (const socket of [...clients, ...pods.map((p) => p.socket)]) await closeSocket(socket);
  }
});

test.run();
