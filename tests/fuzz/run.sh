#!/usr/bin/env bash
# Coverage-guided fuzzing of nnext under ASan+UBSan (issue 18).
#
#   tests/fuzz/run.sh build              build everything (below) and stop
#   tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags...]
#
# TARGET: load (tests/fuzz/fuzz_load.py), api (fuzz_api.py), state
# (fuzz_state.py: Playground and MLPClassifier call sequences), atheris over
# the extension; core (fuzz_core.c), libFuzzer over the C core alone.
# fuzz_state.py also runs without atheris or clang, as a replay of a corpus:
# python tests/fuzz/fuzz_state.py --replay tests/fuzz/corpus/state.  Exit
# status 0 when the run ends at its time budget with no crash, leak, timeout,
# out-of-memory or sanitizer report; non-zero otherwise (the reproducer is
# written to $NNEXT_FUZZ_DIR/artifacts/).
#
# Needs clang with its libFuzzer runtime (Debian: apt-get install clang
# libclang-rt-14-dev) and, for the Python targets, atheris in the current
# Python (pip install atheris==3.0.0).
#
# Builds into $NNEXT_FUZZ_DIR (default: ${TMPDIR:-/tmp}/nnext-fuzz), never the
# in-place build: lib/ holds the package's Python files next to an _core
# built with clang -fsanitize=address,undefined,fuzzer-no-link (atheris's
# "native extension fuzzing"), which runs with atheris's asan_with_fuzzer.so
# preloaded; fuzz_core is the C target linked with -fsanitize=fuzzer.  A
# build is reused while no source is newer than it.
#
# Corpus: the committed seeds (tests/fuzz/corpus/TARGET, read only) plus what
# the run finds ($NNEXT_FUZZ_DIR/corpus/TARGET, kept across runs).
# Environment: NNEXT_FUZZ_DIR; NNEXT_FUZZ_LOG (also write the output there);
# NNEXT_FUZZ_TIMEOUT (libFuzzer's -timeout, wall-clock seconds per input,
# default 10: a loaded machine stretches the wall clock; fuzz_load.py itself
# fails an input that takes over 1 s of CPU).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${NNEXT_FUZZ_DIR:-${TMPDIR:-/tmp}/nnext-fuzz}
PYTHON=${PYTHON:-python}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
TARGET=$1
shift

SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CSRC="$ROOT/nnext/csrc"

newer_than() { # newer_than FILE PATHS...: some source under PATHS is newer than FILE
    local f=$1; shift
    [ ! -e "$f" ] && return 0
    [ -n "$(find "$@" -newer "$f" -type f -print -quit)" ]
}

build_core() {
    local exe="$DIR/fuzz_core"
    newer_than "$exe" "$CSRC" "$ROOT/tests/fuzz/fuzz_core.c" || return 0
    echo "building $exe"
    # shellcheck disable=SC2046
    clang -std=c11 -g -O1 -pthread -Wall -Wextra -Wno-unknown-attributes $SAN_FLAGS \
        -fsanitize=fuzzer -I"$CSRC" "$ROOT/tests/fuzz/fuzz_core.c" $(ls "$CSRC"/nnext_*.c) \
        -lm -o "$exe.tmp.$$"
    mv "$exe.tmp.$$" "$exe"
}

build_ext() {
    local stamp="$DIR/lib/.built"
    newer_than "$stamp" "$ROOT/nnext" "$ROOT/setup.py" || return 0
    echo "building the extension with clang, ASan+UBSan and coverage into $DIR/lib"
    rm -rf "$DIR/lib" "$DIR/tmp"
    mkdir -p "$DIR/lib/nnext"
    # NNEXT_SANITIZE=1: setup.py adds -fsanitize=address,undefined
    # -fno-sanitize-recover=undefined; CFLAGS adds libFuzzer's coverage
    # instrumentation without its main (atheris brings libFuzzer).
    (cd "$ROOT" && CC=clang LDSHARED="clang -shared" CFLAGS="-fsanitize=fuzzer-no-link -Wno-unknown-attributes" \
        NNEXT_SANITIZE=1 "$PYTHON" setup.py --quiet build_ext -b "$DIR/lib" -t "$DIR/tmp") \
        > "$DIR/build.log" 2>&1 || { cat "$DIR/build.log"; exit 1; }
    cp "$ROOT"/nnext/*.py "$ROOT"/nnext/py.typed "$DIR/lib/nnext/"
    ls "$DIR/lib/nnext/"_core*.so >/dev/null
    touch "$stamp"
}

# one build at a time: concurrent runs share $DIR
exec 9>"$DIR/.build.lock"
case "$TARGET" in
build) flock 9; build_core; build_ext; exit 0 ;;
load | api | state | core) ;;
*) usage ;;
esac
[ $# -ge 1 ] || usage
SECONDS_BUDGET=$1
shift

mkdir -p "$DIR/corpus/$TARGET" "$DIR/artifacts"
LOG=${NNEXT_FUZZ_LOG:-$DIR/$TARGET.log}
TIMEOUT=${NNEXT_FUZZ_TIMEOUT:-10}
# -rss_limit_mb: ASan's quarantine and shadow memory count; inputs are small.
FLAGS=(-max_total_time="$SECONDS_BUDGET" -timeout="$TIMEOUT" -rss_limit_mb=3072
       -print_final_stats=1 -artifact_prefix="$DIR/artifacts/$TARGET-" "$@"
       "$DIR/corpus/$TARGET" "$ROOT/tests/fuzz/corpus/$TARGET")

status=0
if [ "$TARGET" = core ]; then
    flock 9; build_core; flock -u 9
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$DIR/fuzz_core" "${FLAGS[@]}" > "$LOG" 2>&1 || status=$?
else
    flock 9; build_ext; flock -u 9
    ATHERIS=$("$PYTHON" -c 'import atheris, os; print(atheris.path())')
    # Python is not instrumented: the ASan runtime (with libFuzzer, from
    # atheris) is preloaded, and libstdc++ for ASan's __cxa_throw interceptor
    # (see .ci/run).  detect_leaks=0: CPython keeps allocations until exit
    # (the C target checks the core's leaks, tests/test_leaks.py the
    # binding's); allocator_may_return_null=1: an absurd request is numpy's
    # MemoryError, which the targets then judge, not an ASan abort.
    (cd "$DIR/lib" &&
     LD_PRELOAD="$ATHERIS/asan_with_fuzzer.so $(gcc -print-file-name=libstdc++.so)" \
     ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:detect_odr_violation=0:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     PYTHONPATH="$DIR/lib" NNEXT_NUM_THREADS=1 NNEXT_FUZZ_ARTIFACTS="$DIR/artifacts" \
         "$PYTHON" "$ROOT/tests/fuzz/fuzz_$TARGET.py" "${FLAGS[@]}") > "$LOG" 2>&1 || status=$?
fi

# the figures: libFuzzer's last status line and final stats
grep -E '^#[0-9]+' "$LOG" > "$DIR/$TARGET.status" || true
tail -n 1 "$DIR/$TARGET.status" || true
grep -E '^stat::|^Done ' "$LOG" || true
if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|Uncaught Python exception' "$LOG" >/dev/null; then
    [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -ne 0 ]; then
    echo "fuzz target $TARGET FAILED (status $status); the end of $LOG:" >&2
    tail -n 60 "$LOG" >&2
    ls -l "$DIR/artifacts" >&2 || true
fi
exit "$status"
