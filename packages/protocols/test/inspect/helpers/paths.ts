import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Package root found by walking up from this file, so paths hold both when
 * tests run from TS sources and from the compiled dist/test tree.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the test file');
    dir = parent;
  }
}

export function fixture(name: string): string {
  return join(packageRoot(), 'test', 'fixtures', 'inspect', name);
}

/** True when this test runs from TypeScript sources (tsx), false from dist. */
export function runningFromSources(): boolean {
  return import.meta.url.endsWith('.ts');
}
