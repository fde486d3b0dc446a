/*
 * gamemesh native data plane: UDP listeners, per-thread flow tables, upstream
 * sockets and batched forwarding (epoll + recvmmsg/sendmmsg). Plain C with no
 * N-API, so the same code runs inside the addon (src/addon.c) and inside the
 * standalone sanitizer program (test/sanitize/dataplane_lsan.c).
 *
 * Threads: each I/O thread owns its epoll, its listener sockets (SO_REUSEPORT
 * shards when threads > 1), its flow table, its upstream sockets, its new-flow
 * queue and its event ring; nothing on the per-packet path takes a lock. The
 * control thread (JS) talks to an I/O thread only through its command list
 * (mutex + eventfd: per new flow or per snapshot, never per packet) and reads
 * the single-producer rings and the shared counters.
 */
#ifndef GM_DATAPLANE_H
#define GM_DATAPLANE_H

#include <stddef.h>
#include <stdint.h>

#include "trackers/gm_tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GM_DP_MAX_THREADS 64
#define GM_DP_MAX_LISTENERS 64
#define GM_DP_MAX_BATCH 64

/* Error codes (negative returns). The addon maps each to a GM_NATIVE_* code. */
enum gm_dp_error {
  GM_DP_OK = 0,
  GM_DP_E_ARGS = -1,      /* an argument is out of range */
  GM_DP_E_NOMEM = -2,     /* allocation failed */
  GM_DP_E_SOCKET = -3,    /* socket()/bind() failed: errno in *sys_errno */
  GM_DP_E_THREAD = -4,    /* pthread_create or epoll/eventfd failed */
  GM_DP_E_LIMIT = -5,     /* GM_DP_MAX_LISTENERS reached */
  GM_DP_E_LISTENER = -6,  /* no such listener */
  GM_DP_E_STOPPED = -7    /* the data plane was stopped */
};

/* A UDP endpoint: family 4 or 6, port in host order, address bytes (4 or 16 used). */
typedef struct gm_dp_addr {
  uint8_t family;
  uint8_t pad;
  uint16_t port;
  uint8_t ip[16];
} gm_dp_addr;

/* Listener routing modes (docs/native.md). */
enum gm_dp_mode { GM_DP_MODE_PORT = 0, GM_DP_MODE_KEY = 1 };

/* Marks a listener whose flows all go to TS for classification. */
#define GM_DP_PROTO_ASK 0xff

/*
 * Longest routing-token suffix a listener may strip (docs/native.md "Token
 * suffix"): also the stride of the per-thread token store, so it stays small.
 */
#define GM_DP_MAX_TOKEN_SUFFIX 32

typedef struct gm_dp_listener_config {
  uint8_t mode;           /* enum gm_dp_mode */
  uint8_t fixed_proto;    /* GM_DP_PROTO_ASK, or a gm_proto opened without asking (port mode only) */
  uint8_t has_upstream;   /* port mode: upstream is set */
  gm_dp_addr upstream;
  gm_tracker_config tracker; /* for fixed_proto */
  /*
   * Bytes of routing token the client appends to every datagram (0 = none,
   * at most GM_DP_MAX_TOKEN_SUFFIX; needs fixed_proto GM_DP_PROTO_ASK, since
   * TS accepts the token). Shorter datagrams are dropped (drop_token_missing);
   * a new flow's datagrams reach TS with the suffix; an answered flow's must
   * end with the token accepted for it (else drop_token_mismatch) and are
   * forwarded without it.
   */
  uint8_t token_suffix;
} gm_dp_listener_config;

typedef struct gm_dp_options {
  uint32_t threads;        /* I/O threads, 1..GM_DP_MAX_THREADS */
  uint32_t max_sessions;   /* flow table capacity over all threads */
  uint32_t queue_capacity; /* new-flow datagrams per thread queue (rounded up to a power of two) */
  uint32_t event_capacity; /* lifecycle events per thread ring (rounded up to a power of two) */
  uint32_t idle_ms;        /* idle backstop of a classified flow */
  uint32_t pending_ms;     /* how long a flow may wait for TS's answer */
  uint32_t sweep_ms;       /* idle sweep cadence */
  uint32_t batch;          /* recvmmsg/sendmmsg batch, 1..GM_DP_MAX_BATCH */
  uint32_t max_datagram;   /* receive buffer per datagram; larger ones are dropped (oversize) */
  uint32_t pending_window; /* datagrams of a pending flow sent to TS; the rest are dropped */
  double source_burst;     /* per-source new-flow budget: bucket size (datagrams) */
  double source_rate;      /* per-source new-flow budget: refill per second */
  double flow_burst;       /* per-thread budget of datagrams queued for TS: bucket size */
  double flow_rate;        /* per-thread budget of datagrams queued for TS: refill per second */
  /*
   * Nonzero: a run of equal-size datagrams to one destination (the last may
   * be shorter) leaves as one UDP GSO send, segmented by the kernel after the
   * qdiscs (docs/native.md "Send path"); 0: one datagram per message always.
   */
  uint32_t gso;
  /* Called from an I/O thread when the queue or event ring went from drained to non-empty. */
  void (*notify)(void *ctx);
  void *notify_ctx;
  /* Caller-owned, zeroed, 8-byte aligned, gm_dp_shared_bytes() long; must outlive the data plane. */
  void *shared;
} gm_dp_options;

