import {
  type Datagram,
  type Direction,
  type LifecycleEvent,
  NO_EVENTS,
  type ProtocolStats,
  type SessionTracker,
} from '@gamemesh/core';
import type { SenderReportBook } from './clock.js';
import { parseRtcpCompound, type ReportBlock, type RtcpPacket, rtcpSenderSsrc } from './rtcp.js';
import { isRtcpConflictingPayloadType, looksLikeMuxedRtcp, parseRtpHeader } from './rtp-header.js';
import { RtpSource } from './source.js';

/** Which protocol the flow matched as; both kinds of packet are tracked either way (RFC 5761). */
export type RtpFlowMode = 'rtp' | 'rtcp';

export interface RtpTrackerOptions {
  readonly mode: RtpFlowMode;
  readonly clockRates: Readonly<Record<string, number>>;
  readonly book: SenderReportBook;
}

export interface RtpFamilyStats extends ProtocolStats {
  ssrc: number | null;
  sources: number;
  sourcesDropped: number;
  rtpPackets: number;
  rtpInvalid: number;
  payloadType: number | null;
  clockRate: number | null;
  clockRateSource: string | null;
  expected: number;
  received: number;
  lost: number;
  extendedHighestSeq: number | null;
  fractionLost: number;
  lossRatio: number | null;
  jitter: number | null;
  jitterMs: number | null;
  rtcpPackets: number;
  rtcpInvalid: number;
  srCount: number;
  rrCount: number;
  sdesCount: number;
  byeCount: number;
  appCount: number;
  rtpfbCount: number;
  psfbCount: number;
  xrCount: number;
  nackedPackets: number;
  lastSrAt: number | null;
  lastSrNtp: number | null;
  lastSrRtpTimestamp: number | null;
  lastSrPacketCount: number | null;
  lastSrOctetCount: number | null;
  reportedFractionLost: number | null;
  reportedCumulativeLost: number | null;
  reportedJitter: number | null;
  rttMs: number | null;
  cname: string | null;
  byeReason: string | null;
}

/*
 * Bounds keep a flow's memory constant whatever a peer (or a fuzzer) sends,
 * and small enough for the native tracker (native/src/trackers/rtp_family.c)
 * to hold the same state in its fixed 160 bytes: one media source per flow
 * (an unvalidated one gives way to a newcomer; once one is valid, other
 * SSRCs are counted in sourcesDropped), the latest SR per direction (an RR
 * answers the newest SR it received), and the first two SSRCs a BYE names.
 */
const MAX_SOURCES = 1;
const MAX_BYE_SSRCS = 2;
const SDES_CNAME = 1;
const TWO_POW_32 = 0x1_0000_0000;

interface SeenSr {
  /** Middle 32 bits of the SR's NTP time: what an RR's LSR echoes. */
  readonly middle: number;
  readonly at: number;
}

interface LastSr {
  readonly at: number;
  readonly ntp: number;
  readonly rtpTimestamp: number;
  readonly packetCount: number;
  readonly octetCount: number;
}

/**
 * Per-flow tracker for the `rtp` and `rtcp` protocols: A.1/A.3/A.8 state
 * per SSRC for RTP packets, and RTCP bookkeeping (reports, CNAME, BYE, RTT)
 * for RTCP packets, whichever the flow carries.
 */
export class RtpFamilyTracker implements SessionTracker<RtpFamilyStats> {
  private readonly sources = new Map<number, RtpSource>();
  private firstValidSsrc: number | null = null;
  private rtcpSender: number | null = null;
  private readonly byeSsrcs = new Set<number>();
  /** The latest SR seen in each direction. */
  private readonly latestSr: Record<Direction, SeenSr | null> = { forward: null, reverse: null };
  private lastSr: LastSr | null = null;
  private lastReport: ReportBlock | null = null;
  private readonly counts = {
    sourcesDropped: 0,
    rtpPackets: 0,
    rtpInvalid: 0,
    rtcpPackets: 0,
    rtcpInvalid: 0,
    sr: 0,
    rr: 0,
    sdes: 0,
    bye: 0,
    app: 0,
    rtpfb: 0,
    psfb: 0,
    xr: 0,
    nacked: 0,
  };
  private rttMs: number | null = null;
  private cname: string | null = null;
  private byeReason: string | null = null;

  constructor(private readonly options: RtpTrackerOptions) {}

