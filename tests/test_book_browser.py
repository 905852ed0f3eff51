"""`kokuho book --version R6 --out r6.html` in a real browser: headless Chromium opens the file, every item
of R6 has its card, every link inside the page lands on an element, the charts are drawn, and the page asks
the network for nothing. Screenshots are kept in tests/artifacts/ (gitignored) for a person to look at.

Chromium is driven as in tests/test_report_browser.py (its Browser class, over --remote-debugging-pipe).
Without chromium the test is skipped, except under CI, where .ci/run installs it.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from test_report_browser import ARTIFACTS, CHROMIUM, Browser

import cli
from engine import ast
from engine.versions import RuleSet, default_rules_dir

PROBE = r"""
(() => {
  const ids = new Set(Array.from(document.querySelectorAll('[id]')).map(e => e.id));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));
  const broken = links.filter(h => !h.startsWith('#') || !document.getElementById(decodeURIComponent(h.slice(1))));
  const cards = Array.from(document.querySelectorAll('article.item')).map(a => ({id: a.id, change: a.dataset.change, origin: a.dataset.origin,
    h: Math.round(a.getBoundingClientRect().height)}));
  const charts = Array.from(document.querySelectorAll('figure svg')).map(s => ({id: s.closest('figure').id,
    w: Math.round(s.getBoundingClientRect().width), shapes: s.querySelectorAll('path, use').length}));
  const refs = Array.from(document.querySelectorAll('[src], link, script, img, iframe, object, embed')).map(e => e.tagName);
  const box = id => { const r = document.getElementById(id).getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height]; };
  return JSON.stringify({links: links.length, broken, cards, charts, refs, ids: ids.size,
    boxes: {alpha: box('item-alpha'), table: box('item-target_table'), example: box('example-target_99_100')},
    height: document.documentElement.scrollHeight});
})()
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed: .ci/run installs it with apt-get install chromium")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium fonts-ipafont-gothic); under CI this test fails instead")
    tmp = tmp_path_factory.mktemp("book")
    out = tmp / "r6.html"
    assert cli.main(["book", "--version", "R6", "--out", str(out)]) == 0
    url = out.resolve().as_uri()
    browser = Browser(tmp / "profile")
    shots = {}
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Log", "Runtime"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride", {"width": 1100, "height": 1400, "deviceScaleFactor": 1, "mobile": False}, session=session
        )
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_event("Page.loadEventFired")
        probe = json.loads(
            browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)["result"]["value"]
        )
        for name, (x, y, w, h) in probe["boxes"].items():
            shots[name] = browser.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": {"x": x, "y": y, "width": w, "height": min(h, 3000), "scale": 1}},
                session=session,
            )
        shots["top"] = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    for name, shot in shots.items():
        (ARTIFACTS / f"book-{name}.png").write_bytes(base64.b64decode(shot["data"]))
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    return {"probe": probe, "requests": requests, "url": url}


def test_every_item_has_its_card(page):
    """Every item of R6 (inherited ones too) and every example it runs has a card; removed items have theirs, marked removed."""
    r6 = RuleSet.from_paths([default_rules_dir()]).version("R6")
    cards = {c["id"]: c for c in page["probe"]["cards"]}
    want = {("example-" if isinstance(i, ast.Example) else "item-") + n for n, i in r6.items.items()}
    assert want <= set(cards)
    assert {k for k, c in cards.items() if c["change"] == "removed"} == {"example-target_97_100"}
    assert all(c["h"] > 40 for c in cards.values())
    assert cards["item-alpha"]["change"] == "changed" and cards["item-alpha"]["origin"] == "R6"
    assert cards["item-levy_total"]["change"] == "inherited" and cards["item-levy_total"]["origin"] == "R3"
    assert cards["item-relief"]["change"] == "added"


def test_every_link_resolves(page):
    """Every link of the page is to an element of the page, and there are many (names in formulas, the contents)."""
    assert page["probe"]["broken"] == []
    assert page["probe"]["links"] > 300


def test_schedule_charts_are_drawn(page):
    """α and the relief ratio have their charts, laid out at a real size."""
    charts = {c["id"]: c for c in page["probe"]["charts"]}
    assert sorted(charts) == ["chart-alpha", "chart-relief_ratio"]
    for c in charts.values():
        assert c["w"] > 400 and c["shapes"] > 5, c


def test_no_network_request(page):
    """The page requests only its own file and refers to nothing outside it."""
    assert page["requests"] == [page["url"]]
    assert page["probe"]["refs"] == []


def test_screenshots_kept(page):
    for name in ("top", "alpha", "table", "example"):
        data = (ARTIFACTS / f"book-{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
