/*
 * The send half of a batch. Datagrams go out in runs per socket; inside a
 * run, consecutive datagrams to one destination with equal sizes (the last
 * may be shorter) leave as ONE sendmsg with a UDP_SEGMENT cmsg: the kernel
 * builds one skb for the group and cuts it into datagrams after routing and
 * the qdiscs (on loopback, at the receiving socket). Per datagram, most of a
 * relay's CPU is the IP output path, so paying it once per group is the
 * largest saving there is. Everything else goes out with sendmmsg, one
 * datagram per message, as before.
 *
 * The wire is unchanged: the segments are the same datagrams, in the same
 * order per destination. A GSO send that fails is redone per datagram with
 * sendmmsg, so every datagram is either sent or dropped with the reason a
 * plain send would have counted.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include "dataplane/dp_internal.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/*
 * Segments per GSO send: UDP_MAX_SEGMENTS is 64 since Linux 4.18 (128 from
 * 6.11), and a batch never holds more than GM_DP_MAX_BATCH anyway.
 */
#define GSO_MAX_SEGMENTS 64
/* Payload per GSO send: one IP packet's worth (65,535 with headers) with room for IPv6's and UDP's. */
#define GSO_MAX_PAYLOAD 65000u

_Static_assert(GM_DP_MAX_BATCH <= GSO_MAX_SEGMENTS, "a GSO group is cut at the batch size");

/*
 * Sends [i, to) of a run that ends at run_end, one datagram per message.
 * Returns where to go on: `to`, or run_end when a full socket buffer dropped
 * the rest of the run (as a burst that does not fit is dropped whole).
 */
static uint32_t send_each(dp_thread *t, int fd, int counter, uint32_t i, uint32_t to, uint32_t run_end) {
  while (i < to) {
    int n = sendmmsg(fd, &t->tx[i], to - i, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        dp_count(t, GM_DP_C_drop_send_error, run_end - i);
        return run_end;
      }
      /* Any other error is the datagram's own (a pending ICMP error, a refused route): it drops that one. */
      dp_count(t, GM_DP_C_drop_send_error, 1);
      i++;
      continue;
    }
    uint64_t bytes = 0;
    for (int k = 0; k < n; k++) bytes += t->tx_iov[i + (uint32_t)k].iov_len;
    dp_count(t, counter, (uint64_t)n);
    dp_count(t, counter + 1, bytes);
    i += (uint32_t)n;
  }
  return to;
}

static int same_destination(const dp_thread *t, uint32_t a, uint32_t b) {
  const struct msghdr *x = &t->tx[a].msg_hdr, *y = &t->tx[b].msg_hdr;
  if (x->msg_name == NULL || y->msg_name == NULL) return x->msg_name == y->msg_name; /* both connected */
  /* dp_addr_to_sockaddr zeroes the whole sockaddr, so equal addresses are equal bytes. */
  return x->msg_namelen == y->msg_namelen && memcmp(x->msg_name, y->msg_name, x->msg_namelen) == 0;
}

/* How many datagrams from k (within [k, end)) form one GSO group; 1 = none. */
static uint32_t group_length(const dp_thread *t, uint32_t k, uint32_t end) {
  size_t size = t->tx_iov[k].iov_len;
  if (size == 0 || size > GSO_MAX_PAYLOAD / 2) return 1;
  uint32_t cap = (uint32_t)(GSO_MAX_PAYLOAD / size);
  if (cap > GSO_MAX_SEGMENTS) cap = GSO_MAX_SEGMENTS;
  uint32_t j = k + 1;
  while (j < end && j - k < cap && same_destination(t, k, j)) {
    size_t len = t->tx_iov[j].iov_len;
    if (len == size) {
      j++;
      continue;
    }
    /* A shorter datagram can close the group (the kernel's last segment); an empty one would vanish in it. */
    if (len > 0 && len < size) j++;
    break;
  }
  return j - k;
}

