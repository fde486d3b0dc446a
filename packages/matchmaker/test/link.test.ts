import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { linkAuthHeaders } from '../src/link/auth.js';
import { LinkClient } from '../src/link/client.js';
import { decodeServerFrame, encodeFrame } from '../src/link/frames.js';
import {
  auth,
  connectNode,
  LINK_SECRET,
  pod,
  type RunningMatchmaker,
  registerByHand,
  startMatchmaker,
  testConfig,
  until,
  withTimeout,
} from './support/harness.js';

const duel = { name: 'duel', teams: { count: 2, size: 1 } };

async function withMatchmaker(
  body: (mm: RunningMatchmaker) => Promise<void>,
  overrides = {},
): Promise<void> {
  const mm = await startMatchmaker(testConfig({ pools: [duel], ...overrides }));
  try {
    await body(mm);
  } finally {
    await mm.close();
  }
}

async function twoTickets(mm: RunningMatchmaker): Promise<string[]> {
  const ids: string[] = [];
  for (const player of ['a', 'b']) {
    const res = await mm.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: auth,
      payload: { pool: 'duel', players: [{ id: player }] },
    });
    ids.push(res.json().id);
  }
  return ids;
}

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => undefined);
  });
}

test('a missing, wrong or stale link credential is HTTP 401 at upgrade', () =>
  withMatchmaker(async (mm) => {
    assert.is(await upgradeStatus(mm.linkUrl, {}), 401);
    assert.is(
      await upgradeStatus(mm.linkUrl, linkAuthHeaders('wrong-secret-0123456789', 'n1')),
      401,
    );
    const stale = linkAuthHeaders(LINK_SECRET, 'n1', Math.floor(Date.now() / 1000) - 3600);
    assert.is(await upgradeStatus(mm.linkUrl, stale), 401);
    assert.is(await upgradeStatus(mm.linkUrl, linkAuthHeaders(LINK_SECRET, 'n1')), 101);
    assert.is(
      await upgradeStatus(
        mm.linkUrl.replace('/v1/link', '/nope'),
        linkAuthHeaders(LINK_SECRET, 'n1'),
      ),
      404,
    );
    const metrics = (await mm.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /gamemesh_matchmaker_link_events_total\{event="rejected"\} 3/);
    assert.is(
      (await mm.app.inject({ method: 'GET', url: '/livez' })).statusCode,
      200,
      'still alive',
    );
  }));

