#!/usr/bin/env python3
"""Where a running process's resident memory is: per mapping, and per ELF section of its program.

usage: Benchmarks/rss_breakdown.py PID [BINARY]

BINARY is the program's file with its section headers (by default /proc/PID/exe; give the
unstripped build when the process runs a stripped copy at the same layout). Needs root, or the
same user, for /proc/PID/pagemap.

The first table sums /proc/PID/smaps by mapped file (anonymous memory under [anon], [heap],
[stack]), split into file-backed and anonymous kilobytes: what VmRSS adds up. The second reads
/proc/PID/pagemap for the program's own mappings and counts the resident 4 KiB pages of each
section (.text, .rodata, .data.rel.ro, ...). A page is counted where it is mapped, whether the
process touched it or the kernel mapped it around a touched one (fault-around).
"""
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = 4096


def mappings(pid):
    """(name, file-backed KiB, anonymous KiB) per mapped object, largest first."""
    rss, anon = collections.Counter(), collections.Counter()
    name = None
    with open(f'/proc/{pid}/smaps') as smaps:
        for line in smaps:
            fields = line.split()
            if re.match(r'^[0-9a-f]+-[0-9a-f]+ ', line):
                name = fields[5] if len(fields) > 5 else '[anon]'
            elif fields[0] == 'Rss:':
                rss[name] += int(fields[1])
            elif fields[0] == 'Anonymous:':
                anon[name] += int(fields[1])
    return sorted(((n, rss[n] - anon[n], anon[n]) for n in rss if rss[n]), key=lambda row: -(row[1] + row[2]))


def sections(binary):
    """(start, end, name) of each allocated section, in virtual addresses of the file."""
    out = subprocess.run(['readelf', '-SW', binary], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        match = re.match(r'\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)', line)
        if match and int(match.group(2), 16):
            start = int(match.group(2), 16)
            found.append((start, start + int(match.group(3), 16), match.group(1)))
    return found


def load_segments(binary):
    """(file offset, virtual address, file size) of each PT_LOAD segment."""
    out = subprocess.run(['readelf', '-lW', binary], capture_output=True, text=True, check=True).stdout
    return [(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16))
            for m in re.finditer(r'LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)', out)]


def resident_by_section(pid, binary):
    program = os.path.realpath(f'/proc/{pid}/exe')
    table = sections(binary)
    segments = load_segments(binary)
    counts = collections.Counter()
    with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/pagemap', 'rb') as pagemap:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or fields[5] != program:
                continue
            start, end = (int(x, 16) for x in fields[0].split('-'))
            offset = int(fields[2], 16)
            segment = next((s for s in segments if s[0] <= offset < s[0] + max(s[2], 1)), None)
            if segment is None:
                continue
            to_virtual = segment[1] - segment[0]
            pagemap.seek(start // PAGE * 8)
            entries = pagemap.read((end - start) // PAGE * 8)
            for index in range((end - start) // PAGE):
                if struct.unpack_from('<Q', entries, index * 8)[0] >> 63:
                    address = offset + index * PAGE + to_virtual
                    name = next((n for a, b, n in table if a <= address < b), '(between sections)')
                    counts[name] += PAGE // 1024
    return counts


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    pid = int(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) == 3 else f'/proc/{pid}/exe'
    rows = mappings(pid)
    print(f'{"KiB file":>9} {"KiB anon":>9}  mapping')
    for name, file_kib, anon_kib in rows:
        print(f'{file_kib:9d} {anon_kib:9d}  {name}')
    print(f'{sum(r[1] for r in rows):9d} {sum(r[2] for r in rows):9d}  total')
    print()
    print(f'{"KiB":>9}  section of {os.path.realpath(f"/proc/{pid}/exe")}')
    for name, kib in resident_by_section(pid, binary).most_common():
        print(f'{kib:9d}  {name}')


if __name__ == '__main__':
    main()
