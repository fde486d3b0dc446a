/*
 * The I/O thread. Per readable socket: recvmmsg a batch, look each datagram's
 * flow up (one hash probe), feed the flow's tracker, append it to the send
 * batch, then send the batch in runs per destination socket (dp_send.c).
 * Datagrams are sent straight from the receive buffers; nothing is allocated
 * per packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dataplane/dp_internal.h"

#define ROUNDS_PER_WAKE 8 /* batches read from one socket before others get a turn */
#define EVENTS_PER_DATAGRAM 4

/* ---- send batch ---- */

/* `to` NULL: the socket is connected to the destination. `gso`: the socket's enum dp_gso_state. */
static void tx_append(dp_thread *t, int fd, uint8_t *gso, const uint8_t *data, size_t len, const gm_dp_addr *to,
                      int counter) {
  if (t->tx_count == GM_DP_MAX_BATCH) dp_tx_flush(t);
  uint32_t i = t->tx_count++;
  t->tx_fd[i] = fd;
  t->tx_gso[i] = gso;
  t->tx_counter_packets[i] = counter;
  t->tx_iov[i].iov_base = (void *)data;
  t->tx_iov[i].iov_len = len;
  struct msghdr *m = &t->tx[i].msg_hdr;
  if (to == NULL) {
    m->msg_name = NULL; /* a connected socket: the kernel's cached route */
    m->msg_namelen = 0;
  } else {
    m->msg_name = &t->tx_to[i];
    m->msg_namelen = dp_addr_to_sockaddr(to, &t->tx_to[i]);
  }
  m->msg_iov = &t->tx_iov[i];
  m->msg_iovlen = 1;
  m->msg_control = NULL;
  m->msg_controllen = 0;
  m->msg_flags = 0;
}

/* ---- flows ---- */

static void observe(dp_thread *t, dp_flow *flow, const uint8_t *data, size_t len, int dir, double at) {
  gm_event events[EVENTS_PER_DATAGRAM];
  int n = gm_tracker_observe(&flow->tracker, data, len, dir, at, events, EVENTS_PER_DATAGRAM);
  for (int i = 0; i < n; i++) {
    if (events[i].type == GM_EVENT_OPENED && !flow->opened_emitted) {
      dp_flow_emit(t, flow, GM_EVENT_OPENED, GM_CLOSE_NONE, &events[i].key, events[i].at_ms);
    } else if (events[i].type == GM_EVENT_CLOSED) {
      dp_flow_close(t, flow, events[i].reason, events[i].at_ms);
      return; /* a closed session is no longer tracked */
    }
  }
}

static void account(dp_thread *t, dp_flow *flow, int dir, size_t len, uint64_t mono) {
  flow->packets[dir]++;
  flow->bytes[dir] += len;
  flow->last_ms = dp_rel_ms(t, mono);
}

static void forward_to_upstream(dp_thread *t, dp_flow *flow, const uint8_t *data, size_t len, double at,
                                uint64_t mono) {
  account(t, flow, GM_DIR_FORWARD, len, mono);
  if (flow->state == DP_FLOW_ACTIVE && flow->tracker.proto != GM_PROTO_NONE) {
    observe(t, flow, data, len, GM_DIR_FORWARD, at);
  }
  dp_upstream_sock *sock = &t->ups.socks[flow->upstream_sock];
  tx_append(t, sock->fd, &sock->gso, data, len, sock->connected ? NULL : &flow->upstream,
            GM_DP_C_tx_upstream_packets);
}

/* Gives a flow its upstream and tracker. Returns 0, or -1 after removing the flow. */
static int assign(dp_thread *t, dp_flow *flow, int proto, const gm_tracker_config *config,
                  const gm_dp_addr *upstream, double at) {
  int sock = dp_upstream_acquire(t, upstream);
  if (sock < 0) {
    dp_count(t, GM_DP_C_drop_upstream_socket, 1);
    dp_flow_remove(t, flow, GM_CLOSE_NONE, at);
    return -1;
  }
  flow->upstream = *upstream;
  flow->upstream_sock = (uint32_t)sock;
  dp_table_link_reverse(&t->table, flow);
  gm_tracker_init(&flow->tracker, proto, config);
  flow->state = DP_FLOW_ACTIVE;
  /* An untracked flow has no protocol to say when it opens: it is a session from now on. */
  if (flow->tracker.proto == GM_PROTO_NONE) dp_flow_emit(t, flow, GM_EVENT_OPENED, GM_CLOSE_NONE, NULL, at);
  return 0;
}

