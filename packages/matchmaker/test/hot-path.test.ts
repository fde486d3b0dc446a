import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type PoolConfig, parseConfig } from '../src/config.js';
import { type FleetView, planMatch } from '../src/domain/allocation.js';
import type { NodeProxy, Pod, Ticket } from '../src/domain/types.js';
import { TicketWatchers } from '../src/domain/watchers.js';
import { DebugRequestLog } from '../src/http/request-log.js';
import { RandomPool } from '../src/tokens/random-pool.js';

/*
 * The per-ticket shortcuts of the matchmaker's hot path against what they
 * replace: shared pod lists per round snapshot, a lone watcher stored
 * without a Set, token ids drawn from a refilled block.
 */

function duel(): PoolConfig {
  const parsed = parseConfig({
    clusters: [{ name: 'eu-1', region: 'eu', priority: 0, weight: 1 }],
    pools: [{ name: 'duel', teams: { count: 2, size: 2 } }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.config.pools[0]!;
}

function ticket(id: string, players: number): Ticket {
  return {
    id,
    pool: 'duel',
    players: Array.from({ length: players }, (_, i) => ({ id: `${id}-${i}`, attributes: {} })),
    party: null,
    latencies: {},
    owner: null,
    createdAt: 0,
    expiresAt: 60_000,
    state: 'queued',
    matchId: null,
    assignment: null,
    updatedAt: 0,
  };
}

function podWith(id: string, freeSlots: number): Pod {
  return {
    id,
    address: '10.0.0.1',
    port: 7777,
    protocol: 'netcode',
    capacity: 10,
    freeSlots,
    backfillSlots: 0,
    sessionId: null,
    labels: {},
    draining: false,
  };
}

function fleetOf(pods: Pod[], reserved: FleetView['reserved'] = new Map()): FleetView {
  const node: NodeProxy = {
    id: 'n1',
    cluster: 'eu-1',
    region: 'eu',
    publicAddress: '127.0.0.2:7777',
    pods,
    lastSeen: 0,
    connected: true,
    draining: false,
  };
  return {
    clusters: [{ name: 'eu-1', region: 'eu', priority: 0, weight: 1 }],
    nodes: [node],
    reserved,
    random: () => 0.5,
  };
}

test('planMatch: one snapshot serves matches of different sizes, each with the pods that fit it', () => {
  const pool = duel();
  // Room after reservations: a 1, b 3, c 2 (b holds 5 free, 2 reserved).
  const fleet = fleetOf(
    [podWith('a', 1), podWith('b', 5), podWith('c', 2)],
    new Map([['n1/b', { match: 2, backfill: 0 }]]),
  );
  const pods = (players: number[]) => {
    const plan = planMatch(
      players.map((n, i) => ticket(`t${i}`, n)),
      pool,
      fleet,
    );
    return plan.ok ? plan.candidates.map((c) => c.pod) : plan.reason;
  };
  // Fullest that fits first, every time it is asked, whatever was asked before.
  assert.equal(pods([1]), ['a', 'c', 'b']);
  assert.equal(pods([1, 1]), ['c', 'b']);
  assert.equal(pods([2, 1]), ['b']);
  assert.equal(pods([2, 2]), 'no_capacity');
  assert.equal(pods([1]), ['a', 'c', 'b']);
  // Another snapshot (the next round) is planned from its own pods, not the previous one's.
  assert.equal(planMatch([ticket('x', 2)], pool, fleetOf([podWith('d', 2)])), {
    ok: true,
    candidates: [{ node: 'n1', pod: 'd' }],
  });
});

test('watchers: a lone waiter, a second one, and unwatching in any order', () => {
  const watchers = new TicketWatchers();
  const seen: string[] = [];
  const stopA = watchers.watch('t1', (t) => seen.push(`a:${t.state}`));
  watchers.deliver({ ...ticket('t1', 1), state: 'matched' });
  const stopB = watchers.watch('t1', (t) => seen.push(`b:${t.state}`));
  watchers.deliver({ ...ticket('t1', 1), state: 'assigned' });
  stopA();
  stopA();
  watchers.deliver({ ...ticket('t1', 1), state: 'expired' });
  watchers.deliver({ ...ticket('t2', 1), state: 'expired' });
  assert.equal(seen, ['a:matched', 'a:assigned', 'b:assigned', 'b:expired']);
  assert.is(watchers.size, 1);
  stopB();
  assert.is(watchers.size, 0);
  // Unwatching a stale registration leaves a newer lone listener in place.
  const stopC = watchers.watch('t3', () => seen.push('c'));
  stopC();
  watchers.watch('t3', () => seen.push('d'));
  stopC();
  watchers.deliver(ticket('t3', 1));
  assert.equal(seen.slice(-1), ['d']);
});

test('watchers: waitFor resolves on the change it waits for, or null on timeout and cancel', async () => {
  const watchers = new TicketWatchers();
  const assigned = watchers.waitFor('t1', (t) => t.state === 'assigned', 5000);
  watchers.deliver({ ...ticket('t1', 1), state: 'matched' });
  watchers.deliver({ ...ticket('t1', 1), state: 'assigned' });
  assert.is((await assigned.result)?.state, 'assigned');
  const timedOut = watchers.waitFor('t2', () => true, 1);
  assert.is(await timedOut.result, null);
  const cancelled = watchers.waitFor('t3', () => true, 5000);
  cancelled.cancel();
  cancelled.cancel();
  assert.is(await cancelled.result, null);
  assert.is(watchers.size, 0, 'no listener left behind');
});

test('RandomPool: copies that survive refills, fresh values across blocks', () => {
  const pool = new RandomPool(32);
  const first = pool.take(8);
  const kept = Buffer.from(first).toString('hex');
  const seen = new Set<string>([kept]);
  // Several refills of the 32-byte block.
  for (let i = 0; i < 64; i++) seen.add(Buffer.from(pool.take(8)).toString('hex'));
  assert.is(Buffer.from(first).toString('hex'), kept, 'a taken id does not change on refill');
  assert.is(seen.size, 65, '8-byte draws do not repeat');
  for (let i = 0; i < 100; i++) {
    const value = pool.uint32();
    assert.ok(Number.isInteger(value) && value >= 0 && value <= 0xffffffff);
  }
  assert.is(typeof pool.uint64(), 'bigint');
  assert.throws(() => pool.take(33), /at most 32 bytes/);
});

test('request log: no line per request at info, both lines at debug, errors at error', async () => {
  const linesAt = async (level: string): Promise<{ level: number; msg: string }[]> => {
    const lines: { level: number; msg: string }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line !== '') lines.push(JSON.parse(line));
        done();
      },
    });
    const app = Fastify({ logger: { level, stream }, logController: new DebugRequestLog() });
    app.get('/ok', async () => ({ ok: true }));
    app.get('/fails', async () => {
      throw new Error('boom');
    });
    try {
      assert.is((await app.inject({ method: 'GET', url: '/ok' })).statusCode, 200);
      assert.is((await app.inject({ method: 'GET', url: '/fails' })).statusCode, 500);
    } finally {
      await app.close();
    }
    return lines.filter((l) =>
      /^(incoming request|request completed|request errored)$/.test(l.msg),
    );
  };
  const info = await linesAt('info');
  assert.ok(
    info.every((l) => l.level >= 50),
    `only error lines at info: ${JSON.stringify(info)}`,
  );
  const debug = await linesAt('debug');
  assert.equal(
    debug.filter((l) => l.level === 20).map((l) => l.msg),
    ['incoming request', 'request completed', 'incoming request', 'request completed'],
  );
});

test.run();
