/*
 * bench-udp.h: what the benchmark's C programs (bare-relay.c and
 * floor-relay.c, the baseline relays, and udp-load.c, the load tools) share:
 * stopping on a signal, IP:PORT arguments, the relays' UDP sockets, and the
 * message batches of recvmmsg/sendmmsg.
 * Each program is one translation unit, so everything here is static.
 *
 * Include it after `#define _GNU_SOURCE` (recvmmsg and sendmmsg are GNU).
 */
#ifndef GAMEMESH_BENCH_UDP_H
#define GAMEMESH_BENCH_UDP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Datagrams per recvmmsg/sendmmsg call. */
#define BATCH 64
/* Room per datagram, and so the largest payload udp-load sends. */
#define MAX_DATAGRAM 2048

static volatile sig_atomic_t stop_requested = 0;

static inline void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* SIGTERM and SIGINT set stop_requested: the program ends its loop and prints its summary. */
static inline void stop_on_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

/* "A.B.C.D:PORT" into `out`: 0 on success, -1 when it is not one. */
static inline int parse_addr(const char *text, struct sockaddr_in *out) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (colon == NULL || (size_t)(colon - text) >= sizeof host) return -1;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((uint16_t)atoi(colon + 1));
  return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/*
 * A UDP socket with 4 MiB receive and send buffers, the same in both
 * relays so a burst is queued alike; `type_flags` is 0 or SOCK_NONBLOCK.
 * -1 when the socket cannot be made.
 */
static inline int relay_udp_socket(int type_flags) {
  int fd = socket(AF_INET, SOCK_DGRAM | type_flags, 0);
  if (fd < 0) return -1;
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

/*
 * Points message i of a batch at buffer i, `len` bytes (the room to receive
 * into, or the length to send), and, when `peers` is not NULL, at peers[i]
 * for the address; everything else in the messages is cleared. recvmmsg
 * writes lengths back into the messages, so a receive loop calls this again
 * before each call.
 */
static inline void batch_init(struct mmsghdr msgs[BATCH], struct iovec iovs[BATCH],
                              uint8_t bufs[BATCH][MAX_DATAGRAM], size_t len,
                              struct sockaddr_in peers[BATCH]) {
  memset(msgs, 0, sizeof(struct mmsghdr) * BATCH);
  for (int i = 0; i < BATCH; i++) {
    iovs[i].iov_base = bufs[i];
    iovs[i].iov_len = len;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (peers != NULL) {
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
  }
}

#endif
