import { createRequire } from 'node:module';

/**
 * raknet-native (the reference RakNet C++ library) as the tests drive it: a
 * typed view of the part of its API they use, a wait that rejects after a
 * timeout, and a client and a server peer whose steps resolve on the
 * library's own events. The client and the server take separate addresses,
 * so a client can talk to a relay or a proxy in front of the server. The node
 * proxy's tests load this module too (packages/node-proxy/test/support/
 * sibling-tests.ts), so both packages drive the same peers.
 */

interface RakEmitter {
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
}

export interface RakClient extends RakEmitter {
  ping(): void;
  connect(): void;
  send(message: Buffer, priority: number, reliability: number, orderingChannel: number): void;
  close(): void;
}

/** A connection as the server sees it. */
export interface RakServerClient {
  readonly guid: string;
  readonly address: string;
  send(message: Buffer, priority: number, reliability: number, orderingChannel: number): void;
}

export interface RakServer extends RakEmitter {
  listen(): Promise<void>;
  close(): void;
}

interface RakNetNative {
  Client: new (host: string, port: number, options: { protocolVersion: number }) => RakClient;
  Server: new (
    host: string,
    port: number,
    options: { maxConnections: number; protocolVersion: number; message: Buffer },
  ) => RakServer;
  PacketPriority: { HIGH_PRIORITY: number; IMMEDIATE_PRIORITY: number };
  PacketReliability: { UNRELIABLE: number; RELIABLE_ORDERED: number };
}

export const rakNetNative = createRequire(import.meta.url)('raknet-native') as RakNetNative;

/**
 * A server on 127.0.0.1:`port`, listening. Its unconnected pong carries a
 * Bedrock-style server description, which is what raknet-native's clients
 * expect to read.
 */
export function startRakServer(port: number, protocolVersion: number): RakServer {
  const server = new rakNetNative.Server('127.0.0.1', port, {
    maxConnections: 4,
    protocolVersion,
    message: Buffer.from('MCPE;gamemesh test;408;1.16.20;0;4;0;gamemesh;Creative;'),
  });
  // listen() returns a promise that only settles at shutdown; the socket is bound synchronously.
  void server.listen();
  return server;
}

/** Resolves with what `start` hands to `done`, or rejects after `ms`. */
export function within<T>(
  what: string,
  ms: number,
  start: (done: (value: T) => void) => void,
): Promise<T> {
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    // A wait nobody awaits any more must not keep the process alive.
    timer.unref();
    start((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
  // Some waits are abandoned when an earlier step fails; their rejection must not crash the run.
  promise.catch(() => {});
  return promise;
}

/** 0x86 = ID_USER_PACKET_ENUM: the first message id the library hands to the application. */
const USER_MESSAGE = 0x86;

/** Bytes of an application message carrying `text`. */
export function userMessage(text: string): Buffer {
  return Buffer.concat([Buffer.from([USER_MESSAGE]), Buffer.from(text)]);
}

function messageText(data: unknown): string | null {
  const buffer = (data as { buffer?: unknown }).buffer;
  if (!Buffer.isBuffer(buffer) || buffer[0] !== USER_MESSAGE) return null;
  return buffer.subarray(1).toString();
}

/** Sends `text` reliably and in order on channel 0. */
function sendText(to: RakClient | RakServerClient, text: string): void {
  to.send(
    userMessage(text),
    rakNetNative.PacketPriority.HIGH_PRIORITY,
    rakNetNative.PacketReliability.RELIABLE_ORDERED,
    0,
  );
}

/** A server that keeps the text of every application message it receives. */
export class RakNetServerPeer {
  private readonly server: RakServer;
  readonly received: string[] = [];
  readonly connected: Promise<RakServerClient>;
  readonly disconnected: Promise<void>;

  constructor(port: number, protocolVersion = 10) {
    this.server = startRakServer(port, protocolVersion);
    this.connected = within('server openConnection', 5000, (done) =>
      this.server.on('openConnection', done as (client: never) => void),
    );
    this.disconnected = within('server closeConnection', 5000, (done) =>
      this.server.on('closeConnection', () => done()),
    );
    this.server.on('encapsulated', ((data: unknown) => {
      const text = messageText(data);
      if (text !== null) this.received.push(text);
    }) as (data: never) => void);
  }

  close(): void {
    this.server.close();
  }
}

/** A client that keeps the text of every application message it receives. */
export class RakNetClientPeer {
  private client: RakClient | null;
  readonly received: string[] = [];

  constructor(host: string, port: number, protocolVersion = 10) {
    this.client = new rakNetNative.Client(host, port, { protocolVersion });
    this.client.on('encapsulated', ((data: unknown) => {
      const text = messageText(data);
      if (text !== null) this.received.push(text);
    }) as (data: never) => void);
  }

  private get live(): RakClient {
    if (this.client === null) throw new Error('RakNet client closed');
    return this.client;
  }

  /** Unconnected ping, answered by the server's unconnected pong. */
  ping(): Promise<void> {
    const ponged = within<void>('unconnected pong', 5000, (done) =>
      this.live.once('pong', () => done()),
    );
    this.live.ping();
    return ponged;
  }

  connect(): Promise<void> {
    const connected = within<void>('client connect', 5000, (done) =>
      this.live.once('connect', () => done()),
    );
    this.live.connect();
    return connected;
  }

  send(text: string): void {
    sendText(this.live, text);
  }

  /** Closes the connection (ID_DISCONNECTION_NOTIFICATION goes out). Idempotent. */
  close(): void {
    this.client?.close();
    this.client = null;
  }
}

/** The server's side of a connection sends `text` to its client. */
export function serverSend(client: RakServerClient, text: string): void {
  sendText(client, text);
}
