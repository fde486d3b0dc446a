/* libFuzzer target: the native netcode tracker over arbitrary datagram sequences (see tracker_fuzz_driver.h). */
#include "tracker_fuzz_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return gm_fuzz_tracker(GM_PROTO_NETCODE, data, size); }
