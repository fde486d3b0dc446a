/*
 * The N-API binding: a thin, flat layer over an opaque data plane handle.
 * Validation and defaults live in the TypeScript wrapper (native/ts); this
 * file converts arguments, maps core error codes to GM_NATIVE_* codes, and
 * delivers new-flow datagrams and lifecycle events to one JS callback per
 * wake-up (a uv_async_t, which coalesces any number of I/O thread signals).
 *
 * Shared memory: an ArrayBuffer of counters allocated by V8 and held by a
 * reference while the data plane runs, so TS views stay valid (and safe) even
 * after close(). Session snapshots are one call per scrape (sessions()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "addon_key.h"
#include "dataplane/gm_dataplane.h"

napi_status gm_track_api_init(napi_env env, napi_value exports);

typedef struct addon_dp {
  napi_env env;
  gm_dp *dp;
  gm_dp_options options;
  uv_async_t async;
  napi_ref callback;
  napi_ref shared;
  napi_async_context context;
  int closed;
  int owners; /* the JS handle and the uv handle: whichever lets go last frees the struct */
} addon_dp;

#define MAX_HELD 64

/* ---- errors ---- */

static napi_value throw_code(napi_env env, const char *code, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, message);
  return NULL;
}

static napi_value throw_dp(napi_env env, int rc, int sys_errno) {
  char message[160];
  switch (rc) {
    case GM_DP_E_ARGS: return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "an argument is out of range");
    case GM_DP_E_NOMEM: return throw_code(env, "GM_NATIVE_OUT_OF_MEMORY", "allocation failed");
    case GM_DP_E_SOCKET:
      snprintf(message, sizeof message, "socket setup failed: %s (errno %d)", strerror(sys_errno), sys_errno);
      return throw_code(env, "GM_NATIVE_SOCKET", message);
    case GM_DP_E_THREAD:
      snprintf(message, sizeof message, "I/O thread setup failed: %s", strerror(sys_errno));
      return throw_code(env, "GM_NATIVE_THREAD", message);
    case GM_DP_E_LIMIT: return throw_code(env, "GM_NATIVE_LISTENER_LIMIT", "too many listeners");
    case GM_DP_E_LISTENER: return throw_code(env, "GM_NATIVE_UNKNOWN_LISTENER", "no such listener");
    case GM_DP_E_STOPPED: return throw_code(env, "GM_NATIVE_CLOSED", "the data plane is closed");
    default: return throw_code(env, "GM_NATIVE_INTERNAL", "unexpected data plane error");
  }
}

#define NAPI_OK(call)                                                            \
  do {                                                                           \
    if ((call) != napi_ok) return throw_code(env, "GM_NATIVE_NAPI", #call);      \
  } while (0)

#define ARGS(n)                                                                          \
  size_t argc = (n);                                                                     \
  napi_value argv[(n)];                                                                  \
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                         \
  if (argc < (n)) return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "missing arguments")

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    return 0;
  }
  *out = (uint32_t)d;
  return 1;
}

static int get_double(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

/* family (4|6), address string, port -> gm_dp_addr */
static int get_addr(napi_env env, napi_value family, napi_value address, napi_value port, gm_dp_addr *out) {
  uint32_t f = 0, p = 0;
  char text[64];
  size_t len = 0;
  memset(out, 0, sizeof *out);
  if (!get_u32(env, family, &f) || !get_u32(env, port, &p) || p > 65535 || (f != 4 && f != 6)) return 0;
  if (napi_get_value_string_utf8(env, address, text, sizeof text, &len) != napi_ok || len >= sizeof text - 1) return 0;
  out->family = (uint8_t)f;
  out->port = (uint16_t)p;
  return inet_pton(f == 6 ? AF_INET6 : AF_INET, text, out->ip) == 1;
}

static addon_dp *get_handle(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "not a data plane handle");
    return NULL;
  }
  addon_dp *a = data;
  if (a->closed) {
    throw_code(env, "GM_NATIVE_CLOSED", "the data plane is closed");
    return NULL;
  }
  return a;
}

/* ---- values ---- */

static void set_value(napi_env env, napi_value obj, const char *name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
}

static void set_num(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  set_value(env, obj, name, v);
}

