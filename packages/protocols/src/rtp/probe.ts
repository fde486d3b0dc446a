import { type Datagram, match, needMore, no, type ProbeResult, u16be, u32be } from '@gamemesh/core';
import type { RtcpReason, RtpReason } from './reasons.js';
import { checkRtcpCompound } from './rtcp.js';
import { checkRtpHeader, isRtcpConflictingPayloadType } from './rtp-header.js';

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
 * Largest sequence distance, either way, between two packets of one SSRC
 * that still counts as RTP evidence. Real networks reorder by a few packets
 * (a 0-20 ms delay spread on 5 ms packets displaces a packet by up to 4) and
 * lose a few; a structure whose bytes 2..3 are random lands within 16 of
 * another datagram's with p = 32/65536 per pair.
 */
export const PROBE_MAX_SEQUENCE_DISTANCE = 16;

/**
 * Largest RTP timestamp distance between such two packets: 2^24 ticks is
 * 186 s at 90 kHz (87 s at 192 kHz), far more than 16 packets of any live
 * stream span; random bytes 4..7 fall within it, in the sequence's order,
 * with p = 1/256.
 */
export const PROBE_MAX_TIMESTAMP_DISTANCE = 1 << 24;

/**
 * RTP needs evidence over several datagrams (PROTOCOLS.md §5.1/§5.2): a valid
 * header says `need-more`; `match` once this datagram and an earlier one of
 * the same SSRC and payload type (marker ignored) have sequence numbers 1 to
 * PROBE_MAX_SEQUENCE_DISTANCE apart, in either order, and timestamps that
 * agree with that order (equal, or later for the later sequence number, by
 * at most PROBE_MAX_TIMESTAMP_DISTANCE). Either order, because reordering
 * on the path can keep two sequence-adjacent packets from ever arriving one
 * after the other within the classifier's window. KCP (constant "sequence"
 * from the conv's high bytes: distance 0), RakNet (byte1 is its
 * incrementing LE sequence, so the "payload type" changes per datagram) and
 * netcode (random "SSRC") all fail it.
 */
export function probeRtp(datagram: Datagram, history: readonly Datagram[]): ProbeResult {
  const b = datagram.data;
  const code = checkRtpHeader(b);
  if (code !== null) return RTP_RESULTS[code];
  const payloadType = b[1]! & 0x7f;
  if (isRtcpConflictingPayloadType(payloadType)) return RTP_RESULTS.rtcp_payload_type;
  const ssrc = u32be(b, 8);
  const seq = u16be(b, 2);
  const timestamp = u32be(b, 4);
  for (const earlier of history) {
    const d = earlier.data;
    if (d.length < 12 || u32be(d, 8) !== ssrc || (d[1]! & 0x7f) !== payloadType) continue;
    if (checkRtpHeader(d) !== null) continue;
    if (inSequenceOrder(u16be(d, 2), u32be(d, 4), seq, timestamp))
      return RTP_RESULTS.probation_passed;
  }
  return RTP_RESULTS.candidate;
}

/**
 * Whether two packets of one source read as the same stream: sequence
 * numbers close (mod 2^16, either order, not equal) and the timestamp not
 * running against the sequence number (mod 2^32) nor too far.
 */
function inSequenceOrder(seqA: number, tsA: number, seqB: number, tsB: number): boolean {
  // Signed distances: bit tricks keep the wrap-around and stay allocation-free.
  const seqDelta = (((seqB - seqA) & 0xffff) ^ 0x8000) - 0x8000;
  if (seqDelta === 0 || Math.abs(seqDelta) > PROBE_MAX_SEQUENCE_DISTANCE) return false;
  const tsDelta = (tsB - tsA) | 0;
  if (Math.abs(tsDelta) > PROBE_MAX_TIMESTAMP_DISTANCE) return false;
  return tsDelta === 0 || tsDelta > 0 === seqDelta > 0;
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
