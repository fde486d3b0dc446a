import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LinkClient } from '../src/link/client.js';
import {
  auth,
  connectNode,
  pod,
  type RunningMatchmaker,
  startMatchmaker,
  testConfig,
} from './support/harness.js';

const clusters = [
  { name: 'eu-1', region: 'eu', priority: 0, weight: 1 },
  { name: 'eu-2', region: 'eu', priority: 1, weight: 1 },
  { name: 'us-1', region: 'us', priority: 0, weight: 1 },
];

async function create(mm: RunningMatchmaker, body: Record<string, unknown>): Promise<string> {
  const res = await mm.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: auth,
    payload: body,
  });
  assert.is(res.statusCode, 201, res.body);
  return res.json().id;
}

async function ticket(mm: RunningMatchmaker, id: string) {
  return (await mm.app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: auth })).json();
}

async function withFleet(
  config: Record<string, unknown>,
  body: (mm: RunningMatchmaker, nodes: Map<string, LinkClient>) => Promise<void>,
  fleet: { id: string; cluster: string; pods: ReturnType<typeof pod>[] }[],
): Promise<void> {
  const mm = await startMatchmaker(testConfig({ clusters, ...config }));
  const nodes = new Map<string, LinkClient>();
  try {
    for (const n of fleet)
      nodes.set(
        n.id,
        await connectNode(
          mm,
          { id: n.id, cluster: n.cluster, publicAddress: `127.0.0.${nodes.size + 2}:7777` },
          n.pods,
        ),
      );
    await body(mm, nodes);
  } finally {
    for (const node of nodes.values()) node.close();
    await mm.close();
  }
}

const duel = { name: 'duel', teams: { count: 2, size: 1 }, maxLatencyMs: 100 };

test('cluster by latency: eu players go to eu, us players to us', () =>
  withFleet(
    { pools: [duel] },
    async (mm) => {
      const eu = [
        await create(mm, { pool: 'duel', players: [{ id: 'a' }], latencies: { eu: 20, us: 140 } }),
        await create(mm, { pool: 'duel', players: [{ id: 'b' }], latencies: { eu: 25, us: 130 } }),
      ];
      const us = [
        await create(mm, { pool: 'duel', players: [{ id: 'c' }], latencies: { eu: 150, us: 10 } }),
        await create(mm, { pool: 'duel', players: [{ id: 'd' }], latencies: { eu: 160, us: 15 } }),
      ];
      const summary = await mm.matchmaker.round('duel');
      assert.is(summary.assignedTickets, 4, JSON.stringify(summary));
      for (const id of eu) assert.is((await ticket(mm, id)).assignment.cluster, 'eu-1');
      for (const id of us) assert.is((await ticket(mm, id)).assignment.cluster, 'us-1');
      const us1 = (await ticket(mm, us[0]!)).assignment;
      assert.is(us1.connection, '127.0.0.4:7777', 'the us node proxy address');
    },
    [
      { id: 'eu-a', cluster: 'eu-1', pods: [pod('p1')] },
      { id: 'eu-b', cluster: 'eu-2', pods: [pod('p1')] },
      { id: 'us-a', cluster: 'us-1', pods: [pod('p1')] },
    ],
  ));

test('equal latency bucket: priority wins; a full preferred cluster spills over', () =>
  withFleet(
    { pools: [duel] },
    async (mm) => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++)
        ids.push(
          await create(mm, { pool: 'duel', players: [{ id: `p${i}` }], latencies: { eu: 30 } }),
        );
      await mm.matchmaker.round('duel');
      const got = await Promise.all(
        ids.map(async (id) => (await ticket(mm, id)).assignment.cluster),
      );
      // eu-1 (priority 0) has room for one match of 2; the second goes to eu-2 (priority 1).
      assert.equal(got.sort(), ['eu-1', 'eu-1', 'eu-2', 'eu-2']);
    },
    [
      { id: 'eu-a', cluster: 'eu-1', pods: [pod('p1', { freeSlots: 2 })] },
      { id: 'eu-b', cluster: 'eu-2', pods: [pod('p1', { freeSlots: 8 })] },
    ],
  ));

