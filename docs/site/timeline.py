"""Goroutine timelines for the gochan by Example pages: reads an execution
trace written by gochan's tracer (chan_trace_start / GOCHAN_TRACE in
<gochan/debug.h>: Chrome Trace Event Format JSON, goroutines as pid 1 with
tid = goroutine id, plain threads as pid 2, running/blocked slices, create /
block / unblock / end instants, "wake" flows from waker to wakee) and draws
it as one inline SVG: one lane per goroutine and per plain thread, running /
runnable / blocked spans in distinct styles (colour, height and pattern, so
that it reads in greyscale too), arrows for wake-ups from the
waker's lane to the wakee's, a time axis and a legend. Every span, arrow and
marker carries a <title>, which browsers show on hover.

Python 3's standard library only. Used by gen.py:

    trace = timeline.load(path)          # raises TraceError when unreadable
    svg = timeline.render(trace, title)  # None when the trace has no events

Long traces stay small: spans narrower than a pixel are merged (the group is
drawn in its dominant state, its title says what it holds), wake-up arrows
and markers that land on the same pixels are drawn once, at most max_lanes
lanes are drawn (a "+N more goroutines" note says how many are not), at most
MAX_ARROWS arrows. Damaged traces are drawn as far as they go: a file cut
off mid-write (a full disk, a closed pipe) is read up to its last whole
event, and events the tracer dropped ("dropped" in otherData) or that lost
their partner (an unblock without its block, half a flow) are counted in a
note under the picture.
"""
import bisect
import html
import json
import math

# Geometry, in SVG user units (pixels at 100 %).
WIDTH = 960
LABEL_W = 170  # the lane names
RIGHT = 16
LEGEND_H = 30
LANE_H = 24
AXIS_H = 34
NOTE_H = 16
MIN_PX = 2.0  # spans narrower than this are merged with their neighbours
MAX_LANES = 24
MAX_ARROWS = 300
ARROW_BIN = 4  # arrows whose ends fall in the same 4 pixels are drawn once
DEFAULT_TITLE = "goroutine timeline"
GAP_PX = 54  # a shortened quiet stretch
MAX_GAPS = 12
TICK_PX = 72  # the least distance between two tick labels

# The three states: colour, height inside a lane, and fill (pattern), chosen
# so that they differ in greyscale too: running is tall and solid dark,
# blocked medium and hatched, runnable thin, light and dotted.
STYLE = {
    "running": {"h": 16, "fill": "#007d9c", "stroke": "none"},
    "blocked": {"h": 10, "fill": "url(#{p}-hatch)", "stroke": "#c0392b"},
    "runnable": {"h": 6, "fill": "url(#{p}-dots)", "stroke": "#b7791f"},
}
ORDER = {"running": 0, "blocked": 1, "runnable": 2}


class TraceError(Exception):
    """The file is not a trace that can be read at all."""


class Lane:
    def __init__(self, pid, tid):
        self.pid, self.tid = pid, tid
        self.name = None
        self.running = []  # (t0, t1, args)
        self.blocked = []  # (t0, t1, args): plain threads' blocked slices
        self.instants = []  # (ts, name, args)
        self.spans = []  # derived: dicts state, t0, t1, info
        self.marks = []  # derived: (ts, kind, title)
        self.blocked_index = None  # for _blocked_at
        self.first = None
        self.last = None

    def touch(self, t0, t1=None):
        t1 = t0 if t1 is None else t1
        self.first = t0 if self.first is None else min(self.first, t0)
        self.last = t1 if self.last is None else max(self.last, t1)

    @property
    def is_thread(self):
        return self.pid == 2

    @property
    def is_main(self):
        return self.is_thread and "(main)" in (self.name or "")

    def label(self):
        """The short name drawn left of the lane."""
        if self.is_thread:
            return "main thread" if self.is_main else "thread %s" % self.tid
        fn = next((a.get("fn") for _, n, a in self.instants
                   if n == "create" and a.get("fn")), None)
        name = "goroutine %s" % self.tid
        if fn and not str(fn).startswith("0x"):
            name += " " + str(fn)
        return name

    def full_name(self):
        if self.name:
            return self.name
        return ("thread %s" if self.is_thread else "goroutine %s") % self.tid

    def sort_key(self):
        # Plain threads first (main first of all), then goroutines by id.
        tid = self.tid if isinstance(self.tid, (int, float)) else 0
        return (0 if self.is_thread else 1, 0 if self.is_main else 1, tid,
                str(self.tid))


