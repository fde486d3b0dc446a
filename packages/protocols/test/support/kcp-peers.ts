import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import type { Datagram } from '@gamemesh/core';
import type { PeerFraming, Side } from './kcp-framing.js';
import { startRecordingRelay } from './relay.js';

/**
 * Real KCP conversations for tests: node-kcp (the reference ikcp.c) clients
 * and one node-kcp server, each on its own UDP socket on 127.0.0.1, talking
 * through the recording relay. The server demultiplexes clients by address
 * and takes conv from the first datagram, as kcp-go's Listener does. Each
 * client sends its messages; the server echoes every message back.
 */

interface NodeKcp {
  send(data: Buffer): number;
  input(data: Buffer): number;
  recv(): Buffer | undefined;
  update(now: number): void;
  nodelay(nodelay: number, interval: number, resend: number, nc: number): number;
  wndsize(send: number, receive: number): number;
  output(callback: (data: Buffer, size: number) => void): void;
  flush(): void;
  release(): void;
}

interface NodeKcpModule {
  readonly KCP: new (conv: number, context: object) => NodeKcp;
}

const nodeKcp = createRequire(import.meta.url)('node-kcp/build/Release/kcp') as NodeKcpModule;

export interface KcpConversationSpec {
  readonly conv: number;
  /** Messages the client sends, in order; each is echoed by the server. The first must be unique per conversation. */
  readonly messages: readonly Uint8Array[];
}

export interface KcpEndpointSend {
  fromClient(data: Uint8Array): void;
  fromServer(data: Uint8Array): void;
}

export interface KcpExchangeOptions {
  readonly conversations: readonly KcpConversationSpec[];
  readonly framing?: PeerFraming;
  /** Relay filter: return false to drop (deterministic loss). */
  readonly filter?: (datagram: Datagram) => boolean;
  /** Raw datagrams to send after the echoes completed (kcp2k unreliable data, disconnects). */
  readonly epilogue?: (conversation: number, send: KcpEndpointSend) => void;
  readonly timeoutMs?: number;
  /** Awaited once the relay and server sockets are bound, before any traffic (capture scripts start tcpdump here). */
  readonly onBound?: (ports: { relay: number; server: number }) => Promise<void> | void;
}

export interface KcpExchangeResult {
  /** Every datagram the relay forwarded, in arrival order. */
  readonly datagrams: readonly Datagram[];
  /** Per conversation (same order as the input), its datagrams in arrival order. */
  readonly flows: readonly (readonly Datagram[])[];
  /** Echoes each client received. */
  readonly echoed: readonly number[];
}

const RAW: PeerFraming = { wrap: (kcp) => [kcp], unwrap: (datagram) => datagram };
const TICK_MS = 5;
const SETTLE_MS = 200;

function configure(kcp: NodeKcp): void {
  // Fast mode (ikcp "nodelay 1, interval 10, resend 2, nc 1"): short RTOs keep tests quick.
  kcp.nodelay(1, 10, 2, 1);
  kcp.wndsize(64, 128);
}

