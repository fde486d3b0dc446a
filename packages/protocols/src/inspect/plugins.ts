import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isProtocol, type Protocol } from '@gamemesh/core';
import { errorMessage, type InspectError, inspectError } from './errors.js';

/**
 * `--plugin <module>`: a path or package name whose default export (or a
 * named `protocol` / `factory` export) is a ProtocolFactory or a Protocol.
 * A plugin that fails to import or create is reported and left out; the
 * capture is still inspected with the others.
 */

export interface LoadedPlugin {
  readonly spec: string;
  readonly protocol: Protocol;
}

export interface PluginLoadResult {
  readonly loaded: LoadedPlugin[];
  readonly failures: InspectError[];
}

export type ModuleImporter = (url: string) => Promise<Record<string, unknown>>;

const defaultImporter: ModuleImporter = (url) => import(url) as Promise<Record<string, unknown>>;

export async function loadPlugins(
  specs: readonly string[],
  cwd: string,
  importer: ModuleImporter = defaultImporter,
): Promise<PluginLoadResult> {
  const loaded: LoadedPlugin[] = [];
  const failures: InspectError[] = [];
  for (const spec of specs) {
    let module: Record<string, unknown>;
    try {
      module = await importer(resolveSpecifier(spec, cwd));
    } catch (error) {
      failures.push(
        inspectError(
          'GM_INSPECT_PLUGIN_LOAD',
          `plugin ${spec}: import failed: ${errorMessage(error)}`,
        ),
      );
      continue;
    }
    const result = protocolFrom(spec, module);
    if ('code' in result) failures.push(result);
    else loaded.push({ spec, protocol: result });
  }
  return { loaded, failures };
}

function resolveSpecifier(spec: string, cwd: string): string {
  const looksLikePath = spec.startsWith('.') || isAbsolute(spec) || /\.(m|c)?[jt]s$/.test(spec);
  if (looksLikePath || existsSync(resolve(cwd, spec)))
    return pathToFileURL(resolve(cwd, spec)).href;
  // Package names resolve from the working directory, where the user installed them.
  try {
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve(spec)).href;
  } catch {
    return spec;
  }
}

interface FactoryLike {
  readonly name: string;
  create(config?: object): unknown;
}

function isFactory(value: unknown): value is FactoryLike {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.name === 'string' && typeof candidate.create === 'function';
}

function protocolFrom(spec: string, module: Record<string, unknown>): Protocol | InspectError {
  const exported = [module.default, module.protocol, module.factory].find(
    (v) => isProtocol(v) || isFactory(v),
  );
  if (isProtocol(exported)) return exported;
  if (isFactory(exported)) {
    let created: unknown;
    try {
      created = exported.create();
    } catch (error) {
      return inspectError(
        'GM_INSPECT_PLUGIN_CREATE',
        `plugin ${spec}: ${exported.name}.create() threw: ${errorMessage(error)}`,
      );
    }
    if (isProtocol(created)) return created;
    return inspectError(
      'GM_INSPECT_PLUGIN_INVALID',
      `plugin ${spec}: ${exported.name}.create() did not return a Protocol`,
    );
  }
  return inspectError(
    'GM_INSPECT_PLUGIN_INVALID',
    `plugin ${spec}: no default, \`protocol\` or \`factory\` export is a ProtocolFactory or Protocol`,
  );
}