class Trace:
    def __init__(self):
        self.lanes = {}  # (pid, tid) -> Lane
        self.flows = {}  # id -> {"s": (key, ts), "f": (key, ts)}
        self.t_lo = None
        self.t_hi = None
        self.times = []  # every event time: where the picture changes
        self.dropped = 0  # events the tracer said it dropped
        self.broken = 0  # events without their partner
        self.truncated = False  # the file ends mid-event
        self.events = 0

    def lane(self, pid, tid):
        key = (pid, tid)
        if key not in self.lanes:
            self.lanes[key] = Lane(pid, tid)
        return self.lanes[key]

    def see(self, t0, t1=None):
        t1 = t0 if t1 is None else t1
        self.times.append(t0)
        if t1 != t0:
            self.times.append(t1)
        self.t_lo = t0 if self.t_lo is None else min(self.t_lo, t0)
        self.t_hi = t1 if self.t_hi is None else max(self.t_hi, t1)


# ---------------------------------------------------------------- reading

def _salvage(text):
    """The events of a trace file cut off mid-write: every whole event of
    the traceEvents array up to where the text breaks."""
    at = text.find('"traceEvents"')
    start = text.find("[", at if at >= 0 else 0)
    if start < 0:
        raise TraceError("not a trace: no traceEvents array")
    dec = json.JSONDecoder()
    events, i, n = [], start + 1, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] == "]":
            break
        try:
            ev, i = dec.raw_decode(text, i)
        except ValueError:
            break
        events.append(ev)
    head = {}
    od = text.find('"otherData"')
    if 0 <= od < at or (od >= 0 and at < 0):
        try:
            head, _ = dec.raw_decode(text, text.index("{", od))
        except ValueError:
            head = {}
    return {"traceEvents": events, "otherData": head}


def load(path):
    """Reads and parses the trace file at path (see parse)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise TraceError("cannot read %s: %s" % (path, e.strerror))
    return loads(text)


def loads(text):
    truncated = False
    try:
        obj = json.loads(text)
    except ValueError:
        if not text.strip():
            raise TraceError("the trace file is empty")
        obj = _salvage(text)
        truncated = True
    trace = parse(obj)
    trace.truncated = trace.truncated or truncated
    return trace


def _num(v, default=0.0):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _tid(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    try:
        return int(str(v))
    except ValueError:
        return str(v)


def parse(obj):
    """A Trace from a decoded JSON trace: the object form with traceEvents
    (and otherData), or the bare array form."""
    if isinstance(obj, dict):
        events = obj.get("traceEvents")
        other = obj.get("otherData") or {}
    elif isinstance(obj, list):
        events, other = obj, {}
    else:
        raise TraceError("not a trace: neither an object nor an array")
    if not isinstance(events, list):
        raise TraceError("not a trace: traceEvents is not an array")
    tr = Trace()
    if isinstance(other, dict):
        tr.dropped = int(_num(other.get("dropped"), 0))
        tr.truncated = bool(other.get("truncated", False))
    for ev in events:
        if not isinstance(ev, dict):
            continue
        ph = ev.get("ph")
        name = ev.get("name", "")
        args = ev.get("args") if isinstance(ev.get("args"), dict) else {}
        pid, tid = _tid(ev.get("pid", 1)), _tid(ev.get("tid", 0))
        if ph == "M":
            if name == "thread_name":
                tr.lane(pid, tid).name = str(args.get("name", ""))
            continue
        tr.events += 1
        ts = _num(ev.get("ts"))
        if ph == "X":
            dur = max(0.0, _num(ev.get("dur")))
            lane = tr.lane(pid, tid)
            lane.touch(ts, ts + dur)
            tr.see(ts, ts + dur)
            if name == "running":
                lane.running.append((ts, ts + dur, args))
            elif name == "blocked":
                lane.blocked.append((ts, ts + dur, args))
        elif ph in ("i", "I", "n"):
            if name in ("dropped", "lost"):
                tr.dropped += int(_num(args.get("count"), 1))
                continue
            lane = tr.lane(pid, tid)
            lane.touch(ts)
            tr.see(ts)
            lane.instants.append((ts, name, args))
        elif ph in ("s", "f", "t"):
            fid = ev.get("id", ev.get("bind_id"))
            if fid is None:
                tr.broken += 1
                continue
            lane = tr.lane(pid, tid)
            lane.touch(ts)
            tr.see(ts)
            end = "s" if ph == "s" else "f"
            tr.flows.setdefault(str(fid), {})[end] = ((pid, tid), ts)
    for lane in tr.lanes.values():
        _derive(tr, lane)
    for f in tr.flows.values():
        if "s" not in f or "f" not in f:
            tr.broken += 1
            continue
        # A plain thread has no unblock instant: its waker is the flow's.
        wakee = tr.lanes[f["f"][0]]
        if wakee.is_thread:
            sp = _blocked_at(wakee, f["f"][1])
            if sp is not None and not sp["info"].get("by"):
                sp["info"]["by"] = tr.lanes[f["s"][0]].full_name()
    return tr


def _blocked_at(lane, ts):
    """The blocked span of lane that a wake-up at ts ends: the last one that
    began at or before ts, if it ended no earlier than a moment before."""
    if lane.blocked_index is None:
        spans = [sp for sp in lane.spans if sp["state"] == "blocked"]
        lane.blocked_index = ([sp["t0"] for sp in spans], spans)
    starts, spans = lane.blocked_index
    k = bisect.bisect_right(starts, ts + 1e-6) - 1
    if k < 0:
        return None
    best = spans[k]
    if ts - best["t1"] > 1e-3 * max(1.0, abs(ts)):
        return None
    return best


# ------------------------------------------------------------ states

def _who(by):
    """The waker or creator as the trace names it, as a phrase."""
    if by is None or by == "":
        return None
    if isinstance(by, (int, float)) and not isinstance(by, bool):
        return "goroutine %d" % by
    s = str(by)
    if s.isdigit():
        return "goroutine " + s
    return {"timer": "a timer", "netpoll": "the network poller"}.get(s, s)


def _what(args):
    """'chan receive on chan 0x.. (int, cap 0)' from a block's args."""
    reason = args.get("reason") or "blocked"
    obj = args.get("object")
    if obj is None and "fd" in args:
        obj = "fd %s" % args["fd"]
        if args.get("mode"):
            obj += " (%s)" % args["mode"]
    return "%s on %s" % (reason, obj) if obj else str(reason)


