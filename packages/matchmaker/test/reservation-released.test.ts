/**
 * A reservation released while its node proxy is still answering (the sweep
 * expired it, on the matchmaker's injectable clock) may already hold another
 * match when the late ack arrives. The outcome: the late allocation commits
 * nothing, its routes are revoked at the proxy, its tickets queue again with
 * their age and are matched again later — each ticket assigned exactly once
 * and each slot used once. Run on the memory store and on a real redis-server.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import type { RouteAssignment, Ticket } from '../src/domain/types.js';
import { linkAuthHeaders } from '../src/link/auth.js';
import { decodeServerFrame, encodeFrame, type ServerFrame } from '../src/link/frames.js';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import type { Store } from '../src/store/store.js';
import {
  auth,
  LINK_SECRET,
  pod,
  type RunningMatchmaker,
  startMatchmaker,
  testConfig,
  until,
  withTimeout,
} from './support/harness.js';
import { startRedisServer } from './support/redis-server.js';

type AssignFrame = Extract<ServerFrame, { t: 'assign' }>;

/**
 * A node proxy whose acks the test sends by hand; it keeps the routing table
 * a proxy would (routes installed on ack, dropped on revoke).
 */
class HandAckedProxy {
  readonly assigns: AssignFrame[] = [];
  readonly revoked: string[] = [];
  readonly table = new Map<string, RouteAssignment>();
  private readonly waiting: (() => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const frame = decodeServerFrame(data);
      if (frame?.t === 'assign') this.assigns.push(frame);
      if (frame?.t === 'revoke')
        for (const key of frame.keys) {
          this.revoked.push(key);
          this.table.delete(key);
        }
      for (const wake of this.waiting.splice(0)) wake();
    });
  }

  static async connect(mm: RunningMatchmaker, freeSlots: number): Promise<HandAckedProxy> {
    const socket = new WebSocket(mm.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n') });
    socket.on('error', () => undefined);
    const proxy = new HandAckedProxy(socket);
    await withTimeout(
      new Promise((resolve) => socket.once('open', resolve)),
      3000,
      'link connection',
    );
    proxy.send({
      t: 'register',
      version: 1,
      node: { id: 'n', cluster: 'local', region: '', publicAddress: '127.0.0.1:9' },
      pods: [pod('p', { freeSlots })],
    });
    await until(async () => (await mm.matchmaker.store.getNode('n'))?.connected === true);
    return proxy;
  }

  send(frame: Parameters<typeof encodeFrame>[0]): void {
    this.socket.send(encodeFrame(frame));
  }

  async nextAssign(count: number): Promise<AssignFrame> {
    const deadline = Date.now() + 3000;
    while (this.assigns.length < count) {
      if (Date.now() > deadline) throw new Error(`timeout: assign frame ${count}`);
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.assigns[count - 1]!;
  }

  ack(frame: AssignFrame): void {
    for (const route of frame.routes) this.table.set(route.key, route);
    this.send({ t: 'ack', id: frame.id });
  }

  close(): void {
    this.socket.terminate();
  }
}

async function createTicket(mm: RunningMatchmaker, player: string): Promise<string> {
  const res = await mm.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: auth,
    payload: { pool: 'duel', players: [{ id: player }] },
  });
  assert.is(res.statusCode, 201, res.body);
  return res.json().id;
}

async function ticketsOf(mm: RunningMatchmaker, ids: readonly string[]): Promise<Ticket[]> {
  return Promise.all(ids.map(async (id) => (await mm.matchmaker.store.getTicket(id))!));
}

function metric(text: string, pattern: RegExp): number {
  return Number(pattern.exec(text)?.[1] ?? 0);
}

