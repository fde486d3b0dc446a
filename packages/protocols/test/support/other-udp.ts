import { createSocket, type Socket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import type { Datagram } from '@gamemesh/core';
import { createRandom } from '@gamemesh/core/testing';
import { type RecordingRelay, startRecordingRelay } from './relay.js';

/**
 * UDP traffic that is none of the game protocols, produced by real endpoints
 * on loopback, for "never mislabel" checks: DNS answered by a tiny local
 * server to queries from Node's own resolver (c-ares), a STUN binding
 * exchange (RFC 5389), seeded random-byte datagrams and all-zero datagrams.
 * Each kind uses its own server port so a capture can be split by port.
 */

// RFC 5389 §6: magic cookie in bytes 4..7 of every STUN message.
export const STUN_MAGIC_COOKIE = 0x2112a442;
const STUN_BINDING_REQUEST = 0x0001;
const STUN_BINDING_SUCCESS = 0x0101;
// RFC 5389 §15.2.
const STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const STUN_HEADER_BYTES = 20;

function writeStunHeader(
  out: Uint8Array,
  type: number,
  bodyLength: number,
  transactionId: Uint8Array,
): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint16(0, type);
  view.setUint16(2, bodyLength);
  view.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(transactionId.subarray(0, 12), 8);
}

/** RFC 5389 §6: a Binding request with no attributes (20 bytes). */
export function stunBindingRequest(transactionId: Uint8Array): Uint8Array {
  const out = new Uint8Array(STUN_HEADER_BYTES);
  writeStunHeader(out, STUN_BINDING_REQUEST, 0, transactionId);
  return out;
}

/** RFC 5389 §7.3.1/§15.2: a Binding success response carrying XOR-MAPPED-ADDRESS (IPv4) of the requester. */
export function stunBindingSuccess(
  transactionId: Uint8Array,
  ipv4: string,
  port: number,
): Uint8Array {
  const attribute = 4 + 8; // type, length, then reserved, family, x-port, x-address
  const out = new Uint8Array(STUN_HEADER_BYTES + attribute);
  writeStunHeader(out, STUN_BINDING_SUCCESS, attribute, transactionId);
  const view = new DataView(out.buffer);
  view.setUint16(20, STUN_ATTR_XOR_MAPPED_ADDRESS);
  view.setUint16(22, 8);
  view.setUint8(24, 0);
  view.setUint8(25, 0x01); // family IPv4
  view.setUint16(26, port ^ (STUN_MAGIC_COOKIE >>> 16));
  const address = ipv4.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
  view.setUint32(28, (address ^ STUN_MAGIC_COOKIE) >>> 0);
  return out;
}

