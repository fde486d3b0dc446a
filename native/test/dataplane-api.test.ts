import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  COUNTER_NAMES,
  createDataPlane,
  type DataPlaneOptions,
  NATIVE_ERRORS,
  nativeBinding,
  SESSION_FIELDS,
} from '../ts/index.js';

/** The API's contract at its edges: coded errors for bad input, documented codes, the memory layout. */

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

function code(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

test('every error code is documented in docs/native.md', () => {
  const docs = readFileSync(join(packageRoot(), '..', 'docs', 'native.md'), 'utf8');
  for (const name of Object.keys(NATIVE_ERRORS))
    assert.ok(docs.includes(`\`${name}\``), `${name} is documented`);
});

test('a flow table entry is at most 256 bytes; TS and C agree on the shared layout', () => {
  const constants = nativeBinding().constants;
  console.log(`flow table entry: ${constants.flowEntryBytes} bytes`);
  assert.ok(constants.flowEntryBytes <= 256, `${constants.flowEntryBytes} bytes`);
  assert.is(constants.sessionStatsOffset + constants.statsMax, constants.sessionWords);
  assert.equal({ ...constants.sessionFields }, { ...SESSION_FIELDS });
  assert.equal([...constants.counterNames], [...COUNTER_NAMES]);
  assert.ok(
    constants.counterStride % 8 === 0 && constants.counterStride >= constants.counterNames.length,
  );
  for (const proto of ['raknet', 'kcp', 'netcode', 'rtp', 'rtcp']) {
    assert.ok((constants.statNames[proto]?.length ?? 0) > 0, `${proto} names its stats`);
  }
});

test('bad options give GM_NATIVE_INVALID_OPTION', () => {
  const bad: unknown[] = [
    { threads: 0 },
    { threads: 65 },
    { threads: 1.5 },
    { maxSessions: 0 },
    { batchSize: 65 },
    { maxDatagramBytes: 10 },
    { idleTimeoutMs: -1 },
    { sourceBudget: { burst: 0 } },
    { sourceBudget: 'x' },
    { newFlowQueue: 'many' },
    'not an object',
  ];
  for (const options of bad) {
    assert.is(
      code(() => createDataPlane(options as DataPlaneOptions)),
      'GM_NATIVE_INVALID_OPTION',
      JSON.stringify(options),
    );
  }
});

test('bad arguments to every method give a coded error, never a crash', () => {
  const dp = createDataPlane({ maxSessions: 16 });
  try {
    const listener = dp.addListener({ address: '127.0.0.1', mode: 'key' });
    const upstream = { address: '127.0.0.1', port: 9 };
    const cases: [string, () => unknown, string][] = [
      [
        'listener address',
        () => dp.addListener({ address: 'localhost', mode: 'key' }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'listener port',
        () => dp.addListener({ address: '127.0.0.1', port: 70000, mode: 'key' }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'mode',
        () => dp.addListener({ address: '127.0.0.1', mode: 'nope' as 'key' }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'port mode without upstream',
        () => dp.addListener({ address: '127.0.0.1', mode: 'port' }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'fixed protocol in key mode',
        () => dp.addListener({ address: '127.0.0.1', mode: 'key', protocol: 'rtp' }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'unknown protocol',
        () =>
          dp.addListener({
            address: '127.0.0.1',
            mode: 'port',
            upstream,
            protocol: 'quic' as 'rtp',
          }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'tracker variant',
        () =>
          dp.addListener({
            address: '127.0.0.1',
            mode: 'port',
            upstream,
            protocol: 'kcp',
            tracker: { variant: 300 },
          }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'port in use',
        () => dp.addListener({ address: '127.0.0.1', port: listener.port, mode: 'key' }),
        'GM_NATIVE_SOCKET',
      ],
      [
        'address not local',
        () => dp.addListener({ address: '192.0.2.1', mode: 'key' }),
        'GM_NATIVE_SOCKET',
      ],
      ['setUpstream listener', () => dp.setUpstream(99, upstream), 'GM_NATIVE_UNKNOWN_LISTENER'],
      [
        'setUpstream endpoint',
        () => dp.setUpstream(listener.id, { address: '::1', port: 0 }),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'installRoute listener',
        () => dp.installRoute(5, 'k', upstream),
        'GM_NATIVE_UNKNOWN_LISTENER',
      ],
      [
        'installRoute key',
        () => dp.installRoute(listener.id, '', upstream),
        'GM_NATIVE_INVALID_ARGUMENT',
      ],
      [
        'answer unknown flow',
        () => dp.answer('0:0:1', { protocol: 'none', upstream }),
        'GM_NATIVE_UNKNOWN_FLOW',
      ],
      [
        'answer garbage',
        () => dp.answer(42 as unknown as string, { drop: true }),
        'GM_NATIVE_UNKNOWN_FLOW',
      ],
      ['session slot', () => dp.session(16), 'GM_NATIVE_INVALID_ARGUMENT'],
      ['session slot type', () => dp.session(Number.NaN), 'GM_NATIVE_INVALID_ARGUMENT'],
      ['thread counters', () => dp.threadCounters(1), 'GM_NATIVE_INVALID_ARGUMENT'],
    ];
    for (const [name, call, expected] of cases) assert.is(code(call), expected, name);
  } finally {
    dp.close();
  }
  assert.is(
    code(() => dp.addListener({ address: '127.0.0.1', mode: 'key' })),
    'GM_NATIVE_CLOSED',
  );
  assert.is(
    code(() => dp.installRoute(0, 'k', { address: '127.0.0.1', port: 1 })),
    'GM_NATIVE_CLOSED',
  );
  assert.is(
    code(() => dp.answer('0:0:1', { drop: true })),
    'GM_NATIVE_CLOSED',
  );
});

test('the raw binding rejects bad handles and arguments with codes too', () => {
  const raw = nativeBinding();
  const notAHandle = {} as Parameters<typeof raw.close>[0];
  assert.is(
    code(() => raw.close(notAHandle)),
    'GM_NATIVE_INVALID_ARGUMENT',
  );
  assert.is(
    code(() => raw.drop(notAHandle, 0, 0, 0)),
    'GM_NATIVE_INVALID_ARGUMENT',
  );
  const created = raw.create(
    {
      threads: 1,
      maxSessions: 4,
      queueCapacity: 4,
      eventCapacity: 4,
      idleMs: 1000,
      pendingMs: 1000,
      sweepMs: 100,
      batch: 8,
      maxDatagram: 2048,
      pendingWindow: 4,
      sourceBurst: 4,
      sourceRate: 4,
      flowBurst: 16,
      flowRate: 100,
      gso: 1,
    },
    () => {},
  );
  try {
    const h = created.handle;
    assert.is(
      code(() => raw.addListener(h, 5, '127.0.0.1', 0, 1, 255, 0, '', 0, 0, 0, 0, 0)),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.is(
      code(() => raw.addListener(h, 4, 'nonsense', 0, 1, 255, 0, '', 0, 0, 0, 0, 0)),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.is(
      code(() => raw.answer(h, 9, 0, 0, 0, 0, 0, 0, 4, '127.0.0.1', 1, [], new Uint8Array(0))),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.is(
      code(() => raw.answer(h, 0, 0, 0, 9, 0, 0, 0, 4, '127.0.0.1', 1, [], new Uint8Array(0))),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.is(
      code(() =>
        raw.answer(
          h,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          4,
          '127.0.0.1',
          1,
          [{ data: 'x', at: 0 }] as never,
          new Uint8Array(0),
        ),
      ),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    assert.is(
      code(() => raw.setUpstream(h, 3, 4, '127.0.0.1', 1)),
      'GM_NATIVE_UNKNOWN_LISTENER',
    );
    assert.is(
      code(() => (raw.create as (...a: unknown[]) => unknown)({}, () => {})),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
  } finally {
    raw.close(created.handle);
  }
  assert.equal(raw.close(created.handle), []);
  assert.is(
    code(() => raw.drop(created.handle, 0, 0, 0)),
    'GM_NATIVE_CLOSED',
  );
});

test.run();
