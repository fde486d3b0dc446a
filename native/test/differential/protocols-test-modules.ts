import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRootNamed } from './support.js';

/**
 * Loads a module of packages/protocols/test (the real-peer helpers and
 * vectors each protocol's tests use), so the differential tests drive the
 * same real peers instead of copies of them. That package compiles its tests
 * to dist/test but does not export them, so the file is imported by path:
 * the TypeScript source when this file itself runs from source (tsx), else
 * the compiled JavaScript. Callers type the result with
 * `typeof import('<relative path to the source>')`, which is erased.
 */
export async function importProtocolsTestModule<T>(modulePath: string): Promise<T> {
  const root = packageRootNamed('@gamemesh/protocols');
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fromSource
    ? join(root, 'test', `${modulePath}.ts`)
    : join(root, 'dist', 'test', `${modulePath}.js`);
  return (await import(pathToFileURL(file).href)) as T;
}
