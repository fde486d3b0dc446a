import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { signBearerToken } from '../src/http/auth.js';
import { linkAuthHeaders } from '../src/link/auth.js';
import { decodeServerFrame, encodeFrame } from '../src/link/frames.js';
import {
  auth,
  BEARER_SECRET,
  LINK_SECRET,
  pod,
  type RunningMatchmaker,
  registerByHand,
  startMatchmaker,
  testConfig,
  until,
} from './support/harness.js';

async function withMatchmaker(
  body: (mm: RunningMatchmaker) => Promise<void>,
  overrides = {},
): Promise<void> {
  const mm = await startMatchmaker(
    testConfig({
      pools: [
        { name: 'duel', teams: { count: 2, size: 1 } },
        { name: 'squad', teams: { count: 2, size: 2 } },
      ],
      ...overrides,
    }),
  );
  try {
    await body(mm);
  } finally {
    await mm.close();
  }
}

const post = (mm: RunningMatchmaker, payload: unknown, headers: Record<string, string> = auth) =>
  mm.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers,
    payload: payload as Record<string, unknown>,
  });

test('create, read and cancel a ticket', () =>
  withMatchmaker(async (mm) => {
    const created = await post(mm, {
      pool: 'duel',
      players: [{ id: 'p1', attributes: { skill: 1200, mode: 'ctf' } }],
      latencies: { eu: 30 },
    });
    assert.is(created.statusCode, 201);
    const ticket = created.json();
    assert.is(ticket.state, 'queued');
    assert.is(created.headers.location, `/v1/tickets/${ticket.id}`);
    assert.equal(ticket.players, [{ id: 'p1', attributes: { skill: 1200, mode: 'ctf' } }]);
    const read = await mm.app.inject({
      method: 'GET',
      url: `/v1/tickets/${ticket.id}`,
      headers: auth,
    });
    assert.equal(read.json(), ticket);
    const cancelled = await mm.app.inject({
      method: 'DELETE',
      url: `/v1/tickets/${ticket.id}`,
      headers: auth,
    });
    assert.is(cancelled.statusCode, 200);
    assert.is(cancelled.json().state, 'cancelled');
    const again = await mm.app.inject({
      method: 'DELETE',
      url: `/v1/tickets/${ticket.id}`,
      headers: auth,
    });
    assert.is(again.statusCode, 409);
    assert.is(again.json().error.code, 'GM_MM_TICKET_FINISHED');
    const missing = await mm.app.inject({ method: 'GET', url: '/v1/tickets/nope', headers: auth });
    assert.is(missing.statusCode, 404);
    assert.is(missing.json().error.code, 'GM_MM_TICKET_NOT_FOUND');
    const metrics = (await mm.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /gamemesh_matchmaker_tickets_created_total\{pool="duel"\} 1/);
    assert.match(metrics, /gamemesh_matchmaker_tickets_cancelled_total\{pool="duel"\} 1/);
  }));

test('bad input gets a clear 4xx with a stable code', () =>
  withMatchmaker(async (mm) => {
    const cases: [
      string,
      Promise<{ statusCode: number; json(): { error: { code: string } } }>,
      number,
      string,
    ][] = [
      [
        'malformed JSON',
        mm.app.inject({
          method: 'POST',
          url: '/v1/tickets',
          headers: { ...auth, 'content-type': 'application/json' },
          payload: '{"pool": ',
        }),
        400,
        'GM_MM_BAD_JSON',
      ],
      [
        'empty JSON body',
        mm.app.inject({
          method: 'POST',
          url: '/v1/tickets',
          headers: { ...auth, 'content-type': 'application/json' },
          payload: '',
        }),
        400,
        'GM_MM_BAD_JSON',
      ],
      ['wrong types', post(mm, { pool: 7, players: 'x' }), 400, 'GM_MM_VALIDATION'],
      ['no players', post(mm, { pool: 'duel', players: [] }), 400, 'GM_MM_VALIDATION'],
      [
        'unknown field',
        post(mm, { pool: 'duel', players: [{ id: 'a' }], admin: true }),
        400,
        'GM_MM_VALIDATION',
      ],
      [
        'negative latency',
        post(mm, { pool: 'duel', players: [{ id: 'a' }], latencies: { eu: -1 } }),
        400,
        'GM_MM_VALIDATION',
      ],
      [
        'unknown pool',
        post(mm, { pool: 'nope', players: [{ id: 'a' }] }),
        422,
        'GM_MM_UNKNOWN_POOL',
      ],
      [
        'party larger than a team',
        post(mm, { pool: 'duel', players: [{ id: 'a' }, { id: 'b' }] }),
        422,
        'GM_MM_PARTY_TOO_LARGE',
      ],
      [
        'duplicate player',
        post(mm, { pool: 'squad', players: [{ id: 'a' }, { id: 'a' }] }),
        422,
        'GM_MM_DUPLICATE_PLAYER',
      ],
      [
        'oversized body',
        post(mm, {
          pool: 'duel',
          players: [{ id: 'a', attributes: { blob: 'x'.repeat(20_000) } }],
        }),
        413,
        'GM_MM_BODY_TOO_LARGE',
      ],
      [
        'not JSON',
        mm.app.inject({
          method: 'POST',
          url: '/v1/tickets',
          headers: { ...auth, 'content-type': 'text/plain' },
          payload: 'hi',
        }),
        415,
        'GM_MM_UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'unknown route',
        mm.app.inject({ method: 'GET', url: '/v2/whatever', headers: auth }),
        404,
        'GM_MM_ROUTE_NOT_FOUND',
      ],
      [
        'bad wait',
        mm.app.inject({ method: 'GET', url: '/v1/tickets/x/assignment?wait=abc', headers: auth }),
        400,
        'GM_MM_VALIDATION',
      ],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      assert.is(res.statusCode, status, what);
      assert.is(res.json().error.code, code, what);
    }
    assert.is((await mm.matchmaker.store.queuedTickets('duel')).length, 0, 'nothing was created');
  }));

