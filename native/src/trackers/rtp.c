/*
 * RTP side of the RTP/RTCP tracker: header checks, the flow's media source
 * (RFC 3550 A.1 validation and sequence, A.3 loss, A.8 jitter) and the
 * family's stats. Same algorithm as packages/protocols/src/rtp/{tracker,
 * source,sequence,jitter}.ts; the RTCP side is in rtcp.c.
 */
#include "rtp.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(gm_rtp_state) <= GM_TRACKER_STATE_BYTES, "RTP state exceeds the inline budget");

#define RTP_SEQ_MOD 65536u
#define MAX_DROPOUT 3000u
#define MAX_MISORDER 100u
#define MIN_SEQUENTIAL 2
#define LOSS_INTERVAL_MS 1000.0
#define LOST_MAX 0x7fffff
#define LOST_MIN (-0x800000)

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t be32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int gm_rtp_looks_like_rtcp(const uint8_t *b, size_t len) {
  return len >= 2 && b[0] >> 6 == 2 && b[1] >= 192 && b[1] <= 223;
}

int gm_rtp_check_header(const uint8_t *b, size_t len) {
  if (len < 12) return 1;
  if (b[0] >> 6 != 2) return 2;
  size_t end = 12 + 4 * (size_t)(b[0] & 0x0f);
  if (end > len) return 3;
  if (b[0] & 0x10) {
    if (end + 4 > len) return 4;
    end += 4 + 4 * (size_t)be16(b + end + 2);
    if (end > len) return 4;
  }
  if (b[0] & 0x20) {
    /* The last byte counts the padding, itself included (RFC 3550 §5.1). */
    size_t padding = b[len - 1];
    if (padding == 0 || end + padding > len) return 5;
  }
  return 0;
}

/* RFC 3551 §6 tables 4/5 (G722's RTP clock is 8000 despite 16 kHz audio). */
static uint32_t static_clock_rate(unsigned pt) {
  switch (pt) {
    case 0: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 13: case 15: case 18: return 8000;
    case 6: return 16000;
    case 10: case 11: return 44100;
    case 16: return 11025;
    case 17: return 22050;
    case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34: return 90000;
    default: return 0;
  }
}

/* Configured clock first (config, SDP, SR book on the TS side), then RFC 3551. */
static uint32_t clock_rate_for(const gm_rtp_state *s, unsigned pt) {
  if (s->configured_pt != 0 && s->configured_pt - 1u == pt && s->clock_rate_hz != 0) return s->clock_rate_hz;
  return static_clock_rate(pt);
}

void gm_rtp_family_init(gm_rtp_state *s, const gm_tracker_config *config, int mode) {
  memset(s, 0, sizeof *s);
  if (mode == GM_RTP_MODE_RTCP) s->flags |= GM_RTP_MODE_IS_RTCP;
  if (config != NULL && config->variant >= 1 && config->variant <= 128) {
    s->configured_pt = config->variant;
    s->clock_rate_hz = config->clock_rate_hz;
  }
}

static void init_seq(gm_rtp_source *src, uint16_t seq) {
  src->base_seq = seq;
  src->max_seq = seq;
  src->bad_seq = RTP_SEQ_MOD + 1;
  src->cycles = 0;
  src->received = 0;
  src->received_prior = 0;
  src->expected_prior = 0;
}

static void new_source(gm_rtp_source *src, uint32_t ssrc, uint16_t seq, uint8_t pt, double at_ms) {
  memset(src, 0, sizeof *src);
  src->ssrc = ssrc;
  init_seq(src, seq);
  src->max_seq = (uint16_t)(seq - 1);
  src->probation = MIN_SEQUENTIAL;
  src->payload_type = pt;
  src->interval_start_ms = at_ms;
}

/* A.1 update_seq: 1 when the packet counts as a valid packet of the source. */
static int update_seq(gm_rtp_source *src, uint16_t seq) {
  uint16_t udelta = (uint16_t)(seq - src->max_seq);
  if (src->probation > 0) {
    if (seq == (uint16_t)(src->max_seq + 1)) {
      src->probation--;
      src->max_seq = seq;
      if (src->probation == 0) {
        init_seq(src, seq);
        src->received++;
        return 1;
      }
    } else {
      src->probation = MIN_SEQUENTIAL - 1;
      src->max_seq = seq;
    }
    return 0;
  }
  if (udelta < MAX_DROPOUT) {
    /* In order, with a permissible gap; a smaller value means the 16-bit counter wrapped. */
    if (seq < src->max_seq) src->cycles += RTP_SEQ_MOD;
    src->max_seq = seq;
  } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
    if (seq == src->bad_seq) {
      /* Two sequential packets after a very large jump: the sender restarted. */
      init_seq(src, seq);
    } else {
      src->bad_seq = (uint32_t)((seq + 1) & (RTP_SEQ_MOD - 1));
      return 0;
    }
  }
  /* Otherwise a duplicate or reordered packet: counted, max_seq unchanged. */
  src->received++;
  return 1;
}

