/*
 * RTCP side of the RTP/RTCP tracker: compound validation exactly as the TS
 * parseRtcpCompound accepts (RFC 3550 §6 and A.2, RFC 4585, RFC 3611,
 * RFC 5506), then per-packet bookkeeping: SR/RR counts, RTT from an RR
 * echoing the latest SR seen the other way, BYE closes, generic NACK counts.
 * Same algorithm as packages/protocols/src/rtp/{rtcp,tracker}.ts.
 */
#include <string.h>

#include "rtp.h"

enum { PT_SR = 200, PT_RR = 201, PT_SDES = 202, PT_BYE = 203, PT_APP = 204, PT_RTPFB = 205, PT_PSFB = 206, PT_XR = 207 };
#define RTCP_HEADER 4
#define REPORT_BLOCK 24

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t be32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A.2 compound check: V=2, first PT 200..207, no padding on the first, lengths summing exactly. */
static int check_compound(const uint8_t *b, size_t len) {
  if (len < 8) return 1;
  if (b[0] >> 6 != 2) return 2;
  unsigned pt = b[1];
  if (pt < 200 || pt > 207) return 3;
  if (b[0] & 0x20) return 4;
  size_t words = be16(b + 2);
  size_t count = b[0] & 0x1f;
  if (pt == PT_SR && words < 6 + 6 * count) return 5;
  if (pt == PT_RR && words < 1 + 6 * count) return 5;
  if ((pt == PT_RTPFB || pt == PT_PSFB) && words < 2) return 5;
  size_t offset = 0;
  while (offset + RTCP_HEADER <= len) {
    if (b[offset] >> 6 != 2) return 6;
    offset += ((size_t)be16(b + offset + 2) + 1) * 4;
  }
  return offset == len ? 0 : 7;
}

static int check_sdes(const uint8_t *b, size_t at, size_t end, size_t count) {
  for (size_t c = 0; c < count; c++) {
    if (at + 4 > end) return 1;
    at += 4;
    /* Items until a zero type byte; the chunk then pads to a 32-bit boundary (RFC 3550 §6.5). */
    for (;;) {
      if (at >= end) return 1;
      if (b[at] == 0) break;
      if (at + 2 > end) return 1;
      size_t item = b[at + 1];
      if (at + 2 + item > end) return 1;
      at += 2 + item;
    }
    at = (at + 4) & ~(size_t)3;
    if (at > end) return 1;
  }
  return 0;
}

/* One packet's body [start + 4, end): 0 when the TS parser accepts it. */
static int check_packet(const uint8_t *b, size_t start, size_t end, size_t count, unsigned pt) {
  size_t body = start + RTCP_HEADER;
  switch (pt) {
    case PT_SR: return body + 24 + count * REPORT_BLOCK > end;
    case PT_RR: return body + 4 + count * REPORT_BLOCK > end;
    case PT_SDES: return check_sdes(b, body, end, count);
    case PT_BYE: {
      if (body + 4 * count > end) return 1;
      size_t reason = body + 4 * count;
      return reason < end && reason + 1 + b[reason] > end;
    }
    case PT_APP: return body + 8 > end;
    case PT_RTPFB:
    case PT_PSFB: return body + 8 > end;
    case PT_XR: {
      if (body + 4 > end) return 1;
      size_t at = body + 4;
      /* Report blocks: BT, type-specific, u16 length in words after the 4-byte block header (RFC 3611 §3). */
      while (at + 4 <= end) at += 4 + 4 * (size_t)be16(b + at + 2);
      return at != end;
    }
    default: return 0;
  }
}

/* Walks the packets of a checked compound; `visit` NULL only validates. Returns 0 when every packet is valid. */
typedef void (*packet_visitor)(gm_rtp_state *s, const uint8_t *b, size_t start, size_t end, size_t count, unsigned pt,
                               void *context);

static int walk_packets(const uint8_t *b, size_t len, packet_visitor visit, gm_rtp_state *s, void *context) {
  size_t offset = 0;
  while (offset < len) {
    uint8_t byte0 = b[offset];
    size_t end = offset + ((size_t)be16(b + offset + 2) + 1) * 4;
    size_t body_end = end;
    if (byte0 & 0x20) {
      if (end != len) return 1;
      size_t padding = b[end - 1];
      if (padding == 0 || padding % 4 != 0 || offset + RTCP_HEADER + padding > end) return 1;
      body_end = end - padding;
    }
    if (visit == NULL) {
      if (check_packet(b, offset, body_end, byte0 & 0x1f, b[offset + 1]) != 0) return 1;
    } else {
      visit(s, b, offset, body_end, byte0 & 0x1f, b[offset + 1], context);
    }
    offset = end;
  }
  return 0;
}

int gm_rtcp_check(const uint8_t *b, size_t len) {
  if (check_compound(b, len) != 0) return 1;
  return walk_packets(b, len, NULL, NULL, NULL);
}

typedef struct rtcp_context {
  int dir;
  double at_ms;
  gm_event *events;
  int max_events;
  int produced;
} rtcp_context;

