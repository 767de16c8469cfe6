#!/usr/bin/env python3
"""Which pages of runnerd's binary a run faults in, and what lies there: the causes of its
file-backed RSS.

usage: Benchmarks/fault_sites.py PERF_DATA LINK_MAP [BINARY_NAME]

The kernel maps the 64 KiB around a page that faults (fault-around), so one touch of a cold
function keeps a whole block resident, and the pages counted in RSS say little about which
touches caused them. The faults themselves do. Record them, with the binary's page cache
dropped so that every first touch faults, then run this on the recording and on lld's map of
the same link:

    packaging/build-release.sh --scratch-path .build-bench -- -Xlinker -Map=/tmp/runnerd.map
    python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' BINARY
    perf record -e page-faults -c 1 -d -o /tmp/faults.data -- BINARY run --config CONFIG
    (stop it with SIGTERM once it has started)
    Benchmarks/fault_sites.py /tmp/faults.data /tmp/runnerd.map

For each fault of the daemon's own process (its first pid) in the binary's read-only data and
code it prints the output section, the input section (object file) and the symbol at or before
the address; code faults inside the packed area of packaging/runnerd.order are only counted.
A fault outside it names a function the order does not place: one that the profiles did not
see run, or one in a section that cannot be moved (a prebuilt archive's single .text).
"""
import bisect
import collections
import re
import subprocess
import sys

MAP_LINE = re.compile(r'^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(.*)$')
MMAP = re.compile(r'\[(0x[0-9a-f]+)\(0x[0-9a-f]+\) @ 0 ')
SHOWN = ('.text', '.rodata')


def faults(perf_data, binary_name):
    """(pid, base address of the binary, [fault addresses]) for the first process that mapped it."""
    script = subprocess.run(['perf', 'script', '-i', perf_data, '--show-mmap-events', '-F', 'pid,addr'],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    pid = base = None
    addresses = []
    for line in script:
        fields = line.split()
        if 'PERF_RECORD_MMAP2' in line:
            match = MMAP.search(line)
            if base is None and match and line.rstrip().endswith(binary_name):
                pid, base = fields[0], int(match.group(1), 16)
        elif base is not None and len(fields) >= 2 and fields[0] == pid:
            addresses.append(int(fields[1], 16))
    if base is None:
        sys.exit(f'fault_sites: no mapping of a file named {binary_name} in {perf_data}')
    return pid, base, addresses


def read_map(path):
    """Input sections as (address, output section, input section) and symbols as (address, name)."""
    sections, symbols = [], []
    output = None
    with open(path) as lines:
        for line in lines:
            match = MAP_LINE.match(line)
            if not match:
                continue
            address, size = int(match.group(1), 16), int(match.group(2), 16)
            depth, name = len(match.group(3)), match.group(4)
            if depth == 0:
                output = name
            elif depth == 8 and size and address:
                sections.append((address, output, name))
            elif depth == 16 and address:
                symbols.append((address, name))
    sections.sort()
    symbols.sort()
    return sections, symbols


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary_name = sys.argv[3] if len(sys.argv) > 3 else 'runnerd'
    pid, base, addresses = faults(sys.argv[1], binary_name)
    sections, symbols = read_map(sys.argv[2])
    section_starts = [address for address, _, _ in sections]
    symbol_starts = [address for address, _ in symbols]
    try:
        with open('packaging/runnerd.order') as order_file:
            ordered = set(order_file.read().split())
    except OSError:
        ordered = set()
    packed_end = max((address for address, name in symbols if name in ordered), default=0)

    counts = collections.Counter()
    packed = 0
    for address in addresses:
        offset = address - base
        index = bisect.bisect_right(section_starts, offset) - 1
        if offset < 0 or index < 0:
            continue
        _, output, section = sections[index]
        if output not in SHOWN:
            continue
        if output == '.text' and offset <= packed_end:
            packed += 1
            continue
        symbol_index = bisect.bisect_right(symbol_starts, offset) - 1
        symbol = symbols[symbol_index][1] if symbol_index >= 0 else '?'
        counts[(output, re.sub(r'^.*/', '', section), symbol)] += 1

    print(f'process {pid}: {len(addresses)} faults; {packed} in the packed code (up to {packed_end:#x})')
    for (output, section, symbol), count in sorted(counts.items()):
        print(f'{output:8s} {count:3d}  {section[:70]:70s}  {symbol[:100]}')


if __name__ == '__main__':
    main()
