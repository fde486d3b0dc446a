/*
 * The input format shared by the tracker fuzz targets (native/fuzz/<protocol>_fuzz.c)
 * and the sanitizer replay programs (native/test/sanitize/<protocol>_replay.c), and
 * written from real captures and live peers by
 * native/test/sanitize/write-stream-inputs.ts:
 *
 *   u8 variant | u16 LE max_push_len | records...
 *   record = u8 flags | u16 LE length | length bytes
 *     flags bit 0: direction (0 forward, 1 reverse)
 *     flags bits 1..7: ms since the previous datagram (0..127)
 *
 * A record whose length runs past the end is cut to what is left, so every
 * byte string is a valid input.
 */
#ifndef GM_TRACKER_INPUT_H
#define GM_TRACKER_INPUT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "trackers/gm_tracker.h"

#define GM_INPUT_HEADER 3u
#define GM_INPUT_MAX_EVENTS 8

typedef struct gm_input_result {
  uint32_t datagrams;
  uint32_t opened;
  uint32_t closed;
  int stat_count;
  double stats[GM_STATS_MAX];
} gm_input_result;

/* Any violation of the tracker contract is a finding: abort so the fuzzer / sanitizer run fails. */
static inline void gm_input_check(int condition) {
  if (!condition) abort();
}

static inline void gm_input_check_events(const gm_tracker *t, const gm_event *events, int n, gm_input_result *out) {
  gm_input_check(n >= 0 && n <= GM_INPUT_MAX_EVENTS);
  for (int e = 0; e < n; e++) {
    gm_input_check(events[e].type == GM_EVENT_OPENED || events[e].type == GM_EVENT_CLOSED);
    gm_input_check(events[e].key.kind <= GM_KEY_BYTES && events[e].key.len <= sizeof events[e].key.bytes);
    if (events[e].type == GM_EVENT_OPENED) {
      gm_input_check(out->opened == 0 && out->closed == 0); /* one session per tracker, opened once */
      out->opened++;
    } else {
      gm_input_check(events[e].reason >= GM_CLOSE_PROTOCOL_DISCONNECT && events[e].reason <= GM_CLOSE_PLUGIN_ERROR);
      gm_input_check(out->closed == 0);
      out->closed++;
    }
  }
  (void)t;
}

/* Feeds every record of `data` to a fresh tracker of `proto`; checks the contract as it goes. */
static inline void gm_input_run(int proto, const uint8_t *data, size_t size, gm_input_result *out) {
  gm_tracker_config config = {0};
  if (size >= GM_INPUT_HEADER) {
    config.variant = data[0];
    config.max_push_len = (uint32_t)data[1] | (uint32_t)data[2] << 8;
  }
  gm_tracker tracker;
  gm_tracker_init(&tracker, proto, &config);
  *out = (gm_input_result){0};
  double at_ms = 1.7e12; /* an epoch-like clock, as the proxy passes */
  size_t offset = size >= GM_INPUT_HEADER ? GM_INPUT_HEADER : size;
  gm_event events[GM_INPUT_MAX_EVENTS];
  while (offset + 3 <= size) {
    const uint8_t flags = data[offset];
    size_t len = (size_t)data[offset + 1] | (size_t)data[offset + 2] << 8;
    offset += 3;
    if (len > size - offset) len = size - offset;
    at_ms += flags >> 1;
    /* An exact-size heap copy, so ASan sees any read past the datagram. */
    uint8_t *datagram = malloc(len > 0 ? len : 1);
    gm_input_check(datagram != NULL);
    for (size_t i = 0; i < len; i++) datagram[i] = data[offset + i];
    int n = gm_tracker_observe(&tracker, datagram, len, flags & 1, at_ms, events, GM_INPUT_MAX_EVENTS);
    free(datagram);
    gm_input_check_events(&tracker, events, n, out);
    out->datagrams++;
    offset += len;
  }
  out->stat_count = gm_tracker_stats(&tracker, out->stats);
  gm_input_check(out->stat_count >= 0 && out->stat_count <= GM_STATS_MAX);
  for (int s = 0; s < out->stat_count; s++) gm_input_check(!isinf(out->stats[s]));
}

/* Index of a stat by its TS name, or -1. */
static inline int gm_input_stat_index(int proto, const char *name) {
  const gm_protocol_ops *ops = gm_protocol(proto);
  if (ops == NULL) return -1;
  for (int s = 0; s < ops->stat_count; s++) {
    const char *a = ops->stat_names[s];
    const char *b = name;
    while (*a != '\0' && *a == *b) a++, b++;
    if (*a == *b) return s;
  }
  return -1;
}

#endif
