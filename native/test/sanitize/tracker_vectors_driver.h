/*
 * Shared body of the sanitizer programs (<proto>_vectors.c): runs the native
 * trackers over a vector file written by write-tracker-inputs.ts from the real
 * captures (plus seeded mutations of them), every datagram in a heap buffer
 * of its exact length so ASan flags any read past it; UBSan and LSan watch
 * the rest. File records, little-endian:
 *   'S' proto:u8 variant:u8 clock_rate_hz:u32   starts a sequence (fresh tracker)
 *   'D' direction:u8 at_ms:f64 length:u32 bytes  one datagram of it
 */
#ifndef GM_TRACKER_VECTORS_DRIVER_H
#define GM_TRACKER_VECTORS_DRIVER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trackers/gm_tracker.h"

typedef struct gm_vector_totals {
  long sequences;
  long datagrams;
  long events;
  long opened;
  long closed;
} gm_vector_totals;

static int gm_read_exact(FILE *f, void *out, size_t n) { return fread(out, 1, n, f) == n; }

static uint32_t gm_u32le(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int gm_fail(const char *path, const char *what) {
  fprintf(stderr, "%s: %s\n", path, what);
  return 1;
}

/* Runs every sequence of `path` whose protocol is `proto`; returns 0 when all events and stats were well-formed. */
static int gm_run_vectors(const char *path, int proto, gm_vector_totals *totals) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return gm_fail(path, "cannot open");
  gm_tracker tracker;
  int active = 0;
  int status = 0;
  gm_event events[8];
  double stats[GM_STATS_MAX];
  uint8_t tag;
  while (status == 0 && gm_read_exact(f, &tag, 1)) {
    if (tag == 'S') {
      uint8_t head[6];
      if (!gm_read_exact(f, head, sizeof head)) { status = gm_fail(path, "truncated sequence header"); break; }
      if (active && gm_tracker_stats(&tracker, stats) != gm_protocol(proto)->stat_count) status = gm_fail(path, "stats");
      active = head[0] == proto;
      if (!active) continue;
      gm_tracker_config config = {0};
      config.variant = head[1];
      config.clock_rate_hz = gm_u32le(head + 2);
      gm_tracker_init(&tracker, proto, &config);
      totals->sequences++;
    } else if (tag == 'D') {
      uint8_t head[13];
      if (!gm_read_exact(f, head, sizeof head)) { status = gm_fail(path, "truncated datagram header"); break; }
      double at;
      memcpy(&at, head + 1, sizeof at);
      uint32_t len = gm_u32le(head + 9);
      if (len > 65535) { status = gm_fail(path, "datagram longer than 65535 bytes"); break; }
      uint8_t *data = malloc(len == 0 ? 1 : len);
      if (data == NULL || !gm_read_exact(f, data, len)) { free(data); status = gm_fail(path, "truncated datagram"); break; }
      if (active) {
        int n = gm_tracker_observe(&tracker, data, len, head[0] ? GM_DIR_REVERSE : GM_DIR_FORWARD, at, events, 8);
        totals->datagrams++;
        for (int i = 0; i < n; i++) {
          totals->events++;
          if (events[i].type == GM_EVENT_OPENED) totals->opened++;
          else if (events[i].type == GM_EVENT_CLOSED) totals->closed++;
          else status = gm_fail(path, "bad event type");
          if (events[i].at_ms != at) status = gm_fail(path, "event time is not the datagram's");
        }
      }
      free(data);
    } else {
      status = gm_fail(path, "unknown record");
    }
  }
  if (status == 0 && active && gm_tracker_stats(&tracker, stats) != gm_protocol(proto)->stat_count)
    status = gm_fail(path, "stats");
  fclose(f);
  return status;
}

static int gm_vectors_main(int argc, char **argv, int proto) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s VECTORS...\n", argv[0]);
    return 2;
  }
  gm_vector_totals totals = {0};
  for (int i = 1; i < argc; i++) {
    if (gm_run_vectors(argv[i], proto, &totals) != 0) return 1;
  }
  printf("%s: %ld sequences, %ld datagrams, %ld events (%ld opened, %ld closed)\n", gm_protocol(proto)->name,
         totals.sequences, totals.datagrams, totals.events, totals.opened, totals.closed);
  /* A vector file with nothing for this protocol means the check did not run. */
  return totals.datagrams > 0 && totals.events > 0 ? 0 : 1;
}

#endif
