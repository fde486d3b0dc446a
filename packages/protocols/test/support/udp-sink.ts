import { createSocket } from 'node:dgram';

/**
 * A UDP endpoint on loopback that swallows what it receives: the far end
 * for one-way media (RTP/RTCP senders need a destination, not a reply).
 */
export interface UdpSink {
  readonly port: number;
  /** Datagrams received so far. */
  received(): number;
  close(): Promise<void>;
}

export async function startUdpSink(host = '127.0.0.1'): Promise<UdpSink> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let count = 0;
  socket.on('message', () => {
    count++;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  return {
    port: socket.address().port,
    received: () => count,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
