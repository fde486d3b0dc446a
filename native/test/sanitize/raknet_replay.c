/*
 * ASan/UBSan replay of the RakNet tracker over real vectors (the committed
 * raknet-native capture and live raknet-native sessions, written by
 * write-stream-inputs.ts). A real session must parse completely, open once and
 * close by the client's disconnect notification.
 */
#include "replay_main.h"

static double stat_of(const gm_input_result *result, const char *name) {
  int index = gm_input_stat_index(GM_PROTO_RAKNET, name);
  return index < 0 ? NAN : result->stats[index];
}

static int replay_check(const char *path, const gm_input_result *result) {
  const double counted = stat_of(result, "forwardDatagrams") + stat_of(result, "reverseDatagrams") +
                         stat_of(result, "ackDatagrams") + stat_of(result, "nakDatagrams") +
                         stat_of(result, "offlineMessages") + stat_of(result, "malformedDatagrams");
  int ok = result->opened == 1 && result->closed == 1 && counted == result->datagrams &&
           stat_of(result, "malformedDatagrams") == 0 && stat_of(result, "handshakeSeen") == 1;
  if (!ok) {
    fprintf(stderr, "%s: opened %u, closed %u, datagrams %u (counted %g), malformed %g\n", path, result->opened,
            result->closed, result->datagrams, counted, stat_of(result, "malformedDatagrams"));
  }
  return ok ? 0 : 1;
}

int main(int argc, char **argv) { return replay_main(GM_PROTO_RAKNET, argc, argv); }
