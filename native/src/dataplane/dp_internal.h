/* Internal structures of the data plane, shared by its .c files only. */
#ifndef GM_DP_INTERNAL_H
#define GM_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "dataplane/dp_addr.h"
#include "dataplane/gm_dataplane.h"

/* ---- Flow table ---- */

enum dp_flow_state {
  DP_FLOW_FREE = 0,
  DP_FLOW_PENDING = 1, /* waiting for TS's answer; its datagrams go to the new-flow queue */
  DP_FLOW_ACTIVE = 2,  /* forwarded natively, tracker observed */
  DP_FLOW_CLOSED = 3,  /* the protocol closed the session: still forwarded, no longer tracked, until idle */
  DP_FLOW_DENIED = 4   /* TS said drop: datagrams dropped until idle */
};

/*
 * One session. The tracker comes first (8-byte aligned state); then what the
 * per-packet path touches. Kept small because it is the per-session memory:
 * timestamps are a double (first arrival) and a u32 of monotonic ms since the
 * thread's epoch (last arrival: also the idle clock), packet counters are u32
 * (a session's counts wrap after 2^32 datagrams one way; the thread counters
 * are u64), byte counters u64.
 */
typedef struct dp_flow {
  gm_tracker tracker;    /* 168 */
  gm_dp_addr client;     /* 20 */
  gm_dp_addr upstream;   /* 20: the pod */
  uint32_t gen;
  /* Index into the thread's upstream sockets (DP_NONE = none); while the entry is free, the next free entry. */
  uint32_t upstream_sock;
  uint8_t listener;      /* < GM_DP_MAX_LISTENERS */
  uint8_t state;         /* enum dp_flow_state */
  uint8_t pending_count; /* datagrams queued to TS while pending */
  uint8_t opened_emitted;
  uint32_t last_ms;      /* monotonic ms since dp_thread.epoch_mono_ms of the last datagram */
  uint32_t packets[2];
  uint64_t bytes[2];
  double first_at;       /* ms since the Unix epoch */
} dp_flow;

_Static_assert(sizeof(dp_flow) <= 256, "a flow table entry must stay within 256 bytes");
_Static_assert(GM_DP_MAX_LISTENERS <= 256, "dp_flow.listener is a u8");

#define DP_NONE UINT32_MAX

/*
 * Index words: (5-bit hash tag << 27) | (entry + 1); 0 = empty. The tag skips
 * most entries whose key differs without touching them (a cache miss each).
 */
#define DP_INDEX_SLOT_BITS 27
#define DP_INDEX_SLOT_MASK ((1u << DP_INDEX_SLOT_BITS) - 1)
_Static_assert((1u << 26) < DP_INDEX_SLOT_MASK, "entry numbers (max_sessions <= 2^26) fit below the tag");

typedef struct dp_table {
  uint32_t capacity;    /* entries */
  uint32_t used;
  /* Entries handed out at least once: [0, high_water) have been touched, the rest of the mapping never was. */
  _Atomic uint32_t high_water;
  uint32_t free_head;   /* LIFO list of freed entries (reused before untouched ones), DP_NONE = empty */
  uint32_t index_size;  /* words per index: capacity * 3/2, so load <= 2/3 */
  dp_flow *flows;       /* mmap'd, MAP_NORESERVE: untouched capacity costs no memory */
  uint32_t *by_client;  /* key (listener, client) */
  uint32_t *by_reverse; /* key (upstream socket, pod address) */
  /*
   * Accepted routing tokens by slot, GM_DP_MAX_TOKEN_SUFFIX bytes each: kept
   * out of dp_flow so sessions without a token pay nothing for them. Mapped
   * like the entries (MAP_NORESERVE); only token flows write to it, so only
   * the pages of their slots are ever backed.
   */
  uint8_t *tokens;
  /* Slots below this may have written a token (for the memory accounting). */
  _Atomic uint32_t token_high_water;
} dp_table;

int dp_table_init(dp_table *table, uint32_t capacity);
void dp_table_free(dp_table *table);
dp_flow *dp_table_find(dp_table *table, uint8_t listener, const gm_dp_addr *client);
dp_flow *dp_table_find_reverse(dp_table *table, uint32_t upstream_sock, const gm_dp_addr *pod);
/* Takes a free entry and indexes it by client; NULL when full. */
dp_flow *dp_table_insert(dp_table *table, uint8_t listener, const gm_dp_addr *client);
/* Indexes the flow by (upstream_sock, upstream) once both are set. */
void dp_table_link_reverse(dp_table *table, dp_flow *flow);
void dp_table_remove(dp_table *table, dp_flow *flow);
static inline uint32_t dp_table_slot(const dp_table *table, const dp_flow *flow) {
  return (uint32_t)(flow - table->flows);
}
static inline uint32_t dp_table_high_water(const dp_table *table) {
  return atomic_load_explicit(&table->high_water, memory_order_relaxed);
}
/* The token bytes of a flow's slot (written when a token flow is answered, compared on every datagram). */
static inline uint8_t *dp_table_token(dp_table *table, const dp_flow *flow) {
  return table->tokens + (size_t)dp_table_slot(table, flow) * GM_DP_MAX_TOKEN_SUFFIX;
}
/* Stores a flow's accepted token (len <= GM_DP_MAX_TOKEN_SUFFIX). */
void dp_table_set_token(dp_table *table, const dp_flow *flow, const uint8_t *token, size_t len);
/* Zeroed anonymous memory reserved lazily (pages are backed when first written); NULL on failure. */
void *dp_map_zeroed(size_t bytes);
void dp_unmap(void *memory, size_t bytes);