def _derive(tr, lane):
    """lane.spans and lane.marks from the lane's raw events."""
    if lane.is_thread and (lane.blocked or lane.is_main):
        _derive_thread(tr, lane)
    elif lane.running or any(n in ("create", "block", "unblock")
                             for _, n, _ in lane.instants):
        _derive_goroutine(tr, lane)
    elif lane.blocked:
        _derive_thread(tr, lane)
    lane.instants.sort(key=lambda i: (i[0], i[1]))
    for ts, name, args in lane.instants:
        if name == "create":
            who = _who(args.get("by"))
            title = "%s created" % lane.full_name()
            if who:
                title += " by " + who
            if args.get("fn"):
                title += ", runs %s" % args["fn"]
            lane.marks.append((ts, "create", title))
        elif name == "end":
            lane.marks.append((ts, "end", "%s returns" % lane.full_name()))
        elif name == "chan close":
            lane.marks.append((ts, "chan close", "%s closes %s" % (
                lane.full_name(), args.get("object", "a channel"))))
        elif name == "timer fire":
            lane.marks.append((ts, "timer fire", "%s fires" % (
                args.get("object", "a timer"))))
        elif name == "io wait":
            lane.marks.append((ts, "io wait", "%s waits for %s" % (
                lane.full_name(), _what(dict(args, reason="I/O")))))
        elif name == "unblock":
            by = args.get("by")
            if str(by) in ("timer", "netpoll"):
                lane.marks.append((ts, "woken", "%s woken by %s" % (
                    lane.full_name(), _who(by))))


# Sweep order for points at the same instant: a slice that ends before
# anything starts; a goroutine is created or woken before it runs; it runs
# before it blocks (a block inside a slice that began at the same time).
_RUN_END, _CREATE, _UNBLOCK, _RUN_START, _BLOCK, _END = range(6)


def _derive_goroutine(tr, lane):
    points = []
    for t0, t1, args in lane.running:
        points.append((t0, _RUN_START, args))
        points.append((t1, _RUN_END, args))
    kinds = {"create": _CREATE, "unblock": _UNBLOCK, "block": _BLOCK,
             "end": _END}
    for ts, name, args in lane.instants:
        if name in kinds:
            points.append((ts, kinds[name], args))
    if not points:
        return
    points.sort(key=lambda p: (p[0], p[1]))
    # The state before the first event: woken first means it was blocked
    # when the trace started; otherwise nothing is drawn before it.
    if points[0][1] == _UNBLOCK:
        base = "blocked"
        info = {"what": "blocked since before the trace started"}
        start = tr.t_lo
    else:
        base, info, start = None, {}, points[0][0]
    depth, run_args = 0, {}
    raw = []
    cur = None

    def emit(ts):
        # Closes the open span at ts and opens one in the state shown now.
        nonlocal cur
        if cur is not None:
            cur["t1"] = ts
            raw.append(cur)
        state = "running" if depth > 0 else base
        cur = None
        if state in STYLE:
            cur = {"state": state, "t0": ts, "t1": ts,
                   "info": run_args if state == "running" else info}

    emit(start)
    for ts, kind, args in points:
        if kind == _RUN_START:
            if base == "blocked":
                tr.broken += 1  # ran without being woken: a lost unblock
            if base != "runnable":
                base, info = "runnable", {"why": "preempted or yielded"}
            depth += 1
            run_args = args
        elif kind == _RUN_END:
            depth = max(0, depth - 1)
            if base == "runnable":
                info = {"why": "preempted or yielded"}
        elif kind == _CREATE:
            who = _who(args.get("by"))
            base, info = "runnable", {"why": "created" + (
                " by " + who if who else "")}
        elif kind == _BLOCK:
            base, info = "blocked", {"what": _what(args)}
        elif kind == _UNBLOCK:
            who = _who(args.get("by"))
            if base == "blocked":
                info["by"] = who  # shared by every piece of the blocked span
            else:
                tr.broken += 1  # woken without a block: a lost block
            base, info = "runnable", {"why": "woken" + (
                " by " + who if who else "")}
        elif kind == _END:
            base, info, depth = "ended", {}, 0
        emit(ts)
    if cur is not None:
        cur["t1"] = tr.t_hi
        cur["open"] = True
        raw.append(cur)
    # Pieces of one span (a block inside a running slice splits the slice
    # at the block) are joined again.
    for sp in raw:
        if sp["t1"] <= sp["t0"] and sp["state"] != "running":
            continue
        last = lane.spans[-1] if lane.spans else None
        if last is not None and last["state"] == sp["state"] and \
                last["info"] is sp["info"] and last["t1"] == sp["t0"]:
            last["t1"] = sp["t1"]
            last["open"] = sp.get("open", False)
        else:
            lane.spans.append(sp)


