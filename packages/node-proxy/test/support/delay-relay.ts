import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createRandom } from '@gamemesh/core/testing';

/**
 * A one-way UDP relay that delays each datagram by a random amount before
 * sending it on: the jitter source of the impaired RTP test. Each datagram
 * draws a delay uniform in [0, maxDelayMs) from a seeded generator, but
 * leaves no earlier than any datagram that arrived before it: one queue
 * with a varying delay, like one network path, which keeps order.
 * (Independent delays would reorder 5 ms-spaced packets heavily, and the
 * proxy's RTP probe wants two in-order packets within its pending window
 * to recognise a flow; across flows, an RTCP BYE could overtake the last
 * RTP packets it ends.) Each source address:port gets its own upstream
 * socket, so the far end still tells the sender's flows apart. Nothing goes
 * back to the sender: media is one-way.
 */
export interface DelayRelay {
  readonly port: number;
  /** What the relay did so far, measured on its own clock. */
  stats(): DelayRelayStats;
  /** Every datagram sent on, in sending order, with when it came and went (performance.now()). */
  sent(): readonly RelayedDatagram[];
  /** Resolves once every held datagram has been sent. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface DelayRelayStats {
  readonly forwarded: number;
  /** Mean time between receiving and sending a datagram (timer granularity included). */
  readonly meanHoldMs: number;
  readonly maxHoldMs: number;
}

export interface RelayedDatagram {
  readonly data: Uint8Array;
  readonly receivedAt: number;
  readonly sentAt: number;
}

export interface DelayRelayOptions {
  /** Address the relay listens on and sends from. */
  readonly host: string;
  readonly upstream: { readonly address: string; readonly port: number };
  readonly maxDelayMs: number;
  readonly seed: number;
}

interface Held {
  readonly data: Buffer;
  readonly source: Source;
  readonly receivedAt: number;
  readonly releaseAt: number;
}

interface Source {
  readonly socket: Socket;
  readonly bound: Promise<void>;
}

export async function startDelayRelay(options: DelayRelayOptions): Promise<DelayRelay> {
  const random = createRandom(options.seed);
  const listener = createSocket('udp4');
  const sources = new Map<string, Source>();
  /** In arrival order; release times never decrease along it. */
  const queue: Held[] = [];
  const drained: (() => void)[] = [];
  const sent: RelayedDatagram[] = [];
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const settle = () => {
    if (queue.length === 0) for (const resolve of drained.splice(0)) resolve();
  };

  // One timer, for the head: timers due in the same millisecond need not fire in order.
  const pump = (): void => {
    timer = null;
    if (closed) return;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.releaseAt <= now) {
      const held = queue.shift()!;
      held.source.socket.send(held.data, options.upstream.port, options.upstream.address);
      sent.push({ data: new Uint8Array(held.data), receivedAt: held.receivedAt, sentAt: now });
    }
    const head = queue[0];
    if (head !== undefined) timer = setTimeout(pump, head.releaseAt - now);
    else settle();
  };

  const sourceOf = (from: RemoteInfo): Source => {
    const id = `${from.address}:${from.port}`;
    let source = sources.get(id);
    if (source === undefined) {
      const socket = createSocket('udp4');
      const bound = new Promise<void>((resolve) => socket.bind(0, options.host, () => resolve()));
      source = { socket, bound };
      sources.set(id, source);
    }
    return source;
  };

  listener.on('message', (data: Buffer, from: RemoteInfo) => {
    if (closed) return;
    const source = sourceOf(from);
    const receivedAt = performance.now();
    const last = queue[queue.length - 1];
    const releaseAt = Math.max(
      receivedAt + random.next() * options.maxDelayMs,
      last?.releaseAt ?? 0,
    );
    queue.push({ data, source, receivedAt, releaseAt });
    // (A send on a socket still binding is queued by dgram until the bind completes.)
    if (timer === null) timer = setTimeout(pump, releaseAt - receivedAt);
  });

  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.bind(0, options.host, () => resolve());
  });

  return {
    port: listener.address().port,
    stats: () => {
      const holds = sent.map((d) => d.sentAt - d.receivedAt);
      return {
        forwarded: sent.length,
        meanHoldMs: holds.length === 0 ? 0 : holds.reduce((a, b) => a + b, 0) / holds.length,
        maxHoldMs: Math.max(0, ...holds),
      };
    },
    sent: () => sent,
    drain: () =>
      new Promise<void>((resolve) => {
        drained.push(resolve);
        settle();
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      queue.length = 0;
      settle();
      await Promise.all([...sources.values()].map((s) => s.bound));
      const sockets = [listener, ...[...sources.values()].map((s) => s.socket)];
      await Promise.all(
        sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
      );
    },
  };
}
