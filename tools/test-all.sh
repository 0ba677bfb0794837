#!/usr/bin/env bash
# tools/test-all.sh - installs what is needed, builds, and runs every test of etcetera:
#   1. release build: format and include checks, unit, simulator, integration and conformance
#      tests (the server under test is the optimised one users run);
#   2. ASan+UBSan build: unit and integration tests again (the server runs sanitized);
#   3. TSan build: the threaded tests (label "threaded") and integration suites whose server
#      runs under TSan (the harness fails a test on any sanitizer report in the server's log);
#   4. clang with libFuzzer and ASan+UBSan: every parser of outside input (tests/fuzz) fuzzed
#      for 20 s from its seed corpus (this also builds the whole tree with clang and -Werror).
# Exits non-zero on the first failure. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

tools/install-deps.sh

build() { # build <dir> <cmake args...>
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

echo "== release: checks, unit, sim, integration, conformance"
build build/release
cmake --build build/release --target format-check include-check
ctest --test-dir build/release --output-on-failure --no-tests=error

echo "== asan+ubsan: unit, integration"
build build/asan -DCMAKE_BUILD_TYPE=Debug -DET_SANITIZE=address
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -L 'unit|integration' \
    -E 'conformance_v2diff|bench_|ctl_compare'

echo "== tsan: threaded tests, and the server under load (reactors, Raft thread, TTL timer, peers, TLS peers, bcrypt worker)"
build build/tsan -DCMAKE_BUILD_TYPE=Debug -DET_SANITIZE=thread
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -L threaded \
    --no-tests=ignore
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure \
    -R 'itest_keys|itest_watch|itest_cluster$|itest_peer_tls|itest_auth'

echo "== fuzz (clang, libFuzzer, ASan+UBSan): 20 s per parser of outside input"
CC=clang build build/fuzz -DET_FUZZ=ON -DET_SANITIZE=address
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/fuzz --output-on-failure --no-tests=error -L fuzz-smoke -j"$jobs"

echo "== all tests passed"
