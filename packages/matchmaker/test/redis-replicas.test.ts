/**
 * Two matchmaker replicas (two fastify apps, two Matchmaker services, two
 * Redis connections) on one real redis-server: shared capacity is never
 * handed out twice, tickets are never lost or assigned twice, abandoned
 * reservations are swept, and wake-ups and assignments cross replicas.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import type { MatchmakerConfig } from '../src/config.js';
import type { Ticket } from '../src/domain/types.js';
import { linkAuthHeaders } from '../src/link/auth.js';
import type { LinkClient } from '../src/link/client.js';
import { decodeServerFrame } from '../src/link/frames.js';
import { RedisStore } from '../src/store/redis.js';
import {
  API_KEY,
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
import { type RedisServer, withRedisServer } from './support/redis-server.js';

const json = { 'content-type': 'application/json', 'x-api-key': API_KEY };

/** Replicas sharing one key prefix, i.e. one matchmaker deployment. */
async function withReplicas(
  server: RedisServer,
  config: MatchmakerConfig,
  body: (a: RunningMatchmaker, b: RunningMatchmaker) => Promise<void>,
  storeOptions: { staleClaimMs?: number } = {},
): Promise<void> {
  const prefix = `gm:replicas:${randomUUID()}:`;
  const started: RunningMatchmaker[] = [];
  try {
    for (let i = 0; i < 2; i++)
      started.push(
        await startMatchmaker(config, {
          store: await RedisStore.connect(server.url, { prefix, ...storeOptions }),
        }),
      );
    await body(started[0]!, started[1]!);
  } finally {
    for (const mm of started) await mm.close();
  }
}

async function createTicket(mm: RunningMatchmaker, pool: string, player: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${mm.port}/v1/tickets`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ pool, players: [{ id: player }] }),
  });
  assert.is(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

test('two replicas, many tickets, limited capacity: every slot used once, no ticket lost or assigned twice', () =>
  withRedisServer((server) =>
    withReplicas(
      server,
      testConfig({ pools: [{ name: 'duel', teams: { count: 2, size: 1 } }] }),
      async (a, b) => {
        const capacity = new Map([
          ['na/p1', 6],
          ['na/p2', 4],
          ['nb/p1', 6],
          ['nb/p2', 4],
        ]);
        const total = [...capacity.values()].reduce((x, y) => x + y, 0);
        const nodes: LinkClient[] = [];
        try {
          // Each proxy is linked to a different replica, so allocations cross replicas.
          nodes.push(
            await connectNode(a, { id: 'na', cluster: 'local' }, [
              pod('p1', { freeSlots: 6 }),
              pod('p2', { freeSlots: 4 }),
            ]),
          );
          nodes.push(
            await connectNode(b, { id: 'nb', cluster: 'local' }, [
              pod('p1', { freeSlots: 6 }),
              pod('p2', { freeSlots: 4 }),
            ]),
          );
          const ids = await Promise.all(
            Array.from({ length: 60 }, (_, i) =>
              createTicket(i % 2 === 0 ? a : b, 'duel', `player-${i}`),
            ),
          );
          assert.is(new Set(ids).size, 60);
          // Rounds on both replicas at once, two per replica, until nothing changes.
          let assignedPlayers = 0;
          for (let attempt = 0; attempt < 10 && assignedPlayers < total; attempt++) {
            const summaries = await Promise.all([
              a.matchmaker.round('duel'),
              b.matchmaker.round('duel'),
              a.matchmaker.round('duel'),
              b.matchmaker.round('duel'),
            ]);
            assignedPlayers += summaries.reduce((n, s) => n + s.assignedTickets, 0);
          }
          const tickets = (
            await Promise.all(ids.map((id) => a.matchmaker.store.getTicket(id)))
          ).map((t) => t as Ticket);
          const assigned = tickets.filter((t) => t.state === 'assigned');
          const queued = tickets.filter((t) => t.state === 'queued');
          assert.is(assigned.length + queued.length, 60, 'every ticket is assigned or queued');
          assert.is(assignedPlayers, total, 'rounds report exactly the capacity');
          assert.is(assigned.length, total, 'assigned players == capacity');
          assert.equal(
            (await b.matchmaker.store.queuedTickets('duel')).map((t) => t.id).sort(),
            queued.map((t) => t.id).sort(),
            'the queue holds exactly the unassigned tickets',
          );
          // What the proxies hold is the truth about slots.
          await until(
            () => nodes.reduce((n, node) => n + node.routes().length, 0) === total,
            3000,
            'routes on the proxies',
          );
          const routes = nodes.flatMap((node, i) =>
            node.routes().map((r) => ({ ...r, node: i === 0 ? 'na' : 'nb' })),
          );
          assert.is(new Set(routes.map((r) => r.key)).size, total, 'no routing key twice');
          assert.is(new Set(routes.map((r) => r.playerId)).size, total, 'no player twice');
          for (const [ref, slots] of capacity) {
            const used = routes.filter((r) => `${r.node}/${r.pod}` === ref).length;
            assert.is(used, slots, `${ref}: ${used} players for ${slots} slots`);
          }
          const assignedPlayerIds = assigned.flatMap((t) => t.players.map((p) => p.id)).sort();
          assert.equal(routes.map((r) => r.playerId).sort(), assignedPlayerIds);
          for (const ticket of assigned) {
            const route = routes.find((r) => r.playerId === ticket.players[0]!.id)!;
            assert.is(ticket.assignment?.players[0]?.routingKey, route.key);
          }
          assert.is((await a.matchmaker.store.reservedPlayers()).size, 0, 'no reservation left');
          const remote = a.replicas!.stats.remoteAssigns + b.replicas!.stats.remoteAssigns;
          const served = a.replicas!.stats.servedAssigns + b.replicas!.stats.servedAssigns;
          assert.ok(
            remote > 0 && served > 0,
            `cross-replica assignments: ${remote} sent, ${served} served`,
          );
        } finally {
          for (const node of nodes) node.close();
        }
      },
    ),
  ));

test('a long-poll and an SSE stream on replica A wake up for an assignment and an expiry made on replica B', () =>
  withRedisServer((server) =>
    withReplicas(
      server,
      testConfig({
        pools: [
          { name: 'duel', teams: { count: 2, size: 1 } },
          { name: 'brief', teams: { count: 2, size: 1 }, ticketTtlSeconds: 0.3 },
        ],
      }),
      async (a, b) => {
        const node = await connectNode(b, { id: 'nb', cluster: 'local' }, [pod('p1')]);
        const aborted = new AbortController();
        try {
          const first = await createTicket(a, 'duel', 'alice');
          const second = await createTicket(a, 'duel', 'bob');
          const base = `http://127.0.0.1:${a.port}/v1/tickets`;
          const poll = fetch(`${base}/${first}/assignment?wait=20`, { headers: json });
          const events = await fetch(`${base}/${second}/events`, {
            headers: json,
            signal: aborted.signal,
          });
          await until(() => a.matchmaker.watchers.size === 2, 2000, 'both waiters on A');
          const started = Date.now();
          const summary = await b.matchmaker.round('duel');
          assert.is(summary.assignedTickets, 2, JSON.stringify(summary));
          const answer = (await withTimeout(poll, 3000, 'long-poll on A')).json() as Promise<{
            state: string;
            assignment: { cluster: string } | null;
          }>;
          const body = await answer;
          assert.is(body.state, 'assigned');
          assert.is(body.assignment?.cluster, 'local');
          assert.ok(Date.now() - started < 2000, 'woken by the event, not by the 20 s deadline');
          const stream = await withTimeout(events.text(), 3000, 'SSE on A ends');
          const states = [...stream.matchAll(/"state":"(\w+)"/g)].map((m) => m[1]);
          assert.equal(states, ['queued', 'assigned'], stream);

          const brief = await createTicket(a, 'brief', 'carol');
          const expiring = fetch(`${base}/${brief}/assignment?wait=20`, { headers: json });
          await new Promise((r) => setTimeout(r, 350));
          assert.is((await b.matchmaker.round('brief')).expired, 1, 'B expires the ticket');
          const expired = (await (await withTimeout(expiring, 3000, 'expiry on A')).json()) as {
            state: string;
          };
          assert.is(expired.state, 'expired');
        } finally {
          aborted.abort();
          node.close();
        }
      },
    ),
  ));