static void set_addr(napi_env env, napi_value obj, const char *address_name, const char *port_name,
                     const gm_dp_addr *addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr->family == 4 || addr->family == 6) {
    inet_ntop(addr->family == 6 ? AF_INET6 : AF_INET, addr->ip, text, sizeof text);
  }
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  set_value(env, obj, address_name, v);
  set_num(env, obj, port_name, addr->port);
}

static void set_flow(napi_env env, napi_value obj, gm_dp_flow_ref flow, uint16_t listener) {
  set_num(env, obj, "thread", flow.thread);
  set_num(env, obj, "slot", flow.slot);
  set_num(env, obj, "gen", flow.gen);
  set_num(env, obj, "listener", listener);
}

static napi_value event_value(napi_env env, const gm_dp_event *e) {
  napi_value obj;
  napi_create_object(env, &obj);
  set_num(env, obj, "type", e->type);
  set_num(env, obj, "reason", e->reason);
  set_num(env, obj, "proto", e->proto);
  set_flow(env, obj, e->flow, e->listener);
  set_value(env, obj, "key", gm_addon_key_value(env, &e->key));
  set_num(env, obj, "at", e->at_ms);
  set_addr(env, obj, "clientAddress", "clientPort", &e->client);
  set_addr(env, obj, "upstreamAddress", "upstreamPort", &e->upstream);
  set_num(env, obj, "packetsForward", (double)e->packets[0]);
  set_num(env, obj, "packetsReverse", (double)e->packets[1]);
  set_num(env, obj, "bytesForward", (double)e->bytes[0]);
  set_num(env, obj, "bytesReverse", (double)e->bytes[1]);
  return obj;
}

static napi_value drain_events(napi_env env, gm_dp *dp) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t n = 0;
  gm_dp_event e;
  for (uint32_t t = 0; t < gm_dp_threads(dp); t++) {
    while (gm_dp_event_pop(dp, t, &e)) napi_set_element(env, list, n++, event_value(env, &e));
  }
  return list;
}

static napi_value drain_datagrams(napi_env env, gm_dp *dp) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t n = 0;
  gm_dp_new_datagram d;
  for (uint32_t t = 0; t < gm_dp_threads(dp); t++) {
    while (gm_dp_queue_peek(dp, t, &d)) {
      napi_value obj, buffer, bytes;
      void *copy = NULL;
      napi_create_object(env, &obj);
      set_flow(env, obj, d.flow, d.listener);
      set_addr(env, obj, "address", "port", &d.client);
      set_num(env, obj, "family", d.client.family);
      set_num(env, obj, "at", d.at_ms);
      napi_create_arraybuffer(env, d.len, &copy, &buffer);
      if (d.len > 0) memcpy(copy, d.data, d.len);
      napi_create_typedarray(env, napi_uint8_array, d.len, buffer, 0, &bytes);
      set_value(env, obj, "data", bytes);
      napi_set_element(env, list, n++, obj);
      gm_dp_queue_pop(dp, t);
    }
  }
  return list;
}

/* ---- wake-ups ---- */

static void notify_from_io_thread(void *ctx) { uv_async_send(&((addon_dp *)ctx)->async); }

static void on_async(uv_async_t *handle) {
  addon_dp *a = handle->data;
  if (a->closed || a->dp == NULL) return;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  gm_dp_wake_reset(a->dp); /* before draining: a push after this point wakes us again */
  napi_value argv[2], fn, recv, result;
  argv[0] = drain_datagrams(env, a->dp);
  argv[1] = drain_events(env, a->dp);
  if (napi_get_reference_value(env, a->callback, &fn) == napi_ok && fn != NULL) {
    napi_get_global(env, &recv); /* napi_make_callback converts recv to an object: undefined would throw */
    napi_make_callback(env, a->context, recv, fn, 2, argv, &result);
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      /* A throwing event handler is the application's bug: report it like any uncaught exception. */
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void release(addon_dp *a) {
  if (--a->owners == 0) free(a);
}

static void free_after_close(uv_handle_t *handle) { release(handle->data); }

/* Stops threads, frees the core and the JS references; the struct goes once libuv lets go of it. */
static void shut_down(addon_dp *a, napi_env env) {
  if (a->closed) return;
  a->closed = 1;
  gm_dp_destroy(a->dp);
  a->dp = NULL;
  if (a->callback != NULL) napi_delete_reference(env, a->callback);
  if (a->shared != NULL) napi_delete_reference(env, a->shared);
  if (a->context != NULL) napi_async_destroy(env, a->context);
  a->callback = a->shared = NULL;
  a->context = NULL;
}

static void cleanup_hook(void *arg) {
  addon_dp *a = arg;
  shut_down(a, a->env);
  uv_close((uv_handle_t *)&a->async, free_after_close);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)hint;
  addon_dp *a = data;
  if (!a->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, a);
    cleanup_hook(a);
  }
  release(a);
}

