/**
 * The matchmaker benchmark's table and verdicts. Each matchmaker step is read
 * next to the baseline step at the same offered rate, run just before it on
 * the same server process: latency ratios and CPU-per-ticket ratios move much
 * less than absolute figures on a noisy 2-core machine.
 */
import type { StepResult } from './load.js';
import { median } from './stats.js';

export interface MeasuredStep {
  readonly store: string;
  readonly round: number;
  readonly result: StepResult;
  readonly wallMs: number;
  /** CPU time used during the step (all threads), in ms. */
  readonly cpuMs: { readonly server: number; readonly proxies: number; readonly load: number };
}

export interface Row {
  readonly store: string;
  readonly rate: number;
  readonly assignmentsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly baselineP50: number;
  readonly baselineP99: number;
  readonly baselinePerSecond: number;
  readonly serverCpuUsPerTicket: number;
  readonly baselineCpuUsPerPair: number;
  readonly cpuRatio: number;
  readonly failed: number;
  readonly unfinished: number;
  readonly rounds: number;
}

export interface Verdict {
  readonly target: string;
  readonly value: string;
  readonly pass: boolean;
}

const perTicketUs = (step: MeasuredStep): number =>
  (step.cpuMs.server * 1000) / Math.max(1, step.result.completed);

/** One row per store and rate: medians over rounds; ratios taken per round, then the median. */
export function summarize(steps: readonly MeasuredStep[]): Row[] {
  const rows: Row[] = [];
  const keys = new Set(steps.map((s) => `${s.store}|${s.result.offeredPerSecond}`));
  for (const key of keys) {
    const [store, rateText] = key.split('|') as [string, string];
    const rate = Number(rateText);
    const of = (target: 'matchmaker' | 'baseline') =>
      steps.filter(
        (s) =>
          s.store === store && s.result.offeredPerSecond === rate && s.result.target === target,
      );
    const mm = of('matchmaker');
    const base = of('baseline');
    if (mm.length === 0) continue;
    const ratios = mm.map((m) => {
      const b = base.find((x) => x.round === m.round);
      return b === undefined ? Number.NaN : perTicketUs(m) / perTicketUs(b);
    });
    rows.push({
      store,
      rate,
      assignmentsPerSecond: median(mm.map((m) => m.result.completedPerSecond)),
      p50: median(mm.map((m) => m.result.latency.p50)),
      p99: median(mm.map((m) => m.result.latency.p99)),
      baselineP50: median(base.map((b) => b.result.latency.p50)),
      baselineP99: median(base.map((b) => b.result.latency.p99)),
      baselinePerSecond: median(base.map((b) => b.result.completedPerSecond)),
      serverCpuUsPerTicket: median(mm.map(perTicketUs)),
      baselineCpuUsPerPair: median(base.map(perTicketUs)),
      cpuRatio: median(ratios),
      failed: mm.reduce((n, m) => n + m.result.failed, 0),
      unfinished: mm.reduce((n, m) => n + m.result.unfinished, 0),
      rounds: mm.length,
    });
  }
  return rows;
}

export const THROUGHPUT_TARGETS: Record<string, number> = { memory: 5000, redis: 2000 };

export function verdicts(rows: readonly Row[], p99LimitMs: number): Verdict[] {
  const out: Verdict[] = [];
  for (const store of new Set(rows.map((r) => r.store))) {
    const mine = rows.filter((r) => r.store === store).sort((a, b) => a.rate - b.rate);
    const goal = THROUGHPUT_TARGETS[store] ?? Number.NaN;
    const best = Math.max(...mine.map((r) => r.assignmentsPerSecond));
    out.push({
      target: `${store}: ≥ ${goal} assignments/s (best step)`,
      value: `${best.toFixed(0)}/s`,
      pass: best >= goal,
    });
    for (const row of mine)
      out.push({
        target: `${store}: p99 ≤ ${p99LimitMs} ms at ${row.rate}/s offered`,
        value: `${row.p99.toFixed(1)} ms`,
        pass: row.p99 <= p99LimitMs && row.failed === 0 && row.unfinished === 0,
      });
  }
  return out;
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...body.map(line),
  ].join('\n');
}

export function printReport(rows: readonly Row[], checks: readonly Verdict[]): void {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
  console.log(
    table(
      [
        'store / offered',
        'assigned/s',
        'p50 ms',
        'p99 ms',
        'baseline/s',
        'base p50',
        'base p99',
        'CPU µs/ticket',
        'base CPU µs',
        'CPU ×base',
        'failed',
      ],
      rows.map((r) => [
        `${r.store} ${r.rate}/s`,
        f(r.assignmentsPerSecond, 0),
        f(r.p50),
        f(r.p99),
        f(r.baselinePerSecond, 0),
        f(r.baselineP50),
        f(r.baselineP99),
        f(r.serverCpuUsPerTicket, 0),
        f(r.baselineCpuUsPerPair, 0),
        f(r.cpuRatio, 2),
        `${r.failed}+${r.unfinished}`,
      ]),
    ),
  );
  console.log('');
  console.log(
    table(
      ['target', 'measured', 'verdict'],
      checks.map((c) => [c.target, c.value, c.pass ? 'PASS' : 'FAIL']),
    ),
  );
}
