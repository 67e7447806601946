# gochan-gdb.py: gdb commands for gochan's goroutines, as Go's
# runtime-gdb.py gives them for Go programs.
#
#   info goroutines      every goroutine: id, state, wait reason, and what it
#                        waits on when the dump's recording is on
#   goroutine N bt       a backtrace of goroutine N (any gdb command works in
#                        place of bt: `goroutine 7 info frame`)
#
# Installed with libgochan where gdb auto-loads it for the library
# (share/gdb/auto-load/<libdir>/libgochan.so.<version>-gdb.py) and as
# share/gochan/gochan-gdb.py, for `source` by hand (a static link). It reads
# gochan's structures through the library's debug information: build gochan
# with -g (CMake's default RelWithDebInfo, or Debug).
#
# A parked or runnable goroutine's registers are on top of its stack, where
# its last switch saved them (sched/switch_x86_64.S, switch_aarch64.S).
# `goroutine N bt` loads them into the selected thread's innermost frame,
# runs the command, and puts the thread's own registers back, whatever
# happens: the program's registers are never left changed. A running
# goroutine's backtrace is its thread's.

import struct

import gdb

_REASONS = {
    "SCHED_WAIT_ZERO": "",
    "SCHED_WAIT_CHAN_SEND": "chan send",
    "SCHED_WAIT_CHAN_RECEIVE": "chan receive",
    "SCHED_WAIT_CHAN_SEND_NIL": "chan send (nil chan)",
    "SCHED_WAIT_CHAN_RECEIVE_NIL": "chan receive (nil chan)",
    "SCHED_WAIT_SELECT": "select",
    "SCHED_WAIT_SELECT_NO_CASES": "select (no cases)",
    "SCHED_WAIT_SLEEP": "sleep",
    "SCHED_WAIT_SYNC_MUTEX_LOCK": "sync.Mutex.Lock",
    "SCHED_WAIT_SYNC_RWMUTEX_RLOCK": "sync.RWMutex.RLock",
    "SCHED_WAIT_SYNC_RWMUTEX_LOCK": "sync.RWMutex.Lock",
    "SCHED_WAIT_SYNC_COND_WAIT": "sync.Cond.Wait",
    "SCHED_WAIT_SYNC_WAITGROUP_WAIT": "sync.WaitGroup.Wait",
    "SCHED_WAIT_SEMACQUIRE": "semacquire",
    "SCHED_WAIT_IO": "IO wait",
}

# sched/proc.h's SCHED__G* values.
_IDLE, _RUNNABLE, _RUNNING, _WAITING, _DEAD = range(5)
_STATES = {_IDLE: "idle", _RUNNABLE: "runnable", _RUNNING: "running",
           _WAITING: "waiting", _DEAD: "dead"}


def _allgs():
    """Every g ever allocated, newest first (allgs only grows)."""
    gp = gdb.parse_and_eval("sched__state")["allgs"]
    seen = 0
    while int(gp) != 0 and seen < 10000000:
        yield gp
        gp = gp["alllink"]
        seen += 1


def _live_gs():
    gs = [gp for gp in _allgs() if int(gp["status"]) not in (_IDLE, _DEAD)]
    gs.reverse()  # oldest first, as Go lists them
    return gs


def _find(goid):
    for gp in _allgs():
        if int(gp["goid"]) == goid and int(gp["status"]) not in (_IDLE, _DEAD):
            return gp
    return None


def _reason(gp):
    name = str(gp["wait_reason"])
    return _REASONS.get(name, name)


def _records():
    """The dump's records (chan/debug.c), by goroutine id: only those made
    while recording is on (GOCHAN_DEBUG=1, chan_debug_enable)."""
    out = {}
    try:
        b = gdb.parse_and_eval("'debug.c'::registry")
    except gdb.error:
        return out
    n = 0
    while int(b) != 0 and n < 1000000:
        goid = int(b["goid"])
        if goid:
            out[goid] = b
        b = b["next"]
        n += 1
    return out


def _waits_on(rec):
    if rec is None:
        return ""
    reason = str(rec["reason"])
    if reason == "SCHED_WAIT_SELECT":
        return "select of %d cases" % int(rec["ncases"])
    if reason == "SCHED_WAIT_IO":
        return "fd %d" % int(rec["fd"])
    if int(rec["sync_obj"]) != 0:
        return "%#x" % int(rec["sync_obj"])
    if int(rec["c"]) != 0:
        return "chan %#x" % int(rec["c"])
    return "nil chan" if "NIL" in reason else ""


