"""`kokuho book`: what each version's rule book holds, how changes from the base version are marked, the
chapters read from citations, examples run with their pass/fail, and the page's conventions (same bytes,
nothing loaded from anywhere). The page in a real browser: tests/test_book_browser.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import cli
from engine import ast, book
from engine.versions import RuleSet, default_rules_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return RuleSet.from_paths([default_rules_dir()])


@pytest.fixture(scope="module")
def r6_html(shipped) -> str:
    return book.render_html(book.build_book(shipped, "R6"))


def card(html: str, anchor: str) -> str:
    m = re.search(rf'<article class="item [a-z]+" id="{re.escape(anchor)}".*?</article>', html, re.S)
    assert m, anchor
    return m.group()


@pytest.mark.parametrize(
    "cite, chapter",
    [
        ("第4章 納付金の算定方法", 4),
        ("第５章 目標収納率", 5),
        ("第十二章 附則", 12),
        ("第三章", 3),
        ("対象期間 令和6年4月～", None),
        (None, None),
    ],
)
def test_chapter_of(cite, chapter):
    assert book.chapter_of(cite) == chapter


def test_book_items_mark_each_change(shipped):
    """R6 against R3: new items, changed ones, inherited ones and removed ones, each with the version that wrote it."""
    r6 = shipped.version("R6")
    items = {bi.name: bi for bi in book.book_items(r6, shipped.version("R3"))}
    assert (items["relief"].change, items["relief"].origin) == ("added", "R6")
    assert (items["alpha"].change, items["alpha"].origin, items["alpha"].base.entries[0].years_text) == ("changed", "R6", "..")
    assert (items["target_table"].change, items["summary"].change) == ("changed", "changed")
    assert (items["levy_total"].change, items["levy_total"].origin) == ("inherited", "R3")
    assert (items["target_97_100"].change, items["target_97_100"].origin) == ("removed", "R3")
    assert {n for n, bi in items.items() if bi.change == "added"} == {
        "relief_ratio",
        "levy_increase",
        "relief",
        "net_levy",
        "target_97_99_lower",
        "target_97_99_higher",
        "target_97_99_no_year_before_last",
        "target_99_100",
        "target_after_plan",
        "alpha_relief_R6",
        "alpha_relief_R7",
    }
    r3 = {bi.name: bi.change for bi in book.book_items(shipped.version("R3"), None)}
    assert set(r3.values()) == {"original"}


def test_r6_book_has_every_item_and_resolving_links(shipped, r6_html):
    """Every item and example of R6 has its card; every link inside the page points at an id of the page."""
    ids = set(re.findall(r' id="([^"]+)"', r6_html))
    for name, item in shipped.version("R6").items.items():
        assert ("example-" if isinstance(item, ast.Example) else "item-") + name in ids
    hrefs = re.findall(r' href="([^"]*)"', r6_html)
    assert len(hrefs) > 300
    assert [h for h in hrefs if not h.startswith("#") or h[1:] not in ids] == []
    assert "<script" not in r6_html and "src=" not in r6_html and "url(" not in r6_html.replace("url(#chart-", "")
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">" in r6_html


def test_table_of_contents_by_chapter(r6_html):
    toc = re.search(r'<nav class="toc".*?</nav>', r6_html, re.S).group()
    assert re.findall(r'<li><a href="#(chapter-[^"]+|summary|removed)">([^<]+)</a>', toc) == [
        ("chapter-3", "第3章"),
        ("chapter-4", "第4章"),
        ("chapter-5", "第5章"),
        ("chapter-none", "章の記載のない項目"),
        ("summary", "集計の設定"),
        ("removed", "この版で削除された項目"),
    ]
    chapter5 = re.search(r'<section class="chapter" id="chapter-5">.*?</section>', r6_html, re.S).group()
    assert 'id="item-target_table"' in chapter5 and 'id="example-target_99_100"' in chapter5
    assert 'id="item-levy_total"' not in chapter5


def test_changed_definition_table_and_schedule_show_the_base(r6_html):
    """alpha: R6's entries, R3's beside them, and a chart; target_table: both versions' bands row by row with the change."""
    alpha = card(r6_html, "item-alpha")
    assert alpha.startswith('<article class="item changed" id="item-alpha"')
    assert '<span class="badge ver" title="記述した版">R6</span>' in alpha
    assert "改定前（R3）" in alpha and '<figure id="chart-alpha"><svg class="chart"' in alpha
    assert re.findall(r'<tr><td><code>([^<]+)</code></td><td>[^<]*</td><td class="num"><code>([^<]+)</code>', alpha)[:3] == [
        ("..FY2023", "1"),
        ("FY2024", "0.86"),
        ("FY2025", "0.71"),
    ]
    table = card(r6_html, "item-target_table")
    bands = re.search(r'<table class="bands".*?</table>', table, re.S).group()
    rows = re.findall(r'<tr class="([a-z, ]*)">', bands)
    assert rows == ["", "", "", "", "bounds", "added"]
    assert "<td>範囲、結果</td>" in table and "<td>追加</td>" in table
    assert '<p>区分の基準: <code><a class="ref" href="#item-previous_rate">previous_rate</a></code></p>' in table
    relief = card(r6_html, "item-relief")
    assert relief.startswith('<article class="item added"')
    assert (
        '= <a class="ref" href="#item-floor">' not in relief
        and '= floor(<a class="ref" href="#item-levy_increase">levy_increase</a> * <a class="ref" href="#item-relief_ratio">relief_ratio</a>, 1円)'
        in relief
    )
    assert card(r6_html, "item-levy_total").startswith('<article class="item inherited"')
    assert card(r6_html, "example-target_97_100").startswith('<article class="item removed"')


