/*
 * KCP session tracker: the C twin of packages/protocols/src/kcp/tracker.ts
 * (same events, same statistics, same compact algorithm; the comment there
 * explains the retransmission window and the single RTT timer).
 *
 * Lifecycle: base KCP has no handshake and no goodbye, so a session opens on
 * its first valid walk and only the proxy's idle backstop ends it; kcp2k's
 * unreliable Disconnect (header 5) closes it.
 *
 * Counters are u32: at a game session's 30-100 datagrams/s they last for
 * months; the state must fit GM_TRACKER_STATE_BYTES.
 */
#include <math.h>
#include <string.h>

#include "kcp.h"

#define SEEN_WINDOW 64

enum {
  FLAG_HAS_CONV = 1,
  FLAG_HAS_COOKIE = 2,
  FLAG_OPENED = 4,
  FLAG_CLOSED = 8
};

enum {
  DIR_HAS_MAX_SN = 1,
  DIR_HAS_UNA = 2, /* una and wnd are set by every segment, so one flag covers both */
  DIR_TIMING = 4
};

typedef struct kcp_state {
  double rtt_upstream_ms; /* NaN = not measured yet */
  double rtt_downstream_ms;
  double timed_at[2];
  uint64_t seen[2]; /* bit i = PUSH sn max_sn[dir] - i seen */
  uint32_t datagrams, invalid, foreign;
  uint32_t fec_data, fec_parity, fec_oob, kcp2k_unreliable;
  uint32_t rtt_samples, acks, window_probes;
  uint32_t conv, cookie;
  uint32_t pushes[2], retransmissions[2];
  uint32_t max_sn[2], una[2];
  uint32_t timed_sn[2], timed_ts[2];
  uint16_t wnd[2];
  uint16_t max_push_len;
  uint8_t pinned; /* enum gm_kcp_variant; AUTO = detect per datagram */
  uint8_t options;
  uint8_t flags;
  uint8_t dir_flags[2];
} kcp_state;

_Static_assert(sizeof(kcp_state) <= GM_TRACKER_STATE_BYTES, "KCP state exceeds the inline tracker budget");
_Static_assert(_Alignof(kcp_state) <= 8, "KCP state needs more than the tracker's alignment");

static uint32_t u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Wrap-safe "a is after b" for u32 sequence numbers (int32 difference, PROTOCOLS.md §2.1 point 4). */
static int32_t seq_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

static void kcp_init(void *raw, const gm_tracker_config *config) {
  kcp_state *s = raw;
  memset(s, 0, sizeof *s);
  s->rtt_upstream_ms = NAN;
  s->rtt_downstream_ms = NAN;
  uint8_t variant = config != NULL ? config->variant : 0;
  s->pinned = (variant & GM_KCP_VARIANT_MASK) <= GM_KCP_VARIANT_KCP2K ? (variant & GM_KCP_VARIANT_MASK) : 0;
  s->options = variant & (GM_KCP_NO_FEC | GM_KCP_NO_CRYPT_NONE | GM_KCP_NO_KCP2K);
  uint32_t max = config != NULL && config->max_push_len != 0 ? config->max_push_len : GM_KCP_DEFAULT_MAX_PUSH;
  /* No UDP payload exceeds 65507 bytes, so a larger limit means the same. */
  s->max_push_len = (uint16_t)(max > 0xffff ? 0xffff : max);
}

/* Returns 1 when the PUSH sn was seen before in this direction (a retransmission). */
static int record_push(kcp_state *s, int dir, uint32_t sn) {
  if (!(s->dir_flags[dir] & DIR_HAS_MAX_SN)) {
    s->dir_flags[dir] |= DIR_HAS_MAX_SN;
    s->max_sn[dir] = sn;
    s->seen[dir] = 1;
    return 0;
  }
  int32_t ahead = seq_diff(sn, s->max_sn[dir]);
  if (ahead > 0) {
    s->seen[dir] = ahead >= SEEN_WINDOW ? 0 : s->seen[dir] << ahead;
    s->seen[dir] |= 1;
    s->max_sn[dir] = sn;
    return 0;
  }
  /* ahead may be INT32_MIN: negate in 64 bits. */
  int64_t behind = -(int64_t)ahead;
  if (behind >= SEEN_WINDOW) return 1;
  uint64_t bit = (uint64_t)1 << behind;
  if (s->seen[dir] & bit) return 1;
  s->seen[dir] |= bit;
  return 0;
}

static void time_push(kcp_state *s, int dir, uint32_t sn, uint32_t ts, double at_ms) {
  if ((s->dir_flags[dir] & DIR_TIMING) && s->timed_sn[dir] != sn) return;
  s->dir_flags[dir] |= DIR_TIMING;
  s->timed_sn[dir] = sn;
  s->timed_ts[dir] = ts;
  s->timed_at[dir] = at_ms;
}

