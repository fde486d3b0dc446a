/*
 * RakNet session tracker: the C twin of packages/protocols/src/raknet
 * (tracker.ts with offline.ts, datagram.ts and messages.ts): same events,
 * same statistics, same validation. Wire layouts: PROTOCOLS.md §1.3-§1.5.
 *
 * Lifecycle: opened at the first OPEN_CONNECTION_REQUEST_2 (or the first
 * valid data datagram of a flow picked up mid-session); closed by
 * ID_DISCONNECTION_NOTIFICATION inside a frame, or denied by a server
 * refusal (opened-then-denied when nothing was open). The key is the client
 * GUID (u64) once seen.
 */
#include <math.h>
#include <string.h>

#include "gm_tracker.h"

enum {
  ID_CONNECTED_PING = 0x00,
  ID_UNCONNECTED_PING = 0x01,
  ID_UNCONNECTED_PING_OPEN_CONNECTIONS = 0x02,
  ID_CONNECTED_PONG = 0x03,
  ID_OPEN_CONNECTION_REQUEST_1 = 0x05,
  ID_OPEN_CONNECTION_REPLY_1 = 0x06,
  ID_OPEN_CONNECTION_REQUEST_2 = 0x07,
  ID_OPEN_CONNECTION_REPLY_2 = 0x08,
  ID_CONNECTION_REQUEST = 0x09,
  ID_OUT_OF_BAND_INTERNAL = 0x0d,
  ID_CONNECTION_ATTEMPT_FAILED = 0x11,
  ID_ALREADY_CONNECTED = 0x12,
  ID_NO_FREE_INCOMING_CONNECTIONS = 0x14,
  ID_DISCONNECTION_NOTIFICATION = 0x15,
  ID_CONNECTION_BANNED = 0x17,
  ID_INCOMPATIBLE_PROTOCOL_VERSION = 0x19,
  ID_IP_RECENTLY_CONNECTED = 0x1a,
  ID_UNCONNECTED_PONG = 0x1c
};

/* OFFLINE_MESSAGE_DATA_ID (RakPeer.cpp:135). */
static const uint8_t OFFLINE_MAGIC[16] = {0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe,
                                          0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78};

#define DATA_FLAGS_MASK 0xe3
#define DATAGRAM_VALID 0x80
#define DATAGRAM_ACK 0xc0
#define DATAGRAM_NAK 0xa0
#define DATA_HEADER_LENGTH 4u
#define SEQUENCE_MODULO 0x1000000u
#define HALF_SEQUENCE_SPACE 0x800000u
#define ORDERING_CHANNELS 32
#define UDP_IP_OVERHEAD 28u
#define REPLY_1_MTU_AT 26u

enum {
  FLAG_CLIENT_GUID = 1,
  FLAG_SERVER_GUID = 2,
  FLAG_MTU = 4,
  FLAG_PROTOCOL_VERSION = 8,
  FLAG_HANDSHAKE_SEEN = 16,
  FLAG_OPENED = 32,
  FLAG_CLOSED = 64,
  FLAG_DISCONNECT_SEEN = 128
};

/* hasSecurity: null / false / true. */
enum { SECURITY_UNKNOWN = 0, SECURITY_OFF = 1, SECURITY_ON = 2 };

typedef struct raknet_state {
  double upstream_rtt_ms; /* NaN = not measured */
  double downstream_rtt_ms;
  double ping_at[2];
  double ack_count; /* doubles, as the TS numbers: one ACK can cover 2^40 sequence numbers */
  double nak_count;
  uint64_t client_guid, server_guid;
  uint64_t gaps[2];
  uint64_t ping_time[2]; /* the RakNet::Time (u64) of the one outstanding ping per direction */
  uint32_t datagrams[2];
  uint32_t highest[2]; /* highest sequence number + 1; 0 = none yet */
  uint32_t ack_datagrams, nak_datagrams, offline_messages, malformed;
  uint32_t mtu;
  uint8_t protocol_version;
  uint8_t has_security;
  uint8_t flags;
  uint8_t ping_pending[2];
} raknet_state;

