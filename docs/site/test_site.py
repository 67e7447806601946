#!/usr/bin/env python3
"""CTest's by-example_site: builds the gochan by Example site with gen.py and
opens the index and every chapter page in headless Chromium (--dump-dom, the
DOM after the page loaded). Checks that the index links every chapter of
chapters.txt, in order, and that each chapter page shows its title, the whole
Go program (#go-source), the whole C program (#c-source) and the expected
output (#output), with prev/next links to its neighbours, and its
goroutine timeline (#timeline-section): the SVG drawn from the chapter's
trace in the --traces directory, or a sentence saying why there is none.
With --require-timelines (CMake passes it once the library has the tracer)
every chapter page must show its SVG, with lanes and state spans.

    python3 test_site.py --chromium PATH --src DIR --out DIR
                         [--traces DIR [--require-timelines]]
"""
import argparse
import concurrent.futures
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402


class Dom(html.parser.HTMLParser):
    """The text inside each element that has an id, and every link."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # ids of the open elements (None for no id)
        self.text = {}
        self.links = []  # (id of the nearest element with an id, href)
        self.ids = {}  # id -> attrs
        self.classes = {}  # id -> {class: count} of the elements inside

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            owner = next((i for i in reversed(self.stack) if i), None)
            self.links.append((owner, attrs.get("id"), attrs["href"]))
        for owner in set(i for i in self.stack if i):
            count = self.classes.setdefault(owner, {})
            for cls in (attrs.get("class") or "").split():
                count[cls] = count.get(cls, 0) + 1
        if tag in self.VOID:
            return
        ident = attrs.get("id")
        if ident:
            self.text.setdefault(ident, "")
            self.ids[ident] = attrs
        self.stack.append(ident)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for ident in set(i for i in self.stack if i):
            self.text[ident] += data


def dump_dom(chromium, path, profile):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--user-data-dir=" + profile,
           "--dump-dom", "file://" + os.path.abspath(path)]
    for attempt in range(3):
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        if r.returncode == 0 and b"</html>" in r.stdout:
            return r.stdout.decode("utf-8")
        time.sleep(1)
    raise RuntimeError("chromium failed on %s (exit %d):\n%s"
                       % (path, r.returncode, r.stderr.decode(errors="replace")
                          [-2000:]))


def parse(text):
    d = Dom()
    d.feed(text)
    d.close()
    return d


def check_index(dom, chapters, errors):
    if "chapters" not in dom.text:
        errors.append("index.html: no #chapters list")
    got = [href for owner, _, href in dom.links if owner == "chapters"]
    want = [ch["slug"] + ".html" for ch in chapters]
    if got != want:
        errors.append("index.html: #chapters links %r, want %r" % (got, want))


def check_timeline(dom, name, require, errors):
    """The page shows the chapter's timeline, or says why it has none; with
    require, it must show it: an SVG with lanes and state spans."""
    if "timeline-section" not in dom.ids:
        errors.append("%s: no #timeline-section" % name)
        return
    svg = dom.ids.get("timeline")
    classes = dom.classes.get("timeline", {})
    missing = dom.text.get("timeline-missing")
    if svg is None and missing is None:
        errors.append("%s: #timeline-section has neither the SVG nor a "
                      "#timeline-missing sentence" % name)
    if svg is not None:
        for cls in ("lane", "legend", "axis"):
            if not classes.get(cls):
                errors.append("%s: the timeline has no .%s" % (name, cls))
        if not any(classes.get(s) for s in ("running", "blocked",
                                            "runnable")):
            errors.append("%s: the timeline has no state spans" % name)
    elif require:
        errors.append("%s: no timeline SVG: %s" % (
            name, " ".join((missing or "").split())))


def check_chapter(dom, src, chapters, i, errors):
    ch = chapters[i]
    name = ch["slug"] + ".html"

    def want_text(ident, expected, what):
        got = dom.text.get(ident)
        if got is None:
            errors.append("%s: no #%s (%s)" % (name, ident, what))
        elif got.strip("\n") != expected.strip("\n"):
            errors.append("%s: #%s does not show %s" % (name, ident, what))

    want_text("title", ch["title"], "the title")
    for ext, ident in ((".go", "go-source"), (".c", "c-source"),
                       (".out", "output")):
        with open(os.path.join(src, ch["slug"] + ext), encoding="utf-8") as f:
            want_text(ident, f.read(), ch["slug"] + ext)
    if not dom.text.get("rule", "").strip():
        errors.append("%s: no #rule sentence" % name)
    for ident, j in (("prev", i - 1), ("next", i + 1)):
        hrefs = {href for _, a, href in dom.links if a == ident}
        if 0 <= j < len(chapters):
            want = chapters[j]["slug"] + ".html"
            if want not in hrefs:
                errors.append("%s: #%s links %r, want %s"
                              % (name, ident, sorted(hrefs), want))
        elif hrefs:
            errors.append("%s: #%s at the end of the book" % (name, ident))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--traces", help="the chapters' traces, <slug>.json")
    ap.add_argument("--require-timelines", action="store_true",
                    help="every chapter page must show its timeline")
    args = ap.parse_args()

    start = time.time()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    chapters = gen.build(args.src, args.out, args.traces)
    if not chapters:
        sys.exit("no chapters in %s/chapters.txt" % args.src)
    pages = ["index.html"] + [ch["slug"] + ".html" for ch in chapters]

    errors = []
    with tempfile.TemporaryDirectory(prefix="by-example-site-") as tmp:
        # One Chromium profile per worker: two at once cannot share one.
        def load(k_page):
            k, p = k_page
            profile = os.path.join(tmp, "profile%d" % (k % args.jobs))
            return p, dump_dom(args.chromium, os.path.join(args.out, p),
                               profile)

        doms = {}
        # Pages k and k+jobs use the same profile, so they must not overlap:
        # run the pages in rounds of `jobs`.
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for r in range(0, len(pages), args.jobs):
                batch = list(enumerate(pages))[r:r + args.jobs]
                for p, text in pool.map(load, batch):
                    doms[p] = parse(text)

    check_index(doms["index.html"], chapters, errors)
    for i, ch in enumerate(chapters):
        check_chapter(doms[ch["slug"] + ".html"], args.src, chapters, i,
                      errors)
        check_timeline(doms[ch["slug"] + ".html"], ch["slug"] + ".html",
                       args.require_timelines, errors)
    for e in errors:
        print("FAIL: " + e)
    drawn = sum(1 for ch in chapters
                if "timeline" in doms[ch["slug"] + ".html"].ids)
    print("by-example site: %d pages opened in Chromium, %d of %d chapters "
          "with a timeline%s, %d problems, %.1f s"
          % (len(pages), drawn, len(chapters),
             " (required)" if args.require_timelines else "", len(errors),
             time.time() - start))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