/* The frame was validated by the walk, so every header read is in bounds. */
static void walk(kcp_state *s, const uint8_t *data, size_t start, size_t end, int dir, double at_ms) {
  const int peer = !dir;
  for (size_t offset = start; offset + GM_KCP_OVERHEAD <= end;) {
    const uint8_t *h = data + offset;
    const uint8_t cmd = h[4];
    const uint32_t ts = u32le(h + 8);
    const uint32_t sn = u32le(h + 12);
    const uint32_t una = u32le(h + 16);
    const uint32_t len = u32le(h + 20);
    s->wnd[dir] = (uint16_t)(h[6] | h[7] << 8);
    if (!(s->dir_flags[dir] & DIR_HAS_UNA) || seq_diff(una, s->una[dir]) > 0) s->una[dir] = una;
    s->dir_flags[dir] |= DIR_HAS_UNA;
    if (cmd == GM_KCP_CMD_PUSH) {
      s->pushes[dir]++;
      if (record_push(s, dir, sn)) s->retransmissions[dir]++;
      time_push(s, dir, sn, ts, at_ms);
    } else if (cmd == GM_KCP_CMD_ACK) {
      s->acks++;
      /* ikcp_ack_push(kcp, seg.sn, seg.ts): the ACK echoes the PUSH's sn and ts. */
      if ((s->dir_flags[peer] & DIR_TIMING) && s->timed_sn[peer] == sn && s->timed_ts[peer] == ts) {
        const double rtt = at_ms - s->timed_at[peer];
        s->dir_flags[peer] &= (uint8_t)~DIR_TIMING;
        if (rtt >= 0) {
          s->rtt_samples++;
          if (dir == GM_DIR_REVERSE) s->rtt_upstream_ms = rtt;
          else s->rtt_downstream_ms = rtt;
        }
      }
    } else {
      s->window_probes++;
    }
    offset += GM_KCP_OVERHEAD + len;
  }
  /* The peer's timed PUSH was delivered (cumulative una passed it) but its ACK was not seen. */
  if ((s->dir_flags[peer] & DIR_TIMING) && (s->dir_flags[dir] & DIR_HAS_UNA) &&
      seq_diff(s->una[dir], s->timed_sn[peer]) > 0)
    s->dir_flags[peer] &= (uint8_t)~DIR_TIMING;
}

static gm_key session_key(const kcp_state *s) {
  gm_key key;
  memset(&key, 0, sizeof key);
  const int by_cookie =
      s->pinned == GM_KCP_VARIANT_KCP2K || (s->pinned == GM_KCP_VARIANT_AUTO && (s->flags & FLAG_HAS_COOKIE));
  if (by_cookie ? (s->flags & FLAG_HAS_COOKIE) : (s->flags & FLAG_HAS_CONV)) {
    key.kind = GM_KEY_U64;
    key.u64 = by_cookie ? s->cookie : s->conv;
  }
  return key;
}

static int emit(const kcp_state *s, int type, int reason, double at_ms, gm_event *events, int max_events) {
  if (max_events < 1) return 0;
  memset(&events[0], 0, sizeof events[0]);
  events[0].type = (uint8_t)type;
  events[0].reason = (uint8_t)reason;
  events[0].key = session_key(s);
  events[0].at_ms = at_ms;
  return 1;
}

static int kcp_observe(void *raw, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                       int max_events) {
  kcp_state *s = raw;
  dir = dir == GM_DIR_REVERSE ? GM_DIR_REVERSE : GM_DIR_FORWARD;
  s->datagrams++;
  if (s->flags & FLAG_CLOSED) return 0;
  const gm_kcp_options options = {
      .max_push_len = s->max_push_len,
      .fec = !(s->options & GM_KCP_NO_FEC),
      .crypt_none = !(s->options & GM_KCP_NO_CRYPT_NONE),
      .kcp2k = !(s->options & GM_KCP_NO_KCP2K),
  };
  gm_kcp_frame frame;
  const int code = s->pinned == GM_KCP_VARIANT_AUTO ? gm_kcp_detect_frame(data, len, &options, &frame)
                                                    : gm_kcp_read_frame_as(s->pinned, data, len, &options, &frame);
  if (code != GM_KCP_OK) {
    s->invalid++;
    return 0;
  }
  if (frame.fec_type == GM_KCP_FEC_TYPE_DATA) s->fec_data++;
  else if (frame.fec_type == GM_KCP_FEC_TYPE_PARITY) s->fec_parity++;
  else if (frame.fec_type == GM_KCP_FEC_TYPE_OOB) s->fec_oob++;
  if (frame.variant == GM_KCP_VARIANT_KCP2K && frame.cookie != 0) {
    /* The client's first Hello carries cookie 0; every later datagram the server's cookie. */
    if (!(s->flags & FLAG_HAS_COOKIE)) {
      s->flags |= FLAG_HAS_COOKIE;
      s->cookie = frame.cookie;
    } else if (frame.cookie != s->cookie) {
      s->foreign++;
      return 0;
    }
  }
  if (frame.has_kcp) {
    if (!(s->flags & FLAG_HAS_CONV)) {
      s->flags |= FLAG_HAS_CONV;
      s->conv = frame.conv;
    } else if (frame.conv != s->conv) {
      /* One flow, one conversation: another conv is noise or spoofing, not ours to count. */
      s->foreign++;
      return 0;
    }
    walk(s, data, frame.kcp_start, frame.kcp_end, dir, at_ms);
  }
  if (frame.variant == GM_KCP_VARIANT_KCP2K && frame.kcp2k_channel == GM_KCP2K_CHANNEL_UNRELIABLE) {
    s->kcp2k_unreliable++;
    if (frame.kcp2k_header == GM_KCP2K_UNRELIABLE_DISCONNECT) {
      s->flags |= FLAG_CLOSED;
      if (!(s->flags & FLAG_OPENED)) return 0;
      return emit(s, GM_EVENT_CLOSED, GM_CLOSE_PROTOCOL_DISCONNECT, at_ms, events, max_events);
    }
  }
  if (!(s->flags & FLAG_OPENED) && frame.has_kcp) {
    s->flags |= FLAG_OPENED;
    return emit(s, GM_EVENT_OPENED, GM_CLOSE_NONE, at_ms, events, max_events);
  }
  return 0;
}