def _derive_thread(tr, lane):
    """A plain thread: blocked inside gochan during its blocked slices,
    running (outside gochan) between them; the main thread from the start of
    the trace to its end, any other from its first event to its last."""
    lo = min(0.0, tr.t_lo) if lane.is_main else lane.first
    hi = tr.t_hi if lane.is_main else lane.last
    at = lo
    for t0, t1, args in sorted(lane.blocked, key=lambda b: b[0]):
        if t0 > at:
            lane.spans.append({"state": "running", "t0": at, "t1": t0,
                               "info": {"thread": True}})
        lane.spans.append({"state": "blocked", "t0": t0, "t1": t1,
                           "info": {"what": _what(args)}})
        at = max(at, t1)
    if hi > at:
        lane.spans.append({"state": "running", "t0": at, "t1": hi,
                           "info": {"thread": True}})


# ------------------------------------------------------------ drawing

def fmt_time(us):
    """A duration in microseconds as a short text: 850 ns, 12.5 µs, 3 ms."""
    a = abs(us)
    for scale, unit in ((1e6, "s"), (1e3, "ms"), (1.0, "\u00b5s")):
        if a >= scale:
            return "%s %s" % (_short(us / scale), unit)
    if a == 0:
        return "0"
    return "%s ns" % _short(us * 1e3)


def fmt_at(us):
    """A point in time (microseconds since the trace started), precise
    enough to tell apart events a few microseconds apart: 100.212 ms."""
    a = abs(us)
    for scale, unit in ((1e6, "s"), (1e3, "ms"), (1.0, "\u00b5s")):
        if a >= scale:
            return "%s %s" % (("%.3f" % (us / scale)).rstrip("0").rstrip("."),
                              unit)
    return "0" if a == 0 else "%s ns" % _short(us * 1e3)


def _short(v):
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return ("%.1f" % v).rstrip("0").rstrip(".")
    return ("%.2f" % v).rstrip("0").rstrip(".")


def ticks(lo, hi, want=8):
    """Tick positions (microseconds) and their labels for the axis from lo
    to hi: steps of 1, 2 or 5 times a power of ten; the labels in the unit
    of the largest value, with as many decimals as the step needs."""
    span = hi - lo
    if span <= 0:
        return [(lo, fmt_time(lo))]
    raw = span / max(1, want)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    top = max(abs(lo), abs(hi), step)
    scale, unit = 1e-3, "ns"
    for s, u in ((1e6, "s"), (1e3, "ms"), (1.0, "\u00b5s")):
        if top >= s:
            scale, unit = s, u
            break
    decimals = max(0, -int(math.floor(math.log10(step / scale) + 1e-9)))
    out = []
    k = math.ceil(lo / step - 1e-9)
    while k * step <= hi + step * 1e-9:
        t = k * step
        v = t / scale
        text = "%.*f" % (decimals, v)
        out.append((t, "0" if abs(v) < 1e-12 else "%s %s" % (text, unit)))
        k += 1
    return out


def _esc(s):
    return html.escape(str(s), quote=True)


def _f(v):
    return ("%.1f" % v).rstrip("0").rstrip(".")


