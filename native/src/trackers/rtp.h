/*
 * RTP / RTCP tracker (RFC 3550 A.1, A.3, A.8; RTCP compounds per §6 and
 * RFC 4585/3611/5506), shared by the `rtp` and `rtcp` protocols: a flow of
 * either kind may carry both (RFC 5761). Mirrors
 * packages/protocols/src/rtp/tracker.ts with the same bounds: one media
 * source per flow, the latest SR per direction for RTT, the first two SSRCs
 * a BYE names.
 *
 * Variant (gm_tracker_config.variant): 0 = no configured payload type;
 * 1 + PT (1..128) = `clock_rate_hz` is the configured clock of payload type
 * PT (what the TS side resolved from config, the cross-flow SR book or SDP).
 * Other payload types use the RFC 3551 static table; dynamic ones without a
 * configured clock have no jitter.
 */
#ifndef GM_RTP_H
#define GM_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "gm_tracker.h"

enum gm_rtp_mode { GM_RTP_MODE_RTP = 0, GM_RTP_MODE_RTCP = 1 };

/* Receive state of the flow's media source (A.1 sequence, A.3 interval, A.8 jitter). */
typedef struct gm_rtp_source {
  double jitter;        /* A.8 estimate, timestamp units */
  double last_arrival_ms;
  double interval_start_ms;
  uint32_t ssrc;
  uint32_t bad_seq;     /* RTP_SEQ_MOD + 1 when none */
  uint32_t cycles;      /* counts wraps times 65536; wraps after 2^32 (2^16 wraps) */
  uint32_t received;
  uint32_t received_prior;
  uint32_t expected_prior;
  uint32_t last_timestamp;
  uint16_t base_seq;
  uint16_t max_seq;
  uint8_t probation;
  uint8_t payload_type;
  uint8_t fraction_lost; /* last A.3 interval, 8-bit fixed point */
  uint8_t flags;         /* GM_RTP_SOURCE_* */
} gm_rtp_source;

#define GM_RTP_SOURCE_CLOCKED 1     /* clock resolved for the current PT: jitter is tracked */
#define GM_RTP_SOURCE_HAS_ARRIVAL 2 /* the jitter estimator has its first packet */

typedef struct gm_rtp_state {
  gm_rtp_source source;
  double rtt_ms;
  double latest_sr_at[2];      /* per direction */
  uint32_t latest_sr_middle[2]; /* middle 32 bits of its NTP time (what LSR echoes) */
  uint32_t first_valid_ssrc;
  uint32_t rtcp_sender;
  uint32_t bye_ssrcs[2];
  uint32_t clock_rate_hz;
  uint32_t sources_dropped, rtp_packets, rtp_invalid, rtcp_packets, rtcp_invalid;
  uint32_t sr_count, rr_count, bye_count, rtpfb_count, nacked_packets;
  uint8_t flags; /* GM_RTP_* */
  uint8_t bye_known;
  uint8_t configured_pt; /* 0 = none, else 1 + PT */
} gm_rtp_state;

#define GM_RTP_MODE_IS_RTCP 1
#define GM_RTP_HAS_SOURCE 2
#define GM_RTP_HAS_FIRST_VALID 4
#define GM_RTP_HAS_RTCP_SENDER 8
#define GM_RTP_HAS_RTT 16
#define GM_RTP_HAS_SR_FORWARD 32
#define GM_RTP_HAS_SR_REVERSE 64

/* RFC 5761 §4: second byte 192..223 on a V=2 packet is RTCP. */
int gm_rtp_looks_like_rtcp(const uint8_t *b, size_t len);
/* 0 when the RTP header is consistent (RFC 3550 §5.1), else nonzero. */
int gm_rtp_check_header(const uint8_t *b, size_t len);
/* 0 when `b` parses as a whole RTCP compound (the TS parseRtcpCompound accepts it), else nonzero. */
int gm_rtcp_check(const uint8_t *b, size_t len);

/* Shared with rtcp.c. */
void gm_rtp_family_init(gm_rtp_state *s, const gm_tracker_config *config, int mode);
int gm_rtp_family_observe(gm_rtp_state *s, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                          int max_events);
int gm_rtcp_observe(gm_rtp_state *s, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                    int max_events);
void gm_rtp_family_stats(const gm_rtp_state *s, double *stats);
#define GM_RTP_STAT_COUNT 23
extern const char *const gm_rtp_family_stat_names[GM_RTP_STAT_COUNT];

#endif
