/**
 * Side-by-side throughput measurement. Cases run in interleaved rounds
 * (A B C A B C ...) so that a noisy neighbour or a CPU frequency change hits
 * every case alike; each figure is the median over rounds, and results are
 * read as ratios against the baseline case of the same run.
 */
export interface BenchCase {
  readonly name: string;
  /** Processes `items` once and returns a value that depends on the work (kept from the optimiser). */
  readonly run: () => number;
  /** Items processed per `run` call (datagrams). */
  readonly items: number;
}

export interface BenchResult {
  readonly name: string;
  /** Median items per second over the rounds. */
  readonly perSecond: number;
  /** Median nanoseconds per item. */
  readonly nsPerItem: number;
  /** perSecond of this case / perSecond of the baseline (the first case). */
  readonly ratio: number;
}

export interface MeasureOptions {
  readonly rounds?: number;
  /** Target wall time of one case in one round. */
  readonly roundMs?: number;
}

let sink = 0;

export function measure(cases: readonly BenchCase[], options: MeasureOptions = {}): BenchResult[] {
  const rounds = options.rounds ?? 9;
  const roundMs = options.roundMs ?? 150;
  // Warm up every case so the JIT has compiled each before timing starts.
  const repeats = cases.map((c) => calibrate(c, roundMs));
  const samples: number[][] = cases.map(() => []);
  for (let round = 0; round < rounds; round++) {
    cases.forEach((c, i) => {
      const count = repeats[i]!;
      const start = process.hrtime.bigint();
      for (let r = 0; r < count; r++) sink ^= c.run();
      const ns = Number(process.hrtime.bigint() - start);
      samples[i]!.push((c.items * count * 1e9) / ns);
    });
  }
  const medians = samples.map(median);
  const baseline = medians[0]!;
  if (sink === 0x7fffffff) console.log('');
  return cases.map((c, i) => ({
    name: c.name,
    perSecond: medians[i]!,
    nsPerItem: 1e9 / medians[i]!,
    ratio: medians[i]! / baseline,
  }));
}

function calibrate(c: BenchCase, roundMs: number): number {
  let count = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < count; r++) sink ^= c.run();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= roundMs / 4) return Math.max(1, Math.round((count * roundMs) / ms));
    count *= 2;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}
