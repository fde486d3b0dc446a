import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from './helpers/paths.js';
import { jsonLines, runCli } from './helpers/run-cli.js';
import { captureWith, echoExchange, freePort } from './helpers/tcpdump.js';

// The CLI end to end on a real capture: output formats, exit codes, usage
// errors and plugin isolation. Test protocols stand in for the built-ins.

const bytes = (...values: number[]) => Uint8Array.from(values);
let dir = '';
let capture = '';
let serverPort = 0;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gm-inspect-cli-'));
  capture = join(dir, 'greet.pcap');
  serverPort = await freePort();
  await captureWith(
    { file: capture, filter: `udp and host 127.0.0.1 and port ${serverPort}`, expectedFrames: 10 },
    async () => {
      await echoExchange('udp4', [bytes(0x47, 7, 1), bytes(0x47, 7, 2), bytes(0xff, 7)], {
        serverPort,
      });
      await echoExchange('udp4', [bytes(0x99, 1), bytes(0x99, 2)], { serverPort });
    },
  );
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FIELDS = [
  'src',
  'dst',
  'protocol',
  'variant',
  'key',
  'packets',
  'bytes',
  'opened',
  'closed',
  'stats',
  'reason',
  'firstAt',
  'lastAt',
  'faults',
];

test('--json: one object per flow on stdout, summary on stderr, exit 0', async () => {
  const run = await runCli(['--json', capture]);
  assert.is(run.code, 0, run.stderr);
  const flows = jsonLines(run.stdout);
  assert.is(flows.length, 2);
  for (const flow of flows) for (const field of FIELDS) assert.ok(field in flow, `field ${field}`);
  assert.is(flows[0]!.protocol, 'greet');
  assert.is(flows[0]!.key, '7');
  assert.is(flows[0]!.dst, `127.0.0.1:${serverPort}`);
  assert.equal(flows[0]!.closed, {
    reason: 'protocol_disconnect',
    at: (flows[0]!.closed as { at: number }).at,
  });
  assert.is(flows[1]!.protocol, 'unknown');
  assert.is(flows[1]!.reason, 'no_protocol_matched');
  const summary = jsonLines(run.stderr).at(-1)!.summary as Record<string, unknown>;
  assert.is(summary.datagrams, 10);
  assert.equal(summary.protocols, { greet: 1, unknown: 1 });
});

test('table output: endpoints, protocol/variant, counts, lifecycle, stats', async () => {
  const run = await runCli([capture]);
  assert.is(run.code, 0);
  const lines = run.stdout.trimEnd().split('\n');
  assert.is(lines.length, 3);
  assert.match(
    lines[1]!,
    new RegExp(
      `127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${serverPort}\\s+greet/default\\s+7\\s+3/3\\s+8/8\\s+opened, closed protocol_disconnect\\s+lossRatio=0\\.250 greetings=4`,
    ),
  );
  assert.match(lines[2]!, /unknown \(no_protocol_matched\)/);
  assert.match(run.stderr, /10 UDP datagrams, 2 flows/);
});

test('help, version and usage errors', async () => {
  const help = await runCli(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /Usage: gamemesh-inspect/);
  const version = await runCli(['--version']);
  assert.is(version.code, 0);
  const pkg = JSON.parse(
    await readFile(join(fixture('..'), '..', '..', 'package.json'), 'utf8'),
  ) as { version: string };
  assert.is(version.stdout, `gamemesh-inspect ${pkg.version}\n`);
  for (const argv of [
    ['--bogus', capture],
    [],
    [capture, capture],
    ['--window', '0', capture],
    ['--window'],
    ['--udp-port', '70000', capture],
    ['--netcode-key', 'zz', capture],
    ['--json=yes', capture],
  ]) {
    const run = await runCli(argv);
    assert.is(run.code, 1, argv.join(' '));
    assert.match(run.stderr, /^GM_INSPECT_USAGE: /);
    assert.is(run.stdout, '');
  }
});

