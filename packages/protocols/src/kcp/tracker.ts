import {
  type Datagram,
  type Direction,
  type LifecycleEvent,
  NO_EVENTS,
  type ProtocolStats,
  type SessionTracker,
  u16le,
  u32le,
} from '@gamemesh/core';
import { KCP_CMD_ACK, KCP_CMD_PUSH, KCP_OVERHEAD } from './segment.js';
import {
  createFrame,
  detectFrame,
  FEC_TYPE_DATA,
  FEC_TYPE_OOB,
  FEC_TYPE_PARITY,
  type FramingOptions,
  KCP_VARIANTS,
  KCP2K_CHANNEL_UNRELIABLE,
  KCP2K_UNRELIABLE_DISCONNECT,
  type KcpVariant,
  readFrameAs,
} from './variants.js';

/**
 * Per-session KCP state (PROTOCOLS.md §2.1 "Useful per-session state").
 *
 * Lifecycle: base KCP (raw, kcp-go FEC / crypt=none) has no handshake and no
 * goodbye, so a session opens on its first valid walk and is never closed by
 * the protocol: ending it is the proxy's idle backstop. kcp2k says goodbye
 * with an unreliable Disconnect (header 5), which closes the session.
 */

export interface KcpStats extends ProtocolStats {
  readonly variant: string;
  readonly conv: number | null;
  readonly cookie: number | null;
  readonly rttMs: number | null;
}

/**
 * Constant memory per direction, so the native twin fits its inline state
 * (native/src/trackers/kcp.c implements the same algorithm):
 *
 * - Retransmissions: a 64-bit window of PUSH sns at or below the highest sn
 *   seen (bit i = maxSn - i). A PUSH whose bit is already set is a resend. A
 *   PUSH more than 63 behind the highest is counted as a resend without a
 *   bit: the sender assigns sns in increasing order (ikcp_flush moves
 *   snd_queue to snd_buf with snd_nxt++), so only a resend or reordering
 *   deeper than the window produces one.
 * - RTT: one timed PUSH per direction at a time, as classic BSD TCP times one
 *   segment per round trip. A PUSH is timed when none is; a resend of the
 *   timed sn re-times it (ikcp_flush gives resends a fresh ts, so the ACK's
 *   echoed ts names one transmission and Karn's ambiguity does not arise).
 *   The peer's ACK echoing (sn, ts) gives the sample; once the peer's una
 *   passes the timed sn without that ACK, the timer is released.
 */
const SEEN_WINDOW = 64;

class DirectionState {
  segments = 0;
  pushes = 0;
  acks = 0;
  windowProbes = 0;
  retransmissions = 0;
  maxSn: number | null = null;
  una: number | null = null;
  wnd: number | null = null;
  // The 64-bit window as two u32 words: bit i of (seenHigh:seenLow) is sn maxSn - i.
  seenLow = 0;
  seenHigh = 0;
  timing = false;
  timedSn = 0;
  timedTs = 0;
  timedAt = 0;

  /** Records a PUSH sn; returns true when it is a retransmission. */
  recordPush(sn: number): boolean {
    if (this.maxSn === null) {
      this.maxSn = sn;
      this.seenLow = 1;
      this.seenHigh = 0;
      return false;
    }
    const ahead = (sn - this.maxSn) | 0;
    if (ahead > 0) {
      this.shiftSeen(ahead);
      this.seenLow = (this.seenLow | 1) >>> 0;
      this.maxSn = sn;
      return false;
    }
    const behind = -ahead;
    if (behind >= SEEN_WINDOW) return true;
    if (behind < 32) {
      const bit = (1 << behind) >>> 0;
      if ((this.seenLow & bit) !== 0) return true;
      this.seenLow = (this.seenLow | bit) >>> 0;
    } else {
      const bit = (1 << (behind - 32)) >>> 0;
      if ((this.seenHigh & bit) !== 0) return true;
      this.seenHigh = (this.seenHigh | bit) >>> 0;
    }
    return false;
  }