  observe(datagram: Datagram): readonly LifecycleEvent[] {
    return looksLikeMuxedRtcp(datagram.data)
      ? this.observeRtcp(datagram)
      : this.observeRtp(datagram);
  }

  key(): string | null {
    const first =
      this.options.mode === 'rtp'
        ? (this.firstValidSsrc ?? this.rtcpSender)
        : (this.rtcpSender ?? this.firstValidSsrc);
    return first === null ? null : String(first);
  }

  private observeRtp(datagram: Datagram): readonly LifecycleEvent[] {
    const parsed = parseRtpHeader(datagram.data);
    if (!parsed.ok || isRtcpConflictingPayloadType(parsed.header.payloadType)) {
      this.counts.rtpInvalid++;
      return NO_EVENTS;
    }
    this.counts.rtpPackets++;
    const header = parsed.header;
    let source = this.sources.get(header.ssrc);
    if (source === undefined) {
      if (this.sources.size >= MAX_SOURCES && !this.evictUnvalidatedSource()) {
        this.counts.sourcesDropped++;
        return NO_EVENTS;
      }
      source = new RtpSource(header.ssrc, header, datagram.at);
      this.sources.set(header.ssrc, source);
    }
    if (!source.observe(header, datagram.at, this.options.clockRates, this.options.book))
      return NO_EVENTS;
    if (this.firstValidSsrc === null) this.firstValidSsrc = header.ssrc;
    return [
      {
        type: 'opened',
        key: String(header.ssrc),
        at: datagram.at,
        detail: {
          ssrc: header.ssrc,
          payloadType: header.payloadType,
          clockRate: source.clock?.hz ?? null,
          clockRateSource: source.clock?.source ?? null,
        },
      },
    ];
  }

  private evictUnvalidatedSource(): boolean {
    for (const [ssrc, source] of this.sources) {
      if (!source.valid && ssrc !== this.firstValidSsrc) {
        this.sources.delete(ssrc);
        return true;
      }
    }
    return false;
  }

  private observeRtcp(datagram: Datagram): readonly LifecycleEvent[] {
    const parsed = parseRtcpCompound(datagram.data);
    if (!parsed.ok) {
      this.counts.rtcpInvalid++;
      return NO_EVENTS;
    }
    this.counts.rtcpPackets++;
    let events: LifecycleEvent[] | null = null;
    if (this.rtcpSender === null) {
      this.rtcpSender = rtcpSenderSsrc(datagram.data);
      if (this.options.mode === 'rtcp' && this.rtcpSender !== null) {
        events = [
          {
            type: 'opened',
            key: String(this.rtcpSender),
            at: datagram.at,
            detail: { ssrc: this.rtcpSender },
          },
        ];
      }
    }
    for (const packet of parsed.packets) {
      const closed = this.observeRtcpPacket(packet, datagram);
      if (closed === null) continue;
      events = events ?? [];
      events.push(...closed);
    }
    return events ?? NO_EVENTS;
  }

  private observeRtcpPacket(packet: RtcpPacket, datagram: Datagram): LifecycleEvent[] | null {
    switch (packet.type) {
      case 'sr': {
        this.counts.sr++;
        const ntp = packet.ntpSeconds + packet.ntpFraction / TWO_POW_32;
        this.lastSr = {
          at: datagram.at,
          ntp,
          rtpTimestamp: packet.rtpTimestamp,
          packetCount: packet.packetCount,
          octetCount: packet.octetCount,
        };
        this.options.book.record(packet.ssrc, { ntp, rtpTimestamp: packet.rtpTimestamp });
        // LSR in a later RR is the middle 32 bits of this NTP timestamp (RFC 3550 §6.4.1).
        const middle = (((packet.ntpSeconds & 0xffff) << 16) | (packet.ntpFraction >>> 16)) >>> 0;
        this.latestSr[datagram.direction] = { middle, at: datagram.at };
        this.observeReports(packet.reports, datagram);
        return null;
      }
      case 'rr':
        this.counts.rr++;
        this.observeReports(packet.reports, datagram);
        return null;
      case 'sdes':
        this.counts.sdes++;
        for (const chunk of packet.chunks) {
          for (const item of chunk.items)
            if (item.type === SDES_CNAME && this.cname === null) this.cname = item.text;
        }
        return null;
      case 'bye': {
        this.counts.bye++;
        if (packet.reason !== null) this.byeReason = packet.reason;
        let closed: LifecycleEvent[] | null = null;
        for (const ssrc of packet.ssrcs) {
          // A BYE is often repeated; one close per SSRC is enough.
          if (this.byeSsrcs.has(ssrc) || this.byeSsrcs.size >= MAX_BYE_SSRCS) continue;
          this.byeSsrcs.add(ssrc);
          closed = closed ?? [];
          closed.push({
            type: 'closed',
            key: String(ssrc),
            at: datagram.at,
            reason: 'bye',
          });
        }
        return closed;
      }
      case 'app':
        this.counts.app++;
        return null;
      case 'rtpfb':
        this.counts.rtpfb++;
        this.counts.nacked += packet.nackedPackets;
        return null;
      case 'psfb':
        this.counts.psfb++;
        return null;
      case 'xr':
        this.counts.xr++;
        return null;
      default:
        return null;
    }
  }