class InfoGoroutines(gdb.Command):
    """info goroutines: gochan's goroutines (id, state, wait reason, what
    it waits on when the dump records). '*' marks the running ones."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK,
                         gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        try:
            gs = _live_gs()
        except gdb.error as e:
            print("gochan: cannot read the goroutines (%s); is libgochan "
                  "loaded and built with -g?" % e)
            return
        recs = _records()
        print("  %4s  %-9s %-22s %s" % ("Id", "State", "Wait reason",
                                        "Waits on"))
        for gp in gs:
            try:
                goid = int(gp["goid"])
                status = int(gp["status"])
                mark = "*" if status == _RUNNING else " "
                reason = _reason(gp) if status == _WAITING else ""
                where = _waits_on(recs.get(goid))
                if status == _RUNNING and int(gp["m"]) != 0:
                    where = "on thread %d" % int(gp["m"]["tid"])
                print("%s %4d  %-9s %-22s %s" % (
                    mark, goid, _STATES.get(status, str(status)), reason,
                    where))
            except (gdb.error, gdb.MemoryError) as e:
                print("  ????  unreadable g at %#x: %s" % (int(gp), e))


def _thread_of(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


def _saved_registers(gp):
    """The registers gp's last switch saved, as gdb names them, for its
    innermost frame (the caller of sched__ctx_switch)."""
    sp = int(gp["fiber"]["ctx"])
    if sp == 0:
        raise gdb.GdbError("it has not run yet; it will start in %s"
                           % gp["fn"])
    lo = int(gp["stack"]["lo"])
    hi = lo + int(gp["stack"]["size"])
    if not lo <= sp < hi:
        raise gdb.GdbError("its saved stack pointer %#x is outside its "
                           "stack [%#x, %#x)" % (sp, lo, hi))
    arch = gdb.selected_frame().architecture().name()
    mem = gdb.selected_inferior().read_memory
    if "x86-64" in arch:
        w = struct.unpack("<8Q", bytes(mem(sp, 64)))
        return [("rsp", sp + 64), ("rip", w[7]), ("rbp", w[6]),
                ("rbx", w[5]), ("r12", w[4]), ("r13", w[3]), ("r14", w[2]),
                ("r15", w[1])]
    if "aarch64" in arch:
        w = struct.unpack("<12Q", bytes(mem(sp, 96)))
        regs = [("sp", sp + 176), ("pc", w[11])]
        regs += [("x%d" % (19 + i), w[i]) for i in range(12)]
        return regs
    raise gdb.GdbError("goroutine backtraces need x86-64 or aarch64, not %s"
                       % arch)


class GoroutineCmd(gdb.Command):
    """goroutine N CMD: runs the gdb command CMD (bt, info frame...) on
    goroutine N's stack. A parked or runnable goroutine's saved registers are
    loaded into the selected thread for the command and then restored; a
    running goroutine's command runs on its thread."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2 or not parts[0].isdigit():
            raise gdb.GdbError("usage: goroutine N bt")
        goid, cmd = int(parts[0]), parts[1]
        try:
            gp = _find(goid)
        except gdb.error as e:
            raise gdb.GdbError("cannot read the goroutines: %s" % e)
        if gp is None:
            raise gdb.GdbError("no goroutine %d" % goid)
        status = int(gp["status"])
        if status == _RUNNING or int(gp["schedgen"]) & 1:
            self._on_thread(gp, goid, cmd)
            return
        try:
            regs = _saved_registers(gp)
        except (gdb.error, gdb.MemoryError) as e:
            print("goroutine %d: stack unavailable (%s)" % (goid, e))
            return
        self._with_registers(regs, cmd)

    @staticmethod
    def _on_thread(gp, goid, cmd):
        m = gp["m"]
        th = _thread_of(int(m["tid"])) if int(m) != 0 else None
        if th is None:
            print("goroutine %d is running (mid switch?); its stack is not "
                  "saved and its thread is unknown" % goid)
            return
        print("goroutine %d is running on thread %d:" % (goid, th.num))
        old = gdb.selected_thread()
        th.switch()
        try:
            gdb.execute(cmd)
        finally:
            old.switch()

    @staticmethod
    def _with_registers(regs, cmd):
        selected = gdb.selected_frame()
        gdb.newest_frame().select()  # registers are set in frame 0
        saved = []
        try:
            for name, _ in regs:
                saved.append((name, int(gdb.parse_and_eval("$" + name))))
            for name, value in regs:
                gdb.execute("set $%s = %d" % (name, value))
            gdb.execute(cmd)
        finally:
            for name, value in saved:
                gdb.execute("set $%s = %d" % (name, value))
            try:
                gdb.newest_frame().select()
                if selected.is_valid():
                    selected.select()
            except gdb.error:
                pass


InfoGoroutines()
GoroutineCmd()
