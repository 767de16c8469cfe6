#!/usr/bin/env python3
"""runnerd beside supervisord, s6, honcho and a C floor, side by side in one run.

Run through Benchmarks/run-supervisor-bench.sh, which installs the peers and builds runnerd and
the floor; this file only measures. Linux only, as root.

How the figures are taken:
- Process events come from the kernel's process connector (netlink, cn_proc): every fork, exec
  and exit on the machine, each with the kernel's CLOCK_MONOTONIC time stamp. The harness keeps
  the tree of each supervisor from its fork events, so "all 200 children exist" is the kernel's
  time of the 200th `exec` of `sleep` under that supervisor, and "all children are gone" the
  time of the last exit in its tree. Nothing polls /proc, so the harness costs the measured
  processes no CPU while they start and stop. Other users' processes are ignored.
- runnerd's start ends when it sends READY=1 to a NOTIFY_SOCKET the harness binds (the time
  its 200th child exec'd is recorded too).
- Idle cost: after every implementation of a run has started and settled, the harness reads
  /proc once, waits `--idle` seconds, and reads again. CPU is utime+stime from /proc/PID/stat
  (which includes exited threads) and the on-CPU time from schedstat; wake-ups are the
  run counts (the third field of /proc/PID/task/TID/schedstat), summed over every thread of the
  supervisor and, separately, over its helper processes (every process in its tree that is not
  one of the `sleep`s: s6-supervise, honcho's workers and shells). RSS is VmRSS, PSS comes from
  smaps_rollup.
- Log throughput: the output file's size is polled every millisecond; "first line" is the
  first poll that finds a payload line in it, "done" the first poll at which it holds all of
  them (checked by counting).
"""
import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import sys
import time

SLEEP = shutil.which("sleep") or "/usr/bin/sleep"
PAYLOAD = b"x" * 99

# ---------------------------------------------------------------- process connector


class Tree:
    """One supervisor's process tree, as the process connector reports it."""

    def __init__(self, root):
        self.root = root
        self.members = {root}
        self.alive = {root}
        self.sleeps = {}  # pid -> time of its (last) exec, ns
        self.last_exit = 0
        self.exits = 0


class ProcEvents:
    FORK, EXEC, EXIT = 0x1, 0x2, 0x80000000

    def __init__(self):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)  # NETLINK_CONNECTOR
        sock.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)  # SO_RCVBUFFORCE: keep every event
        sock.bind((0, 1))  # CN_IDX_PROC
        listen = struct.pack("=IIIIHH", 1, 1, 0, 0, 4, 0) + struct.pack("=I", 1)
        sock.send(struct.pack("=IHHII", 16 + len(listen), 3, 0, 0, 0) + listen)  # NLMSG_DONE
        sock.setblocking(False)
        self.sock = sock
        self.owner = {}  # pid -> Tree

    def track(self, pid):
        tree = Tree(pid)
        self.owner[pid] = tree
        return tree

    def forget(self, tree):
        for pid in list(tree.alive):
            if self.owner.get(pid) is tree:
                del self.owner[pid]

    def drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as error:  # ENOBUFS: events were lost
                raise SystemExit(f"process connector overflowed: {error}")
            offset = 0
            while offset + 16 <= len(data):
                length = struct.unpack_from("=I", data, offset)[0]
                if length < 16:
                    break
                self._event(data, offset)
                offset += (length + 3) & ~3

    def _event(self, data, base):
        if len(data) < base + 52 + 8:
            return
        what, _cpu, stamp = struct.unpack_from("=IIQ", data, base + 36)
        if what == self.FORK:
            _ppid, parent, child_pid, child = struct.unpack_from("=IIII", data, base + 52)
            tree = self.owner.get(parent)
            if tree is not None and child_pid == child:
                tree.members.add(child)
                tree.alive.add(child)
                self.owner[child] = tree
        elif what == self.EXEC:
            pid, tgid = struct.unpack_from("=II", data, base + 52)
            tree = self.owner.get(tgid)
            if tree is not None and pid == tgid:
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    return
                if comm == "sleep":
                    tree.sleeps[pid] = stamp
        elif what == self.EXIT:
            pid, tgid = struct.unpack_from("=II", data, base + 52)
            tree = self.owner.get(tgid)
            if tree is not None and pid == tgid:
                tree.alive.discard(pid)
                tree.exits += 1
                tree.last_exit = max(tree.last_exit, stamp)
                del self.owner[pid]