/* Probes a socket once: getsockopt(UDP_SEGMENT) fails (ENOPROTOOPT) on kernels without UDP GSO. */
static int gso_usable(const dp_thread *t, uint8_t *state, int fd) {
  if (*state == DP_GSO_UNPROBED) {
    int size = 0;
    socklen_t len = sizeof size;
    int ok = t->dp->options.gso && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
    *state = ok ? DP_GSO_ON : DP_GSO_OFF;
  }
  return *state == DP_GSO_ON;
}

/* Sends the group [k, k + n) (n >= 2) as one GSO send, or per datagram when that fails. Returns where to go on. */
static uint32_t send_group(dp_thread *t, int fd, int counter, uint8_t *gso, uint32_t k, uint32_t n,
                           uint32_t run_end) {
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  const struct msghdr *first = &t->tx[k].msg_hdr;
  struct msghdr m = {
      .msg_name = first->msg_name,
      .msg_namelen = first->msg_namelen,
      .msg_iov = &t->tx_iov[k], /* the batch's iovecs are contiguous: one per datagram */
      .msg_iovlen = n,
      .msg_control = control.buf,
      .msg_controllen = sizeof control.buf,
  };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t segment = (uint16_t)t->tx_iov[k].iov_len;
  memcpy(CMSG_DATA(cm), &segment, sizeof segment);
  ssize_t sent;
  do {
    sent = sendmsg(fd, &m, MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent >= 0) {
    /* UDP sends all or nothing: every segment is out. */
    dp_count(t, counter, n);
    dp_count(t, counter + 1, (uint64_t)sent);
    dp_count(t, GM_DP_C_tx_gso_sends, 1);
    dp_count(t, GM_DP_C_tx_gso_segments, n);
    return k + n;
  }
  dp_count(t, GM_DP_C_tx_gso_fallbacks, 1);
  switch (errno) {
    case EIO:         /* the device cannot checksum the segments */
    case EOPNOTSUPP:
    case ENOPROTOOPT: /* no UDP GSO here: not worth trying again */
      *gso = DP_GSO_OFF;
      return send_each(t, fd, counter, k, k + n, run_end);
    case EINVAL:   /* gso_size + headers above the path MTU (a plain send fragments instead) */
    case EMSGSIZE: /* the same, as newer kernels report it */
    case EAGAIN:   /* one big skb did not fit in the send buffer: single datagrams may (EWOULDBLOCK is EAGAIN) */
    case ENOBUFS:
      return send_each(t, fd, counter, k, k + n, run_end);
    default:
      /*
       * A per-send error, e.g. the ECONNREFUSED an ICMP port unreachable left
       * pending on the socket: reported once, by the first send after it. A
       * plain sendmmsg would have dropped the group's first datagram with it
       * and sent the rest; so does this.
       */
      dp_count(t, GM_DP_C_drop_send_error, 1);
      return send_each(t, fd, counter, k + 1, k + n, run_end);
  }
}

void dp_tx_flush(dp_thread *t) {
  uint32_t i = 0;
  while (i < t->tx_count) {
    int fd = t->tx_fd[i];
    int counter = t->tx_counter_packets[i];
    uint8_t *gso = t->tx_gso[i];
    uint32_t end = i + 1;
    while (end < t->tx_count && t->tx_fd[end] == fd && t->tx_counter_packets[end] == counter) end++;
    /* [plain, k): datagrams waiting for one sendmmsg; a GSO group sends them first to keep the order. */
    uint32_t plain = i, k = i;
    while (k < end) {
      uint32_t n = group_length(t, k, end);
      if (n < 2 || !gso_usable(t, gso, fd)) {
        k += n;
        continue;
      }
      if (plain < k && send_each(t, fd, counter, plain, k, end) == end) {
        plain = k = end;
        break;
      }
      k = send_group(t, fd, counter, gso, k, n, end);
      plain = k;
    }
    if (plain < end) send_each(t, fd, counter, plain, end, end);
    i = end;
  }
  t->tx_count = 0;
}

void dp_tx_flush_socket(dp_thread *t, int fd) {
  for (uint32_t i = 0; i < t->tx_count; i++) {
    if (t->tx_fd[i] == fd) {
      /* The whole batch, not only fd's datagrams: the batch order is the send order. */
      dp_tx_flush(t);
      return;
    }
  }
}
