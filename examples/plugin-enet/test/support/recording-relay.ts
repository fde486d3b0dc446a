import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Datagram, Direction } from '@gamemesh/core';

/**
 * A recording UDP relay on loopback: one client talks to `port`, the relay
 * forwards to the server and back, and keeps every datagram as gamemesh sees
 * it (`forward` = client to server, arrival time in ms). `loseAfterSeen` drops
 * a datagram after it was recorded: loss past the proxy, which the peers see
 * and repair while the observer has seen both copies.
 */
export interface RecordingRelay {
  readonly port: number;
  readonly datagrams: readonly Datagram[];
  close(): Promise<void>;
}

export interface RecordingRelayOptions {
  readonly serverPort: number;
  readonly loseAfterSeen?: (datagram: Datagram) => boolean;
}

function bound(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
}

export async function startRecordingRelay(options: RecordingRelayOptions): Promise<RecordingRelay> {
  const datagrams: Datagram[] = [];
  const clientSide = createSocket('udp4');
  const serverSide = createSocket('udp4');
  let client: RemoteInfo | null = null;

  const pass = (data: Buffer, direction: Direction): boolean => {
    const datagram: Datagram = {
      data: new Uint8Array(data),
      direction,
      at: performance.timeOrigin + performance.now(),
    };
    datagrams.push(datagram);
    return options.loseAfterSeen === undefined || !options.loseAfterSeen(datagram);
  };

  clientSide.on('message', (data, from) => {
    client = from;
    if (pass(data, 'forward')) serverSide.send(data, options.serverPort, '127.0.0.1');
  });
  serverSide.on('message', (data) => {
    if (client !== null && pass(data, 'reverse'))
      clientSide.send(data, client.port, client.address);
  });
  await Promise.all([bound(clientSide), bound(serverSide)]);

  return {
    port: clientSide.address().port,
    datagrams,
    async close() {
      const closing = [clientSide, serverSide].map(
        (socket) => new Promise<void>((resolve) => socket.close(() => resolve())),
      );
      await Promise.all(closing);
    },
  };
}