test('weight shares matches among equal clusters', () =>
  withFleet(
    {
      clusters: [
        { name: 'a', region: 'x', weight: 3 },
        { name: 'b', region: 'x', weight: 1 },
      ],
      pools: [{ name: 'duel', teams: { count: 2, size: 1 } }],
    },
    async (mm) => {
      for (let i = 0; i < 400; i++) await create(mm, { pool: 'duel', players: [{ id: `p${i}` }] });
      await mm.matchmaker.round('duel');
      const text = await (await mm.app.inject({ method: 'GET', url: '/metrics' })).body;
      const count = (c: string) =>
        Number(
          new RegExp(
            `gamemesh_matchmaker_matches_total\\{pool="duel",cluster="${c}"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        );
      assert.is(count('a') + count('b'), 200);
      const share = count('a') / 200;
      assert.ok(share > 0.65 && share < 0.85, `weight 3:1 gave share ${share}`);
    },
    [
      { id: 'na', cluster: 'a', pods: [pod('p1', { capacity: 1000, freeSlots: 1000 })] },
      { id: 'nb', cluster: 'b', pods: [pod('p1', { capacity: 1000, freeSlots: 1000 })] },
    ],
  ));

test('pods are packed: the fullest pod that fits is used first', () =>
  withFleet(
    { clusters: [clusters[0]], pools: [{ name: 'duel', teams: { count: 2, size: 1 } }] },
    async (mm, nodes) => {
      await create(mm, { pool: 'duel', players: [{ id: 'a' }] });
      await create(mm, { pool: 'duel', players: [{ id: 'b' }] });
      await mm.matchmaker.round('duel');
      const routes = nodes.get('n')!.routes();
      assert.equal([...new Set(routes.map((r) => r.pod))], ['almost-full']);
    },
    [
      {
        id: 'n',
        cluster: 'eu-1',
        pods: [
          pod('empty', { freeSlots: 8 }),
          pod('almost-full', { freeSlots: 2 }),
          pod('too-full', { freeSlots: 1 }),
        ],
      },
    ],
  ));

test('capacity is never over-committed: 5 slots, 10 duel tickets → 2 matches', () =>
  withFleet(
    { clusters: [clusters[0]], pools: [{ name: 'duel', teams: { count: 2, size: 1 } }] },
    async (mm, nodes) => {
      for (let i = 0; i < 10; i++) await create(mm, { pool: 'duel', players: [{ id: `p${i}` }] });
      const summary = await mm.matchmaker.round('duel');
      assert.is(summary.assignedTickets, 4);
      // Allocations of one round run concurrently on one fleet snapshot: the
      // atomic reservation, not the plan, is what refuses the extra three.
      const refused = (summary.failures.no_capacity ?? 0) + (summary.failures.contention ?? 0);
      assert.is(refused, 3, JSON.stringify(summary));
      assert.is(nodes.get('n')!.routes().length, 4);
      // Still queued, not lost.
      const queued = await mm.matchmaker.store.queuedTickets('duel');
      assert.is(queued.length, 6);
    },
    [{ id: 'n', cluster: 'eu-1', pods: [pod('p', { freeSlots: 5 })] }],
  ));

test('backfill: open slots in a running session are filled before new matches', () =>
  withFleet(
    { clusters: [clusters[0]], pools: [{ name: 'squad', teams: { count: 2, size: 2 } }] },
    async (mm, nodes) => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(await create(mm, { pool: 'squad', players: [{ id: `p${i}` }] }));
      const summary = await mm.matchmaker.round('squad');
      assert.is(summary.assignedTickets, 5, JSON.stringify(summary));
      const assignments = await Promise.all(
        ids.map(async (id) => (await ticket(mm, id)).assignment),
      );
      const backfilled = assignments.filter((a) => a.matchId === 'running-7');
      assert.is(backfilled.length, 1, 'one open slot, one backfill');
      assert.is(assignments.indexOf(backfilled[0]), 0, 'the oldest ticket is backfilled first');
      const routes = nodes.get('n')!.routes();
      assert.is(routes.filter((r) => r.pod === 'running').length, 1);
      assert.is(routes.filter((r) => r.pod === 'fresh').length, 4);
    },
    [
      {
        id: 'n',
        cluster: 'eu-1',
        pods: [
          pod('running', { freeSlots: 1, backfillSlots: 1, sessionId: 'running-7' }),
          pod('fresh'),
        ],
      },
    ],
  ));

test('draining pods and pods of another protocol are not chosen', () =>
  withFleet(
    {
      clusters: [clusters[0]],
      pools: [
        { name: 'kcp', teams: { count: 2, size: 1 }, protocol: 'kcp', token: 'protocol-key' },
      ],
    },
    async (mm, nodes) => {
      const a = await create(mm, { pool: 'kcp', players: [{ id: 'a' }] });
      await create(mm, { pool: 'kcp', players: [{ id: 'b' }] });
      await mm.matchmaker.round('kcp');
      const assignment = (await ticket(mm, a)).assignment;
      assert.is(assignment.protocol, 'kcp');
      assert.is(assignment.tokenKind, 'protocol-key');
      assert.match(assignment.token, /^[1-9]\d*$/, 'a KCP conv as decimal');
      assert.ok(Number(assignment.token) < 2 ** 32);
      assert.equal(
        [
          ...new Set(
            nodes
              .get('n')!
              .routes()
              .map((r) => r.pod),
          ),
        ],
        ['kcp-ok'],
      );
      assert.is(nodes.get('n')!.lookup(assignment.token)?.pod, 'kcp-ok', 'routing key = conv');
    },
    [
      {
        id: 'n',
        cluster: 'eu-1',
        pods: [
          pod('netcode', { protocol: 'netcode' }),
          pod('kcp-draining', { protocol: 'kcp', draining: true }),
          pod('kcp-ok', { protocol: 'kcp' }),
        ],
      },
    ],
  ));

test.run();
