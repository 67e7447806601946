#!/usr/bin/env python3
"""Runs gdb -batch on tests/gdb/gdb_target with gdb/gochan-gdb.py and checks
what `info goroutines` and `goroutine N bt` print.

usage: run_gdb.py GDB SCRIPT PROGRAM park|churn
"""
import re
import subprocess
import sys


def gdb(gdb_path, script, program, mode, commands):
    args = [gdb_path, "-nx", "-batch", "-ex", "set confirm off",
            "-ex", "set breakpoint pending on", "-ex", "set pagination off",
            "-ex", "source " + script]
    for c in commands:
        args += ["-ex", c]
    args += ["--args", program, mode]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=240)
    if re.search(r"ptrace: Operation not permitted|Could not attach|"
                 r"Python scripting is not supported", p.stdout):
        print(p.stdout)
        sys.exit(77)  # this gdb or machine cannot run the test: skip
    return p.stdout


def expect(out, pattern, what):
    if not re.search(pattern, out, re.M):
        sys.exit("FAIL: %s (no /%s/)\n--- gdb output ---\n%s" %
                 (what, pattern, out))


def main():
    gdb_path, script, program, mode = sys.argv[1:5]
    if mode == "park":
        cmds = ["break gdb_stop_here", "run", "info goroutines"]
        cmds += ["goroutine %d bt" % i for i in range(1, 6)]
        cmds += ["info registers rip", "goroutine 1 bt", "info registers rip",
                 "goroutine 99 bt", "kill"]
        out = gdb(gdb_path, script, program, mode, cmds)
        expect(out, r"^\s+1\s+waiting\s+chan receive\s+chan 0x", "g1 listed")
        expect(out, r"^\s+2\s+waiting\s+chan receive", "g2 listed")
        expect(out, r"^\s+3\s+waiting\s+chan send\s+chan 0x", "g3 listed")
        expect(out, r"^\s+4\s+waiting\s+sync\.Mutex\.Lock\s+0x", "g4 listed")
        expect(out, r"^\s+5\s+waiting\s+select\s+select of 2 cases",
               "g5 listed")
        for fn in ("gdb_parked_receiver", "gdb_parked_sender",
                   "gdb_parked_locker", "gdb_parked_selector",
                   "chan__park_as", "goroutine_main"):
            expect(out, r"#\d+\s+.*\b%s\b" % fn, "%s in a backtrace" % fn)
        # The thread's registers are the same before and after.
        rips = re.findall(r"^rip\s+(0x[0-9a-f]+)", out, re.M)
        if len(rips) != 2 or rips[0] != rips[1]:
            sys.exit("FAIL: registers changed: %s\n%s" % (rips, out))
        expect(out, r"no goroutine 99", "an unknown id is an error")
        # still stopped in gdb_stop_here after the backtraces
    else:
        # Stops at switches: goroutines are mid switch (one running with a
        # stale saved context, one on its way in).
        cmds = ["break sched__ctx_switch", "run"]
        for _ in range(4):
            cmds += ["info goroutines", "goroutine 1 bt", "goroutine 2 bt",
                     "continue"]
        cmds += ["kill"]
        out = gdb(gdb_path, script, program, mode, cmds)
        if out.count("Wait reason") < 4:
            sys.exit("FAIL: info goroutines did not run each time\n" + out)
        expect(out, r"^\*?\s+1\s+(running|runnable|waiting)", "g1 listed")
    if "Python Exception" in out or "Traceback (most recent" in out:
        sys.exit("FAIL: the extension raised\n" + out)
    print(out)
    print("PASS")


if __name__ == "__main__":
    main()
