import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FLOW_DROP_REASONS } from '../src/decide.js';
import { PROXY_ERRORS } from '../src/errors.js';
import { classifySource } from '../src/source-address.js';
import { repoRoot } from './support/sibling-tests.js';

const doc = readFileSync(join(repoRoot(), 'docs/proxy.md'), 'utf8');

test('every GM_PROXY_* error code is documented in docs/proxy.md', () => {
  for (const code of Object.keys(PROXY_ERRORS)) {
    assert.match(code, /^GM_PROXY_[A-Z_]+$/);
    assert.ok(
      doc.split('\n').some((line) => line.startsWith('|') && line.includes(`\`${code}\``)),
      `${code} is not in the error table`,
    );
  }
});

test('every drop reason decided by the proxy is documented', () => {
  for (const reason of Object.keys(FLOW_DROP_REASONS))
    assert.ok(doc.includes(`\`${reason}\``), `${reason} is not documented`);
});

test('source classes: loopback, multicast, broadcast, unspecified, v4-mapped', () => {
  assert.is(classifySource('127.0.0.1'), 'loopback');
  assert.is(classifySource('127.9.9.9'), 'loopback');
  assert.is(classifySource('::1'), 'loopback');
  assert.is(classifySource('::ffff:127.0.0.1'), 'loopback');
  assert.is(classifySource('224.0.0.1'), 'multicast');
  assert.is(classifySource('239.255.255.250'), 'multicast');
  assert.is(classifySource('ff02::1'), 'multicast');
  assert.is(classifySource('255.255.255.255'), 'broadcast');
  assert.is(classifySource('0.0.0.0'), 'unspecified');
  assert.is(classifySource('203.0.113.7'), 'ordinary');
  assert.is(classifySource('2001:db8::1'), 'ordinary');
});

test.run();
