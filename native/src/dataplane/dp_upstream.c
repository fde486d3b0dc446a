/*
 * Upstream sockets of one I/O thread. A session needs a local port that is
 * unique per destination pod, not globally: replies are matched on (upstream
 * socket, pod address). So a new flow takes the first socket that has no flow
 * to its pod yet, and a new socket is opened only when every socket already
 * carries one; the socket count is the largest number of concurrent flows to
 * any single pod, not the session count. Sockets stay open until shutdown.
 * Both tables are sized for the worst case (a socket or a destination per
 * session) but mapped lazily: only the entries in use cost memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dataplane/dp_internal.h"

#define DEST_SEED 0x2545f491u

int dp_upstreams_init(dp_upstreams *ups, uint32_t capacity) {
  memset(ups, 0, sizeof *ups);
  uint32_t size = 16;
  while (size < capacity + capacity / 4) size <<= 1;
  ups->capacity = capacity;
  ups->dest_mask = size - 1;
  ups->socks = dp_map_zeroed((size_t)capacity * sizeof *ups->socks);
  ups->dests = dp_map_zeroed((size_t)size * sizeof *ups->dests);
  if (ups->socks == NULL || ups->dests == NULL) {
    dp_upstreams_free(ups);
    return GM_DP_E_NOMEM;
  }
  return GM_DP_OK;
}

void dp_upstreams_free(dp_upstreams *ups) {
  for (uint32_t i = 0; i < ups->count; i++) {
    if (ups->socks[i].fd >= 0) close(ups->socks[i].fd);
  }
  dp_unmap(ups->socks, (size_t)ups->capacity * sizeof *ups->socks);
  if (ups->dests != NULL) dp_unmap(ups->dests, ((size_t)ups->dest_mask + 1) * sizeof *ups->dests);
  memset(ups, 0, sizeof *ups);
}

static dp_dest *dest_find(dp_upstreams *ups, const gm_dp_addr *pod, int insert) {
  uint32_t i = dp_hash_addr(pod, DEST_SEED) & ups->dest_mask;
  for (;; i = (i + 1) & ups->dest_mask) {
    dp_dest *d = &ups->dests[i];
    if (d->flows == 0) {
      if (!insert) return NULL;
      d->addr = *pod;
      d->hint = 0;
      return d;
    }
    if (dp_addr_equal(&d->addr, pod)) return d;
  }
}

static void dest_remove(dp_upstreams *ups, dp_dest *d) {
  uint32_t mask = ups->dest_mask;
  uint32_t i = (uint32_t)(d - ups->dests);
  ups->dests[i].flows = 0;
  for (uint32_t j = (i + 1) & mask; ups->dests[j].flows != 0; j = (j + 1) & mask) {
    uint32_t home = dp_hash_addr(&ups->dests[j].addr, DEST_SEED) & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      ups->dests[i] = ups->dests[j];
      ups->dests[j].flows = 0;
      i = j;
    }
  }
}

static int open_socket(dp_thread *t, uint8_t family) {
  dp_upstreams *ups = &t->ups;
  if (ups->count >= ups->capacity) {
    errno = EMFILE;
    return -1;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in6 any;
  gm_dp_addr wildcard = {.family = family};
  socklen_t len = dp_addr_to_sockaddr(&wildcard, &any);
  if (family == 6) {
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  dp_socket_tune(fd);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = dp_tag(DP_TAG_UPSTREAM, ups->count)};
  if (bind(fd, (struct sockaddr *)&any, len) != 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  uint32_t index = ups->count++;
  ups->socks[index] = (dp_upstream_sock){.fd = fd, .family = family, .flows = 0};
  dp_gauge(t, GM_DP_C_upstream_sockets, ups->count);
  return (int)index;
}

int dp_upstream_acquire(dp_thread *t, const gm_dp_addr *pod) {
  dp_upstreams *ups = &t->ups;
  dp_dest *d = dest_find(ups, pod, 1);
  int chosen = -1;
  for (uint32_t s = d->hint; s < ups->count; s++) {
    if (ups->socks[s].family == pod->family && dp_table_find_reverse(&t->table, s, pod) == NULL) {
      chosen = (int)s;
      break;
    }
  }
  if (chosen < 0) chosen = open_socket(t, pod->family);
  if (chosen < 0) {
    if (d->flows == 0) dest_remove(ups, d);
    return -1;
  }
  d->flows++;
  d->hint = (uint32_t)chosen + 1;
  ups->socks[chosen].flows++;
  return chosen;
}

void dp_upstream_release(dp_thread *t, uint32_t sock, const gm_dp_addr *pod) {
  dp_upstreams *ups = &t->ups;
  if (sock >= ups->count) return;
  ups->socks[sock].flows--;
  dp_dest *d = dest_find(ups, pod, 0);
  if (d == NULL) return;
  if (sock < d->hint) d->hint = sock;
  if (--d->flows == 0) dest_remove(ups, d);
}
