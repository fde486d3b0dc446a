/**
 * Probe reason codes of the `rtp` and `rtcp` protocols. Stable: they are
 * metric label values and the fuzz harness checks that every code a probe
 * returns is listed here.
 */

export const RTP_REASONS = {
  too_short: 'shorter than the 12-byte RTP fixed header',
  bad_version: 'version bits are not 2',
  bad_csrc_length: 'the CSRC list runs past the end of the datagram',
  bad_extension_length: 'the header extension runs past the end of the datagram',
  bad_padding: 'padding count is zero or longer than the payload',
  rtcp_payload_type: 'payload type 72..76 collides with RTCP SR/RR (RFC 3550 §5.1)',
  candidate:
    'valid RTP header; waiting for a second packet of the same SSRC and payload type close in sequence',
  probation_passed:
    'two packets of one SSRC and payload type 1..16 apart in sequence (either order), timestamps agreeing',
} as const;

export const RTCP_REASONS = {
  too_short: 'shorter than an RTCP common header plus sender SSRC (8 bytes)',
  bad_version: 'version bits of the first packet are not 2',
  not_rtcp_type: 'first packet type is not in 200..207',
  padding_on_first: 'padding bit set on the first packet of the compound (RFC 3550 A.2)',
  bad_first_packet: 'first packet too short for its type and report count',
  bad_inner_version: 'a later packet of the compound has version bits other than 2',
  bad_length_sum: 'packet lengths do not add up to the datagram length exactly',
  compound_valid: 'valid RTCP compound packet (RFC 3550 A.2, RFC 5506 relaxation)',
} as const;

export type RtpReason = keyof typeof RTP_REASONS;
export type RtcpReason = keyof typeof RTCP_REASONS;
