"""The reports as a reader sees them: headless Chromium opens each HTML page.

Checks that every page loads without a script or resource error, that every
image is present and decoded, and takes full-page screenshots (kept beside the
reports, under ``screenshots/``, to look at). Skips, saying so, where Chromium
is not installed (``scripts/system-deps.sh`` installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_reports import TINY_SLUG, YEAR, built_reports

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                "(Debian package `chromium`; run `make system-deps`)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]

PROBE = """<script>
window.__lgErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  window.__lgErrors.push(e.message || ('failed to load ' + (t.src || t.href || t.tagName)));
}, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.alt || i.src.slice(0, 60); });
  var out = document.createElement('pre');
  out.id = 'lg-probe';
  out.textContent = 'LGPROBE' + JSON.stringify({images: imgs.length, broken: broken, errors: window.__lgErrors,
    title: document.title,
    headings: Array.prototype.map.call(document.querySelectorAll('h2'),
                                       function (h) { return h.textContent; })}) + 'LGPROBE';
  document.body.appendChild(out);
});
</script>"""


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)


#: Every table's width against its box at the window's width (a table wider than its box scrolls sideways).
WIDTHS = """<script>
window.addEventListener('load', function () {
  var out = document.createElement('pre');
  out.id = 'lg-probe';
  out.textContent = 'LGPROBE' + JSON.stringify(Array.prototype.map.call(
    document.querySelectorAll('.lg-table-wrap'), function (w) {
      return {table: w.querySelector('table').id, width: w.scrollWidth, box: w.clientWidth}; })) + 'LGPROBE';
  document.body.appendChild(out);
});
</script>"""


def probe(page: Path, tmp: Path, script: str = PROBE, width: int | None = None):
    """Open a copy of ``page`` with a probe script (in a window ``width`` px wide); return what it saw after load."""
    text = page.read_text(encoding="utf-8")
    copy = page.with_name(f".probe-{page.name}")
    copy.write_text(re.sub(r"<head>", "<head>" + script, text, count=1), encoding="utf-8")
    window = [f"--window-size={width},2000"] if width else []
    try:
        r = _chromium([*window, "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()], tmp)
    finally:
        copy.unlink()
    m = re.search(r"<pre id=\"lg-probe\">LGPROBE(.*?)LGPROBE</pre>", r.stdout, re.S)
    assert m, f"Chromium did not load {page} (status {r.returncode}): {r.stderr[-800:]}"
    import html

    return json.loads(html.unescape(m.group(1)))


def screenshot(page: Path, png: Path, tmp: Path, height: int = 5000) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    r = _chromium([f"--screenshot={png}", f"--window-size=1200,{height}", "--hide-scrollbars", page.as_uri()], tmp)
    assert png.exists() and png.stat().st_size > 20_000, f"no screenshot of {page}: {r.stderr[-500:]}"


@pytest.fixture(scope="module")
def year_dir():
    root = built_reports()
    info = json.loads((root / "done.json").read_text())
    assert info["areas_ok"], info
    return root / "reports" / str(YEAR)


@pytest.mark.parametrize("slug", ["wales", TINY_SLUG])
def test_report_loads_with_every_image(year_dir, slug, tmp_path):
    page = year_dir / slug / "report.html"
    seen = probe(page, tmp_path)
    assert seen["errors"] == [], seen["errors"]
    # the English page shows the English figures (figures/<name>.png; the Welsh ones are <name>.cy.png)
    n_figures = len([f for f in (year_dir / slug / "figures").glob("*.png") if not f.name.endswith(".cy.png")])
    assert seen["images"] == n_figures >= 2
    assert seen["broken"] == []
    assert "Supporting People" in seen["title"]
    for heading in ("Headline figures", "Data completeness", "Quality and methodology"):
        assert heading in seen["headings"]
    screenshot(page, year_dir.parent.parent / "screenshots" / f"{slug}.png", tmp_path)


def test_index_links_resolve(year_dir, tmp_path):
    page = year_dir / "index.html"
    seen = probe(page, tmp_path)
    assert seen["errors"] == []
    links = re.findall(r'href="([^"]+/report\.html)"', page.read_text())
    assert f"{TINY_SLUG}/report.html" in links and "wales/report.html" in links
    for link in links:
        assert (year_dir / link).is_file(), link
    screenshot(page, year_dir.parent.parent / "screenshots" / "index.png", tmp_path, height=1000)


@pytest.mark.parametrize("page", ["report.html", "report.cy.html"])
def test_tables_fit_a_960_px_window(year_dir, page, tmp_path):
    """At 960 px (the page's width) no table scrolls sideways, in either language: headers wrap and codes break
    after _ = /, so a reader sees every column (the lead-need table scrolled before, in Welsh most)."""
    tables = probe(year_dir / "wales" / page, tmp_path, WIDTHS, width=960)
    assert any(t["table"] == "table-by_lead_need" for t in tables)
    wide = [t for t in tables if t["width"] > t["box"]]
    assert wide == [], wide
