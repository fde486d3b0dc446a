import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../inspect/helpers/paths.js';

/**
 * Runs the BUILT `gamemesh-inspect` (bin/gamemesh-inspect.js over dist/) as a
 * child process, the way a user runs it, and parses its `--json` output.
 */

export interface FlowLine {
  readonly src: string;
  readonly dst: string;
  readonly protocol: string;
  readonly variant: string | null;
  readonly key: string | null;
  readonly packets: { readonly forward: number; readonly reverse: number };
  readonly opened: {
    readonly key: string | null;
    readonly detail: Readonly<Record<string, unknown>>;
  } | null;
  readonly closed: { readonly reason: string } | null;
  readonly stats: Readonly<Record<string, unknown>> | null;
  readonly reason: string;
  readonly verdicts: Readonly<Record<string, string>> | null;
  readonly faults: readonly string[];
}

export interface InspectRun {
  readonly code: number | null;
  readonly flows: FlowLine[];
  readonly stdout: string;
  readonly stderr: string;
}

export const PACKAGE_ROOT = packageRoot();
export const REPO_ROOT = join(PACKAGE_ROOT, '..', '..');
const BIN = join(PACKAGE_ROOT, 'bin', 'gamemesh-inspect.js');

export function cliBuilt(): boolean {
  return existsSync(join(PACKAGE_ROOT, 'dist', 'src', 'inspect', 'cli.js'));
}

const TIMEOUT_MS = 120_000;

/** `args` are passed as given (add `--json` for `flows`); the working directory is the repository root. */
export async function runInspect(args: readonly string[]): Promise<InspectRun> {
  if (!cliBuilt())
    throw new Error(`gamemesh-inspect is not built: run \`npx tsc -b ${dirname(BIN)}/..\` first`);
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`gamemesh-inspect ${args.join(' ')} timed out`)),
        TIMEOUT_MS,
      );
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    const flows = args.includes('--json')
      ? stdout
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as FlowLine)
      : [];
    return { code, flows, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}