_Static_assert(sizeof(raknet_state) <= GM_TRACKER_STATE_BYTES, "RakNet state exceeds the inline tracker budget");

static uint16_t u16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t u24le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16; }
static uint32_t u32be(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static uint64_t u64be(const uint8_t *p) { return (uint64_t)u32be(p) << 32 | u32be(p + 4); }

/* ---- offline messages (offline.ts) ---- */

typedef struct offline_message {
  uint8_t id;
  uint8_t has_client_guid, has_server_guid, has_mtu, has_protocol_version;
  uint8_t has_security; /* SECURITY_* */
  uint8_t protocol_version;
  uint32_t mtu;
  uint64_t client_guid, server_guid;
} offline_message;

/* Magic offset and minimum length per id, from RakPeer's ProcessOfflineNetworkPacket; 0 = not offline. */
static int offline_shape(uint8_t id, size_t *magic_at, size_t *min_length) {
  *magic_at = 1;
  *min_length = 25;
  switch (id) {
    case ID_UNCONNECTED_PING:
    case ID_UNCONNECTED_PING_OPEN_CONNECTIONS:
    case ID_OUT_OF_BAND_INTERNAL:
      *magic_at = 9;
      return 1;
    case ID_UNCONNECTED_PONG:
      *magic_at = 17;
      *min_length = 33;
      return 1;
    case ID_INCOMPATIBLE_PROTOCOL_VERSION:
      *magic_at = 2;
      *min_length = 26;
      return 1;
    case ID_OPEN_CONNECTION_REQUEST_1:
    case ID_OPEN_CONNECTION_REPLY_1:
    case ID_OPEN_CONNECTION_REQUEST_2:
    case ID_OPEN_CONNECTION_REPLY_2:
    case ID_CONNECTION_ATTEMPT_FAILED:
    case ID_ALREADY_CONNECTED:
    case ID_NO_FREE_INCOMING_CONNECTIONS:
    case ID_CONNECTION_BANNED:
    case ID_IP_RECENTLY_CONNECTED:
      return 1;
    default:
      return 0;
  }
}

static int is_denial(uint8_t id) {
  return id == ID_ALREADY_CONNECTED || id == ID_NO_FREE_INCOMING_CONNECTIONS || id == ID_CONNECTION_BANNED ||
         id == ID_INCOMPATIBLE_PROTOCOL_VERSION || id == ID_IP_RECENTLY_CONNECTED;
}

/* REQUEST_2 length fixes the cookie and the address family (§1.4): -1 invalid, 0 no cookie, 1 cookie. */
static int request2_cookie(size_t len) {
  if (len == 34 || len == 56) return 0;
  if (len == 39 || len == 61) return 1;
  return -1;
}

/* REPLY_2 SystemAddress length for its version byte and total length, else 0. */
static size_t reply2_address_length(const uint8_t *b, size_t len) {
  if (len <= 25) return 0;
  if (b[25] == 4 && len == 25 + 7 + 3) return 7;
  if (b[25] == 6 && len == 25 + 29 + 3) return 29;
  return 0;
}

static int check_offline(const uint8_t *b, size_t len) {
  if (len <= 2) return 0;
  size_t magic_at, min_length;
  if (!offline_shape(b[0], &magic_at, &min_length)) return 0;
  if (len < min_length || memcmp(b + magic_at, OFFLINE_MAGIC, sizeof OFFLINE_MAGIC) != 0) return 0;
  switch (b[0]) {
    case ID_UNCONNECTED_PING:
    case ID_UNCONNECTED_PING_OPEN_CONNECTIONS:
      /* 25 = senders that omit the GUID; RakPeer::Ping writes it (33). */
      return len == 25 || len >= 33;
    case ID_OPEN_CONNECTION_REPLY_1:
      /* May be padded up to the MTU: only the fixed fields are checked. */
      if (len < REPLY_1_MTU_AT + 2) return 0;
      if (b[25] == 0) return 1;
      return b[25] == 1 && len >= REPLY_1_MTU_AT + 6;
    case ID_OPEN_CONNECTION_REQUEST_2: {
      int cookie = request2_cookie(len);
      if (cookie < 0) return 0;
      const uint8_t version = b[cookie ? 22 : 17];
      return version == ((len == 34 || len == 39) ? 4 : 6);
    }
    case ID_OPEN_CONNECTION_REPLY_2:
      return reply2_address_length(b, len) != 0;
    case ID_INCOMPATIBLE_PROTOCOL_VERSION:
      return len == 26;
    default:
      return 1;
  }
}

static int parse_offline(const uint8_t *b, size_t len, offline_message *m) {
  if (!check_offline(b, len)) return 0;
  memset(m, 0, sizeof *m);
  m->id = b[0];
  switch (m->id) {
    case ID_UNCONNECTED_PING:
    case ID_UNCONNECTED_PING_OPEN_CONNECTIONS:
      if (len >= 33) m->has_client_guid = 1, m->client_guid = u64be(b + 25);
      break;
    case ID_UNCONNECTED_PONG:
      m->has_server_guid = 1, m->server_guid = u64be(b + 9);
      break;
    case ID_OPEN_CONNECTION_REQUEST_1:
      m->has_protocol_version = 1, m->protocol_version = b[17];
      /* The probed MTU: payload length + IP and UDP headers (RakPeer.cpp:5183). */
      m->has_mtu = 1, m->mtu = (uint32_t)len + UDP_IP_OVERHEAD;
      break;
    case ID_OPEN_CONNECTION_REPLY_1:
      m->has_server_guid = 1, m->server_guid = u64be(b + 17);
      m->has_security = b[25] == 1 ? SECURITY_ON : SECURITY_OFF;
      m->has_mtu = 1, m->mtu = u16be(b + (b[25] == 1 ? REPLY_1_MTU_AT + 4 : REPLY_1_MTU_AT));
      break;
    case ID_OPEN_CONNECTION_REQUEST_2:
      m->has_security = request2_cookie(len) == 1 ? SECURITY_ON : SECURITY_OFF;
      m->has_mtu = 1, m->mtu = u16be(b + len - 10);
      m->has_client_guid = 1, m->client_guid = u64be(b + len - 8);
      break;
    case ID_OPEN_CONNECTION_REPLY_2:
      m->has_server_guid = 1, m->server_guid = u64be(b + 17);
      m->has_mtu = 1, m->mtu = u16be(b + 25 + reply2_address_length(b, len));
      /* Original RakNet writes doSecurity as one bit (0x80); Bedrock writes 0/1. */
      m->has_security = b[len - 1] != 0 ? SECURITY_ON : SECURITY_OFF;
      break;
    case ID_INCOMPATIBLE_PROTOCOL_VERSION:
      m->has_server_guid = 1, m->server_guid = u64be(b + 18);
      break;
    case ID_ALREADY_CONNECTED:
    case ID_NO_FREE_INCOMING_CONNECTIONS:
    case ID_CONNECTION_BANNED:
    case ID_IP_RECENTLY_CONNECTED:
      m->has_server_guid = 1, m->server_guid = u64be(b + 17);
      break;
    default:
      break;
  }
  return 1;
}

/* ---- connected datagrams (datagram.ts) ---- */

/* ACK/NAK records: u16 BE count, then u8 minEqualsMax + u24 LE min [+ u24 LE max] (DS_RangeList.h). */
static int walk_ack_records(const uint8_t *b, size_t len, uint64_t *covered_out) {
  if (len < 3) return 0;
  const uint16_t count = u16be(b + 1);
  if (count == 0) return 0;
  size_t offset = 3;
  uint64_t covered = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (offset + 4 > len) return 0;
    const uint32_t min = u24le(b + offset + 1);
    uint32_t max = min;
    if (b[offset] == 0) {
      if (offset + 7 > len) return 0;
      max = u24le(b + offset + 4);
      if (max < min) return 0; /* DS_RangeList::Deserialize refuses inverted ranges */
      offset += 7;
    } else if (b[offset] == 1) {
      offset += 4;
    } else {
      return 0;
    }
    covered += (uint64_t)(max - min) + 1;
  }
  if (offset != len) return 0;
  *covered_out = covered;
  return 1;
}

