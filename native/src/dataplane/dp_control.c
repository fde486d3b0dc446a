/*
 * The control side of the data plane, called from the JS thread: creation,
 * listeners, answers for new flows, stop and destroy. Everything that touches
 * an I/O thread's state goes through that thread's command list, so the
 * per-packet path never takes a lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dataplane/dp_internal.h"

#define GM_DP_COUNTER_NAME(name) #name,
const char *const gm_dp_counter_names[GM_DP_COUNTER_COUNT] = {GM_DP_COUNTERS(GM_DP_COUNTER_NAME)};
#undef GM_DP_COUNTER_NAME

size_t gm_dp_flow_entry_bytes(void) { return sizeof(dp_flow); }

uint32_t gm_dp_slots_per_thread(const gm_dp_options *o) {
  return o->threads == 0 ? 0 : (o->max_sessions + o->threads - 1) / o->threads;
}

size_t gm_dp_shared_bytes(const gm_dp_options *o) { return (size_t)o->threads * GM_DP_COUNTER_STRIDE * 8; }

uint32_t gm_dp_threads(const gm_dp *dp) { return dp->options.threads; }

void dp_socket_tune(int fd) {
  int size = DP_SOCKET_BUFFER_BYTES;
  /*
   * Deep buffers absorb bursts (a flood while the thread shares a core) instead
   * of dropping in the kernel. The FORCE variants pass net.core.{r,w}mem_max
   * when the proxy has CAP_NET_ADMIN; otherwise the capped request stands.
   */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
}

static int valid_options(const gm_dp_options *o) {
  return o->threads >= 1 && o->threads <= GM_DP_MAX_THREADS && o->max_sessions >= o->threads &&
         o->max_sessions <= (1u << 26) && o->queue_capacity >= 1 && o->queue_capacity <= (1u << 20) &&
         o->event_capacity >= 1 && o->event_capacity <= (1u << 22) && o->batch >= 1 &&
         o->batch <= GM_DP_MAX_BATCH && o->max_datagram >= 64 && o->max_datagram <= 65535 &&
         o->pending_window >= 1 && o->pending_window <= 255 && o->sweep_ms >= 1 && o->idle_ms >= 1 &&
         o->pending_ms >= 1 && o->source_burst >= 1 && o->source_rate >= 0 &&
         o->flow_burst >= 1 && o->flow_rate >= 0 &&
         o->shared != NULL && ((uintptr_t)o->shared & 7) == 0;
}

static int thread_init(gm_dp *dp, dp_thread *t, uint32_t index) {
  const gm_dp_options *o = &dp->options;
  t->dp = dp;
  t->index = index;
  t->epfd = -1;
  t->wake_fd = -1;
  for (int i = 0; i < GM_DP_MAX_LISTENERS; i++) t->listeners[i].fd = -1;
  pthread_mutex_init(&t->lock, NULL);
  t->slot_base = index * dp->per_thread;
  t->counters = (uint64_t *)o->shared + (size_t)index * GM_DP_COUNTER_STRIDE;
  t->epoch_mono_ms = dp_mono_ms();
  t->epoch_real_ms = dp_now_ms();
  int rc = dp_table_init(&t->table, dp->per_thread);
  if (rc == GM_DP_OK) rc = dp_upstreams_init(&t->ups, dp->per_thread);
  if (rc == GM_DP_OK) rc = dp_rings_init(t, o);
  if (rc != GM_DP_OK) return rc;
  t->rx_data = malloc((size_t)o->batch * o->max_datagram);
  if (t->rx_data == NULL) return GM_DP_E_NOMEM;
  for (uint32_t i = 0; i < o->batch; i++) {
    t->rx_iov[i].iov_base = t->rx_data + (size_t)i * o->max_datagram;
    t->rx_iov[i].iov_len = o->max_datagram;
    struct msghdr *m = &t->rx[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &t->rx_from[i];
    m->msg_namelen = sizeof t->rx_from[i];
    m->msg_iov = &t->rx_iov[i];
    m->msg_iovlen = 1;
  }
  t->epfd = epoll_create1(EPOLL_CLOEXEC);
  t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (t->epfd < 0 || t->wake_fd < 0) return GM_DP_E_THREAD;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = dp_tag(DP_TAG_WAKE, 0)};
  if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wake_fd, &ev) != 0) return GM_DP_E_THREAD;
  return GM_DP_OK;
}

