/*
 * The data plane core under ASan/UBSan/LSan: a real run on loopback, then a
 * clean shutdown that must leave nothing allocated and no socket open.
 *
 *   dataplane_lsan <rtp-h264-opus.pcap>
 *
 * The client side replays the RTP payloads of the committed ffmpeg capture
 * (packages/protocols/test/fixtures/rtp) through two listeners: one that asks
 * "TS" (this program, answering from the new-flow queue) and one with a fixed
 * protocol. An in-process UDP echo plays the game pod. Checks: every datagram
 * comes back, counters match, the RTP tracker opens the session, the idle
 * backstop closes the first one, a snapshot of every slot finds the second
 * with its exact totals, shutdown closes it with proxy_shutdown, and no file
 * descriptor is left open.
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane_harness.h"

#define MAX_VECTORS 512

typedef struct vector {
  uint8_t *data;
  size_t len;
} vector;

/* UDP payloads sent to port 47000 (the H.264 RTP stream) in a classic Ethernet pcap. */
static size_t read_rtp_vectors(const char *path, vector *out, size_t max) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 0;
  uint8_t global[24], record[16];
  size_t count = 0;
  static uint8_t frame[65536];
  if (fread(global, 1, sizeof global, f) != sizeof global) goto done;
  while (count < max && fread(record, 1, sizeof record, f) == sizeof record) {
    uint32_t incl = (uint32_t)record[8] | (uint32_t)record[9] << 8 | (uint32_t)record[10] << 16 |
                    (uint32_t)record[11] << 24;
    if (incl > sizeof frame || fread(frame, 1, incl, f) != incl) break;
    if (incl < 14 + 20 + 8 || frame[12] != 0x08 || frame[13] != 0x00) continue;
    size_t ihl = (size_t)(frame[14] & 0x0f) * 4;
    if (frame[14 + 9] != 17 || incl < 14 + ihl + 8) continue;
    const uint8_t *udp = frame + 14 + ihl;
    uint16_t dst = (uint16_t)(udp[2] << 8 | udp[3]);
    size_t len = (size_t)(udp[4] << 8 | udp[5]);
    if (dst != 47000 || len < 8 || 14 + ihl + len > incl) continue;
    out[count].len = len - 8;
    out[count].data = malloc(len - 8);
    if (out[count].data == NULL) break;
    memcpy(out[count].data, udp + 8, len - 8);
    count++;
  }
done:
  fclose(f);
  return count;
}

