/* Internal structures of the data plane, shared by its .c files only. */
#ifndef GM_DP_INTERNAL_H
#define GM_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "dataplane/gm_dataplane.h"

/* ---- Flow table ---- */

enum dp_flow_state {
  DP_FLOW_FREE = 0,
  DP_FLOW_PENDING = 1, /* waiting for TS's answer; its datagrams go to the new-flow queue */
  DP_FLOW_ACTIVE = 2,  /* forwarded natively, tracker observed */
  DP_FLOW_CLOSED = 3,  /* the protocol closed the session: still forwarded, no longer tracked, until idle */
  DP_FLOW_DENIED = 4   /* TS said drop: datagrams dropped until idle */
};

typedef struct dp_flow {
  gm_dp_addr client;     /* 20 */
  gm_dp_addr upstream;   /* 20: the pod */
  uint16_t listener;
  uint8_t state;         /* enum dp_flow_state */
  uint8_t pending_count; /* datagrams queued to TS while pending */
  uint8_t opened_emitted;
  uint8_t pad[3];
  uint32_t gen;
  uint32_t upstream_sock; /* index into the thread's upstream sockets; UINT32_MAX = none */
  uint32_t since_stats;   /* datagrams since the shared stats block was refreshed */
  uint32_t next_free;
  uint64_t packets[2];
  uint64_t bytes[2];
  double first_at;
  double last_at;
  uint64_t last_mono_ms;
  gm_tracker tracker;
} dp_flow;

_Static_assert(sizeof(dp_flow) <= 300, "a flow table entry must stay within 300 bytes");

typedef struct dp_table {
  uint32_t capacity;    /* entries */
  uint32_t used;
  uint32_t mask;        /* index size - 1 */
  uint32_t free_head;   /* free list of entries, UINT32_MAX = empty */
  dp_flow *flows;
  uint32_t *by_client;  /* slot + 1, 0 = empty; key (listener, client) */
  uint32_t *by_reverse; /* slot + 1; key (upstream socket, pod address) */
} dp_table;

int dp_table_init(dp_table *table, uint32_t capacity);
void dp_table_free(dp_table *table);
dp_flow *dp_table_find(dp_table *table, uint16_t listener, const gm_dp_addr *client);
dp_flow *dp_table_find_reverse(dp_table *table, uint32_t upstream_sock, const gm_dp_addr *pod);
/* Takes a free entry and indexes it by client; NULL when full. */
dp_flow *dp_table_insert(dp_table *table, uint16_t listener, const gm_dp_addr *client);
/* Indexes the flow by (upstream_sock, upstream) once both are set. */
void dp_table_link_reverse(dp_table *table, dp_flow *flow);
void dp_table_remove(dp_table *table, dp_flow *flow);
static inline uint32_t dp_table_slot(const dp_table *table, const dp_flow *flow) {
  return (uint32_t)(flow - table->flows);
}

/* ---- Upstream sockets (local ports reused across destinations) ---- */

typedef struct dp_upstream_sock {
  int fd;
  uint8_t family;
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

enum dp_command_type { DP_CMD_LISTENER = 1, DP_CMD_UPSTREAM, DP_CMD_ANSWER, DP_CMD_DROP };

typedef struct dp_command {
  struct dp_command *next;
  int type;
  int listener;
  int fd;
  gm_dp_listener_config config;
  gm_dp_flow_ref flow;
  gm_dp_assign assign;
  size_t held_count;
  gm_dp_datagram *held; /* points into the same allocation */
} dp_command;

typedef struct dp_listener {
  int fd; /* -1 when unused */
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
  dp_listener listeners[GM_DP_MAX_LISTENERS];
  dp_table table;
  dp_upstreams ups;
  dp_queue queue;
  dp_event_ring events;
  dp_source_bucket *budget;
  double flow_tokens; /* the thread-wide budget of datagrams queued for TS */
  uint64_t flow_tokens_ms;
  uint64_t *counters; /* this thread's block in shared memory */
  double *sessions;   /* this thread's first session block in shared memory */
  uint32_t slot_base; /* global slot of local slot 0 */
  uint32_t gen_counter;
  uint64_t next_sweep_ms;
  int pushed; /* something went into a ring during this batch */
  /* Receive and send batches. */
  uint8_t *rx_data;
  struct mmsghdr rx[GM_DP_MAX_BATCH];
  struct iovec rx_iov[GM_DP_MAX_BATCH];
  struct sockaddr_in6 rx_from[GM_DP_MAX_BATCH];
  uint32_t tx_count;
  int tx_fd[GM_DP_MAX_BATCH];
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

/* dp_addr.c */
uint32_t dp_hash_addr(const gm_dp_addr *addr, uint32_t seed);
int dp_addr_equal(const gm_dp_addr *a, const gm_dp_addr *b);
void dp_addr_from_sockaddr(gm_dp_addr *out, const struct sockaddr_in6 *from);
socklen_t dp_addr_to_sockaddr(const gm_dp_addr *addr, struct sockaddr_in6 *out);

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

/* dp_io.c */
void *dp_thread_main(void *arg);
void dp_thread_shutdown_sessions(dp_thread *t, double now_ms);
void dp_thread_run_command(dp_thread *t, dp_command *cmd, double now_ms, uint64_t mono_ms);

/* dp_session.c */
void dp_session_publish(dp_thread *t, dp_flow *flow);
void dp_session_clear(dp_thread *t, dp_flow *flow);
void dp_flow_emit(dp_thread *t, dp_flow *flow, int type, int reason, const gm_key *key, double at_ms);
void dp_flow_close(dp_thread *t, dp_flow *flow, int reason, double at_ms);
void dp_flow_remove(dp_thread *t, dp_flow *flow, int reason, double at_ms);
double dp_now_ms(void);
uint64_t dp_mono_ms(void);

#endif
