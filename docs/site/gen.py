#!/usr/bin/env python3
"""Builds the gochan by Example site: one page per chapter of
examples/by-example/chapters.txt with the Go program and the C program side
by side, the expected output below and the rule CTest compares it by, plus an
index. Python 3's standard library only; no network.

    python3 docs/site/gen.py [--src DIR] [OUT]

DIR defaults to examples/by-example of the repository this file is in, OUT
to build/site.
"""
import argparse
import html
import os
import sys

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


def chapter_page(src, chapters, i):
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
        "side by side, with the output both print. CTest runs every C "
        "program and compares its output with the expected one.</p>"
        "</header>\n<ol id=\"chapters\">\n%s</ol>\n"
        "<footer>Generated from examples/by-example/ by docs/site/gen.py."
        "</footer>\n" % items)
    return page("gochan by Example", body)


def build(src, out):
    chapters = read_chapters(src)
    os.makedirs(out, exist_ok=True)
    files = {"style.css": CSS, "index.html": index_page(chapters)}
    for i, ch in enumerate(chapters):
        files[ch["slug"] + ".html"] = chapter_page(src, chapters, i)
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    return chapters


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(REPO, "examples",
                                                  "by-example"),
                    help="directory with chapters.txt and the programs")
    ap.add_argument("out", nargs="?", default=os.path.join("build", "site"),
                    help="output directory (default build/site)")
    args = ap.parse_args()
    chapters = build(args.src, args.out)
    print("by-example site: %d chapters in %s"
          % (len(chapters), os.path.join(args.out, "index.html")))


if __name__ == "__main__":
    main()
