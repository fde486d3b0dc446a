import { createRandom } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NodeProxy, PodRef, Reservation, Ticket } from '../src/domain/types.js';
import { MemoryStore } from '../src/store/memory.js';
import { type HeldPlayers, ReservationLedger } from '../src/store/reservation-ledger.js';
import { podKey } from '../src/store/store.js';

/** The per-pod totals recomputed from scratch, the way `held()` used to scan. */
function recompute(open: Iterable<Reservation>): Map<string, HeldPlayers> {
  const out = new Map<string, HeldPlayers>();
  for (const r of open) {
    const key = podKey(r.ref);
    const entry = out.get(key) ?? { match: 0, backfill: 0 };
    entry[r.kind] += r.players;
    out.set(key, entry);
  }
  for (const [key, held] of out) if (held.match === 0 && held.backfill === 0) out.delete(key);
  return out;
}

function sorted(map: Map<string, HeldPlayers>): [string, HeldPlayers][] {
  return [...map].sort((a, b) => a[0].localeCompare(b[0]));
}

const refs: PodRef[] = [
  { node: 'n1', pod: 'a' },
  { node: 'n1', pod: 'b' },
  { node: 'n2', pod: 'a' },
  { node: 'n3', pod: 'c' },
];

test('ledger totals equal a recomputation under random add/remove/expire sequences', () => {
  for (const seed of [1, 2, 3, 42, 0xbeef]) {
    const random = createRandom(seed).next;
    const ledger = new ReservationLedger();
    const model = new Map<string, Reservation>();
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      const roll = random();
      if (roll < 0.45) {
        // Sometimes reuse an open id: a replacement must first take out the old entry.
        const id =
          model.size > 0 && random() < 0.1
            ? [...model.keys()][Math.floor(random() * model.size)]!
            : `r${step}`;
        const reservation: Reservation = {
          id,
          ref: refs[Math.floor(random() * refs.length)]!,
          players: 1 + Math.floor(random() * 8),
          kind: random() < 0.7 ? 'match' : 'backfill',
          expiresAt: now + Math.floor(random() * 500),
        };
        ledger.add(reservation);
        model.set(id, reservation);
      } else if (roll < 0.8) {
        const ids = [...model.keys()];
        const id = ids.length > 0 && random() < 0.9 ? ids[Math.floor(random() * ids.length)]! : 'x';
        assert.equal(ledger.remove(id), model.get(id), `remove ${id}`);
        model.delete(id);
      } else {
        now += Math.floor(random() * 200);
        const expired = ledger.expire(now).map((r) => r.id);
        const due = [...model.values()].filter((r) => r.expiresAt <= now).map((r) => r.id);
        assert.equal(expired.sort(), due.sort(), `seed ${seed} step ${step}: expired set`);
        for (const id of due) model.delete(id);
      }
      assert.is(ledger.size, model.size);
      assert.equal(sorted(ledger.snapshot()), sorted(recompute(model.values())), `seed ${seed}`);
      for (const ref of refs)
        for (const kind of ['match', 'backfill'] as const)
          assert.is(
            ledger.held(podKey(ref), kind),
            recompute(model.values()).get(podKey(ref))?.[kind] ?? 0,
          );
    }
  }
});

function node(id: string, pods: { id: string; free: number; backfill: number }[]): NodeProxy {
  return {
    id,
    cluster: 'eu-1',
    region: 'eu',
    publicAddress: '127.0.0.1:7000',
    lastSeen: 0,
    connected: true,
    draining: false,
    pods: pods.map((p) => ({
      id: p.id,
      address: '10.0.0.1',
      port: 7777,
      protocol: 'netcode',
      capacity: 64,
      freeSlots: p.free,
      backfillSlots: p.backfill,
      sessionId: null,
      labels: {},
      draining: false,
    })),
  };
}

