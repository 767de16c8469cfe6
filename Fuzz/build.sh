#!/usr/bin/env bash
# Builds a fuzzer, .build-fuzz/release/TARGET (ConfigLoaderFuzz by default, or
# ControlRequestFuzz: Fuzz/build.sh ControlRequestFuzz), optimised (twice the
# executions per second of a debug build) with libFuzzer and AddressSanitizer (LeakSanitizer
# included): the Swift sources with -sanitize=fuzzer,address,
# libyaml (Yams' CYaml) with -fsanitize=fuzzer-no-link,address so that its branches count for
# coverage too. The Swift toolchain ships the sanitizer runtimes; nothing else is needed.
# lld, because gold fails on the sanitizer runtime's debug info. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --scratch-path ../.build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
    -Xcc -fsanitize=fuzzer-no-link,address >&2
echo "$(cd .. && pwd)/.build-fuzz/release/${1:-ConfigLoaderFuzz}"
