#!/usr/bin/env bash
# Builds fastnn with AddressSanitizer and UndefinedBehaviorSanitizer in a
# scratch copy of the tree and runs the kernel tests under them.  Exits
# non-zero on any report (ASan aborts the process; UBSan halts on the first
# error).  Usage: bash tests/sanitize.sh [pytest args...]; with no arguments
# it runs the kernel test files.  .ci/run runs it after the test suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# the files git knows (tracked, or new and not ignored): no build products
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work")
cd "$work"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="$san" LDFLAGS="$san" python setup.py -q build_ext --inplace >build.log 2>&1 || {
    cat build.log; echo "sanitize.sh: the sanitizer build failed"; exit 1; }

so="$(ls src/fastnn/_C*.so)"
syms="$(nm -D "$so")"  # captured first: grep -q closing a pipe early would trip pipefail
grep -q __asan_report <<<"$syms" || { echo "sanitize.sh: $so is not instrumented"; exit 1; }
grep -q __ubsan_handle <<<"$syms" || { echo "sanitize.sh: $so has no UBSan checks"; exit 1; }

export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
preload="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"

if [ "$#" -eq 0 ]; then
    set -- tests/test_activations.py tests/test_nn_kernels.py tests/test_losses.py
    for f in tests/test_gemm.py tests/test_conv.py tests/test_seq_kernels.py tests/test_capi_errors.py; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
fi
# pytest's exit code stays ours; a sanitizer report aborts the interpreter
LD_PRELOAD="$preload" PYTHONPATH="$work/src" python -m pytest -q -p no:cacheprovider -x "$@"
echo "sanitize.sh: no AddressSanitizer or UndefinedBehaviorSanitizer reports"
