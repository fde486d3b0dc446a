/*
 * Upstream sockets of one I/O thread. A session needs a local port that is
 * unique per destination pod, not globally: replies are matched on (upstream
 * socket, pod address). So a new flow takes the first socket that has no flow
 * to its pod yet, and a new socket is opened only when every socket already
 * carries one; the socket count is the largest number of concurrent flows to
 * any single pod, not the session count. Sockets stay open until shutdown.
 * A socket that carries a single flow is connect()ed to its pod, so the
 * forwarded datagrams use the socket's cached route instead of a route lookup
 * each; it is disconnected when it takes a flow to a second pod.
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

static int new_udp_socket(uint8_t family) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && family == 6) {
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  return fd;
}

/*
 * Binds fd to a port the kernel picked for a probe socket. A port bound
 * explicitly survives disconnecting (connect AF_UNSPEC), which releases an
 * automatically assigned one; so the socket can be connected while it
 * carries one flow and disconnected when it takes a second one, keeping the
 * local port its flows are known by. Returns 1 when bound so, 0 otherwise
 * (the caller then binds port 0).
 */
static int bind_reserved_port(int fd, uint8_t family) {
  gm_dp_addr wildcard = {.family = family};
  for (int attempt = 0; attempt < 4; attempt++) {
    int probe = new_udp_socket(family);
    if (probe < 0) return 0;
    struct sockaddr_in6 addr;
    socklen_t len = dp_addr_to_sockaddr(&wildcard, &addr);
    int picked = bind(probe, (struct sockaddr *)&addr, len) == 0 &&
                 getsockname(probe, (struct sockaddr *)&addr, &len) == 0;
    close(probe);
    if (!picked) return 0;
    /* sin_port and sin6_port share their offset. */
    if (bind(fd, (struct sockaddr *)&addr, len) == 0) return 1;
    if (errno != EADDRINUSE) return 0; /* else another socket took the port in between: pick again */
  }
  return 0;
}

static int open_socket(dp_thread *t, uint8_t family) {
  dp_upstreams *ups = &t->ups;
  if (ups->count >= ups->capacity) {
    errno = EMFILE;
    return -1;
  }
  int fd = new_udp_socket(family);
  if (fd < 0) return -1;
  dp_socket_tune(fd);
  int port_locked = bind_reserved_port(fd, family);
  struct sockaddr_in6 any;
  gm_dp_addr wildcard = {.family = family};
  socklen_t len = dp_addr_to_sockaddr(&wildcard, &any);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = dp_tag(DP_TAG_UPSTREAM, ups->count)};
  if ((!port_locked && bind(fd, (struct sockaddr *)&any, len) != 0) ||
      epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  uint32_t index = ups->count++;
  ups->socks[index] = (dp_upstream_sock){.fd = fd, .family = family, .port_locked = (uint8_t)port_locked};
  dp_gauge(t, GM_DP_C_upstream_sockets, ups->count);
  return (int)index;
}

/*
 * Gets the socket ready for a flow to `pod`: connected when this is its only
 * flow, unconnected when it is shared (a connected socket would not receive
 * from the other pods). Returns 0 when the socket cannot take the flow.
 */
static int prepare_socket(dp_thread *t, dp_upstream_sock *sock, const gm_dp_addr *pod) {
  /*
   * A port-mode listener acquires in the middle of a batch: datagrams of the
   * socket's flow may already be queued without an address (connected). They
   * leave before the connection changes, or a disconnected socket would
   * refuse them (EDESTADDRREQ).
   */
  if ((sock->flows == 0 && sock->port_locked) || sock->connected) dp_tx_flush_socket(t, sock->fd);
  if (sock->flows == 0 && sock->port_locked) {
    struct sockaddr_in6 addr;
    socklen_t len = dp_addr_to_sockaddr(pod, &addr);
    if (connect(sock->fd, (struct sockaddr *)&addr, len) == 0) {
      sock->connected = 1;
      return 1;
    }
    /* Failed: it may still be connected to an earlier pod, so it is disconnected below. */
  }
  if (!sock->connected) return 1;
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  if (connect(sock->fd, &unspec, sizeof unspec) != 0) return 0;
  sock->connected = 0;
  return 1;
}

int dp_upstream_acquire(dp_thread *t, const gm_dp_addr *pod) {
  dp_upstreams *ups = &t->ups;
  dp_dest *d = dest_find(ups, pod, 1);
  int chosen = -1;
  for (uint32_t s = d->hint; s < ups->count; s++) {
    if (ups->socks[s].family == pod->family && dp_table_find_reverse(&t->table, s, pod) == NULL &&
        prepare_socket(t, &ups->socks[s], pod)) {
      chosen = (int)s;
      break;
    }
  }
  if (chosen < 0) {
    chosen = open_socket(t, pod->family);
    if (chosen >= 0) prepare_socket(t, &ups->socks[chosen], pod); /* a new socket is always usable */
  }
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
