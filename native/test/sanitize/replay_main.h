/*
 * main() of the sanitizer replay programs: runs one tracker over every
 * vector file named on the command line (format: native/fuzz/tracker_input.h)
 * in an ASan/UBSan build, and applies the program's own checks of what real
 * traffic must produce. Exits non-zero on the first failed check; sanitizer
 * findings abort on their own (-fno-sanitize-recover=all).
 */
#ifndef GM_REPLAY_MAIN_H
#define GM_REPLAY_MAIN_H

#include <stdio.h>
#include <stdlib.h>

#include "../../fuzz/tracker_input.h"

/* Provided by each replay program: 0 when the result of a real vector is right. */
static int replay_check(const char *path, const gm_input_result *result);

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) return NULL;
  size_t capacity = 1 << 16, used = 0;
  uint8_t *buffer = malloc(capacity);
  for (;;) {
    if (buffer == NULL) break;
    used += fread(buffer + used, 1, capacity - used, file);
    if (used < capacity) break;
    uint8_t *grown = realloc(buffer, capacity * 2);
    if (grown == NULL) {
      free(buffer);
      buffer = NULL;
      break;
    }
    buffer = grown;
    capacity *= 2;
  }
  fclose(file);
  *size = used;
  return buffer;
}

static int replay_main(int proto, int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <vector file>...\n", argv[0]);
    return 2;
  }
  int failures = 0;
  for (int i = 1; i < argc; i++) {
    size_t size = 0;
    uint8_t *data = read_file(argv[i], &size);
    if (data == NULL) {
      fprintf(stderr, "%s: cannot read\n", argv[i]);
      return 2;
    }
    gm_input_result result;
    gm_input_run(proto, data, size, &result);
    free(data);
    if (replay_check(argv[i], &result) != 0) failures++;
  }
  printf("%s: %d vector(s), %d failed\n", gm_protocol(proto)->name, argc - 1, failures);
  return failures == 0 ? 0 : 1;
}

#endif
