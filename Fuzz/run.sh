#!/usr/bin/env bash
# Builds and runs the config loader's fuzzer: Fuzz/run.sh [RUNS] [libFuzzer options...]
# (1,000,000 runs by default), single process, inputs up to 4 KiB, 10 s per input at most,
# leaks checked. It starts from the seed corpus (Fuzz/corpus: real configs from examples/,
# docs/config.md and the tests) and grows a working corpus in .build-fuzz/corpus, so that
# Fuzz/corpus stays the seeds. Crashes land in .build-fuzz/crashes/; keep each as a regression
# test in Tests/RunnerdConfigTests/ConfigFuzzRegressionTests.swift once it is fixed.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-1000000}
shift || true
fuzzer=$(./build.sh)
mkdir -p ../.build-fuzz/corpus ../.build-fuzz/crashes
# The Swift runtime's backtracer would symbolicate every crash at length; libFuzzer reports them.
export SWIFT_BACKTRACE=enable=no
# -reload=0: one process has no other workers whose new inputs it would need to pick up, so it
# does not list the working corpus directory again every second (1.4% of the time with 7,500
# files there).
exec "$fuzzer" -runs="$runs" -max_len=4096 -timeout=10 -detect_leaks=1 -print_final_stats=1 \
    -reload=0 -artifact_prefix=../.build-fuzz/crashes/ "$@" ../.build-fuzz/corpus corpus
