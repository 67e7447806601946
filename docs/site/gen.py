#!/usr/bin/env python3
"""Builds the gochan by Example site: one page per chapter of
examples/by-example/chapters.txt with the Go program and the C program side
by side, the expected output below and the rule CTest compares it by, the
chapter's goroutine timeline under them (drawn by timeline.py from the trace
the C program wrote when run with GOCHAN_TRACE), plus an index. Python 3's
standard library only; no network.

    python3 docs/site/gen.py [--src DIR] [--traces DIR] [OUT]
    python3 docs/site/gen.py --timeline TRACE.json OUT.svg

--src defaults to examples/by-example of the repository this file is in, OUT
to build/site. --traces names the directory with one trace per chapter,
<slug>.json; a chapter without one says so on its page. --timeline draws one
trace as a standalone SVG file (docs/timeline-example.svg is made so).
"""
import argparse
import html
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timeline  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

CSS = """\
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1500px;
       padding: 0 1.5em 2em; color: #222; background: #fff; line-height: 1.4; }
header, nav { margin: 1em 0; }
nav a { margin-right: 1.5em; }
h1 { margin: 0.3em 0; font-size: 1.7em; }
h2 { font-size: 1.05em; margin: 0 0 0.4em; color: #555; }
.rule { color: #444; max-width: 60em; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; }
.column { min-width: 0; }
pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
      font-size: 13px; line-height: 1.35; margin: 0; padding: 0.8em;
      overflow-x: auto; border-radius: 4px; tab-size: 4; }
pre.source { background: #f6f8fa; border: 1px solid #dde1e5; }
pre.go { border-left: 4px solid #00add8; }
pre.c { border-left: 4px solid #a8b9cc; }
pre#output { background: #1f2428; color: #e1e4e8; }
.output { margin-top: 1.2em; }
ol#chapters li { margin: 0.25em 0; }
footer { margin-top: 2em; color: #777; font-size: 0.9em; }
.timeline { margin-top: 1.2em; }
.timeline svg { max-width: 100%; height: auto; border: 1px solid #dde1e5;
                border-radius: 4px; background: #fff; }
.timeline .missing { color: #777; font-style: italic; }
"""

RULES = {
    "exact": "The C program's output must equal what the Go program prints, "
    "byte for byte.",
    "lines": "The C program must print the same lines as the Go program, in "
    "any order: goroutines may interleave differently from run to run.",
    "masked": "Every match of {mask} is replaced by # in both outputs "
    "(timings and counts vary), then they must be equal byte for byte.",
    "lines+masked": "Every match of {mask} is replaced by # in both outputs, "
    "then they must have the same lines, in any order.",
}


def read_chapters(src):
    """The chapters of src/chapters.txt: dicts with slug, rule, title and
    the optional fields (mask, status)."""
    chapters = []
    path = os.path.join(src, "chapters.txt")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                sys.exit("%s:%d: want slug<TAB>rule<TAB>title" % (path, n))
            ch = {"slug": fields[0], "rule": fields[1], "title": fields[2]}
            for extra in fields[3:]:
                key, _, value = extra.partition("=")
                ch[key] = value
            if ch["rule"] not in RULES:
                sys.exit("%s:%d: unknown rule %r" % (path, n, ch["rule"]))
            chapters.append(ch)
    return chapters


def read(src, name):
    with open(os.path.join(src, name), encoding="utf-8") as f:
        return f.read()


def rule_sentence(ch):
    esc = html.escape
    mask = "<code>%s</code>" % esc(ch.get("mask", "?"))
    text = esc(RULES[ch["rule"]]).replace("{mask}", mask)
    status = ch.get("status", "0")
    if status != "0":
        text += " Both programs must exit with status %s." % esc(status)
    else:
        text += " Both must exit with status 0."
    return text


def page(title, body, css_href="style.css"):
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n"
        "<title>%s</title>\n<link rel=\"stylesheet\" href=\"%s\">\n"
        "</head>\n<body>\n%s</body>\n</html>\n"
        % (html.escape(title), css_href, body)
    )


def nav(chapters, i):
    links = ['<a href="index.html">gochan by Example</a>']
    if i > 0:
        p = chapters[i - 1]
        links.append('<a id="prev" href="%s.html">&larr; %s</a>'
                     % (html.escape(p["slug"]), html.escape(p["title"])))
    if i + 1 < len(chapters):
        n = chapters[i + 1]
        links.append('<a id="next" href="%s.html">%s &rarr;</a>'
                     % (html.escape(n["slug"]), html.escape(n["title"])))
    return "<nav>%s</nav>\n" % " ".join(links)


TIMELINE_HELP = (
    "One run of the C program, traced with <code>GOCHAN_TRACE</code>: a lane "
    "per goroutine and for the main thread. Tall solid bars: running on a P; "
    "thin dotted: runnable, waiting for a P; hatched: blocked. Arrows: which "
    "goroutine or thread woke which. Hover over a bar or an arrow to see what "
    "it waits on and who woke it.")