/* ---- Shared memory: the per-thread counters (read by TS without a call; see docs/native.md). ---- */

#define GM_DP_COUNTERS(X)                                                         \
  X(rx_client_packets) X(rx_client_bytes) X(tx_upstream_packets) X(tx_upstream_bytes) \
  X(rx_upstream_packets) X(rx_upstream_bytes) X(tx_client_packets) X(tx_client_bytes) \
  X(flows_active) X(flows_created) X(flows_removed) X(sessions_opened) X(sessions_closed) \
  X(queue_depth) X(queue_enqueued) X(events_pushed) X(events_dropped) X(upstream_sockets) \
  X(sweeps) X(closed_protocol_disconnect) X(closed_bye) X(closed_denied) X(closed_idle) \
  X(closed_evicted) X(closed_proxy_shutdown) X(closed_plugin_error)                  \
  X(drop_oversize) X(drop_queue_full) X(drop_source_budget) X(drop_new_flow_rate) X(drop_pending_window)  \
  X(drop_table_full) X(drop_flow_denied) X(drop_unknown_source)    \
  X(drop_send_error) X(drop_upstream_socket) X(drop_pending_timeout)             \
  X(drop_token_missing) X(drop_token_mismatch)                                    \
  X(tx_gso_sends) X(tx_gso_segments) X(tx_gso_fallbacks)

#define GM_DP_COUNTER_ENUM(name) GM_DP_C_##name,
enum gm_dp_counter { GM_DP_COUNTERS(GM_DP_COUNTER_ENUM) GM_DP_COUNTER_COUNT };
#undef GM_DP_COUNTER_ENUM

extern const char *const gm_dp_counter_names[GM_DP_COUNTER_COUNT];

/* Words (8 bytes) per thread counter block: a multiple of 8 so blocks never share a cache line. */
#define GM_DP_COUNTER_STRIDE (((GM_DP_COUNTER_COUNT + 7) / 8) * 8)

/*
 * A session snapshot row (doubles), as gm_dp_sessions() writes it. Sessions
 * have no memory of their own outside the flow table: a snapshot is computed
 * from the flow entry by its I/O thread when asked.
 */
enum gm_dp_session_word {
  GM_DP_S_GEN = 0,       /* generation of the flow that holds the slot (from its events) */
  GM_DP_S_PROTO,
  GM_DP_S_STATE,         /* 0 no session, 1 open, 2 closed (lingering until idle) */
  GM_DP_S_PACKETS_FWD,
  GM_DP_S_BYTES_FWD,
  GM_DP_S_PACKETS_REV,
  GM_DP_S_BYTES_REV,
  GM_DP_S_FIRST_AT,
  GM_DP_S_LAST_AT,
  GM_DP_S_STAT_COUNT,
  GM_DP_S_LISTENER,
  GM_DP_S_STATS = 11     /* GM_STATS_MAX doubles, NaN = null, named by the protocol's stat_names */
};
#define GM_DP_SESSION_WORDS (GM_DP_S_STATS + GM_STATS_MAX)

/* Slots per thread: session slot = thread * per_thread + local slot. */
uint32_t gm_dp_slots_per_thread(const gm_dp_options *options);
/* Bytes of the shared memory: the counter blocks only. */
size_t gm_dp_shared_bytes(const gm_dp_options *options);

/* ---- Flows and events ---- */

/* Names a flow across the API boundary; a stale ref (generation moved on) is ignored. */
typedef struct gm_dp_flow_ref {
  uint32_t thread;
  uint32_t slot; /* session slot (global) */
  uint32_t gen;
} gm_dp_flow_ref;

/* One datagram of a not-yet-classified flow, as queued for TS. */
typedef struct gm_dp_new_datagram {
  gm_dp_flow_ref flow;
  uint16_t listener;
  gm_dp_addr client;
  double at_ms;
  uint32_t len;
  const uint8_t *data; /* valid until gm_dp_queue_pop */
} gm_dp_new_datagram;

