/*
 * The flow table of one I/O thread: a dense array of fixed-size entries (the
 * entry index is the session's slot) plus two open-addressing indexes of
 * 32-bit words, probed linearly and kept at load <= 2/3:
 *   by_client  (listener, client address)     -> flow, for client -> upstream;
 *   by_reverse (upstream socket, pod address)  -> flow, for upstream -> client.
 * Deletion shifts later entries back instead of leaving tombstones, so probe
 * lengths stay short under churn (a flood of new flows that come and go).
 *
 * Memory is per session, not per unit of capacity: the entries are an
 * anonymous MAP_NORESERVE mapping handed out from the bottom (freed entries
 * are reused first), so the pages past the high-water mark are never touched
 * and cost nothing. The indexes are sized to the capacity (a hash spreads
 * over all of them), at 6 bytes per entry each. Routing tokens of token-mode
 * flows live in a side array by slot, mapped the same way: flows without a
 * token never touch it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dataplane/dp_internal.h"

#define TAG_SHIFT DP_INDEX_SLOT_BITS

void *dp_map_zeroed(size_t bytes) {
  if (bytes == 0) return NULL;
  void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return memory == MAP_FAILED ? NULL : memory;
}

void dp_unmap(void *memory, size_t bytes) {
  if (memory != NULL) munmap(memory, bytes);
}

static uint32_t client_hash(uint8_t listener, const gm_dp_addr *client) {
  return dp_hash_addr(client, 0x51ed2701u + listener);
}

static uint32_t reverse_hash(uint32_t sock, const gm_dp_addr *pod) {
  return dp_hash_addr(pod, 0x7f4a7c15u ^ (sock * 0x9e3779b1u));
}

/* Home position from the hash's high bits (multiply-shift: any index size, no power of two needed). */
static inline uint32_t home_of(const dp_table *table, uint32_t hash) {
  return (uint32_t)(((uint64_t)hash * table->index_size) >> 32);
}

/* The tag comes from the low bits, independent of the home position. */
static inline uint32_t tag_of(uint32_t hash) { return (hash & 0x1fu) << TAG_SHIFT; }

static inline uint32_t next_pos(const dp_table *table, uint32_t i) {
  return i + 1 == table->index_size ? 0 : i + 1;
}

/* Cyclic distance from a to b going forward. */
static inline uint32_t distance(const dp_table *table, uint32_t a, uint32_t b) {
  return b >= a ? b - a : b + table->index_size - a;
}

static size_t flows_bytes(const dp_table *table) { return (size_t)table->capacity * sizeof(dp_flow); }
static size_t index_bytes(const dp_table *table) { return (size_t)table->index_size * sizeof(uint32_t); }
static size_t tokens_bytes(const dp_table *table) { return (size_t)table->capacity * GM_DP_MAX_TOKEN_SUFFIX; }

int dp_table_init(dp_table *table, uint32_t capacity) {
  memset(table, 0, sizeof *table);
  table->capacity = capacity;
  table->index_size = capacity + capacity / 2 + 2;
  if (table->index_size < 16) table->index_size = 16;
  table->flows = dp_map_zeroed(flows_bytes(table));
  table->by_client = dp_map_zeroed(index_bytes(table));
  table->by_reverse = dp_map_zeroed(index_bytes(table));
  table->tokens = dp_map_zeroed(tokens_bytes(table));
  if (table->flows == NULL || table->by_client == NULL || table->by_reverse == NULL || table->tokens == NULL) {
    dp_table_free(table);
    return GM_DP_E_NOMEM;
  }
  atomic_init(&table->high_water, 0);
  atomic_init(&table->token_high_water, 0);
  table->free_head = DP_NONE;
  return GM_DP_OK;
}

void dp_table_free(dp_table *table) {
  dp_unmap(table->flows, flows_bytes(table));
  dp_unmap(table->by_client, index_bytes(table));
  dp_unmap(table->by_reverse, index_bytes(table));
  dp_unmap(table->tokens, tokens_bytes(table));
  memset(table, 0, sizeof *table);
}

void dp_table_set_token(dp_table *table, const dp_flow *flow, const uint8_t *token, size_t len) {
  uint32_t slot = dp_table_slot(table, flow);
  memcpy(dp_table_token(table, flow), token, len);
  if (slot >= atomic_load_explicit(&table->token_high_water, memory_order_relaxed)) {
    /* Published for the control thread's accounting; only this thread writes it. */
    atomic_store_explicit(&table->token_high_water, slot + 1, memory_order_relaxed);
  }
}