static void free_commands(dp_command *list) {
  while (list != NULL) {
    dp_command *next = list->next;
    if (list->fd >= 0) close(list->fd);
    free(list);
    list = next;
  }
}

static void thread_free(dp_thread *t) {
  if (t->dp == NULL) return;
  for (int i = 0; i < GM_DP_MAX_LISTENERS; i++) {
    if (t->listeners[i].fd >= 0) close(t->listeners[i].fd);
  }
  free_commands(t->commands);
  dp_upstreams_free(&t->ups);
  dp_table_free(&t->table);
  dp_rings_free(t);
  free(t->rx_data);
  if (t->epfd >= 0) close(t->epfd);
  if (t->wake_fd >= 0) close(t->wake_fd);
  pthread_mutex_destroy(&t->lock);
}

int gm_dp_create(const gm_dp_options *options, gm_dp **out, int *sys_errno) {
  *out = NULL;
  if (!valid_options(options)) return GM_DP_E_ARGS;
  gm_dp *dp = calloc(1, sizeof *dp);
  if (dp == NULL) return GM_DP_E_NOMEM;
  dp->options = *options;
  dp->per_thread = gm_dp_slots_per_thread(options);
  pthread_mutex_init(&dp->control_lock, NULL);
  dp->threads = calloc(options->threads, sizeof *dp->threads);
  int rc = dp->threads == NULL ? GM_DP_E_NOMEM : GM_DP_OK;
  for (uint32_t i = 0; rc == GM_DP_OK && i < options->threads; i++) rc = thread_init(dp, &dp->threads[i], i);
  for (uint32_t i = 0; rc == GM_DP_OK && i < options->threads; i++) {
    int err = pthread_create(&dp->threads[i].tid, NULL, dp_thread_main, &dp->threads[i]);
    if (err != 0) {
      if (sys_errno != NULL) *sys_errno = err;
      rc = GM_DP_E_THREAD;
    } else {
      dp->threads[i].started = 1;
    }
  }
  if (rc != GM_DP_OK) {
    if (sys_errno != NULL && rc != GM_DP_E_THREAD) *sys_errno = errno;
    gm_dp_destroy(dp);
    return rc;
  }
  *out = dp;
  return GM_DP_OK;
}

/* Appends a command; 0 when the thread has exited and the command (a snapshot) would never run. */
static int push_command(dp_thread *t, dp_command *cmd) {
  cmd->next = NULL;
  pthread_mutex_lock(&t->lock);
  if (t->exited && cmd->type == DP_CMD_SNAPSHOT) {
    pthread_mutex_unlock(&t->lock);
    return 0;
  }
  dp_command **tail = &t->commands;
  while (*tail != NULL) tail = &(*tail)->next;
  *tail = cmd;
  pthread_mutex_unlock(&t->lock);
  uint64_t one = 1;
  ssize_t ignored = write(t->wake_fd, &one, sizeof one); /* a full eventfd already means "wake up" */
  (void)ignored;
  return 1;
}

static dp_command *new_command(int type, size_t extra) {
  dp_command *cmd = calloc(1, sizeof *cmd + extra);
  if (cmd == NULL) return NULL;
  cmd->type = type;
  cmd->fd = -1;
  return cmd;
}