/** The scenario on one store; `openStore` gets the matchmaker's clock. */
async function lateAckAfterRelease(openStore: (clock: () => number) => Promise<Store>) {
  let now = 1_700_000_000_000;
  const clock = () => now;
  const config = testConfig({
    pools: [{ name: 'duel', teams: { count: 2, size: 1 } }],
    limits: { reservationTimeoutMs: 1000 },
    // Heartbeats are sent by hand here: the clock jump must not mark the node silent.
    link: { heartbeatTimeoutMs: 60_000, ackTimeoutMs: 5000 },
  });
  const mm = await startMatchmaker(config, { store: await openStore(clock), clock });
  let proxy: HandAckedProxy | undefined;
  try {
    // Room for 3: one match of 2 fits, two would not.
    proxy = await HandAckedProxy.connect(mm, 3);
    const early = [await createTicket(mm, 'x'), await createTicket(mm, 'y')];
    const createdAt = (await ticketsOf(mm, early)).map((t) => t.createdAt);
    const lateRound = mm.matchmaker.round('duel');
    const lateAssign = await proxy.nextAssign(1);

    // The proxy is slow; the reservation expires and the next round gives its room away.
    now += 1500;
    const later = [await createTicket(mm, 'z'), await createTicket(mm, 'w')];
    const nextRound = mm.matchmaker.round('duel');
    const nextAssign = await proxy.nextAssign(2);
    proxy.ack(nextAssign);
    const next = await withTimeout(nextRound, 3000, 'the round that took the room');
    assert.is(next.assignedTickets, 2, JSON.stringify(next));
    assert.is((await mm.matchmaker.store.getNode('n'))?.pods[0]?.freeSlots, 1, '3 - 2');

    // Now the late ack: the reservation it relied on is gone.
    proxy.ack(lateAssign);
    const late = await withTimeout(lateRound, 3000, 'the round with the late ack');
    assert.is(late.assignedTickets, 0, JSON.stringify(late));
    assert.equal(late.failures, { reservation_released: 1 });
    await until(() => proxy!.revoked.length === 2, 3000, 'the late routes revoked');
    assert.equal(
      proxy.revoked.sort(),
      lateAssign.routes.map((r) => r.key).sort(),
      'exactly the late allocation’s routes are revoked',
    );
    const requeued = await ticketsOf(mm, early);
    assert.equal(
      requeued.map((t) => [t.state, t.matchId, t.assignment]),
      [
        ['queued', null, null],
        ['queued', null, null],
      ],
    );
    assert.equal(
      requeued.map((t) => t.createdAt),
      createdAt,
      'requeued with their age',
    );
    assert.equal(
      (await mm.matchmaker.store.queuedTickets('duel')).map((t) => t.id),
      early,
      'back in the queue, oldest first',
    );
    // No slot used twice, none leaked: the late match took nothing, nothing stays held.
    assert.is((await mm.matchmaker.store.getNode('n'))?.pods[0]?.freeSlots, 1);
    assert.is((await mm.matchmaker.store.reservedPlayers()).size, 0);
    const stillFull = await mm.matchmaker.round('duel');
    assert.equal(stillFull.failures, { no_capacity: 1 }, 'one free slot cannot take the match');

    // Room frees up (the proxy reports it): the requeued tickets are matched again, once.
    proxy.send({ t: 'heartbeat', pods: [pod('p', { freeSlots: 3 })] });
    await until(
      async () => (await mm.matchmaker.store.getNode('n'))?.pods[0]?.freeSlots === 3,
      3000,
      'the heartbeat',
    );
    const againRound = mm.matchmaker.round('duel');
    proxy.ack(await proxy.nextAssign(3));
    const again = await withTimeout(againRound, 3000, 'the round that matches them again');
    assert.is(again.assignedTickets, 2, JSON.stringify(again));

    const all = await ticketsOf(mm, [...early, ...later]);
    assert.equal(
      all.map((t) => t.state),
      ['assigned', 'assigned', 'assigned', 'assigned'],
    );
    // Each player holds exactly one live route, and it is the one its assignment names.
    const live = [...proxy.table.values()];
    assert.equal(live.map((r) => r.playerId).sort(), ['w', 'x', 'y', 'z']);
    for (const ticket of all)
      assert.is(
        proxy.table.get(ticket.assignment!.players[0]!.routingKey)?.playerId,
        ticket.players[0]!.id,
      );
    const text = await (await mm.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.is(metric(text, /allocation_failures_total\{reason="reservation_released"\} (\d+)/), 1);
    assert.is(metric(text, /reservations_expired_total (\d+)/), 1);
    assert.is(metric(text, /tickets_assigned_total\{pool="duel"\} (\d+)/), 4);
  } finally {
    proxy?.close();
    await mm.close();
  }
}

test('memory store: a late ack after the reservation expired revokes, requeues, and matches again once', () =>
  lateAckAfterRelease(async (clock) => new MemoryStore(clock)));

test('redis store: a late ack after the reservation expired revokes, requeues, and matches again once', async () => {
  const server = await startRedisServer();
  try {
    await lateAckAfterRelease((clock) =>
      RedisStore.connect(server.url, { prefix: `gm:released:${randomUUID()}:`, clock }),
    );
  } finally {
    await server.stop();
  }
});

test.run();