typedef struct gm_dp_event {
  uint8_t type;   /* enum gm_event_type */
  uint8_t reason; /* enum gm_close_reason */
  uint8_t proto;
  uint16_t listener;
  gm_dp_flow_ref flow;
  gm_key key;
  double at_ms;
  gm_dp_addr client;
  gm_dp_addr upstream;
  uint64_t packets[2]; /* forward, reverse: totals at the event */
  uint64_t bytes[2];
} gm_dp_event;

/* TS's answer for a pending flow. */
typedef struct gm_dp_assign {
  uint8_t proto; /* gm_proto (GM_PROTO_NONE: forwarded, not tracked) */
  gm_tracker_config tracker;
  gm_dp_addr upstream;
  /* On a token listener: the token TS accepted (token_len = the listener's token_suffix). */
  uint8_t token_len;
  uint8_t token[GM_DP_MAX_TOKEN_SUFFIX];
} gm_dp_assign;

typedef struct gm_dp_datagram {
  const uint8_t *data;
  uint32_t len;
  double at_ms;
} gm_dp_datagram;

typedef struct gm_dp gm_dp;

int gm_dp_create(const gm_dp_options *options, gm_dp **out, int *sys_errno);
int gm_dp_add_listener(gm_dp *dp, const gm_dp_addr *bind_addr, const gm_dp_listener_config *config,
                       uint16_t *bound_port, int *sys_errno);
int gm_dp_set_upstream(gm_dp *dp, int listener, const gm_dp_addr *upstream);
/* Assigns a pending flow (or, for an assigned one, forwards late datagrams); held ones are forwarded first. */
int gm_dp_answer(gm_dp *dp, gm_dp_flow_ref flow, const gm_dp_assign *assign, const gm_dp_datagram *held,
                 size_t held_count);
int gm_dp_drop(gm_dp *dp, gm_dp_flow_ref flow);
/*
 * Closes an opened session from the control plane (e.g. an RTP flow on its
 * RTCP flow's BYE): between two batches, its I/O thread emits `closed` with
 * `reason` (GM_CLOSE_PROTOCOL_DISCONNECT..GM_CLOSE_PLUGIN_ERROR) and stops
 * tracking it; the flow is still forwarded until idle, as after a protocol
 * close. A flow not open (already closed, gone, or another generation) is left
 * as it is.
 */
int gm_dp_close_session(gm_dp *dp, gm_dp_flow_ref flow, int reason);

/* Consumer side of the per-thread rings (one consumer: the control thread). */
void gm_dp_wake_reset(gm_dp *dp);
int gm_dp_queue_peek(gm_dp *dp, uint32_t thread, gm_dp_new_datagram *out);
void gm_dp_queue_pop(gm_dp *dp, uint32_t thread);
int gm_dp_event_pop(gm_dp *dp, uint32_t thread, gm_dp_event *out);
uint32_t gm_dp_threads(const gm_dp *dp);

/*
 * Snapshots of sessions by global slot: row i (GM_DP_SESSION_WORDS doubles at
 * rows + i * GM_DP_SESSION_WORDS) for slots[i]. Each I/O thread involved fills
 * its rows between two batches, as one command; the caller blocks until all
 * are written (one wake-up per thread, not per slot). Slots out of range give
 * state 0. Not to be called concurrently with gm_dp_stop/gm_dp_destroy.
 */
int gm_dp_sessions(gm_dp *dp, const uint32_t *slots, size_t count, double *rows);

/* Memory the data plane holds, for its own accounting (docs/native.md "Memory"). */
typedef struct gm_dp_memory {
  size_t flow_entry_bytes;   /* one flow table entry */
  size_t flow_entries_touched; /* entries ever handed out (the mapping behind the rest is untouched) */
  size_t index_bytes;        /* both flow indexes of every thread (touched as sessions hash into them) */
  size_t upstream_bytes;     /* upstream socket and destination tables as allocated (touched per use) */
  size_t ring_bytes;         /* new-flow queues, event rings, source budgets, receive buffers */
  size_t shared_bytes;       /* the counters shared with TS */
  size_t token_bytes;        /* token store up to the highest slot a token flow used (mapped lazily like the entries) */
  size_t capacity;           /* flow table entries over all threads */
} gm_dp_memory;
void gm_dp_memory_usage(const gm_dp *dp, gm_dp_memory *out);

/* Stops the I/O threads (closing open sessions with proxy_shutdown into the rings); idempotent. */
void gm_dp_stop(gm_dp *dp);
/* Stops if needed, closes every socket and frees everything but the caller's shared memory. */
void gm_dp_destroy(gm_dp *dp);

/* Size of one flow table entry, for tests and docs. */
size_t gm_dp_flow_entry_bytes(void);

#ifdef __cplusplus
}
#endif

#endif
