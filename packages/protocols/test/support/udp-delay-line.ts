import { createSocket } from 'node:dgram';

/**
 * A one-way UDP delay line on loopback: each datagram received is sent on
 * to `upstreamPort` after `delayMs(data, index)` milliseconds (0 = at once).
 * Put it in front of a recording relay to give a real stream a known,
 * repeatable delay pattern (interarrival jitter tests).
 */
export interface UdpDelayLine {
  readonly port: number;
  /** Resolves once every scheduled datagram has been sent. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface DelayLineOptions {
  readonly upstreamPort: number;
  readonly delayMs: (data: Uint8Array, index: number) => number;
  readonly host?: string;
}

export async function startUdpDelayLine(options: DelayLineOptions): Promise<UdpDelayLine> {
  const host = options.host ?? '127.0.0.1';
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let index = 0;
  let closed = false;
  socket.on('message', (data: Buffer) => {
    const delay = options.delayMs(new Uint8Array(data), index++);
    if (delay <= 0) {
      socket.send(data, options.upstreamPort, host);
      return;
    }
    const sent = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!closed) socket.send(data, options.upstreamPort, host);
        resolve();
      }, delay);
      timers.add(timer);
    });
    inFlight.add(sent);
    void sent.then(() => inFlight.delete(sent));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  return {
    port: socket.address().port,
    drain: async () => {
      await Promise.all([...inFlight]);
    },
    close: () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