/* ---- API ---- */

/* create(options, onBatch) -> { handle, memory, layout } */
static napi_value create(napi_env env, napi_callback_info info) {
  ARGS(2);
  static const char *const names[] = {"threads", "maxSessions", "queueCapacity", "eventCapacity", "idleMs",
                                      "pendingMs", "sweepMs", "batch", "maxDatagram", "pendingWindow",
                                      "sourceBurst", "sourceRate", "flowBurst", "flowRate", "gso"};
  enum { OPTION_COUNT = sizeof names / sizeof names[0] };
  double values[OPTION_COUNT];
  for (int i = 0; i < OPTION_COUNT; i++) {
    napi_value v;
    if (napi_get_named_property(env, argv[0], names[i], &v) != napi_ok || !get_double(env, v, &values[i])) {
      return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", names[i]);
    }
    if (!(values[i] >= 0 && values[i] <= 4294967295.0)) return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", names[i]);
  }
  napi_valuetype type;
  NAPI_OK(napi_typeof(env, argv[1], &type));
  if (type != napi_function) return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "onBatch must be a function");
  addon_dp *a = calloc(1, sizeof *a);
  if (a == NULL) return throw_dp(env, GM_DP_E_NOMEM, ENOMEM);
  gm_dp_options *o = &a->options;
  o->threads = (uint32_t)values[0];
  o->max_sessions = (uint32_t)values[1];
  o->queue_capacity = (uint32_t)values[2];
  o->event_capacity = (uint32_t)values[3];
  o->idle_ms = (uint32_t)values[4];
  o->pending_ms = (uint32_t)values[5];
  o->sweep_ms = (uint32_t)values[6];
  o->batch = (uint32_t)values[7];
  o->max_datagram = (uint32_t)values[8];
  o->pending_window = (uint32_t)values[9];
  o->source_burst = values[10];
  o->source_rate = values[11];
  o->flow_burst = values[12];
  o->flow_rate = values[13];
  o->gso = values[14] != 0;
  o->notify = notify_from_io_thread;
  o->notify_ctx = a;
  a->env = env;
  if (o->threads < 1 || o->threads > GM_DP_MAX_THREADS) {
    free(a);
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "threads");
  }
  napi_value memory;
  void *shared = NULL;
  if (napi_create_arraybuffer(env, gm_dp_shared_bytes(o), &shared, &memory) != napi_ok || ((uintptr_t)shared & 7)) {
    free(a);
    return throw_code(env, "GM_NATIVE_OUT_OF_MEMORY", "shared memory");
  }
  memset(shared, 0, gm_dp_shared_bytes(o));
  o->shared = shared;
  uv_loop_t *loop = NULL;
  napi_value resource_name, result, handle, layout;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_async_init(loop, &a->async, on_async) != 0) {
    free(a);
    return throw_code(env, "GM_NATIVE_NAPI", "uv_async_init");
  }
  a->async.data = a;
  a->owners = 1;
  int sys_errno = 0;
  int rc = gm_dp_create(o, &a->dp, &sys_errno);
  if (rc != GM_DP_OK) {
    a->closed = 1;
    uv_close((uv_handle_t *)&a->async, free_after_close);
    return throw_dp(env, rc, sys_errno);
  }
  napi_create_reference(env, argv[1], 1, &a->callback);
  napi_create_reference(env, memory, 1, &a->shared);
  napi_create_string_utf8(env, "gamemesh:dataplane", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &a->context);
  napi_add_env_cleanup_hook(env, cleanup_hook, a);
  a->owners = 2;
  if (napi_create_external(env, a, finalize_handle, NULL, &handle) != napi_ok) {
    a->owners = 1;
    napi_remove_env_cleanup_hook(env, cleanup_hook, a);
    cleanup_hook(a);
    return throw_code(env, "GM_NATIVE_NAPI", "napi_create_external");
  }
  NAPI_OK(napi_create_object(env, &result));
  NAPI_OK(napi_create_object(env, &layout));
  set_num(env, layout, "slotsPerThread", gm_dp_slots_per_thread(o));
  set_value(env, result, "handle", handle);
  set_value(env, result, "memory", memory);
  set_value(env, result, "layout", layout);
  return result;
}