def _span_title(lane, sp):
    name = lane.full_name()
    dur = fmt_time(sp["t1"] - sp["t0"])
    at = "from %s" % fmt_at(sp["t0"])
    info = sp["info"]
    if sp["state"] == "running":
        if info.get("thread"):
            return "%s runs outside gochan, %s (%s)" % (name, dur, at)
        where = []
        if "p" in info:
            where.append("P%s" % info["p"])
        if "m" in info:
            where.append("M%s" % info["m"])
        on = " on " + "/".join(where) if where else ""
        return "%s running%s, %s (%s)" % (name, on, dur, at)
    if sp["state"] == "blocked":
        text = "%s blocked: %s, %s (%s)" % (
            name, info.get("what", "blocked"), dur, at)
        if info.get("by"):
            text += "; woken by %s" % info["by"]
        elif sp.get("open"):
            text += "; still blocked when the trace ends"
        return text
    why = info.get("why")
    return "%s runnable%s, waits %s for a P (%s)" % (
        name, " (%s)" % why if why else "", dur, at)


def _merge(spans, x):
    """The rectangles to draw for a lane: spans at least MIN_PX wide as they
    are; runs of narrower ones merged into groups of about MIN_PX, drawn in
    the state that fills most of the group."""
    out = []
    group = None

    def flush():
        nonlocal group
        if group is None:
            return
        if group["n"] == 1:
            sp = group["only"]
            out.append(("one", sp, group["a"], max(group["b"], group["a"]
                                                     + 1.0)))
        else:
            out.append(("group", group, group["a"],
                        max(group["b"], group["a"] + 1.0)))
        group = None

    for sp in spans:
        a, b = x(sp["t0"]), x(sp["t1"])
        if b - a >= MIN_PX:
            flush()
            out.append(("one", sp, a, b))
            continue
        if group is not None and a - group["b"] > MIN_PX:
            flush()
        if group is None:
            group = {"a": a, "b": b, "n": 0, "dur": {}, "only": sp,
                     "t0": sp["t0"], "t1": sp["t1"]}
        group["n"] += 1
        group["b"] = max(group["b"], b)
        group["t1"] = max(group["t1"], sp["t1"])
        d = group["dur"]
        d[sp["state"]] = d.get(sp["state"], 0.0) + (sp["t1"] - sp["t0"])
        if group["b"] - group["a"] >= MIN_PX:
            flush()
    flush()
    return out


class Axis:
    """Maps trace time to x. Linear, except that long quiet stretches (no
    event in any lane for longer than about a 40th of the trace) are each
    shortened to GAP_PX when that gives the rest of the trace more room: a
    chapter that sleeps for a second between bursts of microseconds then
    shows the bursts, with the stretch's length written in it."""

    def __init__(self, times, lo, hi, x0, x1, compress=True):
        self.lo, self.hi, self.x0, self.x1 = lo, hi, x0, x1
        total = hi - lo
        gaps = []
        if compress and total > 0:
            pts = sorted(set([lo, hi] + [t for t in times if lo <= t <= hi]))
            gaps = [(b - a, a, b) for a, b in zip(pts, pts[1:])
                    if b - a > total / 40.0]
            gaps.sort(reverse=True)
            gaps = gaps[:MAX_GAPS]
            while gaps:
                busy = total - sum(g for g, _, _ in gaps)
                avail = (x1 - x0) - len(gaps) * GAP_PX
                if busy <= 0 or avail <= 0:
                    gaps.pop()
                    continue
                # A stretch is shortened only if linear it would be much
                # wider than GAP_PX.
                if gaps[-1][0] * avail / busy < 3 * GAP_PX:
                    gaps.pop()
                    continue
                break
        self.gaps = sorted((a, b) for _, a, b in gaps)
        # Segments: (t0, t1, x0, x1, quiet).
        busy = total - sum(b - a for a, b in self.gaps)
        avail = (x1 - x0) - len(self.gaps) * GAP_PX
        scale = avail / busy if busy > 0 else 0.0
        if total <= 0:
            self.segs = [(lo, hi, x0, x1, False)]
            return
        segs, t, x = [], lo, float(x0)
        for a, b in self.gaps:
            if a > t:
                segs.append((t, a, x, x + (a - t) * scale, False))
                x += (a - t) * scale
            segs.append((a, b, x, x + GAP_PX, True))
            x += GAP_PX
            t = b
        if hi > t or not segs:
            segs.append((t, hi, x, float(x1), False))
        self.segs = segs

    def x(self, t):
        for t0, t1, xa, xb, _ in self.segs:
            if t <= t1:
                if t <= t0 or t1 <= t0:
                    return xa
                return xa + (t - t0) / (t1 - t0) * (xb - xa)
        return float(self.x1)

    def ticks(self):
        """(t, label) for the axis: nice ticks in each busy segment, at
        least TICK_PX apart."""
        out = []
        for t0, t1, xa, xb, quiet in self.segs:
            if quiet:
                continue
            want = max(1, int((xb - xa) / 110))
            seg = ticks(t0, t1, want) if t1 > t0 else [(t0, fmt_time(t0))]
            out.extend(seg)
        kept, last = [], None
        for t, label in sorted(out):
            px = self.x(t)
            if last is not None and px - last < TICK_PX:
                continue
            kept.append((t, label))
            last = px
        return kept