static int has_reliable_index(int r) { return r == 2 || r == 3 || r == 4; }
static int has_sequencing_index(int r) { return r == 1 || r == 4; }
static int has_ordering_index(int r) { return r == 1 || r == 3 || r == 4; }

/*
 * Reads the frame at `offset` (ReliabilityLayer.cpp reader). Returns 1 and
 * the offset after it; `message_at` is the payload offset when the payload
 * starts with a message id (unsplit or first fragment), else SIZE_MAX.
 */
static int read_frame(const uint8_t *b, size_t len, size_t offset, size_t *next, size_t *message_at,
                      size_t *payload_length) {
  if (offset + 3 > len) return 0;
  const uint8_t flags = b[offset];
  const int reliability = flags >> 5;
  /* Writers pad with zero bits; reliabilities 5..7 are mapped to 0/2/3 before writing (§1.5). */
  if ((flags & 0x0f) != 0 || reliability > 4) return 0;
  const uint16_t bit_length = u16be(b + offset + 1);
  if (bit_length == 0) return 0;
  size_t at = offset + 3;
  if (has_reliable_index(reliability)) {
    if (at + 3 > len) return 0;
    at += 3;
  }
  if (has_sequencing_index(reliability)) {
    if (at + 3 > len) return 0;
    at += 3;
  }
  if (has_ordering_index(reliability)) {
    if (at + 4 > len) return 0;
    if (b[at + 3] >= ORDERING_CHANNELS) return 0;
    at += 4;
  }
  int first = 1;
  if (flags & 0x10) {
    if (at + 10 > len) return 0;
    const uint32_t split_count = u32be(b + at);
    const uint32_t split_index = u32be(b + at + 6);
    if (split_index >= split_count) return 0;
    first = split_index == 0;
    at += 10;
  }
  const size_t length = ((size_t)bit_length + 7) >> 3;
  if (at + length > len) return 0;
  *next = at + length;
  *message_at = first ? at : SIZE_MAX;
  *payload_length = length;
  return 1;
}