/* ---- Upstream sockets (local ports reused across destinations) ---- */

typedef struct dp_upstream_sock {
  int fd;
  uint8_t family;
  /* Bound to an explicit port, so connect() and disconnecting keep the local port. */
  uint8_t port_locked;
  /*
   * connect()ed to the pod of its one flow: datagrams go out without an
   * address, on the socket's cached route (an unconnected send looks the
   * route up and copies the address in for every datagram).
   */
  uint8_t connected;
  uint8_t gso; /* enum dp_gso_state */
  uint32_t flows;
} dp_upstream_sock;

typedef struct dp_dest {
  gm_dp_addr addr;
  uint32_t flows; /* flows to this destination; 0 = empty entry */
  uint32_t hint;  /* lowest socket index that may be free for this destination */
} dp_dest;

typedef struct dp_upstreams {
  uint32_t count, capacity;
  dp_upstream_sock *socks;
  uint32_t dest_mask;
  dp_dest *dests;
} dp_upstreams;

/* ---- Rings: single producer (the I/O thread), single consumer (the control thread) ---- */

typedef struct dp_queued {
  gm_dp_flow_ref flow;
  uint16_t listener;
  gm_dp_addr client;
  double at_ms;
  uint32_t len;
} dp_queued;

typedef struct dp_queue {
  uint32_t mask, slot_bytes;
  _Atomic uint32_t head; /* written by the producer */
  _Atomic uint32_t tail; /* written by the consumer */
  dp_queued *entries;
  uint8_t *data;
} dp_queue;

typedef struct dp_event_ring {
  uint32_t mask;
  _Atomic uint32_t head;
  _Atomic uint32_t tail;
  gm_dp_event *events;
} dp_event_ring;

#define DP_SOURCE_BUCKETS 4096
typedef struct dp_source_bucket {
  float tokens;
  uint32_t last_ms;
} dp_source_bucket;

/* ---- Threads ---- */

enum dp_command_type { DP_CMD_LISTENER = 1, DP_CMD_UPSTREAM, DP_CMD_ANSWER, DP_CMD_DROP, DP_CMD_SNAPSHOT, DP_CMD_CLOSE };

/* The control thread waits on this until every I/O thread it asked has written its snapshot rows. */
typedef struct dp_snapshot_wait {
  pthread_mutex_t lock;
  pthread_cond_t done;
  uint32_t remaining;
} dp_snapshot_wait;

typedef struct dp_command {
  struct dp_command *next;
  int type;
  int listener;
  int fd;
  gm_dp_listener_config config;
  gm_dp_flow_ref flow;
  int close_reason; /* DP_CMD_CLOSE: enum gm_close_reason */
  gm_dp_assign assign;
  size_t held_count;
  gm_dp_datagram *held; /* points into the same allocation */
  /* DP_CMD_SNAPSHOT: rows[i] (GM_DP_SESSION_WORDS doubles) for local slot slots[i]; caller-owned. */
  size_t snapshot_count;
  const uint32_t *slots;
  double *rows;
  dp_snapshot_wait *wait;
} dp_command;

/*
 * Whether a socket sends runs of equal-size datagrams as one UDP GSO send
 * (dp_send.c): probed on its first run, switched off for good when the
 * kernel or the device cannot segment for it.
 */
enum dp_gso_state { DP_GSO_UNPROBED = 0, DP_GSO_ON = 1, DP_GSO_OFF = 2 };

typedef struct dp_listener {
  int fd; /* -1 when unused */
  uint8_t gso; /* enum dp_gso_state */
  gm_dp_listener_config config;
} dp_listener;


struct gm_dp;

