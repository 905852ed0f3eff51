"""The report in a real browser: headless Chromium opens the bundled-data report from a file and
every chart and table is there, laid out and non-empty, the contents' links lead to their sections,
and the page asks the network for nothing. Chromium then prints it to PDF (Page.printToPDF, the
page's own print CSS and page sizes) and pypdf reads the pages' text: the one-page summary is page 1,
the target-rate comparison table is on one page, the municipal tables are on landscape pages and
repeat their header on each page.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in,
fd 4 out, NUL-separated JSON), so the test needs only the `chromium` Debian package and the
standard library. The page's own Network events list every request it makes: the only one
allowed is the file:// document itself. Host names resolve to nothing (--host-resolver-rules),
so a mistake could not reach the network even if the page tried. A full-page screenshot is kept
in tests/artifacts/ (gitignored) for a person to look at.

Without chromium the test is skipped with the reason, except under CI (CI set), where .ci/run
installs chromium and a missing browser is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT = 90  # seconds for the whole browser session
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1200,1600",
    "--remote-debugging-pipe",
]
CHARTS = ["chart-alpha", "chart-bands", "chart-target", "chart-levy", "chart-deficit"]
YEARS = [2024, 2025, 2026]  # the bundled R6's target-table period, the report's default
GROUPS = ["target", "levy", "rates", "other"]
TABLES = (
    ["table-figures", "table-top-1", "table-top-2", "table-versions", "table-data", "table-rules-1", "table-other-rules"]
    + [f"table-summary-{k}" for k in (1, 2, 3)]
    + ["table-distribution"]
    + [f"table-movers-{y}-{m}-{side}" for y in YEARS for m in ("target", "levy", "net") for side in ("gains", "losses")]
    + [f"table-muni-{y}-{g}" for y in YEARS for g in GROUPS]
    + ["table-undefined", "table-citations"]
)
SECTIONS = [
    "overview",
    "versions",
    "rules",
    "other-rules",
    "summary",
    "charts",
    "distribution",
    "movers",
    "municipal",
    "undefined",
    "citations",
]

# Runs in the page (DevTools evaluation, not a page script: the page's CSP forbids scripts).
PROBE = r"""
(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  const charts = Array.from(document.querySelectorAll('figure')).map(f => {
    const svg = f.querySelector('svg');
    const texts = svg ? Array.from(svg.querySelectorAll('text')) : [];
    return {id: f.id, box: svg ? box(svg) : [0, 0], shapes: svg ? svg.querySelectorAll('path, use, rect').length : 0,
            texts: texts.filter(t => t.textContent.trim() && t.getBBox().width > 0).length, caption: (f.querySelector('figcaption') || {}).textContent || ''};
  });
  const tables = Array.from(document.querySelectorAll('table')).map(t => ({
    id: t.id, box: box(t), rows: t.tBodies.length ? t.tBodies[0].rows.length : 0,
    filled: Array.from(t.querySelectorAll('tbody td')).filter(td => td.textContent.trim()).length,
    cells: t.querySelectorAll('tbody td').length}));
  const refs = Array.from(document.querySelectorAll('[src], [href], link, script, img, iframe, object, embed'))
    .map(e => e.tagName + ' ' + (e.getAttribute('src') || e.getAttribute('href') || ''))
    .filter(x => !/^A #/.test(x) && !/^use #/i.test(x));
  const csp = (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || '';
  const toc = Array.from(document.querySelectorAll('nav#toc a')).map(a => {
    const id = a.getAttribute('href').slice(1), target = document.getElementById(id);
    return {id, text: a.textContent, found: !!target, top: target ? Math.round(target.getBoundingClientRect().top + window.scrollY) : -1,
            heading: target ? ((target.querySelector('h2, h3') || target).textContent || '').trim() : ''};
  });
  return JSON.stringify({charts, tables, refs, csp, toc, title: document.title, height: document.documentElement.scrollHeight});
})()
"""


class Browser:
    """Chromium over --remote-debugging-pipe: send a command, wait for its answer, keep every event."""

    def __init__(self, user_data_dir: Path):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds():  # in the child: fd 3 reads our commands, fd 4 writes the answers (kept open: pass_fds)
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4, to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict] = []
        self.deadline = time.monotonic() + TIMEOUT

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self._next:
                if "error" in m:
                    raise AssertionError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str) -> dict:
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            m = self._read()
            self.events.append(m)
            if m.get("method") == method:
                return m

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"chromium did not answer within {TIMEOUT} s")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed the DevTools pipe (did it start?)")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The bundled-data report rendered by chromium: the probe's findings, the page's requests and log."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed: .ci/run installs it with apt-get install chromium")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium fonts-ipafont-gothic); under CI this test fails instead")
    tmp = tmp_path_factory.mktemp("browser")
    report = tmp / "report.html"
    assert cli.main(["report", "--out", str(report)]) == 0
    url = report.resolve().as_uri()
    browser = Browser(tmp / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Log", "Runtime"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, session=session
        )
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_event("Page.loadEventFired")
        probe = json.loads(
            browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)["result"]["value"]
        )
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1200, "height": min(probe["height"], 16000), "scale": 0.5},
            },
            session=session,
        )
        top = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        pdf = browser.send(
            "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}, session=session
        )
    finally:
        browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-full.png").write_bytes(base64.b64decode(shot["data"]))
    (ARTIFACTS / "report-top.png").write_bytes(base64.b64decode(top["data"]))
    (ARTIFACTS / "report.pdf").write_bytes(base64.b64decode(pdf["data"]))
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    log = [e["params"]["entry"] for e in browser.events if e.get("method") == "Log.entryAdded"]
    return {"probe": probe, "requests": requests, "log": log, "url": url}


def test_every_chart_is_drawn(page):
    """The five charts are inline SVG, laid out at a real size, with shapes and with text that the browser laid out."""
    charts = {c["id"]: c for c in page["probe"]["charts"]}
    assert list(charts) == CHARTS
    for cid, c in charts.items():
        width, height = c["box"]
        assert width > 500 and height > 150, (cid, c["box"])
        assert c["shapes"] > 10, cid
        assert c["texts"] > 5, cid
        assert c["caption"].strip(), cid


def test_every_table_is_filled(page):
    """Every table of the report is present with rows and non-empty cells (62 municipalities in each per-municipality table)."""
    tables = {t["id"]: t for t in page["probe"]["tables"]}
    assert sorted(tables) == sorted(TABLES)
    for tid, t in tables.items():
        assert t["rows"] > 0 and t["filled"] > 0, tid
        assert t["box"][0] > 100 and t["box"][1] > 20, (tid, t["box"])
    for y in YEARS:
        for g in GROUPS:
            assert tables[f"table-muni-{y}-{g}"]["rows"] == 62
    assert tables["table-rules-1"]["rows"] == 6  # R3's five bands beside R6's six: 97-100% is split at 99%


def test_no_network_request(page):
    """The page requests only its own file: no script, font, stylesheet or image, and the CSP forbids every load."""
    assert page["requests"] == [page["url"]]
    assert page["probe"]["refs"] == []
    assert page["probe"]["csp"].startswith("default-src 'none'")
    assert [e for e in page["log"] if "Content Security Policy" in e.get("text", "")] == []


def test_screenshot_kept(page):
    """The screenshots are real pictures of the page (PNG signature, not a blank image's few bytes)."""
    for name in ("report-full.png", "report-top.png"):
        data = (ARTIFACTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000, name


def test_contents_lead_to_every_section(page):
    """The contents list every section, each link's target exists, and the sections come in the order listed."""
    toc = page["probe"]["toc"]
    assert [x["id"] for x in toc] == SECTIONS
    assert all(x["found"] for x in toc), [x["id"] for x in toc if not x["found"]]
    tops = [x["top"] for x in toc]
    assert tops == sorted(tops)
    assert toc[0]["text"] == "概要" and toc[-1]["text"] == "適用した規則と出典"


@pytest.fixture(scope="module")
def pdf_pages(page):
    """The printed report: (width, height, text) of each page, read with pypdf."""
    pypdf = pytest.importorskip("pypdf", reason="pypdf is in the test extra: pip install -e '.[test]'")
    reader = pypdf.PdfReader(str(ARTIFACTS / "report.pdf"))
    return [(float(p.mediabox.width), float(p.mediabox.height), p.extract_text() or "") for p in reader.pages]


def test_summary_is_page_one(pdf_pages):
    """Page 1 holds the whole one-page summary (its first and its last line) and nothing after it; the contents
    start page 2. A4 portrait."""
    w, h, first = pdf_pages[0]
    assert (round(w), round(h)) == (595, 842)
    for text in (
        "国民健康保険運営方針 比較レポート",
        "概要",
        "主な変更点",
        "年度別の主な数値",
        "変化の大きい団体（FY2024 (R6)）",
        "未定義の値: R3 124 件、R6 124 件（理由 1 種類）",
    ):
        assert text in first, text
    assert "目次" not in first
    assert pdf_pages[1][2].lstrip().startswith("目次")


def test_rule_table_is_not_split(pdf_pages):
    """The target-rate comparison table (both versions' bands side by side) is printed whole on one page: its
    heading row and its first and last band rows are on the same page."""
    pages = [k for k, (_, _, text) in enumerate(pdf_pages) if "目標収納率（現行）（R3）" in text]
    assert len(pages) == 1
    text = pdf_pages[pages[0]][2]
    for band in ("85%未満", "97%以上100%以下", "99%以上100%以下", "前年度または前々年度実績以上"):
        assert band in text, band


def test_municipal_tables_landscape_with_header_on_each_page(pdf_pages):
    """The per-municipality tables print on A4 landscape pages; a table longer than a page breaks between rows and
    repeats its header (団体コード) on every page it covers."""
    landscape = [(k, text) for k, (w, h, text) in enumerate(pdf_pages) if w > h]
    assert landscape and "団体別の結果" in landscape[0][1]
    rows = [(k, text) for k, text in landscape if "131016" in text or "134210" in text or "千代田区" in text or "小笠原村" in text]
    assert len(rows) >= 12  # twelve tables of 62 rows
    for k, text in landscape:
        if re.search(r"\b13\d{4}\b", text):  # a page with municipal rows
            assert "団体コード" in text, k
    portrait_after = [k for k, (w, h, text) in enumerate(pdf_pages) if w < h and k > landscape[-1][0]]
    assert portrait_after  # the undefined values and the citations go back to portrait
