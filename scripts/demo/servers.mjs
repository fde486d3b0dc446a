// The two demo game servers: a RakNet server on raknet-native (the reference
// RakNet C++ library) and a netcode 1.02 server on gamemesh's implementation.
// Both echo what players send, and register with the node proxy's pod API
// like a game server pod on a node would (docs/proxy.md, "the local pod API").
import { createRequire } from 'node:module';
import { NetcodeServer } from '@gamemesh/protocols/netcode';
import { freeUdpPort } from './ports.mjs';

const require = createRequire(import.meta.url);
const HOST = '127.0.0.1';
// RakNet reserves message ids below 0x86 (ID_USER_PACKET_ENUM) for itself.
export const RAKNET_USER_MESSAGE = 0x86;

export async function startRaknetServer(capacity) {
  const rak = require('raknet-native');
  const port = await freeUdpPort();
  const server = new rak.Server(HOST, port, {
    maxConnections: capacity,
    protocolVersion: 10,
    message: Buffer.from('MCPE;gamemesh demo;408;1.16.20;0;16;0;gamemesh;Creative;'),
  });
  let connected = 0;
  const counters = { connects: 0, disconnects: 0, messages: 0 };
  server.on('openConnection', () => {
    connected++;
    counters.connects++;
  });
  server.on('closeConnection', () => {
    connected = Math.max(0, connected - 1);
    counters.disconnects++;
  });
  server.on('encapsulated', (packet) => {
    const buffer = packet.buffer;
    if (!Buffer.isBuffer(buffer) || buffer[0] !== RAKNET_USER_MESSAGE) return;
    counters.messages++;
    // Echo to the sender's connection (raknet-native keys connections by GUID).
    server.connections
      .get(packet.guid)
      ?.send(buffer, rak.PacketPriority.HIGH_PRIORITY, rak.PacketReliability.RELIABLE_ORDERED, 0);
  });
  // listen() settles only at shutdown; the socket is bound synchronously.
  void server.listen();
  return {
    protocol: 'raknet',
    address: `${HOST}:${port}`,
    port,
    capacity,
    counters,
    freeSlots: () => Math.max(0, capacity - connected),
    close: async () => server.close(),
  };
}

export async function startNetcodeServer({ privateKeyHex, protocolId, capacity, publicAddress }) {
  const server = new NetcodeServer({
    privateKey: Buffer.from(privateKeyHex, 'hex'),
    protocolId,
    maxClients: capacity,
    // Tokens list the proxy's address, and the server must expect that one (PROTOCOLS.md §3.3).
    publicAddress,
    host: HOST,
  });
  const counters = { connects: 0, disconnects: 0, messages: 0 };
  server.on('connect', () => counters.connects++);
  server.on('disconnect', () => counters.disconnects++);
  server.on('payload', (client, payload) => {
    counters.messages++;
    server.sendPayload(client.clientIndex, payload);
  });
  const address = await server.start();
  return {
    protocol: 'netcode',
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    capacity,
    counters,
    freeSlots: () => Math.max(0, capacity - server.connectedClients.length),
    close: () => server.close(),
  };
}

async function podApi(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`pod API ${method} ${path}: ${response.status} ${text}`);
  return text.length > 0 ? JSON.parse(text) : null;
}

/**
 * Registers a game server with the proxy's pod API and keeps it alive with
 * heartbeats carrying its free slots; `stop()` deregisters it.
 */
export async function registerPod(podApiBase, id, server, heartbeatMs = 2000) {
  await podApi(podApiBase, 'POST', '/v1/pods', {
    id,
    address: HOST,
    port: server.port,
    protocol: server.protocol,
    capacity: server.capacity,
    labels: { demo: 'true' },
  });
  const beat = () =>
    podApi(podApiBase, 'PUT', `/v1/pods/${id}/heartbeat`, {
      freeSlots: server.freeSlots(),
    }).catch(() => {
      // The proxy stops before the pods at shutdown; a missed beat is harmless.
    });
  const timer = setInterval(beat, heartbeatMs);
  await beat();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await podApi(podApiBase, 'DELETE', `/v1/pods/${id}`).catch(() => {});
    },
  };
}
