#!/usr/bin/env bash
# The HTML report (src/output/report.h) in a real browser: Debian's Chromium, headless, opening
# the page from a file:// URL. For a real trace (testdata/seeds, newest Go release):
#   - the page ran without an error and fetched nothing (it says what its script counted:
#     window errors, and the resource timing entries, which list every request a page makes);
#   - the DOM holds a panic mark on the lanes and an entry in the panic list per panic of the
#     trace, and selecting a panic (#panic=N, as a click does) shows its stack;
#   - the report made while tracing is the one `deftrace report` makes from the saved trace;
#   - a screenshot is written and is not blank (far larger than a blank page's).
# For a panic whose value is markup (testdata/hostile_values markup VALUE): the value is shown
# as text, and no element of it exists in the page.
#   tests/report_browser_test.sh DEFTRACE TESTDATA_OUT SOURCE_DIR [SCREENSHOT_DIR]
set -euo pipefail
deftrace=$1 testdata=$2 root=$3 shots=${4:-}
. "$root/scripts/headless-chromium.sh"
command -v chromium >/dev/null || { echo "no chromium (scripts/setup-browser.sh)" >&2; exit 1; }
manifest=$testdata/manifest.tsv
newest=$(awk -F'\t' '$2 == "default" && $3 == "seeds" {print $1}' "$manifest" | sort -V | tail -1)
bin() { awk -F'\t' -v m="$newest" -v p="$1" '$1 == m && $2 == "default" && $3 == p {print $5 "/prog"}' "$manifest"; }
[[ -x $(bin seeds) && -x $(bin hostile_values) ]] || { echo "no builds of seeds and hostile_values in $manifest" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$deftrace" --no-color -o /dev/null --json "$work/seeds.json" --report "$work/seeds.html" "$(bin seeds)" >/dev/null
"$deftrace" report "$work/seeds.json" -o "$work/seeds-saved.html"
cmp "$work/seeds.html" "$work/seeds-saved.html" || { echo "the report made while tracing differs from deftrace report's" >&2; exit 1; }
value='<script>document.title="pwned"</script><img src=x onerror="document.title=1"><u>underlined</u>'
"$deftrace" --no-color -o /dev/null --json "$work/markup.json" --report "$work/markup.html" "$(bin hostile_values)" markup "$value" >/dev/null

panics=$(python3 -c 'import json,sys; print(sum(e["kind"] in ("panic","repanic") for e in json.load(open(sys.argv[1]))["events"]))' "$work/seeds.json")
((panics >= 2)) || { echo "the seeds trace has $panics panics" >&2; exit 1; }
select=$((panics - 1))
chromium_headless --dump-dom "file://$work/seeds.html" >"$work/seeds.dom"
chromium_headless --dump-dom "file://$work/seeds.html#panic=$select" >"$work/selected.dom"
chromium_headless --dump-dom "file://$work/markup.html#panic=0" >"$work/markup.dom"
chromium_headless --window-size=1400,1000 --screenshot="$work/seeds.png" "file://$work/seeds.html#panic=$select" >/dev/null
chromium_headless --window-size=1400,1000 --screenshot="$work/blank.png" "data:text/html,<html><body></body></html>" >/dev/null

python3 - "$work" "$select" "$value" <<'PY'
import html.parser, json, os, sys

work, select, value = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Dom(html.parser.HTMLParser):
    """Elements by tag and class, body attributes, and the text under an element with an id."""
    def __init__(self, text):
        super().__init__()
        self.tags, self.classes, self.body, self.text, self.stack = {}, {}, {}, {}, []
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for c in (a.get("class") or "").split():
            self.classes[(tag, c)] = self.classes.get((tag, c), 0) + 1
        if tag == "body":
            self.body = a
        if tag not in ("br", "img", "meta", "link", "input"):
            self.stack.append(a.get("id") or a.get("class"))
    def handle_endtag(self, tag):
        if self.stack and tag not in ("br", "img", "meta", "link", "input"):
            self.stack.pop()
    def handle_data(self, data):
        for key in self.stack:
            if key:
                self.text[key] = self.text.get(key, "") + data

failures = []
def check(ok, what):
    if not ok:
        failures.append(what)

trace = json.load(open(os.path.join(work, "seeds.json")))
panics = [e for e in trace["events"] if e["kind"] in ("panic", "repanic")]
dom = Dom(open(os.path.join(work, "seeds.dom")).read())
check(dom.body.get("data-ready") == "1", "the page's script did not finish")
check("data-errors" not in dom.body, "the page had errors: %s" % dom.body.get("data-errors"))
check(dom.body.get("data-resources") == "0", "the page fetched %s resources" % dom.body.get("data-resources"))
check(dom.classes.get(("rect", "panic-mark"), 0) == len(panics),
      "%d panic marks on the lanes, %d panics in the trace" % (dom.classes.get(("rect", "panic-mark"), 0), len(panics)))
check(dom.classes.get(("li", "panic-item"), 0) == len(panics), "the panic list does not hold every panic")
selected = Dom(open(os.path.join(work, "selected.dom")).read())
detail = selected.text.get("panic-detail", "")
check(selected.classes.get(("rect", "selected"), 0) == 1, "the selected panic is not marked on the lanes")
for frame in panics[select]["stack"]:
    check(frame["function"] in detail, "the selected panic's detail lacks its frame %s" % frame["function"])
check(str(panics[select].get("value")) in detail, "the selected panic's detail lacks its value")

markup = Dom(open(os.path.join(work, "markup.dom")).read())
check(markup.body.get("data-ready") == "1" and "data-errors" not in markup.body, "the markup page did not run cleanly")
check(markup.tags.get("img", 0) == 0 and markup.tags.get("u", 0) == 0, "the value's markup became elements")
check(markup.tags.get("script", 0) == 2, "the page has %d script elements, not its own 2" % markup.tags.get("script", 0))
check(value in markup.text.get("panic-value", ""), "the value is not shown as text: %r" % markup.text.get("panic-value"))
check("pwned" not in markup.text.get("title", "") , "the value's script ran")

shot, blank = (os.path.getsize(os.path.join(work, f)) for f in ("seeds.png", "blank.png"))
check(shot > 3 * blank, "the screenshot (%d bytes) is hardly larger than a blank page's (%d)" % (shot, blank))
print("report: %d panics, screenshot %d bytes (a blank page %d)" % (len(panics), shot, blank))
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
PY
if [[ -n $shots ]]; then
  mkdir -p "$shots"
  cp "$work/seeds.png" "$shots/report-seeds.png"
fi