dp_flow *dp_table_find(dp_table *table, uint8_t listener, const gm_dp_addr *client) {
  uint32_t hash = client_hash(listener, client);
  uint32_t tag = tag_of(hash);
  for (uint32_t i = home_of(table, hash);; i = next_pos(table, i)) {
    uint32_t word = table->by_client[i];
    if (word == 0) return NULL;
    if ((word & ~DP_INDEX_SLOT_MASK) != tag) continue;
    dp_flow *flow = &table->flows[(word & DP_INDEX_SLOT_MASK) - 1];
    if (flow->listener == listener && dp_addr_equal(&flow->client, client)) return flow;
  }
}

dp_flow *dp_table_find_reverse(dp_table *table, uint32_t upstream_sock, const gm_dp_addr *pod) {
  uint32_t hash = reverse_hash(upstream_sock, pod);
  uint32_t tag = tag_of(hash);
  for (uint32_t i = home_of(table, hash);; i = next_pos(table, i)) {
    uint32_t word = table->by_reverse[i];
    if (word == 0) return NULL;
    if ((word & ~DP_INDEX_SLOT_MASK) != tag) continue;
    dp_flow *flow = &table->flows[(word & DP_INDEX_SLOT_MASK) - 1];
    if (flow->upstream_sock == upstream_sock && dp_addr_equal(&flow->upstream, pod)) return flow;
  }
}

static void index_add(dp_table *table, uint32_t *index, uint32_t hash, uint32_t slot) {
  uint32_t i = home_of(table, hash);
  while (index[i] != 0) i = next_pos(table, i);
  index[i] = tag_of(hash) | (slot + 1);
}

dp_flow *dp_table_insert(dp_table *table, uint8_t listener, const gm_dp_addr *client) {
  uint32_t slot;
  if (table->free_head != DP_NONE) {
    slot = table->free_head;
    table->free_head = table->flows[slot].upstream_sock;
  } else {
    slot = dp_table_high_water(table);
    if (slot >= table->capacity) return NULL;
    /* Published for the control thread's accounting and snapshots; only this thread writes it. */
    atomic_store_explicit(&table->high_water, slot + 1, memory_order_relaxed);
  }
  dp_flow *flow = &table->flows[slot];
  memset(flow, 0, sizeof *flow);
  flow->listener = listener;
  flow->client = *client;
  flow->upstream_sock = DP_NONE;
  index_add(table, table->by_client, client_hash(listener, client), slot);
  table->used++;
  return flow;
}

void dp_table_link_reverse(dp_table *table, dp_flow *flow) {
  index_add(table, table->by_reverse, reverse_hash(flow->upstream_sock, &flow->upstream),
            dp_table_slot(table, flow));
}

/* Removes the word at position i of an index, shifting back the words that probed past it. */
static void unindex(dp_table *table, uint32_t *index, uint32_t i, int reverse) {
  index[i] = 0;
  for (uint32_t j = next_pos(table, i); index[j] != 0; j = next_pos(table, j)) {
    const dp_flow *moved = &table->flows[(index[j] & DP_INDEX_SLOT_MASK) - 1];
    uint32_t hash = reverse ? reverse_hash(moved->upstream_sock, &moved->upstream)
                            : client_hash(moved->listener, &moved->client);
    uint32_t home = home_of(table, hash);
    /* The word may fill the hole unless its home lies cyclically in (i, j]. */
    if (distance(table, home, j) >= distance(table, i, j)) {
      index[i] = index[j];
      index[j] = 0;
      i = j;
    }
  }
}

static void unindex_slot(dp_table *table, uint32_t *index, uint32_t hash, uint32_t slot, int reverse) {
  for (uint32_t i = home_of(table, hash);; i = next_pos(table, i)) {
    if (index[i] == 0) return; /* not indexed (a reverse link that was never made) */
    if ((index[i] & DP_INDEX_SLOT_MASK) == slot + 1) {
      unindex(table, index, i, reverse);
      return;
    }
  }
}

void dp_table_remove(dp_table *table, dp_flow *flow) {
  uint32_t slot = dp_table_slot(table, flow);
  unindex_slot(table, table->by_client, client_hash(flow->listener, &flow->client), slot, 0);
  if (flow->upstream_sock != DP_NONE) {
    unindex_slot(table, table->by_reverse, reverse_hash(flow->upstream_sock, &flow->upstream), slot, 1);
  }
  flow->state = DP_FLOW_FREE;
  flow->upstream_sock = table->free_head;
  table->free_head = slot;
  table->used--;
}