/** Reads the XOR-MAPPED-ADDRESS of a success response built as above; null when it is not one. */
export function readStunMappedAddress(data: Uint8Array): { ipv4: string; port: number } | null {
  if (data.length < 32) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint16(0) !== STUN_BINDING_SUCCESS || view.getUint32(4) !== STUN_MAGIC_COOKIE)
    return null;
  if (view.getUint16(20) !== STUN_ATTR_XOR_MAPPED_ADDRESS || view.getUint8(25) !== 0x01)
    return null;
  const port = view.getUint16(26) ^ (STUN_MAGIC_COOKIE >>> 16);
  const address = (view.getUint32(28) ^ STUN_MAGIC_COOKIE) >>> 0;
  return { ipv4: [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.'), port };
}

const DNS_TYPE_A = 1;
const DNS_TYPE_AAAA = 28;
const DNS_HEADER_BYTES = 12;

/**
 * RFC 1035 §4.1: the response to one query: same id and question, QR set,
 * opcode and RD copied, RA set; one answer (A 192.0.2.1 / AAAA 2001:db8::1,
 * documentation addresses) pointing back at the question name, else none.
 * Null for anything that is not a single-question query.
 */
export function dnsResponseFor(query: Uint8Array): Uint8Array | null {
  if (query.length < DNS_HEADER_BYTES + 5) return null;
  const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
  const flags = view.getUint16(2);
  if ((flags & 0x8000) !== 0 || view.getUint16(4) !== 1) return null;
  let offset = DNS_HEADER_BYTES;
  while (offset < query.length && query[offset] !== 0) offset += 1 + query[offset]!;
  const questionEnd = offset + 1 + 4;
  if (questionEnd > query.length) return null;
  const qtype = view.getUint16(offset + 1);
  const rdata =
    qtype === DNS_TYPE_A
      ? Uint8Array.of(192, 0, 2, 1)
      : qtype === DNS_TYPE_AAAA
        ? Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1)
        : null;
  const answer = rdata === null ? 0 : 2 + 2 + 2 + 4 + 2 + rdata.length;
  const out = new Uint8Array(questionEnd + answer);
  const w = new DataView(out.buffer);
  w.setUint16(0, view.getUint16(0));
  // QR=1, opcode and RD from the query, RA=1, RCODE=0.
  w.setUint16(2, 0x8000 | (flags & 0x7900) | 0x0080);
  w.setUint16(4, 1);
  w.setUint16(6, rdata === null ? 0 : 1);
  out.set(query.subarray(DNS_HEADER_BYTES, questionEnd), DNS_HEADER_BYTES);
  if (rdata !== null) {
    let o = questionEnd;
    w.setUint16(o, 0xc000 | DNS_HEADER_BYTES); // name: pointer to the question
    w.setUint16(o + 2, qtype);
    w.setUint16(o + 4, 1); // class IN
    w.setUint32(o + 6, 60);
    w.setUint16(o + 10, rdata.length);
    o += 12;
    out.set(rdata, o);
  }
  return out;
}

/** Sizes of the all-zero datagrams: the netcode request size, KCP header sizes, and others. */
export const ZERO_DATAGRAM_SIZES: readonly number[] = [
  1, 2, 3, 4, 8, 12, 20, 24, 25, 28, 33, 48, 64, 100, 333, 576, 1078, 1200, 1464,
];

/** Sizes of the seeded random datagrams, including kcp-go encrypted control sizes 44/52/60. */
export const RANDOM_DATAGRAM_SIZES: readonly number[] = [
  1, 2, 12, 18, 24, 25, 26, 33, 44, 52, 60, 100, 333, 548, 1078, 1172, 1400,
];

export interface OtherUdpPorts {
  readonly dns: number;
  readonly stun: number;
  /** One server port per random flow. */
  readonly random: readonly number[];
  readonly zeros: number;
}

export interface OtherUdpResult {
  readonly ports: OtherUdpPorts;
  readonly dnsAnswers: number;
  readonly stunMapped: { ipv4: string; port: number } | null;
  /** Datagrams each kind put on the wire (client -> server plus replies). */
  readonly sent: {
    readonly dns: number;
    readonly stun: number;
    readonly random: number;
    readonly zeros: number;
  };
}

export interface OtherUdpOptions {
  /** Random-byte flows (each from its own client socket to its own server). Default 3. */
  readonly randomFlows?: number;
  readonly seed?: number;
  /** Fixed server ports (captures); free ports when omitted. */
  readonly ports?: Partial<OtherUdpPorts>;
  readonly dnsNames?: readonly string[];
}

const HOST = '127.0.0.1';

