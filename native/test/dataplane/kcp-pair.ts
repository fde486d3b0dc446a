import type { Socket } from 'node:dgram';
import { createRequire } from 'node:module';

/**
 * A node-kcp (reference ikcp.c) client/server pair for data plane tests: the
 * client talks to the proxy's listener, the server answers whoever sends to
 * it (the proxy's upstream socket). The server echoes every message.
 */

interface NodeKcp {
  send(data: Buffer): number;
  input(data: Buffer): number;
  recv(): Buffer | undefined;
  update(now: number): void;
  nodelay(nodelay: number, interval: number, resend: number, nc: number): number;
  output(callback: (data: Buffer, size: number) => void): void;
  release(): void;
}

const { KCP } = createRequire(import.meta.url)('node-kcp/build/Release/kcp') as {
  KCP: new (conv: number, context: object) => NodeKcp;
};

export interface KcpPair {
  /** Messages the client got back. */
  readonly echoed: string[];
  send(message: string): void;
  stop(): void;
}

export function startKcpPair(
  conv: number,
  client: Socket,
  proxy: { address: string; port: number },
  server: Socket,
): KcpPair {
  const echoed: string[] = [];
  const clientKcp = new KCP(conv, {});
  const serverKcp = new KCP(conv, {});
  for (const kcp of [clientKcp, serverKcp]) kcp.nodelay(1, 10, 2, 1);
  let serverPeer: { address: string; port: number } | null = null;
  // node-kcp frees its ikcp state on release() and then dereferences NULL on
  // any further call: datagrams still in flight after stop() must not reach it.
  let stopped = false;
  clientKcp.output((data, size) => client.send(data.subarray(0, size), proxy.port, proxy.address));
  serverKcp.output((data, size) => {
    if (serverPeer !== null)
      server.send(data.subarray(0, size), serverPeer.port, serverPeer.address);
  });
  client.on('message', (data) => {
    if (stopped) return;
    clientKcp.input(data);
    for (let m = clientKcp.recv(); m !== undefined; m = clientKcp.recv()) echoed.push(m.toString());
  });
  server.on('message', (data, from) => {
    if (stopped) return;
    serverPeer = { address: from.address, port: from.port };
    serverKcp.input(data);
    for (let m = serverKcp.recv(); m !== undefined; m = serverKcp.recv()) serverKcp.send(m);
  });
  const timer = setInterval(() => {
    const now = Date.now() & 0xffffffff;
    clientKcp.update(now);
    serverKcp.update(now);
  }, 5);
  return {
    echoed,
    send: (message) => {
      if (!stopped) clientKcp.send(Buffer.from(message));
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      clientKcp.release();
      serverKcp.release();
    },
  };
}
