/*
 * netcode keyless tracker: per-direction packet-type counts, session-space
 * sequence gaps (loss), malformed counts, token tag key from the request,
 * closes on disconnect and on a server denial. Same algorithm as
 * packages/protocols/src/netcode/tracker.ts (keyless path).
 */
#include "netcode.h"

#include <math.h>
#include <string.h>

typedef struct netcode_direction {
  uint64_t highest;
  uint64_t gaps;
  uint32_t by_type[7];
  uint32_t received;
  uint32_t malformed;
  uint8_t has_highest;
} netcode_direction;

typedef struct netcode_state {
  netcode_direction side[2];
  uint8_t tag[16];
  uint8_t has_tag;
  uint8_t opened;
  uint8_t closed;
} netcode_state;

_Static_assert(sizeof(netcode_state) <= GM_TRACKER_STATE_BYTES, "netcode state exceeds the inline budget");

static const uint8_t VERSION_1_02[13] = {'N', 'E', 'T', 'C', 'O', 'D', 'E', ' ', '1', '.', '0', '2', 0};
static const uint8_t VERSION_1_01[13] = {'N', 'E', 'T', 'C', 'O', 'D', 'E', ' ', '1', '.', '0', '1', 0};

/* Plaintext bytes per encrypted type 1..6; -1 = payload, 1..1200 (PROTOCOLS.md §3.2). */
static const int PLAINTEXT_BYTES[7] = {0, 0, 8 + 300, 8 + 300, 8, -1, 0};

int gm_netcode_request_version(const uint8_t *b, size_t len) {
  if (len == GM_NETCODE_REQUEST_BYTES && b[0] == 0 && memcmp(b + 1, VERSION_1_02, 13) == 0) return GM_NETCODE_V1_02;
  if (len == GM_NETCODE_REQUEST_1_01_BYTES && b[0] == 0 && memcmp(b + 1, VERSION_1_01, 13) == 0)
    return GM_NETCODE_V1_01;
  return GM_NETCODE_NOT_REQUEST;
}

int gm_netcode_encrypted_shape_ok(const uint8_t *b, size_t len) {
  if (len == 0) return 0;
  int type = b[0] & 0x0f;
  if (type < 1 || type > 6) return 0;
  size_t n = b[0] >> 4;
  if (n < 1 || n > 8) return 0;
  if (len < 1 + n + GM_NETCODE_MAC_BYTES) return 0;
  /* The reference encoder never emits a zero high byte (netcode.c:1514-1525). */
  if (n > 1 && b[n] == 0) return 0;
  size_t encrypted = len - 1 - n - GM_NETCODE_MAC_BYTES;
  int plaintext = PLAINTEXT_BYTES[type];
  if (plaintext >= 0) return encrypted == (size_t)plaintext;
  return encrypted >= 1 && encrypted <= GM_NETCODE_MAX_PAYLOAD_BYTES;
}

uint64_t gm_netcode_sequence(const uint8_t *b) {
  size_t n = b[0] >> 4;
  uint64_t value = 0;
  for (size_t i = n; i >= 1; i--) value = (value << 8) | b[i];
  return value;
}

static void netcode_init(void *state, const gm_tracker_config *config) {
  (void)config;
  memset(state, 0, sizeof(netcode_state));
}

static void count_sequence(netcode_direction *d, uint64_t sequence) {
  d->received++;
  if (!d->has_highest) {
    d->has_highest = 1;
    d->highest = sequence;
    return;
  }
  if (sequence > d->highest) {
    uint64_t skipped = sequence - d->highest - 1;
    if (skipped >= 1 && skipped <= GM_NETCODE_MAX_COUNTED_GAP) d->gaps += skipped;
    d->highest = sequence;
  } else if (sequence < d->highest && d->gaps > 0) {
    /* A late arrival fills a hole counted earlier (UDP reordering, not loss). */
    d->gaps--;
  }
}

static void tag_key(const netcode_state *s, gm_key *key) {
  memset(key, 0, sizeof *key);
  if (!s->has_tag) return;
  key->kind = GM_KEY_BYTES;
  key->len = 16;
  memcpy(key->bytes, s->tag, 16);
}