test('missing file: GM_INSPECT_OPEN, exit 2', async () => {
  const run = await runCli([join(dir, 'nope.pcap')]);
  assert.is(run.code, 2);
  assert.match(run.stderr, /GM_INSPECT_OPEN: cannot open/);
});

test('truncated capture: error with byte offset, flows read so far still reported, exit 2', async () => {
  const whole = await readFile(capture);
  const cut = join(dir, 'cut.pcap');
  // Keep the file header and the first record, plus 7 bytes of the second record header.
  const firstRecord = 16 + whole.readUInt32LE(24 + 8);
  await writeFile(cut, whole.subarray(0, 24 + firstRecord + 7));
  const run = await runCli(['--json', cut]);
  assert.is(run.code, 2);
  assert.match(
    run.stderr,
    `GM_INSPECT_TRUNCATED at byte ${24 + firstRecord}: record header needs 16 bytes, 7 remain`,
  );
  const flows = jsonLines(run.stdout);
  assert.is(flows.length, 1);
  assert.equal(flows[0]!.packets, { forward: 1, reverse: 0 });
});

test('plugin throwing in probe is isolated: reported on stderr and on the flow, exit 3', async () => {
  const run = await runCli(['--json', '--plugin', fixture('throwing-probe.mjs'), capture]);
  assert.is(run.code, 3);
  assert.match(
    run.stderr,
    /GM_INSPECT_PLUGIN_FAULT: protocol brittle threw in probe: brittle probe exploded/,
  );
  const [greetFlow, other] = jsonLines(run.stdout);
  assert.is(greetFlow!.protocol, 'greet', 'built-ins classify before plugins');
  assert.equal(greetFlow!.faults, []);
  assert.is(other!.protocol, 'unknown');
  assert.equal(other!.faults, ['brittle/probe: brittle probe exploded']);
  assert.is((other!.verdicts as Record<string, string>).brittle, 'plugin_error');
});

test('plugin tracker that throws is detached, the flow closed with plugin_error', async () => {
  const run = await runCli(['--json', '--plugin', fixture('throwing-tracker.mjs'), capture]);
  assert.is(run.code, 3);
  const other = jsonLines(run.stdout)[1]!;
  assert.is(other.protocol, 'shaky');
  assert.is((other.closed as { reason: string }).reason, 'plugin_error');
  assert.equal(other.faults, ['shaky/tracker: shaky tracker gave up']);
  assert.equal(other.packets, { forward: 2, reverse: 2 });
  assert.equal(other.stats, { seen: 2 });
});

test('plugins that fail to import, create or export are reported and skipped', async () => {
  const cases = [
    [
      'throwing-import.mjs',
      /GM_INSPECT_PLUGIN_LOAD: plugin .*throwing-import\.mjs: import failed: plugin module failed at import/,
    ],
    [
      'throwing-create.mjs',
      /GM_INSPECT_PLUGIN_CREATE: plugin .*: broken-factory\.create\(\) threw: cannot create/,
    ],
    ['not-a-protocol.mjs', /GM_INSPECT_PLUGIN_INVALID: plugin .*not-a-protocol\.mjs/],
    ['does-not-exist.mjs', /GM_INSPECT_PLUGIN_LOAD/],
  ] as const;
  for (const [name, pattern] of cases) {
    const run = await runCli(['--json', '--plugin', fixture(name), capture]);
    assert.is(run.code, 3, name);
    assert.match(run.stderr, pattern);
    assert.is(jsonLines(run.stdout).length, 2, 'flows still reported');
  }
});

test('a plugin reusing a protocol name is rejected before reading', async () => {
  const run = await runCli(['--plugin', fixture('duplicate-greet.mjs'), capture]);
  assert.is(run.code, 1);
  assert.match(
    run.stderr,
    /GM_INSPECT_DUPLICATE_PROTOCOL: plugin .*duplicate-greet\.mjs defines protocol greet, already defined by built-in/,
  );
  assert.is(run.stdout, '');
});

test.run();