static int open_listener_socket(const gm_dp_addr *addr, uint16_t port, int reuseport) {
  int fd = socket(addr->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int on = 1;
  if (addr->family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) goto fail;
  dp_socket_tune(fd);
  gm_dp_addr bind_addr = *addr;
  bind_addr.port = port;
  struct sockaddr_in6 sa;
  socklen_t len = dp_addr_to_sockaddr(&bind_addr, &sa);
  if (bind(fd, (struct sockaddr *)&sa, len) != 0) goto fail;
  return fd;
fail: {
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}
}

int gm_dp_add_listener(gm_dp *dp, const gm_dp_addr *bind_addr, const gm_dp_listener_config *config,
                       uint16_t *bound_port, int *sys_errno) {
  if ((bind_addr->family != 4 && bind_addr->family != 6) || config->mode > GM_DP_MODE_KEY) return GM_DP_E_ARGS;
  if (config->fixed_proto != GM_DP_PROTO_ASK && config->fixed_proto >= GM_PROTO_COUNT) return GM_DP_E_ARGS;
  if (config->has_upstream && config->upstream.family != 4 && config->upstream.family != 6) return GM_DP_E_ARGS;
  /* A token is accepted by TS: a listener that opens flows without asking could never accept one. */
  if (config->token_suffix > GM_DP_MAX_TOKEN_SUFFIX ||
      (config->token_suffix > 0 && config->fixed_proto != GM_DP_PROTO_ASK)) {
    return GM_DP_E_ARGS;
  }
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  pthread_mutex_lock(&dp->control_lock);
  int id = dp->listener_count;
  if (id >= GM_DP_MAX_LISTENERS) {
    pthread_mutex_unlock(&dp->control_lock);
    return GM_DP_E_LIMIT;
  }
  uint32_t n = dp->options.threads;
  dp_command *cmds[GM_DP_MAX_THREADS] = {0};
  uint16_t port = bind_addr->port;
  int rc = GM_DP_OK;
  for (uint32_t i = 0; i < n && rc == GM_DP_OK; i++) {
    cmds[i] = new_command(DP_CMD_LISTENER, 0);
    if (cmds[i] == NULL) {
      rc = GM_DP_E_NOMEM;
      break;
    }
    cmds[i]->listener = id;
    cmds[i]->config = *config;
    cmds[i]->fd = open_listener_socket(bind_addr, port, n > 1);
    if (cmds[i]->fd < 0) {
      if (sys_errno != NULL) *sys_errno = errno;
      rc = GM_DP_E_SOCKET;
      break;
    }
    if (i == 0) {
      /* Port 0: every thread's socket joins the port the first one got. */
      struct sockaddr_in6 sa;
      socklen_t len = sizeof sa;
      getsockname(cmds[0]->fd, (struct sockaddr *)&sa, &len);
      gm_dp_addr bound;
      dp_addr_from_sockaddr(&bound, &sa);
      port = bound.port;
    }
  }
  if (rc != GM_DP_OK) {
    for (uint32_t i = 0; i < n; i++) free_commands(cmds[i]);
    pthread_mutex_unlock(&dp->control_lock);
    return rc;
  }
  for (uint32_t i = 0; i < n; i++) push_command(&dp->threads[i], cmds[i]);
  dp->listener_count++;
  pthread_mutex_unlock(&dp->control_lock);
  if (bound_port != NULL) *bound_port = port;
  return id;
}

int gm_dp_set_upstream(gm_dp *dp, int listener, const gm_dp_addr *upstream) {
  if (upstream->family != 4 && upstream->family != 6) return GM_DP_E_ARGS;
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  pthread_mutex_lock(&dp->control_lock);
  int known = listener >= 0 && listener < dp->listener_count;
  pthread_mutex_unlock(&dp->control_lock);
  if (!known) return GM_DP_E_LISTENER;
  for (uint32_t i = 0; i < dp->options.threads; i++) {
    dp_command *cmd = new_command(DP_CMD_UPSTREAM, 0);
    if (cmd == NULL) return GM_DP_E_NOMEM;
    cmd->listener = listener;
    cmd->config.upstream = *upstream;
    push_command(&dp->threads[i], cmd);
  }
  return GM_DP_OK;
}

int gm_dp_answer(gm_dp *dp, gm_dp_flow_ref flow, const gm_dp_assign *assign, const gm_dp_datagram *held,
                 size_t held_count) {
  if (flow.thread >= dp->options.threads || assign->proto >= GM_PROTO_COUNT) return GM_DP_E_ARGS;
  if (assign->upstream.family != 4 && assign->upstream.family != 6) return GM_DP_E_ARGS;
  if (assign->token_len > GM_DP_MAX_TOKEN_SUFFIX) return GM_DP_E_ARGS;
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  size_t bytes = held_count * sizeof(gm_dp_datagram);
  for (size_t i = 0; i < held_count; i++) {
    if (held[i].len > 65535) return GM_DP_E_ARGS;
    bytes += held[i].len;
  }
  dp_command *cmd = new_command(DP_CMD_ANSWER, bytes);
  if (cmd == NULL) return GM_DP_E_NOMEM;
  cmd->flow = flow;
  cmd->assign = *assign;
  cmd->held_count = held_count;
  cmd->held = (gm_dp_datagram *)(void *)(cmd + 1);
  uint8_t *copy = (uint8_t *)(cmd->held + held_count);
  for (size_t i = 0; i < held_count; i++) {
    if (held[i].len > 0) memcpy(copy, held[i].data, held[i].len);
    cmd->held[i] = (gm_dp_datagram){.data = copy, .len = held[i].len, .at_ms = held[i].at_ms};
    copy += held[i].len;
  }
  push_command(&dp->threads[flow.thread], cmd);
  return GM_DP_OK;
}

int gm_dp_drop(gm_dp *dp, gm_dp_flow_ref flow) {
  if (flow.thread >= dp->options.threads) return GM_DP_E_ARGS;
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  dp_command *cmd = new_command(DP_CMD_DROP, 0);
  if (cmd == NULL) return GM_DP_E_NOMEM;
  cmd->flow = flow;
  push_command(&dp->threads[flow.thread], cmd);
  return GM_DP_OK;
}

int gm_dp_close_session(gm_dp *dp, gm_dp_flow_ref flow, int reason) {
  if (flow.thread >= dp->options.threads) return GM_DP_E_ARGS;
  if (reason < GM_CLOSE_PROTOCOL_DISCONNECT || reason > GM_CLOSE_PLUGIN_ERROR) return GM_DP_E_ARGS;
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  dp_command *cmd = new_command(DP_CMD_CLOSE, 0);
  if (cmd == NULL) return GM_DP_E_NOMEM;
  cmd->flow = flow;
  cmd->close_reason = reason;
  push_command(&dp->threads[flow.thread], cmd);
  return GM_DP_OK;
}

int gm_dp_sessions(gm_dp *dp, const uint32_t *slots, size_t count, double *rows) {
  if (count == 0) return GM_DP_OK;
  if (atomic_load(&dp->stopping)) return GM_DP_E_STOPPED;
  uint32_t n = dp->options.threads;
  size_t per_thread[GM_DP_MAX_THREADS] = {0};
  for (size_t i = 0; i < count; i++) {
    uint32_t thread = slots[i] / dp->per_thread;
    if (thread < n) per_thread[thread]++;
    else memset(rows + i * GM_DP_SESSION_WORDS, 0, GM_DP_SESSION_WORDS * sizeof *rows);
  }
  /*
   * One command per thread with that thread's slots (as local slots) and its
   * own rows; the rows are scattered back into the caller's order afterwards.
   */
  size_t scratch_count = 0;
  for (uint32_t t = 0; t < n; t++) scratch_count += per_thread[t];
  size_t scratch_bytes = scratch_count * (sizeof(uint32_t) + GM_DP_SESSION_WORDS * sizeof(double));
  double *scratch_rows = malloc(scratch_bytes > 0 ? scratch_bytes : 1);
  if (scratch_rows == NULL) return GM_DP_E_NOMEM;
  uint32_t *scratch_slots = (uint32_t *)(void *)(scratch_rows + scratch_count * GM_DP_SESSION_WORDS);
  size_t start[GM_DP_MAX_THREADS], fill[GM_DP_MAX_THREADS];
  size_t offset = 0;
  for (uint32_t t = 0; t < n; t++) {
    start[t] = fill[t] = offset;
    offset += per_thread[t];
  }
  for (size_t i = 0; i < count; i++) {
    uint32_t thread = slots[i] / dp->per_thread;
    if (thread < n) scratch_slots[fill[thread]++] = slots[i] - thread * dp->per_thread;
  }
  dp_snapshot_wait wait;
  pthread_mutex_init(&wait.lock, NULL);
  pthread_cond_init(&wait.done, NULL);
  wait.remaining = 0;
  int rc = GM_DP_OK;
  for (uint32_t t = 0; t < n; t++) {
    if (per_thread[t] == 0) continue;
    dp_command *cmd = new_command(DP_CMD_SNAPSHOT, 0);
    if (cmd == NULL) {
      rc = GM_DP_E_NOMEM;
      break;
    }
    cmd->snapshot_count = per_thread[t];
    cmd->slots = scratch_slots + start[t];
    cmd->rows = scratch_rows + start[t] * GM_DP_SESSION_WORDS;
    cmd->wait = &wait;
    pthread_mutex_lock(&wait.lock);
    wait.remaining++;
    pthread_mutex_unlock(&wait.lock);
    if (!push_command(&dp->threads[t], cmd)) {
      pthread_mutex_lock(&wait.lock);
      wait.remaining--;
      pthread_mutex_unlock(&wait.lock);
      free(cmd);
      rc = GM_DP_E_STOPPED;
      break;
    }
  }
  /* Commands already queued write into the scratch rows: wait for them even when a later push failed. */
  pthread_mutex_lock(&wait.lock);
  while (wait.remaining > 0) pthread_cond_wait(&wait.done, &wait.lock);
  pthread_mutex_unlock(&wait.lock);
  pthread_cond_destroy(&wait.done);
  pthread_mutex_destroy(&wait.lock);
  if (rc == GM_DP_OK) {
    for (uint32_t t = 0; t < n; t++) fill[t] = start[t];
    for (size_t i = 0; i < count; i++) {
      uint32_t thread = slots[i] / dp->per_thread;
      if (thread >= n) continue;
      memcpy(rows + i * GM_DP_SESSION_WORDS, scratch_rows + fill[thread]++ * GM_DP_SESSION_WORDS,
             GM_DP_SESSION_WORDS * sizeof *rows);
    }
  }
  free(scratch_rows);
  return rc;
}

void gm_dp_memory_usage(const gm_dp *dp, gm_dp_memory *out) {
  const gm_dp_options *o = &dp->options;
  memset(out, 0, sizeof *out);
  out->flow_entry_bytes = sizeof(dp_flow);
  out->shared_bytes = gm_dp_shared_bytes(o);
  for (uint32_t i = 0; i < o->threads; i++) {
    const dp_thread *t = &dp->threads[i];
    out->capacity += t->table.capacity;
    out->flow_entries_touched += dp_table_high_water(&t->table);
    out->index_bytes += 2 * (size_t)t->table.index_size * sizeof(uint32_t);
    out->token_bytes += (size_t)atomic_load_explicit(&t->table.token_high_water, memory_order_relaxed) *
                        GM_DP_MAX_TOKEN_SUFFIX;
    out->upstream_bytes += (size_t)t->ups.capacity * sizeof(dp_upstream_sock) +
                           ((size_t)t->ups.dest_mask + 1) * sizeof(dp_dest);
    out->ring_bytes += ((size_t)t->queue.mask + 1) * (sizeof(dp_queued) + t->queue.slot_bytes) +
                       ((size_t)t->events.mask + 1) * sizeof(gm_dp_event) +
                       DP_SOURCE_BUCKETS * sizeof(dp_source_bucket) + (size_t)o->batch * o->max_datagram;
  }
}

void gm_dp_wake_reset(gm_dp *dp) { atomic_store(&dp->wake_pending, 0); }

void gm_dp_stop(gm_dp *dp) {
  if (atomic_exchange(&dp->stopping, 1)) {
    /* Another caller is stopping or has stopped: wait for the joins to be done. */
    while (!atomic_load(&dp->stopped)) usleep(1000);
    return;
  }
  for (uint32_t i = 0; i < dp->options.threads; i++) {
    dp_thread *t = &dp->threads[i];
    if (!t->started) continue;
    uint64_t one = 1;
    ssize_t ignored = write(t->wake_fd, &one, sizeof one);
    (void)ignored;
  }
  for (uint32_t i = 0; i < dp->options.threads; i++) {
    if (dp->threads[i].started) pthread_join(dp->threads[i].tid, NULL);
    dp->threads[i].started = 0;
  }
  atomic_store(&dp->stopped, 1);
}

void gm_dp_destroy(gm_dp *dp) {
  if (dp == NULL) return;
  if (dp->threads != NULL) {
    gm_dp_stop(dp);
    for (uint32_t i = 0; i < dp->options.threads; i++) thread_free(&dp->threads[i]);
    free(dp->threads);
  }
  pthread_mutex_destroy(&dp->control_lock);
  free(dp);
}
