"""Synthetic gochan execution traces, written in the trace format of gochan's
tracer (the Chrome Trace Event Format, as chan_trace_start / GOCHAN_TRACE
write it): for test_timeline.py, and for the README's example picture until
a real trace replaces it.

    python3 docs/site/synthtrace.py channel-synchronization OUT.json

Times are microseconds from the start of the trace, as in real traces.
"""
import json
import sys

MAIN_TID = 4242


class Builder:
    """Collects trace events; each method appends what gochan's tracer
    would write for that happening."""

    def __init__(self):
        self.events = [{"ph": "M", "name": "process_name", "pid": 1,
                        "args": {"name": "goroutines"}},
                       {"ph": "M", "name": "process_name", "pid": 2,
                        "args": {"name": "threads"}}]
        self.next_flow = 1
        self.other = {"producer": "gochan", "version": 1}

    @staticmethod
    def track(who):
        """who is a goroutine id (int) or "thread TID"."""
        if isinstance(who, int) or str(who).isdigit():
            return 1, int(who)
        return 2, int(str(who).split()[1])

    def thread(self, tid, main=False):
        self.events.append({"ph": "M", "name": "thread_name", "pid": 2,
                            "tid": tid, "args": {
                                "name": "thread %d%s" % (
                                    tid, " (main)" if main else "")}})

    def instant(self, who, ts, name, **args):
        pid, tid = self.track(who)
        self.events.append({"ph": "i", "s": "t", "name": name, "cat": "sched",
                            "pid": pid, "tid": tid, "ts": round(ts, 3),
                            "args": args})

    def create(self, g, ts, by, fn):
        self.events.append({"ph": "M", "name": "thread_name", "pid": 1,
                            "tid": g, "args": {"name": "goroutine %d" % g}})
        self.instant(g, ts, "create", by=by, fn=fn)

    def run(self, g, ts, dur, p=0, m=1):
        self.events.append({"ph": "X", "name": "running", "cat": "sched",
                            "pid": 1, "tid": g, "ts": round(ts, 3),
                            "dur": round(dur, 3), "args": {"p": p, "m": m}})

    def block(self, g, ts, reason, obj):
        self.instant(g, ts, "block", reason=reason, object=obj)

    def unblock(self, wakee, ts, waker, waker_ts=None):
        """wakee's unblock instant; a flow arrow from the waker when the
        waker is a goroutine or a thread."""
        if self.track(wakee)[0] == 1:  # a thread's wake ends its slice
            self.instant(wakee, ts, "unblock", by=waker)
        if waker in ("timer", "netpoll"):
            return
        self.flow(waker, wakee, ts if waker_ts is None else waker_ts, ts)

    def flow(self, waker, wakee, ts_s, ts_f):
        fid = self.next_flow
        self.next_flow += 1
        pa, ta = self.track(waker)
        pb, tb = self.track(wakee)
        self.events.append({"ph": "s", "name": "wake", "cat": "wake",
                            "id": fid, "pid": pa, "tid": ta,
                            "ts": round(ts_s, 3)})
        self.events.append({"ph": "f", "bp": "e", "name": "wake",
                            "cat": "wake", "id": fid, "pid": pb, "tid": tb,
                            "ts": round(ts_f, 3)})

    def thread_blocked(self, tid, ts, dur, reason, obj):
        self.events.append({"ph": "X", "name": "blocked", "cat": "block",
                            "pid": 2, "tid": tid, "ts": round(ts, 3),
                            "dur": round(dur, 3),
                            "args": {"reason": reason, "object": obj}})

    def end(self, g, ts):
        self.instant(g, ts, "end")

    def trace(self):
        return {"displayTimeUnit": "ns", "otherData": self.other,
                "traceEvents": self.events}

    def text(self):
        return json.dumps(self.trace(), indent=None,
                          separators=(",", ":")).replace(
                              '},{', '},\n{')


def channel_synchronization():
    """channel-synchronization.c as gochan runs it: main (a plain thread)
    starts the worker and blocks receiving on done; the worker prints,
    sleeps 100 ms, prints, sends on done (waking main) and returns."""
    b = Builder()
    main = "thread %d" % MAIN_TID
    b.thread(MAIN_TID, main=True)
    done = "chan 0x55d0c0a0e2a0 (bool, cap 1)"
    b.create(1, 18.250, main, "work")
    b.thread_blocked(MAIN_TID, 21.700, 100190.0, "chan receive", done)
    b.run(1, 64.125, 41.5, p=0, m=2)
    b.block(1, 104.9, "sleep", "timer 0x55d0c0a0e3c0")
    b.instant(1, 100131.4, "timer fire", object="timer 0x55d0c0a0e3c0")
    b.unblock(1, 100131.4, "timer")
    b.run(1, 100158.0, 56.25, p=1, m=3)
    b.unblock(main, 100211.7, 1, waker_ts=100196.3)
    b.end(1, 100213.9)
    return b


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "channel-synchronization":
        sys.exit("usage: synthtrace.py channel-synchronization OUT.json")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(channel_synchronization().text() + "\n")


if __name__ == "__main__":
    main()