test('auth: missing or wrong credentials are 401; bearer tokens own their tickets', () =>
  withMatchmaker(async (mm) => {
    const body = { pool: 'duel', players: [{ id: 'a' }] };
    for (const headers of [
      {},
      { 'x-api-key': 'wrong-key-0123456789' },
      { authorization: 'Bearer nope' },
      { authorization: `Bearer ${signBearerToken('other-secret-0123456789', 'u1', 2e9)}` },
      { authorization: `Bearer ${signBearerToken(BEARER_SECRET, 'u1', 1)}` },
    ]) {
      const res = await post(mm, body, headers);
      assert.is(res.statusCode, 401, JSON.stringify(headers));
      assert.is(res.json().error.code, 'GM_MM_UNAUTHORIZED');
    }
    const future = Math.floor(Date.now() / 1000) + 600;
    const alice = { authorization: `Bearer ${signBearerToken(BEARER_SECRET, 'alice', future)}` };
    const bob = { authorization: `Bearer ${signBearerToken(BEARER_SECRET, 'bob', future)}` };
    const created = await post(mm, body, alice);
    assert.is(created.statusCode, 201);
    const id = created.json().id;
    assert.is(
      (await mm.app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: alice })).statusCode,
      200,
    );
    const other = await mm.app.inject({ method: 'DELETE', url: `/v1/tickets/${id}`, headers: bob });
    assert.is(other.statusCode, 403);
    assert.is(other.json().error.code, 'GM_MM_FORBIDDEN');
    assert.is(
      (await mm.app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: auth })).statusCode,
      200,
      'API keys see all',
    );
    assert.is(
      (await mm.app.inject({ method: 'GET', url: '/livez' })).statusCode,
      200,
      'health needs no auth',
    );
  }));

test('idempotency key: a replay returns the same ticket, another body is a conflict', () =>
  withMatchmaker(async (mm) => {
    const headers = { ...auth, 'idempotency-key': 'req-1' };
    const first = await post(
      mm,
      { pool: 'duel', players: [{ id: 'a', attributes: { x: 1, y: 2 } }] },
      headers,
    );
    const replay = await post(
      mm,
      { players: [{ attributes: { y: 2, x: 1 }, id: 'a' }], pool: 'duel' },
      headers,
    );
    assert.is(first.statusCode, 201);
    assert.is(replay.statusCode, 200);
    assert.is(replay.headers['idempotent-replayed'], 'true');
    assert.is(replay.json().id, first.json().id);
    const conflict = await post(mm, { pool: 'duel', players: [{ id: 'b' }] }, headers);
    assert.is(conflict.statusCode, 409);
    assert.is(conflict.json().error.code, 'GM_MM_IDEMPOTENCY_CONFLICT');
    assert.is((await mm.matchmaker.store.queuedTickets('duel')).length, 1, 'one ticket only');
  }));

test('tickets expire after the pool TTL', async () => {
  let now = Date.now();
  const mm = await startMatchmaker(
    testConfig({ pools: [{ name: 'duel', teams: { count: 2, size: 1 }, ticketTtlSeconds: 5 }] }),
    { clock: () => now },
  );
  try {
    const id = (await post(mm, { pool: 'duel', players: [{ id: 'a' }] })).json().id;
    const waiting = mm.app.inject({
      method: 'GET',
      url: `/v1/tickets/${id}/assignment?wait=10`,
      headers: auth,
    });
    now += 6000;
    const summary = await mm.matchmaker.round('duel');
    assert.is(summary.expired, 1);
    const res = await waiting;
    assert.equal(
      res.json(),
      { ticketId: id, state: 'expired', assignment: null },
      'the long-poll wakes on expiry',
    );
    assert.match(
      (await mm.app.inject({ method: 'GET', url: '/metrics' })).body,
      /tickets_expired_total\{pool="duel"\} 1/,
    );
  } finally {
    await mm.close();
  }
});