/* addListener(handle, family, address, port, mode, fixedProto, upFamily, upAddress, upPort,
 *             variant, clockRateHz, maxPushLen, tokenSuffix) -> { id, port }. upFamily 0 = no upstream. */
static napi_value add_listener(napi_env env, napi_callback_info info) {
  ARGS(13);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  gm_dp_addr bind_addr;
  gm_dp_listener_config config;
  memset(&config, 0, sizeof config);
  uint32_t mode = 0, fixed = 0, up_family = 0, variant = 0, clock = 0, max_push = 0, token_suffix = 0;
  if (!get_addr(env, argv[1], argv[2], argv[3], &bind_addr) || !get_u32(env, argv[4], &mode) ||
      !get_u32(env, argv[5], &fixed) || !get_u32(env, argv[6], &up_family) || !get_u32(env, argv[9], &variant) ||
      !get_u32(env, argv[10], &clock) || !get_u32(env, argv[11], &max_push) ||
      !get_u32(env, argv[12], &token_suffix) || mode > 1 || fixed > 255 || variant > 255 ||
      token_suffix > GM_DP_MAX_TOKEN_SUFFIX) {
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "addListener arguments");
  }
  if (up_family != 0) {
    if (!get_addr(env, argv[6], argv[7], argv[8], &config.upstream)) {
      return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "upstream address");
    }
    config.has_upstream = 1;
  }
  config.mode = (uint8_t)mode;
  config.fixed_proto = (uint8_t)fixed;
  config.token_suffix = (uint8_t)token_suffix;
  config.tracker = (gm_tracker_config){.variant = (uint8_t)variant, .clock_rate_hz = clock, .max_push_len = max_push};
  uint16_t port = 0;
  int sys_errno = 0;
  int id = gm_dp_add_listener(a->dp, &bind_addr, &config, &port, &sys_errno);
  if (id < 0) return throw_dp(env, id, sys_errno);
  napi_value result;
  NAPI_OK(napi_create_object(env, &result));
  set_num(env, result, "id", id);
  set_num(env, result, "port", port);
  return result;
}

/* setUpstream(handle, listener, family, address, port) */
static napi_value set_upstream(napi_env env, napi_callback_info info) {
  ARGS(5);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  uint32_t listener = 0;
  gm_dp_addr up;
  if (!get_u32(env, argv[1], &listener) || !get_addr(env, argv[2], argv[3], argv[4], &up)) {
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "setUpstream arguments");
  }
  int rc = gm_dp_set_upstream(a->dp, (int)listener, &up);
  return rc == GM_DP_OK ? NULL : throw_dp(env, rc, 0);
}

static int get_flow(napi_env env, napi_value *argv, gm_dp_flow_ref *flow) {
  return get_u32(env, argv[0], &flow->thread) && get_u32(env, argv[1], &flow->slot) && get_u32(env, argv[2], &flow->gen);
}

/* answer(handle, thread, slot, gen, proto, variant, clockRateHz, maxPushLen, upFamily, upAddress, upPort,
 *        held: Array<{ data: Uint8Array, at: number }>, token: Uint8Array (empty: none)) */
