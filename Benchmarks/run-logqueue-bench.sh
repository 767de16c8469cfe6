#!/usr/bin/env bash
# What one log call costs through a LogQueue against the same handler called directly, side by
# side in one run (see Benchmarks/Sources/LogQueueBench/main.swift for the shapes).
#
# usage: Benchmarks/run-logqueue-bench.sh [iterations=100000] [rounds=5]
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --product LogQueueBench >&2
"$(swift build -c release --show-bin-path)/LogQueueBench" "${1:-100000}" "${2:-5}"
