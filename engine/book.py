"""A resolved version -> one self-contained HTML rule book for reviewers (`kokuho book`).

Every item of the version, inherited ones included, is shown with its label, unit, citation
and formula, names linked to their definitions; band tables as tables, schedules as a table
and a small chart (matplotlib SVG, as in the report), examples as tables of their given values
and expectations with the result of running them (engine/examples.py). Each item says which
version wrote it and how it differs from the base version (new, changed, restated,
inherited); items the version removes are listed too. The table of contents follows the
policy's chapters, read from the citations (`cite "第4章 …"`).

The page follows the report's conventions (engine/report/): Japanese first, no script, no
font, no stylesheet or image loaded from anywhere (a Content-Security-Policy of
`default-src 'none'`), print CSS, and the same bytes from the same rules.

`book_items` is the one place that reads which items a version holds and where they come
from (`version.items`, `version.origin`); the rest of the module works on its BookItems.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from pathlib import Path

import attrs

from . import ast
from .display import reason_text, version_labels
from .examples import EXPECT_UNDEFINED, ExampleRun, run_example
from .format import expression_text
from .versions import RuleSet, Version
from .years import FiscalYear

CHAPTER = re.compile(r"第\s*([0-9０-９]+|[一二三四五六七八九十]+)\s*章")
_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NAME = re.compile(r"[^\W\d]\w*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|「[^」\n]*」')
CHART_YEARS_MAX = 20  # a schedule's chart shows at most this many fiscal years

TEXT = {
    "title": "規則書",
    "lead": "この文書は規則ファイルから自動で作成されています。各項目の式・区分表・スケジュール・計算例は、評価に使われる規則そのものです。",
    "contents": "目次",
    "version_info": "版の概要",
    "version": "版",
    "name": "名称",
    "status": "状態",
    "plan_period": "計画期間",
    "basis": "根拠",
    "cite": "出典",
    "extends": "基の版",
    "chain": "継承の順",
    "rule_file": "規則ファイル",
    "counts": "項目数",
    "legend": "凡例",
    "no_chapter": "章の記載のない項目",
    "chapter_cites": "この章の出典",
    "examples": "計算例",
    "summary": "集計の設定",
    "removed": "この版で削除された項目",
    "removed_note": "基の版にあり、この版で remove された項目です（この版では評価されません）。",
    "kind": {"input": "入力", "definition": "定義", "table": "区分表", "schedule": "スケジュール", "summary": "集計", "example": "計算例"},
    "unit": "単位",
    "units": {
        "percent": "パーセント (%)",
        "pp": "ポイント (pp)",
        "yen": "円",
        "ratio": "比率",
        "count": "件数・人数",
        "year": "年度",
        "bool": "真偽 (true / false)",
        "text": "文字列",
    },
    "scope": "データ",
    "scopes": {"municipal": "区市町村別（区市町村・年度ごとに1行）", "prefecture": "都全体（年度ごとに1行）"},
    "columns": "列見出し",
    "effective": "適用期間",
    "history": "年度ごとの規則",
    "history_note": "この版で評価するとき、各年度に適用される記述",
    "always": "常に",
    "written_by": "記述した版",
    "source": "規則",
    "formula": "式",
    "over": "区分の基準",
    "band": "区分",
    "interval": "範囲",
    "result": "目標・結果",
    "wording": "文言",
    "years": "年度",
    "value": "値",
    "before": "改定前",
    "after": "改定後",
    "change": "変更",
    "changes": {
        "added": "新規",
        "changed": "変更",
        "restated": "再掲（変更なし）",
        "inherited": "継承",
        "removed": "削除",
        "original": "記述",
    },
    "change_notes": {
        "added": "この版で新しく追加された項目",
        "changed": "基の版の項目をこの版で変更（override）",
        "restated": "override しているが内容は基の版と同じ",
        "inherited": "基の版から変更なく引き継いだ項目",
        "removed": "基の版にあり、この版で削除",
        "original": "この版で記述（基の版がないため比較なし）",
    },
    "band_changes": {"added": "追加", "removed": "削除", "bounds": "範囲", "result": "結果", "wording": "文言"},
    "given": "与える値",
    "municipality": "区市町村",
    "code": "団体コード",
    "prefecture": "都全体",
    "expectations": "期待する結果",
    "subject": "対象",
    "item": "項目",
    "expected": "期待値",
    "actual": "計算値",
    "outcome": "結果",
    "pass": "合格",
    "fail": "不合格",
    "undefined": "未定義",
    "example_year": "年度",
    "example_problems": "この計算例は実行できません",
    "example_summary": "計算例 {n} 件中 {passed} 件合格",
    "not_plotted": "式で与えられた年度はグラフに含めていません。",
    "chart_title": "{label}の推移",
    "generated": "kokuho book により作成。同じ規則からは同じ内容になります。",
    "summary_kinds": {"bands": "区分別の集計", "total": "合計", "tally": "件数", "show": "表示", "columns": "列", "screen": "画面の列"},
}


@attrs.frozen
class BookItem:
    """One item as the book shows it: the item in force, who wrote it, and what the base version had."""

    name: str
    item: object  # the ast item in force (for a removed item: the base version's)
    origin: str  # the version whose file states it
    base: object | None  # the base version's item of the same name, if any
    change: str  # added | changed | restated | inherited | removed; original when the version extends none

    @property
    def kind(self) -> str:
        return {
            ast.InputDecl: "input",
            ast.Definition: "definition",
            ast.Table: "table",
            ast.Schedule: "schedule",
            ast.Summary: "summary",
            ast.Example: "example",
        }[type(self.item)]

    @property
    def anchor(self) -> str:
        return f"{'example' if isinstance(self.item, ast.Example) else 'item'}-{self.name}"


def book_items(version: Version, base: Version | None) -> list[BookItem]:
    """Every item of the version in its order, then the base's items it removes: the only reader of items and origins."""
    out = []
    for name, item in version.items.items():
        origin = version.origin.get(name, version.id)
        before = base.items.get(name) if base is not None else None
        if base is None:
            change = "original"
        elif origin != version.id:
            change = "inherited"
        elif before is None:
            change = "added"
        else:
            change = "restated" if _same(before, item) else "changed"
        out.append(BookItem(name, item, origin, before, change))
    if base is not None:
        for name, item in base.items.items():
            if name not in version.items:
                out.append(BookItem(name, item, base.origin.get(name, base.id), item, "removed"))
    return out


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    return attrs.evolve(a, override=False) == attrs.evolve(b, override=False) if hasattr(a, "override") else a == b