# ---------------------------------------------------------------- implementations

libc = ctypes.CDLL(None, use_errno=True)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Impl:
    ready = "children"  # or "notify"
    watchdog = False

    def __init__(self, name):
        self.name = name

    def env(self, directory):
        env = dict(os.environ)
        for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"):
            env.pop(key, None)
        return env


class Floor(Impl):
    def __init__(self, floor):
        super().__init__("C floor")
        self.floor = floor

    def prepare(self, directory, n):
        return [self.floor, str(n), SLEEP, "100000"]


class Runnerd(Impl):
    ready = "notify"

    def __init__(self, runnerd, groups=None, watchdog=False, label=None):
        self.groups = groups  # None: one group per service
        self.watchdog = watchdog
        self.runnerd = runnerd
        shape = "1 group per service" if groups is None else f"{groups} groups"
        super().__init__(label or f"runnerd ({shape}{', watchdog 10s' if watchdog else ''})")

    def prepare(self, directory, n):
        groups = n if self.groups is None else self.groups
        per = -(-n // groups)
        lines = ["groups:"]
        made = 0
        for g in range(groups):
            lines.append(f"  g{g}:")
            lines.append("    services:")
            for s in range(per):
                if made == n:
                    break
                lines.append(f'      s{s}: {{ command: [{SLEEP}, "100000"] }}')
                made += 1
        write(f"{directory}/runnerd.yaml", "\n".join(lines) + "\n")
        return [self.runnerd, "run", "--config", f"{directory}/runnerd.yaml"]

    def env(self, directory):
        env = super().env(directory)
        env["NOTIFY_SOCKET"] = f"{directory}/notify.sock"
        if self.watchdog:
            env["WATCHDOG_USEC"] = "10000000"
        return env


class S6(Impl):
    def __init__(self):
        super().__init__("s6-svscan")

    def prepare(self, directory, n):
        scan = f"{directory}/scan"
        os.mkdir(scan)
        for i in range(n):
            os.mkdir(f"{scan}/s{i}")
            write(f"{scan}/s{i}/run", f"#!/bin/sh\nexec {SLEEP} 100000\n", 0o755)
        # s6-svscan supervises at most 500 services unless told otherwise.
        return ["s6-svscan"] + (["-c", str(n + 16)] if n > 480 else []) + [scan]


class Supervisord(Impl):
    """numprocs=N: one [program] with N processes, each restarted on its own (the usual way to
    run N copies); programs=True: N [program] sections, which supervisord stops a few per tick."""

    def __init__(self, programs=False):
        super().__init__("supervisord (N programs)" if programs else "supervisord (numprocs)")
        self.programs = programs

    def prepare(self, directory, n, command=None, extra=""):
        os.mkdir(f"{directory}/childlogs")
        text = [
            "[supervisord]",
            "nodaemon=true",
            f"logfile={directory}/supervisord.log",
            f"pidfile={directory}/supervisord.pid",
            f"childlogdir={directory}/childlogs",
            f"minfds={max(1024, 8 * n + 64)}",
            "user=root",
        ]
        command = command or SLEEP + " 100000"
        if self.programs or n == 1:
            for i in range(n):
                text += [f"[program:s{i}]", f"command={command}", extra]
        else:
            text += ["[program:s]", f"command={command}", f"numprocs={n}", "process_name=%(process_num)s", extra]
        write(f"{directory}/supervisord.conf", "\n".join(text) + "\n")
        return ["supervisord", "-n", "-c", f"{directory}/supervisord.conf"]


class Honcho(Impl):
    def __init__(self, honcho):
        super().__init__("honcho")
        self.honcho = honcho

    def prepare(self, directory, n, command=None):
        names = ["gen"] if command else [f"s{i}" for i in range(n)]
        text = "".join(f"{name}: {command or SLEEP + ' 100000'}\n" for name in names)
        write(f"{directory}/Procfile", text)
        return [self.honcho, "-f", f"{directory}/Procfile", "-d", directory, "start"]


# ---------------------------------------------------------------- one supervisor instance


def spawn(argv, env, out_path, cwd, err_path=None):
    """posix_spawn in a session of its own, with the signal dispositions a shell would give."""
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if err_path else out
    null = os.open("/dev/null", os.O_RDONLY)
    path = os.path.abspath(argv[0]) if "/" in argv[0] else shutil.which(argv[0])
    here = os.getcwd()
    os.chdir(cwd)
    try:
        pid = os.posix_spawn(path, argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2),
        ], setsid=True, setsigdef=(signal.SIGPIPE, signal.SIGINT, signal.SIGXFSZ), setsigmask=())
    finally:
        os.chdir(here)
        os.close(out)
        if err != out:
            os.close(err)
        os.close(null)
    return pid


