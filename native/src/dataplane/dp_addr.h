/*
 * Endpoint helpers on the per-packet path (hash, compare, conversion from the
 * received sockaddr), inline: every datagram runs each of them once or
 * twice, and as calls into another file (plus a libc memcmp for the compare)
 * they cost about as much as the flow lookup itself.
 */
#ifndef GM_DP_ADDR_H
#define GM_DP_ADDR_H

#include <netinet/in.h>
#include <string.h>

#include "dataplane/gm_dataplane.h"

static inline uint32_t dp_mix32(uint32_t h) {
  /* murmur3 finalizer: cheap and spreads the low-entropy bits of ports and loopback addresses. */
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static inline uint32_t dp_hash_addr(const gm_dp_addr *addr, uint32_t seed) {
  uint32_t h = dp_mix32(seed ^ ((uint32_t)addr->family << 16 | addr->port));
  size_t n = addr->family == 6 ? 4 : 1;
  for (size_t i = 0; i < n; i++) {
    uint32_t word;
    memcpy(&word, addr->ip + 4 * i, sizeof word);
    h = dp_mix32(h ^ word) + 0x9e3779b9u;
  }
  return dp_mix32(h);
}

static inline int dp_addr_equal(const gm_dp_addr *a, const gm_dp_addr *b) {
  if (a->family != b->family || a->port != b->port) return 0;
  /* Fixed-size word compares (the compiler keeps them in registers) instead of a memcmp call. */
  uint32_t x, y;
  memcpy(&x, a->ip, sizeof x);
  memcpy(&y, b->ip, sizeof y);
  if (x != y) return 0;
  if (a->family != 6) return 1;
  uint32_t xs[3], ys[3];
  memcpy(xs, a->ip + 4, sizeof xs);
  memcpy(ys, b->ip + 4, sizeof ys);
  return xs[0] == ys[0] && xs[1] == ys[1] && xs[2] == ys[2];
}

static inline void dp_addr_from_sockaddr(gm_dp_addr *out, const struct sockaddr_in6 *from) {
  memset(out, 0, sizeof *out);
  if (from->sin6_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)from;
    out->family = 4;
    out->port = ntohs(v4->sin_port);
    memcpy(out->ip, &v4->sin_addr, 4);
  } else {
    out->family = 6;
    out->port = ntohs(from->sin6_port);
    memcpy(out->ip, &from->sin6_addr, 16);
  }
}

/* dp_addr.c */
socklen_t dp_addr_to_sockaddr(const gm_dp_addr *addr, struct sockaddr_in6 *out);

#endif
