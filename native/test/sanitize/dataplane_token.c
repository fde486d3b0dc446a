/*
 * The token-suffix path of the data plane under ASan/UBSan/LSan, on loopback:
 *
 *   dataplane_token [rounds]
 *
 * A listener strips a GM_DP_MAX_TOKEN_SUFFIX-byte token (the largest, so a
 * read past a datagram's end would be caught). Its first flow is answered
 * with held datagrams of every length around the suffix, then every length
 * from 0 to suffix + 64 is sent with the right token, a token differing in
 * one random byte, and no token, in random order. Checks: the pod receives
 * exactly the payloads of the right-token datagrams, byte for byte, and the
 * drop counters account for every other datagram; a second listener with a
 * 28-byte suffix is answered without its token and denies the flow.
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane_harness.h"

#define SUFFIX GM_DP_MAX_TOKEN_SUFFIX
#define MAX_PAYLOAD 64

static void send_to(int fd, uint16_t port, const uint8_t *data, size_t len) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
}

/* Payload of length `len` whose bytes say which datagram it is. */
static void payload(uint8_t *out, size_t len, uint32_t seq) {
  for (size_t i = 0; i < len; i++) out[i] = (uint8_t)(seq * 31u + i);
}

/* Waits for one new-flow datagram of listener `listener`. */
static int wait_queued(gm_dp *dp, gm_dp_new_datagram *d) {
  for (int tries = 0; tries < 400; tries++) {
    if (gm_dp_queue_peek(dp, 0, d)) return 1;
    usleep(5000);
  }
  return 0;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 20;
  srand(12345);
  gm_dp_options o = {.threads = 1, .max_sessions = 64, .queue_capacity = 64, .event_capacity = 256,
                     .idle_ms = 5000, .pending_ms = 5000, .sweep_ms = 50, .batch = 32, .max_datagram = 2048,
                     .pending_window = 8, .source_burst = 64, .source_rate = 64, .flow_burst = 256,
                     .flow_rate = 1000};
  o.shared = calloc(1, gm_dp_shared_bytes(&o));
  gm_dp *dp = NULL;
  int err = 0;
  CHECK(gm_dp_create(&o, &dp, &err) == GM_DP_OK, "create (errno %d)", err);
  if (dp == NULL) return 1;
  uint16_t pod_port, client_port, port = 0, port28 = 0;
  int pod = udp_socket(&pod_port), client = udp_socket(&client_port);
  gm_dp_addr any = loopback(0);
  gm_dp_listener_config config = {.mode = GM_DP_MODE_KEY, .fixed_proto = GM_DP_PROTO_ASK, .token_suffix = SUFFIX};
  CHECK(gm_dp_add_listener(dp, &any, &config, &port, &err) == 0, "token listener");
  gm_dp_listener_config too_long = config;
  too_long.token_suffix = SUFFIX + 1;
  CHECK(gm_dp_add_listener(dp, &any, &too_long, NULL, &err) == GM_DP_E_ARGS, "suffix over the maximum refused");
  gm_dp_listener_config fixed = {.mode = GM_DP_MODE_PORT, .fixed_proto = GM_PROTO_KCP, .has_upstream = 1,
                                 .upstream = loopback(pod_port), .token_suffix = 28};
  CHECK(gm_dp_add_listener(dp, &any, &fixed, NULL, &err) == GM_DP_E_ARGS, "token with a fixed protocol refused");

  uint8_t token[SUFFIX];
  for (int i = 0; i < SUFFIX; i++) token[i] = (uint8_t)rand();
  uint8_t buf[MAX_PAYLOAD + SUFFIX], got[2048];

  /* The new flow: three datagrams reach the queue with their suffix; the answer carries them back. */
  gm_dp_datagram held[3];
  uint8_t held_bytes[3][MAX_PAYLOAD + SUFFIX];
  size_t held_len[3] = {SUFFIX, SUFFIX + 1, SUFFIX + MAX_PAYLOAD};
  for (int i = 0; i < 3; i++) {
    payload(buf, held_len[i] - SUFFIX, (uint32_t)i);
    memcpy(buf + held_len[i] - SUFFIX, token, SUFFIX);
    send_to(client, port, buf, held_len[i]);
    gm_dp_new_datagram d;
    CHECK(wait_queued(dp, &d), "held datagram %d queued", i);
    CHECK(d.len == held_len[i] && memcmp(d.data, buf, d.len) == 0, "queued with its suffix");
    memcpy(held_bytes[i], d.data, d.len);
    held[i] = (gm_dp_datagram){.data = held_bytes[i], .len = d.len, .at_ms = d.at_ms};
    if (i == 2) {
      gm_dp_assign assign = {.proto = GM_PROTO_NONE, .upstream = loopback(pod_port), .token_len = SUFFIX};
      memcpy(assign.token, token, SUFFIX);
      CHECK(gm_dp_answer(dp, d.flow, &assign, held, 3) == GM_DP_OK, "answer");
    }
    gm_dp_queue_pop(dp, 0);
  }
  uint64_t forwarded = 0, missing = 0, mismatch = 0;
  for (int i = 0; i < 3; i++) {
    struct pollfd p = {.fd = pod, .events = POLLIN};
    ssize_t n = poll(&p, 1, 2000) > 0 ? recv(pod, got, sizeof got, 0) : -1;
    CHECK(n == (ssize_t)(held_len[i] - SUFFIX) && memcmp(got, held_bytes[i], (size_t)n) == 0,
          "held datagram %d stripped", i);
    forwarded++;
  }

  /* Established: every length, three ways each, in random order. */
  for (int round = 0; round < rounds; round++) {
    for (int k = 0; k < (MAX_PAYLOAD + SUFFIX + 1) * 3; k++) {
      size_t len = (size_t)(rand() % (MAX_PAYLOAD + SUFFIX + 1));
      int kind = rand() % 3; /* 0 right token, 1 one byte off, 2 bare payload */
      uint32_t seq = (uint32_t)rand();
      payload(buf, len, seq);
      if (kind < 2 && len >= SUFFIX) {
        memcpy(buf + len - SUFFIX, token, SUFFIX);
        if (kind == 1) buf[len - SUFFIX + (size_t)(rand() % SUFFIX)] ^= (uint8_t)(1 + rand() % 255);
      }
      send_to(client, port, buf, len);
      if (len < SUFFIX) {
        missing++;
        continue;
      }
      if (kind == 2 || memcmp(buf + len - SUFFIX, token, SUFFIX) != 0) {
        mismatch++;
        continue;
      }
      forwarded++;
      struct pollfd p = {.fd = pod, .events = POLLIN};
      ssize_t n = poll(&p, 1, 2000) > 0 ? recv(pod, got, sizeof got, 0) : -1;
      CHECK(n == (ssize_t)(len - SUFFIX) && memcmp(got, buf, (size_t)n) == 0, "stripped payload of length %zu",
            len - SUFFIX);
    }
  }
  CHECK(settled_counter(&o, GM_DP_C_tx_upstream_packets, forwarded) == forwarded, "forwarded %llu",
        (unsigned long long)forwarded);
  CHECK(settled_counter(&o, GM_DP_C_drop_token_missing, missing) == missing, "drop_token_missing %llu",
        (unsigned long long)missing);
  CHECK(settled_counter(&o, GM_DP_C_drop_token_mismatch, mismatch) == mismatch, "drop_token_mismatch %llu",
        (unsigned long long)mismatch);

  /* An answer without the token denies the flow of a token listener. */
  gm_dp_listener_config config28 = config;
  config28.token_suffix = 28;
  CHECK(gm_dp_add_listener(dp, &any, &config28, &port28, &err) == 1, "second token listener");
  memset(buf, 7, 40);
  send_to(client, port28, buf, 40);
  gm_dp_new_datagram d;
  CHECK(wait_queued(dp, &d), "queued on the second listener");
  gm_dp_assign bare = {.proto = GM_PROTO_NONE, .upstream = loopback(pod_port)};
  CHECK(gm_dp_answer(dp, d.flow, &bare, NULL, 0) == GM_DP_OK, "answer without a token");
  gm_dp_queue_pop(dp, 0);
  usleep(20000);
  send_to(client, port28, buf, 40);
  CHECK(settled_counter(&o, GM_DP_C_drop_flow_denied, 1) == 1, "the flow was denied");
  gm_dp_memory m;
  gm_dp_memory_usage(dp, &m);
  CHECK(m.token_bytes >= SUFFIX && m.flow_entry_bytes == 256, "memory: tokens %zu, entry %zu", m.token_bytes,
        m.flow_entry_bytes);

  gm_dp_destroy(dp);
  close(pod);
  close(client);
  free(o.shared);
  printf("dataplane_token: %llu forwarded, %llu too short, %llu wrong token: %s\n", (unsigned long long)forwarded,
         (unsigned long long)missing, (unsigned long long)mismatch, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
