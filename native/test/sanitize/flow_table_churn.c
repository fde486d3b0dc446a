/*
 * The flow table under ASan/UBSan: random inserts, reverse links, lookups and
 * removals against a brute-force model, at full load and through slot reuse.
 * Checks that both indexes find exactly the live flows after every backward
 * shift, that a full table refuses inserts, and that entries are handed out
 * from the bottom (freed ones first), so untouched capacity stays untouched.
 *
 *   flow_table_churn [operations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_internal.h"

#define CAPACITY 997 /* not a power of two, like most capacities */
#define KEYS 4000    /* distinct client keys: more than the capacity, so inserts also hit a full table */

static int failures = 0;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond) && failures++ < 20) {                      \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

/* Key k: an IPv4 or IPv6 client on listener k % 3; its pod is one of 5, its upstream socket k % 7. */
static gm_dp_addr client_of(uint32_t k) {
  gm_dp_addr a = {.family = (k & 8) ? 6 : 4, .port = (uint16_t)(1000 + k)};
  a.ip[0] = 127;
  a.ip[3] = (uint8_t)(k >> 4);
  return a;
}
static gm_dp_addr pod_of(uint32_t k) {
  gm_dp_addr a = {.family = 4, .port = 7777, .ip = {10, 0, 0, (uint8_t)(k % 5)}};
  return a;
}

int main(int argc, char **argv) {
  long operations = argc > 1 ? atol(argv[1]) : 400000;
  static dp_table table;
  CHECK(dp_table_init(&table, CAPACITY) == GM_DP_OK, "init");
  static dp_flow *live[KEYS]; /* model: the flow of each key, or NULL */
  static int linked[KEYS];
  uint32_t used = 0, peak = 0;
  for (long op = 0; op < operations && failures == 0; op++) {
    uint32_t k = next_random() % KEYS;
    gm_dp_addr client = client_of(k), pod = pod_of(k);
    uint8_t listener = (uint8_t)(k % 3);
    uint32_t action = next_random() % 8;
    if (action < 4) {
      dp_flow *found = dp_table_find(&table, listener, &client);
      CHECK(found == live[k], "find key %u: %p, model %p", k, (void *)found, (void *)live[k]);
      if (linked[k]) CHECK(dp_table_find_reverse(&table, k % 7, &pod) == live[k], "reverse key %u", k);
      if (live[k] == NULL && action < 2) {
        dp_flow *flow = dp_table_insert(&table, listener, &client);
        CHECK((flow == NULL) == (used == CAPACITY), "insert refused only when full (used %u)", used);
        if (flow != NULL) {
          CHECK(dp_table_slot(&table, flow) < CAPACITY, "slot in range");
          live[k] = flow;
          used++;
          if (used > peak) peak = used;
        }
      } else if (live[k] != NULL && !linked[k] && action == 2) {
        /* The reverse key (socket, pod) must be unique per flow, as dp_upstream_acquire guarantees. */
        int taken = dp_table_find_reverse(&table, k % 7, &pod) != NULL;
        if (!taken) {
          live[k]->upstream = pod;
          live[k]->upstream_sock = k % 7;
          dp_table_link_reverse(&table, live[k]);
          linked[k] = 1;
        }
      }
    } else if (live[k] != NULL && action < 6) {
      live[k]->state = DP_FLOW_ACTIVE;
      dp_table_remove(&table, live[k]);
      live[k] = NULL;
      linked[k] = 0;
      used--;
    }
    CHECK(table.used == used, "used %u, model %u", table.used, used);
    CHECK(dp_table_high_water(&table) == peak, "high water %u, peak %u", dp_table_high_water(&table), peak);
  }
  /* Every live key is still found by both indexes; every dead one by neither. */
  for (uint32_t k = 0; k < KEYS; k++) {
    gm_dp_addr client = client_of(k), pod = pod_of(k);
    CHECK(dp_table_find(&table, (uint8_t)(k % 3), &client) == live[k], "final find %u", k);
    if (linked[k]) CHECK(dp_table_find_reverse(&table, k % 7, &pod) == live[k], "final reverse %u", k);
  }
  printf("flow_table_churn: %ld operations, capacity %u, peak %u, %u live at the end: %s\n", operations,
         CAPACITY, peak, used, failures == 0 ? "ok" : "FAILED");
  dp_table_free(&table);
  return failures == 0 ? 0 : 1;
}
