/**
 * RFC 3550 A.1 (source validation and sequence tracking) and A.3 (loss),
 * with the RFC's semantics kept verbatim (PROTOCOLS.md §4.5): probation of
 * MIN_SEQUENTIAL in-order packets, MAX_DROPOUT / MAX_MISORDER windows and a
 * restart after two sequential packets following a very large jump.
 */

export const MAX_DROPOUT = 3000;
export const MAX_MISORDER = 100;
export const MIN_SEQUENTIAL = 2;
export const RTP_SEQ_MOD = 1 << 16;

const LOST_MAX = 0x7fffff;
const LOST_MIN = -0x800000;

export class SequenceState {
  baseSeq = 0;
  maxSeq = 0;
  badSeq = RTP_SEQ_MOD + 1;
  cycles = 0;
  received = 0;
  receivedPrior = 0;
  expectedPrior = 0;
  probation: number;

  /**
   * A.1 for a newly heard source: `max_seq = seq - 1` and probation starts;
   * the caller then runs `update(seq)` for that same first packet.
   */
  constructor(seq: number) {
    this.initSeq(seq);
    this.maxSeq = (seq - 1) & 0xffff;
    this.probation = MIN_SEQUENTIAL;
  }

  get valid(): boolean {
    return this.probation === 0;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.received = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }

  /** A.1 `update_seq`: true when the packet counts as a valid packet of the source. */
  update(seq: number): boolean {
    const udelta = (seq - this.maxSeq) & 0xffff;
    if (this.probation > 0) {
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probation--;
        this.maxSeq = seq;
        if (this.probation === 0) {
          this.initSeq(seq);
          this.received++;
          return true;
        }
      } else {
        this.probation = MIN_SEQUENTIAL - 1;
        this.maxSeq = seq;
      }
      return false;
    }
    if (udelta < MAX_DROPOUT) {
      // In order, with a permissible gap; a smaller value means the 16-bit counter wrapped.
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      if (seq === this.badSeq) {
        // Two sequential packets after a very large jump: the sender restarted.
        this.initSeq(seq);
      } else {
        this.badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    }
    // Otherwise a duplicate or reordered packet: counted, max_seq unchanged.
    this.received++;
    return true;
  }

  /** A.3 "extended highest sequence number received". */
  get extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.extendedMax - this.baseSeq + 1;
  }

  /** A.3 cumulative lost, clamped to the signed 24-bit report field. */
  get lost(): number {
    const lost = this.expected - this.received;
    return lost > LOST_MAX ? LOST_MAX : Math.max(lost, LOST_MIN);
  }

  /**
   * A.3 fraction lost over the interval since the previous call, as the
   * 8-bit fixed-point value a report block carries (0..255).
   */
  closeInterval(): number {
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    this.expectedPrior = expected;
    const receivedInterval = this.received - this.receivedPrior;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    if (expectedInterval === 0 || lostInterval <= 0) return 0;
    return Math.floor((lostInterval * 256) / expectedInterval);
  }
}
