import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Datagram, Direction } from '@gamemesh/core';

/**
 * A recording UDP relay for tests: real peers talk through it on loopback, and
 * every datagram is kept with its direction and arrival time, exactly as a
 * proxy would see it. `forward` is client -> server.
 */
export interface RecordingRelay {
  /** Port the client should send to. */
  readonly port: number;
  readonly datagrams: Datagram[];
  /** Datagrams of one client (by its source port), in arrival order. */
  byClient(): Map<number, Datagram[]>;
  close(): Promise<void>;
}

export interface RelayOptions {
  readonly upstreamPort: number;
  readonly upstreamHost?: string;
  readonly host?: string;
  /** Optional hook to drop or delay: return false to drop the datagram. */
  readonly filter?: (datagram: Datagram) => boolean;
}

export async function startRecordingRelay(options: RelayOptions): Promise<RecordingRelay> {
  const host = options.host ?? '127.0.0.1';
  const upstreamHost = options.upstreamHost ?? '127.0.0.1';
  const listener = createSocket('udp4');
  const datagrams: Datagram[] = [];
  const clientOf: { datagram: Datagram; client: number }[] = [];
  const upstreams = new Map<string, Socket>();
  const pending: Promise<void>[] = [];

  const record = (data: Buffer, direction: Direction, client: number): boolean => {
    const datagram: Datagram = {
      data: new Uint8Array(data),
      direction,
      at: performance.timeOrigin + performance.now(),
    };
    if (options.filter !== undefined && !options.filter(datagram)) return false;
    datagrams.push(datagram);
    clientOf.push({ datagram, client });
    return true;
  };

  listener.on('message', (data: Buffer, from: RemoteInfo) => {
    const id = `${from.address}:${from.port}`;
    let upstream = upstreams.get(id);
    if (upstream === undefined) {
      const socket = createSocket('udp4');
      upstream = socket;
      upstreams.set(id, socket);
      socket.on('message', (reply: Buffer) => {
        if (record(reply, 'reverse', from.port)) listener.send(reply, from.port, from.address);
      });
      pending.push(new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve())));
    }
    if (record(data, 'forward', from.port)) upstream.send(data, options.upstreamPort, upstreamHost);
  });

  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.bind(0, host, () => resolve());
  });

  return {
    port: listener.address().port,
    datagrams,
    byClient() {
      const out = new Map<number, Datagram[]>();
      for (const { datagram, client } of clientOf) {
        const list = out.get(client) ?? [];
        list.push(datagram);
        out.set(client, list);
      }
      return out;
    },
    async close() {
      await Promise.all(pending);
      const all = [listener, ...upstreams.values()];
      await Promise.all(
        all.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
      );
    },
  };
}
