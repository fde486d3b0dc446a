import type { Socket } from 'node:dgram';

/** Small helpers shared by the dgram-based client and server. */

/** Monotonic seconds for timers and timeouts (immune to wall-clock steps). */
export function clockSeconds(): number {
  return performance.now() / 1000;
}

/** Wall-clock Unix seconds, for token expiry (tokens carry absolute timestamps). */
export function unixSeconds(): number {
  return Date.now() / 1000;
}

/**
 * Binds `socket`, rejecting when the bind fails. Later socket errors are
 * ignored: a send to a peer that went away must not crash the endpoint.
 */
export async function bindSocket(socket: Socket, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
}

export function closeSocket(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => socket.close(() => resolve()));
}

/**
 * Counts the datagrams handed to `socket.send` whose callback has not run
 * yet. dgram resolves the destination before it writes, and a socket closed
 * in the meantime drops the datagram without a word: an endpoint that sends
 * its disconnect burst and then closes waits for `settled()` in between.
 */
export class PendingSends {
  private count = 0;
  private readonly waiters: (() => void)[] = [];

  send(socket: Socket, bytes: Uint8Array, port: number, host: string): void {
    this.count++;
    socket.send(bytes, port, host, () => {
      // Written or failed, the datagram is no longer the socket's to send.
      if (--this.count === 0) for (const resolve of this.waiters.splice(0)) resolve();
    });
  }

  /** Resolves once every datagram sent so far has been written (or has failed). */
  settled(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** A Uint8Array view of a Buffer without copying. */
export function toUint8Array(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
