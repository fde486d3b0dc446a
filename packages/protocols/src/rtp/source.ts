import type { ClockRate, SenderReportBook } from './clock.js';
import { resolveClockRate } from './clock.js';
import { JitterEstimator } from './jitter.js';
import type { RtpHeader } from './rtp-header.js';
import { SequenceState } from './sequence.js';

/** How often, in datagram time, the A.3 fraction-lost interval closes (an RTCP-like report period). */
export const LOSS_INTERVAL_MS = 1000;

/**
 * Receive-side state of one RTP source (SSRC) as RFC 3550 A.1/A.3/A.8
 * describe it, plus the clock rate jitter needs.
 */
export class RtpSource {
  readonly sequence: SequenceState;
  payloadType: number;
  clock: ClockRate | null = null;
  jitter: JitterEstimator | null = null;
  /** Last A.3 interval fraction lost, 8-bit fixed point. */
  fractionLost = 0;
  packets = 0;
  private intervalStartMs: number;

  constructor(
    readonly ssrc: number,
    header: RtpHeader,
    atMs: number,
  ) {
    this.sequence = new SequenceState(header.sequence);
    this.payloadType = header.payloadType;
    this.intervalStartMs = atMs;
  }

  get valid(): boolean {
    return this.sequence.valid;
  }

  /**
   * Feeds one packet, the first one included (A.1 calls update_seq for it
   * too, so MIN_SEQUENTIAL = 2 means two packets). Returns true when this packet ended
   * probation, i.e. the source just became valid.
   */
  observe(
    header: RtpHeader,
    atMs: number,
    clockRates: Readonly<Record<string, number>>,
    book: SenderReportBook,
  ): boolean {
    this.packets++;
    const wasValid = this.sequence.valid;
    const counted = this.sequence.update(header.sequence);
    if (header.payloadType !== this.payloadType) {
      // A new payload format may run on another clock; restart jitter on it.
      this.payloadType = header.payloadType;
      this.clock = null;
      this.jitter = null;
    }
    if (!counted) return false;
    if (this.clock === null) {
      this.clock = resolveClockRate(header.payloadType, this.ssrc, clockRates, book);
      if (this.clock !== null) this.jitter = new JitterEstimator(this.clock.hz);
    }
    this.jitter?.observe(atMs, header.timestamp);
    if (atMs - this.intervalStartMs >= LOSS_INTERVAL_MS) {
      this.fractionLost = this.sequence.closeInterval();
      this.intervalStartMs = atMs;
    }
    return !wasValid && this.sequence.valid;
  }
}