LIVE = []  # every Instance started and not yet closed: killed if the harness fails


class Instance:
    def __init__(self, impl, events, directory, n):
        self.impl, self.events, self.directory, self.n = impl, events, directory, n
        os.makedirs(directory)
        self.argv = impl.prepare(directory, n)
        self.notify = None
        if impl.ready == "notify":
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(f"{directory}/notify.sock")
            self.notify.setblocking(False)
        self.ready_at = None
        self.pings = 0

    def read_notify(self):
        while self.notify is not None:
            try:
                data = self.notify.recv(65536)
            except BlockingIOError:
                return
            lines = data.split(b"\n")
            if b"READY=1" in lines and self.ready_at is None:
                self.ready_at = time.monotonic_ns()
            if b"WATCHDOG=1" in lines:
                self.pings += 1

    def wait(self, done, timeout):
        """Reads events until done() or the timeout; returns whether done() held."""
        deadline = time.monotonic() + timeout
        fds = [self.events.sock] + ([self.notify] if self.notify else [])
        while True:
            self.events.drain()
            self.read_notify()
            if done():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select(fds + [self.pidfd], [], [], min(left, 0.5))

    def start(self):
        """Launches the supervisor; returns (ms until ready, ms until all n children exec'd)."""
        launched = time.monotonic_ns()
        self.pid = spawn(self.argv, self.impl.env(self.directory), f"{self.directory}/output.log", self.directory)
        self.tree = self.events.track(self.pid)
        LIVE.append(self)
        self.pidfd = os.pidfd_open(self.pid)
        ok = self.wait(lambda: len(self.tree.sleeps) >= self.n and
                       (self.notify is None or self.ready_at is not None), 120)
        if not ok:
            raise RuntimeError(f"{self.impl.name}: did not start {self.n} children in 120 s "
                               f"({len(self.tree.sleeps)} seen)")
        time.sleep(0.002)  # a shell's exec of sleep that is still queued updates its time
        self.events.drain()
        children = max(self.tree.sleeps.values()) - launched
        ready = (self.ready_at - launched) if self.notify else children
        return ready / 1e6, children / 1e6

    def exited(self):
        r, _, _ = select.select([self.pidfd], [], [], 0)
        return bool(r)

    def stop(self):
        """SIGTERM; returns ms until the supervisor exited and every process of its tree is gone."""
        sent = time.monotonic_ns()
        os.kill(self.pid, signal.SIGTERM)
        exited_at = None

        def done():
            nonlocal exited_at
            if exited_at is None and self.exited():
                exited_at = time.monotonic_ns()
            return exited_at is not None and not self.tree.alive

        ok = self.wait(done, 60)
        if not ok:
            self.kill()
            return None
        return (max(exited_at, self.tree.last_exit) - sent) / 1e6

    def kill(self):
        for pid in list(self.tree.alive):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.wait(lambda: self.exited() and not self.tree.alive, 10)

    def close(self):
        LIVE.remove(self)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        reap_orphans()
        os.close(self.pidfd)
        if self.notify:
            self.notify.close()
        self.events.forget(self.tree)

    def helpers(self):
        return [pid for pid in self.tree.alive if pid != self.pid and pid not in self.tree.sleeps]

    def sample(self):
        """pid -> proc_sample for the supervisor (key "main") and for its helpers."""
        return {"main": {self.pid: proc_sample(self.pid)},
                "helpers": {pid: proc_sample(pid) for pid in self.helpers()}}


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def proc_sample(pid):
    """One process: CPU (utime+stime, in ms), per-thread schedstat (on-CPU ns, run count), RSS, PSS."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        threads = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    a, _b, c = f.read().split()
                threads[int(tid)] = (int(a), int(c))
            except OSError:
                pass
        rss = pss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
        return {"cpu_ms": ticks * 1000 / os.sysconf("SC_CLK_TCK"), "threads": threads,
                "rss_kib": rss, "pss_kib": pss}
    except (OSError, IndexError, ValueError):
        return None


def delta(before, after):
    """CPU and wake-ups between two samples of the same processes (pid -> sample). Threads that
    exited in between are counted as exits (their last runs are unknown); new ones from zero."""
    cpu_ms = run_ns = runs = exited = 0
    for pid, a in after.items():
        b = before.get(pid)
        if a is None or b is None:
            continue
        cpu_ms += a["cpu_ms"] - b["cpu_ms"]
        for tid, (ns, count) in a["threads"].items():
            ns0, count0 = b["threads"].get(tid, (0, 0))
            run_ns += ns - ns0
            runs += count - count0
        exited += len(set(b["threads"]) - set(a["threads"]))
    return {"cpu_ms": cpu_ms, "run_ms": run_ns / 1e6, "runs": runs, "exited_threads": exited}


# ---------------------------------------------------------------- figures


def rotate(items, run):
    k = run % len(items)
    return items[k:] + items[:k]


def start_stop_idle(impls, events, work, n, runs, idle, results, label):
    """Figures 1-3 (or 5): per run, start every implementation in turn, let them idle together,
    then stop them in turn. The order rotates from run to run."""
    for run in range(runs):
        order = rotate(impls, run)
        live = []
        for impl in order:
            inst = Instance(impl, events, f"{work}/{label}-{run}-{len(live)}", n)
            ready, children = inst.start()
            live.append(inst)
            row = results.setdefault(impl.name, {})
            row.setdefault("start", []).append(ready)
            row.setdefault("children", []).append(children)
            log(f"{label} run {run + 1}: {impl.name}: start {ready:.1f} ms (children {children:.1f} ms)")
        settle = time.monotonic() + 2
        while time.monotonic() < settle:
            events.drain()
            time.sleep(0.05)
        for inst in live:
            inst.read_notify()
        if idle > 0:
            before = {inst.impl.name: (inst.sample(), inst.pings) for inst in live}
            end = time.monotonic() + idle
            while time.monotonic() < end:
                events.drain()
                time.sleep(0.2)
            for inst in live:
                inst.read_notify()
                b, pings = before[inst.impl.name]
                a = inst.sample()
                main, helpers = delta(b["main"], a["main"]), delta(b["helpers"], a["helpers"])
                m, hs = a["main"][inst.pid], [h for h in a["helpers"].values() if h]
                results[inst.impl.name].setdefault("idle", []).append({
                    "cpu_ms": main["cpu_ms"], "run_ms": main["run_ms"], "wakeups": main["runs"] / idle,
                    "threads": len(m["threads"]), "exited_threads": main["exited_threads"],
                    "helper_cpu_ms": helpers["cpu_ms"], "helper_run_ms": helpers["run_ms"],
                    "helper_wakeups": helpers["runs"] / idle,
                    "rss_kib": m["rss_kib"], "pss_kib": m["pss_kib"], "helpers": len(hs),
                    "helper_rss_kib": sum(h["rss_kib"] for h in hs), "helper_pss_kib": sum(h["pss_kib"] for h in hs),
                    "pings": inst.pings - pings,
                })
        else:
            for inst in live:
                a = inst.sample()
                m, hs = a["main"][inst.pid], [h for h in a["helpers"].values() if h]
                results[inst.impl.name].setdefault("idle", []).append({
                    "rss_kib": m["rss_kib"], "pss_kib": m["pss_kib"], "helpers": len(hs),
                    "helper_rss_kib": sum(h["rss_kib"] for h in hs), "helper_pss_kib": sum(h["pss_kib"] for h in hs)})
        for inst in rotate(live, 1):
            stop = inst.stop()
            inst.close()
            results[inst.impl.name].setdefault("stop", []).append(stop)
            log(f"{label} run {run + 1}: {inst.impl.name}: stop {'timeout' if stop is None else f'{stop:.1f} ms'}")


def log_throughput(runs, lines, work, runnerd, runnerd_before, honcho, skip_honcho, results):
    """Figure 4: one child writes `lines` lines of 100 bytes, forwarded by each supervisor."""
    generator = f"yes {PAYLOAD.decode()} | head -n {lines}"
    writers = (["file", "runnerd"] + (["runnerd before"] if runnerd_before else []) + ["supervisord"]
               + ([] if skip_honcho else ["honcho"]))
    for run in range(runs):
        for writer in rotate(writers, run):
            directory = f"{work}/logs-{run}-{writer}"
            os.makedirs(directory)
            out = f"{directory}/out.log"
            env = Impl("x").env(directory)
            if writer == "file":
                argv = ["sh", "-c", generator]
            elif writer.startswith("runnerd"):
                write(f"{directory}/runnerd.yaml",
                      "groups:\n  logs:\n    restart: never\n    required: false\n    services:\n"
                      f"      gen: {{ command: [sh, -c, \"{generator}\"] }}\n")
                argv = [runnerd if writer == "runnerd" else runnerd_before, "run", "--config", f"{directory}/runnerd.yaml"]
            elif writer == "supervisord":
                argv = Supervisord().prepare(directory, 1, command=f"sh -c \"{generator}\"", extra="\n".join([
                    "autorestart=false", "startsecs=0", f"stdout_logfile={out}",
                    "stdout_logfile_maxbytes=0", "stdout_logfile_backups=0", "redirect_stderr=false"]))
            else:
                argv = Honcho(honcho).prepare(directory, 1, command=generator)
            target = f"{directory}/supervisord.out" if writer == "supervisord" else out
            launched = time.monotonic_ns()
            pid = spawn(argv, env, target, directory, err_path=f"{directory}/stderr.log")
            try:
                first, done = watch_output(out, lines, launched, limit=600)
            finally:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
                reap_orphans()
            row = results.setdefault(writer, {})
            row.setdefault("launch", []).append(done)
            row.setdefault("first", []).append(done - first if done else None)
            log(f"logs run {run + 1}: {writer}: {done:.0f} ms from launch, first line at {first:.0f} ms")
            shutil.rmtree(directory, ignore_errors=True)


def watch_output(path, lines, launched, limit):
    first = None
    expected = None
    checked = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        now = time.monotonic_ns()
        if first is None and size > 0:
            with open(path, "rb") as f:
                head = f.read(65536)
            at = head.find(PAYLOAD)
            if at >= 0:
                first = (now - launched) / 1e6
                start = head.rfind(b"\n", 0, at) + 1
                expected = lines * (at - start + len(PAYLOAD) + 1)
        if expected is not None and size >= expected and size != checked:
            checked = size
            with open(path, "rb") as f:
                if f.read().count(PAYLOAD + b"\n") >= lines:
                    return first, (now - launched) / 1e6
        time.sleep(0.001)
    raise RuntimeError(f"{path}: not all {lines} lines within {limit} s")


# ---------------------------------------------------------------- report


def log(text):
    print(text, file=sys.stderr, flush=True)


def mmm(values, fmt="{:.0f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}×"


def report_start_stop(results, n, runs, title):
    floor = results["C floor"]
    f_start, f_stop = med(floor["start"]), med(floor["stop"])
    print(f"\n### {title}\n")
    print("| implementation | start, ms | ÷ floor | children all exec'd, ms | stop, ms | ÷ floor | stops timed out |")
    print("|---|---|---|---|---|---|---|")
    for name, row in results.items():
        timeouts = sum(1 for s in row["stop"] if s is None)
        print(f"| {name} | {mmm(row['start'], '{:.1f}')} | {ratio(med(row['start']), f_start)} | "
              f"{mmm(row['children'], '{:.1f}')} | {mmm(row['stop'], '{:.1f}')} | "
              f"{ratio(med(row['stop']), f_stop)} | {timeouts} of {len(row['stop'])} |")


def report_idle(results, idle):
    print(f"\n### Idle cost, over {idle:.0f} s idle\n")
    print("| implementation | RSS, MiB | PSS, MiB | helpers | helpers' PSS, MiB | CPU, ms: supervisor (on-CPU) | CPU, ms: helpers (on-CPU) | wake-ups/s: supervisor | wake-ups/s: helpers | threads (exited while idle) | watchdog pings |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in results.items():
        rows = row["idle"]

        def col(key, fmt="{:.1f}", scale=1.0):
            return mmm([r[key] * scale for r in rows], fmt)
        print(f"| {name} | {col('rss_kib', scale=1 / 1024)} | {col('pss_kib', scale=1 / 1024)} | "
              f"{col('helpers', '{:.0f}')} | {col('helper_pss_kib', scale=1 / 1024)} | "
              f"{col('cpu_ms', '{:.0f}')} ({col('run_ms', '{:.1f}')}) | {col('helper_cpu_ms', '{:.0f}')} ({col('helper_run_ms', '{:.1f}')}) | "
              f"{col('wakeups', '{:.2f}')} | {col('helper_wakeups', '{:.2f}')} | {col('threads', '{:.0f}')} ({col('exited_threads', '{:.0f}')}) | "
              f"{col('pings', '{:.0f}')} |")


def report_scale(results, n):
    print(f"\n### Scale: {n} services\n")
    floor = results.get("C floor")
    print("| implementation | start, ms | ÷ floor | stop, ms | ÷ floor | RSS, MiB | helpers | helpers' PSS, MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in results.items():
        rss = mmm([r["rss_kib"] / 1024 for r in row["idle"]], "{:.1f}")
        hp = mmm([r["helper_pss_kib"] / 1024 for r in row["idle"]], "{:.1f}")
        hc = mmm([r["helpers"] for r in row["idle"]], "{:.0f}")
        print(f"| {name} | {mmm(row['start'], '{:.1f}')} | {ratio(med(row['start']), floor and med(floor['start']))} | "
              f"{mmm(row['stop'], '{:.1f}')} | {ratio(med(row['stop']), floor and med(floor['stop']))} | {rss} | {hc} | {hp} |")


def report_logs(results, lines):
    print(f"\n### Log forwarding, {lines:,} lines of 100 bytes\n")
    base_launch = med(results["file"]["launch"])
    base_first = med(results["file"]["first"])
    sup = results.get("supervisord")
    sup_launch = med(sup["launch"]) if sup else None
    print("| writer | from launch, ms | lines/s from launch | ÷ file | ÷ supervisord | from first line, ms | lines/s from first line | ÷ file |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in results.items():
        launch, first = med(row["launch"]), med(row["first"])

        def rate(ms):
            return f"{lines / ms * 1000 / 1e6:.3f} M" if ms else "—"
        print(f"| {name} | {mmm(row['launch'])} | {rate(launch)} | {ratio(base_launch, launch)} | "
              f"{ratio(sup_launch, launch)} | {mmm(row['first'])} | {rate(first)} | {ratio(base_first, first)} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runnerd", required=True)
    parser.add_argument("--runnerd-before", help="another runnerd binary, measured beside the first as 'runnerd before'")
    parser.add_argument("--floor", required=True)
    parser.add_argument("--honcho", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--scale-groups", type=int, default=100)
    parser.add_argument("--figures", default="start,logs,scale")
    parser.add_argument("--skip", default="", help="comma-separated implementations to leave out")
    parser.add_argument("--work", required=True)
    parser.add_argument("--json")
    args = parser.parse_args()

    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER: orphans are ours to reap
        raise SystemExit("cannot become a child subreaper")
    events = ProcEvents()
    try:
        run_figures(args, events)
    finally:
        # A failed measurement must not leave supervisors and their children behind.
        for inst in list(LIVE):
            inst.kill()
            inst.close()


def run_figures(args, events):
    figures = set(args.figures.split(","))
    skip = set(filter(None, args.skip.split(",")))
    everything = {}

    if "start" in figures:
        impls = [Floor(args.floor), Runnerd(args.runnerd), Runnerd(args.runnerd, groups=1),
                 Runnerd(args.runnerd, watchdog=True), S6(), Supervisord(), Supervisord(programs=True),
                 Honcho(args.honcho)]
        if args.runnerd_before:
            impls.insert(4, Runnerd(args.runnerd_before, label="runnerd before (1 group per service)"))
        impls = [i for i in impls if i.name not in skip and i.name.split()[0] not in skip]
        results = {i.name: {} for i in impls}
        start_stop_idle(impls, events, args.work, args.children, args.runs, args.idle, results, "start")
        report_start_stop(results, args.children, args.runs, f"Start and stop, {args.children} children")
        report_idle(results, args.idle)
        everything["start"] = results
    if "logs" in figures:
        results = {}
        log_throughput(args.runs, args.lines, args.work, args.runnerd, args.runnerd_before, args.honcho,
                       "honcho" in skip, results)
        report_logs(results, args.lines)
        everything["logs"] = results
    if "scale" in figures:
        impls = [Floor(args.floor), Runnerd(args.runnerd, groups=args.scale_groups,
                                            label=f"runnerd ({args.scale_groups} groups)"), S6()]
        if args.runnerd_before:
            impls.insert(2, Runnerd(args.runnerd_before, groups=args.scale_groups,
                                    label=f"runnerd before ({args.scale_groups} groups)"))
        impls = [i for i in impls if i.name not in skip and i.name.split()[0] not in skip]
        results = {i.name: {} for i in impls}
        start_stop_idle(impls, events, args.work, args.scale, args.runs, 0, results, "scale")
        report_scale(results, args.scale)
        everything["scale"] = results
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