static napi_value answer(napi_env env, napi_callback_info info) {
  ARGS(13);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  gm_dp_flow_ref flow;
  gm_dp_assign assign;
  memset(&assign, 0, sizeof assign);
  uint32_t proto = 0, variant = 0, clock = 0, max_push = 0, count = 0;
  bool is_array = false;
  if (!get_flow(env, argv + 1, &flow) || !get_u32(env, argv[4], &proto) || !get_u32(env, argv[5], &variant) ||
      !get_u32(env, argv[6], &clock) || !get_u32(env, argv[7], &max_push) || proto >= GM_PROTO_COUNT ||
      variant > 255 || !get_addr(env, argv[8], argv[9], argv[10], &assign.upstream) ||
      napi_is_array(env, argv[11], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[11], &count) != napi_ok || count > MAX_HELD) {
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "answer arguments");
  }
  napi_typedarray_type token_kind;
  size_t token_len = 0, token_offset = 0;
  void *token_bytes = NULL;
  napi_value token_backing;
  if (napi_get_typedarray_info(env, argv[12], &token_kind, &token_len, &token_bytes, &token_backing,
                               &token_offset) != napi_ok ||
      token_kind != napi_uint8_array || token_len > GM_DP_MAX_TOKEN_SUFFIX) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "answer token");
  }
  if (token_len > 0) memcpy(assign.token, token_bytes, token_len);
  assign.token_len = (uint8_t)token_len;
  assign.proto = (uint8_t)proto;
  assign.tracker = (gm_tracker_config){.variant = (uint8_t)variant, .clock_rate_hz = clock, .max_push_len = max_push};
  gm_dp_datagram held[MAX_HELD];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item, data, at;
    napi_typedarray_type kind;
    size_t length = 0, offset = 0;
    void *bytes = NULL;
    napi_value backing;
    if (napi_get_element(env, argv[11], i, &item) != napi_ok ||
        napi_get_named_property(env, item, "data", &data) != napi_ok ||
        napi_get_named_property(env, item, "at", &at) != napi_ok ||
        napi_get_typedarray_info(env, data, &kind, &length, &bytes, &backing, &offset) != napi_ok ||
        kind != napi_uint8_array || length > 65535 || !get_double(env, at, &held[i].at_ms)) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "held datagrams");
    }
    held[i].data = bytes;
    held[i].len = (uint32_t)length;
  }
  int rc = gm_dp_answer(a->dp, flow, &assign, held, count);
  return rc == GM_DP_OK ? NULL : throw_dp(env, rc, 0);
}

/* drop(handle, thread, slot, gen) */
static napi_value drop(napi_env env, napi_callback_info info) {
  ARGS(4);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  gm_dp_flow_ref flow;
  if (!get_flow(env, argv + 1, &flow)) return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "drop arguments");
  int rc = gm_dp_drop(a->dp, flow);
  return rc == GM_DP_OK ? NULL : throw_dp(env, rc, 0);
}

/* closeSession(handle, thread, slot, gen, reason) */
static napi_value close_session(napi_env env, napi_callback_info info) {
  ARGS(5);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  gm_dp_flow_ref flow;
  uint32_t reason = 0;
  if (!get_flow(env, argv + 1, &flow) || !get_u32(env, argv[4], &reason) || reason > GM_CLOSE_PLUGIN_ERROR) {
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "closeSession arguments");
  }
  int rc = gm_dp_close_session(a->dp, flow, (int)reason);
  return rc == GM_DP_OK ? NULL : throw_dp(env, rc, 0);
}

/*
 * sessions(handle, slots: Uint32Array, rows: Float64Array): fills
 * rows[i * sessionWords ...] for slots[i], blocking until the I/O threads
 * involved have each written theirs (one command per thread between batches).
 */
static napi_value sessions(napi_env env, napi_callback_info info) {
  ARGS(3);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  napi_typedarray_type slot_kind, row_kind;
  size_t slot_count = 0, row_count = 0, offset = 0;
  void *slots = NULL, *rows = NULL;
  napi_value backing;
  if (napi_get_typedarray_info(env, argv[1], &slot_kind, &slot_count, &slots, &backing, &offset) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &row_kind, &row_count, &rows, &backing, &offset) != napi_ok ||
      slot_kind != napi_uint32_array || row_kind != napi_float64_array ||
      row_count < slot_count * GM_DP_SESSION_WORDS) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "sessions arguments");
  }
  int rc = gm_dp_sessions(a->dp, slots, slot_count, rows);
  return rc == GM_DP_OK ? NULL : throw_dp(env, rc, 0);
}

/* memory(handle) -> the data plane's own memory accounting, in bytes (gm_dp_memory). */
static napi_value memory_usage(napi_env env, napi_callback_info info) {
  ARGS(1);
  addon_dp *a = get_handle(env, argv[0]);
  if (a == NULL) return NULL;
  gm_dp_memory m;
  gm_dp_memory_usage(a->dp, &m);
  napi_value result;
  NAPI_OK(napi_create_object(env, &result));
  set_num(env, result, "flowEntryBytes", (double)m.flow_entry_bytes);
  set_num(env, result, "flowEntriesTouched", (double)m.flow_entries_touched);
  set_num(env, result, "indexBytes", (double)m.index_bytes);
  set_num(env, result, "upstreamBytes", (double)m.upstream_bytes);
  set_num(env, result, "ringBytes", (double)m.ring_bytes);
  set_num(env, result, "sharedBytes", (double)m.shared_bytes);
  set_num(env, result, "tokenBytes", (double)m.token_bytes);
  set_num(env, result, "capacity", (double)m.capacity);
  return result;
}

