import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Tests run from `test/` under tsx and from `dist/test/` once built, so paths
 * are resolved by walking up to the repository root (the folder holding
 * turbo.json), never relative to the test file.
 */
export function repoFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'turbo.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return join(dir, relative);
}
