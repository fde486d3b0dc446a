import {
  type ConfigIssue,
  defineProtocol,
  type Parsed,
  type Protocol,
  type ProtocolDefinition,
  type ProtocolFactory,
} from '@gamemesh/core';
import { SenderReportBook } from './clock.js';
import { probeRtcp, probeRtp, rtpFamilyRoutingKey } from './probe.js';
import { RTCP_REASONS, RTP_REASONS } from './reasons.js';
import { type RtpFamilyStats, RtpFamilyTracker, type RtpFlowMode } from './tracker.js';

/**
 * The `rtp` and `rtcp` protocols (family `rtp`). RTCP is decisive on one
 * datagram (RFC 3550 A.2); RTP is confirmed by two packets of one source
 * close in sequence (either order: paths reorder).
 * Use `createRtpFamily` to let both share SR-based clock estimates; the
 * `rtp` / `rtcp` factories stand alone and share nothing.
 */

export interface RtpConfig {
  /** Clock rate in Hz per payload type ("96" -> 90000), as SDP `a=rtpmap` would say. */
  readonly clockRates: Readonly<Record<string, number>>;
}

export type RtcpConfig = RtpConfig;

const DEFAULTS: RtpConfig = Object.freeze({ clockRates: Object.freeze({}) });

export const RTP_FAMILY = 'rtp';
export const RTP_VERSION = '1.0.0';

/** Validates `{ clockRates: { [pt 0..127]: positive Hz } }`; unknown keys are issues. */
export function parseRtpConfig(raw: unknown, defaults: RtpConfig): Parsed<RtpConfig> {
  if (raw === undefined || raw === null) return { ok: true, value: defaults };
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, issues: [{ path: '', message: 'must be an object' }] };
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(raw)) {
    if (key !== 'clockRates') issues.push({ path: `/${key}`, message: 'unknown option' });
  }
  const rates = (raw as { clockRates?: unknown }).clockRates;
  if (rates === undefined)
    return issues.length > 0 ? { ok: false, issues } : { ok: true, value: defaults };
  if (typeof rates !== 'object' || rates === null || Array.isArray(rates)) {
    issues.push({ path: '/clockRates', message: 'must be an object mapping payload type to Hz' });
    return { ok: false, issues };
  }
  const clockRates: Record<string, number> = {};
  for (const [pt, hz] of Object.entries(rates)) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(pt) || Number(pt) > 127) {
      issues.push({ path: `/clockRates/${pt}`, message: 'payload type must be an integer 0..127' });
    } else if (typeof hz !== 'number' || !Number.isFinite(hz) || hz <= 0) {
      issues.push({
        path: `/clockRates/${pt}`,
        message: 'clock rate must be a positive number of Hz',
      });
    } else {
      clockRates[pt] = hz;
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { clockRates: Object.freeze(clockRates) } };
}

function definition(
  name: RtpFlowMode,
  bookFor: () => SenderReportBook,
): ProtocolDefinition<RtpConfig, RtpFamilyStats> {
  return {
    name,
    version: RTP_VERSION,
    family: RTP_FAMILY,
    reasons: name === 'rtp' ? RTP_REASONS : RTCP_REASONS,
    defaults: DEFAULTS,
    parseConfig: parseRtpConfig,
    build(config) {
      const book = bookFor();
      return {
        probe: name === 'rtp' ? probeRtp : probeRtcp,
        routingKey: rtpFamilyRoutingKey,
        createTracker: () =>
          new RtpFamilyTracker({ mode: name, clockRates: config.clockRates, book }),
      };
    },
  };
}

/** Standalone RTP: each created instance keeps its own SR book. */
export const rtp: ProtocolFactory<RtpConfig, RtpFamilyStats> = defineProtocol(
  definition('rtp', () => new SenderReportBook()),
);

/** Standalone RTCP: each created instance keeps its own SR book. */
export const rtcp: ProtocolFactory<RtcpConfig, RtpFamilyStats> = defineProtocol(
  definition('rtcp', () => new SenderReportBook()),
);

export interface RtpFamilyOptions {
  readonly rtp?: Partial<RtpConfig> | undefined;
  readonly rtcp?: Partial<RtcpConfig> | undefined;
  /** SSRCs whose SRs are remembered for clock estimation (least recently updated evicted). */
  readonly srBookCapacity?: number | undefined;
}

export interface RtpFamily {
  readonly rtp: Protocol<RtpConfig, RtpFamilyStats>;
  readonly rtcp: Protocol<RtcpConfig, RtpFamilyStats>;
  readonly book: SenderReportBook;
}

/**
 * `rtp` and `rtcp` sharing one bounded SR book: SRs seen on the RTCP flow
 * (usually port+1) give the RTP flow of the same SSRC its clock rate, so
 * jitter can be reported for dynamic payload types without SDP.
 */
export function createRtpFamily(options: RtpFamilyOptions = {}): RtpFamily {
  const book = new SenderReportBook(options.srBookCapacity);
  return {
    rtp: defineProtocol(definition('rtp', () => book)).create(options.rtp),
    rtcp: defineProtocol(definition('rtcp', () => book)).create(options.rtcp),
    book,
  };
}

export type { ClockRate, ClockRateSource, SenderReportSample } from './clock.js';
export {
  COMMON_CLOCK_RATES,
  estimateClockRate,
  SenderReportBook,
  STATIC_CLOCK_RATES,
} from './clock.js';
export { JitterEstimator } from './jitter.js';
export { probeRtcp, probeRtp, rtpFamilyRoutingKey } from './probe.js';
export { RTCP_REASONS, RTP_REASONS } from './reasons.js';
export type { ParsedRtcp, ReportBlock, RtcpPacket, RtcpParseError, SdesItem } from './rtcp.js';
export { checkRtcpCompound, parseRtcpCompound, RTCP_PARSE_ERRORS, RTCP_PT } from './rtcp.js';
export type { ParsedRtpHeader, RtpHeader, RtpHeaderError } from './rtp-header.js';
export { checkRtpHeader, parseRtpHeader, RTP_HEADER_ERRORS } from './rtp-header.js';
export {
  MAX_DROPOUT,
  MAX_MISORDER,
  MIN_SEQUENTIAL,
  RTP_SEQ_MOD,
  SequenceState,
} from './sequence.js';
export type { RtpFamilyStats, RtpFlowMode, RtpTrackerOptions } from './tracker.js';
export { RtpFamilyTracker } from './tracker.js';
