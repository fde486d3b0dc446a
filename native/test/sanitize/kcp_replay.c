/*
 * ASan/UBSan replay of the KCP tracker over real vectors (the committed
 * capture and live node-kcp conversations in every framing, written by
 * write-stream-inputs.ts). Real traffic must open a session, walk every datagram
 * and count each one.
 */
#include "replay_main.h"

static double stat_of(const gm_input_result *result, const char *name) {
  int index = gm_input_stat_index(GM_PROTO_KCP, name);
  return index < 0 ? NAN : result->stats[index];
}

static int replay_check(const char *path, const gm_input_result *result) {
  int ok = result->opened == 1 && stat_of(result, "datagrams") == result->datagrams &&
           stat_of(result, "invalid") == 0 && stat_of(result, "segments") > 0;
  if (!ok) {
    fprintf(stderr, "%s: opened %u, datagrams %u (stat %g), invalid %g, segments %g\n", path, result->opened,
            result->datagrams, stat_of(result, "datagrams"), stat_of(result, "invalid"), stat_of(result, "segments"));
  }
  return ok ? 0 : 1;
}

int main(int argc, char **argv) { return replay_main(GM_PROTO_KCP, argc, argv); }