test('a replica stopped between reserve and commit: the sweep releases its reservation and requeues its tickets', () =>
  withRedisServer((server) =>
    withReplicas(
      server,
      testConfig({
        pools: [{ name: 'duel', teams: { count: 2, size: 1 } }],
        limits: { reservationTimeoutMs: 200 },
        link: { heartbeatTimeoutMs: 1000, ackTimeoutMs: 2000 },
      }),
      async (a, b) => {
        // A proxy on A that receives the assignment and never answers; A stops meanwhile.
        const ws = new WebSocket(a.linkUrl, { headers: linkAuthHeaders(LINK_SECRET, 'n') });
        let node: LinkClient | undefined;
        try {
          await new Promise((resolve) => ws.on('open', resolve));
          const assigned = new Promise<void>((resolve) =>
            ws.on('message', (data: Buffer) => {
              if (decodeServerFrame(data)?.t === 'assign') resolve();
            }),
          );
          // Registered on A, seen by B: the node record lives in the shared Redis.
          await registerByHand(ws, b.matchmaker.store, 'n', [pod('p', { freeSlots: 2 })]);
          const ids = [await createTicket(a, 'duel', 'x'), await createTicket(b, 'duel', 'y')];
          const round = a.matchmaker.round('duel').catch(() => 'stopped');
          await withTimeout(assigned, 3000, 'the assign frame');
          // The crash: A loses Redis mid-allocation, so it can neither commit nor release.
          (a.matchmaker.store as RedisStore).client.disconnect();
          await a.close();
          await round;
          ws.terminate();
          assert.equal(
            Object.fromEntries(await b.matchmaker.store.reservedPlayers()),
            { 'n/p': { match: 2, backfill: 0 } },
            'the abandoned reservation still holds both slots',
          );
          for (const id of ids)
            assert.is((await b.matchmaker.store.getTicket(id))?.state, 'matched');

          // The proxy comes back on B; B's rounds sweep and then use the slots again.
          node = await connectNode(b, { id: 'n', cluster: 'local' }, [pod('p', { freeSlots: 2 })]);
          await new Promise((r) => setTimeout(r, 250));
          await b.matchmaker.round('duel');
          assert.is((await b.matchmaker.store.reservedPlayers()).size, 0, 'released');
          assert.match(
            await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text(),
            /reservations_expired_total 1/,
          );
          await new Promise((r) => setTimeout(r, 400));
          const summary = await b.matchmaker.round('duel');
          assert.is(
            summary.assignedTickets,
            2,
            `requeued and assigned: ${JSON.stringify(summary)}`,
          );
          for (const id of ids)
            assert.is((await b.matchmaker.store.getTicket(id))?.state, 'assigned');
          assert.is(node.routes().length, 2, 'the two slots, used once');
          assert.is((await b.matchmaker.store.getNode('n'))?.pods[0]?.freeSlots, 0);
        } finally {
          ws.terminate();
          node?.close();
        }
      },
      { staleClaimMs: 500 },
    ),
  ));

test.run();
