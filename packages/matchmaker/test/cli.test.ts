import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HELP, main } from '../src/cli.js';
import { loadConfigFile, parseConfig } from '../src/config.js';
import { loadMatchFunctions } from '../src/match-functions.js';
import { auth, connectNode, pod, startMatchmaker, testConfig } from './support/harness.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const out = sink();
  const err = sink();
  const result = await main(argv, { stdout: out.stream, stderr: err.stream, env });
  return { result, stdout: out.text(), stderr: err.text() };
}

test('--help documents every flag', async () => {
  const { result, stdout } = await run(['--help']);
  assert.is(result, 0);
  for (const flag of ['--listen', '--config', '--store', '--log-level', '--check', '--help'])
    assert.ok(stdout.includes(flag), flag);
  assert.is(stdout, HELP);
});

test('no arguments: memory store, a default pool and cluster (checked with --check)', async () => {
  const { result, stdout } = await run(['--check']);
  assert.is(result, 0);
  const config = JSON.parse(stdout);
  assert.is(config.listen, '127.0.0.1:8080');
  assert.is(config.store, 'memory');
  assert.equal(
    config.pools.map((p: { name: string }) => p.name),
    ['default'],
  );
  assert.equal(
    config.clusters.map((c: { name: string }) => c.name),
    ['local'],
  );
});

test('the server starts, serves, and prints generated secrets; the API key works', async () => {
  const { result, stderr } = await run(['--listen', '127.0.0.1:0', '--log-level', 'silent']);
  assert.ok(typeof result === 'object');
  if (typeof result !== 'object') return;
  try {
    const key = /generated api key \(GAMEMESH_MM_API_KEY\): (\S+)/.exec(stderr)?.[1];
    assert.ok(key, stderr);
    const base = `http://${result.address}`;
    assert.is((await fetch(`${base}/livez`)).status, 200);
    const created = await fetch(`${base}/v1/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key! },
      body: JSON.stringify({ pool: 'default', players: [{ id: 'p1' }] }),
    });
    assert.is(created.status, 201);
    assert.is((await fetch(`${base}/v1/tickets`, { method: 'POST' })).status, 401);
  } finally {
    await result.close();
  }
});

test('config errors name the path and the problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gm-mm-'));
  try {
    const file = join(dir, 'mm.yaml');
    writeFileSync(file, 'pools:\n  - name: duel\n    teams: { count: 2, size: "one" }\n');
    const bad = await run(['--config', file]);
    assert.is(bad.result, 2);
    assert.match(bad.stderr, /config: pools\[0\]\.teams\.size: /);
    writeFileSync(
      file,
      'pools:\n  - name: duel\n    teams: { count: 2, size: 1 }\n    minPlayers: 5\n',
    );
    assert.match(
      (await run(['--config', file])).stderr,
      /config: pools\[0\]\.minPlayers: exceeds maxPlayers \(2\)/,
    );
    writeFileSync(file, 'pools: [ {');
    assert.match((await run(['--config', file])).stderr, /config: \(file\): not valid YAML/);
    assert.match(
      (await run(['--config', join(dir, 'missing.yaml')])).stderr,
      /config: \(file\): cannot read/,
    );
    assert.match(
      (await run(['--listen', 'nonsense'])).stderr,
      /config: listen: expected HOST:PORT/,
    );
    assert.match((await run(['--bogus'])).stderr, /Unknown option '--bogus'/);
    writeFileSync(
      file,
      'pools:\n  - name: duel\n    teams: { count: 2, size: 1 }\n    matchFunction: ./nope.mjs\n',
    );
    assert.match(
      (await run(['--config', file, '--check'])).stderr,
      /config: pools\[0\]\.matchFunction: cannot import/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a match function module from config replaces the rule engine for its pool', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gm-mm-'));
  try {
    // Pairs the oldest with the newest: visibly different from the built-in oldest-first engine.
    writeFileSync(
      join(dir, 'ends.mjs'),
      'export default ({ tickets }) => { const out = []; for (let i = 0, j = tickets.length - 1; i < j; i++, j--) out.push({ teams: [[tickets[i].id], [tickets[j].id]] }); return out; };\n',
    );
    writeFileSync(
      join(dir, 'mm.yaml'),
      'pools:\n  - name: duel\n    teams: { count: 2, size: 1 }\n    matchFunction: ./ends.mjs\n',
    );
    const loaded = loadConfigFile(join(dir, 'mm.yaml'));
    assert.ok(loaded.ok);
    if (!loaded.ok) return;
    const functions = await loadMatchFunctions(loaded.config, dir);
    assert.ok(functions.ok);
    if (!functions.ok) return;
    const mm = await startMatchmaker(testConfig({ pools: loaded.config.pools }), {
      matchFunctions: functions.functions,
    });
    const node = await connectNode(mm, { id: 'n', cluster: 'local' }, [pod('p')]);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++)
        ids.push(
          (
            await mm.app.inject({
              method: 'POST',
              url: '/v1/tickets',
              headers: auth,
              payload: { pool: 'duel', players: [{ id: `p${i}` }] },
            })
          ).json().id,
        );
      assert.is((await mm.matchmaker.round('duel')).assignedTickets, 4);
      const match = async (id: string) => (await mm.matchmaker.store.getTicket(id))!.matchId;
      assert.is(await match(ids[0]!), await match(ids[3]!));
      assert.is(await match(ids[1]!), await match(ids[2]!));
      assert.is.not(await match(ids[0]!), await match(ids[1]!));
    } finally {
      node.close();
      await mm.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseConfig: unknown keys, duplicate pools and token/protocol mismatches are reported by path', () => {
  const r = parseConfig({ pools: [{ name: 'a', teams: { count: 1, size: 1 }, colour: 'red' }] });
  assert.ok(!r.ok && r.errors.some((e) => e.path === 'pools[0].colour'), JSON.stringify(r));
  const dup = parseConfig({
    pools: [
      { name: 'a', teams: { count: 1, size: 1 } },
      { name: 'a', teams: { count: 1, size: 1 } },
    ],
  });
  assert.ok(!dup.ok && dup.errors[0]!.path === 'pools[1].name');
  const nc = parseConfig({
    pools: [{ name: 'a', teams: { count: 1, size: 1 }, token: 'netcode' }],
  });
  assert.ok(!nc.ok && nc.errors[0]!.problem.includes('tokens.netcode'));
  const key = parseConfig({
    pools: [{ name: 'a', teams: { count: 1, size: 1 }, token: 'protocol-key' }],
  });
  assert.ok(!key.ok && key.errors[0]!.path === 'pools[0].token');
});

test.run();
