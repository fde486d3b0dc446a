import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The C load tools of the flood test: benchmarks/relay/udp-load.c (one
 * program for the RTP sender, the counting sink and the flooder, shared with
 * the data-plane benchmark), built with cc into a directory the test owns.
 */

/** The repository root: the nearest directory above this file holding benchmarks/relay/udp-load.c. */
function udpLoadSource(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'benchmarks', 'relay', 'udp-load.c');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('benchmarks/relay/udp-load.c not found above the test');
    dir = parent;
  }
}

export function buildUdpLoad(outDir: string): string {
  const out = join(outDir, 'udp-load');
  execFileSync('cc', ['-O2', '-std=c11', '-Wall', '-Wextra', '-o', out, udpLoadSource()], {
    stdio: 'inherit',
  });
  return out;
}

export type JsonLine = Record<string, unknown>;

/** A child whose stdout is one JSON object per line. */
export class JsonChild {
  private readonly child: ChildProcess;
  private readonly lines: JsonLine[] = [];
  private readonly waiters: {
    test: (line: JsonLine) => boolean;
    resolve: (line: JsonLine) => void;
  }[] = [];
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
  ) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) this.onLine(text.trim());
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code) => resolve(code));
      this.child.once('error', () => resolve(null));
    });
  }

  private onLine(text: string): void {
    if (!text.startsWith('{')) return;
    let line: JsonLine;
    try {
      line = JSON.parse(text) as JsonLine;
    } catch {
      return;
    }
    this.lines.push(line);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.test(line)) this.waiters.splice(i, 1)[0]!.resolve(line);
    }
  }

  /** The first line satisfying `test` (already seen or to come); rejects after `timeoutMs` or on exit. */
  line(test: (line: JsonLine) => boolean, timeoutMs: number): Promise<JsonLine> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no expected line in ${timeoutMs} ms ${this.stderr}`)),
        timeoutMs,
      );
      this.waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void this.exited.then((code) =>
        setImmediate(() => {
          clearTimeout(timer);
          reject(
            new Error(`${this.name}: exited (${code}) without the expected line ${this.stderr}`),
          );
        }),
      );
    });
  }

  /** SIGTERM (the tools print their totals and exit), SIGKILL if that takes over 3 s. Idempotent. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

export function numberField(line: JsonLine, key: string): number {
  const value = line[key];
  if (typeof value !== 'number')
    throw new Error(`expected a number in ${key}: ${JSON.stringify(line)}`);
  return value;
}
