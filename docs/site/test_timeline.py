#!/usr/bin/env python3
"""CTest's by-example_timeline: unit tests of the timeline renderer
(timeline.py, used by gen.py) on synthetic traces written in the format of
gochan's tracer (synthtrace.py): lanes, state spans, wake-up arrows, hover
titles, the axis, merging of spans narrower than a pixel, the lane cap, and
damaged traces (dropped events, a file cut off mid-write, a missing trace).

    python3 docs/site/test_timeline.py [-v]
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
import synthtrace  # noqa: E402
import timeline  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
REPO = os.path.dirname(os.path.dirname(HERE))


def draw(builder_or_obj, **kw):
    obj = builder_or_obj
    if isinstance(obj, synthtrace.Builder):
        obj = obj.trace()
    trace = timeline.parse(json.loads(json.dumps(obj)))
    svg = timeline.render(trace, "test", **kw)
    return trace, svg, (ET.fromstring(svg) if svg else None)


def by_class(root, cls):
    return [e for e in root.iter()
            if cls in (e.get("class") or "").split()]


def title_of(e):
    t = e.find(SVG + "title")
    return t.text if t is not None else None


def ping_pong():
    """main (a thread) makes ping and pong; pong waits on a channel, ping
    sends on it, pong answers, main waits for pong to finish."""
    b = synthtrace.Builder()
    main = "thread 100"
    b.thread(100, main=True)
    ch = "chan 0xabc (int, cap 0)"
    b.create(1, 10, main, "ping")
    b.create(2, 12, main, "pong")
    b.thread_blocked(100, 15, 285, "chan receive", "chan 0xdone (bool, cap 0)")
    b.run(2, 20, 10, p=0, m=1)
    b.block(2, 29, "chan receive", ch)
    b.run(1, 25, 30, p=1, m=2)
    b.unblock(2, 50, 1)
    b.end(1, 55)
    b.run(2, 100, 50, p=0, m=1)
    b.unblock("thread 100", 300, 2, waker_ts=140)
    b.end(2, 150)
    return b


class Lanes(unittest.TestCase):
    def test_one_lane_per_goroutine_and_thread_main_first(self):
        trace, svg, root = draw(ping_pong())
        names = [e.get("data-lane") for e in by_class(root, "lane")]
        self.assertEqual(names, ["thread 100 (main)", "goroutine 1",
                                 "goroutine 2"])
        labels = [t.text for t in root.iter(SVG + "text")
                  if t.get("class") == "lane-name"]
        self.assertEqual(labels, ["main thread", "goroutine 1 ping",
                                  "goroutine 2 pong"])

    def test_events_in_any_order(self):
        b = ping_pong()
        _, svg_sorted, _ = draw(b)
        random.Random(7).shuffle(b.events)
        _, svg_shuffled, _ = draw(b)
        self.assertEqual(svg_sorted, svg_shuffled)

    def test_thread_that_only_wakes_has_a_lane(self):
        b = synthtrace.Builder()
        b.thread(7, main=True)
        b.create(1, 1, "thread 7", "worker")
        b.run(1, 2, 3)
        b.block(1, 4, "chan receive", "chan 0x9 (int, cap 0)")
        b.unblock(1, 20, "thread 7", waker_ts=19)  # main sends
        b.run(1, 22, 3)
        b.end(1, 25)
        trace, _, root = draw(b)
        self.assertEqual([e.get("data-lane") for e in by_class(root, "lane")],
                         ["thread 7 (main)", "goroutine 1"])
        self.assertEqual([title_of(w) for w in by_class(root, "wake")], [
            "thread 7 (main) wakes goroutine 1 from chan receive on chan 0x9 "
            "(int, cap 0) at 20 \u00b5s"])
        # The main thread runs the whole trace, outside gochan.
        self.assertEqual([(s["state"], s["t0"], s["t1"])
                          for s in trace.lanes[(2, 7)].spans],
                         [("running", 0, 25)])

    def test_bare_array_form(self):
        trace, svg, root = draw(ping_pong().events)
        self.assertEqual(len(by_class(root, "lane")), 3)


class States(unittest.TestCase):
    def spans(self, trace, pid, tid):
        return [(s["state"], s["t0"], s["t1"])
                for s in trace.lanes[(pid, tid)].spans]

    def test_goroutine_states(self):
        trace, _, _ = draw(ping_pong())
        self.assertEqual(self.spans(trace, 1, 2), [
            ("runnable", 12, 20), ("running", 20, 30), ("blocked", 30, 50),
            ("runnable", 50, 100),
            ("running", 100, 150)])
        self.assertEqual(self.spans(trace, 1, 1), [
            ("runnable", 10, 25), ("running", 25, 55)])

    def test_thread_states(self):
        trace, _, _ = draw(ping_pong())
        # The main thread runs from the start of the trace, blocks in its
        # receive, and runs again after until the end of the trace.
        self.assertEqual(self.spans(trace, 2, 100), [
            ("running", 0, 15), ("blocked", 15, 300)])

    def test_preempted_then_runnable(self):
        b = synthtrace.Builder()
        b.create(1, 0, 1, "spin")
        b.run(1, 5, 10)
        b.run(1, 20, 10)
        b.end(1, 30)
        trace, _, _ = draw(b)
        sp = trace.lanes[(1, 1)].spans
        self.assertEqual([(s["state"], s["t0"], s["t1"]) for s in sp], [
            ("runnable", 0, 5), ("running", 5, 15), ("runnable", 15, 20),
            ("running", 20, 30)])
        self.assertIn("preempted", sp[2]["info"]["why"])

    def test_distinct_styles_in_greyscale(self):
        # Each state differs from the others in height and in fill.
        st = timeline.STYLE
        self.assertEqual(len({s["h"] for s in st.values()}), 3)
        self.assertEqual(len({s["fill"] for s in st.values()}), 3)
        _, _, root = draw(ping_pong())
        for state in ("running", "runnable", "blocked"):
            rects = by_class(root, state)
            self.assertTrue(rects, state)
            self.assertEqual({r.get("height") for r in rects},
                             {str(st[state]["h"])})

    def test_blocked_forever_is_open(self):
        b = synthtrace.Builder()
        b.create(1, 0, 1, "leak")
        b.run(1, 1, 2)
        b.block(1, 3, "chan send", "chan 0x1 (int, cap 0)")
        b.create(2, 4, 1, "other")
        b.run(2, 5, 100)
        _, _, root = draw(b)
        titles = [title_of(r) for r in by_class(root, "blocked")]
        self.assertEqual(len(titles), 1)
        self.assertIn("still blocked when the trace ends", titles[0])


class Titles(unittest.TestCase):
    def test_blocked_titles_name_reason_object_and_waker(self):
        _, _, root = draw(ping_pong())
        titles = [title_of(r) for r in by_class(root, "blocked")]
        self.assertIn(
            "goroutine 2 blocked: chan receive on chan 0xabc (int, cap 0), "
            "20 \u00b5s (from 30 \u00b5s); woken by goroutine 1", titles)
        self.assertTrue(any(t.startswith("thread 100 (main) blocked: chan "
                                         "receive on chan 0xdone") and
                            t.endswith("woken by goroutine 2")
                            for t in titles), titles)

    def test_running_title_names_p_and_m(self):
        _, _, root = draw(ping_pong())
        titles = [title_of(r) for r in by_class(root, "running")]
        self.assertIn("goroutine 1 running on P1/M2, 30 \u00b5s (from "
                      "25 \u00b5s)", titles)

    def test_markers(self):
        _, _, root = draw(ping_pong())
        creates = [title_of(g) for g in by_class(root, "create")
                   if g.get("class").startswith("mark")]
        self.assertIn("goroutine 1 created by thread 100, runs ping", creates)
        self.assertEqual(len([g for g in by_class(root, "end")
                              if "mark" in g.get("class")]), 2 + 1)  # legend


class Arrows(unittest.TestCase):
    def test_wake_arrows_from_waker_lane_to_wakee_lane(self):
        _, svg, root = draw(ping_pong())
        lanes = [e.get("data-lane") for e in by_class(root, "lane")]
        wakes = by_class(root, "wake")
        self.assertEqual(len(wakes), 2)
        tips = sorted(title_of(w) for w in wakes)
        self.assertEqual(tips, [
            "goroutine 1 wakes goroutine 2 from chan receive on chan 0xabc "
            "(int, cap 0) at 50 \u00b5s",
            "goroutine 2 wakes thread 100 (main) from chan receive on chan "
            "0xdone (bool, cap 0) at 300 \u00b5s"])
        # The first arrow goes down from lane 1 (goroutine 1) to lane 2.
        for w in wakes:
            line = w.find(SVG + "line")
            y1, y2 = float(line.get("y1")), float(line.get("y2"))
            tip = title_of(w)
            if tip.startswith("goroutine 1"):
                self.assertLess(y1, y2)
                self.assertEqual(lanes.index("goroutine 1"),
                                 int((y1 - timeline.LEGEND_H) //
                                     timeline.LANE_H))
            else:
                self.assertGreater(y1, y2)  # up to the main thread
            self.assertTrue(line.get("marker-end").startswith("url(#"))

    def test_timer_wake_is_a_marker_not_an_arrow(self):
        b = synthtrace.channel_synchronization()
        _, _, root = draw(b)
        self.assertEqual(len(by_class(root, "wake")), 1)
        marks = [title_of(g) for g in root.iter(SVG + "g")
                 if (g.get("class") or "") == "mark woken"]
        self.assertEqual(marks, ["goroutine 1 woken by a timer"])


class Axis(unittest.TestCase):
    def test_ticks(self):
        t = timeline.ticks(0, 900, 9)
        self.assertEqual([x for x, _ in t][:3], [0, 100, 200])
        self.assertEqual(t[1][1], "100 \u00b5s")
        t = timeline.ticks(0, 1000, 5)
        self.assertEqual(t[-1][1], "1.0 ms")
        t = timeline.ticks(0, 2.5e6, 5)
        self.assertEqual([label for _, label in t],
                         ["0", "0.5 s", "1.0 s", "1.5 s", "2.0 s", "2.5 s"])
        t = timeline.ticks(100130, 100215, 3)
        self.assertEqual(t[0][1], "100.15 ms")  # step 50 us
        t = timeline.ticks(0, 0.8, 4)
        self.assertEqual(t[1][1], "200 ns")

    def test_quiet_stretch_is_shortened(self):
        _, svg, root = draw(synthtrace.channel_synchronization())
        gaps = by_class(root, "gap")
        self.assertEqual(len(gaps), 1)
        self.assertTrue(title_of(gaps[0]).startswith("100 ms with no event"))
        # The microseconds before and after the sleep get the width.
        labels = [t.text for t in root.iter(SVG + "text")
                  if t.get("class") == "tick"]
        self.assertIn("50 \u00b5s", labels)
        self.assertTrue(any(lb.startswith("100.") and lb.endswith(" ms")
                            for lb in labels), labels)
        _, svg, root = draw(synthtrace.channel_synchronization(),
                            compress=False)
        self.assertEqual(by_class(root, "gap"), [])

    def test_axis_is_monotonic(self):
        trace, _, _ = draw(synthtrace.channel_synchronization())
        ax = timeline.Axis(trace.times, 0, trace.t_hi, 170, 944)
        xs = [ax.x(t) for t in sorted(trace.times)]
        self.assertEqual(xs, sorted(xs))
        self.assertAlmostEqual(ax.x(0), 170)
        self.assertAlmostEqual(ax.x(trace.t_hi), 944)


class LongTraces(unittest.TestCase):
    def busy(self, goroutines, switches):
        """goroutines that take turns for `switches` rounds: thousands of
        spans, most much narrower than a pixel."""
        b = synthtrace.Builder()
        b.thread(1, main=True)
        for g in range(1, goroutines + 1):
            b.create(g, 0.5 * g, "thread 1", "worker")
        t = 100.0
        for k in range(switches):
            g = k % goroutines + 1
            h = (k + 1) % goroutines + 1
            b.run(g, t, 0.7)
            b.block(g, t + 0.6, "chan receive", "chan 0x10 (int, cap 0)")
            b.unblock(h, t + 0.65, g)
            t += 0.9
        return b

    def test_spans_narrower_than_a_pixel_are_merged(self):
        b = self.busy(3, 5000)  # 5000 slices, 15000 spans, 2000+ us
        trace, svg, root = draw(b)
        plot_w = timeline.WIDTH - timeline.LABEL_W - timeline.RIGHT
        for lane in by_class(root, "spans"):
            rects = list(lane.iter(SVG + "rect"))
            self.assertLessEqual(len(rects),
                                 plot_w / timeline.MIN_PX * 1.5 + 4)
        merged = by_class(root, "merged")
        self.assertTrue(merged)
        self.assertRegex(title_of(merged[0]),
                         r"^goroutine \d+: \d+ short spans \(.*\): running")
        # Arrows landing on the same pixels are drawn once.
        self.assertLessEqual(len(by_class(root, "wake")),
                             timeline.MAX_ARROWS)
        self.assertLess(len(svg), 3_000_000)

    def test_lanes_are_capped(self):
        b = self.busy(100, 300)
        # main never blocks or wakes anything here, so it has no lane.
        b.events = [e for e in b.events if e.get("pid") != 2]
        _, _, root = draw(b, max_lanes=10)
        self.assertEqual(len(by_class(root, "lane")), 10)
        notes = [t.text for t in root.iter(SVG + "text")
                 if "more" in (t.get("class") or "")]
        self.assertEqual(len(notes), 1)
        self.assertTrue(notes[0].startswith("+90 more goroutines not drawn"),
                        notes[0])
        # Arrows to or from the lanes not drawn are counted, not drawn.
        self.assertTrue(by_class(root, "wakes-not-drawn"))

    def test_capped_lanes_keep_threads_and_long_lived_goroutines(self):
        b = synthtrace.Builder()
        b.thread(5, main=True)
        b.thread_blocked(5, 1, 500, "semacquire", "sync.WaitGroup 0x1")
        b.create(1000, 0, "thread 5", "server")
        b.run(1000, 1, 490)
        for g in range(1, 200):
            b.create(g, 2 * g, 1000, "f")
            b.run(g, 2 * g + 0.5, 1)
            b.end(g, 2 * g + 1.5)
        b.unblock("thread 5", 501, 1000, waker_ts=491)
        _, _, root = draw(b, max_lanes=5)
        names = [e.get("data-lane") for e in by_class(root, "lane")]
        self.assertEqual(names[0], "thread 5 (main)")
        self.assertIn("goroutine 1000", names)
        self.assertEqual(len(by_class(root, "wake")), 1)


class Damaged(unittest.TestCase):
    def test_dropped_events_are_noted(self):
        b = ping_pong()
        b.other["dropped"] = 12
        _, _, root = draw(b)
        note = by_class(root, "dropped")
        self.assertEqual(len(note), 1)
        self.assertIn("dropped 12 events", note[0].text)

    def test_lost_partners_are_noted_and_drawn_as_far_as_they_go(self):
        b = ping_pong()
        # Lose goroutine 2's block instant and half of one flow.
        b.events = [e for e in b.events
                    if not (e.get("name") == "block" and e.get("tid") == 2)
                    and not (e.get("ph") == "s" and e.get("id") == 2)]
        trace, _, root = draw(b)
        self.assertTrue(by_class(root, "broken"))
        self.assertEqual(len(by_class(root, "wake")), 1)
        self.assertEqual(len(by_class(root, "lane")), 3)

    def test_file_cut_off_mid_write(self):
        text = ping_pong().text()
        cut = text[:int(len(text) * 0.8)]
        trace = timeline.loads(cut)
        self.assertTrue(trace.truncated)
        svg = timeline.render(trace, "cut")
        root = ET.fromstring(svg)
        self.assertTrue(by_class(root, "truncated"))
        self.assertTrue(by_class(root, "running"))

    def test_unreadable(self):
        with self.assertRaises(timeline.TraceError):
            timeline.loads("")
        with self.assertRaises(timeline.TraceError):
            timeline.loads("this is not json")
        with self.assertRaises(timeline.TraceError):
            timeline.load("/nonexistent/trace.json")
        trace = timeline.loads('{"traceEvents": []}')
        self.assertIsNone(timeline.render(trace, "empty"))


class Pages(unittest.TestCase):
    """gen.py puts the timeline under each chapter, or says why not."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="timeline-test-")
        self.src = os.path.join(self.tmp.name, "src")
        self.traces = os.path.join(self.tmp.name, "traces")
        os.makedirs(self.src)
        os.makedirs(self.traces)
        with open(os.path.join(self.src, "chapters.txt"), "w") as f:
            f.write("one\texact\tOne\ntwo\texact\tTwo\nthree\texact\tThree\n")
        for slug in ("one", "two", "three"):
            for ext in (".go", ".c", ".out"):
                with open(os.path.join(self.src, slug + ext), "w") as f:
                    f.write("// %s%s\n" % (slug, ext))
        with open(os.path.join(self.traces, "one.json"), "w") as f:
            f.write(ping_pong().text())
        with open(os.path.join(self.traces, "two.json"), "w") as f:
            f.write("")  # the program died before writing anything

    def tearDown(self):
        self.tmp.cleanup()

    def page(self, slug):
        with open(os.path.join(self.tmp.name, "out", slug + ".html")) as f:
            return f.read()

    def test_timeline_or_reason(self):
        gen.build(self.src, os.path.join(self.tmp.name, "out"), self.traces)
        one = self.page("one")
        self.assertIn('<svg xmlns="http://www.w3.org/2000/svg" id="timeline"',
                      one)
        self.assertNotIn("timeline-missing", one)
        self.assertIn("cannot be read", self.page("two"))
        self.assertIn("wrote no trace", self.page("three"))
        # The inline SVG's ids are the chapter's own.
        self.assertIn('id="tl-one-hatch"', one)

    def test_no_traces_dir(self):
        gen.build(self.src, os.path.join(self.tmp.name, "out"))
        self.assertIn('id="timeline-missing"', self.page("one"))

    def test_timeline_mode(self):
        out = os.path.join(self.tmp.name, "one.svg")
        r = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"),
                            "--timeline", os.path.join(self.traces,
                                                       "one.json"), out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0, r.stderr)
        root = ET.parse(out).getroot()
        self.assertEqual(root.tag, SVG + "svg")
        r = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"),
                            "--timeline", os.path.join(self.traces,
                                                       "two.json"), out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertNotEqual(r.returncode, 0)


class ReadmePicture(unittest.TestCase):
    def test_committed_svg_is_what_gen_draws(self):
        """docs/timeline-example.svg is gen.py --timeline of
        docs/site/timeline-example.json: regenerate it when the renderer
        changes (see docs/site/README.md)."""
        src = os.path.join(HERE, "timeline-example.json")
        svg = os.path.join(REPO, "docs", "timeline-example.svg")
        want = timeline.render(timeline.load(src),
                               timeline.DEFAULT_TITLE)
        with open(svg, encoding="utf-8") as f:
            self.assertEqual(f.read(), want,
                             "docs/timeline-example.svg is stale: run "
                             "python3 docs/site/gen.py --timeline "
                             "docs/site/timeline-example.json "
                             "docs/timeline-example.svg")


if __name__ == "__main__":
    unittest.main()
