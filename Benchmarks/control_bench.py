#!/usr/bin/python3
"""The control socket's cost, side by side in one run (Benchmarks/run-control-bench.sh runs it).

1. Round trip of `runnerd status --json` beside `supervisorctl status`, with the same N
   children (`sleep 100000`) under each, taking turns call by call: the command as an operator
   runs it (process start included), and the request alone from a Python client already running
   (varlink over runnerd's socket, a connection per call; XML-RPC `supervisor.getAllProcessInfo`
   over supervisord's).
2. Idle memory and wake-ups: runnerd with its control socket beside the build before it (no
   socket), 200 children each, idling together.

Prints Markdown tables. Needs Debian's python3 (for supervisor's own modules), root, supervisor.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport


def runnerd_config(path, services, per_group=10):
    with open(path, "w") as f:
        f.write("groups:\n")
        for g in range(services // per_group):
            f.write(f"  g{g}:\n    services:\n")
            for s in range(per_group):
                f.write(f"      s{s}: {{ command: [sleep, \"100000\"] }}\n")


def supervisor_config(path, services, work):
    with open(path, "w") as f:
        f.write(f"""[supervisord]
logfile={work}/supervisord.log
pidfile={work}/supervisord.pid
childlogdir={work}
minfds={services * 4 + 1024}
[unix_http_server]
file={work}/supervisor.sock
[supervisorctl]
serverurl=unix://{work}/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
""")
        for i in range(services):
            f.write(f"[program:p{i}]\ncommand=sleep 100000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n")


def wait_until(what, check, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


def varlink_call(sock, method, parameters=None):
    message = {"method": method}
    if parameters:
        message["parameters"] = parameters
    sock.sendall(json.dumps(message).encode() + b"\0")
    data = b""
    while not data.endswith(b"\0"):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("runnerd closed the connection")
        data += chunk
    return json.loads(data[:-1])


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9) - 1]


def round_trip(args, services, work):
    cfg = os.path.join(work, f"runnerd-{services}.yaml")
    runnerd_config(cfg, services)
    control = os.path.join(work, f"control-{services}.sock")
    runnerd = subprocess.Popen([args.runnerd, "run", "--config", cfg, "--control-socket", control],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sup_cfg = os.path.join(work, f"supervisord-{services}.conf")
    supervisor_config(sup_cfg, services, work)
    supervisord = subprocess.Popen(["supervisord", "-n", "-c", sup_cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def runnerd_ready():
            out = subprocess.run([args.runnerd, "status", "--json", "--control-socket", control], capture_output=True)
            if out.returncode != 0:
                return False
            report = json.loads(out.stdout)
            return report["state"] == "running" and sum(g["ready"] for g in report["groups"]) == services
        wait_until("runnerd's services", runnerd_ready)
        def all_process_info():
            # A connection per call, as for varlink below (and a failed call leaves none half-used).
            proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{work}/supervisor.sock"))
            return proxy.supervisor.getAllProcessInfo()

        def supervisor_ready():
            try:
                return sum(p["statename"] == "RUNNING" for p in all_process_info()) == services
            except (OSError, xmlrpc.client.Fault, http.client.HTTPException):
                return False
        wait_until("supervisord's programs", supervisor_ready)
        time.sleep(1)

        def varlink_status():
            # A connection per call: the daemon drops a client that stays silent for 10 s, and
            # supervisorctl's turn at 2,000 programs can take that long.
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(control)
            reply = varlink_call(client, "io.runnerd.Manager.Status")
            client.close()
            return reply
        status_bytes = len(json.dumps(varlink_status()))
        samples = {"runnerd status --json": [], "supervisorctl status": [], "varlink Status": [], "XML-RPC getAllProcessInfo": []}
        for _ in range(args.rounds):
            samples["runnerd status --json"].append(timed(lambda: subprocess.run(
                [args.runnerd, "status", "--json", "--control-socket", control], stdout=subprocess.DEVNULL, check=True)))
            # supervisorctl exits 3 when a program is not running; all are here.
            samples["supervisorctl status"].append(timed(lambda: subprocess.run(
                ["supervisorctl", "-c", sup_cfg, "status"], stdout=subprocess.DEVNULL, check=True)))
            samples["varlink Status"].append(timed(varlink_status))
            samples["XML-RPC getAllProcessInfo"].append(timed(all_process_info))
        return samples, status_bytes
    finally:
        for process in (runnerd, supervisord):
            process.send_signal(signal.SIGTERM)
        for process in (runnerd, supervisord):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def memory(pid):
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                values[parts[0][:-1]] = int(parts[1])
    return values


def context_switches(pid):
    """Each thread's context switches so far, by thread id."""
    counts = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                counts[task] = sum(int(line.split()[1]) for line in f
                                   if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        except FileNotFoundError:
            pass
    return counts


def wakeups(before, after):
    """Switches of the threads alive at both samples (an idle pool thread that retires
    meanwhile takes its count with it), and one for each thread that started in between."""
    return sum(after[t] - before[t] for t in after if t in before) + sum(after[t] for t in after if t not in before)


def idle(args, work):
    cfg = os.path.join(work, "runnerd-idle.yaml")
    runnerd_config(cfg, 200)
    rows = []
    for run in range(args.idle_runs):
        daemons = {
            "with the control socket": subprocess.Popen(
                [args.runnerd, "run", "--config", cfg, "--control-socket", os.path.join(work, f"idle-{run}.sock")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "before (no socket)": subprocess.Popen([args.runnerd_before, "run", "--config", cfg],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        }
        try:
            time.sleep(5)
            before = {name: context_switches(p.pid) for name, p in daemons.items()}
            time.sleep(args.idle)
            after = {name: context_switches(p.pid) for name, p in daemons.items()}
            for name, p in daemons.items():
                m = memory(p.pid)
                rows.append((run, name, m["Rss"], m["Pss"], wakeups(before[name], after[name]) / args.idle))
        finally:
            for p in daemons.values():
                p.send_signal(signal.SIGTERM)
            for p in daemons.values():
                p.wait(timeout=60)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runnerd", required=True)
    parser.add_argument("--runnerd-before", required=True)
    parser.add_argument("--services", default="200,2000")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--idle", type=int, default=10)
    parser.add_argument("--idle-runs", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="runnerd-control-bench-")
    print(f"rounds: {args.rounds} per figure, taking turns call by call; milliseconds, median (p90)\n")
    print("| services | status reply | runnerd status --json | supervisorctl status | ratio | varlink Status (a Python client) | XML-RPC getAllProcessInfo (a Python client) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for services in [int(n) for n in args.services.split(",") if n]:
        samples, size = round_trip(args, services, work)
        m = {name: summary(values) for name, values in samples.items()}
        cell = lambda name: f"{m[name][0]:.2f} ({m[name][1]:.2f})"
        print(f"| {services} | {size / 1024:.0f} KiB | {cell('runnerd status --json')} | {cell('supervisorctl status')} | "
              f"{m['runnerd status --json'][0] / m['supervisorctl status'][0]:.2f}x | {cell('varlink Status')} | "
              f"{cell('XML-RPC getAllProcessInfo')} | {m['varlink Status'][0] / m['XML-RPC getAllProcessInfo'][0]:.2f}x |")
    print(f"\nidle, 200 children, {args.idle} s each run\n")
    print("| run | runnerd | RSS KiB | PSS KiB | wake-ups/s |")
    print("|---|---|---|---|---|")
    rows = idle(args, work)
    for run, name, rss, pss, wakeups in rows:
        print(f"| {run + 1} | {name} | {rss} | {pss} | {wakeups:.2f} |")
    for name in ("with the control socket", "before (no socket)"):
        mine = [r for r in rows if r[1] == name]
        print(f"\nmedian {name}: RSS {statistics.median(r[2] for r in mine):.0f} KiB, PSS {statistics.median(r[3] for r in mine):.0f} KiB")


if __name__ == "__main__":
    main()
