/*
 * udp-load: the load generator, sink, echo server and flooder of the
 * data-plane benchmark and the flood test. One program so that every relay
 * under test is driven by exactly the same code.
 *
 *   udp-load send  --target IP:PORT [--sources N] [--payload B] [--duration-ms D]
 *                  [--count C] [--rate PPS] [--rtp] [--bind IP] [--ssrc-base S]
 *   udp-load sink  --bind IP:PORT [--warmup-ms W] [--window-ms X] [--cpu-pid P]
 *                  [--idle-exit-ms I] [--timeout-ms T] [--ssrc S] [--count-from N]
 *   udp-load echo  --bind IP:PORT
 *   udp-load ping  --target IP:PORT [--count N] [--warmup N] [--payload B] [--rtp]
 *   udp-load flood --target IP:PORT [--total N] [--sources-per-gen S] [--per-source K]
 *                  [--net A] [--rate PPS] [--rtp] [--payload B] [--targets K]
 *
 * Each mode prints one JSON object on stdout when it ends (send on SIGTERM or
 * when done, sink when its window closes or it goes idle, echo on SIGTERM).
 *
 * RTP mode writes a real RFC 3550 fixed header (V=2, PT 0 = PCMU whose clock
 * is 8000 Hz per RFC 3551, so a tracker can compute jitter), sequence and
 * timestamp advancing per packet (+160 ticks = 20 ms), one SSRC per source
 * socket. Bytes 12..19 carry a u64 packet index per source so the sink can
 * count distinct deliveries.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-udp.h"

#define RTP_HEADER 12

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "udp-load: %s: %s\n", what, strerror(errno));
  exit(2);
}

typedef struct options {
  const char *mode;
  struct sockaddr_in target, bind_addr;
  int has_bind;
  const char *bind_ip;
  long sources, payload, duration_ms, count, rate, warmup, warmup_ms, window_ms, idle_exit_ms,
      timeout_ms, total, sources_per_gen, per_source, cpu_pid, targets, count_from;
  unsigned net_a; /* second octet of the flood's source addresses 127.A.x.y */
  uint32_t ssrc_base;
  uint32_t ssrc; /* sink: the SSRC whose distinct packets are counted (0 = the first seen) */
  int rtp;
} options;

static void usage(void) {
  fprintf(stderr, "usage: udp-load send|sink|echo|ping|flood [options] (see the header of udp-load.c)\n");
  exit(2);
}