def timeline_section(ch, traces):
    """The chapter's timeline: an inline SVG drawn from traces/<slug>.json,
    or a sentence saying why there is none."""
    slug, esc = ch["slug"], html.escape
    svg, why = None, None
    if traces is None:
        why = "no traces were given to the generator"
    else:
        path = os.path.join(traces, slug + ".json")
        if not os.path.exists(path):
            why = "the program wrote no trace"
        else:
            try:
                trace = timeline.load(path)
                svg = timeline.render(
                    trace, "Goroutine timeline of %s" % ch["title"],
                    id_prefix="tl-" + slug, svg_id="timeline")
                if svg is None:
                    why = "its trace has no events"
            except timeline.TraceError as e:
                why = "its trace cannot be read (%s)" % e
    text = "<section class=\"timeline\" id=\"timeline-section\">"
    text += "<h2>Timeline (the trace of %s.c)</h2>\n" % esc(slug)
    if svg is None:
        text += ("<p class=\"missing\" id=\"timeline-missing\">No timeline "
                 "for this chapter: %s.</p>" % esc(why))
    else:
        text += "<p class=\"rule\">%s</p>\n%s" % (TIMELINE_HELP, svg)
    return text + "</section>\n"


def chapter_page(src, chapters, i, traces=None):
    ch = chapters[i]
    slug, esc = ch["slug"], html.escape
    go, c, out = (read(src, slug + ext) for ext in (".go", ".c", ".out"))
    body = nav(chapters, i)
    body += "<header><h1 id=\"title\">%s</h1>\n" % esc(ch["title"])
    body += "<p class=\"rule\" id=\"rule\">%s</p></header>\n" % (
        rule_sentence(ch))
    body += "<div class=\"columns\">\n"
    for lang, name, text in (("go", "Go", go), ("c", "C", c)):
        body += (
            "<section class=\"column\"><h2>%s: %s</h2>\n"
            "<pre class=\"source %s\" id=\"%s-source\"><code>%s</code></pre>"
            "</section>\n"
            % (name, esc(slug + "." + lang), lang, lang, esc(text)))
    body += "</div>\n"
    body += (
        "<section class=\"output\"><h2>Output (%s)</h2>\n"
        "<pre id=\"output\">%s</pre></section>\n"
        % (esc(slug + ".out"), esc(out)))
    body += timeline_section(ch, traces)
    body += nav(chapters, i)
    return page(ch["title"] + " - gochan by Example", body)


def index_page(chapters):
    items = "".join(
        '<li><a href="%s.html">%s</a></li>\n'
        % (html.escape(ch["slug"]), html.escape(ch["title"]))
        for ch in chapters)
    body = (
        "<header><h1>gochan by Example</h1>\n"
        "<p class=\"rule\">The concurrency chapters of Go by Example, each "
        "as a Go program and the C program that does the same with gochan, "
        "side by side, with the output both print and the goroutine "
        "timeline of one run of the C program. CTest runs every C "
        "program and compares its output with the expected one.</p>"
        "</header>\n<ol id=\"chapters\">\n%s</ol>\n"
        "<footer>Generated from examples/by-example/ by docs/site/gen.py."
        "</footer>\n" % items)
    return page("gochan by Example", body)


def build(src, out, traces=None):
    chapters = read_chapters(src)
    os.makedirs(out, exist_ok=True)
    files = {"style.css": CSS, "index.html": index_page(chapters)}
    for i, ch in enumerate(chapters):
        files[ch["slug"] + ".html"] = chapter_page(src, chapters, i, traces)
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    return chapters


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(REPO, "examples",
                                                  "by-example"),
                    help="directory with chapters.txt and the programs")
    ap.add_argument("--traces", metavar="DIR",
                    help="directory with the chapters' traces, <slug>.json")
    ap.add_argument("--timeline", nargs=2, metavar=("TRACE", "SVG"),
                    help="only draw the timeline of TRACE into the file SVG")
    ap.add_argument("--title", help="the SVG's title (with --timeline)")
    ap.add_argument("out", nargs="?", default=os.path.join("build", "site"),
                    help="output directory (default build/site)")
    args = ap.parse_args()
    if args.timeline:
        trace, svg = args.timeline
        try:
            timeline.render_file(trace, svg, args.title)
        except timeline.TraceError as e:
            sys.exit("gen.py: %s" % e)
        print("timeline: %s" % svg)
        return
    chapters = build(args.src, args.out, args.traces)
    drawn = sum(1 for ch in chapters if args.traces and os.path.exists(
        os.path.join(args.traces, ch["slug"] + ".json")))
    print("by-example site: %d chapters (%d with a trace) in %s"
          % (len(chapters), drawn, os.path.join(args.out, "index.html")))


if __name__ == "__main__":
    main()