static int check_data_frames(const uint8_t *b, size_t len) {
  if (len < DATA_HEADER_LENGTH + 3) return 0;
  size_t offset = DATA_HEADER_LENGTH, message_at, payload_length;
  while (offset < len) {
    if (!read_frame(b, len, offset, &offset, &message_at, &payload_length)) return 0;
  }
  return 1;
}

/* ---- tracker (tracker.ts) ---- */

typedef struct event_sink {
  gm_event *events;
  int max;
  int count;
} event_sink;

static void push_event(const raknet_state *s, event_sink *sink, int type, int reason, double at_ms) {
  if (sink->count >= sink->max) return;
  gm_event *e = &sink->events[sink->count++];
  memset(e, 0, sizeof *e);
  e->type = (uint8_t)type;
  e->reason = (uint8_t)reason;
  e->at_ms = at_ms;
  if (s->flags & FLAG_CLIENT_GUID) {
    e->key.kind = GM_KEY_U64;
    e->key.u64 = s->client_guid;
  }
}

static void open_session(raknet_state *s, event_sink *sink, double at_ms) {
  if (s->flags & FLAG_OPENED) return;
  s->flags |= FLAG_OPENED;
  push_event(s, sink, GM_EVENT_OPENED, GM_CLOSE_NONE, at_ms);
}

static void close_session(raknet_state *s, event_sink *sink, double at_ms, int reason) {
  if (s->flags & FLAG_CLOSED) return;
  s->flags |= FLAG_CLOSED;
  push_event(s, sink, GM_EVENT_CLOSED, reason, at_ms);
}

