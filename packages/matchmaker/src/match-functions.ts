import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MatchmakerConfig } from './config.js';
import type { MatchFunction } from './domain/rules.js';

export type LoadedMatchFunctions =
  | { readonly ok: true; readonly functions: Map<string, MatchFunction> }
  | { readonly ok: false; readonly path: string; readonly problem: string };

/**
 * Imports each pool's `matchFunction` module (its default export, or a named
 * `matchFunction`). Relative paths resolve against the config file's folder.
 */
export async function loadMatchFunctions(
  config: MatchmakerConfig,
  baseDir: string,
): Promise<LoadedMatchFunctions> {
  const functions = new Map<string, MatchFunction>();
  for (const [i, pool] of config.pools.entries()) {
    if (pool.matchFunction === undefined) continue;
    const file = isAbsolute(pool.matchFunction)
      ? pool.matchFunction
      : resolve(baseDir, pool.matchFunction);
    const path = `pools[${i}].matchFunction`;
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      return { ok: false, path, problem: `cannot import ${file}: ${String(error)}` };
    }
    const candidate = module.default ?? module.matchFunction;
    if (typeof candidate !== 'function')
      return { ok: false, path, problem: `${file} exports no function (default or matchFunction)` };
    functions.set(pool.name, candidate as MatchFunction);
  }
  return { ok: true, functions };
}
