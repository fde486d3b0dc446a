/**
 * Child processes of the data-plane benchmark: the C tools it builds, the
 * relays under test, and the helpers that read their one-JSON-object-per-line
 * output. Every process started here is tracked so the benchmark can stop
 * all of them on the way out, whatever happened.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type JsonObject = Record<string, unknown>;

export interface Tool {
  readonly name: string;
  readonly pid: number;
  /** Every stdout line so far. */
  readonly lines: readonly string[];
  /** The first JSON line (past or future) that satisfies `predicate`. */
  json(predicate: (line: JsonObject) => boolean, timeoutMs: number): Promise<JsonObject>;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** Writes a line to the process's stdin (started with `stdin: true`). */
  write(line: string): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Tool>();

export interface StartOptions {
  /** Runs the process on these CPUs only (taskset -c). */
  readonly cpus?: string;
  readonly cwd?: string;
  /** Keeps stdin open as a pipe (for processes driven by commands on stdin). */
  readonly stdin?: boolean;
}

export function start(
  name: string,
  command: string,
  args: readonly string[],
  options: StartOptions = {},
): Tool {
  const argv =
    options.cpus === undefined
      ? [command, ...args]
      : ['taskset', '-c', options.cpus, command, ...args];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const lines: string[] = [];
  const waiters: {
    predicate: (line: JsonObject) => boolean;
    resolve: (line: JsonObject) => void;
  }[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    let newline = partial.indexOf('\n');
    while (newline >= 0) {
      const line = partial.slice(0, newline).trim();
      partial = partial.slice(newline + 1);
      newline = partial.indexOf('\n');
      if (line === '') continue;
      lines.push(line);
      const parsed = parseJsonLine(line);
      if (parsed === undefined) continue;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.predicate(parsed)) {
          waiters[i]!.resolve(parsed);
          waiters.splice(i, 1);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Kept short: only the tail matters when a tool fails.
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => {
    // 'close' (not 'exit'): stdout is fully read by then.
    child.once('close', (code) => {
      running.delete(tool);
      resolve(code);
    });
    child.once('error', () => resolve(null));
  });
  let stopping: Promise<void> | undefined;
  const tool: Tool = {
    name,
    pid: child.pid,
    lines,
    exited,
    json(predicate, timeoutMs) {
      for (const line of lines) {
        const parsed = parseJsonLine(line);
        if (parsed !== undefined && predicate(parsed)) return Promise.resolve(parsed);
      }
      return new Promise<JsonObject>((resolve, reject) => {
        const entry = { predicate, resolve: (line: JsonObject) => done(() => resolve(line)) };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(
                  `${name}: no expected output within ${timeoutMs} ms; stderr: ${stderr.trim()}`,
                ),
              ),
            ),
          timeoutMs,
        );
        const onExit = (code: number | null) =>
          // Lets buffered stdout arrive before concluding the line never came.
          setImmediate(() =>
            done(() =>
              reject(
                new Error(
                  `${name}: exited (${code}) before the expected output; stderr: ${stderr.trim()}`,
                ),
              ),
            ),
          );
        let settled = false;
        function done(settle: () => void): void {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const index = waiters.indexOf(entry);
          if (index >= 0) waiters.splice(index, 1);
          settle();
        }
        waiters.push(entry);
        void exited.then(onExit);
      });
    },
    write(line) {
      if (child.stdin === null) throw new Error(`${name}: started without stdin`);
      child.stdin.write(`${line}\n`);
    },
    stop(graceMs = 3000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
  running.add(tool);
  return tool;
}

function parseJsonLine(line: string): JsonObject | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

/** Stops every process still running (the benchmark's `finally`). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((tool) => tool.stop(1000)));
}

/** Moves every thread of a running process onto `cpus` (taskset -a -p). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

export function allCpus(): string {
  return `0-${Math.max(0, availableParallelism() - 1)}`;
}

/** Resident set size of a process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? Number.NaN : Number(match[1]) * 1024;
}

/** The benchmarks package root (holds package.json), from dist/relay or relay/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('benchmarks package root not found');
    dir = parent;
  }
  return dir;
}

export function number(line: JsonObject, key: string): number {
  const value = line[key];
  return typeof value === 'number' ? value : Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
