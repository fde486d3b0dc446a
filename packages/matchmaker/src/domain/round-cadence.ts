import { performance } from 'node:perf_hooks';

export interface RoundTimings {
  /** Seconds the round started after it was due. */
  delay(seconds: number): void;
  /** Seconds from the round's start until `run` settled. */
  duration(seconds: number): void;
}

/**
 * One pool's matching rounds on a fixed cadence: each round is due one
 * interval after the previous one was due, not after it ended, so neither a
 * round's own work nor a late timer pushes every later round back, and a
 * ticket waits at most one interval for a round. A round that overruns its
 * slot moves the next one to the following slot on the same cadence: missed
 * slots are skipped, not run back to back, so an overloaded matchmaker keeps
 * most of its time for HTTP and the link instead of rescanning a backlog.
 */
export class RoundCadence {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** `run` resolves when the next round may start (its tickets are claimed). */
  constructor(
    private readonly intervalMs: number,
    private readonly run: () => Promise<unknown>,
    private readonly timings: RoundTimings,
  ) {}

  start(): this {
    this.schedule(performance.now() + this.intervalMs);
    return this;
  }

  /** No round starts after this; one in flight finishes. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(due: number): void {
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const started = performance.now();
        this.timings.delay(Math.max(0, started - due) / 1000);
        this.run()
          .catch(() => undefined)
          .then(() => {
            this.timings.duration((performance.now() - started) / 1000);
            if (this.stopped) return;
            let next = due + this.intervalMs;
            const now = performance.now();
            if (next < now) next += Math.ceil((now - next) / this.intervalMs) * this.intervalMs;
            this.schedule(next);
          });
      },
      Math.max(0, due - performance.now()),
    );
  }
}
