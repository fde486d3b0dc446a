/**
 * The matchmaker benchmark: one command, bounded at 3 minutes.
 *
 *   matchmaker process  real buildApp + store, two clusters, rounds running
 *   proxies process     2 clusters × 2 node proxies × 4 pods on the real LinkClient
 *   load process        open-loop ticket creation + long-poll over undici keep-alive
 *
 * For each store (memory; Redis when `redis-server` is installed) and each offered rate, a baseline step
 * (two trivial routes on the same server: the bare HTTP cost of a player's
 * create + wait) runs just before the matchmaker step. Prints a table with
 * PASS/FAIL per target, writes JSON to benchmarks/results/, stops every
 * process it started and exits 0 whatever the verdicts.
 *
 * Environment: GAMEMESH_BENCH_ROUNDS (default 1), GAMEMESH_BENCH_QUICK=1
 * (short steps, for checking the harness), GAMEMESH_BENCH_RATES=1000,4000
 * (other offered rates), GAMEMESH_BENCH_CPU_PROF=DIR (the matchmaker process
 * writes a V8 CPU profile there).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { availableParallelism, loadavg, release } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type JsonObject, packageRoot, start, stopAll, type Tool } from '../relay/processes.js';
import type { StepCommand, StepResult } from './load.js';
import { type MeasuredStep, printReport, summarize, verdicts } from './report.js';
import { MATCH_INTERVAL_MS } from './setup.js';
import { cpuMs } from './stats.js';

const BUDGET_MS = 180_000;
const quick = process.env.GAMEMESH_BENCH_QUICK === '1';
const rounds = quick ? 1 : Math.max(1, Number(process.env.GAMEMESH_BENCH_ROUNDS ?? 1));
const STEP_SECONDS = quick ? 2 : 5;
const WINDOW_FROM = quick ? 0.5 : 1;
const DRAIN_SECONDS = 8;
const RATES: Record<string, readonly number[]> = {
  memory: [1000, 3000, 6000],
  redis: [1000, 2500],
};
const profileDir = process.env.GAMEMESH_BENCH_CPU_PROF;
const onlyRates = process.env.GAMEMESH_BENCH_RATES?.split(',')
  .map(Number)
  .filter((r) => r > 0);
const began = Date.now();

/** A sibling module of this one, runnable from dist (.js) or from sources under tsx (.ts). */
function sibling(name: string): { command: string; args: string[] } {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self);
  const file = join(dirname(self), `${name}${ext}`);
  return { command: process.execPath, args: ext === '.ts' ? ['--import', 'tsx', file] : [file] };
}

function spawnSibling(name: string, args: readonly string[], stdin = false): Tool {
  const { command, args: base } = sibling(name);
  // Profiling the matchmaker process is how a missed target gets explained.
  const profile =
    name === 'server' && profileDir !== undefined
      ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
      : [];
  return start(name, command, [...profile, ...base, ...args], { stdin });
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function redisServerPath(): string | null {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null
    );
  } catch {
    return null;
  }
}

/** Counters from the matchmaker's own /metrics, to cross-check the client's view. */
async function serverCounters(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  const wanted =
    /^gamemesh_matchmaker_(tickets_\w+_total|allocation_failures_total|matches_total|allocations_total|reservations_expired_total)(\{[^}]*\})? (\S+)$/;
  for (const line of text.split('\n')) {
    const match = wanted.exec(line);
    if (match !== null) out[`${match[1]}${match[2] ?? ''}`] = Number(match[3]);
  }
  return out;
}

interface StoreRun {
  readonly store: string;
  readonly steps: MeasuredStep[];
  readonly counters: Record<string, number>;
  readonly proxyStats: JsonObject | null;
  readonly skipped: string[];
}