function bind(socket: Socket, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, HOST, () => resolve(socket.address().port));
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function send(socket: Socket, data: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(data, port, HOST, (error) => (error ? reject(error) : resolve())),
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs every kind once, each against its own local server, and closes every
 * socket before returning. Random flows get an echo of each datagram back
 * from their server (replies are random-looking too), zero datagrams go one
 * way to a sink.
 */
export async function runOtherUdpTraffic(options: OtherUdpOptions = {}): Promise<OtherUdpResult> {
  const random = createRandom(options.seed ?? 0x5eed);
  const randomFlows = options.randomFlows ?? 3;
  const sockets: Socket[] = [];
  const open = (): Socket => {
    const socket = createSocket('udp4');
    sockets.push(socket);
    return socket;
  };
  const sent = { dns: 0, stun: 0, random: 0, zeros: 0 };
  try {
    const dnsServer = open();
    dnsServer.on('message', (query, from) => {
      const response = dnsResponseFor(new Uint8Array(query));
      if (response === null) return;
      sent.dns++;
      dnsServer.send(response, from.port, from.address);
    });
    const stunServer = open();
    stunServer.on('message', (request, from) => {
      const data = new Uint8Array(request);
      if (data.length !== STUN_HEADER_BYTES) return;
      sent.stun++;
      stunServer.send(
        stunBindingSuccess(data.subarray(8, 20), from.address, from.port),
        from.port,
        from.address,
      );
    });
    const zeroSink = open();
    zeroSink.on('message', () => {});
    const ports = {
      dns: await bind(dnsServer, options.ports?.dns),
      stun: await bind(stunServer, options.ports?.stun),
      zeros: await bind(zeroSink, options.ports?.zeros),
      random: [] as number[],
    };
    const randomServers: Socket[] = [];
    for (let i = 0; i < randomFlows; i++) {
      const server = open();
      server.on('message', (data, from) => {
        sent.random++;
        server.send(data.reverse(), from.port, from.address);
      });
      ports.random.push(await bind(server, options.ports?.random?.[i]));
      randomServers.push(server);
    }

    // DNS through Node's resolver (c-ares): real query ids, flags and EDNS choices.
    const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`${HOST}:${ports.dns}`]);
    let dnsAnswers = 0;
    for (const name of options.dnsNames ?? [
      'match.gamemesh.test',
      'eu-1.gamemesh.test',
      'cdn.gamemesh.test',
    ]) {
      sent.dns++;
      dnsAnswers += (await resolver.resolve4(name)).length;
      sent.dns++;
      dnsAnswers += (await resolver.resolve6(name)).length;
    }

    const stunClient = open();
    await bind(stunClient);
    const stunReply = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no STUN response')), 3000);
      stunClient.once('message', (data) => {
        clearTimeout(timer);
        resolve(new Uint8Array(data));
      });
    });
    sent.stun++;
    await send(stunClient, stunBindingRequest(random.bytes(12)), ports.stun);
    const stunMapped = readStunMappedAddress(await stunReply);

    for (let flow = 0; flow < randomFlows; flow++) {
      const client = open();
      await bind(client);
      client.on('message', () => {});
      for (const size of RANDOM_DATAGRAM_SIZES) {
        sent.random++;
        await send(client, random.bytes(size), ports.random[flow]!);
        await sleep(2);
      }
    }

    const zeroClient = open();
    await bind(zeroClient);
    for (const size of ZERO_DATAGRAM_SIZES) {
      sent.zeros++;
      await send(zeroClient, new Uint8Array(size), ports.zeros);
      await sleep(2);
    }
    // Let the last echoes cross loopback before the sockets close.
    await sleep(100);
    return { ports, dnsAnswers, stunMapped, sent: { ...sent } };
  } finally {
    await Promise.all(sockets.map(closeSocket));
  }
}

/**
 * One real STUN binding exchange through the recording relay: a client
 * socket asks, a responder answers with the client's mapped address (the
 * relay's upstream socket, as a real STUN server behind a proxy would see).
 */
export async function recordStunExchange(transactionId: Uint8Array): Promise<Datagram[]> {
  const responder = createSocket('udp4');
  const client = createSocket('udp4');
  let relay: RecordingRelay | null = null;
  try {
    responder.on('message', (request, from) => {
      if (request.length !== STUN_HEADER_BYTES) return;
      responder.send(
        stunBindingSuccess(new Uint8Array(request).subarray(8, 20), from.address, from.port),
        from.port,
        from.address,
      );
    });
    relay = await startRecordingRelay({ upstreamPort: await bind(responder) });
    await bind(client);
    const reply = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no STUN response')), 3000);
      client.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await send(client, stunBindingRequest(transactionId), relay.port);
    await reply;
    return [...relay.datagrams];
  } finally {
    await Promise.all([closeSocket(responder), closeSocket(client)]);
    await relay?.close();
  }
}
