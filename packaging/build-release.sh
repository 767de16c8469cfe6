#!/usr/bin/env bash
# Build runnerd exactly as the .deb ships it, and print the binary's path as the last line.
#
#   packaging/build-release.sh [--scratch-path DIR] [--no-order] [-- EXTRA SWIFT BUILD ARGS...]
#
#   --scratch-path DIR   where SwiftPM builds (default .build-release); benchmarks use their own
#   --no-order           link without packaging/runnerd.order (packaging/order/make-order-file.sh
#                        profiles such a build to write that file)
#
# packaging/build-deb.sh and the benchmarks call this, so that what is measured is what ships.
# packaging/README.md explains each flag.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scratch=$repo/.build-release order=$repo/packaging/runnerd.order extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --scratch-path) scratch=$(realpath -m "$2"); shift 2 ;;
        --no-order) order=''; shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--scratch-path DIR] [--no-order] [-- SWIFT BUILD ARGS...]" >&2; exit 64 ;;
    esac
done

die() { printf 'build-release: error: %s\n' "$*" >&2; exit 1; }

./scripts/setup.sh

# A directory that holds libstdc++.a and no libstdc++.so: searched first, it makes the
# toolchain's own -lstdc++ link statically. -static-libgcc drops libgcc_s the same way.
cxxdir=$scratch/static-cxx
mkdir -p "$cxxdir"
cxx_a=$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)
[ -f "$cxx_a" ] || cxx_a=$(ls /usr/lib/gcc/*/*/libstdc++.a 2>/dev/null | sort -V | tail -n 1)
[ -f "$cxx_a" ] || die "no libstdc++.a found (apt-get install libstdc++-12-dev)"
ln -sfn "$cxx_a" "$cxxdir/libstdc++.a"

flags=(--scratch-path "$scratch" -c release --product runnerd
       --static-swift-stdlib --disable-local-rpath
       -Xswiftc -Xclang-linker -Xswiftc -static-libgcc
       -Xlinker -L"$cxxdir"
       # Debian's linker hardening: full RELRO and immediate binding (the build is PIE already).
       -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
       # lld, for packed relative relocations (DT_RELR) and for ordering functions.
       -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
       -Xlinker -z -Xlinker pack-relative-relocs
       # Every function in a section of its own, so that the linker can place it.
       -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
       # Swift's unnamed thunks together (packaging/runnerd.ld says why).
       -Xlinker -T -Xlinker "$repo/packaging/runnerd.ld"
       # Only what the process needs is exported: nothing loads runnerd's own symbols, and a
       # dynamic symbol table of every Swift function is 0.3 MiB that each start maps and searches.
       -Xlinker --no-export-dynamic)
if [ -n "$order" ]; then
    [ -f "$order" ] || die "$order is missing (packaging/order/make-order-file.sh writes it; --no-order builds without it)"
    # The functions a daemon runs, packed together at the start of .text, those of its start,
    # idle and stop first. It still keeps 2.8 MiB of RSS off an idle daemon with 200 services
    # (BENCHMARKS.md, "The lifecycle machines: before and after", 2026-12-08). The file names functions by their symbols; one that no longer exists is
    # skipped, which only loses its placement.
    flags+=(-Xlinker --symbol-ordering-file="$order" -Xlinker --no-warn-symbol-ordering)
fi
flags+=("${extra[@]}")

printf '== swift build %s\n' "${flags[*]}" >&2
swift build "${flags[@]}" >&2
binary=$(swift build "${flags[@]}" --show-bin-path)/runnerd
[ -x "$binary" ] || die "no runnerd binary at $binary"

if [ -n "$order" ]; then
    # A file that has drifted from the code places little: say how much of it still applies.
    listed=$(grep -c . "$order")
    found=$(nm --defined-only "$binary" | awk '{ print $NF }' | sort -u | comm -12 - <(sort -u "$order") | wc -l)
    printf '== %s of the %s functions in %s exist in this build' "$found" "$listed" "${order#$repo/}" >&2
    if [ $((found * 10)) -lt $((listed * 9)) ]; then
        printf '; regenerate it with packaging/order/make-order-file.sh' >&2
    fi
    printf '\n' >&2
fi
echo "$binary"