def render(trace, title=None, width=WIDTH,
           max_lanes=MAX_LANES, id_prefix="tl", svg_id=None, compress=True):
    """The trace as an SVG document (text), or None when it has no events
    to draw."""
    # Every lane with an event (a thread that only woke someone has only
    # the tail of an arrow); not those only named by metadata.
    lanes = [l for l in trace.lanes.values() if l.first is not None]
    if not lanes or trace.t_lo is None:
        return None
    lanes.sort(key=Lane.sort_key)
    hidden = []
    if len(lanes) > max_lanes:
        # Threads first, then the goroutines that lived longest (a long
        # trace's many short-lived goroutines say least one by one); drawn
        # in the usual order.
        ranked = sorted(lanes, key=lambda l: (
            not l.is_thread, -(l.last - l.first), l.sort_key()))
        shown = set(id(l) for l in ranked[:max_lanes])
        hidden = [l for l in lanes if id(l) not in shown]
        lanes = [l for l in lanes if id(l) in shown]
    row = {(l.pid, l.tid): i for i, l in enumerate(lanes)}
    p = _esc(id_prefix)
    title = title or DEFAULT_TITLE

    # Times count from chan_trace_start: the picture starts there.
    lo, hi = min(0.0, trace.t_lo), trace.t_hi
    if hi <= lo:
        hi = lo + 1.0
    x0, x1 = LABEL_W, width - RIGHT
    axis = Axis(trace.times, lo, hi, x0, x1, compress)
    x = axis.x

    def yc(i):
        return LEGEND_H + i * LANE_H + LANE_H / 2.0

    notes = []
    if hidden:
        ng = sum(1 for l in hidden if not l.is_thread)
        nt = len(hidden) - ng
        parts = []
        if ng:
            parts.append("+%d more goroutine%s" % (ng, "" if ng == 1 else "s"))
        if nt:
            parts.append("+%d more thread%s" % (nt, "" if nt == 1 else "s"))
        notes.append(("more", " and ".join(parts) + " not drawn (%d lanes "
                      "shown: the threads, then the longest-lived "
                      "goroutines)" % len(lanes)))

    body = []
    lanes_top = LEGEND_H
    lanes_bottom = LEGEND_H + len(lanes) * LANE_H
    # Lane backgrounds, names, and the grid.
    for i, lane in enumerate(lanes):
        y = lanes_top + i * LANE_H
        body.append('<g class="lane" data-lane="%s">' % _esc(lane.full_name()))
        if i % 2 == 0:
            body.append('<rect x="0" y="%s" width="%s" height="%s" '
                        'fill="#f6f8fa"/>' % (y, width, LANE_H))
        body.append('<g><title>%s</title><text class="lane-name" x="%s" '
                    'y="%s" font-size="12" fill="#222" text-anchor="end">%s'
                    '</text></g>' % (_esc(lane.full_name()), LABEL_W - 8,
                                     _f(yc(i) + 4), _esc(lane.label())))
        body.append("</g>")
    tick_list = axis.ticks()
    for t, _ in tick_list:
        body.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dde1e5" '
                    'stroke-width="1"/>' % (_f(x(t)), lanes_top, _f(x(t)),
                                            lanes_bottom))
    # Shortened quiet stretches: a pale band with its real length.
    for a, b in axis.gaps:
        xa, xb = x(a), x(b)
        body.append('<g class="gap"><title>%s with no event, shortened (%s '
                    'to %s)</title><rect x="%s" y="%s" width="%s" height="%s" '
                    'fill="#fff" fill-opacity="0.55" stroke="#bbb" '
                    'stroke-dasharray="3 3"/></g>'
                    % (_esc(fmt_time(b - a)), _esc(fmt_at(a)),
                       _esc(fmt_at(b)), _f(xa), lanes_top, _f(xb - xa),
                       lanes_bottom - lanes_top))

    # The spans.
    for i, lane in enumerate(lanes):
        body.append('<g class="spans">')
        for kind, sp, a, b in _merge(lane.spans, x):
            if kind == "one":
                state, tip = sp["state"], _span_title(lane, sp)
                cls = state
            else:
                d = sp["dur"]
                state = min(d, key=lambda s: (-d[s], ORDER[s]))
                cls = state + " merged"
                parts = ", ".join("%s %s" % (s, fmt_time(d[s]))
                                  for s in sorted(d, key=ORDER.get))
                tip = "%s: %d short spans (%s to %s): %s" % (
                    lane.full_name(), sp["n"], fmt_at(sp["t0"]),
                    fmt_at(sp["t1"]), parts)
            st = STYLE[state]
            h = st["h"]
            body.append(
                '<rect class="%s" x="%s" y="%s" width="%s" height="%s" '
                'fill="%s" stroke="%s" stroke-width="0.75">'
                '<title>%s</title></rect>'
                % (cls, _f(a), _f(yc(i) - h / 2.0), _f(max(b - a, 1.0)), h,
                   st["fill"].format(p=p), st["stroke"], _esc(tip)))
        body.append("</g>")

    # Markers: create, end, close, timer, wake by timer or poller; one per
    # lane, kind and pixel.
    seen = {}
    for i, lane in enumerate(lanes):
        for ts, kind, tip in lane.marks:
            key = (i, kind, int(x(ts)))
            if key in seen:
                seen[key][1] += 1
                continue
            seen[key] = [(i, kind, x(ts), tip), 1]
    body.append('<g class="marks">')
    for (i, kind, px, tip), n in seen.values():
        if n > 1:
            tip += " (and %d more here)" % (n - 1)
        body.append(_marker(kind, px, yc(i), _esc(tip)))
    body.append("</g>")

    # Wake-up arrows, from the waker's lane to the wakee's.
    arrows = {}
    not_drawn = 0
    for f in trace.flows.values():
        if "s" not in f or "f" not in f:
            continue
        (ka, ta), (kb, tb) = f["s"], f["f"]
        if ka not in row or kb not in row or ka == kb:
            not_drawn += 1
            continue
        key = (row[ka], int(x(ta) / ARROW_BIN), row[kb],
               int(x(tb) / ARROW_BIN))
        if key in arrows:
            arrows[key][2] += 1
        else:
            arrows[key] = [ta, tb, 1]
    keys = sorted(arrows, key=lambda k: (arrows[k][0], k))
    if len(keys) > MAX_ARROWS:
        # Too many: an equal share for each pair of lanes, spread evenly
        # over the trace, so that the arrows drawn still show who wakes whom
        # and when.
        pairs = {}
        for k in keys:
            pairs.setdefault((k[0], k[2]), []).append(k)
        share = max(1, MAX_ARROWS // len(pairs))
        kept = set()
        for ks in pairs.values():
            every = max(1.0, len(ks) / float(share))
            kept.update(ks[int(j * every)] for j in range(min(share, len(ks))))
        not_drawn += sum(arrows[k][2] for k in keys if k not in kept)
        keys = [k for k in keys if k in kept]
    body.append('<g class="wakes">')
    for k in keys:
        ta, tb, n = arrows[k]
        la, lb = lanes[k[0]], lanes[k[2]]
        what = _woken_from(lb, tb)
        tip = "%s wakes %s%s at %s" % (
            la.full_name(), lb.full_name(), " from " + what if what else "",
            fmt_at(tb))
        if n > 1:
            tip += " (and %d more wake-ups here)" % (n - 1)
        ya, yb = yc(k[0]), yc(k[2])
        # End the arrow at the wakee lane's edge of its bar, not its middle.
        yb += -7 if yb > ya else 7
        body.append(
            '<g class="wake"><title>%s</title><line x1="%s" y1="%s" x2="%s" '
            'y2="%s" stroke="#444" stroke-width="1.25" '
            'marker-end="url(#%s-arrow)"/></g>'
            % (_esc(tip), _f(x(ta)), _f(ya), _f(x(tb)), _f(yb), p))
    body.append("</g>")
    if not_drawn:
        notes.append(("wakes-not-drawn", "%d wake-up%s not drawn (to or from "
                      "a lane not shown, or too many)"
                      % (not_drawn, "" if not_drawn == 1 else "s")))
    if trace.dropped:
        notes.append(("dropped", "the tracer dropped %d event%s: parts of the "
                      "picture are missing" % (trace.dropped,
                                               "" if trace.dropped == 1
                                               else "s")))
    if trace.broken:
        notes.append(("broken", "%d event%s without a partner (a wake-up "
                      "without its block, half an arrow): drawn as far as "
                      "the trace goes" % (trace.broken,
                                          "" if trace.broken == 1 else "s")))
    if trace.truncated:
        notes.append(("truncated", "the trace file ends mid-write: drawn up "
                      "to its last whole event"))

    # The axis.
    axis_y = lanes_bottom + 4
    body.append('<g class="axis" font-size="11" fill="#555">')
    body.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#888"/>'
                % (x0, axis_y, x1, axis_y))
    for t, text in tick_list:
        px = _f(x(t))
        body.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#888"/>'
                    % (px, axis_y, px, axis_y + 4))
        body.append('<text class="tick" x="%s" y="%s" text-anchor="middle">'
                    '%s</text>' % (px, axis_y + 16, _esc(text)))
    for a, b in axis.gaps:
        xa, xb = x(a), x(b)
        body.append('<path d="M%s %s l4 -8 M%s %s l4 -8" stroke="#555" '
                    'fill="none"/>' % (_f(xa - 2), axis_y + 4, _f(xb - 2),
                                       axis_y + 4))
        body.append('<text class="gap-length" x="%s" y="%s" '
                    'text-anchor="middle" font-size="10">+%s</text>'
                    % (_f((xa + xb) / 2), axis_y + 16, _esc(fmt_time(b - a))))
    body.append('<text x="%s" y="%s" text-anchor="end">time since the '
                'trace started</text>' % (LABEL_W - 8, axis_y + 16))
    body.append("</g>")

    notes_y = axis_y + AXIS_H - 6
    for k, (cls, text) in enumerate(notes):
        body.append('<text class="note %s" x="%s" y="%s" font-size="12" '
                    'fill="#555">%s</text>'
                    % (cls, x0, notes_y + k * NOTE_H, _esc(text)))
    height = int(math.ceil(notes_y + len(notes) * NOTE_H))

    head = ('<svg xmlns="http://www.w3.org/2000/svg"%s '
            'class="gochan-timeline" width="%d" height="%d" viewBox="0 0 %d %d" role="img" '
            'font-family="system-ui, sans-serif">\n<title>%s</title>\n'
            % (' id="%s"' % _esc(svg_id) if svg_id else "", width, height,
               width, height, _esc(title)))
    return head + _defs(p) + _legend(p, width) + "\n".join(body) + "\n</svg>\n"


