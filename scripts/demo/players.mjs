// Scripted players. netcode players go the whole way a real one would: a
// ticket over HTTP, a long-poll for the assignment, then a connection through
// the node proxy with the connect token the matchmaker minted. RakNet players
// connect through the proxy's RakNet listener (see proxyConfig in stack.mjs).
import { createRequire } from 'node:module';
import { NetcodeClient, readConnectToken } from '@gamemesh/protocols/netcode';
import { RAKNET_USER_MESSAGE } from './servers.mjs';

const require = createRequire(import.meta.url);
const MESSAGES_PER_PLAYER = 3;
const STEP_TIMEOUT_MS = 8000;

function waitUntil(what, check, timeoutMs = STEP_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out: ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

async function matchmakerCall(mm, method, path, body) {
  const response = await fetch(`${mm.url}${path}`, {
    method,
    headers: {
      'x-api-key': mm.apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${json.error?.code ?? ''}`);
  return json;
}

/** A ticket for one player, then the long-poll until the matchmaker assigns it. */
export async function requestAssignment(mm, pool, playerId, log) {
  const ticket = await matchmakerCall(mm, 'POST', '/v1/tickets', {
    pool,
    players: [{ id: playerId }],
  });
  log(`ticket ${ticket.id} for ${playerId} (pool ${pool})`);
  for (;;) {
    const answer = await matchmakerCall(mm, 'GET', `/v1/tickets/${ticket.id}/assignment?wait=20`);
    if (answer.state === 'assigned') return { ticketId: ticket.id, assignment: answer.assignment };
    if (answer.state === 'expired' || answer.state === 'cancelled')
      throw new Error(`ticket ${ticket.id} ${answer.state}`);
  }
}

/** The proxy's routing key of a netcode token: hex of the sealed private token's tag. */
export function netcodeRoutingKey(tokenBytes) {
  const read = readConnectToken(tokenBytes);
  if (!read.ok) return null;
  const sealed = read.value.privateData;
  return Buffer.from(sealed.subarray(sealed.length - 16)).toString('hex');
}

export async function playNetcode(mm, pool, playerId, log) {
  const { ticketId, assignment } = await requestAssignment(mm, pool, playerId, log);
  const tokenBytes = new Uint8Array(Buffer.from(assignment.token, 'base64url'));
  const key = netcodeRoutingKey(tokenBytes);
  log(
    `assigned ${playerId}: match ${assignment.matchId.slice(0, 8)} → ${assignment.connection} ` +
      `(${assignment.protocol}, cluster ${assignment.cluster}, route key ${key})`,
  );
  const client = new NetcodeClient({ connectToken: tokenBytes });
  const echoes = [];
  client.on('payload', (payload) => echoes.push(Buffer.from(payload).toString()));
  try {
    await client.connect();
    await waitUntil(`${playerId} netcode connect`, () => client.state === 'connected');
    for (let i = 1; i <= MESSAGES_PER_PLAYER; i++)
      client.send(Buffer.from(`${playerId} move ${i}`));
    await waitUntil(`${playerId} echoes`, () => echoes.length >= MESSAGES_PER_PLAYER);
    await client.disconnect();
  } finally {
    await client.close();
  }
  log(`${playerId} played netcode: ${echoes.length}/${MESSAGES_PER_PLAYER} payloads echoed, left`);
  return { playerId, protocol: 'netcode', ticketId, key, matchId: assignment.matchId, echoes };
}

export async function playRaknet(proxyAddress, playerId, log) {
  const rak = require('raknet-native');
  const [host, port] = proxyAddress.split(':');
  const client = new rak.Client(host, Number(port), { protocolVersion: 10 });
  const echoes = [];
  let connected = false;
  client.on('connect', () => {
    connected = true;
  });
  client.on('encapsulated', ({ buffer }) => {
    if (Buffer.isBuffer(buffer) && buffer[0] === RAKNET_USER_MESSAGE)
      echoes.push(buffer.subarray(1).toString());
  });
  try {
    client.connect();
    await waitUntil(`${playerId} raknet connect`, () => connected);
    for (let i = 1; i <= MESSAGES_PER_PLAYER; i++) {
      const text = Buffer.from(`${playerId} chat ${i}`);
      client.send(
        Buffer.concat([Buffer.from([RAKNET_USER_MESSAGE]), text]),
        rak.PacketPriority.HIGH_PRIORITY,
        rak.PacketReliability.RELIABLE_ORDERED,
        0,
      );
    }
    await waitUntil(`${playerId} echoes`, () => echoes.length >= MESSAGES_PER_PLAYER);
  } finally {
    // Sends ID_DISCONNECTION_NOTIFICATION, which closes the proxy's session.
    client.close();
  }
  log(
    `${playerId} played RakNet via ${proxyAddress}: ${echoes.length}/${MESSAGES_PER_PLAYER} messages echoed, left`,
  );
  return { playerId, protocol: 'raknet', echoes };
}
