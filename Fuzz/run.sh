#!/usr/bin/env bash
# Builds and runs a fuzzer: Fuzz/run.sh [RUNS] [libFuzzer options...]; the config loader's, or
# with FUZZ_TARGET=ControlRequestFuzz the control socket's request parser (seeds in
# Fuzz/corpus-control, inputs up to 64 KiB, the socket's own limit).
# (1,000,000 runs by default), single process, inputs up to 4 KiB, 10 s per input at most,
# leaks checked. It starts from the seed corpus (Fuzz/corpus: real configs from examples/,
# docs/config.md and the tests) and grows a working corpus in .build-fuzz/corpus, so that
# Fuzz/corpus stays the seeds. Crashes land in .build-fuzz/crashes/; keep each as a regression
# test in Tests/RunnerdConfigTests/ConfigFuzzRegressionTests.swift once it is fixed.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-1000000}
shift || true
target=${FUZZ_TARGET:-ConfigLoaderFuzz}
fuzzer=$(./build.sh "$target")
seeds=corpus
working=../.build-fuzz/corpus
max_len=4096
if [ "$target" = ControlRequestFuzz ]; then
    seeds=corpus-control
    working=../.build-fuzz/corpus-control
    max_len=65536
fi
mkdir -p "$working" ../.build-fuzz/crashes
# The Swift runtime's backtracer would symbolicate every crash at length; libFuzzer reports them.
export SWIFT_BACKTRACE=enable=no
# -reload=0: one process has no other workers whose new inputs it would need to pick up, so it
# does not list the working corpus directory again every second (1.4% of the time with 7,500
# files there).
exec "$fuzzer" -runs="$runs" -max_len="$max_len" -timeout=10 -detect_leaks=1 -print_final_stats=1 \
    -reload=0 -artifact_prefix=../.build-fuzz/crashes/ "$@" "$working" "$seeds"