static const char *const KCP_STAT_NAMES[] = {
    "conv",           "cookie",          "datagrams",        "invalid",
    "foreign",        "segments",        "pushes",           "acks",
    "windowProbes",   "retransmissions", "retransmissionsForward", "retransmissionsReverse",
    "pushesForward",  "pushesReverse",   "maxSnForward",     "maxSnReverse",
    "unaForward",     "unaReverse",      "wndForward",       "wndReverse",
    "rttMs",          "rttUpstreamMs",   "rttDownstreamMs",  "rttSamples",
    "fecData",        "fecParity",       "fecOob",           "kcp2kUnreliable",
    "closedByProtocol",
};

#define KCP_STAT_COUNT ((int)(sizeof KCP_STAT_NAMES / sizeof KCP_STAT_NAMES[0]))
_Static_assert(sizeof KCP_STAT_NAMES / sizeof KCP_STAT_NAMES[0] <= GM_STATS_MAX, "too many KCP stats");

static double known(int has, double value) { return has ? value : NAN; }

static void kcp_stats(const void *raw, double *out) {
  const kcp_state *s = raw;
  const uint8_t f = s->dir_flags[GM_DIR_FORWARD], r = s->dir_flags[GM_DIR_REVERSE];
  const double up = s->rtt_upstream_ms, down = s->rtt_downstream_ms;
  const double pushes = (double)s->pushes[0] + (double)s->pushes[1];
  int i = 0;
  out[i++] = known(s->flags & FLAG_HAS_CONV, s->conv);
  out[i++] = known(s->flags & FLAG_HAS_COOKIE, s->cookie);
  out[i++] = s->datagrams;
  out[i++] = s->invalid;
  out[i++] = s->foreign;
  /* Every walked segment is a PUSH, an ACK or a window probe (the walk rejects other cmds). */
  out[i++] = pushes + s->acks + s->window_probes;
  out[i++] = pushes;
  out[i++] = s->acks;
  out[i++] = s->window_probes;
  out[i++] = (double)s->retransmissions[0] + (double)s->retransmissions[1];
  out[i++] = s->retransmissions[GM_DIR_FORWARD];
  out[i++] = s->retransmissions[GM_DIR_REVERSE];
  out[i++] = s->pushes[GM_DIR_FORWARD];
  out[i++] = s->pushes[GM_DIR_REVERSE];
  out[i++] = known(f & DIR_HAS_MAX_SN, s->max_sn[GM_DIR_FORWARD]);
  out[i++] = known(r & DIR_HAS_MAX_SN, s->max_sn[GM_DIR_REVERSE]);
  out[i++] = known(f & DIR_HAS_UNA, s->una[GM_DIR_FORWARD]);
  out[i++] = known(r & DIR_HAS_UNA, s->una[GM_DIR_REVERSE]);
  out[i++] = known(f & DIR_HAS_UNA, s->wnd[GM_DIR_FORWARD]);
  out[i++] = known(r & DIR_HAS_UNA, s->wnd[GM_DIR_REVERSE]);
  /* End to end once both legs are measured; until then the one leg (a lower bound). */
  out[i++] = !isnan(up) && !isnan(down) ? up + down : (!isnan(up) ? up : down);
  out[i++] = up;
  out[i++] = down;
  out[i++] = s->rtt_samples;
  out[i++] = s->fec_data;
  out[i++] = s->fec_parity;
  out[i++] = s->fec_oob;
  out[i++] = s->kcp2k_unreliable;
  out[i++] = (s->flags & FLAG_CLOSED) ? 1 : 0;
}

const gm_protocol_ops gm_kcp_ops = {"kcp", kcp_init, kcp_observe, kcp_stats, KCP_STAT_NAMES, KCP_STAT_COUNT};
