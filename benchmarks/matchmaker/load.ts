/**
 * The load generator, in its own process: creates tickets at a fixed rate
 * (open loop: send times come from the schedule, never from responses) over
 * HTTP keep-alive (an undici Pool), each followed by a long-poll for its
 * assignment. Latency is measured from the ticket's scheduled send time, so
 * a client that falls behind its schedule shows up in the figures instead of
 * hiding the server's slowness (no coordinated omission).
 *
 *   node load.js http://127.0.0.1:PORT
 *
 * Reads one JSON command per stdin line:
 *   {"cmd":"step","id":"...","target":"matchmaker"|"baseline","rate":N,"seconds":S,
 *    "windowFrom":S0,"drainSeconds":D}
 * and answers each with one `{"event":"step",...}` line; `{"cmd":"quit"}` ends it.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createRandom } from '@gamemesh/core/testing';
import { Pool } from 'undici';
import { API_KEY, ticketBody } from './setup.js';
import { type LatencySummary, latencySummary } from './stats.js';

export interface StepCommand {
  readonly cmd: 'step';
  readonly id: string;
  readonly target: 'matchmaker' | 'baseline';
  readonly rate: number;
  readonly seconds: number;
  /** Completions from this second of the step on count towards the rate (skips the ramp-up). */
  readonly windowFrom: number;
  readonly drainSeconds: number;
  readonly seed: number;
}

export interface StepResult {
  readonly event: 'step';
  readonly id: string;
  readonly target: StepCommand['target'];
  readonly offeredPerSecond: number;
  readonly sent: number;
  readonly completed: number;
  readonly failed: number;
  readonly unfinished: number;
  readonly failures: Record<string, number>;
  /** Completions per second inside [windowFrom, seconds] of the step. */
  readonly completedPerSecond: number;
  /** Scheduled send → assignment response. */
  readonly latency: LatencySummary;
  /** Ticket created (POST answered) → assignment response. */
  readonly afterCreate: LatencySummary;
  /** How late the client sent, against its schedule (its own saturation). */
  readonly sendLagMs: { readonly p99: number; readonly max: number };
  readonly byCluster: Record<string, number>;
}

const origin = process.argv[2];
if (origin === undefined) {
  process.stderr.write('usage: load.js http://HOST:PORT\n');
  process.exit(2);
}
// Each waiting long-poll holds a connection: size the pool for the largest
// number of tickets in flight, not for the request rate.
const pool = new Pool(origin, { connections: 2048, pipelining: 1, keepAliveTimeout: 60_000 });
const headers = { 'content-type': 'application/json', 'x-api-key': API_KEY };
const WAIT_SECONDS = 20;

interface Outcome {
  readonly ok: boolean;
  readonly failure?: string;
  readonly cluster?: string;
  readonly createdAt?: number;
}

async function playerFlow(step: StepCommand, body: string): Promise<Outcome> {
  const base = step.target === 'matchmaker' ? '/v1/tickets' : '/bench/baseline/tickets';
  const created = await pool.request({ method: 'POST', path: base, headers, body });
  if (created.statusCode !== 201) {
    await created.body.dump();
    return { ok: false, failure: `create_${created.statusCode}` };
  }
  const ticket = (await created.body.json()) as { id: string };
  const createdAt = performance.now();
  const waited = await pool.request({
    method: 'GET',
    path: `${base}/${ticket.id}/assignment?wait=${WAIT_SECONDS}`,
    headers,
  });
  if (waited.statusCode !== 200) {
    await waited.body.dump();
    return { ok: false, failure: `wait_${waited.statusCode}` };
  }
  const view = (await waited.body.json()) as {
    state: string;
    assignment: { cluster: string; token: string; connection: string } | null;
  };
  if (view.state !== 'assigned') return { ok: false, failure: `state_${view.state}` };
  if (step.target === 'baseline') return { ok: true, cluster: 'baseline', createdAt };
  if (view.assignment === null || view.assignment.token.length === 0)
    return { ok: false, failure: 'assignment_missing' };
  return { ok: true, cluster: view.assignment.cluster, createdAt };
}

async function runStep(step: StepCommand): Promise<StepResult> {
  const total = Math.round(step.rate * step.seconds);
  const intervalMs = 1000 / step.rate;
  // Seeded, so every run of a step sends the same tickets.
  const random = createRandom(step.seed).next;
  const start = performance.now() + 10;
  const latencies: number[] = [];
  const afterCreate: number[] = [];
  const lags: number[] = [];
  const failures: Record<string, number> = {};
  const byCluster: Record<string, number> = {};
  let completed = 0;
  let failed = 0;
  let inWindow = 0;
  const windowStart = start + step.windowFrom * 1000;
  const windowEnd = start + step.seconds * 1000;
  const pending = new Set<Promise<void>>();

  const launch = (index: number, scheduled: number): void => {
    const body = ticketBody(`${step.id}-p${index}`, random);
    const flow = playerFlow(step, body)
      .catch(
        (error: unknown): Outcome => ({
          ok: false,
          failure: `client_${(error as { code?: string }).code ?? 'error'}`,
        }),
      )
      .then((outcome) => {
        const now = performance.now();
        if (!outcome.ok) {
          failed++;
          const key = outcome.failure ?? 'unknown';
          failures[key] = (failures[key] ?? 0) + 1;
          return;
        }
        completed++;
        latencies.push(now - scheduled);
        afterCreate.push(now - (outcome.createdAt ?? scheduled));
        const cluster = outcome.cluster ?? '?';
        byCluster[cluster] = (byCluster[cluster] ?? 0) + 1;
        if (now >= windowStart && now < windowEnd) inWindow++;
      });
    pending.add(flow);
    void flow.finally(() => pending.delete(flow));
  };

  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      for (; sent < due; sent++) {
        const scheduled = start + sent * intervalMs;
        lags.push(now - scheduled);
        launch(sent, scheduled);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  const drainUntil = Date.now() + step.drainSeconds * 1000;
  while (pending.size > 0 && Date.now() < drainUntil)
    await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 100))]);

  const sortedLags = lags.sort((a, b) => a - b);
  return {
    event: 'step',
    id: step.id,
    target: step.target,
    offeredPerSecond: step.rate,
    sent,
    completed,
    failed,
    unfinished: pending.size,
    failures,
    completedPerSecond: inWindow / (step.seconds - step.windowFrom),
    latency: latencySummary(latencies),
    afterCreate: latencySummary(afterCreate),
    sendLagMs: {
      p99: sortedLags[Math.floor(sortedLags.length * 0.99)] ?? Number.NaN,
      max: sortedLags.at(-1) ?? Number.NaN,
    },
    byCluster,
  };
}

let queue: Promise<void> = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as StepCommand | { cmd: 'quit' };
  queue = queue.then(async () => {
    if (command.cmd === 'quit') {
      lines.close();
      await pool.destroy();
      process.exit(0);
    }
    const result = await runStep(command);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });
});
process.on('SIGTERM', () => {
  void pool.destroy().finally(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