test('long-poll returns at the deadline without an assignment, and at once for finished tickets', () =>
  withMatchmaker(async (mm) => {
    const id = (await post(mm, { pool: 'duel', players: [{ id: 'a' }] })).json().id;
    const started = Date.now();
    const res = await mm.app.inject({
      method: 'GET',
      url: `/v1/tickets/${id}/assignment?wait=0.3`,
      headers: auth,
    });
    const took = Date.now() - started;
    assert.equal(res.json(), { ticketId: id, state: 'queued', assignment: null });
    assert.ok(took >= 280 && took < 1500, `took ${took} ms`);
    assert.is(mm.matchmaker.watchers.size, 0, 'the waiter was removed');
    await mm.app.inject({ method: 'DELETE', url: `/v1/tickets/${id}`, headers: auth });
    const t0 = Date.now();
    const done = await mm.app.inject({
      method: 'GET',
      url: `/v1/tickets/${id}/assignment?wait=30`,
      headers: auth,
    });
    assert.is(done.json().state, 'cancelled');
    assert.ok(Date.now() - t0 < 500);
  }));

test('a ticket deleted while its match is being allocated is not assigned, and its slot is returned', () =>
  withMatchmaker(async (mm) => {
    // A proxy that acknowledges only after the player cancelled: the cancel lands mid-allocation.
    const ws = new WebSocket(mm.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n') });
    const revoked: string[] = [];
    let cancelId = '';
    let cancelStatus = 0;
    try {
      await new Promise((resolve) => ws.on('open', resolve));
      ws.on('message', async (data: Buffer) => {
        const frame = decodeServerFrame(data);
        if (frame?.t === 'revoke') revoked.push(...frame.keys);
        if (frame?.t !== 'assign') return;
        const res = await mm.app.inject({
          method: 'DELETE',
          url: `/v1/tickets/${cancelId}`,
          headers: auth,
        });
        cancelStatus = res.statusCode;
        ws.send(encodeFrame({ t: 'ack', id: frame.id }));
      });
      await registerByHand(ws, mm.matchmaker.store, 'n', [pod('p', { freeSlots: 2 })]);
      const a = (await post(mm, { pool: 'duel', players: [{ id: 'a' }] })).json().id;
      cancelId = (await post(mm, { pool: 'duel', players: [{ id: 'b' }] })).json().id;
      const summary = await mm.matchmaker.round('duel');
      assert.is(cancelStatus, 200, 'a matched ticket can be cancelled');
      assert.is(summary.assignedTickets, 1);
      const state = (id: string) =>
        mm.app
          .inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: auth })
          .then((r) => r.json().state);
      assert.is(await state(cancelId), 'cancelled');
      assert.is(await state(a), 'assigned');
      await until(() => revoked.length === 1, 2000, 'the cancelled player route is revoked');
      assert.is(
        (await mm.matchmaker.store.getNode('n'))!.pods[0]!.freeSlots,
        1,
        'only one slot used',
      );
      assert.is((await mm.matchmaker.store.reservedPlayers()).size, 0);
      assert.equal(
        (await mm.matchmaker.store.routesFor('n', Date.now())).map((r) => r.playerId),
        ['a'],
      );
    } finally {
      ws.terminate();
    }
  }));

test('OpenAPI at /docs/json lists the ticket routes; /docs serves the bundled page', () =>
  withMatchmaker(async (mm) => {
    const spec = (await mm.app.inject({ method: 'GET', url: '/docs/json' })).json();
    assert.is(spec.openapi.slice(0, 2), '3.');
    for (const path of [
      '/v1/tickets',
      '/v1/tickets/{id}',
      '/v1/tickets/{id}/assignment',
      '/v1/tickets/{id}/events',
    ])
      assert.ok(spec.paths[path] !== undefined, path);
    assert.ok(spec.components.securitySchemes.apiKey);
    const page = await mm.app.inject({ method: 'GET', url: '/docs' });
    assert.is(page.statusCode, 200);
    assert.match(page.body, /swagger/i);
    const bundle = await mm.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.is(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000, 'assets ship inside the package');
  }));

test('livez, readyz and metrics', () =>
  withMatchmaker(async (mm) => {
    assert.equal((await mm.app.inject({ method: 'GET', url: '/livez' })).json(), { ok: true });
    assert.equal((await mm.app.inject({ method: 'GET', url: '/readyz' })).json(), {
      ok: true,
      store: mm.matchmaker.store.kind,
    });
    const metrics = await mm.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.headers['content-type'] as string, /text\/plain/);
    for (const name of [
      'tickets_created_total',
      'tickets_matched_total',
      'tickets_expired_total',
      'tickets_cancelled_total',
      'pool_tickets',
      'ticket_to_assignment_seconds',
      'matches_total',
      'allocations_total',
      'allocation_failures_total',
      'link_connections',
    ])
      assert.match(metrics.body, new RegExp(`# TYPE gamemesh_matchmaker_${name} `), name);
  }));

test.run();