static dp_flow *create_flow(dp_thread *t, uint8_t listener, const gm_dp_addr *client, double at, uint64_t mono) {
  dp_flow *flow = dp_table_insert(&t->table, listener, client);
  if (flow == NULL) {
    dp_count(t, GM_DP_C_drop_table_full, 1);
    return NULL;
  }
  flow->gen = ++t->gen_counter;
  flow->first_at = at;
  flow->last_ms = dp_rel_ms(t, mono);
  dp_count(t, GM_DP_C_flows_created, 1);
  dp_gauge(t, GM_DP_C_flows_active, t->table.used);
  return flow;
}

static int queue_datagram(dp_thread *t, dp_flow *flow, const uint8_t *data, size_t len, double at) {
  dp_queued entry = {
      .flow = {t->index, t->slot_base + dp_table_slot(&t->table, flow), flow->gen},
      .listener = flow->listener,
      .client = flow->client,
      .at_ms = at,
      .len = (uint32_t)len,
  };
  return dp_queue_push(t, &entry, data);
}

static void new_flow(dp_thread *t, uint8_t li, const gm_dp_addr *client, const uint8_t *data, size_t len,
                     double at, uint64_t mono) {
  const gm_dp_listener_config *config = &t->listeners[li].config;
  if (config->fixed_proto != GM_DP_PROTO_ASK && config->has_upstream) {
    dp_flow *flow = create_flow(t, li, client, at, mono);
    if (flow == NULL) return;
    if (assign(t, flow, config->fixed_proto, &config->tracker, &config->upstream, at) != 0) return;
    forward_to_upstream(t, flow, data, len, at, mono);
    return;
  }
  if (!dp_source_allow(t, client, mono)) {
    dp_count(t, GM_DP_C_drop_source_budget, 1);
    return;
  }
  if (!dp_flow_budget_allow(t, mono)) {
    dp_count(t, GM_DP_C_drop_new_flow_rate, 1);
    return;
  }
  dp_queue *q = &t->queue;
  if (atomic_load_explicit(&q->head, memory_order_relaxed) -
          atomic_load_explicit(&q->tail, memory_order_acquire) >
      q->mask) {
    dp_count(t, GM_DP_C_drop_queue_full, 1);
    return;
  }
  dp_flow *flow = create_flow(t, li, client, at, mono);
  if (flow == NULL) return;
  flow->state = DP_FLOW_PENDING;
  flow->pending_count = 1;
  queue_datagram(t, flow, data, len, at);
}

/*
 * A client datagram of an answered flow. On a token listener (suffix > 0) it
 * must end with the token accepted for the flow, and goes on without it (the pod and the
 * tracker see the game protocol only). A plain memcmp is enough: TS verified
 * the token's signature once, when the flow was new; this compares the
 * client's bytes against that copy, and how long the comparison takes reveals
 * nothing an attacker could not read off the wire (the token travels in the
 * clear on every datagram of the session).
 */
static void forward_client_datagram(dp_thread *t, dp_flow *flow, uint8_t suffix, const uint8_t *data, size_t len,
                                    double at, uint64_t mono) {
  if (suffix == 0) {
    forward_to_upstream(t, flow, data, len, at, mono);
    return;
  }
  if (len < suffix) {
    dp_count(t, GM_DP_C_drop_token_missing, 1);
    return;
  }
  if (memcmp(data + len - suffix, dp_table_token(&t->table, flow), suffix) != 0) {
    dp_count(t, GM_DP_C_drop_token_mismatch, 1);
    return;
  }
  forward_to_upstream(t, flow, data, len - suffix, at, mono);
}

