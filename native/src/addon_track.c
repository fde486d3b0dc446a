/*
 * N-API entry for running a native tracker over a whole datagram sequence in
 * one call. Not on the forwarding path: it exists so the differential test
 * can hold the native trackers to the TypeScript ones on the same real-peer
 * datagrams, and so fuzz findings can be replayed from JS.
 *
 *   track(proto: number, config: { variant?, clockRateHz?, maxPushLen? },
 *         datagrams: Array<{ data: Uint8Array, direction: 0 | 1, at: number }>)
 *     -> { events: Array<{ type, reason, keyKind, key: bigint | Uint8Array | null, at }>,
 *          stats: Float64Array, statNames: string[] }
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "addon_key.h"
#include "trackers/gm_tracker.h"

#define CHECK(call)                                    \
  do {                                                 \
    if ((call) != napi_ok) return throw_status(env);   \
  } while (0)

static napi_value throw_status(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    napi_throw_error(env, "GM_NATIVE_NAPI",
                     info != NULL && info->error_message != NULL ? info->error_message : "N-API call failed");
  }
  return NULL;
}

static uint32_t optional_u32(napi_env env, napi_value object, const char *name) {
  bool has = false;
  napi_value value;
  uint32_t out = 0;
  if (napi_has_named_property(env, object, name, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return 0;
  if (napi_get_value_uint32(env, value, &out) != napi_ok) return 0;
  return out;
}

static napi_value set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, object, name, v);
  return object;
}

static napi_value track(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "GM_NATIVE_ARGS", "track(proto, config, datagrams)");
    return NULL;
  }
  uint32_t proto = 0;
  CHECK(napi_get_value_uint32(env, argv[0], &proto));
  const gm_protocol_ops *ops = gm_protocol((int)proto);
  if (ops == NULL) {
    napi_throw_range_error(env, "GM_NATIVE_ARGS", "unknown protocol id");
    return NULL;
  }
  gm_tracker_config config = {0};
  config.variant = (uint8_t)optional_u32(env, argv[1], "variant");
  config.clock_rate_hz = optional_u32(env, argv[1], "clockRateHz");
  config.max_push_len = optional_u32(env, argv[1], "maxPushLen");

  gm_tracker tracker;
  gm_tracker_init(&tracker, (int)proto, &config);

  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[2], &count));
  napi_value events;
  CHECK(napi_create_array(env, &events));
  uint32_t event_count = 0;
  gm_event produced[8];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item, data_value, direction_value, at_value;
    CHECK(napi_get_element(env, argv[2], i, &item));
    CHECK(napi_get_named_property(env, item, "data", &data_value));
    CHECK(napi_get_named_property(env, item, "direction", &direction_value));
    CHECK(napi_get_named_property(env, item, "at", &at_value));
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void *bytes = NULL;
    napi_value backing;
    CHECK(napi_get_typedarray_info(env, data_value, &type, &length, &bytes, &backing, &offset));
    if (type != napi_uint8_array) {
      napi_throw_type_error(env, "GM_NATIVE_ARGS", "datagram data must be a Uint8Array");
      return NULL;
    }
    uint32_t direction = 0;
    double at = 0;
    CHECK(napi_get_value_uint32(env, direction_value, &direction));
    CHECK(napi_get_value_double(env, at_value, &at));
    int n = gm_tracker_observe(&tracker, (const uint8_t *)bytes, length, direction ? GM_DIR_REVERSE : GM_DIR_FORWARD,
                               at, produced, (int)(sizeof produced / sizeof produced[0]));
    for (int e = 0; e < n; e++) {
      napi_value event;
      CHECK(napi_create_object(env, &event));
      set_number(env, event, "type", produced[e].type);
      set_number(env, event, "reason", produced[e].reason);
      set_number(env, event, "keyKind", produced[e].key.kind);
      set_number(env, event, "at", produced[e].at_ms);
      CHECK(napi_set_named_property(env, event, "key", gm_addon_key_value(env, &produced[e].key)));
      CHECK(napi_set_element(env, events, event_count++, event));
    }
  }

  double stats[GM_STATS_MAX];
  for (int s = 0; s < GM_STATS_MAX; s++) stats[s] = 0;
  int stat_count = gm_tracker_stats(&tracker, stats);
  void *stats_data = NULL;
  napi_value stats_buffer, stats_array, names, result;
  CHECK(napi_create_arraybuffer(env, (size_t)stat_count * sizeof(double), &stats_data, &stats_buffer));
  if (stat_count > 0) memcpy(stats_data, stats, (size_t)stat_count * sizeof(double));
  CHECK(napi_create_typedarray(env, napi_float64_array, (size_t)stat_count, stats_buffer, 0, &stats_array));
  CHECK(napi_create_array_with_length(env, (size_t)stat_count, &names));
  for (int s = 0; s < stat_count; s++) {
    napi_value name;
    CHECK(napi_create_string_utf8(env, ops->stat_names[s], NAPI_AUTO_LENGTH, &name));
    CHECK(napi_set_element(env, names, (uint32_t)s, name));
  }
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "events", events));
  CHECK(napi_set_named_property(env, result, "stats", stats_array));
  CHECK(napi_set_named_property(env, result, "statNames", names));
  return result;
}

/* Called from the addon's module init. */
napi_status gm_track_api_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_status status = napi_create_function(env, "track", NAPI_AUTO_LENGTH, track, NULL, &fn);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, "track", fn);
}
