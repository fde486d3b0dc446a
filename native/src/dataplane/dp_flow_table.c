/*
 * The flow table of one I/O thread: a dense array of fixed-size entries (the
 * entry index is the session's stats slot) plus two open-addressing indexes of
 * 32-bit entry numbers, probed linearly and kept at load <= 1/2:
 *   by_client  (listener, client address)     -> flow, for client -> upstream;
 *   by_reverse (upstream socket, pod address)  -> flow, for upstream -> client.
 * Deletion shifts later entries back instead of leaving tombstones, so probe
 * lengths stay short under churn (a flood of new flows that come and go).
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_internal.h"

#define NONE UINT32_MAX

static uint32_t client_hash(uint16_t listener, const gm_dp_addr *client) {
  return dp_hash_addr(client, 0x51ed2701u + listener);
}

static uint32_t reverse_hash(uint32_t sock, const gm_dp_addr *pod) {
  return dp_hash_addr(pod, 0x7f4a7c15u ^ (sock * 0x9e3779b1u));
}

int dp_table_init(dp_table *table, uint32_t capacity) {
  memset(table, 0, sizeof *table);
  uint32_t size = 16;
  while (size < capacity * 2u) size <<= 1;
  table->capacity = capacity;
  table->mask = size - 1;
  table->flows = calloc(capacity, sizeof *table->flows);
  table->by_client = calloc(size, sizeof *table->by_client);
  table->by_reverse = calloc(size, sizeof *table->by_reverse);
  if (table->flows == NULL || table->by_client == NULL || table->by_reverse == NULL) {
    dp_table_free(table);
    return GM_DP_E_NOMEM;
  }
  /* Free list in slot order so a quiet table reuses low slots (and low stats blocks). */
  for (uint32_t i = 0; i < capacity; i++) {
    table->flows[i].next_free = i + 1 < capacity ? i + 1 : NONE;
    table->flows[i].upstream_sock = NONE;
  }
  table->free_head = capacity > 0 ? 0 : NONE;
  return GM_DP_OK;
}

void dp_table_free(dp_table *table) {
  free(table->flows);
  free(table->by_client);
  free(table->by_reverse);
  memset(table, 0, sizeof *table);
}

dp_flow *dp_table_find(dp_table *table, uint16_t listener, const gm_dp_addr *client) {
  uint32_t i = client_hash(listener, client) & table->mask;
  for (;;) {
    uint32_t entry = table->by_client[i];
    if (entry == 0) return NULL;
    dp_flow *flow = &table->flows[entry - 1];
    if (flow->listener == listener && dp_addr_equal(&flow->client, client)) return flow;
    i = (i + 1) & table->mask;
  }
}

dp_flow *dp_table_find_reverse(dp_table *table, uint32_t upstream_sock, const gm_dp_addr *pod) {
  uint32_t i = reverse_hash(upstream_sock, pod) & table->mask;
  for (;;) {
    uint32_t entry = table->by_reverse[i];
    if (entry == 0) return NULL;
    dp_flow *flow = &table->flows[entry - 1];
    if (flow->upstream_sock == upstream_sock && dp_addr_equal(&flow->upstream, pod)) return flow;
    i = (i + 1) & table->mask;
  }
}

dp_flow *dp_table_insert(dp_table *table, uint16_t listener, const gm_dp_addr *client) {
  if (table->free_head == NONE) return NULL;
  uint32_t slot = table->free_head;
  dp_flow *flow = &table->flows[slot];
  table->free_head = flow->next_free;
  memset(flow, 0, sizeof *flow);
  flow->listener = listener;
  flow->client = *client;
  flow->upstream_sock = NONE;
  flow->next_free = NONE;
  uint32_t i = client_hash(listener, client) & table->mask;
  while (table->by_client[i] != 0) i = (i + 1) & table->mask;
  table->by_client[i] = slot + 1;
  table->used++;
  return flow;
}

void dp_table_link_reverse(dp_table *table, dp_flow *flow) {
  uint32_t i = reverse_hash(flow->upstream_sock, &flow->upstream) & table->mask;
  while (table->by_reverse[i] != 0) i = (i + 1) & table->mask;
  table->by_reverse[i] = dp_table_slot(table, flow) + 1;
}

/* Removes `entry` from an index at position i, shifting back the entries that probed past it. */
static void unindex(dp_table *table, uint32_t *index, uint32_t i, int reverse) {
  uint32_t mask = table->mask;
  index[i] = 0;
  for (uint32_t j = (i + 1) & mask; index[j] != 0; j = (j + 1) & mask) {
    const dp_flow *moved = &table->flows[index[j] - 1];
    uint32_t home = (reverse ? reverse_hash(moved->upstream_sock, &moved->upstream)
                             : client_hash(moved->listener, &moved->client)) &
                    mask;
    /* The entry may fill the hole unless its home lies cyclically in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      index[i] = index[j];
      index[j] = 0;
      i = j;
    }
  }
}

static void unindex_slot(dp_table *table, uint32_t *index, uint32_t start, uint32_t slot, int reverse) {
  for (uint32_t i = start & table->mask;; i = (i + 1) & table->mask) {
    if (index[i] == 0) return; /* not indexed (a reverse link that was never made) */
    if (index[i] == slot + 1) {
      unindex(table, index, i, reverse);
      return;
    }
  }
}

void dp_table_remove(dp_table *table, dp_flow *flow) {
  uint32_t slot = dp_table_slot(table, flow);
  unindex_slot(table, table->by_client, client_hash(flow->listener, &flow->client), slot, 0);
  if (flow->upstream_sock != NONE) {
    unindex_slot(table, table->by_reverse, reverse_hash(flow->upstream_sock, &flow->upstream), slot, 1);
  }
  flow->state = DP_FLOW_FREE;
  flow->upstream_sock = NONE;
  flow->next_free = table->free_head;
  table->free_head = slot;
  table->used--;
}
