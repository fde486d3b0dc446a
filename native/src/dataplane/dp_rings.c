/*
 * The two rings an I/O thread fills for the control thread: the new-flow
 * queue (datagrams of flows TS has not classified yet) and the lifecycle event
 * ring. Each has one producer and one consumer, so head and tail are plain
 * atomics with acquire/release ordering and no lock. Both are bounded: what
 * does not fit is dropped and counted, never waited for.
 *
 * The per-source budget keeps one source from filling the queue: a token
 * bucket per hashed source address (colliding sources share a bucket, which
 * keeps the table fixed-size under a spoofed flood from many addresses).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_internal.h"

static uint32_t round_pow2(uint32_t n) {
  uint32_t size = 1;
  while (size < n) size <<= 1;
  return size;
}

int dp_rings_init(dp_thread *t, const gm_dp_options *options) {
  uint32_t qsize = round_pow2(options->queue_capacity);
  uint32_t esize = round_pow2(options->event_capacity);
  t->queue.mask = qsize - 1;
  t->queue.slot_bytes = options->max_datagram;
  t->queue.entries = calloc(qsize, sizeof *t->queue.entries);
  t->queue.data = malloc((size_t)qsize * options->max_datagram);
  t->events.mask = esize - 1;
  t->events.events = calloc(esize, sizeof *t->events.events);
  t->budget = calloc(DP_SOURCE_BUCKETS, sizeof *t->budget);
  if (t->queue.entries == NULL || t->queue.data == NULL || t->events.events == NULL || t->budget == NULL) {
    return GM_DP_E_NOMEM;
  }
  atomic_init(&t->queue.head, 0);
  atomic_init(&t->queue.tail, 0);
  atomic_init(&t->events.head, 0);
  atomic_init(&t->events.tail, 0);
  return GM_DP_OK;
}

void dp_rings_free(dp_thread *t) {
  free(t->queue.entries);
  free(t->queue.data);
  free(t->events.events);
  free(t->budget);
  t->queue.entries = NULL;
  t->queue.data = NULL;
  t->events.events = NULL;
  t->budget = NULL;
}

int dp_queue_push(dp_thread *t, const dp_queued *entry, const uint8_t *data) {
  dp_queue *q = &t->queue;
  uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
  if (head - tail > q->mask) return 0;
  uint32_t i = head & q->mask;
  q->entries[i] = *entry;
  memcpy(q->data + (size_t)i * q->slot_bytes, data, entry->len);
  atomic_store_explicit(&q->head, head + 1, memory_order_release);
  dp_gauge(t, GM_DP_C_queue_depth, head + 1 - tail);
  dp_count(t, GM_DP_C_queue_enqueued, 1);
  t->pushed = 1;
  return 1;
}

int dp_event_push(dp_thread *t, const gm_dp_event *event) {
  dp_event_ring *r = &t->events;
  uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  if (head - tail > r->mask) {
    dp_count(t, GM_DP_C_events_dropped, 1);
    return 0;
  }
  r->events[head & r->mask] = *event;
  atomic_store_explicit(&r->head, head + 1, memory_order_release);
  dp_count(t, GM_DP_C_events_pushed, 1);
  t->pushed = 1;
  return 1;
}

int dp_source_allow(dp_thread *t, const gm_dp_addr *source, uint64_t now_ms) {
  gm_dp_addr host = *source;
  host.port = 0; /* the budget is per address: a flood varies ports freely */
  dp_source_bucket *b = &t->budget[dp_hash_addr(&host, 0x3c6ef372u) & (DP_SOURCE_BUCKETS - 1)];
  const gm_dp_options *o = &t->dp->options;
  uint32_t now = (uint32_t)now_ms;
  if (b->last_ms == 0 && b->tokens == 0) {
    b->tokens = (float)o->source_burst;
  } else {
    float refill = (float)((double)(uint32_t)(now - b->last_ms) * o->source_rate / 1000.0);
    b->tokens = fminf((float)o->source_burst, b->tokens + refill);
  }
  b->last_ms = now;
  if (b->tokens < 1.0f) return 0;
  b->tokens -= 1.0f;
  return 1;
}

/*
 * The thread-wide budget: a flood from many spoofed sources passes the
 * per-source buckets, so this one bounds the work it can push onto the JS
 * thread (classification), which shares the machine with the I/O threads.
 */
int dp_flow_budget_allow(dp_thread *t, uint64_t now_ms) {
  const gm_dp_options *o = &t->dp->options;
  if (t->flow_tokens_ms == 0) {
    t->flow_tokens = o->flow_burst;
  } else {
    t->flow_tokens += (double)(now_ms - t->flow_tokens_ms) * o->flow_rate / 1000.0;
    if (t->flow_tokens > o->flow_burst) t->flow_tokens = o->flow_burst;
  }
  t->flow_tokens_ms = now_ms;
  if (t->flow_tokens < 1.0) return 0;
  t->flow_tokens -= 1.0;
  return 1;
}

/* ---- consumer side (control thread) ---- */

int gm_dp_queue_peek(gm_dp *dp, uint32_t thread, gm_dp_new_datagram *out) {
  if (thread >= dp->options.threads) return 0;
  dp_thread *t = &dp->threads[thread];
  dp_queue *q = &t->queue;
  uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
  if (tail == head) return 0;
  uint32_t i = tail & q->mask;
  const dp_queued *e = &q->entries[i];
  out->flow = e->flow;
  out->listener = e->listener;
  out->client = e->client;
  out->at_ms = e->at_ms;
  out->len = e->len;
  out->data = q->data + (size_t)i * q->slot_bytes;
  return 1;
}

void gm_dp_queue_pop(gm_dp *dp, uint32_t thread) {
  if (thread >= dp->options.threads) return;
  dp_queue *q = &dp->threads[thread].queue;
  uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (tail != atomic_load_explicit(&q->head, memory_order_acquire)) {
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
  }
}

int gm_dp_event_pop(gm_dp *dp, uint32_t thread, gm_dp_event *out) {
  if (thread >= dp->options.threads) return 0;
  dp_event_ring *r = &dp->threads[thread].events;
  uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  if (tail == head) return 0;
  *out = r->events[tail & r->mask];
  atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
  return 1;
}
