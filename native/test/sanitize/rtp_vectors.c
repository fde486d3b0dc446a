/* Sanitizer program: the native rtp tracker over the real-capture vectors (see tracker_vectors_driver.h). */
#include "tracker_vectors_driver.h"

int main(int argc, char **argv) { return gm_vectors_main(argc, argv, GM_PROTO_RTP); }