function bind(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runKcpExchange(options: KcpExchangeOptions): Promise<KcpExchangeResult> {
  const framing = options.framing ?? RAW;
  const sockets: Socket[] = [];
  const endpoints: NodeKcp[] = [];
  const server = createSocket('udp4');
  sockets.push(server);
  let timer: NodeJS.Timeout | null = null;
  let relay: Awaited<ReturnType<typeof startRecordingRelay>> | null = null;
  try {
    const serverPort = await bind(server);
    relay = await startRecordingRelay({
      upstreamPort: serverPort,
      ...(options.filter ? { filter: options.filter } : {}),
    });
    const relayPort = relay.port;
    await options.onBound?.({ relay: relayPort, server: serverPort });
    // The server sees the relay's upstream sockets, not the clients: it tells
    // conversations apart by the first message each one delivered.
    const peers = new Map<
      string,
      { kcp: NodeKcp; port: number; address: string; first: string | null }
    >();
    const emit = (socket: Socket, side: Side, port: number) => (data: Buffer) => {
      for (const datagram of framing.wrap(new Uint8Array(data), side))
        socket.send(datagram, port, '127.0.0.1');
    };
    server.on('message', (data, from) => {
      const kcpBytes = framing.unwrap(new Uint8Array(data), 'server');
      if (kcpBytes === null || kcpBytes.length < 4) return;
      const id = `${from.address}:${from.port}`;
      let peer = peers.get(id);
      if (peer === undefined) {
        const conv =
          (kcpBytes[0]! | (kcpBytes[1]! << 8) | (kcpBytes[2]! << 16) | (kcpBytes[3]! << 24)) >>> 0;
        const kcp = new nodeKcp.KCP(conv, {});
        endpoints.push(kcp);
        configure(kcp);
        kcp.output(emit(server, 'server', from.port));
        peer = { kcp, port: from.port, address: from.address, first: null };
        peers.set(id, peer);
      }
      peer.kcp.input(Buffer.from(kcpBytes));
    });

    const clients: { kcp: NodeKcp; socket: Socket; port: number; echoed: number }[] = [];
    for (const spec of options.conversations) {
      const socket = createSocket('udp4');
      sockets.push(socket);
      const port = await bind(socket);
      const kcp = new nodeKcp.KCP(spec.conv, {});
      endpoints.push(kcp);
      configure(kcp);
      kcp.output(emit(socket, 'client', relayPort));
      const client = { kcp, socket, port, echoed: 0 };
      socket.on('message', (data) => {
        const kcpBytes = framing.unwrap(new Uint8Array(data), 'client');
        if (kcpBytes !== null) kcp.input(Buffer.from(kcpBytes));
      });
      clients.push(client);
    }

    timer = setInterval(() => {
      const now = Date.now();
      for (const client of clients) {
        client.kcp.update(now);
        while (client.kcp.recv() !== undefined) client.echoed++;
      }
      for (const peer of peers.values()) {
        peer.kcp.update(now);
        for (let message = peer.kcp.recv(); message !== undefined; message = peer.kcp.recv()) {
          peer.first ??= message.toString('hex');
          peer.kcp.send(message);
        }
      }
    }, TICK_MS);

    const longest = Math.max(...options.conversations.map((spec) => spec.messages.length));
    for (let i = 0; i < longest; i++) {
      options.conversations.forEach((spec, index) => {
        const message = spec.messages[i];
        if (message !== undefined) clients[index]!.kcp.send(Buffer.from(message));
      });
      await sleep(15);
    }
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    while (
      clients.some((client, index) => client.echoed < options.conversations[index]!.messages.length)
    ) {
      if (Date.now() > deadline) break;
      await sleep(10);
    }
    // Let the final ACKs cross before the epilogue and teardown.
    await sleep(SETTLE_MS);
    if (options.epilogue !== undefined) {
      clients.forEach((client, index) => {
        const first = Buffer.from(options.conversations[index]!.messages[0] ?? []).toString('hex');
        const serverPeer = [...peers.values()].find((peer) => peer.first === first);
        options.epilogue!(index, {
          fromClient: (data) => client.socket.send(data, relayPort, '127.0.0.1'),
          fromServer: (data) => {
            if (serverPeer !== undefined) server.send(data, serverPeer.port, serverPeer.address);
          },
        });
      });
      await sleep(50);
    }
    const byClient = relay.byClient();
    return {
      datagrams: [...relay.datagrams],
      flows: clients.map((client) => byClient.get(client.port) ?? []),
      echoed: clients.map((client) => client.echoed),
    };
  } finally {
    if (timer !== null) clearInterval(timer);
    // node-kcp dereferences NULL on input() after release(): close the sockets
    // that feed it first.
    await Promise.all(sockets.map(closeSocket));
    if (relay !== null) await relay.close();
    for (const kcp of endpoints) kcp.release();
  }
}