def chapter_of(cite: str | None) -> int | None:
    """第4章 … -> 4 (full-width and kanji numerals too); None when the citation names no chapter."""
    m = CHAPTER.search(cite or "")
    if not m:
        return None
    digits = unicodedata.normalize("NFKC", m.group(1))
    if digits.isdigit():
        return int(digits)
    if "十" in digits:
        tens, _, ones = digits.partition("十")
        n = (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (_KANJI_DIGITS.get(ones, 0) if ones else 0)
    else:
        n = _KANJI_DIGITS.get(digits, 0)
    return n or None


@attrs.frozen
class Book:
    version: Version
    base: Version | None
    items: tuple[BookItem, ...]
    runs: dict  # example name -> ExampleRun


def build_book(ruleset: RuleSet, version_id: str | None = None) -> Book:
    """The book of one version (default: the newest), with its examples run."""
    vid = version_id or ruleset.version_ids[-1]
    version = ruleset.version(vid)
    base = ruleset.version(version.header.extends) if version.header.extends else None
    items = tuple(book_items(version, base))
    runs = {bi.name: run_example(version, bi.item) for bi in items if isinstance(bi.item, ast.Example) and bi.change != "removed"}
    return Book(version, base, items, runs)


# ---- rendering -------------------------------------------------------------------------------


def _linked(text: str, names: set[str]):
    """Rule text with every item name linked to its definition (text in quotes left alone)."""
    from markupsafe import Markup, escape

    out = []
    pos = 0
    for m in _STRING.finditer(text):
        out.append(_link_names(text[pos : m.start()], names))
        out.append(str(escape(m.group())))
        pos = m.end()
    out.append(_link_names(text[pos:], names))
    return Markup("".join(out))


def _link_names(text: str, names: set[str]) -> str:
    from markupsafe import escape

    out = []
    pos = 0
    for m in _NAME.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        w = m.group()
        out.append(f'<a class="ref" href="#item-{escape(w)}">{escape(w)}</a>' if w in names else str(escape(w)))
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)