static void from_client(dp_thread *t, uint8_t li, const uint8_t *data, size_t len, const struct sockaddr_in6 *from,
                        double at, uint64_t mono) {
  uint8_t suffix = t->listeners[li].config.token_suffix;
  if (len < suffix) {
    /* No room for a token: not worth a flow lookup, let alone TS's time. */
    dp_count(t, GM_DP_C_drop_token_missing, 1);
    return;
  }
  gm_dp_addr client;
  dp_addr_from_sockaddr(&client, from);
  dp_flow *flow = dp_table_find(&t->table, li, &client);
  if (flow == NULL) {
    new_flow(t, li, &client, data, len, at, mono);
    return;
  }
  switch (flow->state) {
    case DP_FLOW_ACTIVE:
    case DP_FLOW_CLOSED:
      forward_client_datagram(t, flow, suffix, data, len, at, mono);
      return;
    case DP_FLOW_PENDING:
      if (flow->pending_count >= t->dp->options.pending_window) {
        dp_count(t, GM_DP_C_drop_pending_window, 1);
      } else if (!dp_flow_budget_allow(t, mono)) {
        dp_count(t, GM_DP_C_drop_new_flow_rate, 1);
      } else if (!queue_datagram(t, flow, data, len, at)) {
        dp_count(t, GM_DP_C_drop_queue_full, 1);
      } else {
        flow->pending_count++;
      }
      return;
    default: /* denied: keep it denied while the source keeps sending */
      flow->last_ms = dp_rel_ms(t, mono);
      dp_count(t, GM_DP_C_drop_flow_denied, 1);
      return;
  }
}

static void from_upstream(dp_thread *t, uint32_t sock, const uint8_t *data, size_t len,
                          const struct sockaddr_in6 *from, double at, uint64_t mono) {
  gm_dp_addr pod;
  dp_addr_from_sockaddr(&pod, from);
  dp_flow *flow = dp_table_find_reverse(&t->table, sock, &pod);
  if (flow == NULL || (flow->state != DP_FLOW_ACTIVE && flow->state != DP_FLOW_CLOSED)) {
    dp_count(t, GM_DP_C_drop_unknown_source, 1);
    return;
  }
  account(t, flow, GM_DIR_REVERSE, len, mono);
  if (flow->state == DP_FLOW_ACTIVE && flow->tracker.proto != GM_PROTO_NONE) {
    observe(t, flow, data, len, GM_DIR_REVERSE, at);
  }
  dp_listener *listener = &t->listeners[flow->listener];
  tx_append(t, listener->fd, &listener->gso, data, len, &flow->client, GM_DP_C_tx_client_packets);
}

/* ---- sockets ---- */

