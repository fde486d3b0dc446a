/*
 * libFuzzer target for the RakNet tracker and its parsers (offline
 * messages, data frames, ACK/NAK records: native/src/trackers/raknet.c).
 * Input: see tracker_input.h. Checks the tracker contract, and that the
 * datagram classes the tracker counts add up to the datagrams fed.
 */
#include "tracker_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gm_input_result result;
  gm_input_run(GM_PROTO_RAKNET, data, size, &result);
  static const char *const CLASSES[] = {"forwardDatagrams", "reverseDatagrams", "ackDatagrams",
                                        "nakDatagrams",     "offlineMessages",  "malformedDatagrams"};
  double counted = 0;
  for (size_t i = 0; i < sizeof CLASSES / sizeof CLASSES[0]; i++) {
    int index = gm_input_stat_index(GM_PROTO_RAKNET, CLASSES[i]);
    gm_input_check(index >= 0);
    counted += result.stats[index];
  }
  gm_input_check(counted == result.datagrams);
  return 0;
}