static options parse_options(int argc, char **argv) {
  options o;
  memset(&o, 0, sizeof o);
  if (argc < 2) usage();
  o.mode = argv[1];
  o.sources = 8;
  o.payload = 64;
  o.duration_ms = 3000;
  o.count = 0;
  o.warmup = 2000;
  o.warmup_ms = 500;
  o.window_ms = 2000;
  o.timeout_ms = 60000;
  o.total = 1000000;
  o.sources_per_gen = 1024;
  o.per_source = 16;
  o.net_a = 64;
  o.ssrc_base = 0x47000000u;
  o.bind_ip = "127.0.0.1";
  for (int i = 2; i < argc; i++) {
    const char *k = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(k, "--rtp") == 0) {
      o.rtp = 1;
      continue;
    }
    if (v == NULL) usage();
    i++;
    if (strcmp(k, "--target") == 0) {
      if (parse_addr(v, &o.target) != 0) usage();
    } else if (strcmp(k, "--bind") == 0) {
      if (strchr(v, ':') != NULL) {
        if (parse_addr(v, &o.bind_addr) != 0) usage();
        o.has_bind = 1;
      } else {
        o.bind_ip = v;
      }
    } else if (strcmp(k, "--sources") == 0) o.sources = atol(v);
    else if (strcmp(k, "--payload") == 0) o.payload = atol(v);
    else if (strcmp(k, "--duration-ms") == 0) o.duration_ms = atol(v);
    else if (strcmp(k, "--count") == 0) o.count = atol(v);
    else if (strcmp(k, "--rate") == 0) o.rate = atol(v);
    else if (strcmp(k, "--warmup") == 0) o.warmup = atol(v);
    else if (strcmp(k, "--warmup-ms") == 0) o.warmup_ms = atol(v);
    else if (strcmp(k, "--window-ms") == 0) o.window_ms = atol(v);
    else if (strcmp(k, "--idle-exit-ms") == 0) o.idle_exit_ms = atol(v);
    else if (strcmp(k, "--timeout-ms") == 0) o.timeout_ms = atol(v);
    else if (strcmp(k, "--cpu-pid") == 0) o.cpu_pid = atol(v);
    else if (strcmp(k, "--total") == 0) o.total = atol(v);
    else if (strcmp(k, "--sources-per-gen") == 0) o.sources_per_gen = atol(v);
    else if (strcmp(k, "--per-source") == 0) o.per_source = atol(v);
    else if (strcmp(k, "--targets") == 0) o.targets = atol(v);
    else if (strcmp(k, "--count-from") == 0) o.count_from = atol(v);
    else if (strcmp(k, "--ssrc-base") == 0) o.ssrc_base = (uint32_t)strtoul(v, NULL, 0);
    else if (strcmp(k, "--ssrc") == 0) o.ssrc = (uint32_t)strtoul(v, NULL, 0);
    else if (strcmp(k, "--net") == 0) {
      o.net_a = (unsigned)atoi(v);
      if (o.net_a < 1 || o.net_a > 255) usage();
    } else usage();
  }
  if (o.payload < (o.rtp ? RTP_HEADER + 8 : 1) || o.payload > MAX_DATAGRAM) {
    fprintf(stderr, "udp-load: --payload must be within %d..%d\n", o.rtp ? RTP_HEADER + 8 : 1, MAX_DATAGRAM);
    exit(2);
  }
  if (o.sources < 1) o.sources = 1;
  return o;
}

static int bound_port(int fd) {
  struct sockaddr_in local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return -1;
  return ntohs(local.sin_port);
}

static int udp_socket(int buffer_bytes) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  return fd;
}