def test_examples_show_given_values_and_outcomes(r6_html):
    ex = card(r6_html, "example-target_99_100")
    assert '<span class="badge pass">合格</span>' in ex
    given = re.findall(r"<tr><td>(\d{6})</td><td>([^<]+)</td>((?:<td class=\"num\">[^<]*</td>)+)</tr>", ex)
    assert [(c, n, re.findall(r">([^<]*)<", cells)) for c, n, cells in given] == [
        ("131016", "千代田区", ["99.00%", "", "99.10%"]),
        ("131024", "中央区", ["99.60%", "", "98.90%"]),
        ("131032", "港区", ["100.00%", "", ""]),
    ]
    outcomes = re.findall(
        r'<tr class="(pass|fail)"><td>([^<]+)</td><td><code><a class="ref" href="#item-(\w+)">\w+</a></code></td>'
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td>',
        ex,
    )
    assert outcomes[-1] == ("pass", "131032 港区", "achieved", "未定義", "未定義")
    assert len(outcomes) == 6


def test_a_failing_example_is_shown_failed(tmp_path):
    """An expectation that does not hold: 不合格, with the computed value and the version's count of passes."""
    for f in ("R3.rules", "R6.rules"):
        shutil.copy(default_rules_dir() / f, tmp_path / f)
    (tmp_path / "R7.rules").write_text(
        "ruleset R7 extends R6\n  period R7\n\n"
        'example wrong "誤った期待値" year R7\n  cite "第4章 試し"\n{\n  expect prefecture alpha = 0.70\n}\n',
        encoding="utf-8",
    )
    html = book.render_html(book.build_book(RuleSet.from_paths([tmp_path]), "R7"))
    ex = card(html, "example-wrong")
    assert '<span class="badge fail">不合格</span>' in ex
    assert (
        '<tr class="fail"><td>都全体</td>' in ex and '<td class="num">0.70</td><td class="num">0.71</td><td class="fail">不合格</td>' in ex
    )
    assert "計算例 14 件中 13 件合格" in html


def test_same_rules_same_bytes(shipped, r6_html):
    assert book.render_html(book.build_book(shipped, "R6")) == r6_html


def test_cli_book(tmp_path, capsys):
    out = tmp_path / "r3.html"
    assert cli.main(["book", "--version", "R3", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert (
        html.startswith('<!DOCTYPE html>\n<html lang="ja">')
        and "<title>規則書 — R3 東京都国民健康保険運営方針（令和3～5年度）</title>" in html
    )
    assert card(html, "item-alpha").startswith('<article class="item original"')
    assert capsys.readouterr().err == f"wrote {out}: the rule book of R3\n"
    assert cli.main(["book", "--version", "R5"]) == 2
    assert capsys.readouterr().err == "unknown-version: unknown version 'R5'; the rules define: R3, R6\n"


def test_example_values_as_written(r6_html):
    """Given values keep their spelling, `undefined` reads 未定義, and a text expectation reads as the computed text does."""
    ex = card(r6_html, "example-target_97_99_no_year_before_last")
    assert '<tr><td>131016</td><td>千代田区</td><td class="num">未定義</td><td class="num">97.00%</td></tr>' in ex
    statuses = card(r6_html, "example-deficit_statuses")
    assert '<td class="num">no plan</td><td class="num">no plan</td><td class="pass">合格</td>' in statuses


def test_an_item_stated_for_some_years_shows_which_statement_is_in_force_when(tmp_path):
    """A revision that takes over from a year (R9's target table, effective 令和9～11年度): the book lists, for the
    version, the years of each statement in force (R3's, R6's, R9's), marks the one shown, and does not call the
    base's `effective` changed (R6's table keeps its years)."""
    rules = RuleSet.from_paths([default_rules_dir(), ROOT / "docs" / "examples" / "R9.rules"])
    html = book.render_html(book.build_book(rules, "R9"))
    table = card(html, "item-target_table")
    history = re.search(r'<tr class="history"><th[^>]*>年度ごとの規則</th><td>(.*?)</td></tr>', table).group(1)
    assert history.split("<br>") == [
        "..FY2023: R3 <code>rules/tokyo/R3.rules:59</code>",
        "FY2024-FY2026 (R6-R8): R6 <code>rules/tokyo/R6.rules:13</code>",
        "FY2027-FY2029 (R9-R11): R9 <code>docs/examples/R9.rules:20</code> ←",
    ]
    assert "変更: effective" not in table and "<th>変更: label</th>" in table
    assert '<tr class="history">' not in card(html, "item-beta")  # one statement for every year: no history