def _woken_from(lane, ts):
    """What the wakee waited on when it was woken at ts."""
    sp = _blocked_at(lane, ts)
    return sp["info"].get("what") if sp else None


def _marker(kind, px, y, tip):
    px = _f(px)
    if kind == "create":
        shape = ('<circle cx="%s" cy="%s" r="3.5" fill="#fff" stroke="#222" '
                 'stroke-width="1.25"/>' % (px, _f(y)))
    elif kind == "end":
        shape = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#222" '
                 'stroke-width="2"/>' % (px, _f(y - 8), px, _f(y + 8)))
    elif kind == "woken":
        shape = ('<path d="M%s %s l-4 -7 h8 z" fill="#444"/>'
                 % (px, _f(y - 4)))
    else:  # chan close, timer fire, io wait: a diamond
        shape = ('<path d="M%s %s l4 4 l-4 4 l-4 -4 z" fill="#fff" '
                 'stroke="#444" stroke-width="1.25"/>' % (px, _f(y - 4)))
    cls = kind.replace(" ", "-")
    return '<g class="mark %s"><title>%s</title>%s</g>' % (cls, tip, shape)


def _defs(p):
    return (
        '<defs>\n'
        '<pattern id="{p}-hatch" width="5" height="5" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="5" height="5" fill="#fbe3e1"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#c0392b" '
        'stroke-width="2"/></pattern>\n'
        '<pattern id="{p}-dots" width="4" height="4" '
        'patternUnits="userSpaceOnUse"><rect width="4" height="4" '
        'fill="#fff3d6"/><circle cx="2" cy="2" r="0.9" fill="#b7791f"/>'
        '</pattern>\n'
        '<marker id="{p}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0 0 L10 5 L0 10 z" fill="#444"/></marker>\n'
        '</defs>\n').format(p=p)


