/*
 * The GSO send path (src/dataplane/dp_send.c) under ASan/UBSan/LSan, on
 * loopback:
 *
 *   dataplane_gso
 *
 * One I/O thread, GSO on. The forward runs are deterministic: a pending
 * flow's datagrams are held here (as TS holds them) and the answer forwards
 * them in one batch. In order:
 *
 * 1. Forced fallback, mid-batch: a port-mode listener's flow A has a
 *    connected socket to a closed port; its upstream moves to pod P and, in
 *    one batch (the I/O thread is held while the datagrams are sent), A's
 *    next datagram is followed by a run of equal sizes from a new client B.
 *    B's flow takes A's socket: A's queued datagram leaves first (connected)
 *    and its ICMP port unreachable leaves ECONNREFUSED pending, then the
 *    socket turns shared. B's GSO send reports the error: the run is redone
 *    per datagram, its first dropped with the error, the rest delivered.
 * 2. 64 x 1200 B held, to a second pod: the socket of step 1 turns shared
 *    (unconnected), so the groups carry an address; two GSO sends.
 * 3. Mixed sizes (equal runs, a shorter last one, singles) on a new connected
 *    socket: the exact groups.
 * 4. Reverse: the pod sends bursts to the client through the listener socket
 *    until a batch leaves as a GSO send.
 *
 * Every datagram is checked byte for byte and in order, the counters account
 * for each one, and shutdown leaves nothing allocated and no fd open.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane_harness.h"

#define MAX_HELD 64
#define MAX_SIZE 1400
#define REVERSE_BURST 25
#define REVERSE_ROUNDS 50

/*
 * Holds the I/O thread between two batches: the notify callback (called by
 * the I/O thread after a batch that queued an event) waits while the gate is
 * armed. Datagrams sent meanwhile wait in the sockets and are read as one
 * batch when it is released, so a batch's content is chosen, not raced.
 */
static pthread_mutex_t gate_lock;
static pthread_cond_t gate_changed;
static int gate_armed, gate_held;

static int gate_init(void) {
  if (pthread_mutex_init(&gate_lock, NULL) != 0) return -1;
  return pthread_cond_init(&gate_changed, NULL);
}

static void gate_destroy(void) {
  pthread_cond_destroy(&gate_changed);
  pthread_mutex_destroy(&gate_lock);
}

static void gate_notify(void *ctx) {
  (void)ctx;
  pthread_mutex_lock(&gate_lock);
  if (gate_armed) {
    gate_held = 1;
    pthread_cond_broadcast(&gate_changed);
    while (gate_armed) pthread_cond_wait(&gate_changed, &gate_lock);
    gate_held = 0;
  }
  pthread_mutex_unlock(&gate_lock);
}

static void gate_arm(void) {
  pthread_mutex_lock(&gate_lock);
  gate_armed = 1;
  pthread_mutex_unlock(&gate_lock);
}

/* Waits (2 s at most) until the I/O thread is held; 1 when it is. */
static int gate_wait_held(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  pthread_mutex_lock(&gate_lock);
  int timed_out = 0;
  while (!gate_held && !timed_out) timed_out = pthread_cond_timedwait(&gate_changed, &gate_lock, &until) != 0;
  int held = gate_held;
  pthread_mutex_unlock(&gate_lock);
  return held;
}

static void gate_release(void) {
  pthread_mutex_lock(&gate_lock);
  gate_armed = 0;
  pthread_cond_broadcast(&gate_changed);
  pthread_mutex_unlock(&gate_lock);
}

/* Datagram `seq`: its number in the first two bytes, then a pattern; `len` >= 2. */
static void payload(uint8_t *out, size_t len, uint32_t seq) {
  for (size_t i = 0; i < len; i++) out[i] = (uint8_t)(seq * 31u + i);
  out[0] = (uint8_t)(seq >> 8);
  out[1] = (uint8_t)seq;
}

static void send_to(int fd, uint16_t port, const uint8_t *data, size_t len) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
}

/*
 * Sends datagrams seq0.. of `sizes` from a new client, takes them from the
 * new-flow queue as TS would, and answers with all of them held: the I/O
 * thread forwards them to `pod_port` in one batch. Returns 0 on failure.
 */
