import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Loads a test module of a sibling package (the real-peer helpers of
 * native/test and packages/protocols/test), so the proxy's tests drive the
 * same real peers instead of copies. Those packages compile their tests to
 * dist/test without exporting them, so the file is imported by path: the
 * TypeScript source when this file runs from source (tsx), else the compiled
 * JavaScript. Callers type the result with `typeof import('<source path>')`.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'turbo.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

export async function importSiblingTest<T>(
  packageDir: 'native' | 'packages/protocols',
  modulePath: string,
): Promise<T> {
  const root = join(repoRoot(), packageDir);
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fromSource
    ? join(root, 'test', `${modulePath}.ts`)
    : join(root, 'dist', 'test', `${modulePath}.js`);
  return (await import(pathToFileURL(file).href)) as T;
}