def _value_text(node) -> str:
    """An example's value as written (numbers keep their spelling and unit), `undefined` as 未定義."""
    if node is None:
        return TEXT["undefined"]
    if isinstance(node, (ast.Number, ast.YearLiteral)):
        return node.text
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    return node.value


def _shown(v, unit: str) -> str:
    from .explain import show
    from .values import is_undef

    if v is EXPECT_UNDEFINED or is_undef(v):
        return TEXT["undefined"]
    return show(v, unit)


def _where(item, version: Version) -> str:
    from .explain import shown_path

    span = getattr(item, "span", None)
    return f"{shown_path(span.file)}:{span.line}" if span is not None and span.line else ""


def _item_view(bi: BookItem, book: Book, names: set[str]) -> dict:
    t = TEXT
    item = bi.item
    view = {
        "name": bi.name,
        "anchor": bi.anchor,
        "kind": bi.kind,
        "kind_text": t["kind"][bi.kind],
        "label": getattr(item, "label", None) or "",
        "unit": t["units"].get(getattr(item, "unit", ""), getattr(item, "unit", "")) if hasattr(item, "unit") else "",
        "unit_name": getattr(item, "unit", ""),
        "cite": getattr(item, "cite", None) or "",
        "origin": bi.origin,
        "change": bi.change,
        "change_text": t["changes"][bi.change],
        "change_note": t["change_notes"][bi.change],
        "where": _where(item, book.version),
        "effective": item.effective.both if getattr(item, "effective", None) is not None else "",
        "base_version": book.base.id if book.base is not None else "",
        "meta_changes": [],
        "base_where": _where(bi.base, book.version) if bi.base is not None else "",
        "history": [],
    }
    if isinstance(item, ast.InputDecl):
        view["scope"] = t["scopes"][item.scope]
        view["columns"] = "、".join(item.columns)
    if isinstance(item, ast.Definition):
        view["formula"] = _linked(expression_text(item.expr), names)
        if bi.change == "changed" and isinstance(bi.base, ast.Definition):
            view["base_formula"] = _linked(expression_text(bi.base.expr), names)
    if isinstance(item, ast.Table):
        view["table"] = _table_view(bi, names)
    if isinstance(item, ast.Schedule):
        view["schedule"] = _schedule_view(bi, book, names)
    if isinstance(item, ast.Summary):
        view["summary"] = [
            {"kind": t["summary_kinds"].get(line.kind, line.kind), "names": _linked(", ".join(line.names), names)} for line in item.lines
        ]
    if isinstance(item, ast.Example):
        view["example"] = _example_view(item, book.runs.get(bi.name), names, version_labels(book.version))
    pieces = book.version.pieces(bi.name) if bi.change != "removed" else ()
    if len(pieces) > 1:  # a revision that takes over from a year: which statement is in force in which years
        view["history"] = [
            {
                "years": p.years.both if p.years is not None else t["always"],
                "version": p.version,
                "where": _where(p.item, book.version),
                "current": p.item is item,
            }
            for p in pieces
        ]
    if bi.change in ("changed", "restated") and bi.base is not None:
        # With a history, the base's statement keeps its own years: its `effective` is not changed, only followed.
        keys = ("label", "cite", "unit") if view["history"] else ("label", "cite", "effective", "unit")
        view["meta_changes"] = [
            (k, str(getattr(bi.base, k) or "—"), str(getattr(item, k) or "—"))
            for k in keys
            if hasattr(item, k) and getattr(bi.base, k, None) != getattr(item, k)
        ]
    return view


def _table_view(bi: BookItem, names: set[str]) -> dict:
    from .diff import align_bands

    table: ast.Table = bi.item
    base = bi.base if isinstance(bi.base, ast.Table) and bi.change == "changed" else None
    rows = []
    for r in align_bands(base, table) if base is not None else [(None, b, "") for b in table.bands]:
        a, b, change = (r.a, r.b, r.change) if base is not None else r
        rows.append(
            {
                "change": change.split(", ")[0] if change else "",
                "change_text": "、".join(TEXT["band_changes"].get(w, w) for w in change.split(", ")) if change else "",
                "b": _band_cells(b, names),
                "a": _band_cells(a, names) if base is not None else None,
            }
        )
    return {
        "key": _linked(expression_text(table.key), names),
        "rows": rows,
        "compare": base is not None,
        "base_key": _linked(expression_text(base.key), names) if base is not None and base.key != table.key else None,
    }


