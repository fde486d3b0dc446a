/**
 * The machine's context-switch cost, measured once per data-plane run so the
 * latency figures can be read against it: `perf bench sched pipe` pinned to
 * CPU 0 (where the latency phase runs). Each of its operations is a round
 * trip between two processes over a pair of pipes, so two context switches
 * and two wake-ups: the same work a relay adds to a ping-pong round trip
 * (its receive wakes it, the next hop's receive wakes the next process).
 */
import { execFileSync } from 'node:child_process';

export const CONTEXT_SWITCH_LOOPS = 20_000;

export type ContextSwitchCost =
  | {
      readonly measured: true;
      readonly command: string;
      /** µs per pipe round trip (two context switches), as perf prints it. */
      readonly usPerRoundTrip: number;
      readonly roundTripsPerSecond: number;
      readonly totalSeconds: number;
      readonly output: string;
    }
  | { readonly measured: false; readonly command: string; readonly reason: string };

export function measureContextSwitch(): ContextSwitchCost {
  const args = ['-c', '0', 'perf', 'bench', 'sched', 'pipe', '-l', String(CONTEXT_SWITCH_LOOPS)];
  const command = `taskset ${args.join(' ')}`;
  const missing = perfMissing();
  if (missing !== undefined) return { measured: false, command, reason: missing };
  let output: string;
  try {
    output = execFileSync('taskset', args, {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return { measured: false, command, reason: `perf bench failed: ${firstLine(error)}` };
  }
  const usPerRoundTrip = matchNumber(output, /([\d.]+)\s+usecs\/op/);
  if (!Number.isFinite(usPerRoundTrip)) {
    return { measured: false, command, reason: `unrecognised perf output: ${output.trim()}` };
  }
  return {
    measured: true,
    command,
    usPerRoundTrip,
    roundTripsPerSecond: matchNumber(output, /(\d+)\s+ops\/sec/),
    totalSeconds: matchNumber(output, /Total time:\s+([\d.]+)/),
    output: output.trim(),
  };
}

/** Why `perf` cannot run here, or undefined when it can. */
function perfMissing(): string | undefined {
  try {
    // Debian's /usr/bin/perf is a wrapper that fails when no perf matches the running kernel.
    execFileSync('perf', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
    });
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'perf is not installed (apt-get install linux-perf)'
      : `perf does not run here: ${firstLine(error)}`;
  }
}

function matchNumber(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr : String(error);
  return text.trim().split('\n')[0] ?? '';
}
