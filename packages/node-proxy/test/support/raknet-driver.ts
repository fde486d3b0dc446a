import { createRequire } from 'node:module';

/**
 * A small driver over raknet-native (the reference RakNet C++ library) for a
 * client and a server at different addresses, so the client can talk to the
 * proxy while the server listens on a pod port. Each step resolves on the
 * library's own event, or rejects after a timeout.
 */

interface RakEmitter {
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
}

interface RakClient extends RakEmitter {
  ping(): void;
  connect(): void;
  send(message: Buffer, priority: number, reliability: number, orderingChannel: number): void;
  close(): void;
}

export interface RakServerClient {
  readonly guid: string;
  send(message: Buffer, priority: number, reliability: number, orderingChannel: number): void;
}

interface RakServer extends RakEmitter {
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
  PacketPriority: { HIGH_PRIORITY: number };
  PacketReliability: { RELIABLE_ORDERED: number };
}

const rak = createRequire(import.meta.url)('raknet-native') as RakNetNative;

function within<T>(
  what: string,
  ms: number,
  start: (done: (value: T) => void) => void,
): Promise<T> {
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    start((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
  // A wait abandoned after an earlier failure must not crash the run.
  promise.catch(() => {});
  return promise;
}

/** Bytes of an application message: 0x86 = ID_USER_PACKET_ENUM, the first id left to applications. */
export function userMessage(text: string): Buffer {
  return Buffer.concat([Buffer.from([0x86]), Buffer.from(text)]);
}

function messageText(data: unknown): string | null {
  const buffer = (data as { buffer?: unknown }).buffer;
  if (!Buffer.isBuffer(buffer) || buffer[0] !== 0x86) return null;
  return buffer.subarray(1).toString();
}

export class RakNetServerPeer {
  private readonly server: RakServer;
  readonly received: string[] = [];
  readonly connected: Promise<RakServerClient>;
  readonly disconnected: Promise<void>;

  constructor(port: number) {
    this.server = new rak.Server('127.0.0.1', port, {
      maxConnections: 4,
      protocolVersion: 10,
      message: Buffer.from('MCPE;gamemesh proxy test;408;1.16.20;0;4;0;gamemesh;Creative;'),
    });
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
    // listen() settles only at shutdown; the socket is bound synchronously.
    void this.server.listen();
  }

  close(): void {
    this.server.close();
  }
}

export class RakNetClientPeer {
  private client: RakClient | null;
  readonly received: string[] = [];

  constructor(host: string, port: number) {
    this.client = new rak.Client(host, port, { protocolVersion: 10 });
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
    this.live.send(
      userMessage(text),
      rak.PacketPriority.HIGH_PRIORITY,
      rak.PacketReliability.RELIABLE_ORDERED,
      0,
    );
  }

  /** Closes the connection (ID_DISCONNECTION_NOTIFICATION goes out). Idempotent. */
  close(): void {
    this.client?.close();
    this.client = null;
  }
}

export function serverSend(client: RakServerClient, text: string): void {
  client.send(
    userMessage(text),
    rak.PacketPriority.HIGH_PRIORITY,
    rak.PacketReliability.RELIABLE_ORDERED,
    0,
  );
}
