import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INSPECT_ERRORS, SKIP_REASONS } from '../../src/inspect/errors.js';
import { PENDING_REASON } from '../../src/inspect/report.js';
import { packageRoot } from './helpers/paths.js';

// The error table is the contract scripts rely on: every code is documented.

test('every inspect error code, skip reason and report reason is in docs/inspect.md', async () => {
  const doc = await readFile(join(packageRoot(), '..', '..', 'docs', 'inspect.md'), 'utf8');
  for (const code of Object.keys(INSPECT_ERRORS))
    assert.ok(doc.includes(`\`${code}\``), `${code} documented`);
  for (const reason of Object.keys(SKIP_REASONS))
    assert.ok(doc.includes(`\`${reason}\``), `${reason} documented`);
  assert.ok(doc.includes(`\`${PENDING_REASON}\``));
});

test.run();