/* Sends every vector through `proxy_port`, echoes each at the pod, checks each comes back. */
static int round_trip_all(int client, int pod, uint16_t proxy_port, const vector *v, size_t n, gm_dp *dp,
                          int answer_first) {
  static uint8_t buf[65536];
  struct sockaddr_in proxy = {.sin_family = AF_INET, .sin_port = htons(proxy_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = 0;
  for (size_t i = 0; i < n; i++) {
    sendto(client, v[i].data, v[i].len, 0, (struct sockaddr *)&proxy, sizeof proxy);
    if (answer_first && i == 0) {
      /* The new-flow queue holds the first datagram; answer as TS would, handing it back. */
      gm_dp_new_datagram d;
      int got = 0;
      for (int tries = 0; tries < 200 && !got; tries++) {
        for (uint32_t t = 0; t < gm_dp_threads(dp) && !got; t++) got = gm_dp_queue_peek(dp, t, &d);
        if (!got) usleep(5000);
      }
      CHECK(got, "first datagram reached the new-flow queue");
      if (!got) return 0;
      CHECK(d.len == v[0].len && memcmp(d.data, v[0].data, d.len) == 0, "queued bytes are the sent bytes");
      uint16_t pod_port = 0;
      struct sockaddr_in sa;
      socklen_t len = sizeof sa;
      getsockname(pod, (struct sockaddr *)&sa, &len);
      pod_port = ntohs(sa.sin_port);
      gm_dp_assign assign = {.proto = GM_PROTO_RTP, .tracker = {.clock_rate_hz = 90000}, .upstream = loopback(pod_port)};
      uint8_t held_copy[2048];
      memcpy(held_copy, d.data, d.len);
      gm_dp_datagram held = {.data = held_copy, .len = d.len, .at_ms = d.at_ms};
      gm_dp_flow_ref flow = d.flow;
      gm_dp_queue_pop(dp, flow.thread);
      CHECK(gm_dp_answer(dp, flow, &assign, &held, 1) == GM_DP_OK, "answer accepted");
    }
    struct sockaddr_in from;
    ssize_t got = recv_within(pod, buf, sizeof buf, &from, 2000);
    if (got != (ssize_t)v[i].len || memcmp(buf, v[i].data, v[i].len) != 0) continue;
    sendto(pod, buf, (size_t)got, 0, (struct sockaddr *)&from, sizeof from);
    got = recv_within(client, buf, sizeof buf, &from, 2000);
    if (got == (ssize_t)v[i].len && memcmp(buf, v[i].data, v[i].len) == 0) ok++;
  }
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <rtp-h264-opus.pcap>\n", argv[0]);
    return 2;
  }
  static vector vectors[MAX_VECTORS];
  size_t n = read_rtp_vectors(argv[1], vectors, MAX_VECTORS);
  CHECK(n >= 30, "capture has RTP payloads to port 47000 (got %zu)", n);
  if (n == 0) return 1;
  int fds_before = count_fds();

  gm_dp_options o = {.threads = 2, .max_sessions = 64, .queue_capacity = 64, .event_capacity = 64,
                     .idle_ms = 300, .pending_ms = 2000, .sweep_ms = 50, .batch = 32, .max_datagram = 2048,
                     .pending_window = 8, .source_burst = 8, .source_rate = 16, .flow_burst = 64,
                     .flow_rate = 1000, .gso = 1};
  o.shared = calloc(1, gm_dp_shared_bytes(&o));
  gm_dp *dp = NULL;
  int err = 0;
  CHECK(gm_dp_create(&o, &dp, &err) == GM_DP_OK, "create (errno %d)", err);
  if (dp == NULL) return 1;

  uint16_t pod_port, ask_port = 0, fixed_port = 0;
  int pod = udp_socket(&pod_port);
  gm_dp_listener_config ask = {.mode = GM_DP_MODE_KEY, .fixed_proto = GM_DP_PROTO_ASK};
  gm_dp_listener_config fixed = {.mode = GM_DP_MODE_PORT, .fixed_proto = GM_PROTO_RTP, .has_upstream = 1,
                                 .upstream = loopback(pod_port), .tracker = {.clock_rate_hz = 90000}};
  gm_dp_addr any = loopback(0);
  CHECK(gm_dp_add_listener(dp, &any, &ask, &ask_port, &err) == 0, "ask listener");
  CHECK(gm_dp_add_listener(dp, &any, &fixed, &fixed_port, &err) == 1, "fixed listener");

  uint16_t c1_port, c2_port;
  int client1 = udp_socket(&c1_port), client2 = udp_socket(&c2_port);
  int ok1 = round_trip_all(client1, pod, ask_port, vectors, n, dp, 1);
  CHECK(ok1 == (int)n, "ask listener: %d of %zu datagrams made the round trip", ok1, n);
  /* Let the first session go idle (300 ms) while the second runs. */
  usleep(500 * 1000);
  int ok2 = round_trip_all(client2, pod, fixed_port, vectors, n, dp, 0);
  CHECK(ok2 == (int)n, "fixed listener: %d of %zu datagrams made the round trip", ok2, n);

  CHECK(settled_counter(&o, GM_DP_C_rx_client_packets, 2 * n) == 2 * n, "rx_client_packets");
  CHECK(settled_counter(&o, GM_DP_C_tx_upstream_packets, 2 * n) == 2 * n, "tx_upstream_packets");
  CHECK(settled_counter(&o, GM_DP_C_rx_upstream_packets, 2 * n) == 2 * n, "rx_upstream_packets");
  CHECK(settled_counter(&o, GM_DP_C_tx_client_packets, 2 * n) == 2 * n, "tx_client_packets");
  /* The second flow starts after the first went idle: on the same thread it reuses the freed socket. */
  uint64_t sockets = counter(&o, GM_DP_C_upstream_sockets);
  CHECK(sockets >= 1 && sockets <= 2, "upstream sockets %llu", (unsigned long long)sockets);
  CHECK(counter(&o, GM_DP_C_closed_idle) == 1, "one idle close");

  /* Snapshots of every slot (both threads) in one call: exactly one open RTP session, with its totals. */
  uint32_t slots[64];
  static double rows[64 * GM_DP_SESSION_WORDS];
  for (uint32_t i = 0; i < 64; i++) slots[i] = i;
  CHECK(gm_dp_sessions(dp, slots, 64, rows) == GM_DP_OK, "sessions snapshot");
  int open_rows = 0;
  for (int i = 0; i < 64; i++) {
    const double *row = rows + (size_t)i * GM_DP_SESSION_WORDS;
    if (row[GM_DP_S_STATE] == 0) continue;
    open_rows++;
    CHECK(row[GM_DP_S_STATE] == 1 && row[GM_DP_S_PROTO] == GM_PROTO_RTP, "the open session is RTP");
    CHECK(row[GM_DP_S_PACKETS_FWD] == (double)n && row[GM_DP_S_PACKETS_REV] == (double)n, "snapshot totals");
    CHECK(row[GM_DP_S_STAT_COUNT] > 0 && row[GM_DP_S_LAST_AT] >= row[GM_DP_S_FIRST_AT], "snapshot stats and times");
  }
  CHECK(open_rows == 1, "one open session in the snapshot (got %d)", open_rows);

  gm_dp_event events[64];
  int count = drain_events(dp, events, 64);
  gm_dp_stop(dp);
  count += drain_events(dp, events + count, 64 - count);
  int opened = 0, idle = 0, shutdown = 0;
  for (int i = 0; i < count; i++) {
    if (events[i].type == GM_EVENT_OPENED) {
      opened++;
      CHECK(events[i].proto == GM_PROTO_RTP && events[i].key.kind == GM_KEY_U64, "opened by RTP with an SSRC key");
    }
    if (events[i].type == GM_EVENT_CLOSED && events[i].reason == GM_CLOSE_IDLE) idle++;
    if (events[i].type == GM_EVENT_CLOSED && events[i].reason == GM_CLOSE_PROXY_SHUTDOWN) {
      shutdown++;
      CHECK(events[i].packets[0] == n && events[i].packets[1] == n, "close carries the session's totals");
    }
  }
  CHECK(opened == 2 && idle == 1 && shutdown == 1, "events: opened %d idle %d shutdown %d", opened, idle, shutdown);

  CHECK(gm_dp_sessions(dp, slots, 1, rows) == GM_DP_E_STOPPED, "no snapshot after stop");
  gm_dp_destroy(dp);
  close(pod);
  close(client1);
  close(client2);
  free(o.shared);
  for (size_t i = 0; i < n; i++) free(vectors[i].data);
  CHECK(count_fds() == fds_before, "file descriptors: %d before, %d after", fds_before, count_fds());
  printf("dataplane_lsan: %zu RTP datagrams each way through 2 listeners x 2 threads, flow entry %zu bytes: %s\n", n,
         gm_dp_flow_entry_bytes(), failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
