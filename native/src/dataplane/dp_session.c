/*
 * Session bookkeeping on the I/O thread: the shared per-session stats blocks
 * (written under a seqlock so TS never reads a half-written block), lifecycle
 * events, and flow removal.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "dataplane/dp_internal.h"

double dp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

uint64_t dp_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double *session_block(dp_thread *t, const dp_flow *flow) {
  return t->sessions + (size_t)dp_table_slot(&t->table, flow) * GM_DP_SESSION_WORDS;
}

static void seq_begin(double *block) {
  double seq = block[GM_DP_S_SEQ] + 1;
  __atomic_store(&block[GM_DP_S_SEQ], &seq, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void seq_end(double *block) {
  __atomic_thread_fence(__ATOMIC_RELEASE);
  double seq = block[GM_DP_S_SEQ] + 1;
  __atomic_store(&block[GM_DP_S_SEQ], &seq, __ATOMIC_RELAXED);
}

void dp_session_publish(dp_thread *t, dp_flow *flow) {
  double *b = session_block(t, flow);
  double stats[GM_STATS_MAX];
  int count = gm_tracker_stats(&flow->tracker, stats);
  seq_begin(b);
  b[GM_DP_S_GEN] = flow->gen;
  b[GM_DP_S_PROTO] = flow->tracker.proto;
  b[GM_DP_S_STATE] = flow->state == DP_FLOW_CLOSED ? 2 : 1;
  b[GM_DP_S_PACKETS_FWD] = (double)flow->packets[0];
  b[GM_DP_S_BYTES_FWD] = (double)flow->bytes[0];
  b[GM_DP_S_PACKETS_REV] = (double)flow->packets[1];
  b[GM_DP_S_BYTES_REV] = (double)flow->bytes[1];
  b[GM_DP_S_FIRST_AT] = flow->first_at;
  b[GM_DP_S_LAST_AT] = flow->last_at;
  b[GM_DP_S_STAT_COUNT] = count;
  b[GM_DP_S_LISTENER] = flow->listener;
  for (int i = 0; i < count && i < GM_STATS_MAX; i++) b[GM_DP_S_STATS + i] = stats[i];
  seq_end(b);
  flow->since_stats = 0;
}

void dp_session_clear(dp_thread *t, dp_flow *flow) {
  double *b = session_block(t, flow);
  seq_begin(b);
  b[GM_DP_S_STATE] = 0;
  seq_end(b);
}

void dp_flow_emit(dp_thread *t, dp_flow *flow, int type, int reason, const gm_key *key, double at_ms) {
  gm_dp_event e;
  memset(&e, 0, sizeof e);
  e.type = (uint8_t)type;
  e.reason = (uint8_t)reason;
  e.proto = flow->tracker.proto;
  e.listener = flow->listener;
  e.flow = (gm_dp_flow_ref){t->index, t->slot_base + dp_table_slot(&t->table, flow), flow->gen};
  if (key != NULL) e.key = *key;
  e.at_ms = at_ms;
  e.client = flow->client;
  e.upstream = flow->upstream;
  memcpy(e.packets, flow->packets, sizeof e.packets);
  memcpy(e.bytes, flow->bytes, sizeof e.bytes);
  if (type == GM_EVENT_OPENED) {
    flow->opened_emitted = 1;
    dp_count(t, GM_DP_C_sessions_opened, 1);
  } else {
    dp_count(t, GM_DP_C_sessions_closed, 1);
    if (reason >= GM_CLOSE_PROTOCOL_DISCONNECT && reason <= GM_CLOSE_PLUGIN_ERROR) {
      dp_count(t, GM_DP_C_closed_protocol_disconnect + reason - GM_CLOSE_PROTOCOL_DISCONNECT, 1);
    }
  }
  /* Stats first, so a TS reader woken by the event sees the block it names. */
  dp_session_publish(t, flow);
  dp_event_push(t, &e);
}

void dp_flow_close(dp_thread *t, dp_flow *flow, int reason, double at_ms) {
  if (flow->state != DP_FLOW_ACTIVE) return;
  flow->state = DP_FLOW_CLOSED;
  if (flow->opened_emitted) dp_flow_emit(t, flow, GM_EVENT_CLOSED, reason, NULL, at_ms);
}

void dp_flow_remove(dp_thread *t, dp_flow *flow, int reason, double at_ms) {
  dp_flow_close(t, flow, reason, at_ms);
  if (flow->opened_emitted) dp_session_clear(t, flow);
  if (flow->upstream_sock != UINT32_MAX) dp_upstream_release(t, flow->upstream_sock, &flow->upstream);
  dp_table_remove(&t->table, flow);
  dp_count(t, GM_DP_C_flows_removed, 1);
  dp_gauge(t, GM_DP_C_flows_active, t->table.used);
}