  private shiftSeen(by: number): void {
    if (by >= SEEN_WINDOW) {
      this.seenLow = 0;
      this.seenHigh = 0;
    } else if (by >= 32) {
      this.seenHigh = (this.seenLow << (by - 32)) >>> 0;
      this.seenLow = 0;
    } else {
      this.seenHigh = ((this.seenHigh << by) | (this.seenLow >>> (32 - by))) >>> 0;
      this.seenLow = (this.seenLow << by) >>> 0;
    }
  }

  timePush(sn: number, ts: number, at: number): void {
    if (this.timing && this.timedSn !== sn) return;
    this.timing = true;
    this.timedSn = sn;
    this.timedTs = ts;
    this.timedAt = at;
  }
}

class KcpSessionTracker implements SessionTracker<KcpStats> {
  private readonly frame = createFrame();
  private readonly forward = new DirectionState();
  private readonly reverse = new DirectionState();
  private conv: number | null = null;
  private cookie: number | null = null;
  private opened = false;
  private closed = false;
  private datagrams = 0;
  private invalid = 0;
  private foreign = 0;
  private fecData = 0;
  private fecParity = 0;
  private fecOob = 0;
  private kcp2kUnreliable = 0;
  // Legs as seen by the observer: upstream = observer -> server -> observer
  // (forward PUSH, reverse ACK), downstream = observer -> client -> observer.
  private rttUpstreamMs: number | null = null;
  private rttDownstreamMs: number | null = null;
  private rttSamples = 0;

  constructor(
    private readonly pinned: KcpVariant | null,
    private readonly options: FramingOptions,
  ) {}

  observe(datagram: Datagram): readonly LifecycleEvent[] {
    this.datagrams++;
    if (this.closed) return NO_EVENTS;
    const frame = this.frame;
    const code =
      this.pinned === null
        ? detectFrame(datagram.data, this.options, frame)
        : readFrameAs(this.pinned, datagram.data, this.options, frame);
    if (code !== 'ok') {
      this.invalid++;
      return NO_EVENTS;
    }
    if (frame.fecType === FEC_TYPE_DATA) this.fecData++;
    else if (frame.fecType === FEC_TYPE_PARITY) this.fecParity++;
    else if (frame.fecType === FEC_TYPE_OOB) this.fecOob++;
    if (frame.variant === 'kcp2k' && frame.cookie !== 0) {
      // The client's first Hello carries cookie 0; every later datagram the server's cookie.
      if (this.cookie === null) this.cookie = frame.cookie;
      else if (frame.cookie !== this.cookie) {
        this.foreign++;
        return NO_EVENTS;
      }
    }
    if (frame.kcpStart >= 0) {
      if (this.conv === null) this.conv = frame.walk.conv;
      else if (frame.walk.conv !== this.conv) {
        // One flow, one conversation: another conv is noise or spoofing, not ours to count.
        this.foreign++;
        return NO_EVENTS;
      }
      this.walk(datagram, frame.kcpStart, frame.kcpEnd);
    }
    if (frame.variant === 'kcp2k' && frame.kcp2kChannel === KCP2K_CHANNEL_UNRELIABLE) {
      this.kcp2kUnreliable++;
      if (frame.kcp2kHeader === KCP2K_UNRELIABLE_DISCONNECT) return this.close(datagram.at);
    }
    if (!this.opened && frame.kcpStart >= 0) {
      this.opened = true;
      return [
        {
          type: 'opened',
          key: this.key(),
          at: datagram.at,
          detail: { conv: this.conv, variant: frame.variant, cookie: this.cookie },
        },
      ];
    }
    return NO_EVENTS;
  }

  key(): string | null {
    if (this.pinned === 'kcp2k' || (this.pinned === null && this.cookie !== null)) {
      return this.cookie === null ? null : String(this.cookie);
    }
    return this.conv === null ? null : String(this.conv);
  }