test('MemoryStore reserve/commit/release/expire: takes room exactly as a recomputation would', async () => {
  for (const seed of [7, 8, 9]) {
    const random = createRandom(seed).next;
    let now = 1000;
    const store = new MemoryStore(() => now);
    await store.upsertNode(
      node('n1', [
        { id: 'a', free: 40, backfill: 6 },
        { id: 'b', free: 25, backfill: 0 },
      ]),
    );
    await store.upsertNode(node('n2', [{ id: 'a', free: 30, backfill: 10 }]));
    const pods: PodRef[] = [
      { node: 'n1', pod: 'a' },
      { node: 'n1', pod: 'b' },
      { node: 'n2', pod: 'a' },
    ];
    const open = new Map<string, Reservation>();
    const room = async (ref: PodRef, kind: Reservation['kind']): Promise<number> => {
      const pod = (await store.getNode(ref.node))!.pods.find((p) => p.id === ref.pod)!;
      const held = recompute(open.values()).get(podKey(ref))?.[kind] ?? 0;
      return (kind === 'match' ? pod.freeSlots : pod.backfillSlots) - held;
    };
    for (let step = 0; step < 3000; step++) {
      const roll = random();
      if (roll < 0.5) {
        const candidates = [...pods]
          .sort(() => random() - 0.5)
          .slice(0, 1 + Math.floor(random() * 3));
        const players = 1 + Math.floor(random() * 6);
        const kind = random() < 0.75 ? 'match' : 'backfill';
        // The model's answer: the first candidate with room, as the store promises.
        let expected: PodRef | null = null;
        for (const ref of candidates)
          if ((await room(ref, kind)) >= players) {
            expected = ref;
            break;
          }
        const got = await store.reserve({
          id: `r${step}`,
          candidates,
          players,
          kind,
          expiresAt: now + Math.floor(random() * 300),
        });
        assert.equal(got?.ref ?? null, expected, `seed ${seed} step ${step}`);
        if (got !== null) open.set(got.id, got);
      } else if (roll < 0.7 && open.size > 0) {
        const id = [...open.keys()][Math.floor(random() * open.size)]!;
        // No tickets under this claim: the commit turns the reservation into zero used slots.
        assert.is((await store.commit(id, [])).kind, 'committed');
        open.delete(id);
      } else if (roll < 0.85) {
        const id = open.size > 0 ? [...open.keys()][Math.floor(random() * open.size)]! : 'none';
        assert.is(await store.release(id), open.has(id));
        open.delete(id);
      } else {
        now += Math.floor(random() * 150);
        for (const r of await store.releaseExpired(now)) {
          assert.ok(r.expiresAt <= now);
          assert.ok(open.delete(r.id), 'released an open reservation');
        }
        for (const r of open.values()) assert.ok(r.expiresAt > now, 'every due one released');
      }
      assert.equal(sorted(await store.reservedPlayers()), sorted(recompute(open.values())));
    }
  }
});

function ticket(id: string, createdAt: number, state: Ticket['state'] = 'queued'): Ticket {
  return {
    id,
    pool: 'duel',
    players: [{ id: `p-${id}`, attributes: {} }],
    party: null,
    latencies: {},
    owner: null,
    createdAt,
    expiresAt: createdAt + 60_000,
    state,
    matchId: null,
    assignment: null,
    updatedAt: createdAt,
  };
}

test('MemoryStore queue: oldest first, re-queued tickets keep their place, finished ones leave', async () => {
  const store = new MemoryStore(() => 0);
  for (const [id, at] of [
    ['a', 10],
    ['b', 20],
    ['c', 20],
    ['d', 30],
  ] as const)
    await store.createTicket(ticket(id, at), null);
  const ids = async (): Promise<string[]> => (await store.queuedTickets('duel')).map((t) => t.id);
  assert.equal(await ids(), ['a', 'b', 'c', 'd']);

  // Claimed: not listed while matching; put back: in its original place.
  assert.ok(
    await store.transition([{ id: 'b', from: ['queued'], next: ticket('b', 20, 'matched') }]),
  );
  assert.equal(await ids(), ['a', 'c', 'd']);
  await store.createTicket(ticket('e', 40), null);
  assert.ok(
    await store.transition([{ id: 'b', from: ['matched'], next: ticket('b', 20, 'queued') }]),
  );
  assert.equal(await ids(), ['a', 'b', 'c', 'd', 'e']);

  // A ticket from a clock that stepped back still lands in creation order.
  await store.createTicket(ticket('f', 15), null);
  assert.equal(await ids(), ['a', 'f', 'b', 'c', 'd', 'e']);

  for (const [id, state] of [
    ['a', 'assigned'],
    ['c', 'cancelled'],
    ['e', 'expired'],
  ] as const)
    assert.ok(
      await store.transition([{ id, from: ['queued'], next: { ...ticket(id, 0), state } }]),
    );
  assert.equal(await ids(), ['f', 'b', 'd']);
  await store.createTicket(ticket('g', 50), null);
  assert.equal(await ids(), ['f', 'b', 'd', 'g']);
});

test('MemoryStore purgeFinished: drops old finished tickets and expired routes, keeps the rest', async () => {
  let now = 0;
  const store = new MemoryStore(() => now);
  await store.createTicket(ticket('old', 0), null);
  await store.createTicket(ticket('recent', 0), null);
  await store.createTicket(ticket('waiting', 0), null);
  await store.transition([
    { id: 'old', from: ['queued'], next: { ...ticket('old', 0), state: 'assigned' } },
  ]);
  await store.transition([
    {
      id: 'recent',
      from: ['queued'],
      next: { ...ticket('recent', 0), state: 'expired', updatedAt: 500 },
    },
  ]);
  const route = (key: string, expiresAt: number) => ({
    key,
    kind: 'routing' as const,
    pod: 'a',
    protocol: 'netcode',
    matchId: 'm',
    playerId: `p-${key}`,
    expiresAt,
  });
  await store.saveRoutes('n1', [route('gone', 900), route('live', 5000)]);
  now = 1000;
  assert.is(await store.purgeFinished(100), 1);
  assert.is(await store.getTicket('old'), null);
  assert.is((await store.getTicket('recent'))?.state, 'expired');
  assert.is((await store.getTicket('waiting'))?.state, 'queued');
  assert.equal(
    (await store.routesFor('n1', 0)).map((r) => r.key),
    ['live'],
    'the expired route went with the purge, not with a resync',
  );
});

test.run();
