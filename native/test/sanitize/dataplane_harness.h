/*
 * What the data plane's sanitizer programs share: a CHECK that counts
 * failures instead of stopping (every check of a run is reported), loopback
 * UDP sockets, the thread counters summed from shared memory, and the fd
 * count that proves a clean shutdown.
 */
#ifndef GM_DATAPLANE_HARNESS_H
#define GM_DATAPLANE_HARNESS_H

#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/gm_dataplane.h"

static int failures = 0;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
      failures++;                                          \
    }                                                      \
  } while (0)

static inline int count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  int n = 0;
  if (dir == NULL) return -1;
  while (readdir(dir) != NULL) n++;
  closedir(dir);
  return n;
}

/* A UDP socket bound to 127.0.0.1:`port` (0 = any); -1 when the port is taken. */
static inline int udp_socket_at(uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A UDP socket bound to 127.0.0.1, any port (written to `*port`). */
static inline int udp_socket(uint16_t *port) {
  int fd = udp_socket_at(0);
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

static inline ssize_t recv_within(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) return -1;
  socklen_t len = sizeof *from;
  return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &len);
}

static inline uint64_t counter(const gm_dp_options *o, int which) {
  const uint64_t *words = o->shared;
  uint64_t sum = 0;
  for (uint32_t t = 0; t < o->threads; t++) sum += words[(size_t)t * GM_DP_COUNTER_STRIDE + (size_t)which];
  return sum;
}

/*
 * The I/O thread stores a counter after sendmmsg returns, which can be after the peer read the datagram.
 * Up to 2 s: under ASan a loaded 2-core machine can take that long; a passing check returns at once.
 */
static inline uint64_t settled_counter(const gm_dp_options *o, int which, uint64_t expected) {
  for (int tries = 0; tries < 400 && counter(o, which) != expected; tries++) usleep(5000);
  return counter(o, which);
}

static inline int drain_events(gm_dp *dp, gm_dp_event *out, int max) {
  int n = 0;
  for (uint32_t t = 0; t < gm_dp_threads(dp); t++) {
    while (n < max && gm_dp_event_pop(dp, t, &out[n])) n++;
  }
  return n;
}

static inline gm_dp_addr loopback(uint16_t port) {
  gm_dp_addr a = {.family = 4, .port = port, .ip = {127, 0, 0, 1}};
  return a;
}

#endif
