import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, type Protocol, type Registry } from '@gamemesh/core';
import { parseArgs, USAGE } from './args.js';
import { errorMessage, formatInspectError, type InspectError, inspectError } from './errors.js';
import type { FaultReport } from './flows.js';
import { inspectFile } from './inspect.js';
import { loadPlugins } from './plugins.js';
import { flowJson, flowTable, summaryJson, summaryText } from './report.js';

/**
 * `gamemesh-inspect <capture>`: the CLI entry. `main` returns the exit code
 * and writes only to the streams it is given, so tests drive it in-process.
 */

export interface Output {
  write(text: string): unknown;
}

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
}

/** Built-in protocols for a config; injected by tests, the real ones otherwise. */
export type BuiltinSource = (config: {
  netcode?: { privateKey: string };
}) => Protocol[] | Promise<Protocol[]>;

export interface CliDependencies {
  readonly builtins?: BuiltinSource;
  readonly cwd?: string;
}

export const EXIT = { ok: 0, usage: 1, capture: 2, plugin: 3 } as const;

const loadBuiltins: BuiltinSource = async (config) => {
  const { builtinProtocols } = await import('../index.js');
  return builtinProtocols(config);
};

export async function main(
  argv: readonly string[],
  io: CliIo,
  deps: CliDependencies = {},
): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.stderr.write(
      `${formatInspectError(inspectError('GM_INSPECT_USAGE', parsed.problem))}\n\n${USAGE}`,
    );
    return EXIT.usage;
  }
  const options = parsed.options;
  if (options.help) {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (options.version) {
    io.stdout.write(`gamemesh-inspect ${packageVersion()}\n`);
    return EXIT.ok;
  }

  const registry = await buildRegistry(options.plugins, options.netcodeKey, deps, io);
  if ('code' in registry) {
    io.stderr.write(`${formatInspectError(registry)}\n`);
    return EXIT.usage;
  }
  let pluginTrouble = registry.pluginFailures > 0;

  const reported = new Set<string>();
  const onFault = ({ fault, flow }: FaultReport): void => {
    pluginTrouble = true;
    const once = `${fault.protocol}/${fault.stage}`;
    if (reported.has(once)) return;
    reported.add(once);
    const message = errorMessage(fault.error);
    const where = flow === null ? '' : ` (first on flow ${flow.src} -> ${flow.dst})`;
    io.stderr.write(
      `${formatInspectError(inspectError('GM_INSPECT_PLUGIN_FAULT', `protocol ${fault.protocol} threw in ${fault.stage}: ${message}${where}; isolated`))}\n`,
    );
  };

  const result = await inspectFile(options.capture!, {
    registry: registry.registry,
    window: options.window ?? undefined,
    udpPort: options.udpPort,
    onFault,
  });
  const flows = result.flows.map(flowJson);
  if (options.json) {
    for (const flow of flows) io.stdout.write(`${JSON.stringify(flow)}\n`);
  } else {
    io.stdout.write(flowTable(flows));
  }
  const summary = summaryJson(result, flows);
  if (result.capture.error !== null)
    io.stderr.write(`${formatInspectError(result.capture.error)}\n`);
  io.stderr.write(options.json ? `${JSON.stringify({ summary })}\n` : summaryText(summary));
  if (result.capture.error !== null) return EXIT.capture;
  return pluginTrouble ? EXIT.plugin : EXIT.ok;
}

interface BuiltRegistry {
  readonly registry: Registry;
  readonly pluginFailures: number;
}

async function buildRegistry(
  plugins: readonly string[],
  netcodeKey: string | null,
  deps: CliDependencies,
  io: CliIo,
): Promise<BuiltRegistry | InspectError> {
  let builtins: Protocol[];
  try {
    builtins = await (deps.builtins ?? loadBuiltins)(
      netcodeKey === null ? {} : { netcode: { privateKey: netcodeKey } },
    );
  } catch (error) {
    // A bad --netcode-key is rejected by the netcode config parser.
    return inspectError(
      'GM_INSPECT_USAGE',
      `built-in protocols rejected the options: ${errorMessage(error)}`,
    );
  }
  const { loaded, failures } = await loadPlugins(plugins, deps.cwd ?? process.cwd());
  for (const failure of failures) io.stderr.write(`${formatInspectError(failure)}\n`);
  const names = new Map<string, string>(builtins.map((p) => [p.name, 'built-in']));
  for (const { spec, protocol } of loaded) {
    const owner = names.get(protocol.name);
    if (owner !== undefined) {
      return inspectError(
        'GM_INSPECT_DUPLICATE_PROTOCOL',
        `plugin ${spec} defines protocol ${protocol.name}, already defined by ${owner}`,
      );
    }
    names.set(protocol.name, `plugin ${spec}`);
  }
  // Order is classification priority: built-ins first, then plugins as given.
  const registry = createRegistry({ protocols: [...builtins, ...loaded.map((p) => p.protocol)] });
  return { registry, pluginFailures: failures.length };
}

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === '@gamemesh/protocols' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