static int64_t expected_of(const gm_rtp_source *src) {
  return (int64_t)src->cycles + src->max_seq - src->base_seq + 1;
}

/* A.3 fraction lost since the previous interval, 8-bit fixed point. */
static uint8_t close_interval(gm_rtp_source *src) {
  int64_t expected = expected_of(src);
  int64_t expected_interval = expected - (int64_t)src->expected_prior;
  src->expected_prior = (uint32_t)expected;
  int64_t received_interval = (int64_t)src->received - src->received_prior;
  src->received_prior = src->received;
  int64_t lost_interval = expected_interval - received_interval;
  if (expected_interval == 0 || lost_interval <= 0) return 0;
  return (uint8_t)((lost_interval * 256) / expected_interval);
}

/* A.8, float form; only a new timestamp updates it (a video frame spans packets of one timestamp). */
static void observe_jitter(gm_rtp_source *src, uint32_t hz, double at_ms, uint32_t timestamp) {
  if (!(src->flags & GM_RTP_SOURCE_HAS_ARRIVAL)) {
    src->flags |= GM_RTP_SOURCE_HAS_ARRIVAL;
    src->last_arrival_ms = at_ms;
    src->last_timestamp = timestamp;
    return;
  }
  if (timestamp == src->last_timestamp) return;
  double arrival_delta = ((at_ms - src->last_arrival_ms) * (double)hz) / 1000.0;
  double timestamp_delta = (double)(int32_t)(timestamp - src->last_timestamp);
  double d = fabs(arrival_delta - timestamp_delta);
  src->last_arrival_ms = at_ms;
  src->last_timestamp = timestamp;
  if (!isfinite(d)) return;
  src->jitter += (d - src->jitter) / 16.0;
}

/* RtpSource.observe: 1 when this packet ended probation. */
static int observe_source(gm_rtp_state *s, const uint8_t *b, double at_ms) {
  gm_rtp_source *src = &s->source;
  uint8_t pt = b[1] & 0x7f;
  int was_valid = src->probation == 0;
  int counted = update_seq(src, be16(b + 2));
  if (pt != src->payload_type) {
    /* A new payload format may run on another clock; restart jitter on it. */
    src->payload_type = pt;
    src->flags &= (uint8_t)~(GM_RTP_SOURCE_CLOCKED | GM_RTP_SOURCE_HAS_ARRIVAL);
    src->jitter = 0;
  }
  if (!counted) return 0;
  if (!(src->flags & GM_RTP_SOURCE_CLOCKED) && clock_rate_for(s, pt) != 0) {
    src->flags |= GM_RTP_SOURCE_CLOCKED;
    src->flags &= (uint8_t)~GM_RTP_SOURCE_HAS_ARRIVAL;
    src->jitter = 0;
  }
  if (src->flags & GM_RTP_SOURCE_CLOCKED) observe_jitter(src, clock_rate_for(s, pt), at_ms, be32(b + 4));
  if (at_ms - src->interval_start_ms >= LOSS_INTERVAL_MS) {
    src->fraction_lost = close_interval(src);
    src->interval_start_ms = at_ms;
  }
  return !was_valid && src->probation == 0;
}

static int observe_rtp(gm_rtp_state *s, const uint8_t *b, size_t len, double at_ms, gm_event *events,
                       int max_events) {
  unsigned pt = len >= 2 ? b[1] & 0x7fu : 0;
  /* PT 72..76 reads as RTCP SR..APP; RFC 3550 §5.1 forbids them for RTP. */
  if (gm_rtp_check_header(b, len) != 0 || (pt >= 72 && pt <= 76)) {
    s->rtp_invalid++;
    return 0;
  }
  s->rtp_packets++;
  uint32_t ssrc = be32(b + 8);
  if (!(s->flags & GM_RTP_HAS_SOURCE) || s->source.ssrc != ssrc) {
    if (s->flags & GM_RTP_HAS_SOURCE) {
      /* One source per flow: only an unvalidated one that is not the flow's first valid gives way. */
      int evictable = s->source.probation != 0 &&
                      !((s->flags & GM_RTP_HAS_FIRST_VALID) && s->source.ssrc == s->first_valid_ssrc);
      if (!evictable) {
        s->sources_dropped++;
        return 0;
      }
    }
    new_source(&s->source, ssrc, be16(b + 2), (uint8_t)pt, at_ms);
    s->flags |= GM_RTP_HAS_SOURCE;
  }
  if (!observe_source(s, b, at_ms)) return 0;
  if (!(s->flags & GM_RTP_HAS_FIRST_VALID)) {
    s->flags |= GM_RTP_HAS_FIRST_VALID;
    s->first_valid_ssrc = ssrc;
  }
  if (max_events < 1) return 0;
  memset(&events[0], 0, sizeof events[0]);
  events[0].type = GM_EVENT_OPENED;
  events[0].at_ms = at_ms;
  events[0].key.kind = GM_KEY_U64;
  events[0].key.u64 = ssrc;
  return 1;
}

