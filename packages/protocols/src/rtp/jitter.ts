/**
 * RFC 3550 A.8 interarrival jitter, in RTP timestamp units, float form
 * (`J += (|D| - J) / 16`; reported as an integer). Only packets with a new
 * timestamp update it: a video frame spans several packets with one
 * timestamp, and counting them would read sender pacing as jitter
 * (PROTOCOLS.md §4.6).
 */
export class JitterEstimator {
  private jitter = 0;
  private lastArrivalMs: number | null = null;
  private lastTimestamp = 0;
  private samples = 0;

  constructor(readonly clockRate: number) {}

  /** `arrivalMs` is the receive time in ms; `timestamp` the packet's RTP timestamp. */
  observe(arrivalMs: number, timestamp: number): void {
    if (this.lastArrivalMs === null) {
      this.lastArrivalMs = arrivalMs;
      this.lastTimestamp = timestamp;
      return;
    }
    if (timestamp === this.lastTimestamp) return;
    // D(i,j) = (Rj - Ri) - (Sj - Si), both in timestamp units; the signed
    // 32-bit difference keeps timestamp wrap-around harmless.
    const arrivalDelta = ((arrivalMs - this.lastArrivalMs) * this.clockRate) / 1000;
    const timestampDelta = (timestamp - this.lastTimestamp) | 0;
    const d = Math.abs(arrivalDelta - timestampDelta);
    this.lastArrivalMs = arrivalMs;
    this.lastTimestamp = timestamp;
    if (!Number.isFinite(d)) return;
    this.jitter += (d - this.jitter) / 16;
    this.samples++;
  }

  /** Jitter as a report block carries it: integer timestamp units. */
  get units(): number {
    return Math.floor(this.jitter);
  }

  get milliseconds(): number {
    return (this.jitter * 1000) / this.clockRate;
  }

  get updates(): number {
    return this.samples;
  }
}
