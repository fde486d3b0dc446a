import { createSocket } from 'node:dgram';
import type { Datagram } from '@gamemesh/core';
import { type RecordingRelay, startRecordingRelay } from '../support/relay.js';
import {
  type RakClient,
  type RakServer,
  type RakServerClient,
  rakNetNative,
  startRakServer,
  within,
} from './raknet-peers.js';

/**
 * Drives one real raknet-native client <-> server session on loopback:
 * unconnected ping/pong, connect, reliable-ordered and unreliable messages
 * both ways, a wait for connected ping/pong, then a client close (which sends
 * ID_DISCONNECTION_NOTIFICATION). With `relay: true` the client talks through
 * the recording relay, so every datagram is kept as a proxy would see it.
 */

export interface SessionOptions {
  /** Bedrock-style RakNet protocol byte (10 or 11). */
  readonly protocolVersion?: number;
  /** Server port; a free one when omitted. */
  readonly serverPort?: number;
  /** Record through the relay (tests) or talk directly (captures). */
  readonly relay: boolean;
  /** Messages each way per reliability. */
  readonly messages?: number;
  /** How long to keep the connection up so connected pings flow. */
  readonly holdMs?: number;
}

export interface SessionRecording {
  /** Client <-> server datagrams in arrival order; empty without the relay. */
  readonly datagrams: readonly Datagram[];
  /** Client GUID as the server reported it (decimal u64). */
  readonly clientGuid: string;
  /** Server GUID as the client reported it (decimal u64). */
  readonly serverGuid: string;
  readonly protocolVersion: number;
  readonly receivedByServer: number;
  readonly receivedByClient: number;
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return socket.address().port;
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runRakNetSession(options: SessionOptions): Promise<SessionRecording> {
  const { Client, PacketPriority, PacketReliability } = rakNetNative;
  const protocolVersion = options.protocolVersion ?? 10;
  const messages = options.messages ?? 4;
  const serverPort = options.serverPort ?? (await freeUdpPort());
  let server: RakServer | null = null;
  let client: RakClient | null = null;
  let relay: RecordingRelay | null = null;
  try {
    server = startRakServer(serverPort, protocolVersion);
    const opened = within<RakServerClient>('server openConnection', 5000, (done) =>
      server!.on('openConnection', done as (client: never) => void),
    );
    const closedOnServer = within<void>('server closeConnection', 5000, (done) =>
      server!.on('closeConnection', () => done()),
    );
    let receivedByServer = 0;
    let receivedByClient = 0;
    const allAtServer = within<void>('messages at server', 5000, (done) =>
      server!.on('encapsulated', () => {
        if (++receivedByServer === 2 * messages) done();
      }),
    );
    let clientPort = serverPort;
    if (options.relay) {
      relay = await startRecordingRelay({ upstreamPort: serverPort });
      clientPort = relay.port;
    }
    client = new Client('127.0.0.1', clientPort, { protocolVersion });
    const ponged = within<void>('unconnected pong', 5000, (done) =>
      client!.once('pong', () => done()),
    );
    client.ping();
    await ponged;
    const connected = within<{ guid: string }>('client connect', 5000, (done) =>
      client!.once('connect', done as (data: never) => void),
    );
    const allAtClient = within<void>('messages at client', 5000, (done) =>
      client!.on('encapsulated', () => {
        if (++receivedByClient === 2 * messages) done();
      }),
    );
    client.connect();
    const { guid: serverGuid } = await connected;
    const serverSide = await opened;
    for (let i = 0; i < messages; i++) {
      // 0x86 = ID_USER_PACKET_ENUM: the first id the library hands to the application.
      const up = Buffer.from([0x86, i, 0x75, 0x70]);
      const down = Buffer.from([0x86, i, 0x64, 0x6f, 0x77, 0x6e]);
      client.send(up, PacketPriority.HIGH_PRIORITY, PacketReliability.RELIABLE_ORDERED, 0);
      client.send(up, PacketPriority.HIGH_PRIORITY, PacketReliability.UNRELIABLE, 0);
      serverSide.send(down, PacketPriority.HIGH_PRIORITY, PacketReliability.RELIABLE_ORDERED, 0);
      serverSide.send(down, PacketPriority.HIGH_PRIORITY, PacketReliability.UNRELIABLE, 0);
      await sleep(20);
    }
    await Promise.all([allAtServer, allAtClient]);
    await sleep(options.holdMs ?? 300);
    client.close();
    client = null;
    await closedOnServer;
    // Let the server's ACK of the notification cross the relay.
    await sleep(100);
    return {
      datagrams: relay === null ? [] : [...relay.datagrams],
      clientGuid: serverSide.guid,
      serverGuid,
      protocolVersion,
      receivedByServer,
      receivedByClient,
    };
  } finally {
    if (client !== null) client.close();
    if (server !== null) server.close();
    if (relay !== null) await relay.close();
  }
}