int gm_rtp_family_observe(gm_rtp_state *s, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                          int max_events) {
  if (gm_rtp_looks_like_rtcp(data, len)) return gm_rtcp_observe(s, data, len, dir, at_ms, events, max_events);
  return observe_rtp(s, data, len, at_ms, events, max_events);
}

/* The routing key: the first valid media SSRC (rtp) or the first RTCP sender (rtcp), else the other. */
static int family_key(const gm_rtp_state *s, uint32_t *key) {
  int rtcp_first = (s->flags & GM_RTP_MODE_IS_RTCP) != 0;
  int has_valid = (s->flags & GM_RTP_HAS_FIRST_VALID) != 0;
  int has_sender = (s->flags & GM_RTP_HAS_RTCP_SENDER) != 0;
  if (rtcp_first ? has_sender : has_valid) {
    *key = rtcp_first ? s->rtcp_sender : s->first_valid_ssrc;
    return 1;
  }
  if (rtcp_first ? has_valid : has_sender) {
    *key = rtcp_first ? s->first_valid_ssrc : s->rtcp_sender;
    return 1;
  }
  return 0;
}

const char *const gm_rtp_family_stat_names[GM_RTP_STAT_COUNT] = {
    "ssrc",     "sources",  "sourcesDropped", "rtpPackets",  "rtpInvalid", "payloadType",        "clockRate",
    "expected", "received", "lost",           "extendedHighestSeq", "fractionLost", "lossRatio", "jitter",
    "jitterMs", "rtcpPackets", "rtcpInvalid", "srCount",     "rrCount",    "byeCount",           "rtpfbCount",
    "nackedPackets", "rttMs",
};
_Static_assert(GM_RTP_STAT_COUNT <= GM_STATS_MAX, "too many RTP stats");

void gm_rtp_family_stats(const gm_rtp_state *s, double *stats) {
  uint32_t key = 0;
  int has_key = family_key(s, &key);
  const gm_rtp_source *src = NULL;
  if (s->flags & GM_RTP_HAS_SOURCE) {
    /* The keyed source, else the first valid one (with one slot, either is the slot or nothing). */
    if (has_key && s->source.ssrc == key) src = &s->source;
    else if ((s->flags & GM_RTP_HAS_FIRST_VALID) && s->source.ssrc == s->first_valid_ssrc) src = &s->source;
  }
  int valid = src != NULL && src->probation == 0;
  int64_t expected = valid ? expected_of(src) : 0;
  int64_t lost = valid ? expected - (int64_t)src->received : 0;
  if (lost > LOST_MAX) lost = LOST_MAX;
  if (lost < LOST_MIN) lost = LOST_MIN;
  int clocked = src != NULL && (src->flags & GM_RTP_SOURCE_CLOCKED);
  double hz = clocked ? (double)clock_rate_for(s, src->payload_type) : NAN;
  int n = 0;
  stats[n++] = src != NULL ? (double)src->ssrc : has_key ? (double)key : NAN;
  stats[n++] = (s->flags & GM_RTP_HAS_SOURCE) ? 1 : 0;
  stats[n++] = s->sources_dropped;
  stats[n++] = s->rtp_packets;
  stats[n++] = s->rtp_invalid;
  stats[n++] = src != NULL ? (double)src->payload_type : NAN;
  stats[n++] = hz;
  stats[n++] = (double)expected;
  stats[n++] = valid ? (double)src->received : 0;
  stats[n++] = (double)lost;
  stats[n++] = valid ? (double)src->cycles + src->max_seq : NAN;
  stats[n++] = valid ? src->fraction_lost / 256.0 : 0;
  double ratio = expected > 0 ? (double)lost / (double)expected : NAN;
  stats[n++] = expected > 0 ? (ratio > 1 ? 1 : ratio < 0 ? 0 : ratio) : NAN;
  stats[n++] = clocked ? floor(src->jitter) : NAN;
  stats[n++] = clocked ? (src->jitter * 1000.0) / hz : NAN;
  stats[n++] = s->rtcp_packets;
  stats[n++] = s->rtcp_invalid;
  stats[n++] = s->sr_count;
  stats[n++] = s->rr_count;
  stats[n++] = s->bye_count;
  stats[n++] = s->rtpfb_count;
  stats[n++] = s->nacked_packets;
  stats[n++] = (s->flags & GM_RTP_HAS_RTT) ? s->rtt_ms : NAN;
  (void)n; /* n == GM_RTP_STAT_COUNT: one slot per name, in name order */
}

static void rtp_init(void *state, const gm_tracker_config *config) {
  gm_rtp_family_init(state, config, GM_RTP_MODE_RTP);
}

static int rtp_observe(void *state, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                       int max_events) {
  return gm_rtp_family_observe(state, data, len, dir, at_ms, events, max_events);
}

static void rtp_stats(const void *state, double *stats) { gm_rtp_family_stats(state, stats); }

const gm_protocol_ops gm_rtp_ops = {
    "rtp", rtp_init, rtp_observe, rtp_stats, gm_rtp_family_stat_names, GM_RTP_STAT_COUNT,
};