/* close(handle) -> the last events (proxy_shutdown closes); a closed handle gives []. */
static napi_value close_dp(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    return throw_code(env, "GM_NATIVE_INVALID_ARGUMENT", "not a data plane handle");
  }
  addon_dp *a = data;
  napi_value events;
  if (a->closed) {
    NAPI_OK(napi_create_array(env, &events));
    return events;
  }
  gm_dp_stop(a->dp);
  events = drain_events(env, a->dp);
  napi_remove_env_cleanup_hook(env, cleanup_hook, a);
  shut_down(a, env);
  uv_close((uv_handle_t *)&a->async, free_after_close);
  return events;
}

static napi_value string_array(napi_env env, const char *const *names, int count) {
  napi_value list, s;
  napi_create_array_with_length(env, (size_t)count, &list);
  for (int i = 0; i < count; i++) {
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, (uint32_t)i, s);
  }
  return list;
}

static napi_value constants(napi_env env) {
  napi_value c, stat_names;
  napi_create_object(env, &c);
  set_value(env, c, "counterNames", string_array(env, gm_dp_counter_names, GM_DP_COUNTER_COUNT));
  set_num(env, c, "counterStride", GM_DP_COUNTER_STRIDE);
  set_num(env, c, "sessionWords", GM_DP_SESSION_WORDS);
  set_num(env, c, "sessionStatsOffset", GM_DP_S_STATS);
  set_num(env, c, "statsMax", GM_STATS_MAX);
  set_num(env, c, "flowEntryBytes", (double)gm_dp_flow_entry_bytes());
  set_num(env, c, "maxThreads", GM_DP_MAX_THREADS);
  set_num(env, c, "maxListeners", GM_DP_MAX_LISTENERS);
  set_num(env, c, "maxBatch", GM_DP_MAX_BATCH);
  set_num(env, c, "maxHeld", MAX_HELD);
  set_num(env, c, "maxTokenSuffix", GM_DP_MAX_TOKEN_SUFFIX);
  napi_value fields;
  napi_create_object(env, &fields);
  set_num(env, fields, "gen", GM_DP_S_GEN);
  set_num(env, fields, "proto", GM_DP_S_PROTO);
  set_num(env, fields, "state", GM_DP_S_STATE);
  set_num(env, fields, "packetsForward", GM_DP_S_PACKETS_FWD);
  set_num(env, fields, "bytesForward", GM_DP_S_BYTES_FWD);
  set_num(env, fields, "packetsReverse", GM_DP_S_PACKETS_REV);
  set_num(env, fields, "bytesReverse", GM_DP_S_BYTES_REV);
  set_num(env, fields, "firstAt", GM_DP_S_FIRST_AT);
  set_num(env, fields, "lastAt", GM_DP_S_LAST_AT);
  set_num(env, fields, "statCount", GM_DP_S_STAT_COUNT);
  set_num(env, fields, "listener", GM_DP_S_LISTENER);
  set_value(env, c, "sessionFields", fields);
  napi_create_object(env, &stat_names);
  for (int p = 1; p < GM_PROTO_COUNT; p++) {
    const gm_protocol_ops *ops = gm_protocol(p);
    if (ops != NULL) set_value(env, stat_names, ops->name, string_array(env, ops->stat_names, ops->stat_count));
  }
  set_value(env, c, "statNames", stat_names);
  return c;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"addListener", NULL, add_listener, NULL, NULL, NULL, napi_default, NULL},
      {"setUpstream", NULL, set_upstream, NULL, NULL, NULL, napi_default, NULL},
      {"answer", NULL, answer, NULL, NULL, NULL, napi_default, NULL},
      {"drop", NULL, drop, NULL, NULL, NULL, napi_default, NULL},
      {"closeSession", NULL, close_session, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_dp, NULL, NULL, NULL, napi_default, NULL},
      {"sessions", NULL, sessions, NULL, NULL, NULL, napi_default, NULL},
      {"memory", NULL, memory_usage, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "constants", constants(env)) != napi_ok) return NULL;
  if (gm_track_api_init(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
