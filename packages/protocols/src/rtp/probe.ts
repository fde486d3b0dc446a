import { type Datagram, match, needMore, no, type ProbeResult, u16be, u32be } from '@gamemesh/core';
import type { RtcpReason, RtpReason } from './reasons.js';
import { checkRtcpCompound } from './rtcp.js';
import { checkRtpHeader, isRtcpConflictingPayloadType } from './rtp-header.js';
import { MIN_SEQUENTIAL } from './sequence.js';

// Built once: the probe path allocates nothing.
const RTP_RESULTS: Readonly<Record<RtpReason, ProbeResult>> = {
  too_short: no('too_short'),
  bad_version: no('bad_version'),
  bad_csrc_length: no('bad_csrc_length'),
  bad_extension_length: no('bad_extension_length'),
  bad_padding: no('bad_padding'),
  rtcp_payload_type: no('rtcp_payload_type'),
  candidate: needMore('candidate'),
  probation_passed: match('default', 'probation_passed'),
};

const RTCP_RESULTS: Readonly<Record<RtcpReason, ProbeResult>> = {
  too_short: no('too_short'),
  bad_version: no('bad_version'),
  not_rtcp_type: no('not_rtcp_type'),
  padding_on_first: no('padding_on_first'),
  bad_first_packet: no('bad_first_packet'),
  bad_inner_version: no('bad_inner_version'),
  bad_length_sum: no('bad_length_sum'),
  compound_valid: match('default', 'compound_valid'),
};

/** RFC 3550 A.2 on one datagram: decisive by itself (PROTOCOLS.md §5.1). */
export function probeRtcp(datagram: Datagram): ProbeResult {
  const code = checkRtcpCompound(datagram.data);
  if (code === null) return RTCP_RESULTS.compound_valid;
  // Errors past the cheap first checks only come from the full parser.
  return code in RTCP_RESULTS ? RTCP_RESULTS[code as RtcpReason] : RTCP_RESULTS.bad_length_sum;
}

/**
 * RTP needs evidence over several datagrams (PROTOCOLS.md §5.1/§5.2): a valid
 * header says `need-more`; `match` once one SSRC passes A.1 probation over
 * the flow's history plus this datagram, with byte1 (PT, marker ignored)
 * constant and timestamps non-decreasing. KCP (constant "sequence" from the
 * conv's high bytes), RakNet (byte1 is its incrementing LE sequence) and
 * netcode (random "SSRC") all fail that continuity.
 */
export function probeRtp(datagram: Datagram, history: readonly Datagram[]): ProbeResult {
  const b = datagram.data;
  const code = checkRtpHeader(b);
  if (code !== null) return RTP_RESULTS[code];
  const payloadType = b[1]! & 0x7f;
  if (isRtcpConflictingPayloadType(payloadType)) return RTP_RESULTS.rtcp_payload_type;
  const ssrc = u32be(b, 8);
  // A.1 probation replayed over the chain of this SSRC's datagrams.
  let started = false;
  let maxSeq = 0;
  let probation = MIN_SEQUENTIAL;
  let lastTimestamp = 0;
  for (let i = 0; i <= history.length; i++) {
    const current = i === history.length;
    const d = current ? b : history[i]!.data;
    if (!current) {
      if (d.length < 12 || u32be(d, 8) !== ssrc || checkRtpHeader(d) !== null) continue;
      if ((d[1]! & 0x7f) !== payloadType) {
        started = false;
        continue;
      }
    }
    const seq = u16be(d, 2);
    const timestamp = u32be(d, 4);
    if (!started) {
      started = true;
      maxSeq = (seq - 1) & 0xffff;
      probation = MIN_SEQUENTIAL;
    } else if (((timestamp - lastTimestamp) | 0) < 0) {
      // A timestamp going backwards breaks the chain like a sequence gap.
      maxSeq = (seq - 1) & 0xffff;
      probation = MIN_SEQUENTIAL;
    }
    lastTimestamp = timestamp;
    if (seq === ((maxSeq + 1) & 0xffff)) {
      probation--;
      maxSeq = seq;
      if (probation === 0) {
        if (current) return RTP_RESULTS.probation_passed;
        // Passed earlier in history without a match (e.g. on the other
        // direction's budget): any further in-order packet confirms again.
        probation = 1;
      }
    } else {
      probation = MIN_SEQUENTIAL - 1;
      maxSeq = seq;
    }
  }
  return RTP_RESULTS.candidate;
}

/**
 * Routing key of either protocol: the RTP header SSRC, or for RTCP (also
 * when multiplexed on an RTP flow, RFC 5761) the sender SSRC of the first
 * packet; as a decimal string.
 */
export function rtpFamilyRoutingKey(datagram: Datagram): string | null {
  const b = datagram.data;
  if (b.length < 8 || b[0]! >> 6 !== 2) return null;
  if (b[1]! >= 192 && b[1]! <= 223) return String(u32be(b, 4));
  return b.length >= 12 ? String(u32be(b, 8)) : null;
}
