/**
 * Media clock rates: the static payload types of RFC 3551, configured rates
 * for dynamic types, and estimation from two sender reports of one SSRC
 * (`clock ~= dRTPts / dNTP`, PROTOCOLS.md §4.6).
 */

/** RFC 3551 §6 table 4/5 (G722's RTP clock is 8000 despite 16 kHz audio). */
export const STATIC_CLOCK_RATES: Readonly<Record<number, number>> = Object.freeze({
  0: 8000,
  3: 8000,
  4: 8000,
  5: 8000,
  6: 16000,
  7: 8000,
  8: 8000,
  9: 8000,
  10: 44100,
  11: 44100,
  12: 8000,
  13: 8000,
  14: 90000,
  15: 8000,
  16: 11025,
  17: 22050,
  18: 8000,
  25: 90000,
  26: 90000,
  28: 90000,
  31: 90000,
  32: 90000,
  33: 90000,
  34: 90000,
});

export const COMMON_CLOCK_RATES = [8000, 16000, 32000, 44100, 48000, 90000] as const;

export type ClockRateSource = 'static' | 'config' | 'estimated';

export interface ClockRate {
  readonly hz: number;
  readonly source: ClockRateSource;
}

/** Within this relative distance an estimate snaps to a common rate. */
const SNAP_TOLERANCE = 0.02;
/** Shorter SR baselines give estimates too coarse to trust. */
const MIN_BASELINE_SECONDS = 0.5;
/** Beyond this the RTP timestamp (u32) of a 90 kHz clock could have wrapped. */
const MAX_BASELINE_SECONDS = 3600;
const MIN_PLAUSIBLE_HZ = 1000;
const MAX_PLAUSIBLE_HZ = 1_000_000;

export interface SenderReportSample {
  /** NTP time in seconds (integer part plus fraction). */
  readonly ntp: number;
  readonly rtpTimestamp: number;
}

/** Clock rate from two SRs of one source, or null when they cannot tell. */
export function estimateClockRate(
  first: SenderReportSample,
  last: SenderReportSample,
): number | null {
  const seconds = last.ntp - first.ntp;
  if (!(seconds >= MIN_BASELINE_SECONDS && seconds <= MAX_BASELINE_SECONDS)) return null;
  const ticks = (last.rtpTimestamp - first.rtpTimestamp) >>> 0;
  const raw = ticks / seconds;
  if (raw < MIN_PLAUSIBLE_HZ || raw > MAX_PLAUSIBLE_HZ) return null;
  for (const rate of COMMON_CLOCK_RATES) {
    if (Math.abs(raw - rate) <= rate * SNAP_TOLERANCE) return rate;
  }
  return Math.round(raw);
}

interface SrPair {
  first: SenderReportSample;
  last: SenderReportSample;
}

export const DEFAULT_SR_BOOK_CAPACITY = 4096;

/**
 * Recent SRs per SSRC, bounded (least recently updated evicted first). The
 * RTCP flow records SRs and the RTP flow of the same SSRC, usually on
 * another port, reads the clock estimate from the same book.
 */
export class SenderReportBook {
  private readonly pairs = new Map<number, SrPair>();

  constructor(readonly capacity = DEFAULT_SR_BOOK_CAPACITY) {}

  get size(): number {
    return this.pairs.size;
  }

  record(ssrc: number, sample: SenderReportSample): void {
    const pair = this.pairs.get(ssrc);
    if (pair !== undefined) {
      this.pairs.delete(ssrc);
      if (!(sample.ntp > pair.last.ntp)) {
        // Time went backwards: a restarted sender; start a new baseline.
        pair.first = sample;
      } else if (sample.ntp - pair.first.ntp > MAX_BASELINE_SECONDS) {
        pair.first = pair.last;
      }
      pair.last = sample;
      this.pairs.set(ssrc, pair);
      return;
    }
    if (this.pairs.size >= this.capacity) {
      const oldest = this.pairs.keys().next();
      if (!oldest.done) this.pairs.delete(oldest.value);
    }
    this.pairs.set(ssrc, { first: sample, last: sample });
  }

  estimate(ssrc: number): number | null {
    const pair = this.pairs.get(ssrc);
    return pair === undefined ? null : estimateClockRate(pair.first, pair.last);
  }
}

/** Config first (it comes from SDP or an operator), then RFC 3551, then SRs. */
export function resolveClockRate(
  payloadType: number,
  ssrc: number,
  configured: Readonly<Record<string, number>>,
  book: SenderReportBook,
): ClockRate | null {
  const fromConfig = configured[String(payloadType)];
  if (fromConfig !== undefined) return { hz: fromConfig, source: 'config' };
  const fromTable = STATIC_CLOCK_RATES[payloadType];
  if (fromTable !== undefined) return { hz: fromTable, source: 'static' };
  const estimated = book.estimate(ssrc);
  return estimated === null ? null : { hz: estimated, source: 'estimated' };
}
