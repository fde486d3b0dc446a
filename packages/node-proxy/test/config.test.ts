import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HELP, main } from '../src/cli.js';
import { parseConfig } from '../src/config.js';
import { reloadProblems } from '../src/reload.js';
import { repoRoot } from './support/sibling-tests.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, done) {
        text += chunk.toString();
        done();
      },
    }),
    text: () => text,
  };
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const result = await main(argv, { stdout: out.stream, stderr: err.stream });
  if (typeof result !== 'number') {
    await result.close();
    throw new Error('expected an exit code');
  }
  return { code: result, out: out.text(), err: err.text() };
}

test('--help documents every flag the parser accepts', async () => {
  const { code, out } = await run(['--help']);
  assert.is(code, 0);
  for (const flag of [
    '--listen',
    '--to',
    '--admin',
    '--config',
    '--allow-loopback',
    '--unknown',
    '--log-level',
    '--check',
    '--help',
  ])
    assert.ok(out.includes(flag), `${flag} is not in --help`);
  assert.is(out, HELP);
});

test('quick start flags make one port-mode listener; the admin API defaults to localhost', async () => {
  const { code, out } = await run(['--listen', '0.0.0.0:7777', '--to', '10.0.0.5:7777', '--check']);
  assert.is(code, 0);
  const config = JSON.parse(out);
  assert.is(config.admin, '127.0.0.1:9090');
  assert.equal(config.listeners, [
    {
      name: 'default',
      address: '0.0.0.0:7777',
      mode: 'port',
      upstream: '10.0.0.5:7777',
      public: true,
      allowLoopbackSources: false,
    },
  ]);
});

test('an unknown flag is a usage error (exit 2, GM_PROXY_USAGE)', async () => {
  const { code, err } = await run(['--frobnicate']);
  assert.is(code, 2);
  assert.match(err, /GM_PROXY_USAGE/);
});

test('config errors name the path and the problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-'));
  try {
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        '  - { name: game, address: "0.0.0.0:7777", mode: port }',
        '  - { name: keyed, address: "0.0.0.0:7778", mode: key, upstream: "nowhere:1" }',
        'routes: [ { key: "12", pod: ghost } ]',
        'protocols: { netcode: { privateKey: "abc" } }',
      ].join('\n'),
    );
    const { code, err } = await run(['--config', file]);
    assert.is(code, 2);
    assert.match(err, /GM_PROXY_CONFIG\n/);
    assert.match(err, /config: listeners\[0\]\.upstream: a port-mode listener needs an upstream/);
    assert.match(err, /config: listeners\[1\]\.upstream: "nowhere" is not an IP address/);
    assert.match(err, /config: routes\[0\]\.pod: no pod "ghost" in pods/);
    assert.match(err, /config: protocols\.netcode\.privateKey: must be 64 hex characters/);

    writeFileSync(file, 'listeners: [ { name: game, address: 1, mode: sideways } ]\nextra: 1\n');
    const schema = await run(['--config', file]);
    assert.is(schema.code, 2);
    assert.match(schema.err, /config: listeners\[0\]\.address: Expected string/);
    assert.match(schema.err, /config: listeners\[0\]\.mode: /);
    assert.match(schema.err, /config: extra: /);

    writeFileSync(file, 'listeners: [ {\n');
    const yaml = await run(['--config', file]);
    assert.is(yaml.code, 2);
    assert.match(yaml.err, /GM_PROXY_CONFIG_READ\nconfig: \(file\): not valid YAML/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty config is refused: a proxy needs a listener', () => {
  const result = parseConfig({});
  assert.is(result.ok, false);
  if (!result.ok) assert.equal(result.errors[0]?.path, 'listeners');
});

test('a listener that cannot bind is GM_PROXY_LISTEN, exit 1', async () => {
  const { code, err } = await run(['--listen', '192.0.2.1:7777', '--to', '127.0.0.1:9']);
  assert.is(code, 1);
  assert.match(err, /GM_PROXY_LISTEN: listener default on 192\.0\.2\.1:7777/);
});

test('the sample config in examples/ is valid', async () => {
  const file = join(repoRoot(), 'packages/node-proxy/examples/proxy.yaml');
  const { code, out } = await run(['--config', file, '--check']);
  assert.is(code, 0);
  const effective = JSON.parse(out);
  assert.is(effective.listeners.length, 3);
  assert.is(effective.matchmaker.reconnectMs, 1000, 'link defaults filled in');
});

test('matchmaker link config: each problem names its path; changing it needs a restart', () => {
  const base = {
    listeners: [{ name: 'keyed', address: '0.0.0.0:7778', mode: 'key' }],
    matchmaker: {
      url: 'ws://127.0.0.1:8080/v1/link',
      secret: 'a-link-secret-of-16+',
      cluster: 'eu-1',
      publicAddress: '203.0.113.7:7778',
    },
  };
  const good = parseConfig(base);
  assert.ok(good.ok);
  const bad = parseConfig({
    ...base,
    matchmaker: { ...base.matchmaker, url: 'http://x', secret: 'short', publicAddress: 'nope' },
  });
  assert.ok(!bad.ok);
  const paths = bad.errors.map((e) => e.path);
  assert.ok(paths.includes('matchmaker.url'), paths.join());
  assert.ok(paths.includes('matchmaker.secret'), paths.join());
  const badAddress = parseConfig({
    ...base,
    matchmaker: { ...base.matchmaker, publicAddress: 'nope' },
  });
  assert.ok(!badAddress.ok && badAddress.errors[0]?.path === 'matchmaker.publicAddress');
  const moved = parseConfig({ ...base, matchmaker: { ...base.matchmaker, cluster: 'eu-2' } });
  assert.ok(good.ok && moved.ok);
  assert.equal(reloadProblems(good.config, moved.config), ['matchmaker: needs a restart']);
});

test.run();