typedef struct dp_thread {
  struct gm_dp *dp;
  uint32_t index;
  pthread_t tid;
  int started;
  int epfd;
  int wake_fd; /* eventfd: commands and stop */
  pthread_mutex_t lock;
  dp_command *commands;
  int exited; /* under lock: the thread no longer runs commands (snapshot requests are refused) */
  dp_listener listeners[GM_DP_MAX_LISTENERS];
  dp_table table;
  dp_upstreams ups;
  dp_queue queue;
  dp_event_ring events;
  dp_source_bucket *budget;
  double flow_tokens; /* the thread-wide budget of datagrams queued for TS */
  uint64_t flow_tokens_ms;
  uint64_t *counters; /* this thread's block in shared memory */
  uint32_t slot_base; /* global slot of local slot 0 */
  /* dp_flow.last_ms counts from here; the real-time clock at the same instant dates it for snapshots. */
  uint64_t epoch_mono_ms;
  double epoch_real_ms;
  uint32_t gen_counter;
  uint64_t next_sweep_ms;
  int pushed; /* something went into a ring during this batch */
  /* Receive and send batches. */
  uint8_t *rx_data;
  /* Headers the last recvmmsg filled in: only their msg_namelen and msg_flags need resetting before the next. */
  uint32_t rx_dirty;
  struct mmsghdr rx[GM_DP_MAX_BATCH];
  struct iovec rx_iov[GM_DP_MAX_BATCH];
  struct sockaddr_in6 rx_from[GM_DP_MAX_BATCH];
  uint32_t tx_count;
  int tx_fd[GM_DP_MAX_BATCH];
  uint8_t *tx_gso[GM_DP_MAX_BATCH]; /* the sending socket's enum dp_gso_state (listener or upstream entry) */
  struct mmsghdr tx[GM_DP_MAX_BATCH];
  struct iovec tx_iov[GM_DP_MAX_BATCH];
  struct sockaddr_in6 tx_to[GM_DP_MAX_BATCH];
  int tx_counter_packets[GM_DP_MAX_BATCH];
} dp_thread;

struct gm_dp {
  gm_dp_options options;
  uint32_t per_thread;
  _Atomic int stopping;
  _Atomic int stopped;
  _Atomic int wake_pending;
  pthread_mutex_t control_lock; /* serializes control calls (listener ids) */
  int listener_count;
  dp_thread *threads;
};

/* Counters: one writer (the owning I/O thread); relaxed stores keep readers tear-free. */
static inline void dp_count(dp_thread *t, int counter, uint64_t value) {
  uint64_t *c = &t->counters[counter];
  __atomic_store_n(c, *c + value, __ATOMIC_RELAXED);
}
static inline void dp_gauge(dp_thread *t, int counter, uint64_t value) {
  __atomic_store_n(&t->counters[counter], value, __ATOMIC_RELAXED);
}

/* epoll tags: kind in the high half, index in the low half. */
enum dp_tag_kind { DP_TAG_WAKE = 1, DP_TAG_LISTENER = 2, DP_TAG_UPSTREAM = 3 };
static inline uint64_t dp_tag(uint32_t kind, uint32_t index) { return (uint64_t)kind << 32 | index; }

/* Socket buffers sized for bursts: ~20k small datagrams (the kernel charges ~1 KB each). */
#define DP_SOCKET_BUFFER_BYTES (16 * 1024 * 1024)
void dp_socket_tune(int fd);

/* dp_upstream.c */
int dp_upstreams_init(dp_upstreams *ups, uint32_t capacity);
void dp_upstreams_free(dp_upstreams *ups);
/* Picks (or opens) a socket with no flow to `pod` yet; returns its index or -1 (errno set). */
int dp_upstream_acquire(dp_thread *t, const gm_dp_addr *pod);
void dp_upstream_release(dp_thread *t, uint32_t sock, const gm_dp_addr *pod);

/* dp_rings.c */
int dp_rings_init(dp_thread *t, const gm_dp_options *options);
void dp_rings_free(dp_thread *t);
int dp_queue_push(dp_thread *t, const dp_queued *entry, const uint8_t *data);
int dp_event_push(dp_thread *t, const gm_dp_event *event);
int dp_source_allow(dp_thread *t, const gm_dp_addr *source, uint64_t now_ms);
int dp_flow_budget_allow(dp_thread *t, uint64_t now_ms);

/* dp_send.c: sends the batch in runs per socket (and GSO groups per destination), then empties it. */
void dp_tx_flush(dp_thread *t);
/* Sends the batch now if it holds datagrams for `fd` (before that socket is connected or disconnected). */
void dp_tx_flush_socket(dp_thread *t, int fd);

/* dp_io.c */
void *dp_thread_main(void *arg);
void dp_thread_shutdown_sessions(dp_thread *t, double now_ms);
void dp_thread_run_command(dp_thread *t, dp_command *cmd, double now_ms, uint64_t mono_ms);
/* Completes a snapshot command (also used when the thread exits with requests still queued). */
void dp_snapshot_run(dp_thread *t, dp_command *cmd, uint64_t mono_ms);

/* dp_session.c */
static inline uint32_t dp_rel_ms(const dp_thread *t, uint64_t mono_ms) {
  return (uint32_t)(mono_ms - t->epoch_mono_ms); /* wraps after 49 days: only differences are used */
}
/* Writes one snapshot row for a local slot (state 0 when no opened session holds it). */
void dp_session_snapshot(dp_thread *t, uint32_t local, uint64_t mono_ms, double *row);
void dp_flow_emit(dp_thread *t, dp_flow *flow, int type, int reason, const gm_key *key, double at_ms);
void dp_flow_close(dp_thread *t, dp_flow *flow, int reason, double at_ms);
void dp_flow_remove(dp_thread *t, dp_flow *flow, int reason, double at_ms);
double dp_now_ms(void);
uint64_t dp_mono_ms(void);

#endif
