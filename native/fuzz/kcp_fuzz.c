/*
 * libFuzzer target for the KCP tracker and its framing parser
 * (native/src/trackers/kcp.c, kcp_frame.c). Input: see tracker_input.h.
 * Besides the tracker contract, every datagram goes through the framing
 * parser directly: a frame it accepts must lie inside the datagram.
 */
#include "tracker_input.h"
#include "trackers/kcp.h"

static void check_frame(const uint8_t *data, size_t len, uint8_t variant) {
  const gm_kcp_options options = {.max_push_len = GM_KCP_DEFAULT_MAX_PUSH, .fec = 1, .crypt_none = 1, .kcp2k = 1};
  gm_kcp_frame frame;
  int code = variant == GM_KCP_VARIANT_AUTO ? gm_kcp_detect_frame(data, len, &options, &frame)
                                            : gm_kcp_read_frame_as(variant, data, len, &options, &frame);
  gm_input_check(code >= GM_KCP_OK && code <= GM_KCP_FEC_BAD_TYPE);
  if (code == GM_KCP_OK && frame.has_kcp) {
    gm_input_check(frame.kcp_start < frame.kcp_end && frame.kcp_end == len);
    gm_input_check(frame.segments >= 1 && frame.segments <= (len - frame.kcp_start) / GM_KCP_OVERHEAD);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gm_input_result result;
  gm_input_run(GM_PROTO_KCP, data, size, &result);
  if (size >= GM_INPUT_HEADER) {
    size_t offset = GM_INPUT_HEADER;
    while (offset + 3 <= size) {
      size_t len = (size_t)data[offset + 1] | (size_t)data[offset + 2] << 8;
      offset += 3;
      if (len > size - offset) len = size - offset;
      uint8_t *copy = malloc(len > 0 ? len : 1);
      gm_input_check(copy != NULL);
      for (size_t i = 0; i < len; i++) copy[i] = data[offset + i];
      check_frame(copy, len, data[0] & GM_KCP_VARIANT_MASK);
      free(copy);
      offset += len;
    }
  }
  return 0;
}
