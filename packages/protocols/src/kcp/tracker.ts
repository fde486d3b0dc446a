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

// Covers the in-flight sns of any sane window (ikcp defaults: 32 send, 128
// receive) at ~10 KB per direction; older sns age out of retransmission
// detection instead of growing memory.
const RING_SIZE = 512;
const RING_MASK = RING_SIZE - 1;

class DirectionState {
  segments = 0;
  pushes = 0;
  acks = 0;
  windowProbes = 0;
  retransmissions = 0;
  maxSn: number | null = null;
  una: number | null = null;
  wnd: number | null = null;
  // PUSH sn -> (ts, arrival) of its latest transmission. Retransmissions
  // carry a fresh ts (ikcp_flush sets segment->ts = current), so an ACK's
  // echoed ts names exactly one transmission and RTT avoids Karn's ambiguity.
  readonly sentSn = new Float64Array(RING_SIZE).fill(-1);
  readonly sentTs = new Uint32Array(RING_SIZE);
  readonly sentAt = new Float64Array(RING_SIZE).fill(-1);
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
        const slot = sn & RING_MASK;
        if (own.sentSn[slot] === sn) own.retransmissions++;
        own.sentSn[slot] = sn;
        own.sentTs[slot] = ts;
        own.sentAt[slot] = datagram.at;
        own.maxSn = newer(own.maxSn, sn);
      } else if (cmd === KCP_CMD_ACK) {
        own.acks++;
        const slot = sn & RING_MASK;
        // ikcp_ack_push(kcp, seg.sn, seg.ts): the ACK echoes the PUSH's sn and ts.
        if (peer.sentSn[slot] === sn && peer.sentTs[slot] === ts && peer.sentAt[slot]! >= 0) {
          const rtt = datagram.at - peer.sentAt[slot]!;
          peer.sentAt[slot] = -1;
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
