/* Endpoint helpers: compact addresses, their hash, conversion to and from sockaddr. */
#include <string.h>

#include "dataplane/dp_internal.h"

static inline uint32_t mix32(uint32_t h) {
  /* murmur3 finalizer: cheap and spreads the low-entropy bits of ports and loopback addresses. */
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

uint32_t dp_hash_addr(const gm_dp_addr *addr, uint32_t seed) {
  uint32_t words[4];
  memcpy(words, addr->ip, sizeof words);
  uint32_t h = mix32(seed ^ ((uint32_t)addr->family << 16 | addr->port));
  size_t n = addr->family == 6 ? 4 : 1;
  for (size_t i = 0; i < n; i++) h = mix32(h ^ words[i]) + 0x9e3779b9u;
  return mix32(h);
}

int dp_addr_equal(const gm_dp_addr *a, const gm_dp_addr *b) {
  if (a->family != b->family || a->port != b->port) return 0;
  return memcmp(a->ip, b->ip, a->family == 6 ? 16 : 4) == 0;
}

void dp_addr_from_sockaddr(gm_dp_addr *out, const struct sockaddr_in6 *from) {
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

socklen_t dp_addr_to_sockaddr(const gm_dp_addr *addr, struct sockaddr_in6 *out) {
  memset(out, 0, sizeof *out);
  if (addr->family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)out;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(addr->port);
    memcpy(&v4->sin_addr, addr->ip, 4);
    return sizeof *v4;
  }
  out->sin6_family = AF_INET6;
  out->sin6_port = htons(addr->port);
  memcpy(&out->sin6_addr, addr->ip, 16);
  return sizeof *out;
}
