/**
 * The Node `dgram` baseline: the relay a team would write first in Node. One
 * upstream socket per client, datagrams forwarded from the 'message' event in
 * both directions, nothing else.
 *
 *   node node-relay.js --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT
 *
 * Prints {"ready":true} once bound and {"forward":N,"reverse":N,"flows":N} on SIGTERM.
 */
import { createSocket, type Socket } from 'node:dgram';

function endpoint(text: string | undefined): { host: string; port: number } {
  const match = text === undefined ? null : /^(.+):(\d+)$/.exec(text);
  if (match === null) throw new Error('usage: node-relay --listen HOST:PORT --upstream HOST:PORT');
  return { host: match[1]!, port: Number(match[2]) };
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const listen = endpoint(option('--listen'));
const upstream = endpoint(option('--upstream'));
const bufferBytes = 4 * 1024 * 1024;
const listener = createSocket({
  type: 'udp4',
  recvBufferSize: bufferBytes,
  sendBufferSize: bufferBytes,
});
const flows = new Map<string, Socket>();
let forward = 0;
let reverse = 0;

listener.on('message', (message, client) => {
  const key = `${client.address}:${client.port}`;
  let socket = flows.get(key);
  if (socket === undefined) {
    const upstreamSocket = createSocket({
      type: 'udp4',
      recvBufferSize: bufferBytes,
      sendBufferSize: bufferBytes,
    });
    upstreamSocket.on('message', (reply) => {
      reverse++;
      listener.send(reply, client.port, client.address);
    });
    upstreamSocket.on('error', () => undefined);
    upstreamSocket.connect(upstream.port, upstream.host);
    flows.set(key, upstreamSocket);
    socket = upstreamSocket;
  }
  forward++;
  // Sending before `connect` completes throws; those first datagrams are lost, as in any naive relay.
  try {
    socket.send(message);
  } catch {
    forward--;
  }
});
listener.on('error', (error) => {
  console.error(error.message);
  process.exit(2);
});
listener.bind(listen.port, listen.host, () => console.log(JSON.stringify({ ready: true })));

process.on('SIGTERM', () => {
  console.log(JSON.stringify({ forward, reverse, flows: flows.size }));
  for (const socket of flows.values()) socket.close();
  listener.close(() => process.exit(0));
});
