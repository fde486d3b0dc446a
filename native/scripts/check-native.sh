#!/usr/bin/env bash
# Native safety checks, run by .ci/run: every libFuzzer target for a bounded
# time (GM_FUZZ_SECONDS each; all targets together must stay within 3
# minutes) and the ASan/UBSan/LSan programs over real vectors. Exits non-zero
# on any finding. Needs clang with the sanitizer runtimes
# (Debian: apt-get install -y clang libclang-rt-14-dev) and the npm
# workspaces installed (the vectors come from real captures and real peers).
set -euo pipefail
NATIVE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$NATIVE/.." && pwd)"
WORK="${GM_CHECK_DIR:-$(mktemp -d)}"
[ -n "${GM_CHECK_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT
FUZZ_SECONDS="${GM_FUZZ_SECONDS:-20}"
CC="${CC:-clang}"
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer -fno-sanitize-recover=all -I"$NATIVE/src")
TRACKERS=("$NATIVE"/src/trackers/*.c)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

command -v "$CC" >/dev/null || { echo "check-native: $CC not found (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 1; }
echo "check-native: work directory $WORK, ${FUZZ_SECONDS}s per fuzz target"

# Builds <name>_fuzz from native/fuzz/<name>_fuzz.c and runs it on a seed corpus.
run_fuzzer() {
  local name="$1" corpus="$2"
  echo "== fuzz $name (${FUZZ_SECONDS}s, seeds: $(ls "$corpus" | wc -l))"
  "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer,address,undefined "${TRACKERS[@]}" "$NATIVE/fuzz/${name}_fuzz.c" \
    -o "$WORK/${name}_fuzz" -lm
  mkdir -p "$WORK/$name-findings"
  local status=0
  "$WORK/${name}_fuzz" -max_total_time="$FUZZ_SECONDS" -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$WORK/$name-findings/" "$corpus" >"$WORK/$name-fuzz.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units)' "$WORK/$name-fuzz.log" || true
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$WORK/$name-findings")" ]; then
    tail -n 60 "$WORK/$name-fuzz.log" >&2
    echo "check-native: fuzz $name failed (status $status; findings: $(ls "$WORK/$name-findings"))" >&2
    return 1
  fi
}

# Builds native/test/sanitize/<program>.c with ASan/UBSan/LSan and runs it with the given arguments.
run_sanitized() {
  local program="$1"
  shift
  echo "== sanitize $program"
  "$CC" "${CFLAGS[@]}" -fsanitize=address,undefined "${TRACKERS[@]}" "$NATIVE/test/sanitize/$program.c" \
    -o "$WORK/$program" -lm
  "$WORK/$program" "$@"
}

# ---- RakNet and KCP trackers (input format: native/fuzz/tracker_input.h) ----
for proto in raknet kcp; do
  (cd "$ROOT" && node --import tsx native/test/sanitize/write-stream-inputs.ts "$proto" "$WORK/$proto-vectors") 2>&1 |
    grep -v 'bind__() error' || true
  [ -n "$(ls -A "$WORK/$proto-vectors" 2>/dev/null)" ] || { echo "check-native: no $proto vectors" >&2; exit 1; }
  run_sanitized "${proto}_replay" "$WORK/$proto-vectors"/*.vec
  mkdir -p "$WORK/$proto-corpus"
  cp "$WORK/$proto-vectors"/*.vec "$WORK/$proto-corpus/"
  run_fuzzer "$proto" "$WORK/$proto-corpus"
done

# ---- netcode, RTP and RTCP trackers (formats: native/test/sanitize/tracker_vectors_driver.h, native/fuzz/tracker_fuzz_driver.h) ----
mkdir -p "$WORK/ncr"
(cd "$ROOT" && node --import tsx native/test/sanitize/write-tracker-inputs.ts "$WORK/ncr")
for proto in netcode rtp rtcp; do
  [ -s "$WORK/ncr/$proto.vectors" ] || { echo "check-native: no $proto vectors" >&2; exit 1; }
  run_sanitized "${proto}_vectors" "$WORK/ncr/$proto.vectors"
  run_fuzzer "$proto" "$WORK/ncr/corpus/$proto"
done

# ---- data plane core: the flow table under random churn, a real loopback run and a clean shutdown, token suffixes ----
echo "== sanitize flow_table_churn"
"$CC" "${CFLAGS[@]}" -D_GNU_SOURCE -fsanitize=address,undefined "${TRACKERS[@]}" "$NATIVE"/src/dataplane/*.c \
  "$NATIVE/test/sanitize/flow_table_churn.c" -o "$WORK/flow_table_churn" -lm -lpthread
"$WORK/flow_table_churn" 2000000
echo "== sanitize dataplane_lsan"
"$CC" "${CFLAGS[@]}" -D_GNU_SOURCE -fsanitize=address,undefined "${TRACKERS[@]}" "$NATIVE"/src/dataplane/*.c \
  "$NATIVE/test/sanitize/dataplane_lsan.c" -o "$WORK/dataplane_lsan" -lm -lpthread
"$WORK/dataplane_lsan" "$ROOT/packages/protocols/test/fixtures/rtp/rtp-h264-opus.pcap"
# The GSO send path: held runs of equal and mixed sizes, reverse bursts, a forced fallback (pending ECONNREFUSED).
echo "== sanitize dataplane_gso"
"$CC" "${CFLAGS[@]}" -D_GNU_SOURCE -fsanitize=address,undefined "${TRACKERS[@]}" "$NATIVE"/src/dataplane/*.c \
  "$NATIVE/test/sanitize/dataplane_gso.c" -o "$WORK/dataplane_gso" -lm -lpthread
"$WORK/dataplane_gso"
# Token listeners: every datagram length around the suffix, right/wrong/no token (a read past the end aborts).
echo "== sanitize dataplane_token"
"$CC" "${CFLAGS[@]}" -D_GNU_SOURCE -fsanitize=address,undefined "${TRACKERS[@]}" "$NATIVE"/src/dataplane/*.c \
  "$NATIVE/test/sanitize/dataplane_token.c" -o "$WORK/dataplane_token" -lm -lpthread
"$WORK/dataplane_token" 20

echo "check-native: all checks passed"
