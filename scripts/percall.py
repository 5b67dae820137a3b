#!/usr/bin/env python3
"""Count what one call costs a wsbench server: its system calls (perf
tracepoints) or its user-space instructions (valgrind's callgrind).

Counts, unlike CPU time, do not change when other processes load the
machine, so they compare two builds on a busy one. The server and its load
client are wsbench children (runtime_test/cmd/wsbench), started by hand;
the load runs for DURATION with no warm-up, and the counts of the server
process over that time are divided by the calls the client made.

usage (from runtime_test/, after `go build -o /tmp/wsbench ./cmd/wsbench`):

    ../scripts/percall.py /tmp/wsbench duplex-rpc 100 1 3s syscalls
    ../scripts/percall.py /tmp/wsbench gorilla-echo 1 1 3s callgrind

arguments: BIN KIND CONNS WINDOW DURATION [syscalls|callgrind]. Needs
`perf` (Debian linux-perf; tracepoints work where hardware counters do
not, as in most VMs) or `valgrind`. Under callgrind the server gets
GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off (valgrind 3.19 does not know
RDTSCP), runs on one thread at a time and is about 10x slower: compare
instruction counts with each other, not its rates. Prints one JSON line:
per call, each system call counted, context switches and task-clock (ms),
or instr/call.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def main():
    binp, kind, conns, window, dur = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    mode = sys.argv[6] if len(sys.argv) > 6 else "syscalls"
    proto = "rpc" if kind == "duplex-rpc" else "raw"
    tmp = tempfile.mkdtemp(prefix="percall.")
    env = dict(os.environ, WSBENCH_ROLE="server")
    cmd = [binp, "-kind", kind]
    if mode == "callgrind":
        env["GODEBUG"] = "asyncpreemptoff=1,cpu.rdtscp=off"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=" + os.path.join(tmp, "cg")] + cmd
    srv = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        addr, pid = json.loads(srv.stdout.readline())["addr"], srv.pid
        cli = subprocess.Popen([binp, "-task", "load", "-addr", addr, "-proto", proto,
                                "-conns", conns, "-window", window, "-warmup", "0s", "-duration", dur],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               env=dict(os.environ, WSBENCH_ROLE="client"), text=True)
        ready = json.loads(cli.stdout.readline())
        if not ready.get("ready"):
            sys.exit("client: %s" % ready)
        perf = None
        if mode == "syscalls":
            events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + s for s in
                      ("read", "write", "writev", "epoll_wait", "epoll_pwait", "futex", "nanosleep", "sched_yield")] + \
                     ["context-switches", "task-clock"]
            perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", str(pid)],
                                    stderr=subprocess.PIPE, text=True)
            time.sleep(0.3)  # perf attaches
        else:
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cli.stdin.write('{"op":"start"}\n')
        cli.stdin.flush()
        res = json.loads(cli.stdout.readline())
        if "ops" not in res:
            sys.exit("client: %s" % res)
        ops = res["ops"]
        out = {"kind": kind, "conns": int(conns), "window": int(window), "calls": ops}
        if perf:
            perf.send_signal(2)
            _, err = perf.communicate()
            for line in err.splitlines():
                f = line.split(",")
                if len(f) > 3 and f[0][:1].isdigit():
                    name = f[2].split(":")[-1].replace("sys_enter_", "").replace("sys_enter", "all syscalls")
                    out[name] = round(float(f[0]) / ops, 3)
        else:
            subprocess.run(["callgrind_control", "-d", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            subprocess.run(["callgrind_control", "-i", "off", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cli.stdin.close()
        cli.wait()
    finally:
        srv.stdin.close()
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    if mode == "callgrind":
        # The explicit dump (-d) holds the load; the one at exit, what
        # came after (its counter may have wrapped): only the first counts.
        total = 0
        for name in os.listdir(tmp):
            text = open(os.path.join(tmp, name)).read()
            if re.search(r"^part: 1$", text, re.M):
                total += int(re.search(r"^summary: (\d+)", text, re.M).group(1))
            os.remove(os.path.join(tmp, name))
        out["instr/call"] = round(total / ops)
    os.rmdir(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
