/* Conversion of compact addresses to sockaddr (the per-packet helpers are inline in dp_addr.h). */
#include <string.h>

#include "dataplane/dp_internal.h"

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