  /**
   * RTT from the proxy's seat: an RR echoing (LSR) an SR that passed the
   * other way, minus the receiver's hold time (DLSR, 1/65536 s). Both times
   * are the proxy's own, so no clock sync with the endpoints is needed.
   */
  private observeReports(reports: readonly ReportBlock[], datagram: Datagram): void {
    for (const report of reports) {
      this.lastReport = report;
      if (report.lastSr === 0) continue;
      // Only an SR that passed the other way measures a round trip.
      const sr = this.latestSr[datagram.direction === 'forward' ? 'reverse' : 'forward'];
      if (sr === null || sr.middle !== report.lastSr) continue;
      const rtt = datagram.at - sr.at - (report.delaySinceLastSr * 1000) / 65536;
      // DLSR is rounded to 1/65536 s, so a tiny negative value means ~0.
      if (rtt > -1) this.rttMs = Math.max(0, rtt);
    }
  }

  private primarySource(): RtpSource | null {
    const key = this.key();
    const keyed = key === null ? undefined : this.sources.get(Number(key));
    if (keyed !== undefined) return keyed;
    return this.firstValidSsrc === null ? null : (this.sources.get(this.firstValidSsrc) ?? null);
  }

  stats(): RtpFamilyStats {
    const source = this.primarySource();
    const valid = source !== null && source.valid;
    const sequence = valid ? source.sequence : null;
    const expected = sequence?.expected ?? 0;
    const lost = sequence?.lost ?? 0;
    const c = this.counts;
    return {
      ssrc: source?.ssrc ?? (this.key() === null ? null : Number(this.key())),
      sources: this.sources.size,
      sourcesDropped: c.sourcesDropped,
      rtpPackets: c.rtpPackets,
      rtpInvalid: c.rtpInvalid,
      payloadType: source?.payloadType ?? null,
      clockRate: source?.clock?.hz ?? null,
      clockRateSource: source?.clock?.source ?? null,
      expected,
      received: sequence?.received ?? 0,
      lost,
      extendedHighestSeq: sequence?.extendedMax ?? null,
      fractionLost: valid ? source.fractionLost / 256 : 0,
      lossRatio: expected > 0 ? Math.min(1, Math.max(0, lost / expected)) : null,
      jitter: source?.jitter?.units ?? null,
      jitterMs: source?.jitter?.milliseconds ?? null,
      rtcpPackets: c.rtcpPackets,
      rtcpInvalid: c.rtcpInvalid,
      srCount: c.sr,
      rrCount: c.rr,
      sdesCount: c.sdes,
      byeCount: c.bye,
      appCount: c.app,
      rtpfbCount: c.rtpfb,
      psfbCount: c.psfb,
      xrCount: c.xr,
      nackedPackets: c.nacked,
      lastSrAt: this.lastSr?.at ?? null,
      lastSrNtp: this.lastSr?.ntp ?? null,
      lastSrRtpTimestamp: this.lastSr?.rtpTimestamp ?? null,
      lastSrPacketCount: this.lastSr?.packetCount ?? null,
      lastSrOctetCount: this.lastSr?.octetCount ?? null,
      reportedFractionLost: this.lastReport === null ? null : this.lastReport.fractionLost / 256,
      reportedCumulativeLost: this.lastReport?.cumulativeLost ?? null,
      reportedJitter: this.lastReport?.jitter ?? null,
      rttMs: this.rttMs,
      cname: this.cname,
      byeReason: this.byeReason,
    };
  }
}