def _band_cells(band: ast.Band | None, names: set[str]) -> dict | None:
    if band is None:
        return None
    return {
        "label": band.label or "",
        "interval": band.interval,
        "result": _linked(expression_text(band.result), names),
        "wording": band.wording or "",
    }


def _schedule_view(bi: BookItem, book: Book, names: set[str]) -> dict:
    s: ast.Schedule = bi.item
    base = bi.base if isinstance(bi.base, ast.Schedule) and bi.change == "changed" else None

    def rows(sched: ast.Schedule) -> list[dict]:
        return [
            {
                "years": e.years_text or str(e.years),
                "fiscal": e.years.both if e.years.first is not None or e.years.last is not None else "全年度",
                "value": _linked(expression_text(e.value), names),
                "wording": e.wording or "",
            }
            for e in sched.entries
        ]

    entries = rows(s)
    base_entries = rows(base) if base is not None else None
    from markupsafe import Markup

    chart = _schedule_chart(bi, book, base)
    return {
        "entries": entries,
        "base_entries": base_entries,
        "chart": Markup(chart[0]) if chart else None,
        "note": chart[1] if chart else None,
    }


def _chart_years(book: Book, schedules) -> list[int]:
    years: set[int] = set()
    period = book.version.header.plan_period
    if period is not None and period.is_bounded:
        years.update(range(period.first - 1, period.last + 2))
    for s in schedules:
        for e in s.entries:
            for y in (e.years.first, e.years.last):
                if y is not None:
                    years.add(y)
    if not years:
        return []
    lo, hi = min(years), max(years)
    if hi - lo + 1 > CHART_YEARS_MAX:
        lo = max(lo, hi - CHART_YEARS_MAX + 1)
    return list(range(lo, hi + 1))


def _constant(e) -> Fraction | None:
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Number):
        return -e.operand.value
    return None


def _schedule_chart(bi: BookItem, book: Book, base: ast.Schedule | None):
    """(svg, note) of a schedule's values by fiscal year, the base version's dashed beside it; None if nothing to draw."""
    from .report import figure_svg, matplotlib_setup

    s: ast.Schedule = bi.item
    years = _chart_years(book, [s] + ([base] if base is not None else []))
    if not years or s.unit in ("bool", "text"):
        return None
    scale = 100 if s.unit in ("percent", "pp") else 1

    def series(sched: ast.Schedule):
        xs, ys, skipped = [], [], 0
        for k, y in enumerate(years):
            e = next((e for e in sched.entries if y in e.years), None)
            v = _constant(e.value) if e is not None else None
            if e is not None and v is None:
                skipped += 1
            if v is not None:
                xs.append(k)
                ys.append(float(v * scale))
        return xs, ys, skipped

    xs, ys, skipped = series(s)
    if len(xs) < 2:
        return None
    import warnings

    matplotlib, Figure, rc = matplotlib_setup()
    with warnings.catch_warnings(), matplotlib.rc_context(rc):
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(6.4, 2.2))
        fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.25)
        ax = fig.add_subplot()
        if base is not None:
            bx, by, _ = series(base)
            ax.plot(
                bx,
                by,
                marker="s",
                color="#8c8c8c",
                linestyle="--",
                linewidth=1.2,
                markersize=3,
                label=f"{book.base.id}（{TEXT['before']}）",
            )
        ax.plot(xs, ys, marker="o", color="#1f5fa8", linewidth=1.5, markersize=4, label=f"{book.version.id}")
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:g}", (x, y), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=6.5, color="#1f5fa8")
        ax.set_xticks(range(len(years)), [f"FY{y}\n({FiscalYear(y).wareki})" for y in years], fontsize=6.5)
        ax.set_xlim(-0.5, len(years) - 0.5)
        lo, hi = min(ys + [0.0]), max(ys)
        ax.set_ylim(lo - (hi - lo) * 0.1 - 0.01, hi + (hi - lo) * 0.2 + 0.01)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        ax.set_ylabel({"percent": "%", "pp": "pp", "yen": "円"}.get(s.unit, s.unit), fontsize=7)
        ax.legend(loc="best", fontsize=7, frameon=False)
        svg = figure_svg(fig, f"chart-{bi.name}")
    return svg, (TEXT["not_plotted"] if skipped else None)


