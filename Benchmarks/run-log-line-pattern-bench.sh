#!/usr/bin/env bash
# The cost per line of a log-line probe's matcher: LogLinePattern (Sources/RunnerdConfig) against
# the Swift Regex matcher it replaced, side by side in one process (see LogLinePatternBench/main.swift).
# Compiled with swiftc -O straight from the sources: the engine needs nothing but the standard library.
#
# usage: Benchmarks/run-log-line-pattern-bench.sh [rounds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swiftc -O -swift-version 6 -o "$work/bench" \
    Sources/RunnerdConfig/LogLinePattern*.swift \
    Benchmarks/LogLinePatternBench/RegexLineMatcher.swift Benchmarks/LogLinePatternBench/main.swift
"$work/bench" "${1:-5}"
