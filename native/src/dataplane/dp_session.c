/*
 * Session bookkeeping on the I/O thread: snapshots of sessions (computed from
 * the flow entry when the control thread asks, so a session keeps no block of
 * its own), lifecycle events, and flow removal.
 */
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

void dp_session_snapshot(dp_thread *t, uint32_t local, uint64_t mono_ms, double *row) {
  memset(row, 0, GM_DP_SESSION_WORDS * sizeof *row);
  if (local >= dp_table_high_water(&t->table)) return;
  const dp_flow *flow = &t->table.flows[local];
  if ((flow->state != DP_FLOW_ACTIVE && flow->state != DP_FLOW_CLOSED) || !flow->opened_emitted) return;
  double stats[GM_STATS_MAX];
  int count = gm_tracker_stats(&flow->tracker, stats);
  if (count > GM_STATS_MAX) count = GM_STATS_MAX;
  /* last_ms is within the idle timeout of now, so the u32 difference recovers it across a wrap. */
  uint32_t quiet = dp_rel_ms(t, mono_ms) - flow->last_ms;
  double last_mono = (double)(mono_ms - t->epoch_mono_ms) - (double)quiet;
  row[GM_DP_S_GEN] = flow->gen;
  row[GM_DP_S_PROTO] = flow->tracker.proto;
  row[GM_DP_S_STATE] = flow->state == DP_FLOW_CLOSED ? 2 : 1;
  row[GM_DP_S_PACKETS_FWD] = (double)flow->packets[0];
  row[GM_DP_S_BYTES_FWD] = (double)flow->bytes[0];
  row[GM_DP_S_PACKETS_REV] = (double)flow->packets[1];
  row[GM_DP_S_BYTES_REV] = (double)flow->bytes[1];
  row[GM_DP_S_FIRST_AT] = flow->first_at;
  double last_at = t->epoch_real_ms + last_mono;
  /* Two clocks at different resolutions: never report the last datagram before the first. */
  row[GM_DP_S_LAST_AT] = last_at > flow->first_at ? last_at : flow->first_at;
  row[GM_DP_S_STAT_COUNT] = count;
  row[GM_DP_S_LISTENER] = flow->listener;
  for (int i = 0; i < count; i++) row[GM_DP_S_STATS + i] = stats[i];
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
  e.packets[0] = flow->packets[0];
  e.packets[1] = flow->packets[1];
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
  dp_event_push(t, &e);
}

void dp_flow_close(dp_thread *t, dp_flow *flow, int reason, double at_ms) {
  if (flow->state != DP_FLOW_ACTIVE) return;
  flow->state = DP_FLOW_CLOSED;
  if (flow->opened_emitted) dp_flow_emit(t, flow, GM_EVENT_CLOSED, reason, NULL, at_ms);
}

void dp_flow_remove(dp_thread *t, dp_flow *flow, int reason, double at_ms) {
  dp_flow_close(t, flow, reason, at_ms);
  if (flow->upstream_sock != DP_NONE) dp_upstream_release(t, flow->upstream_sock, &flow->upstream);
  dp_table_remove(&t->table, flow);
  dp_count(t, GM_DP_C_flows_removed, 1);
  dp_gauge(t, GM_DP_C_flows_active, t->table.used);
}