static void observe_offline(raknet_state *s, const uint8_t *b, size_t len, double at_ms, event_sink *sink) {
  offline_message m;
  if (!parse_offline(b, len, &m)) {
    s->malformed++;
    return;
  }
  s->offline_messages++;
  if (m.has_client_guid) s->flags |= FLAG_CLIENT_GUID, s->client_guid = m.client_guid;
  if (m.has_server_guid) s->flags |= FLAG_SERVER_GUID, s->server_guid = m.server_guid;
  if (m.has_mtu) s->flags |= FLAG_MTU, s->mtu = m.mtu;
  if (m.has_security != SECURITY_UNKNOWN) s->has_security = m.has_security;
  /* INCOMPATIBLE_PROTOCOL_VERSION carries the server's number; the session's is the client's. */
  if (m.has_protocol_version && m.id == ID_OPEN_CONNECTION_REQUEST_1) {
    s->flags |= FLAG_PROTOCOL_VERSION;
    s->protocol_version = m.protocol_version;
  }
  if (m.id == ID_OPEN_CONNECTION_REQUEST_2) {
    s->flags |= FLAG_HANDSHAKE_SEEN;
    open_session(s, sink, at_ms);
  } else if (m.id == ID_OPEN_CONNECTION_REQUEST_1) {
    s->flags |= FLAG_HANDSHAKE_SEEN;
  } else if (is_denial(m.id)) {
    open_session(s, sink, at_ms);
    close_session(s, sink, at_ms, GM_CLOSE_DENIED);
  }
}

static void observe_ack(raknet_state *s, const uint8_t *b, size_t len) {
  uint64_t covered = 0;
  if (!walk_ack_records(b, len, &covered)) {
    s->malformed++;
    return;
  }
  if (b[0] == DATAGRAM_ACK) {
    s->ack_datagrams++;
    s->ack_count += (double)covered;
  } else {
    s->nak_datagrams++;
    s->nak_count += (double)covered;
  }
}

static void count_sequence(raknet_state *s, int dir, uint32_t sequence) {
  s->datagrams[dir]++;
  if (s->highest[dir] == 0) {
    s->highest[dir] = sequence + 1;
    return;
  }
  const uint32_t ahead = (sequence - (s->highest[dir] - 1) + SEQUENCE_MODULO) % SEQUENCE_MODULO;
  if (ahead == 0) return;
  if (ahead < HALF_SEQUENCE_SPACE) {
    s->gaps[dir] += ahead - 1;
    s->highest[dir] = sequence + 1;
  } else if (s->gaps[dir] > 0) {
    s->gaps[dir]--; /* a late arrival fills a gap counted earlier */
  }
}

static void observe_message(raknet_state *s, const uint8_t *m, size_t length, int dir, double at_ms) {
  if (length < 1) return;
  switch (m[0]) {
    case ID_CONNECTION_REQUEST: /* u64 client GUID, u64 time, u8 doSecurity */
      if (length >= 18 && !(s->flags & FLAG_CLIENT_GUID)) {
        s->flags |= FLAG_CLIENT_GUID;
        s->client_guid = u64be(m + 1);
      }
      break;
    case ID_CONNECTED_PING: /* u64 RakNet::Time */
      if (length >= 9) {
        s->ping_pending[dir] = 1;
        s->ping_time[dir] = u64be(m + 1);
        s->ping_at[dir] = at_ms;
      }
      break;
    case ID_CONNECTED_PONG: { /* echoes the ping's u64 time; the ping travelled the other way */
      const int ping_dir = !dir;
      if (length >= 9 && s->ping_pending[ping_dir] && s->ping_time[ping_dir] == u64be(m + 1)) {
        const double sample = fmax(0, at_ms - s->ping_at[ping_dir]);
        s->ping_pending[ping_dir] = 0;
        if (ping_dir == GM_DIR_FORWARD) s->upstream_rtt_ms = sample;
        else s->downstream_rtt_ms = sample;
      }
      break;
    }
    case ID_DISCONNECTION_NOTIFICATION:
      s->flags |= FLAG_DISCONNECT_SEEN;
      break;
    default:
      break;
  }
}

