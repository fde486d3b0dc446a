/** Loopback UDP ports for the benchmark's relays and sinks. */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { sleep } from './processes.js';

/** A port the kernel just handed out on 127.0.0.1 (released before it is used: good enough on loopback). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** `count` consecutive ports starting at a free one (for listeners that take a range). */
export async function freeUdpPortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 10000);
    const bound = boundUdpPorts();
    let clear = true;
    for (let p = base; p < base + count; p++) if (bound.has(p)) clear = false;
    if (clear) return base;
  }
  throw new Error(`no range of ${count} free UDP ports found`);
}

/** Local ports of every bound UDP socket (IPv4 and IPv6), from /proc/net/udp{,6}. */
export function boundUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':')[1];
      if (port !== undefined) ports.add(Number.parseInt(port, 16));
    }
  }
  return ports;
}

/** Waits until some socket is bound to `port` (for relays that print nothing when ready, like nginx). */
export async function waitForUdpPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (boundUdpPorts().has(port)) return;
    await sleep(20);
  }
  throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
}