/* RTT from the proxy's seat: RR arrival minus the SR's, minus the receiver's hold time (DLSR, 1/65536 s). */
static void observe_reports(gm_rtp_state *s, const uint8_t *b, size_t at, size_t count, const rtcp_context *c) {
  int other = c->dir == GM_DIR_FORWARD ? 1 : 0;
  uint8_t has_other = other ? GM_RTP_HAS_SR_REVERSE : GM_RTP_HAS_SR_FORWARD;
  for (size_t i = 0; i < count; i++, at += REPORT_BLOCK) {
    uint32_t lsr = be32(b + at + 16);
    uint32_t dlsr = be32(b + at + 20);
    if (lsr == 0) continue;
    if (!(s->flags & has_other) || s->latest_sr_middle[other] != lsr) continue;
    double rtt = c->at_ms - s->latest_sr_at[other] - ((double)dlsr * 1000.0) / 65536.0;
    /* DLSR is rounded to 1/65536 s, so a tiny negative value means ~0. */
    if (rtt > -1) {
      s->rtt_ms = rtt < 0 ? 0 : rtt;
      s->flags |= GM_RTP_HAS_RTT;
    }
  }
}

static void close_bye(gm_rtp_state *s, uint32_t ssrc, rtcp_context *c) {
  for (int i = 0; i < s->bye_known; i++) {
    if (s->bye_ssrcs[i] == ssrc) return; /* a BYE is often repeated; one close per SSRC */
  }
  if (s->bye_known >= 2) return;
  s->bye_ssrcs[s->bye_known++] = ssrc;
  if (c->produced >= c->max_events) return;
  gm_event *e = &c->events[c->produced++];
  memset(e, 0, sizeof *e);
  e->type = GM_EVENT_CLOSED;
  e->reason = GM_CLOSE_BYE;
  e->at_ms = c->at_ms;
  e->key.kind = GM_KEY_U64;
  e->key.u64 = ssrc;
}

static unsigned popcount16(unsigned v) {
  unsigned n = 0;
  for (v &= 0xffff; v != 0; v &= v - 1) n++;
  return n;
}

static void visit_packet(gm_rtp_state *s, const uint8_t *b, size_t start, size_t end, size_t count, unsigned pt,
                         void *context) {
  rtcp_context *c = context;
  size_t body = start + RTCP_HEADER;
  switch (pt) {
    case PT_SR: {
      s->sr_count++;
      uint32_t seconds = be32(b + body + 4);
      uint32_t fraction = be32(b + body + 8);
      /* LSR in a later RR is the middle 32 bits of this NTP timestamp (RFC 3550 §6.4.1). */
      int d = c->dir == GM_DIR_FORWARD ? 0 : 1;
      s->latest_sr_middle[d] = (seconds & 0xffff) << 16 | fraction >> 16;
      s->latest_sr_at[d] = c->at_ms;
      s->flags |= d == 0 ? GM_RTP_HAS_SR_FORWARD : GM_RTP_HAS_SR_REVERSE;
      observe_reports(s, b, body + 24, count, c);
      break;
    }
    case PT_RR:
      s->rr_count++;
      observe_reports(s, b, body + 4, count, c);
      break;
    case PT_BYE:
      s->bye_count++;
      for (size_t i = 0; i < count; i++) close_bye(s, be32(b + body + 4 * i), c);
      break;
    case PT_RTPFB:
      s->rtpfb_count++;
      /* Generic NACK: each FCI is a PID plus a bitmask of the 16 following lost packets (RFC 4585 §6.2.1). */
      if (count == 1) {
        for (size_t at = body + 8; at + 4 <= end; at += 4) s->nacked_packets += 1 + popcount16(be16(b + at + 2));
      }
      break;
    default:
      break;
  }
}

int gm_rtcp_observe(gm_rtp_state *s, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                    int max_events) {
  if (gm_rtcp_check(data, len) != 0) {
    s->rtcp_invalid++;
    return 0;
  }
  s->rtcp_packets++;
  rtcp_context c = {dir, at_ms, events, max_events, 0};
  if (!(s->flags & GM_RTP_HAS_RTCP_SENDER)) {
    s->flags |= GM_RTP_HAS_RTCP_SENDER;
    s->rtcp_sender = be32(data + 4);
    if ((s->flags & GM_RTP_MODE_IS_RTCP) && max_events > 0) {
      memset(&events[0], 0, sizeof events[0]);
      events[0].type = GM_EVENT_OPENED;
      events[0].at_ms = at_ms;
      events[0].key.kind = GM_KEY_U64;
      events[0].key.u64 = s->rtcp_sender;
      c.produced = 1;
    }
  }
  walk_packets(data, len, visit_packet, s, &c);
  return c.produced;
}

static void rtcp_init(void *state, const gm_tracker_config *config) {
  gm_rtp_family_init(state, config, GM_RTP_MODE_RTCP);
}

static int rtcp_observe(void *state, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                        int max_events) {
  return gm_rtp_family_observe(state, data, len, dir, at_ms, events, max_events);
}

static void rtcp_stats(const void *state, double *stats) { gm_rtp_family_stats(state, stats); }

/* One tracker for both protocols: the same stats, the mode only picks the key and the opened event. */
const gm_protocol_ops gm_rtcp_ops = {
    "rtcp", rtcp_init, rtcp_observe, rtcp_stats, gm_rtp_family_stat_names, GM_RTP_STAT_COUNT,
};