static void read_socket(dp_thread *t, int fd, int is_listener, uint32_t index) {
  uint32_t batch = t->dp->options.batch;
  uint32_t slot_bytes = t->dp->options.max_datagram;
  int rx_packets = is_listener ? GM_DP_C_rx_client_packets : GM_DP_C_rx_upstream_packets;
  for (int round = 0; round < ROUNDS_PER_WAKE; round++) {
    /* The kernel writes back the headers of received datagrams only (a short address shrinks msg_namelen). */
    for (uint32_t i = 0; i < t->rx_dirty; i++) {
      t->rx[i].msg_hdr.msg_namelen = sizeof t->rx_from[i];
      t->rx[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(fd, t->rx, batch, MSG_DONTWAIT, NULL);
    t->rx_dirty = n > 0 ? (uint32_t)n : 0;
    if (n <= 0) return;
    double at = dp_now_ms();
    uint64_t mono = dp_mono_ms();
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
      const uint8_t *data = t->rx_data + (size_t)i * slot_bytes;
      size_t len = t->rx[i].msg_len;
      bytes += len;
      if (t->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
        dp_count(t, GM_DP_C_drop_oversize, 1);
        continue;
      }
      if (is_listener) {
        from_client(t, (uint8_t)index, data, len, &t->rx_from[i], at, mono);
      } else {
        from_upstream(t, index, data, len, &t->rx_from[i], at, mono);
      }
    }
    dp_count(t, rx_packets, (uint64_t)n);
    dp_count(t, rx_packets + 1, bytes);
    dp_tx_flush(t);
    if ((uint32_t)n < batch) return;
  }
}

/* ---- commands from the control thread ---- */

void dp_thread_run_command(dp_thread *t, dp_command *cmd, double now_ms, uint64_t mono_ms) {
  switch (cmd->type) {
    case DP_CMD_LISTENER: {
      dp_listener *l = &t->listeners[cmd->listener];
      l->fd = cmd->fd;
      l->gso = DP_GSO_UNPROBED;
      l->config = cmd->config;
      cmd->fd = -1; /* owned by the listener now */
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = dp_tag(DP_TAG_LISTENER, (uint32_t)cmd->listener)};
      epoll_ctl(t->epfd, EPOLL_CTL_ADD, l->fd, &ev);
      return;
    }
    case DP_CMD_UPSTREAM:
      t->listeners[cmd->listener].config.upstream = cmd->config.upstream;
      t->listeners[cmd->listener].config.has_upstream = 1;
      return;
    case DP_CMD_SNAPSHOT:
      dp_snapshot_run(t, cmd, mono_ms);
      return;
    default:
      break;
  }
  uint32_t local = cmd->flow.slot - t->slot_base;
  if (cmd->flow.slot < t->slot_base || local >= dp_table_high_water(&t->table)) return;
  dp_flow *flow = &t->table.flows[local];
  if (flow->state == DP_FLOW_FREE || flow->gen != cmd->flow.gen) return; /* gone: idle or replaced */
  if (cmd->type == DP_CMD_DROP) {
    if (flow->state == DP_FLOW_PENDING) {
      flow->state = DP_FLOW_DENIED;
      flow->last_ms = dp_rel_ms(t, mono_ms);
    }
    return;
  }
  if (cmd->type == DP_CMD_CLOSE) {
    /* Only an opened session: one that never said `opened` has no `closed` to say (dp_flow_close is a no-op
     * unless ACTIVE, so a session closed by its protocol or before stays closed once). */
    if (flow->opened_emitted) dp_flow_close(t, flow, cmd->close_reason, now_ms);
    return;
  }
  uint8_t suffix = t->listeners[flow->listener].config.token_suffix;
  if (flow->state == DP_FLOW_PENDING) {
    if (suffix > 0) {
      if (cmd->assign.token_len != suffix) {
        /* gm_dp_answer cannot see the listener; an answer without the token denies the flow. */
        flow->state = DP_FLOW_DENIED;
        flow->last_ms = dp_rel_ms(t, mono_ms);
        return;
      }
      dp_table_set_token(&t->table, flow, cmd->assign.token, suffix);
    }
    if (assign(t, flow, cmd->assign.proto, &cmd->assign.tracker, &cmd->assign.upstream, now_ms) != 0) return;
  }
  if (flow->state != DP_FLOW_ACTIVE && flow->state != DP_FLOW_CLOSED) return;
  for (size_t i = 0; i < cmd->held_count; i++) {
    const gm_dp_datagram *d = &cmd->held[i];
    /* Held datagrams still carry their suffix: they pass the same check as later ones. */
    forward_client_datagram(t, flow, suffix, d->data, d->len, d->at_ms, mono_ms);
  }
  dp_tx_flush(t);
}

static void run_commands(dp_thread *t) {
  uint64_t value;
  while (read(t->wake_fd, &value, sizeof value) > 0) {
  }
  pthread_mutex_lock(&t->lock);
  dp_command *list = t->commands;
  t->commands = NULL;
  pthread_mutex_unlock(&t->lock);
  double now = dp_now_ms();
  uint64_t mono = dp_mono_ms();
  while (list != NULL) {
    dp_command *next = list->next;
    dp_thread_run_command(t, list, now, mono);
    if (list->fd >= 0) close(list->fd);
    free(list);
    list = next;
  }
}

void dp_snapshot_run(dp_thread *t, dp_command *cmd, uint64_t mono_ms) {
  for (size_t i = 0; i < cmd->snapshot_count; i++) {
    dp_session_snapshot(t, cmd->slots[i], mono_ms, cmd->rows + i * GM_DP_SESSION_WORDS);
  }
  dp_snapshot_wait *wait = cmd->wait;
  /* Signalled under the lock: the waiter cannot return (and free `wait`) before the unlock. */
  pthread_mutex_lock(&wait->lock);
  if (--wait->remaining == 0) pthread_cond_signal(&wait->done);
  pthread_mutex_unlock(&wait->lock);
}

/* ---- idle sweep ---- */

