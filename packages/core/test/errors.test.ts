import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLASSIFICATION_REASONS, CLOSE_REASONS, CORE_ERRORS, coreError } from '../src/index.js';
import { repoFile } from './paths.js';

const doc = readFileSync(repoFile('docs/errors.md'), 'utf8');

test('every core error code is documented in docs/errors.md', () => {
  for (const code of Object.keys(CORE_ERRORS))
    assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
});

test('every close reason and classification outcome is documented', () => {
  for (const code of [...Object.keys(CLOSE_REASONS), ...Object.keys(CLASSIFICATION_REASONS)]) {
    assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
  }
});

test('errors carry their code in the message and as a property', () => {
  const error = coreError('GM_CORE_UNKNOWN_PROTOCOL', 'rtp', { name: 'rtp' });
  assert.is(error.code, 'GM_CORE_UNKNOWN_PROTOCOL');
  assert.match(error.message, /^GM_CORE_UNKNOWN_PROTOCOL: .*rtp$/);
  assert.equal(error.context, { name: 'rtp' });
});

test.run();
