import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRegistry,
  defineProtocol,
  GamemeshError,
  isProtocol,
  parseShallowConfig,
} from '../src/index.js';
import { prefixProtocol } from './toy-protocols.js';

test('duplicates are rejected with a stable code', () => {
  const first = prefixProtocol('same', 1).create();
  const second = prefixProtocol('same', 2).create();
  try {
    createRegistry({ protocols: [first, second] });
    assert.unreachable('duplicate accepted');
  } catch (error) {
    assert.instance(error, GamemeshError);
    assert.is((error as GamemeshError).code, 'GM_CORE_DUPLICATE_PROTOCOL');
  }
});

test('a value that is not a protocol is rejected', () => {
  const bogus = { name: 'x', version: '1' } as unknown as ReturnType<
    ReturnType<typeof prefixProtocol>['create']
  >;
  assert.throws(() => createRegistry({ protocols: [bogus] }), /GM_CORE_INVALID_PROTOCOL/);
  assert.not.ok(isProtocol(null));
});

test('registries are independent: building one registers nothing globally', () => {
  const a = createRegistry({ protocols: [prefixProtocol('a', 1).create()] });
  const b = createRegistry({ protocols: [] });
  assert.ok(a.get('a'));
  assert.is(b.get('a'), undefined);
  assert.is(b.protocols.length, 0);
});

test('protocol names are validated at definition time', () => {
  for (const name of ['', 'Upper', '9lives', 'x'.repeat(40), 'sp ace']) {
    assert.throws(
      () =>
        defineProtocol({
          name,
          version: '1',
          reasons: {},
          defaults: {},
          build: () => prefixProtocol('t', 1).create(),
        }),
      /GM_CORE_INVALID_PROTOCOL/,
    );
  }
});

test('a protocol carries its versioned name, family and frozen config', () => {
  const protocol = prefixProtocol('alpha', 0x41).create({ closeByte: 7 });
  assert.is(protocol.name, 'alpha');
  assert.is(protocol.version, '1.0.0');
  assert.is(protocol.family, 'alpha');
  assert.equal(protocol.config, { closeByte: 7 });
  assert.ok(Object.isFrozen(protocol.config));
});

test('typed config: create() throws GM_CORE_INVALID_CONFIG, parse() returns issues', () => {
  const factory = prefixProtocol('alpha', 0x41);
  assert.throws(
    () => factory.create({ closeByte: 'x' as unknown as number }),
    /GM_CORE_INVALID_CONFIG/,
  );
  const parsed = factory.parse({ closeByte: 1, extra: true });
  assert.equal(parsed, { ok: false, issues: [{ path: '/extra', message: 'unknown option' }] });
  const good = factory.parse(undefined);
  assert.ok(good.ok && good.value.config.closeByte === 0xff);
});

test('parseShallowConfig rejects non-objects', () => {
  assert.equal(parseShallowConfig(5, { a: 1 }), {
    ok: false,
    issues: [{ path: '', message: 'must be an object' }],
  });
  assert.equal(parseShallowConfig([], { a: 1 }).ok, false);
});

test.run();
