/*
 * Internal to the two N-API files (addon.c, addon_track.c): converting a
 * tracker's routing key to the JS value both expose, so the data plane's
 * session snapshots and track() report keys identically.
 */
#ifndef GM_ADDON_KEY_H
#define GM_ADDON_KEY_H

#include <node_api.h>
#include <string.h>

#include "trackers/gm_tracker.h"

/* GM_KEY_U64 -> bigint, GM_KEY_BYTES -> Uint8Array (a copy), no key -> null. */
static inline napi_value gm_addon_key_value(napi_env env, const gm_key *key) {
  napi_value out;
  if (key->kind == GM_KEY_U64) {
    napi_create_bigint_uint64(env, key->u64, &out);
  } else if (key->kind == GM_KEY_BYTES) {
    void *data = NULL;
    napi_value buffer;
    size_t len = key->len <= sizeof key->bytes ? key->len : sizeof key->bytes;
    napi_create_arraybuffer(env, len, &data, &buffer);
    /* A zero-length ArrayBuffer may come back with a NULL data pointer. */
    if (len > 0) memcpy(data, key->bytes, len);
    napi_create_typedarray(env, napi_uint8_array, len, buffer, 0, &out);
  } else {
    napi_get_null(env, &out);
  }
  return out;
}

#endif