static void put_u16be(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put_u32be(uint8_t *p, uint32_t v) {
  put_u16be(p, (uint16_t)(v >> 16));
  put_u16be(p + 2, (uint16_t)v);
}
static uint64_t get_u64le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static void put_u64le(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes an RTP packet (RFC 3550 §5.1) with index `n` of the source `ssrc`. */
static void write_rtp(uint8_t *buf, long len, uint32_t ssrc, uint64_t n) {
  buf[0] = 0x80;  /* V=2, no padding, no extension, CC=0 */
  buf[1] = 0x00;  /* M=0, PT=0 (PCMU, 8 kHz clock) */
  put_u16be(buf + 2, (uint16_t)n);
  put_u32be(buf + 4, (uint32_t)(n * 160u));
  put_u32be(buf + 8, ssrc);
  put_u64le(buf + RTP_HEADER, n);
  (void)len;
}

/* ---- CPU time of another process: sum of its threads' run time (ns). ---- */

static uint64_t process_cpu_ns(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *dir = opendir(path);
  if (dir == NULL) return 0;
  uint64_t total = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    char stat_path[320];
    snprintf(stat_path, sizeof stat_path, "/proc/%ld/task/%s/schedstat", pid, entry->d_name);
    FILE *f = fopen(stat_path, "r");
    if (f == NULL) continue;
    unsigned long long run_ns = 0;
    if (fscanf(f, "%llu", &run_ns) == 1) total += run_ns;
    fclose(f);
  }
  closedir(dir);
  return total;
}

/* ---- send: saturating (or paced) sender from N connected source sockets. ---- */

static void pace(uint64_t start, uint64_t sent, long rate) {
  if (rate <= 0) return;
  uint64_t due = start + sent * 1000000000ull / (uint64_t)rate;
  for (;;) {
    uint64_t t = now_ns();
    if (t >= due) return;
    uint64_t wait = due - t;
    struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
}

static int run_send(const options *o) {
  int *fds = calloc((size_t)o->sources, sizeof *fds);
  uint64_t *next = calloc((size_t)o->sources, sizeof *next);
  static uint8_t bufs[BATCH][MAX_DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  if (fds == NULL || next == NULL) die("calloc");
  for (long s = 0; s < o->sources; s++) {
    fds[s] = udp_socket(1 << 20);
    struct sockaddr_in local;
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    inet_pton(AF_INET, o->bind_ip, &local.sin_addr);
    if (bind(fds[s], (struct sockaddr *)&local, sizeof local) != 0) die("bind");
    if (connect(fds[s], (struct sockaddr *)&o->target, sizeof o->target) != 0) die("connect");
  }
  memset(bufs, 0xA5, sizeof bufs);
  batch_init(msgs, iovs, bufs, (size_t)o->payload, NULL);
  /* Paced runs send small batches so the rate stays smooth. */
  int batch = o->rate > 0 ? 4 : BATCH;
  uint64_t start = now_ns();
  uint64_t deadline = o->duration_ms > 0 ? start + (uint64_t)o->duration_ms * 1000000ull : UINT64_MAX;
  uint64_t sent = 0, failed = 0;
  long s = 0;
  while (!stop_requested && now_ns() < deadline && (o->count <= 0 || sent < (uint64_t)o->count)) {
    int n = batch;
    if (o->count > 0 && (uint64_t)o->count - sent < (uint64_t)n) n = (int)((uint64_t)o->count - sent);
    if (o->rtp)
      for (int i = 0; i < n; i++) write_rtp(bufs[i], o->payload, o->ssrc_base + (uint32_t)s, next[s] + (uint64_t)i);
    int r = sendmmsg(fds[s], msgs, (unsigned)n, 0);
    if (r > 0) {
      sent += (uint64_t)r;
      next[s] += (uint64_t)r;
    } else {
      /* ECONNREFUSED (ICMP from a closed port) and ENOBUFS are load effects, not errors. */
      failed++;
    }
    s = (s + 1) % o->sources;
    pace(start, sent, o->rate);
  }
  uint64_t elapsed = now_ns() - start;
  printf("{\"mode\":\"send\",\"sent\":%llu,\"failedCalls\":%llu,\"elapsedNs\":%llu,\"sources\":%ld}\n",
         (unsigned long long)sent, (unsigned long long)failed, (unsigned long long)elapsed, o->sources);
  for (long i = 0; i < o->sources; i++) close(fds[i]);
  free(fds);
  free(next);
  return 0;
}

/* ---- sink: counts datagrams; measures a window after a warm-up. ---- */

typedef struct distinct_counter {
  uint8_t *bits;
  uint64_t capacity, distinct, beyond;
} distinct_counter;

static void distinct_add(distinct_counter *d, uint64_t index) {
  if (index >= d->capacity) {
    d->beyond++;
    return;
  }
  uint8_t mask = (uint8_t)(1u << (index & 7));
  if ((d->bits[index >> 3] & mask) == 0) {
    d->bits[index >> 3] |= mask;
    d->distinct++;
  }
}

static int run_sink(const options *o) {
  if (!o->has_bind) usage();
  int fd = udp_socket(8 << 20);
  if (bind(fd, (struct sockaddr *)&o->bind_addr, sizeof o->bind_addr) != 0) die("bind");
  static uint8_t bufs[BATCH][MAX_DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  batch_init(msgs, iovs, bufs, MAX_DATAGRAM, NULL);
  /* Distinct RTP packet indexes of one SSRC (the flood test's established session). */
  distinct_counter distinct = {calloc(1u << 21, 1), (uint64_t)1 << 24, 0, 0};
  if (distinct.bits == NULL) die("calloc");
  uint32_t tracked_ssrc = o->ssrc;
  int tracking = o->ssrc != 0;
  printf("{\"mode\":\"sink\",\"ready\":true,\"port\":%d}\n", bound_port(fd));
  fflush(stdout);

  uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0;
  uint64_t window_start_ns = 0, window_start_packets = 0, window_start_cpu = 0;
  uint64_t window_end_ns = 0, window_packets = 0, window_cpu = 0;
  int window_state = 0; /* 0 waiting for first packet, 1 warming up, 2 measuring, 3 done */
  uint64_t started = now_ns();
  struct pollfd pfd = {fd, POLLIN, 0};
  while (!stop_requested) {
    uint64_t t = now_ns();
    if (o->timeout_ms > 0 && t - started > (uint64_t)o->timeout_ms * 1000000ull) break;
    if (window_state == 1 && t - first_ns >= (uint64_t)o->warmup_ms * 1000000ull) {
      window_state = 2;
      window_start_ns = t;
      window_start_packets = packets;
      window_start_cpu = o->cpu_pid > 0 ? process_cpu_ns(o->cpu_pid) : 0;
    }
    if (window_state == 2 && t - window_start_ns >= (uint64_t)o->window_ms * 1000000ull) {
      window_state = 3;
      window_end_ns = t;
      window_packets = packets - window_start_packets;
      window_cpu = o->cpu_pid > 0 ? process_cpu_ns(o->cpu_pid) - window_start_cpu : 0;
      if (o->idle_exit_ms <= 0) break;
    }
    if (o->idle_exit_ms > 0 && first_ns != 0 && t - last_ns > (uint64_t)o->idle_exit_ms * 1000000ull) break;
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      poll(&pfd, 1, 5);
      continue;
    }
    t = now_ns();
    if (first_ns == 0) {
      first_ns = t;
      window_state = 1;
    }
    last_ns = t;
    packets += (uint64_t)n;
    for (int i = 0; i < n; i++) {
      size_t len = msgs[i].msg_len;
      bytes += len;
      if (len >= RTP_HEADER + 8 && (bufs[i][0] & 0xC0) == 0x80) {
        uint32_t ssrc = ((uint32_t)bufs[i][8] << 24) | ((uint32_t)bufs[i][9] << 16) | ((uint32_t)bufs[i][10] << 8) | bufs[i][11];
        if (!tracking) {
          tracking = 1;
          tracked_ssrc = ssrc;
        }
        uint64_t index = get_u64le(bufs[i] + RTP_HEADER);
        /* --count-from skips a session's start (e.g. while it was being classified). */
        if (ssrc == tracked_ssrc && index >= (uint64_t)o->count_from) distinct_add(&distinct, index);
      }
    }
  }
  double window_s = window_end_ns > window_start_ns ? (double)(window_end_ns - window_start_ns) / 1e9 : 0;
  printf("{\"mode\":\"sink\",\"packets\":%llu,\"bytes\":%llu,\"activeNs\":%llu,"
         "\"windowDone\":%s,\"windowPackets\":%llu,\"windowNs\":%llu,\"windowPps\":%.1f,"
         "\"relayCpuNs\":%llu,\"relayCpuUsPerPacket\":%.4f,"
         "\"trackedSsrc\":%u,\"trackedDistinct\":%llu}\n",
         (unsigned long long)packets, (unsigned long long)bytes,
         (unsigned long long)(last_ns > first_ns ? last_ns - first_ns : 0),
         window_state == 3 ? "true" : "false", (unsigned long long)window_packets,
         (unsigned long long)(window_end_ns - window_start_ns), window_s > 0 ? (double)window_packets / window_s : 0.0,
         (unsigned long long)window_cpu,
         window_packets > 0 ? (double)window_cpu / 1000.0 / (double)window_packets : 0.0, tracked_ssrc,
         (unsigned long long)distinct.distinct);
  free(distinct.bits);
  close(fd);
  return 0;
}

/* ---- echo: returns every datagram to its sender. ---- */

static int run_echo(const options *o) {
  if (!o->has_bind) usage();
  int fd = udp_socket(4 << 20);
  if (bind(fd, (struct sockaddr *)&o->bind_addr, sizeof o->bind_addr) != 0) die("bind");
  static uint8_t bufs[BATCH][MAX_DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in peers[BATCH];
  printf("{\"mode\":\"echo\",\"ready\":true,\"port\":%d}\n", bound_port(fd));
  fflush(stdout);
  uint64_t echoed = 0;
  while (!stop_requested) {
    batch_init(msgs, iovs, bufs, MAX_DATAGRAM, peers);
    /* Blocking receive: a ping-pong peer sleeps between packets like a real server. */
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    for (int i = 0; i < n; i++) iovs[i].iov_len = msgs[i].msg_len;
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (r > 0) echoed += (uint64_t)r;
  }
  printf("{\"mode\":\"echo\",\"echoed\":%llu}\n", (unsigned long long)echoed);
  close(fd);
  return 0;
}

/* ---- ping: one datagram in flight, round-trip time per exchange. ---- */

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int run_ping(const options *o) {
  long total = o->count > 0 ? o->count : 20000;
  uint64_t *rtts = calloc((size_t)total, sizeof *rtts);
  if (rtts == NULL) die("calloc");
  int fd = udp_socket(0);
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  inet_pton(AF_INET, o->bind_ip, &local.sin_addr);
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) die("bind");
  if (connect(fd, (struct sockaddr *)&o->target, sizeof o->target) != 0) die("connect");
  struct timeval timeout = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  uint8_t out[MAX_DATAGRAM], in[MAX_DATAGRAM];
  memset(out, 0x5A, sizeof out);
  long measured = 0, lost = 0;
  uint64_t n = 0;
  uint64_t deadline = now_ns() + (uint64_t)o->timeout_ms * 1000000ull;
  while (measured < total && !stop_requested && now_ns() < deadline) {
    if (o->rtp) write_rtp(out, o->payload, o->ssrc_base, n);
    else put_u64le(out, n);
    uint64_t t0 = now_ns();
    if (send(fd, out, (size_t)o->payload, 0) < 0) {
      lost++;
      n++;
      continue;
    }
    int matched = 0;
    /* Skips late answers to earlier (timed-out) exchanges. */
    for (;;) {
      ssize_t r = recv(fd, in, sizeof in, 0);
      if (r < 0) break;
      uint64_t got = o->rtp ? get_u64le(in + RTP_HEADER) : get_u64le(in);
      if (got == n) {
        matched = 1;
        break;
      }
    }
    uint64_t rtt = now_ns() - t0;
    n++;
    if (!matched) {
      lost++;
      continue;
    }
    if ((long)n > o->warmup) rtts[measured++] = rtt;
  }
  qsort(rtts, (size_t)measured, sizeof *rtts, compare_u64);
  double sum = 0;
  for (long i = 0; i < measured; i++) sum += (double)rtts[i];
#define PCT(p) (measured > 0 ? (double)rtts[(long)((double)(measured - 1) * (p))] / 1000.0 : 0.0)
  printf("{\"mode\":\"ping\",\"samples\":%ld,\"lost\":%ld,\"p50Us\":%.2f,\"p90Us\":%.2f,\"p99Us\":%.2f,"
         "\"p999Us\":%.2f,\"meanUs\":%.2f,\"minUs\":%.2f}\n",
         measured, lost, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), measured > 0 ? sum / (double)measured / 1000.0 : 0.0,
         PCT(0.0));
#undef PCT
  free(rtts);
  close(fd);
  return 0;
}

/* ---- flood: many new source addresses (loopback aliases 127.A.B.x). ---- */

static int run_flood(const options *o) {
  long per_gen = o->sources_per_gen > 0 ? o->sources_per_gen : 1;
  long per_source = o->per_source > 0 ? o->per_source : 1;
  if (per_source > BATCH) per_source = BATCH;
  int *fds = calloc((size_t)per_gen, sizeof *fds);
  if (fds == NULL) die("calloc");
  static uint8_t bufs[BATCH][MAX_DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  uint32_t noise = 0x9E3779B9u;
  for (int i = 0; i < BATCH; i++) {
    for (int j = 0; j < MAX_DATAGRAM; j++) {
      noise ^= noise << 13;
      noise ^= noise >> 17;
      noise ^= noise << 5;
      bufs[i][j] = (uint8_t)noise;
    }
  }
  batch_init(msgs, iovs, bufs, (size_t)o->payload, NULL);
  /* Garbage of varied lengths, from 1 byte up to the payload size. */
  if (!o->rtp)
    for (int i = 0; i < BATCH; i++) iovs[i].iov_len = 1 + (size_t)(bufs[i][0] % (unsigned)o->payload);
  uint64_t sent = 0, failed = 0, sources = 0;
  uint64_t address_index = 0;
  uint64_t start = now_ns();
  while (!stop_requested && sent < (uint64_t)o->total) {
    long opened = 0;
    for (long g = 0; g < per_gen; g++) {
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      if (fd < 0) die("socket");
      /* 127.A.x.y walks the low 16 bits of the address, then the port: every socket is a new source. */
      struct sockaddr_in local;
      memset(&local, 0, sizeof local);
      local.sin_family = AF_INET;
      uint32_t host = (uint32_t)(address_index % 65534u) + 1u;
      uint32_t port = 20000u + (uint32_t)((address_index / 65534u) % 40000u);
      local.sin_addr.s_addr = htonl((127u << 24) | ((o->net_a & 0xFFu) << 16) | (host & 0xFFFFu));
      local.sin_port = htons((uint16_t)port);
      address_index++;
      /* --targets K spreads the sources over K consecutive listener ports. */
      struct sockaddr_in target = o->target;
      if (o->targets > 1)
        target.sin_port = htons((uint16_t)(ntohs(o->target.sin_port) + (address_index - 1) % (uint64_t)o->targets));
      if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0 ||
          connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
        close(fd);
        continue;
      }
      fds[opened++] = fd;
    }
    for (long g = 0; g < opened && sent < (uint64_t)o->total; g++) {
      int n = (int)per_source;
      if ((uint64_t)o->total - sent < (uint64_t)n) n = (int)((uint64_t)o->total - sent);
      if (o->rtp)
        for (int i = 0; i < n; i++) write_rtp(bufs[i], o->payload, 0x66000000u + (uint32_t)sources, (uint64_t)i);
      int r = sendmmsg(fds[g], msgs, (unsigned)n, 0);
      if (r > 0) sent += (uint64_t)r;
      else failed++;
      sources++;
      pace(start, sent, o->rate);
    }
    for (long g = 0; g < opened; g++) close(fds[g]);
  }
  uint64_t elapsed = now_ns() - start;
  printf("{\"mode\":\"flood\",\"sent\":%llu,\"sources\":%llu,\"failedCalls\":%llu,\"elapsedNs\":%llu}\n",
         (unsigned long long)sent, (unsigned long long)sources, (unsigned long long)failed,
         (unsigned long long)elapsed);
  free(fds);
  return 0;
}

int main(int argc, char **argv) {
  options o = parse_options(argc, argv);
  stop_on_signals();
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(o.mode, "send") == 0) return run_send(&o);
  if (strcmp(o.mode, "sink") == 0) return run_sink(&o);
  if (strcmp(o.mode, "echo") == 0) return run_echo(&o);
  if (strcmp(o.mode, "ping") == 0) return run_ping(&o);
  if (strcmp(o.mode, "flood") == 0) return run_flood(&o);
  usage();
  return 2;
}
