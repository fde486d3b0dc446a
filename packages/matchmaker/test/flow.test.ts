import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { NetcodeClient, NetcodeServer } from '@gamemesh/protocols/netcode';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyRoutingToken } from '../src/tokens/routing-token.js';
import {
  auth,
  connectNode,
  pod,
  ROUTING_SECRET,
  startMatchmaker,
  testConfig,
  withTimeout,
} from './support/harness.js';
import { startKeyRouter } from './support/key-router.js';

const PROTOCOL_ID = 0x1122334455667788n;

test('end to end: ticket → long-poll → netcode token → the proxy routes the player to the assigned pod', async () => {
  const privateKey = randomBytes(32);
  const config = testConfig({
    tokens: {
      netcode: {
        privateKey: privateKey.toString('hex'),
        protocolId: `0x${PROTOCOL_ID.toString(16)}`,
        timeoutSeconds: 5,
      },
    },
    pools: [{ name: 'nc', teams: { count: 2, size: 1 }, protocol: 'netcode', token: 'netcode' }],
  });
  const mm = await startMatchmaker(config);
  const servers: NetcodeServer[] = [];
  const clients: NetcodeClient[] = [];
  let router: Awaited<ReturnType<typeof startKeyRouter>> | undefined;
  let node: Awaited<ReturnType<typeof connectNode>> | undefined;
  try {
    // The node proxy's UDP address must exist before tokens list it, so bind the router first.
    const pending: { link: typeof node } = { link: undefined };
    const podPorts = new Map<string, number>();
    const lazyLink = {
      lookup: (key: string) => pending.link?.lookup(key),
      consume: (key: string) => pending.link?.consume(key),
    };
    router = await startKeyRouter(lazyLink, podPorts);
    const proxyAddress = `127.0.0.1:${router.port}`;
    for (const id of ['pod-a', 'pod-b']) {
      // Servers accept tokens listing the proxy's address (PROTOCOLS.md §3.3 deployment caveats).
      const server = new NetcodeServer({
        privateKey,
        protocolId: PROTOCOL_ID,
        maxClients: 4,
        host: '127.0.0.1',
        port: 0,
        publicAddress: proxyAddress,
      });
      servers.push(server);
      const bound = await server.start();
      podPorts.set(id, Number(bound.slice(bound.lastIndexOf(':') + 1)));
    }
    // pod-a is almost full, so packing puts the match there.
    node = await connectNode(mm, { id: 'node-1', cluster: 'local', publicAddress: proxyAddress }, [
      pod('pod-a', { protocol: 'netcode', freeSlots: 2 }),
      pod('pod-b', { protocol: 'netcode', freeSlots: 4 }),
    ]);
    pending.link = node;
    const connectedOn: string[] = [];
    servers.forEach((server, i) => {
      server.on('connect', () => connectedOn.push(i === 0 ? 'pod-a' : 'pod-b'));
    });

    const ids: string[] = [];
    for (const player of ['alice', 'bob']) {
      const res = await mm.app.inject({
        method: 'POST',
        url: '/v1/tickets',
        headers: auth,
        payload: { pool: 'nc', players: [{ id: player }] },
      });
      ids.push(res.json().id);
    }
    mm.matchmaker.start();
    const polls = await Promise.all(
      ids.map((id) =>
        mm.app.inject({ method: 'GET', url: `/v1/tickets/${id}/assignment?wait=5`, headers: auth }),
      ),
    );
    mm.matchmaker.stop();
    for (const poll of polls) {
      const { state, assignment } = poll.json();
      assert.is(state, 'assigned');
      assert.is(assignment.connection, proxyAddress);
      assert.is(assignment.protocol, 'netcode');
      assert.is(assignment.tokenKind, 'netcode');
      const token = Buffer.from(assignment.token, 'base64url');
      assert.is(token.length, 2048);
      const client = new NetcodeClient({ connectToken: new Uint8Array(token) });
      clients.push(client);
      const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
      await client.connect();
      await withTimeout(connected, 5000, 'netcode client connected through the router');
    }
    assert.equal(
      [...router.routed.values()],
      ['pod-a', 'pod-a'],
      'both players reached the assigned pod',
    );
    assert.equal(connectedOn, ['pod-a', 'pod-a']);
    assert.is(router.dropped, 0);

    // A forged token (right layout, wrong key) has no assignment: the router drops it.
    const { generateConnectToken } = await import('@gamemesh/protocols/netcode');
    const forged = generateConnectToken({
      clientId: 9,
      protocolId: PROTOCOL_ID,
      privateKey: randomBytes(32),
      serverAddresses: [proxyAddress],
      expireSeconds: 30,
      timeoutSeconds: 5,
    });
    const intruder = new NetcodeClient({ connectToken: forged.bytes });
    clients.push(intruder);
    await intruder.connect();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(router.dropped > 0, 'unassigned flows are dropped');
    assert.is(intruder.state === 'connected', false);
  } finally {
    for (const client of clients) await client.close();
    for (const server of servers) await server.close();
    node?.close();
    await router?.close();
    await mm.close();
  }
});

test('SSE streams state changes until the assignment; routing tokens verify at the proxy', async () => {
  const mm = await startMatchmaker(
    testConfig({ pools: [{ name: 'duel', teams: { count: 2, size: 1 } }] }),
  );
  const node = await connectNode(mm, { id: 'n', cluster: 'local' }, [pod('p')]);
  try {
    const id = (
      await mm.app.inject({
        method: 'POST',
        url: '/v1/tickets',
        headers: auth,
        payload: { pool: 'duel', players: [{ id: 'a' }] },
      })
    ).json().id;
    const events: {
      event: string;
      data: { state: string; assignment: { token: string } | null };
    }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: mm.port, path: `/v1/tickets/${id}/events`, headers: auth },
        (res) => {
          assert.is(res.headers['content-type'], 'text/event-stream');
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end = buffer.indexOf('\n\n');
            while (end !== -1) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const event = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (event !== undefined && data !== undefined)
                events.push({ event, data: JSON.parse(data) });
              end = buffer.indexOf('\n\n');
            }
          });
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    await mm.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: auth,
      payload: { pool: 'duel', players: [{ id: 'b' }] },
    });
    await mm.matchmaker.round('duel');
    await withTimeout(ended, 3000, 'SSE stream ends after the final state');
    assert.equal(
      events.map((e) => e.data.state),
      ['queued', 'assigned'],
    );
    const token = Buffer.from(events[1]!.data.assignment!.token, 'base64url');
    const check = verifyRoutingToken(ROUTING_SECRET, new Uint8Array(token));
    assert.ok(check.ok, JSON.stringify(check));
    if (check.ok)
      assert.is(node.lookup(check.key)?.playerId, 'a', 'the token key routes to the player');
    const tampered = new Uint8Array(token);
    tampered[0]! ^= 1;
    assert.equal(verifyRoutingToken(ROUTING_SECRET, tampered), {
      ok: false,
      code: 'bad_signature',
    });
    assert.equal(verifyRoutingToken(ROUTING_SECRET, new Uint8Array(token), 2 ** 32 - 1), {
      ok: false,
      code: 'expired',
    });
    assert.equal(verifyRoutingToken(ROUTING_SECRET, token.subarray(0, 10)), {
      ok: false,
      code: 'bad_size',
    });
  } finally {
    node.close();
    await mm.close();
  }
});

test.run();
