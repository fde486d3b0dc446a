/*
 * gamemesh native protocol trackers: the per-session state machines of the
 * four built-in protocols, run on the I/O thread for every forwarded
 * datagram. They mirror the TypeScript trackers in packages/protocols
 * (same lifecycle events, same statistics); a differential test holds them to
 * it. Rules: no allocation, no syscalls, no global mutable state, never read
 * past `len`, constant memory per session (the state is inline in the flow
 * table entry).
 */
#ifndef GM_TRACKER_H
#define GM_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol ids. Stable: they cross the N-API boundary and appear in shared memory. */
enum gm_proto {
  GM_PROTO_NONE = 0, /* unknown / opaque flow: forwarded, not tracked */
  GM_PROTO_RAKNET = 1,
  GM_PROTO_KCP = 2,
  GM_PROTO_NETCODE = 3,
  GM_PROTO_RTP = 4,
  GM_PROTO_RTCP = 5,
  GM_PROTO_COUNT = 6
};

enum gm_dir { GM_DIR_FORWARD = 0, GM_DIR_REVERSE = 1 };

/* Close reasons, in the order of CLOSE_REASONS in packages/core/src/protocol.ts (index + 1). */
enum gm_close_reason {
  GM_CLOSE_NONE = 0,
  GM_CLOSE_PROTOCOL_DISCONNECT = 1,
  GM_CLOSE_BYE = 2,
  GM_CLOSE_DENIED = 3,
  GM_CLOSE_IDLE = 4,
  GM_CLOSE_EVICTED = 5,
  GM_CLOSE_PROXY_SHUTDOWN = 6,
  GM_CLOSE_PLUGIN_ERROR = 7
};

enum gm_event_type { GM_EVENT_OPENED = 1, GM_EVENT_CLOSED = 2 };

enum gm_key_kind {
  GM_KEY_NONE = 0,
  GM_KEY_U64 = 1,   /* numeric id (KCP conv, RTP SSRC, RakNet GUID, kcp2k cookie): TS prints it in decimal */
  GM_KEY_BYTES = 2  /* byte string (netcode token tag, 16 bytes): TS prints it as lowercase hex */
};

typedef struct gm_key {
  uint8_t kind; /* enum gm_key_kind */
  uint8_t len;  /* bytes used in `bytes` when kind == GM_KEY_BYTES */
  uint64_t u64;
  uint8_t bytes[16];
} gm_key;

typedef struct gm_event {
  uint8_t type;   /* enum gm_event_type */
  uint8_t reason; /* enum gm_close_reason, for GM_EVENT_CLOSED */
  gm_key key;
  double at_ms;   /* arrival time of the datagram that caused it, ms since the epoch */
} gm_event;

/* Per-session configuration handed over when the flow is classified. */
typedef struct gm_tracker_config {
  uint8_t variant;        /* protocol-specific variant id (see each protocol's header) */
  uint32_t clock_rate_hz; /* RTP: media clock if known from PT/config (0 = unknown: estimate from SRs) */
  uint32_t max_push_len;  /* KCP: largest PUSH payload accepted (0 = default 1476) */
} gm_tracker_config;

/*
 * Statistics are a fixed array of doubles; NaN means "not known" (null in TS).
 * Each protocol names its slots (see gm_protocol_ops.stat_names); the names
 * are exactly the TypeScript tracker's stats() keys for the same values.
 */
#define GM_STATS_MAX 32

/* Inline per-session state. Size-bounded: the whole flow entry must stay <= 300 bytes. */
#define GM_TRACKER_STATE_BYTES 160

typedef struct gm_tracker {
  uint8_t proto; /* enum gm_proto */
  uint8_t opened;
  uint8_t closed;
  uint8_t pad[5];
  _Alignas(8) uint8_t state[GM_TRACKER_STATE_BYTES];
} gm_tracker;

typedef struct gm_protocol_ops {
  const char *name; /* the TS protocol name: "raknet", "kcp", "netcode", "rtp", "rtcp" */
  void (*init)(void *state, const gm_tracker_config *config);
  /* Feeds one datagram; writes up to `max_events` events; returns how many. */
  int (*observe)(void *state, const uint8_t *data, size_t len, int dir, double at_ms,
                 gm_event *events, int max_events);
  /* Fills stats[0..stat_count) (NaN = null). */
  void (*stats)(const void *state, double *stats);
  const char *const *stat_names;
  int stat_count;
} gm_protocol_ops;

/* Per-protocol ops, one per source file in this folder. */
extern const gm_protocol_ops gm_raknet_ops;
extern const gm_protocol_ops gm_kcp_ops;
extern const gm_protocol_ops gm_netcode_ops;
extern const gm_protocol_ops gm_rtp_ops;
extern const gm_protocol_ops gm_rtcp_ops;

/* Dispatch (gm_tracker.c). */
const gm_protocol_ops *gm_protocol(int proto);
void gm_tracker_init(gm_tracker *t, int proto, const gm_tracker_config *config);
int gm_tracker_observe(gm_tracker *t, const uint8_t *data, size_t len, int dir, double at_ms,
                       gm_event *events, int max_events);
int gm_tracker_stats(const gm_tracker *t, double *stats); /* returns stat_count */

#ifdef __cplusplus
}
#endif

#endif
