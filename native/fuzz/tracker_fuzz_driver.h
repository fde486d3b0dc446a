/*
 * Shared body of the per-protocol tracker fuzz targets (<proto>_fuzz.c).
 * Input layout: config (variant u8, clock rate u32le), then records of
 * [flags u8: bit 0 = reverse direction, bits 1..7 = ms since the previous
 * datagram][length u16le][bytes], the last record taking what is left when
 * its length runs past the end. Each record is one datagram fed to a fresh
 * tracker of the protocol, whose events and stats are then checked for
 * shape. ASan/UBSan catch the memory and arithmetic faults.
 */
#ifndef GM_TRACKER_FUZZ_DRIVER_H
#define GM_TRACKER_FUZZ_DRIVER_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trackers/gm_tracker.h"

static void gm_fuzz_check(int ok) {
  if (!ok) abort();
}

static void gm_fuzz_check_events(const gm_event *events, int n, int max_events) {
  gm_fuzz_check(n >= 0 && n <= max_events);
  for (int i = 0; i < n; i++) {
    const gm_event *e = &events[i];
    gm_fuzz_check(e->type == GM_EVENT_OPENED || e->type == GM_EVENT_CLOSED);
    gm_fuzz_check(e->type == GM_EVENT_OPENED ? e->reason == GM_CLOSE_NONE
                                             : e->reason >= GM_CLOSE_PROTOCOL_DISCONNECT &&
                                                   e->reason <= GM_CLOSE_PLUGIN_ERROR);
    gm_fuzz_check(e->key.kind <= GM_KEY_BYTES);
    gm_fuzz_check(e->key.len <= sizeof e->key.bytes);
  }
}

static int gm_fuzz_tracker(int proto, const uint8_t *data, size_t size) {
  if (size < 5) return 0;
  gm_tracker_config config = {0};
  config.variant = data[0];
  config.clock_rate_hz = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
  data += 5;
  size -= 5;
  gm_tracker tracker;
  gm_tracker_init(&tracker, proto, &config);
  const gm_protocol_ops *ops = gm_protocol(proto);
  gm_fuzz_check(ops != NULL && ops->stat_count <= GM_STATS_MAX);
  double at = 1.7e12;
  gm_event events[8];
  while (size >= 3) {
    int dir = data[0] & 1 ? GM_DIR_REVERSE : GM_DIR_FORWARD;
    at += data[0] >> 1;
    size_t len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (len > size) len = size;
    /* A heap copy of exactly `len` bytes, so ASan sees any read past the datagram. */
    uint8_t *datagram = malloc(len == 0 ? 1 : len);
    gm_fuzz_check(datagram != NULL);
    if (len > 0) memcpy(datagram, data, len);
    int n = gm_tracker_observe(&tracker, datagram, len, dir, at, events, 8);
    free(datagram);
    gm_fuzz_check_events(events, n, 8);
    data += len;
    size -= len;
  }
  double stats[GM_STATS_MAX];
  int count = gm_tracker_stats(&tracker, stats);
  gm_fuzz_check(count == ops->stat_count);
  for (int i = 0; i < count; i++) gm_fuzz_check(!isinf(stats[i]));
  return 0;
}

#endif
