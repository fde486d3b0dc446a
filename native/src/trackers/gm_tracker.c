#include "gm_tracker.h"

#include <string.h>

_Static_assert(sizeof(gm_tracker) <= 8 + GM_TRACKER_STATE_BYTES, "tracker grew past its budget");

static const gm_protocol_ops *const PROTOCOLS[GM_PROTO_COUNT] = {
    [GM_PROTO_NONE] = NULL,
    [GM_PROTO_RAKNET] = &gm_raknet_ops,
    [GM_PROTO_KCP] = &gm_kcp_ops,
    [GM_PROTO_NETCODE] = &gm_netcode_ops,
    [GM_PROTO_RTP] = &gm_rtp_ops,
    [GM_PROTO_RTCP] = &gm_rtcp_ops,
};

const gm_protocol_ops *gm_protocol(int proto) {
  return proto > 0 && proto < GM_PROTO_COUNT ? PROTOCOLS[proto] : NULL;
}

void gm_tracker_init(gm_tracker *t, int proto, const gm_tracker_config *config) {
  memset(t, 0, sizeof *t);
  const gm_protocol_ops *ops = gm_protocol(proto);
  if (ops == NULL) return;
  t->proto = (uint8_t)proto;
  ops->init(t->state, config);
}

int gm_tracker_observe(gm_tracker *t, const uint8_t *data, size_t len, int dir, double at_ms,
                       gm_event *events, int max_events) {
  const gm_protocol_ops *ops = gm_protocol(t->proto);
  if (ops == NULL || max_events <= 0) return 0;
  int n = ops->observe(t->state, data, len, dir, at_ms, events, max_events);
  for (int i = 0; i < n; i++) {
    if (events[i].type == GM_EVENT_OPENED) t->opened = 1;
    if (events[i].type == GM_EVENT_CLOSED) t->closed = 1;
  }
  return n;
}

int gm_tracker_stats(const gm_tracker *t, double *stats) {
  const gm_protocol_ops *ops = gm_protocol(t->proto);
  if (ops == NULL) return 0;
  ops->stats(t->state, stats);
  return ops->stat_count;
}