async function runStore(store: string, storeUrl: string): Promise<StoreRun> {
  const steps: MeasuredStep[] = [];
  const skipped: string[] = [];
  const server = spawnSibling('server', ['--store', storeUrl]);
  const listening = await server.json((l) => l.event === 'listening', 20_000);
  const port = Number(listening.port);
  const proxies = spawnSibling('proxies', [`ws://127.0.0.1:${port}/v1/link`], true);
  await proxies.json((l) => l.event === 'ready', 20_000);
  const load = spawnSibling('load', [`http://127.0.0.1:${port}`], true);
  await load.json((l) => l.event === 'ready', 20_000);

  // Untimed warm-up: JIT, keep-alive connections and the first rounds are not what is measured.
  for (const target of ['baseline', 'matchmaker'] as const) {
    const id = `${store}-warmup-${target}`;
    const warmup: StepCommand = {
      cmd: 'step',
      id,
      target,
      rate: 1000,
      seconds: 1,
      windowFrom: 0,
      drainSeconds: DRAIN_SECONDS,
      seed: 0xa11,
    };
    load.write(JSON.stringify(warmup));
    await load.json((l) => l.event === 'step' && l.id === id, (DRAIN_SECONDS + 5) * 1000);
  }
  const rates = onlyRates !== undefined && onlyRates.length > 0 ? onlyRates : (RATES[store] ?? []);
  let seq = 0;
  for (let round = 0; round < rounds; round++) {
    for (const rate of rates) {
      for (const target of ['baseline', 'matchmaker'] as const) {
        const id = `${store}-r${round}-${target}-${rate}`;
        const worstCaseMs = (STEP_SECONDS + DRAIN_SECONDS + 2) * 1000;
        if (Date.now() - began + worstCaseMs > BUDGET_MS - 10_000) {
          skipped.push(id);
          continue;
        }
        const command: StepCommand = {
          cmd: 'step',
          id,
          target,
          rate,
          seconds: STEP_SECONDS,
          windowFrom: WINDOW_FROM,
          drainSeconds: DRAIN_SECONDS,
          seed: 0x5eed + seq++,
        };
        const before = {
          server: cpuMs(server.pid),
          proxies: cpuMs(proxies.pid),
          load: cpuMs(load.pid),
        };
        const t0 = Date.now();
        load.write(JSON.stringify(command));
        const result = (await load.json(
          (l) => l.event === 'step' && l.id === id,
          worstCaseMs + 5000,
        )) as unknown as StepResult;
        const wallMs = Date.now() - t0;
        steps.push({
          store,
          round,
          result,
          wallMs,
          cpuMs: {
            server: cpuMs(server.pid) - before.server,
            proxies: cpuMs(proxies.pid) - before.proxies,
            load: cpuMs(load.pid) - before.load,
          },
        });
        console.log(
          `  ${id}: ${result.completedPerSecond.toFixed(0)}/s, p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms, failed ${result.failed}, unfinished ${result.unfinished}, client lag p99 ${result.sendLagMs.p99.toFixed(1)} ms`,
        );
      }
    }
  }
  const counters = await serverCounters(port).catch(() => ({}));
  proxies.write('stats');
  const proxyStats = await proxies.json((l) => l.event === 'stats', 5000).catch(() => null);
  load.write(JSON.stringify({ cmd: 'quit' }));
  await Promise.all([load.stop(3000), proxies.stop(3000), server.stop(5000)]);
  return { store, steps, counters, proxyStats, skipped };
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function startRedis(): Promise<{ tool: Tool; url: string } | null> {
  const binary = redisServerPath();
  if (binary === null) return null;
  const port = await freeTcpPort();
  const tool = start('redis-server', binary, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  // redis-server logs in text; ready means a TCP client gets +PONG.
  for (let i = 0; i < 100; i++) {
    if (await redisPing(port)) return { tool, url: `redis://127.0.0.1:${port}` };
    await new Promise((r) => setTimeout(r, 50));
  }
  await tool.stop();
  return null;
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    console.error('matchmaker benchmark: 3-minute bound reached; stopping');
    void stopAll().finally(() => process.exit(0));
  }, BUDGET_MS);
  hardStop.unref();
  const loadBefore = loadavg();
  const runs: StoreRun[] = [];
  const notes: string[] = [];
  try {
    console.log(`matchmaker benchmark: memory store (rates ${RATES.memory?.join(', ')}/s)`);
    runs.push(await runStore('memory', 'memory'));
    const redis = await startRedis();
    if (redis === null)
      notes.push('redis: skipped, redis-server is not installed or did not start');
    else {
      try {
        console.log(`matchmaker benchmark: Redis store (rates ${RATES.redis?.join(', ')}/s)`);
        runs.push(await runStore('redis', redis.url));
      } finally {
        await redis.tool.stop();
      }
    }
  } finally {
    await stopAll();
  }
  for (const note of notes) console.log(note);

  const steps = runs.flatMap((r) => r.steps);
  const rows = summarize(steps);
  const p99Limit = MATCH_INTERVAL_MS + 50;
  const checks = verdicts(rows, p99Limit);
  console.log('');
  printReport(rows, checks);

  const record = {
    benchmark: 'matchmaker',
    at: new Date().toISOString(),
    host: {
      cpus: availableParallelism(),
      kernel: release(),
      node: process.version,
      loadavgBefore: loadBefore,
      loadavgAfter: loadavg(),
    },
    settings: { rounds, stepSeconds: STEP_SECONDS, windowFrom: WINDOW_FROM, rates: RATES, quick },
    matchIntervalMs: MATCH_INTERVAL_MS,
    rows,
    verdicts: checks,
    runs,
    notes,
  };
  const dir = join(packageRoot(), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `matchmaker-${record.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nresults: ${file} (${((Date.now() - began) / 1000).toFixed(0)} s)`);
}

main()
  .catch(async (error: unknown) => {
    console.error(
      `matchmaker benchmark failed: ${error instanceof Error ? error.stack : String(error)}`,
    );
    await stopAll();
  })
  .finally(() => process.exit(0));