static void sweep(dp_thread *t, double now, uint64_t mono) {
  const gm_dp_options *o = &t->dp->options;
  uint32_t now_rel = dp_rel_ms(t, mono);
  uint32_t touched = dp_table_high_water(&t->table);
  for (uint32_t i = 0; i < touched && t->table.used > 0; i++) {
    dp_flow *flow = &t->table.flows[i];
    if (flow->state == DP_FLOW_FREE) continue;
    uint32_t quiet = now_rel - flow->last_ms; /* idle_ms < 2^32: the sweep removes a flow long before a wrap */
    if (flow->state == DP_FLOW_PENDING) {
      if (quiet >= o->pending_ms) {
        dp_count(t, GM_DP_C_drop_pending_timeout, 1);
        dp_flow_remove(t, flow, GM_CLOSE_NONE, now);
      }
    } else if (quiet >= o->idle_ms) {
      dp_flow_remove(t, flow, GM_CLOSE_IDLE, now);
    }
  }
  dp_gauge(t, GM_DP_C_queue_depth,
           atomic_load_explicit(&t->queue.head, memory_order_relaxed) -
               atomic_load_explicit(&t->queue.tail, memory_order_acquire));
  dp_count(t, GM_DP_C_sweeps, 1);
}

void dp_thread_shutdown_sessions(dp_thread *t, double now_ms) {
  uint32_t touched = dp_table_high_water(&t->table);
  for (uint32_t i = 0; i < touched && t->table.used > 0; i++) {
    dp_flow *flow = &t->table.flows[i];
    if (flow->state != DP_FLOW_FREE) dp_flow_remove(t, flow, GM_CLOSE_PROXY_SHUTDOWN, now_ms);
  }
}

/*
 * On exit: snapshot requests still queued are answered (their callers wait for
 * them) and later ones are refused; other commands stay for dp_thread free.
 */
static void finish_snapshots(dp_thread *t) {
  pthread_mutex_lock(&t->lock);
  t->exited = 1;
  dp_command **link = &t->commands;
  dp_command *snapshots = NULL;
  while (*link != NULL) {
    dp_command *cmd = *link;
    if (cmd->type == DP_CMD_SNAPSHOT) {
      *link = cmd->next;
      cmd->next = snapshots;
      snapshots = cmd;
    } else {
      link = &cmd->next;
    }
  }
  pthread_mutex_unlock(&t->lock);
  uint64_t mono = dp_mono_ms();
  while (snapshots != NULL) {
    dp_command *next = snapshots->next;
    dp_snapshot_run(t, snapshots, mono);
    free(snapshots);
    snapshots = next;
  }
}

static void notify(dp_thread *t) {
  if (!t->pushed) return;
  t->pushed = 0;
  gm_dp *dp = t->dp;
  if (dp->options.notify != NULL && !atomic_exchange(&dp->wake_pending, 1)) dp->options.notify(dp->options.notify_ctx);
}

void *dp_thread_main(void *arg) {
  dp_thread *t = arg;
  gm_dp *dp = t->dp;
  struct epoll_event events[64];
  uint64_t mono = dp_mono_ms();
  t->next_sweep_ms = mono + dp->options.sweep_ms;
  while (!atomic_load(&dp->stopping)) {
    /* `mono` was read after the previous batch: one clock read per wake-up serves the sweep and the timeout. */
    int timeout = mono >= t->next_sweep_ms ? 0 : (int)(t->next_sweep_ms - mono);
    int n = epoll_wait(t->epfd, events, 64, timeout);
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64;
      uint32_t kind = (uint32_t)(tag >> 32), index = (uint32_t)tag;
      if (kind == DP_TAG_WAKE) {
        run_commands(t);
      } else if (kind == DP_TAG_LISTENER) {
        read_socket(t, t->listeners[index].fd, 1, index);
      } else if (kind == DP_TAG_UPSTREAM && index < t->ups.count) {
        read_socket(t, t->ups.socks[index].fd, 0, index);
      }
    }
    mono = dp_mono_ms();
    if (mono >= t->next_sweep_ms) {
      sweep(t, dp_now_ms(), mono);
      t->next_sweep_ms = mono + dp->options.sweep_ms;
      mono = dp_mono_ms(); /* a long sweep shortens the next wait, not the cadence */
    }
    notify(t);
  }
  finish_snapshots(t);
  dp_thread_shutdown_sessions(t, dp_now_ms());
  notify(t);
  return NULL;
}