static int forward_held(gm_dp *dp, int client, uint16_t listener_port, const uint16_t *sizes, size_t n,
                        uint32_t seq0, uint16_t pod_port) {
  static uint8_t copies[MAX_HELD][MAX_SIZE];
  gm_dp_datagram held[MAX_HELD];
  for (size_t i = 0; i < n; i++) {
    payload(copies[i], sizes[i], seq0 + (uint32_t)i);
    send_to(client, listener_port, copies[i], sizes[i]);
  }
  gm_dp_flow_ref flow = {0};
  size_t got = 0;
  for (int tries = 0; tries < 400 && got < n; tries++) {
    gm_dp_new_datagram d;
    if (!gm_dp_queue_peek(dp, 0, &d)) {
      usleep(5000);
      continue;
    }
    CHECK(d.len == sizes[got] && memcmp(d.data, copies[got], d.len) == 0, "queued datagram %u is the sent one",
          seq0 + (uint32_t)got);
    flow = d.flow;
    held[got] = (gm_dp_datagram){.data = copies[got], .len = d.len, .at_ms = d.at_ms};
    gm_dp_queue_pop(dp, 0);
    got++;
  }
  CHECK(got == n, "%zu of %zu datagrams held", got, n);
  if (got < n) return 0;
  gm_dp_assign assign = {.proto = GM_PROTO_NONE, .upstream = loopback(pod_port)};
  CHECK(gm_dp_answer(dp, flow, &assign, held, n) == GM_DP_OK, "answer accepted");
  return 1;
}

/* Receives datagrams seq0.. of `sizes` at `fd` in order; returns how many matched. `from_port`: their source. */
static size_t expect_in_order(int fd, const uint16_t *sizes, size_t n, uint32_t seq0, uint16_t *from_port) {
  static uint8_t buf[65536], want[MAX_SIZE];
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) {
    struct sockaddr_in from;
    ssize_t len = recv_within(fd, buf, sizeof buf, &from, 2000);
    payload(want, sizes[i], seq0 + (uint32_t)i);
    if (len != (ssize_t)sizes[i] || memcmp(buf, want, sizes[i]) != 0) break;
    if (from_port != NULL) *from_port = ntohs(from.sin_port);
    ok++;
  }
  /* Nothing more: a duplicate would arrive right behind. */
  struct sockaddr_in from;
  CHECK(recv_within(fd, buf, sizeof buf, &from, 20) < 0, "no datagram beyond the %zu expected", n);
  return ok;
}

static void fill_sizes(uint16_t *sizes, size_t n, uint16_t size) {
  for (size_t i = 0; i < n; i++) sizes[i] = size;
}

