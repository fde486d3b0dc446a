/*
 * floor-relay: the latency floor of the data-plane benchmark (the
 * informational case `floor`). The cheapest user-space UDP relay there is for
 * ONE flow: two threads, each blocked in recvfrom on one socket and sending
 * on the other, one datagram per system call.
 *
 *   client -> listener  --(forward thread: recvfrom, send)-->  connected upstream socket
 *   client <- listener  <--(return thread: recv, sendto)----   connected upstream socket
 *
 * No epoll, no batching, no flow table: every client shares the one upstream
 * socket, and replies go to the address the last datagram came from. That
 * is only a relay for a single flow, which is all a ping-pong latency
 * measurement has; it is not a relay for the throughput load (8 sources).
 * What it adds over a direct round trip is what any user-space relay must
 * pay on the way: two more wake-ups, one receive and one send per direction.
 *
 *   floor-relay --listen IP:PORT --upstream IP:PORT
 *
 * Prints {"ready":true} once both threads run and, on SIGTERM/SIGINT,
 * {"forward":N,"reverse":N,"dropped":N,"flows":0|1}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-udp.h"

/* The last client as one word (bit 48 = known, address << 16 | port), so the return thread reads it whole. */
#define CLIENT_KNOWN (1ull << 48)

typedef struct relay {
  int listener;
  int upstream; /* connected to the upstream address */
  _Atomic uint64_t last_client;
  atomic_int stopping;
} relay;

typedef struct direction_counts {
  uint64_t sent;
  uint64_t dropped; /* a failed send, or (return path) no client seen yet */
} direction_counts;

typedef struct worker {
  relay *relay;
  direction_counts counts;
} worker;

static uint64_t pack_client(const struct sockaddr_in *a) {
  return CLIENT_KNOWN | ((uint64_t)a->sin_addr.s_addr << 16) | a->sin_port;
}

/* Listener -> upstream. A receive of 0 bytes after shutdown() is the stop request. */
static void *forward_path(void *arg) {
  worker *w = arg;
  relay *r = w->relay;
  uint8_t buf[MAX_DATAGRAM];
  for (;;) {
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(r->listener, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
    if (n <= 0 && atomic_load_explicit(&r->stopping, memory_order_relaxed)) break;
    if (n < 0) continue;
    uint64_t client = pack_client(&from);
    /* Written only when it changes: with one flow that is once. */
    if (atomic_load_explicit(&r->last_client, memory_order_relaxed) != client)
      atomic_store_explicit(&r->last_client, client, memory_order_relaxed);
    if (send(r->upstream, buf, (size_t)n, 0) >= 0) w->counts.sent++;
    else w->counts.dropped++; /* e.g. ECONNREFUSED: the upstream was not listening */
  }
  return NULL;
}

/* Upstream -> the last client, from the listener's address. */
static void *return_path(void *arg) {
  worker *w = arg;
  relay *r = w->relay;
  uint8_t buf[MAX_DATAGRAM];
  for (;;) {
    ssize_t n = recv(r->upstream, buf, sizeof buf, 0);
    if (n <= 0 && atomic_load_explicit(&r->stopping, memory_order_relaxed)) break;
    /* ECONNREFUSED reports an earlier forward to a closed port; the socket stays usable. */
    if (n < 0) continue;
    uint64_t client = atomic_load_explicit(&r->last_client, memory_order_relaxed);
    if (client == 0) {
      w->counts.dropped++;
      continue;
    }
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = (uint32_t)(client >> 16);
    to.sin_port = (uint16_t)client;
    if (sendto(r->listener, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to) >= 0) w->counts.sent++;
    else w->counts.dropped++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  struct sockaddr_in listen_addr, upstream_addr;
  int have_listen = 0, have_upstream = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0) have_listen = parse_addr(argv[i + 1], &listen_addr) == 0;
    else if (strcmp(argv[i], "--upstream") == 0) have_upstream = parse_addr(argv[i + 1], &upstream_addr) == 0;
  }
  if (!have_listen || !have_upstream) {
    fprintf(stderr, "usage: floor-relay --listen IP:PORT --upstream IP:PORT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  relay r = {.listener = relay_udp_socket(0), .upstream = relay_udp_socket(0)};
  atomic_init(&r.last_client, 0);
  atomic_init(&r.stopping, 0);
  if (r.listener < 0 || bind(r.listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0) {
    perror("floor-relay: listen");
    return 2;
  }
  if (r.upstream < 0 || connect(r.upstream, (struct sockaddr *)&upstream_addr, sizeof upstream_addr) != 0) {
    perror("floor-relay: upstream");
    return 2;
  }

  /*
   * The stop signals are blocked in every thread and taken by sigwait here,
   * so the relaying threads never see EINTR and have no stop check between
   * a flag test and a blocking call to race with.
   */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  worker forward = {.relay = &r}, reverse = {.relay = &r};
  pthread_t forward_thread, return_thread;
  if (pthread_create(&forward_thread, NULL, forward_path, &forward) != 0 ||
      pthread_create(&return_thread, NULL, return_path, &reverse) != 0) {
    fprintf(stderr, "floor-relay: could not start its threads\n");
    return 2;
  }
  printf("{\"ready\":true}\n");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  atomic_store(&r.stopping, 1);
  /* Shutting down the receive side wakes a thread blocked in recv (it returns 0), even on UDP. */
  shutdown(r.listener, SHUT_RD);
  shutdown(r.upstream, SHUT_RD);
  pthread_join(forward_thread, NULL);
  pthread_join(return_thread, NULL);
  printf("{\"forward\":%llu,\"reverse\":%llu,\"dropped\":%llu,\"flows\":%d}\n",
         (unsigned long long)forward.counts.sent, (unsigned long long)reverse.counts.sent,
         (unsigned long long)(forward.counts.dropped + reverse.counts.dropped),
         atomic_load(&r.last_client) != 0 ? 1 : 0);
  close(r.listener);
  close(r.upstream);
  return 0;
}
