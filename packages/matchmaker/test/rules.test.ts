import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type PoolConfig, parseConfig } from '../src/config.js';
import { placeIntoTeams, ruleEngine, windowWidth } from '../src/domain/rules.js';
import type { Cluster, Ticket } from '../src/domain/types.js';

const clusters: Cluster[] = [
  { name: 'eu-1', region: 'eu', priority: 0, weight: 1 },
  { name: 'us-1', region: 'us', priority: 0, weight: 1 },
];

function pool(raw: Record<string, unknown>): PoolConfig {
  const parsed = parseConfig({ pools: [{ name: 'p', ...raw }] });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.config.pools[0]!;
}

let seq = 0;
function ticket(
  players: { id?: string; attributes?: Record<string, number | string> }[],
  extra: Partial<Ticket> = {},
): Ticket {
  const id = `t${++seq}`;
  return {
    id,
    pool: 'p',
    players: players.map((p, i) => ({ id: p.id ?? `${id}-${i}`, attributes: p.attributes ?? {} })),
    party: null,
    latencies: {},
    owner: null,
    createdAt: seq,
    expiresAt: 1e12,
    state: 'queued',
    matchId: null,
    assignment: null,
    updatedAt: seq,
    ...extra,
  };
}

const run = (p: PoolConfig, tickets: Ticket[], now = 0) =>
  ruleEngine({ pool: p, tickets, clusters, now }) as { teams: string[][] }[];

test('2×2 teams: four solo tickets make one balanced match, a fifth waits', () => {
  const tickets = [1, 2, 3, 4, 5].map(() => ticket([{}]));
  const out = run(pool({ teams: { count: 2, size: 2 } }), tickets);
  assert.is(out.length, 1);
  assert.equal(
    out[0]!.teams.map((t) => t.length),
    [2, 2],
  );
  const used = out[0]!.teams.flat();
  assert.not.ok(used.includes(tickets[4]!.id), 'the youngest ticket is left over');
});

test('parties stay together in one team', () => {
  const party = ticket([{ id: 'a' }, { id: 'b' }]);
  const solos = [ticket([{}]), ticket([{}])];
  const out = run(pool({ teams: { count: 2, size: 2 } }), [solos[0]!, party, solos[1]!]);
  assert.is(out.length, 1);
  const partyTeam = out[0]!.teams.find((t) => t.includes(party.id))!;
  assert.equal(partyTeam, [party.id], 'the party fills its own team');
});

test('parties that cannot be placed without splitting are not matched', () => {
  // Two parties of 2 and one of 1 into 3 teams of 1: impossible.
  assert.is(placeIntoTeams([ticket([{}, {}]), ticket([{}])], 3, 1), null);
  const out = run(pool({ teams: { count: 2, size: 2 } }), [
    ticket([{}, {}]),
    ticket([{}]),
    ticket([{}]),
  ]);
  assert.is(out.length, 1, 'party of 2 + two solos is fine');
});

test('attribute windows exclude far players, then widen with the anchor waiting time', () => {
  const p = pool({
    teams: { count: 2, size: 1 },
    windows: [{ attribute: 'skill', initial: 100, widenPerSecond: 50, max: 400 }],
  });
  const low = ticket([{ attributes: { skill: 1000 } }], { createdAt: 0 });
  const high = ticket([{ attributes: { skill: 1250 } }], { createdAt: 0 });
  assert.is(run(p, [low, high], 0).length, 0, 'window 100 < gap 250');
  assert.is(run(p, [low, high], 2000).length, 0, 'after 2 s: window 200 < 250');
  assert.is(run(p, [low, high], 3000).length, 1, 'after 3 s: window 250 reaches');
  assert.is(windowWidth(p.windows[0]!, 60_000), 400, 'capped at max');
  const far = ticket([{ attributes: { skill: 2000 } }], { createdAt: 0 });
  assert.is(run(p, [low, far], 600_000).length, 0, 'never past max');
});

test('sameAttributes must be equal across the match', () => {
  const p = pool({ teams: { count: 2, size: 1 }, sameAttributes: ['mode'] });
  const a = ticket([{ attributes: { mode: 'ctf' } }]);
  const b = ticket([{ attributes: { mode: 'dm' } }]);
  const c = ticket([{ attributes: { mode: 'ctf' } }]);
  const out = run(p, [a, b, c]);
  assert.is(out.length, 1);
  assert.equal(out[0]!.teams.flat().sort(), [a.id, c.id].sort());
});

test('maxLatencyMs: tickets need a common cluster under the limit', () => {
  const p = pool({ teams: { count: 2, size: 1 }, maxLatencyMs: 80 });
  const eu = ticket([{}], { latencies: { eu: 20, us: 150 } });
  const us = ticket([{}], { latencies: { 'eu-1': 120, us: 30 } });
  const eu2 = ticket([{}], { latencies: { eu: 60 } });
  const out = run(p, [eu, us, eu2]);
  assert.is(out.length, 1);
  assert.equal(out[0]!.teams.flat().sort(), [eu.id, eu2.id].sort());
  const nowhere = ticket([{}], { latencies: { eu: 500, us: 500 } });
  assert.is(run(p, [nowhere, ticket([{}])]).length, 0);
});

test('minPlayers below maxPlayers allows partial matches', () => {
  const p = pool({ teams: { count: 2, size: 2 }, minPlayers: 2 });
  const out = run(p, [ticket([{}]), ticket([{}]), ticket([{}])]);
  assert.is(out.length, 1);
  assert.is(out[0]!.teams.flat().length, 3, 'fills as far as it can');
  assert.is(run(p, [ticket([{}])]).length, 0, 'below minPlayers waits');
});

test('maxPlayers caps a match below full teams', () => {
  const p = pool({ teams: { count: 4, size: 2 }, maxPlayers: 4, minPlayers: 4 });
  const out = run(
    p,
    Array.from({ length: 9 }, () => ticket([{}])),
  );
  assert.is(out.length, 2);
  for (const match of out) assert.is(match.teams.flat().length, 4);
});

test('every ticket is used at most once across proposals', () => {
  const tickets = Array.from({ length: 50 }, (_, i) => ticket([{ attributes: { skill: i * 10 } }]));
  const p = pool({ teams: { count: 2, size: 1 }, windows: [{ attribute: 'skill', initial: 15 }] });
  const out = run(p, tickets);
  const ids = out.flatMap((m) => m.teams.flat());
  assert.is(new Set(ids).size, ids.length);
  assert.is(out.length, 25);
});

test.run();