def _legend(p, width):
    items = []
    x = 8
    y = 12

    def swatch(state, label):
        nonlocal x
        st = STYLE[state]
        items.append('<rect x="%s" y="%s" width="22" height="%s" fill="%s" '
                     'stroke="%s" stroke-width="0.75"/>'
                     % (x, _f(y - st["h"] / 2.0), st["h"],
                        st["fill"].format(p=p), st["stroke"]))
        items.append('<text x="%s" y="%s">%s</text>' % (x + 28, y + 4, label))
        x += 28 + 7 * len(label) + 18

    swatch("running", "running")
    swatch("runnable", "runnable (waits for a P)")
    swatch("blocked", "blocked (hover: on what)")
    items.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444" '
                 'stroke-width="1.25" marker-end="url(#%s-arrow)"/>'
                 % (x, y, x + 24, y, p))
    items.append('<text x="%s" y="%s">wakes</text>' % (x + 30, y + 4))
    x += 30 + 7 * 5 + 18
    items.append(_marker("create", x + 4, y, "created"))
    items.append('<text x="%s" y="%s">created</text>' % (x + 12, y + 4))
    x += 12 + 7 * 7 + 14
    items.append(_marker("end", x + 2, y, "returns"))
    items.append('<text x="%s" y="%s">returns</text>' % (x + 10, y + 4))
    x += 10 + 7 * 7 + 14
    items.append(_marker("chan close", x + 4, y, "close, timer"))
    items.append('<text x="%s" y="%s">close, timer</text>' % (x + 12, y + 4))
    return ('<g class="legend" font-size="12" fill="#222">%s</g>\n'
            % "".join(items))


def render_file(trace_path, out_path, title=None):
    """gen.py --timeline: one trace file to one SVG file."""
    trace = load(trace_path)
    svg = render(trace, title)
    if svg is None:
        raise TraceError("%s: no events to draw" % trace_path)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(svg)