def _example_view(ex: ast.Example, run: ExampleRun | None, names: set[str], labels: dict) -> dict:
    from markupsafe import Markup, escape

    columns: list[tuple[str, int | None]] = []
    for m in ex.municipalities:
        for a in m.values:
            if (a.name, a.year) not in columns:
                columns.append((a.name, a.year))
    munis = []
    for m in ex.municipalities:
        cells = {(a.name, a.year): _value_text(a.value) for a in m.values}
        munis.append({"code": m.code, "name": m.name, "cells": [cells.get(c, "") for c in columns]})

    def head(name: str, year: int | None):
        y = FiscalYear(year or ex.year)
        return Markup(f'{_link_names(name, names)}<br><span class="yr">{escape(str(y))}</span>')

    outcomes = []
    if run is not None:
        muni_names = {m.code: m.name for m in ex.municipalities}
        for o in run.outcomes:
            x = o.expectation
            subject = f"{x.code} {muni_names.get(x.code, '')}".strip() if x.code is not None else TEXT["prefecture"]
            expected = _value_text(x.value)  # as written in the rules
            outcomes.append(
                {
                    "subject": subject,
                    "name": Markup(_link_names(x.name, names)),
                    "expected": expected,
                    "actual": _shown(o.actual, o.unit),
                    "passed": o.passed,
                    "reason": reason_text(o.actual.reason, "ja", labels) if hasattr(o.actual, "reason") else (o.problem or ""),
                }
            )
    problems = [f"{m}" for _, m, _ in run.problems] if run is not None else []
    return {
        "year": FiscalYear(ex.year).both,
        "columns": [head(n, y) for n, y in columns],
        "munis": munis,
        "prefecture": [{"name": Markup(head(a.name, a.year)), "value": _value_text(a.value)} for a in ex.prefecture],
        "outcomes": outcomes,
        "problems": problems,
        "passed": run.passed if run is not None else None,
    }


def render_html(book: Book) -> str:
    """The book as one HTML document that loads nothing (same rules, same bytes)."""
    import jinja2
    from markupsafe import Markup

    from .explain import shown_path
    from .report import FONTS

    v = book.version
    # Every item with a card of its own can be linked to (a removed item keeps its card, in the last section).
    names = {bi.name for bi in book.items if not isinstance(bi.item, (ast.Summary, ast.Example))}
    chapters: dict = {}
    summary = None
    removed = []
    for bi in book.items:
        if bi.change == "removed":
            removed.append(_item_view(bi, book, names))
            continue
        view = _item_view(bi, book, names)
        if isinstance(bi.item, ast.Summary):
            summary = view
            continue
        ch = chapter_of(getattr(bi.item, "cite", None))
        group = chapters.setdefault(ch, {"items": [], "examples": [], "cites": []})
        group["examples" if isinstance(bi.item, ast.Example) else "items"].append(view)
        cite = getattr(bi.item, "cite", None)
        if cite and cite not in group["cites"] and not isinstance(bi.item, ast.Example):
            group["cites"].append(cite)
    order = sorted(k for k in chapters if k is not None) + ([None] if None in chapters else [])
    toc = []
    for k in order:
        title = f"第{k}章" if k is not None else TEXT["no_chapter"]
        toc.append({"id": f"chapter-{k}" if k is not None else "chapter-none", "title": title, **chapters[k]})
    h = v.header
    counts = {c: sum(1 for bi in book.items if bi.change == c and not isinstance(bi.item, ast.Example)) for c in TEXT["changes"]}
    runs = list(book.runs.values())
    head = {
        "id": v.id,
        "title": h.title or v.id,
        "status": h.status or "",
        "basis": h.basis or "",
        "cite": h.cite or "",
        "period": (h.plan_period.both if h.plan_period else "") + (f"（{h.period_text}）" if h.period_text else ""),
        "extends": h.extends or "",
        "chain": " → ".join(v.chain),
        "file": shown_path(v.file.path),
        "counts": [(TEXT["changes"][c], c, n) for c, n in counts.items() if n],
        "examples": TEXT["example_summary"].format(n=len(runs), passed=sum(1 for r in runs if r.passed)),
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("book.html.j2").render(
        t=TEXT,
        head=head,
        chapters=toc,
        summary=summary,
        removed=removed,
        fonts=Markup(", ".join(f"'{f}'" for f in FONTS) + ", sans-serif"),
    )
