#!/usr/bin/env python3
"""Turn callgrind profiles of runnerd into lld's --symbol-ordering-file.

usage: select-functions.py LINK_MAP OUTPUT CALLGRIND_OUT...

LINK_MAP is lld's -Map output (written with --no-demangle) of the very build that was profiled.
Functions are listed by the first profile in which they ran, so that the code of the first
workload lies together, then what only the second one ran, and so on; within one profile by name,
so that profiling the same code again writes the same file (the order in which threads first ran
a function varies from run to run, and within the packed code it makes no difference: the kernel
maps it in 64 KiB blocks).

lld places whole input sections. Most functions have a section of their own (-function-sections),
but the prebuilt Swift runtime and Foundation archives keep some functions in one large .text
per object file. Naming such a function drags its whole object's code into the packed area.
Up to BLOB_LIMIT that is the cheaper choice: a function left in place costs the kernel's whole
fault-around block (64 KiB) around it once it runs. A larger shared .text stays where it is, so
a function is left out when any section that defines its name is a shared .text larger than that.
"""
import re
import sys

BLOB_LIMIT = 64 * 1024

# lld's map: "VMA LMA Size Align Out In Symbol"; the output section is indented by 0, an input
# section by 8 and a symbol by 16 characters after the alignment column.
MAP_LINE = re.compile(r'\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (.*)$')
# callgrind names a function once in full ("fn=(12) name"), then by number; "'2" marks a
# recursion level of the same function.
PROFILE_NAME = re.compile(r'^c?fn=\(\d+\) (.+?)(?:\'\d+)?$')


def read_map(path):
    """Symbol name -> list of (output section, input section, input section size)."""
    sections = {}
    output = section = None
    size = 0
    with open(path) as lines:
        for line in lines:
            match = MAP_LINE.match(line.rstrip('\n'))
            if not match:
                continue
            rest = match.group(2)
            depth = len(rest) - len(rest.lstrip())
            name = rest.strip()
            if depth == 0:
                output, section = name, None
            elif depth == 8:
                section, size = name, int(match.group(1), 16)
            elif depth == 16 and section is not None:
                sections.setdefault(name, []).append((output, section, size))
    return sections


def by_first_profile(paths):
    names, seen = [], set()
    for path in paths:
        ran = set()
        with open(path) as lines:
            for line in lines:
                match = PROFILE_NAME.match(line.rstrip('\n'))
                if match and match.group(1) not in seen:
                    ran.add(match.group(1))
        seen |= ran
        names += sorted(ran)
    return names


def placeable(name, definitions):
    if not any(output == '.text' for output, _, _ in definitions):
        return False
    own = ':(.text.' + name + ')'
    return not any(not section.endswith(own) and size > BLOB_LIMIT
                   for _, section, size in definitions)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    definitions = read_map(sys.argv[1])
    ran = by_first_profile(sys.argv[3:])
    chosen = [name for name in ran if name in definitions and placeable(name, definitions[name])]
    with open(sys.argv[2], 'w') as output:
        output.write(''.join(name + '\n' for name in chosen))
    print(f'{len(ran)} functions ran; {len(chosen)} of them can be placed', file=sys.stderr)


if __name__ == '__main__':
    main()
