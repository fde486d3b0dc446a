import { spawnSync } from 'node:child_process';
import { createSocket, type Socket, type SocketType } from 'node:dgram';

/** Loopback peers and waits for the data plane tests. Every helper's socket is closed by its caller. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true; fails with `what` after `timeoutMs` (a bound, not a measurement). */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function bindSocket(type: SocketType, address: string): Promise<Socket> {
  const socket = createSocket(type);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve(socket));
  });
}

export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** A UDP echo "game pod": sends every datagram back to where it came from, and counts them. */
export interface Echo {
  readonly socket: Socket;
  readonly port: number;
  readonly received: Uint8Array[];
}

export async function startEcho(type: SocketType = 'udp4', address = '127.0.0.1'): Promise<Echo> {
  const socket = await bindSocket(type, address);
  const received: Uint8Array[] = [];
  socket.on('message', (data, from) => {
    received.push(new Uint8Array(data));
    socket.send(data, from.port, from.address);
  });
  return { socket, port: socket.address().port, received };
}

/**
 * Sends one datagram from each of `sockets` fresh sockets of a child process,
 * synchronously: the test's event loop is blocked meanwhile, so nothing
 * drains the new-flow queue and its bounds are what decide.
 */
export function burstFromChild(
  port: number,
  sockets: number,
  size: number,
  address = '127.0.0.1',
): void {
  const script = `
    const dgram = require('node:dgram');
    const payload = Buffer.alloc(${size}, 7);
    let pending = ${sockets};
    for (let i = 0; i < ${sockets}; i++) {
      const s = dgram.createSocket('${address.includes(':') ? 'udp6' : 'udp4'}');
      s.send(payload, ${port}, '${address}', () => { s.close(); if (--pending === 0) process.exit(0); });
    }`;
  const result = spawnSync(process.execPath, ['-e', script], { stdio: 'inherit', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`burst child exited with ${result.status}`);
}
