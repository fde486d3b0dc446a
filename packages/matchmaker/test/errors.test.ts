import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALLOCATION_FAILURES } from '../src/domain/allocation.js';
import { MM_ERRORS } from '../src/errors.js';

function repoFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'turbo.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return join(dir, relative);
}

const doc = readFileSync(repoFile('docs/matchmaker.md'), 'utf8');

test('every GM_MM_* error code is documented with its status in docs/matchmaker.md', () => {
  for (const [code, { status }] of Object.entries(MM_ERRORS)) {
    const row = doc.split('\n').find((line) => line.includes(`\`${code}\``));
    assert.ok(row, `${code} is not documented`);
    assert.ok(row!.includes(String(status)), `${code}: status ${status} missing from its row`);
  }
});

test('every allocation failure reason is documented', () => {
  for (const reason of Object.keys(ALLOCATION_FAILURES))
    assert.ok(doc.includes(`\`${reason}\``), reason);
});

test('codes are unique, prefixed and statuses are 4xx/5xx', () => {
  for (const [code, { status }] of Object.entries(MM_ERRORS)) {
    assert.match(code, /^GM_MM_[A-Z_]+$/);
    assert.ok(status >= 400 && status < 600);
  }
});

test.run();
