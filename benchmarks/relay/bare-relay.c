/*
 * bare-relay: the physical-limit baseline of the data-plane benchmark. A UDP
 * relay with nothing but what a relay needs: one thread, epoll, batched
 * recvmmsg/sendmmsg, a flow table (client address -> connected upstream
 * socket) and the return path (upstream -> client). No parsing, no tracking,
 * no accounting: whatever gamemesh costs over this is the price of being
 * protocol-aware.
 *
 *   bare-relay --listen IP:PORT --upstream IP:PORT [--flows N]
 *
 * Built with -DBARE_RELAY_GSO it is the informational case bare-c-gso: the
 * same relay, except that each run of equal-size datagrams (the last may be
 * shorter) to one flow's upstream goes out as one UDP GSO sendmsg, as
 * gamemesh does (docs/native.md "Send path"): the best a kernel-socket
 * relay can do. Without the flag it is the baseline the targets name.
 *
 * Prints {"ready":true} once listening and {"forward":N,"reverse":N,"flows":N} on SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-udp.h"

#ifdef BARE_RELAY_GSO
#include <netinet/udp.h>
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

/* Segments and payload per GSO send: UDP_MAX_SEGMENTS, and one IP packet's worth. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_PAYLOAD 65000

/* Sends msgs[start, end) (one connected socket) in groups of equal size; returns the datagrams sent. */
static int send_gso_runs(int fd, struct iovec *iovs, struct mmsghdr *msgs, int start, int end) {
  int sent = 0;
  int k = start;
  while (k < end) {
    size_t size = iovs[k].iov_len;
    int cap = size == 0 ? 1 : (int)(GSO_MAX_PAYLOAD / size);
    if (cap > GSO_MAX_SEGMENTS) cap = GSO_MAX_SEGMENTS;
    int e = k + 1;
    while (e < end && e - k < cap && iovs[e].iov_len == size) e++;
    if (e < end && e - k < cap && iovs[e].iov_len > 0 && iovs[e].iov_len < size) e++; /* a shorter last one */
    if (e - k < 2) {
      int n = sendmmsg(fd, msgs + k, 1, 0);
      if (n > 0) sent += n;
      k = e;
      continue;
    }
    union {
      char buf[CMSG_SPACE(sizeof(uint16_t))];
      struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr m = {.msg_iov = &iovs[k], .msg_iovlen = (size_t)(e - k), .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t segment = (uint16_t)size;
    memcpy(CMSG_DATA(cm), &segment, sizeof segment);
    if (sendmsg(fd, &m, 0) >= 0) {
      sent += e - k;
    } else {
      int n = sendmmsg(fd, msgs + k, (unsigned)(e - k), 0); /* e.g. no UDP GSO: one by one */
      if (n > 0) sent += n;
    }
    k = e;
  }
  return sent;
}
#endif

typedef struct flow {
  struct sockaddr_in client;
  int upstream_fd; /* -1 = empty slot */
} flow;

static uint32_t hash_addr(const struct sockaddr_in *a) {
  uint64_t k = ((uint64_t)a->sin_addr.s_addr << 16) | a->sin_port;
  k *= 0x9E3779B97F4A7C15ull;
  return (uint32_t)(k >> 32);
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int main(int argc, char **argv) {
  struct sockaddr_in listen_addr, upstream_addr;
  int have_listen = 0, have_upstream = 0;
  uint32_t capacity = 1u << 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0) have_listen = parse_addr(argv[i + 1], &listen_addr) == 0;
    else if (strcmp(argv[i], "--upstream") == 0) have_upstream = parse_addr(argv[i + 1], &upstream_addr) == 0;
    else if (strcmp(argv[i], "--flows") == 0) {
      uint32_t want = (uint32_t)strtoul(argv[i + 1], NULL, 10) * 2u;
      capacity = 1024;
      while (capacity < want) capacity <<= 1;
    }
  }
  if (!have_listen || !have_upstream) {
    fprintf(stderr, "usage: bare-relay --listen IP:PORT --upstream IP:PORT [--flows N]\n");
    return 2;
  }
  stop_on_signals();
  setvbuf(stdout, NULL, _IOLBF, 0);

  flow *flows = calloc(capacity, sizeof *flows);
  if (flows == NULL) return 2;
  for (uint32_t i = 0; i < capacity; i++) flows[i].upstream_fd = -1;
  uint32_t flow_count = 0;

  int listener = relay_udp_socket(SOCK_NONBLOCK);
  if (listener < 0 || bind(listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0) {
    perror("bare-relay: listen");
    return 2;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data = {.ptr = NULL}};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);

  static uint8_t bufs[BATCH][MAX_DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in peers[BATCH];
  flow *owners[BATCH];
  uint64_t forward = 0, reverse = 0;
  printf("{\"ready\":true}\n");

  struct epoll_event events[64];
  while (!stop_requested) {
    int ready = epoll_wait(ep, events, 64, 200);
    for (int e = 0; e < ready; e++) {
      flow *source = events[e].data.ptr;
      int fd = source == NULL ? listener : source->upstream_fd;
      for (;;) {
        batch_init(msgs, iovs, bufs, MAX_DATAGRAM, peers);
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        for (int i = 0; i < n; i++) iovs[i].iov_len = msgs[i].msg_len;
        if (source != NULL) {
          /* Return path: everything goes to this flow's client from the listener. */
          for (int i = 0; i < n; i++) {
            msgs[i].msg_hdr.msg_name = &source->client;
            msgs[i].msg_hdr.msg_namelen = sizeof source->client;
          }
          int sent = sendmmsg(listener, msgs, (unsigned)n, 0);
          if (sent > 0) reverse += (uint64_t)sent;
          /* A short batch drained the socket: another recvmmsg would only return EAGAIN. */
          if (n < BATCH) break;
          continue;
        }
        for (int i = 0; i < n; i++) {
          uint32_t slot = hash_addr(&peers[i]) & (capacity - 1);
          while (flows[slot].upstream_fd >= 0 && !same_addr(&flows[slot].client, &peers[i]))
            slot = (slot + 1) & (capacity - 1);
          flow *f = &flows[slot];
          if (f->upstream_fd < 0 && flow_count + 1 < capacity / 2) {
            int up = relay_udp_socket(SOCK_NONBLOCK);
            if (up >= 0 && connect(up, (struct sockaddr *)&upstream_addr, sizeof upstream_addr) == 0) {
              f->client = peers[i];
              f->upstream_fd = up;
              flow_count++;
              struct epoll_event uev = {.events = EPOLLIN, .data = {.ptr = f}};
              epoll_ctl(ep, EPOLL_CTL_ADD, up, &uev);
            } else if (up >= 0) {
              close(up);
            }
          }
          owners[i] = f->upstream_fd >= 0 ? f : NULL;
          msgs[i].msg_hdr.msg_name = NULL;
          msgs[i].msg_hdr.msg_namelen = 0;
        }
        /* Forward path: one sendmmsg per run of datagrams from the same flow. */
        int start = 0;
        while (start < n) {
          int end = start + 1;
          while (end < n && owners[end] == owners[start]) end++;
          if (owners[start] != NULL) {
#ifdef BARE_RELAY_GSO
            forward += (uint64_t)send_gso_runs(owners[start]->upstream_fd, iovs, msgs, start, end);
#else
            int sent = sendmmsg(owners[start]->upstream_fd, msgs + start, (unsigned)(end - start), 0);
            if (sent > 0) forward += (uint64_t)sent;
#endif
          }
          start = end;
        }
        if (n < BATCH) break;
      }
    }
  }
  printf("{\"forward\":%llu,\"reverse\":%llu,\"flows\":%u}\n", (unsigned long long)forward,
         (unsigned long long)reverse, flow_count);
  for (uint32_t i = 0; i < capacity; i++)
    if (flows[i].upstream_fd >= 0) close(flows[i].upstream_fd);
  free(flows);
  close(listener);
  close(ep);
  return 0;
}
