/**
 * The Redis store's failure modes: an unreachable Redis at start is a clear
 * error with a stable code; Redis going away at run time makes /readyz and
 * store-backed requests answer 503 instead of crashing, and the matchmaker
 * recovers (scripts reloaded by the EVALSHA fallback) when Redis is back.
 */
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/cli.js';
import { parseConfig } from '../src/config.js';
import { RedisStore, StoreUnavailableError } from '../src/store/redis.js';
import { API_KEY, startMatchmaker, testConfig, until } from './support/harness.js';
import { withRedisServer } from './support/redis-server.js';

async function runCli(argv: string[]) {
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  const result = await main(argv, {
    stdout: sink(() => undefined),
    stderr: sink((text) => {
      stderr += text;
    }),
    env: { GAMEMESH_MM_API_KEY: API_KEY },
  });
  return { result, stderr };
}

test('store URLs are validated with the config path', () => {
  for (const store of ['redis://', 'redis://h:99999/0', 'redis://h:6379/x', 'redis://h/0?tls=1']) {
    const parsed = parseConfig({ store });
    assert.not.ok(parsed.ok, store);
    if (!parsed.ok) assert.is(parsed.errors[0]?.path, 'store', store);
  }
  for (const store of ['redis://127.0.0.1:6379/0', 'redis://h', 'rediss://u:p@h:1/3'])
    assert.ok(parseConfig({ store }).ok, store);
});

test('an unreachable Redis at start: GM_MM_STORE_UNAVAILABLE and exit 1 from the CLI', async () => {
  // A port of a stopped server: nothing listens there any more.
  const url = await withRedisServer(async (server) => server.url);
  let thrown: unknown;
  try {
    await RedisStore.connect(url, { connectTimeoutMs: 1000 });
  } catch (error) {
    thrown = error;
  }
  assert.instance(thrown, StoreUnavailableError);
  assert.is((thrown as StoreUnavailableError).code, 'GM_MM_STORE_UNAVAILABLE');
  const started = Date.now();
  const { result, stderr } = await runCli(['--store', url, '--listen', '127.0.0.1:0']);
  assert.is(result, 1);
  assert.match(stderr, /GM_MM_STORE_UNAVAILABLE: cannot reach redis:\/\/127\.0\.0\.1:\d+\/0/);
  assert.ok(Date.now() - started < 3000, 'fails at once, no endless retry');
});

test('the CLI serves on a real Redis: readyz names the store', () =>
  withRedisServer(async (server) => {
    const { result, stderr } = await runCli([
      '--store',
      server.url,
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'silent',
    ]);
    assert.ok(typeof result === 'object', stderr);
    if (typeof result !== 'object') return;
    try {
      const ready = await fetch(`http://${result.address}/readyz`);
      assert.equal(await ready.json(), { ok: true, store: 'redis' });
    } finally {
      await result.close();
    }
  }));

test('Redis going away at run time: readyz and requests answer 503, nothing crashes, and it recovers', () =>
  withRedisServer(async (server) => {
    const mm = await startMatchmaker(
      testConfig({ pools: [{ name: 'duel', teams: { count: 2, size: 1 } }] }),
      { store: await RedisStore.connect(server.url, { prefix: 'gm:outage:' }) },
    );
    try {
      const base = `http://127.0.0.1:${mm.port}`;
      const post = () =>
        fetch(`${base}/v1/tickets`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
          body: JSON.stringify({ pool: 'duel', players: [{ id: 'a' }] }),
        });
      assert.is((await fetch(`${base}/readyz`)).status, 200);
      assert.is((await post()).status, 201);

      await server.stop();
      await until(async () => (await fetch(`${base}/readyz`)).status === 503, 3000, 'not ready');
      const body = (await (await fetch(`${base}/readyz`)).json()) as { error: { code: string } };
      assert.is(body.error.code, 'GM_MM_NOT_READY');
      const refused = await post();
      assert.is(refused.status, 503);
      assert.is(
        ((await refused.json()) as { error: { code: string } }).error.code,
        'GM_MM_STORE_UNAVAILABLE',
      );
      let roundError: unknown;
      await mm.matchmaker.round('duel').catch((error: unknown) => {
        roundError = error;
      });
      assert.instance(
        roundError,
        StoreUnavailableError,
        'a round fails as a value the timer drops',
      );
      assert.is((await fetch(`${base}/livez`)).status, 200, 'the process is alive');

      // Back, empty (no persistence) and without the scripts: EVALSHA falls back to EVAL.
      await server.restart();
      await until(async () => (await fetch(`${base}/readyz`)).status === 200, 5000, 'ready again');
      assert.is((await post()).status, 201);
    } finally {
      await mm.close();
    }
  }));

test.run();
