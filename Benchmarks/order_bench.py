#!/usr/bin/env python3
"""Start in dependency order: 200 services in 10 waves of 20, beside the same 200 without order.

Run through Benchmarks/run-order-bench.sh, which builds runnerd in release mode; this file only
measures. Linux only, as root (the kernel's process connector).

Four shapes of one group of 200 services, taking turns run by run (the order rotates):
- "no order, log-line": each service is `sh -c 'echo up; exec sleep N'` with
  `ready: { log-line: "^up$" }`, all released at once;
- "10 waves, log-line": the same, where each service of wave k is `after:` all 20 of wave k-1;
- "no order, at spawn" and "10 waves, at spawn": `sleep N` without a probe (ready once spawned).

The start ends when runnerd sends READY=1 to a NOTIFY_SOCKET the harness binds. Every exec
comes from the process connector with the kernel's CLOCK_MONOTONIC stamp (see
supervisor_bench.py). The per-wave gap is the time from the last service of wave k-1 being
ready to the first exec of wave k: with log-line, from the exec of wave k-1's last `sleep`
(which follows its `echo up` at once) to the exec of wave k's first `sh`; at spawn, from the
exec of wave k-1's last `sleep` to the exec of wave k's first. That gap is what ordering adds
beyond the readiness each wave waits for: runnerd reading the line, the probe, the group's
machine releasing the wave, the spawn. Readiness is by events (the output pipe and the spawn
itself): nothing polls, so the target is a gap well under 5 ms.
"""
import argparse
import os
import statistics
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import supervisor_bench as sb  # noqa: E402

WAVES, PER_WAVE = 10, 20
MARK = 999000  # the sleep argument is MARK + wave, so that each process names its wave


class WaveEvents(sb.ProcEvents):
    """The connector's events, also keeping each process's first exec (the `sh` of a service)."""

    def _event(self, data, base):
        if len(data) >= base + 60:
            what, _cpu, stamp = struct.unpack_from("=IIQ", data, base + 36)
            if what == self.EXEC:
                pid, tgid = struct.unpack_from("=II", data, base + 52)
                tree = self.owner.get(tgid)
                if tree is not None and pid == tgid:
                    tree.__dict__.setdefault("first_exec", {}).setdefault(pid, stamp)
        super()._event(data, base)


class Shape(sb.Impl):
    ready = "notify"

    def __init__(self, runnerd, ordered, probe):
        super().__init__(f"{'10 waves' if ordered else 'no order'}, {'log-line' if probe else 'at spawn'}")
        self.runnerd, self.ordered, self.probe = runnerd, ordered, probe

    def prepare(self, directory, n):
        lines = ["groups:", "  g:", "    services:"]
        for wave in range(WAVES):
            for i in range(PER_WAVE):
                argument = MARK + wave
                if self.probe:
                    service = f'command: [sh, -c, "echo up; exec {sb.SLEEP} {argument}"], ready: {{ log-line: "^up$" }}'
                else:
                    service = f'command: [{sb.SLEEP}, "{argument}"]'
                if self.ordered and wave > 0:
                    service += ", after: [" + ", ".join(f"w{wave - 1}s{j}" for j in range(PER_WAVE)) + "]"
                lines.append(f"      w{wave}s{i}: {{ {service} }}")
        sb.write(f"{directory}/runnerd.yaml", "\n".join(lines) + "\n")
        return [self.runnerd, "run", "--config", f"{directory}/runnerd.yaml"]

    def env(self, directory):
        env = super().env(directory)
        env["NOTIFY_SOCKET"] = f"{directory}/notify.sock"
        return env


def wave_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            last = f.read().rstrip(b"\0").split(b"\0")[-1]
        return int(last) - MARK
    except (OSError, ValueError):
        return None


def gaps(tree):
    """The 9 gaps between waves, in ms."""
    first = getattr(tree, "first_exec", {})
    starts, readies = {}, {}
    for pid, stamp in tree.sleeps.items():
        wave = wave_of(pid)
        if wave is None:
            continue
        starts[wave] = min(starts.get(wave, stamp), first.get(pid, stamp))
        readies[wave] = max(readies.get(wave, 0), stamp)
    return [(starts[w] - readies[w - 1]) / 1e6 for w in range(1, WAVES) if w in starts and w - 1 in readies]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runnerd", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    n = WAVES * PER_WAVE
    shapes = [Shape(args.runnerd, ordered, probe) for probe in (True, False) for ordered in (False, True)]
    starts = {shape.name: [] for shape in shapes}
    wave_gaps = {shape.name: [] for shape in shapes}
    events = WaveEvents()
    for run in range(args.runs):
        for index, shape in enumerate(sb.rotate(shapes, run)):
            instance = sb.Instance(shape, events, f"{args.work}/run{run}-{index}", n)
            try:
                ready, _children = instance.start()
                starts[shape.name].append(ready)
                if shape.ordered:
                    wave_gaps[shape.name] += gaps(instance.tree)
                if instance.stop() is None:
                    sb.log(f"{shape.name}: did not stop in 60 s; killed")
            finally:
                instance.close()
        sb.log(f"run {run + 1}/{args.runs}: " + ", ".join(f"{name} {values[-1]:.1f} ms" for name, values in starts.items()))

    print(f"\n### Start of {n} services in one group, {args.runs} runs: median (min–max), ms\n")
    print("| readiness | no order | 10 waves of 20 | ratio | gap between waves: median (max), ms |")
    print("|---|---|---|---|---|")
    for probe in ("log-line", "at spawn"):
        plain, waves = starts[f"no order, {probe}"], starts[f"10 waves, {probe}"]
        g = wave_gaps[f"10 waves, {probe}"]
        gap = f"{statistics.median(g):.2f} ({max(g):.2f})" if g else "—"
        print(f"| {probe} | {sb.mmm(plain, '{:.1f}')} | {sb.mmm(waves, '{:.1f}')} | {sb.ratio(sb.med(waves), sb.med(plain))} | {gap} |")


if __name__ == "__main__":
    main()