int main(void) {
  int fds_before = count_fds();
  gm_dp_options o = {.threads = 1, .max_sessions = 16, .queue_capacity = 256, .event_capacity = 64,
                     .idle_ms = 300, .pending_ms = 5000, .sweep_ms = 50, .batch = GM_DP_MAX_BATCH,
                     .max_datagram = 2048, .pending_window = MAX_HELD, .source_burst = 8, .source_rate = 16,
                     .flow_burst = 512, .flow_rate = 10000, .gso = 1,
                     .notify = gate_notify};
  o.shared = calloc(1, gm_dp_shared_bytes(&o));
  gm_dp *dp = NULL;
  int err = 0;
  CHECK(gm_dp_create(&o, &dp, &err) == GM_DP_OK, "create (errno %d)", err);
  if (dp == NULL) return 1;
  uint16_t listener_port = 0;
  gm_dp_listener_config ask = {.mode = GM_DP_MODE_KEY, .fixed_proto = GM_DP_PROTO_ASK};
  gm_dp_addr any = loopback(0);
  CHECK(gm_dp_add_listener(dp, &any, &ask, &listener_port, &err) == 0, "listener");
  uint16_t sizes[MAX_HELD], port;
  int clients[4];
  for (int i = 0; i < 4; i++) clients[i] = udp_socket(&port);
  int trigger = udp_socket(&port);
  if (gate_init() != 0) return 1;

  /*
   * 1. Mid-batch: client A's flow (port-mode listener, its pod's port closed)
   * has a connected socket. With the I/O thread held, the listener's upstream
   * moves to pod P and A sends one more datagram, then client B a run of
   * equal sizes: one batch. B's flow takes A's socket, which first sends A's
   * queued datagram (connected, no address), then turns shared. That send's
   * ICMP port unreachable leaves ECONNREFUSED pending, so B's GSO send fails:
   * the run goes per datagram, its first dropped with the error.
   */
  uint16_t closed_port, port_listener = 0;
  close(udp_socket(&closed_port));
  gm_dp_listener_config fixed = {.mode = GM_DP_MODE_PORT, .fixed_proto = GM_PROTO_NONE, .has_upstream = 1,
                                 .upstream = loopback(closed_port)};
  CHECK(gm_dp_add_listener(dp, &any, &fixed, &port_listener, &err) == 1, "port-mode listener");
  uint16_t pod_a_port;
  int pod_a = udp_socket(&pod_a_port);
  uint8_t one[100];
  payload(one, sizeof one, 0);
  send_to(clients[0], port_listener, one, sizeof one); /* A's flow opens, on a socket connected to the closed port */
  CHECK(settled_counter(&o, GM_DP_C_tx_upstream_packets, 1) == 1, "A's first datagram left");
  CHECK(gm_dp_set_upstream(dp, 1, &(gm_dp_addr){.family = 4, .port = pod_a_port, .ip = {127, 0, 0, 1}}) == GM_DP_OK,
        "upstream moved");
  uint32_t slot = 0;
  double row[GM_DP_SESSION_WORDS];
  CHECK(gm_dp_sessions(dp, &slot, 1, row) == GM_DP_OK, "a command after it: the move is applied");
  /* Holds the thread: a datagram for the new-flow queue makes it call notify after its batch. */
  gate_arm();
  gm_dp_wake_reset(dp);
  send_to(trigger, listener_port, one, sizeof one);
  CHECK(gate_wait_held(), "the I/O thread is held");
  payload(one, sizeof one, 1);
  send_to(clients[0], port_listener, one, sizeof one);
  fill_sizes(sizes, 8, 500);
  sizes[7] = 120; /* a shorter last segment */
  static uint8_t run[8][500];
  for (uint32_t i = 0; i < 8; i++) {
    payload(run[i], sizes[i], 100 + i);
    send_to(clients[1], port_listener, run[i], sizes[i]);
  }
  gate_release();
  gm_dp_new_datagram queued;
  CHECK(gm_dp_queue_peek(dp, 0, &queued), "the trigger's datagram is queued");
  gm_dp_queue_pop(dp, 0);
  uint16_t shared_port = 0;
  size_t delivered = expect_in_order(pod_a, sizes + 1, 7, 101, &shared_port);
  CHECK(delivered == 7, "fallback: %zu of the 7 datagrams after the refused one arrived in order", delivered);
  CHECK(settled_counter(&o, GM_DP_C_tx_upstream_packets, 9) == 9, "A's two datagrams and B's last 7 left");
  CHECK(counter(&o, GM_DP_C_tx_gso_fallbacks) == 1, "one GSO fallback");
  CHECK(counter(&o, GM_DP_C_drop_send_error) == 1, "the refused datagram is the one send error");
  CHECK(counter(&o, GM_DP_C_tx_gso_sends) == 0, "no GSO send succeeded yet");
  CHECK(counter(&o, GM_DP_C_upstream_sockets) == 1, "B's flow shares A's socket");

  /* 2. The same socket takes a flow to a second pod: shared, so its GSO sends carry the address. */
  uint16_t pod_b_port;
  int pod_b = udp_socket(&pod_b_port);
  fill_sizes(sizes, MAX_HELD, 1200); /* 54 fit one send's 65,000 B: two GSO sends */
  forward_held(dp, clients[2], listener_port, sizes, MAX_HELD, 1000, pod_b_port);
  uint16_t from = 0;
  delivered = expect_in_order(pod_b, sizes, MAX_HELD, 1000, &from);
  CHECK(delivered == MAX_HELD, "shared socket: %zu of %d datagrams in order", delivered, MAX_HELD);
  CHECK(from == shared_port, "the shared socket keeps its port (%u, %u)", from, shared_port);
  CHECK(settled_counter(&o, GM_DP_C_tx_gso_segments, MAX_HELD) == MAX_HELD, "64 segments");
  CHECK(counter(&o, GM_DP_C_tx_gso_sends) == 2, "in two GSO sends");

  /* 3. Mixed sizes on a new connected socket: [500 500 500 200] 700 [900 x5 100] 100 [1200 x3] [1300 40]. */
  static const uint16_t mixed[] = {500, 500, 500, 200, 700, 900, 900, 900, 900, 900, 100, 100, 1200, 1200, 1200, 1300, 40};
  size_t n_mixed = sizeof mixed / sizeof mixed[0];
  forward_held(dp, clients[3], listener_port, mixed, n_mixed, 2000, pod_b_port);
  delivered = expect_in_order(pod_b, mixed, n_mixed, 2000, &from);
  CHECK(delivered == n_mixed, "mixed sizes: %zu of %zu datagrams in order", delivered, n_mixed);
  CHECK(from != shared_port, "a second flow to the same pod takes another socket");
  CHECK(settled_counter(&o, GM_DP_C_tx_gso_segments, MAX_HELD + 15) == MAX_HELD + 15, "15 more segments");
  CHECK(counter(&o, GM_DP_C_tx_gso_sends) == 2 + 4, "in four GSO sends");
  uint64_t forwarded = 9 + MAX_HELD + n_mixed;
  CHECK(settled_counter(&o, GM_DP_C_tx_upstream_packets, forwarded) == forwarded, "tx_upstream_packets");

  /* 4. Reverse: bursts from pod B to client 3 (through the shared socket), until one leaves as a GSO send. */
  uint64_t gso_before = counter(&o, GM_DP_C_tx_gso_sends);
  uint16_t burst_sizes[REVERSE_BURST];
  fill_sizes(burst_sizes, REVERSE_BURST, 1000);
  burst_sizes[REVERSE_BURST - 1] = 300;
  static uint8_t burst[REVERSE_BURST][1000];
  uint64_t reversed = 0;
  int rounds = 0;
  for (; rounds < REVERSE_ROUNDS && counter(&o, GM_DP_C_tx_gso_sends) == gso_before; rounds++) {
    struct mmsghdr msgs[REVERSE_BURST];
    struct iovec iov[REVERSE_BURST];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(shared_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint32_t seq0 = 3000 + (uint32_t)rounds * REVERSE_BURST;
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < REVERSE_BURST; i++) {
      payload(burst[i], burst_sizes[i], seq0 + (uint32_t)i);
      iov[i] = (struct iovec){.iov_base = burst[i], .iov_len = burst_sizes[i]};
      msgs[i].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    /* One syscall: the burst is in the upstream socket's queue by the time the I/O thread reads it. */
    CHECK(sendmmsg(pod_b, msgs, REVERSE_BURST, 0) == REVERSE_BURST, "pod burst sent");
    delivered = expect_in_order(clients[2], burst_sizes, REVERSE_BURST, seq0, NULL);
    CHECK(delivered == REVERSE_BURST, "reverse round %d: %zu of %d in order", rounds, delivered, REVERSE_BURST);
    reversed += REVERSE_BURST;
    if (delivered != REVERSE_BURST) break;
    settled_counter(&o, GM_DP_C_tx_client_packets, reversed);
  }
  CHECK(counter(&o, GM_DP_C_tx_gso_sends) > gso_before, "a reverse burst left as a GSO send (%d rounds)", rounds);
  CHECK(counter(&o, GM_DP_C_tx_client_packets) == reversed, "tx_client_packets %llu of %llu",
        (unsigned long long)counter(&o, GM_DP_C_tx_client_packets), (unsigned long long)reversed);
  CHECK(counter(&o, GM_DP_C_tx_gso_fallbacks) == 1 && counter(&o, GM_DP_C_drop_send_error) == 1,
        "no other fallback or send error");

  gm_dp_stop(dp);
  gm_dp_event events[64];
  while (drain_events(dp, events, 64) > 0) {
  }
  gm_dp_destroy(dp);
  gate_destroy();
  for (int i = 0; i < 4; i++) close(clients[i]);
  close(pod_a);
  close(trigger);
  close(pod_b);
  CHECK(count_fds() == fds_before, "file descriptors: %d before, %d after", fds_before, count_fds());
  printf("dataplane_gso: %llu GSO sends of %llu segments, %llu fallback, %llu datagrams back in %d reverse rounds: %s\n",
         (unsigned long long)counter(&o, GM_DP_C_tx_gso_sends), (unsigned long long)counter(&o, GM_DP_C_tx_gso_segments),
         (unsigned long long)counter(&o, GM_DP_C_tx_gso_fallbacks), (unsigned long long)reversed, rounds,
         failures == 0 ? "ok" : "FAILED");
  free(o.shared);
  return failures == 0 ? 0 : 1;
}