  stats(): KcpStats {
    const f = this.forward;
    const r = this.reverse;
    const up = this.rttUpstreamMs;
    const down = this.rttDownstreamMs;
    return {
      variant: this.pinned ?? 'auto',
      conv: this.conv,
      cookie: this.cookie,
      datagrams: this.datagrams,
      invalid: this.invalid,
      foreign: this.foreign,
      segments: f.segments + r.segments,
      pushes: f.pushes + r.pushes,
      acks: f.acks + r.acks,
      windowProbes: f.windowProbes + r.windowProbes,
      retransmissions: f.retransmissions + r.retransmissions,
      retransmissionsForward: f.retransmissions,
      retransmissionsReverse: r.retransmissions,
      pushesForward: f.pushes,
      pushesReverse: r.pushes,
      maxSnForward: f.maxSn,
      maxSnReverse: r.maxSn,
      unaForward: f.una,
      unaReverse: r.una,
      wndForward: f.wnd,
      wndReverse: r.wnd,
      // End to end once both legs are measured; until then the one leg (a lower bound).
      rttMs: up !== null && down !== null ? up + down : (up ?? down),
      rttUpstreamMs: up,
      rttDownstreamMs: down,
      rttSamples: this.rttSamples,
      fecData: this.fecData,
      fecParity: this.fecParity,
      fecOob: this.fecOob,
      kcp2kUnreliable: this.kcp2kUnreliable,
      closedByProtocol: this.closed,
    };
  }

  private close(at: number): readonly LifecycleEvent[] {
    this.closed = true;
    if (!this.opened) return NO_EVENTS;
    return [{ type: 'closed', key: this.key(), at, reason: 'protocol_disconnect' }];
  }

  /** The frame was validated by the walk, so every header read is in bounds. */
  private walk(datagram: Datagram, start: number, end: number): void {
    const data = datagram.data;
    const direction: Direction = datagram.direction;
    const own = direction === 'forward' ? this.forward : this.reverse;
    const peer = direction === 'forward' ? this.reverse : this.forward;
    for (let offset = start; offset + KCP_OVERHEAD <= end; ) {
      const cmd = data[offset + 4]!;
      const ts = u32le(data, offset + 8);
      const sn = u32le(data, offset + 12);
      const len = u32le(data, offset + 20);
      own.segments++;
      own.wnd = u16le(data, offset + 6);
      own.una = newer(own.una, u32le(data, offset + 16));
      if (cmd === KCP_CMD_PUSH) {
        own.pushes++;
        if (own.recordPush(sn)) own.retransmissions++;
        own.timePush(sn, ts, datagram.at);
      } else if (cmd === KCP_CMD_ACK) {
        own.acks++;
        // ikcp_ack_push(kcp, seg.sn, seg.ts): the ACK echoes the PUSH's sn and ts.
        if (peer.timing && peer.timedSn === sn && peer.timedTs === ts) {
          const rtt = datagram.at - peer.timedAt;
          peer.timing = false;
          if (rtt >= 0) {
            this.rttSamples++;
            if (direction === 'reverse') this.rttUpstreamMs = rtt;
            else this.rttDownstreamMs = rtt;
          }
        }
      } else {
        own.windowProbes++;
      }
      offset += KCP_OVERHEAD + len;
    }
    // The peer's timed PUSH was delivered (cumulative una passed it) but its ACK was not seen.
    if (peer.timing && own.una !== null && ((own.una - peer.timedSn) | 0) > 0) peer.timing = false;
  }
}

/** Wrap-safe max of two u32 sequence numbers (int32 difference, PROTOCOLS.md §2.1 point 4). */
function newer(current: number | null, candidate: number): number {
  if (current === null) return candidate;
  return ((candidate - current) | 0) > 0 ? candidate : current;
}

export function createKcpTracker(
  variant: string,
  options: FramingOptions,
): SessionTracker<KcpStats> {
  const pinned = (KCP_VARIANTS as readonly string[]).includes(variant)
    ? (variant as KcpVariant)
    : null;
  return new KcpSessionTracker(pinned, options);
}
