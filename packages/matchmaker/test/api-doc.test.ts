import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/** The package root, whether this runs from test/ or from dist/test/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the test');
    dir = parent;
  }
  return dir;
}

test('docs/matchmaker-api.md is the reference generated from the OpenAPI document', () => {
  const root = packageRoot();
  const generated = spawnSync('node', [join(root, 'scripts', 'api-doc.mjs'), '--stdout'], {
    encoding: 'utf8',
  });
  assert.is(generated.status, 0, generated.stderr);
  assert.ok(generated.stdout.includes('### POST `/v1/tickets`'));
  assert.ok(generated.stdout.includes('| `GM_MM_TICKET_NOT_FOUND` | 404 |'));
  const committed = readFileSync(join(root, '..', '..', 'docs', 'matchmaker-api.md'), 'utf8');
  assert.ok(
    committed === generated.stdout,
    'docs/matchmaker-api.md is stale: run node packages/matchmaker/scripts/api-doc.mjs',
  );
});

test.run();
