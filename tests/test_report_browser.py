"""The report in a real browser: headless Chromium opens the bundled-data report from a file and
every chart and table is there, laid out and non-empty, and the page asks the network for nothing.

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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1200,1600", "--remote-debugging-pipe"]
CHARTS = ["chart-alpha", "chart-bands", "chart-target", "chart-levy", "chart-deficit"]
YEARS = [2024, 2025, 2026]  # the bundled R6's target-table period, the report's default
GROUPS = ["target", "levy", "rates", "other"]
TABLES = (["table-versions", "table-data", "table-rules-1", "table-other-rules"] + [f"table-summary-{k}" for k in (1, 2, 3)]
          + [f"table-muni-{y}-{g}" for y in YEARS for g in GROUPS] + ["table-undefined", "table-citations"])

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
  return JSON.stringify({charts, tables, refs, csp, title: document.title, height: document.documentElement.scrollHeight});
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

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds, pass_fds=(3, 4, to_child_r, from_child_w))
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
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_event("Page.loadEventFired")
        probe = json.loads(browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)["result"]["value"])
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                      "clip": {"x": 0, "y": 0, "width": 1200, "height": min(probe["height"], 16000), "scale": 0.5}},
                            session=session)
        top = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-full.png").write_bytes(base64.b64decode(shot["data"]))
    (ARTIFACTS / "report-top.png").write_bytes(base64.b64decode(top["data"]))
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