static int netcode_observe(void *state, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                           int max_events) {
  netcode_state *s = state;
  netcode_direction *side = &s->side[dir == GM_DIR_REVERSE ? 1 : 0];
  int produced = 0;
  if (dir == GM_DIR_FORWARD && gm_netcode_request_version(data, len) != GM_NETCODE_NOT_REQUEST) {
    side->by_type[0]++;
    if (s->opened) return 0;
    s->opened = 1;
    s->has_tag = 1;
    /* The token tag (the private token's MAC, the request's last 16 bytes) names the session. */
    memcpy(s->tag, data + len - 16, 16);
    if (max_events > 0) {
      events[0].type = GM_EVENT_OPENED;
      events[0].reason = GM_CLOSE_NONE;
      events[0].at_ms = at_ms;
      tag_key(s, &events[0].key);
      produced = 1;
    }
    return produced;
  }
  if (!gm_netcode_encrypted_shape_ok(data, len)) {
    side->malformed++;
    return 0;
  }
  int type = data[0] & 0x0f;
  side->by_type[type]++;
  /* Challenge and denied use the server's global sequence (seeded at 1 << 63); the others the session's. */
  if (type != 1 && type != 2) count_sequence(side, gm_netcode_sequence(data));
  if (!s->opened) {
    /* Picked up mid-session: the session exists, its key is not on the wire. */
    s->opened = 1;
    if (produced < max_events) {
      events[produced].type = GM_EVENT_OPENED;
      events[produced].reason = GM_CLOSE_NONE;
      events[produced].at_ms = at_ms;
      memset(&events[produced].key, 0, sizeof events[produced].key);
      produced++;
    }
  }
  uint8_t reason = GM_CLOSE_NONE;
  if (!s->closed && type == 6) reason = GM_CLOSE_PROTOCOL_DISCONNECT;
  else if (!s->closed && type == 1 && dir == GM_DIR_REVERSE) reason = GM_CLOSE_DENIED;
  if (reason != GM_CLOSE_NONE) {
    s->closed = 1;
    if (produced < max_events) {
      events[produced].type = GM_EVENT_CLOSED;
      events[produced].reason = reason;
      events[produced].at_ms = at_ms;
      tag_key(s, &events[produced].key);
      produced++;
    }
  }
  return produced;
}

/* Stat names are the TS stats() keys; the order is the slot order filled below. */
static const char *const NETCODE_STAT_NAMES[] = {
    "forwardRequest",    "reverseRequest",     "forwardDenied",       "reverseDenied",       "forwardChallenge",
    "reverseChallenge",  "forwardResponse",    "reverseResponse",     "forwardKeepAlive",    "reverseKeepAlive",
    "forwardPayload",    "reversePayload",     "forwardDisconnect",   "reverseDisconnect",   "requests",
    "keepAlives",        "payloads",           "disconnects",         "sequenceGapsForward", "sequenceGapsReverse",
    "lossRatioForward",  "lossRatioReverse",   "lossRatio",           "malformed",
};

enum { NETCODE_STAT_COUNT = sizeof NETCODE_STAT_NAMES / sizeof NETCODE_STAT_NAMES[0] };
_Static_assert(NETCODE_STAT_COUNT <= GM_STATS_MAX, "too many netcode stats");

static double loss_of(const netcode_direction *d) {
  double total = (double)d->received + (double)d->gaps;
  return total == 0 ? NAN : (double)d->gaps / total;
}

static void netcode_stats(const void *state, double *stats) {
  const netcode_state *s = state;
  const netcode_direction *f = &s->side[0];
  const netcode_direction *r = &s->side[1];
  int slot = 0;
  for (int type = 0; type < 7; type++) {
    stats[slot++] = f->by_type[type];
    stats[slot++] = r->by_type[type];
  }
  stats[slot++] = f->by_type[0];
  stats[slot++] = (double)f->by_type[4] + r->by_type[4];
  stats[slot++] = (double)f->by_type[5] + r->by_type[5];
  stats[slot++] = (double)f->by_type[6] + r->by_type[6];
  stats[slot++] = (double)f->gaps;
  stats[slot++] = (double)r->gaps;
  stats[slot++] = loss_of(f);
  stats[slot++] = loss_of(r);
  /* Same operation order as the TS expression, so the doubles agree bit for bit. */
  double total = (double)f->received + r->received + (double)f->gaps + (double)r->gaps;
  stats[slot++] = total == 0 ? NAN : ((double)f->gaps + (double)r->gaps) / total;
  stats[slot++] = (double)f->malformed + r->malformed;
}

const gm_protocol_ops gm_netcode_ops = {
    "netcode", netcode_init, netcode_observe, netcode_stats, NETCODE_STAT_NAMES, NETCODE_STAT_COUNT,
};