static void observe_data(raknet_state *s, const uint8_t *b, size_t len, int dir, double at_ms, event_sink *sink) {
  /* Validate before acting on any frame: garbage must not close or re-key the session. */
  if (!check_data_frames(b, len)) {
    s->malformed++;
    return;
  }
  count_sequence(s, dir, u24le(b + 1));
  size_t offset = DATA_HEADER_LENGTH, message_at, payload_length;
  while (offset < len && read_frame(b, len, offset, &offset, &message_at, &payload_length)) {
    if (message_at != SIZE_MAX) observe_message(s, b + message_at, payload_length, dir, at_ms);
  }
  open_session(s, sink, at_ms);
  if (s->flags & FLAG_DISCONNECT_SEEN) close_session(s, sink, at_ms, GM_CLOSE_PROTOCOL_DISCONNECT);
}

static void raknet_init(void *raw, const gm_tracker_config *config) {
  (void)config; /* RakNet has no variant that changes tracking */
  raknet_state *s = raw;
  memset(s, 0, sizeof *s);
  s->upstream_rtt_ms = NAN;
  s->downstream_rtt_ms = NAN;
}

static int raknet_observe(void *raw, const uint8_t *data, size_t len, int dir, double at_ms, gm_event *events,
                          int max_events) {
  raknet_state *s = raw;
  dir = dir == GM_DIR_REVERSE ? GM_DIR_REVERSE : GM_DIR_FORWARD;
  event_sink sink = {events, max_events, 0};
  const uint8_t first = len > 0 ? data[0] : 0;
  if (len > 0 && (first & DATA_FLAGS_MASK) == DATAGRAM_VALID) observe_data(s, data, len, dir, at_ms, &sink);
  else if (len > 0 && (first == DATAGRAM_ACK || first == DATAGRAM_NAK)) observe_ack(s, data, len);
  else observe_offline(s, data, len, at_ms, &sink);
  return sink.count;
}

static const char *const RAKNET_STAT_NAMES[] = {
    "mtu",          "protocolVersion", "hasSecurity",   "handshakeSeen",  "forwardDatagrams",
    "reverseDatagrams", "forwardSequenceGaps", "reverseSequenceGaps", "ackDatagrams", "nakDatagrams",
    "ackCount",     "nakCount",        "lossRatio",     "rttMs",          "upstreamRttMs",
    "downstreamRttMs", "offlineMessages", "malformedDatagrams",
};

#define RAKNET_STAT_COUNT ((int)(sizeof RAKNET_STAT_NAMES / sizeof RAKNET_STAT_NAMES[0]))

static void raknet_stats(const void *raw, double *out) {
  const raknet_state *s = raw;
  const double acked = s->ack_count + s->nak_count;
  const double up = s->upstream_rtt_ms, down = s->downstream_rtt_ms;
  int i = 0;
  out[i++] = (s->flags & FLAG_MTU) ? (double)s->mtu : NAN;
  out[i++] = (s->flags & FLAG_PROTOCOL_VERSION) ? (double)s->protocol_version : NAN;
  out[i++] = s->has_security == SECURITY_UNKNOWN ? NAN : (s->has_security == SECURITY_ON ? 1 : 0);
  out[i++] = (s->flags & FLAG_HANDSHAKE_SEEN) ? 1 : 0;
  out[i++] = s->datagrams[GM_DIR_FORWARD];
  out[i++] = s->datagrams[GM_DIR_REVERSE];
  out[i++] = (double)s->gaps[GM_DIR_FORWARD];
  out[i++] = (double)s->gaps[GM_DIR_REVERSE];
  out[i++] = s->ack_datagrams;
  out[i++] = s->nak_datagrams;
  out[i++] = s->ack_count;
  out[i++] = s->nak_count;
  /* RakNet resends NAKed frames under new sequence numbers: a NAKed number is never ACKed later. */
  out[i++] = acked == 0 ? NAN : s->nak_count / acked;
  /* The client-to-server round trip through the observer: the latest of each leg, or the one leg. */
  out[i++] = isnan(up) && isnan(down) ? NAN : (isnan(up) ? 0 : up) + (isnan(down) ? 0 : down);
  out[i++] = up;
  out[i++] = down;
  out[i++] = s->offline_messages;
  out[i++] = s->malformed;
}

const gm_protocol_ops gm_raknet_ops = {"raknet",          raknet_init,      raknet_observe,
                                       raknet_stats,      RAKNET_STAT_NAMES, RAKNET_STAT_COUNT};