test('garbage frames and frames before register close the link with a code, not a crash', () =>
  withMatchmaker(async (mm) => {
    for (const payload of [
      Buffer.from([0xc1, 0xff, 0x00]),
      encodeFrame({ t: 'heartbeat', pods: [] }),
    ]) {
      const ws = new WebSocket(mm.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n1') });
      const frames: string[] = [];
      ws.on('message', (data: Buffer) => {
        const f = decodeServerFrame(data);
        if (f?.t === 'error') frames.push(f.code);
      });
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      await new Promise((resolve) => ws.on('open', resolve));
      ws.send(payload);
      assert.is(await withTimeout(closed, 2000, 'close'), 4400);
      assert.is(frames.length, 1);
      assert.match(frames[0]!, /^GM_MM_LINK_(BAD_FRAME|NOT_REGISTERED)$/);
    }
    assert.is((await mm.app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
  }));

test('a node naming an unknown cluster is refused with GM_MM_LINK_UNKNOWN_CLUSTER', () =>
  withMatchmaker(async (mm) => {
    const client = new LinkClient({
      url: mm.linkUrl,
      secret: LINK_SECRET,
      node: { id: 'x', cluster: 'mars', region: '', publicAddress: '127.0.0.1:1' },
      pods: [],
      reconnectMs: 10_000,
    });
    const got = new Promise<string>((resolve) => client.on('error', (c) => resolve(c)));
    client.start();
    try {
      assert.is(await withTimeout(got, 2000, 'error'), 'GM_MM_LINK_UNKNOWN_CLUSTER');
    } finally {
      client.close();
    }
  }));

test('the proxy holds the routes before the player sees the assignment', () =>
  withMatchmaker(async (mm) => {
    const seenByProxyAt = new Map<string, number>();
    const node = await connectNode(mm, { id: 'n1', cluster: 'local' }, [pod('p1')]);
    node.on('routes', () => {
      for (const r of node.routes())
        if (!seenByProxyAt.has(r.playerId)) seenByProxyAt.set(r.playerId, performance.now());
    });
    try {
      const [a] = await twoTickets(mm);
      const poll = mm.app.inject({
        method: 'GET',
        url: `/v1/tickets/${a}/assignment?wait=5`,
        headers: auth,
      });
      const round = mm.matchmaker.round('duel');
      const res = await poll;
      const playerSawAt = performance.now();
      await round;
      assert.is(res.json().state, 'assigned');
      assert.ok(seenByProxyAt.has('a'), 'proxy had the route');
      assert.ok(seenByProxyAt.get('a')! <= playerSawAt);
      const key = res.json().assignment.players[0].token;
      assert.ok(
        node.routes().some((r) => r.playerId === 'a' && r.key.length === 16),
        key,
      );
    } finally {
      node.close();
    }
  }));

test('nack, ack timeout and a vanishing proxy release the reservation and requeue the tickets', () =>
  withMatchmaker(async (mm) => {
    // nack
    const refusing = await connectNode(
      mm,
      { id: 'n1', cluster: 'local' },
      [pod('p1', { freeSlots: 2 })],
      { refuse: () => 'full' },
    );
    try {
      await twoTickets(mm);
      const summary = await mm.matchmaker.round('duel');
      assert.equal(summary.failures, { proxy_nack: 1 });
      assert.is((await mm.matchmaker.store.queuedTickets('duel')).length, 2, 'requeued');
      assert.is((await mm.matchmaker.store.reservedPlayers()).size, 0, 'released');
    } finally {
      refusing.close();
    }
    await until(
      async () => (await mm.matchmaker.store.getNode('n1'))?.connected === false,
      2000,
      'n1 disconnected',
    );

    // A raw proxy that registers but never acknowledges: timeout, then revoke.
    const silent = new WebSocket(mm.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n2') });
    const revoked: string[] = [];
    silent.on('message', (data: Buffer) => {
      const f = decodeServerFrame(data);
      if (f?.t === 'revoke') revoked.push(...f.keys);
    });
    try {
      await new Promise((resolve) => silent.on('open', resolve));
      await registerByHand(silent, mm.matchmaker.store, 'n2', [pod('p1', { freeSlots: 2 })]);
      const started = Date.now();
      const summary = await mm.matchmaker.round('duel');
      assert.equal(summary.failures, { ack_timeout: 1 });
      assert.ok(Date.now() - started >= 450, 'waited for the ack timeout');
      await until(
        () => revoked.length === 2,
        2000,
        'the proxy is told to forget the unacknowledged routes',
      );
      assert.is((await mm.matchmaker.store.reservedPlayers()).size, 0);
      assert.is((await mm.matchmaker.store.queuedTickets('duel')).length, 2);

      // Vanishing mid-allocation: close the socket when the assignment arrives.
      silent.removeAllListeners('message');
      silent.on('message', (data: Buffer) => {
        if (decodeServerFrame(data)?.t === 'assign') silent.terminate();
      });
      const gone = await mm.matchmaker.round('duel');
      assert.equal(gone.failures, { proxy_gone: 1 });
      assert.is((await mm.matchmaker.store.reservedPlayers()).size, 0);
      const queued = await mm.matchmaker.store.queuedTickets('duel');
      assert.is(queued.length, 2, 'no ticket lost');
      await until(
        async () => (await mm.matchmaker.store.getNode('n2'))?.connected === false,
        2000,
        'n2 gone',
      );
      const none = await mm.matchmaker.round('duel');
      assert.equal(none.failures, { no_capacity: 1 }, 'a disconnected node takes no players');
    } finally {
      silent.terminate();
    }
  }));

test('a proxy that stops heartbeating is drained; heartbeats bring it back', () =>
  withMatchmaker(async (mm) => {
    const ws = new WebSocket(mm.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n1') });
    try {
      await new Promise((resolve) => ws.on('open', resolve));
      await registerByHand(ws, mm.matchmaker.store, 'n1', [pod('p1')]);
      // heartbeatTimeoutMs is 1000 in tests; the sweep runs every 500 ms.
      await until(
        async () => (await mm.matchmaker.store.getNode('n1'))?.connected === false,
        3000,
        'drained',
      );
      ws.send(encodeFrame({ t: 'heartbeat', pods: [pod('p1')] }));
      await until(
        async () => (await mm.matchmaker.store.getNode('n1'))?.connected === true,
        2000,
        'back',
      );
      ws.send(encodeFrame({ t: 'drain', pods: ['p1'] }));
      await until(
        async () => (await mm.matchmaker.store.getNode('n1'))?.pods[0]?.draining === true,
        2000,
        'pod drained on request',
      );
    } finally {
      ws.terminate();
    }
  }));

test('full resync on reconnect: the proxy gets every live assignment back, and keeps serving meanwhile', () =>
  withMatchmaker(async (mm) => {
    const node = await connectNode(mm, { id: 'n1', cluster: 'local' }, [pod('p1')]);
    try {
      await twoTickets(mm);
      await mm.matchmaker.round('duel');
      const before = node
        .routes()
        .map((r) => r.key)
        .sort();
      assert.is(before.length, 2);
      // Restart the link server side: every connection drops.
      const disconnected = new Promise((resolve) => node.once('disconnected', resolve));
      for (const ws of (
        mm.link as unknown as { connections: Map<string, { socket: WebSocket }> }
      ).connections.values())
        ws.socket.terminate();
      await withTimeout(disconnected, 2000, 'disconnect');
      assert.equal(
        node
          .routes()
          .map((r) => r.key)
          .sort(),
        before,
        'last known state kept while away',
      );
      assert.ok(node.lookup(before[0]!) !== undefined);
      const resynced = new Promise<void>((resolve) => node.once('connected', () => resolve()));
      await withTimeout(resynced, 3000, 'reconnect');
      assert.equal(
        node
          .routes()
          .map((r) => r.key)
          .sort(),
        before,
        'resync carries the same routes',
      );
    } finally {
      node.close();
    }
  }));

test('heartbeats report free slots net of held assignments; consume() hands them back to the pod', () =>
  withMatchmaker(async (mm) => {
    const node = await connectNode(mm, { id: 'n1', cluster: 'local' }, [
      pod('p1', { freeSlots: 4 }),
    ]);
    try {
      await twoTickets(mm);
      await mm.matchmaker.round('duel');
      assert.is(node.reportedPods()[0]!.freeSlots, 2);
      await new Promise((r) => setTimeout(r, 450));
      assert.is(
        (await mm.matchmaker.store.getNode('n1'))!.pods[0]!.freeSlots,
        2,
        'heartbeat agrees',
      );
      for (const r of node.routes()) node.consume(r.key);
      assert.is(node.reportedPods()[0]!.freeSlots, 4, 'the pod itself now counts the players');
    } finally {
      node.close();
    }
  }));

test.run();
