"""Evaluations of two versions -> one self-contained HTML document (Jinja2 page, matplotlib SVG charts).

`build_report` evaluates a base version A and a version B over the same data for a list of
fiscal years and gathers what the page shows; `render_html` lays it out with the template
`templates/report.html.j2`. The page loads nothing: no script, no font, no stylesheet, no
image from anywhere; the charts are inline SVG whose text stays text, so Japanese labels
render with the reader's fonts, and a Content-Security-Policy of `default-src 'none'`
forbids every load. The same inputs give the same bytes (fixed SVG hash salt, no
metadata, no timestamps).

Exact values are shown exactly (render.format_display); a chart is a picture, so its bar
heights are floats converted from the exact values at drawing time only.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from fractions import Fraction
from pathlib import Path

import attrs

from . import ast
from .errors import UsageError, finding
from .results import EvalResult, default_columns
from .values import is_undef
from .render import format_display, format_value
from .selection import note as selection_note
from .summary import summarise
from .versions import NotInForce, Piece, Version
from .years import FiscalYear, Period

# The rule names the charts and the per-municipality tables look for. The rules are data, so
# these are a convention, not policy: a version without one of them just loses that chart
# or column group (the other columns still appear, in the last group).
REPORT_NAMES = {
    "alpha": "alpha",  # α by fiscal year
    "target": "target_rate",  # each municipality's target change
    "levy": "levy_total",  # levy change per insured person
    "net_levy": "net_levy",  # the same after transition relief, where a version has it
    "insured": "insured",  # the divisor of "per insured person"
    "deficit_status": "deficit_status",  # deficit status by year
}
COLUMN_GROUPS = (
    ("target", ("previous_rate", "target_rate", "achieved", "meets_national_average")),
    ("levy", ("levy_medical", "levy_support", "levy_care", "levy_total", "relief", "net_levy")),
    ("rates", ("income_rate_medical", "per_capita_medical", "income_rate_support", "per_capita_support",
               "income_rate_care", "per_capita_care")),
    ("other", ()),  # every other municipal column
)

# The fonts named in the page and the charts, tried in order by the reader's browser.
FONTS = ["IPAexGothic", "IPAPGothic", "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Hiragino Kaku Gothic ProN",
         "Yu Gothic", "Meiryo", "IPAGothic", "DejaVu Sans"]
COLOR_A = "#8c8c8c"
COLOR_B = "#1f5fa8"
YEAR_COLORS = ("#1f5fa8", "#e08a1e", "#3a9a4a", "#b0413e", "#7a5ba8", "#8c6d31")
STATUS_COLORS = ("#3a9a4a", "#e0b31e", "#1f77b4", "#b0413e", "#7a5ba8", "#8c6d31")
UNDEFINED_COLOR = "#d0d0d0"

TEXT = {
    "ja": {
        "lang": "ja",
        "title": "国民健康保険運営方針 比較レポート",
        "compared": "比較",
        "period": "対象年度",
        "versions": "比較する版",
        "role_a": "比較元 (A)",
        "role_b": "比較先 (B)",
        "version": "版",
        "name": "名称",
        "status": "状態",
        "plan_period": "計画期間",
        "basis": "根拠",
        "rule_file": "規則ファイル",
        "data_files": "データ",
        "file": "ファイル",
        "rows": "行数",
        "notes": "ファイルの注記",
        "synthetic": "このレポートの数値は合成データ（実在の数値ではありません）によるものです。データファイルの注記を参照してください。",
        "synthetic_short": "合成データ",
        "real": "—",
        "rule_diff": "目標収納率の比較（規則）",
        "rule_diff_note": "前年度の現年分収納率の区分ごとに、両方の版の目標収納率を並べています。達成自治体数は、各版の対象年度の初年度の実績です。",
        "key": "前年度の現年分収納率",
        "target": "目標収納率",
        "achievers": "達成 / 自治体数",
        "change": "変更",
        "no_table": "区分表なし",
        "piece_from": "{version}：{origin}の区分表",
        "same_tables": "対象年度の区分表に違いはありません。",
        "other_rules": "その他の規則の変更",
        "item": "項目",
        "year": "年度",
        "value": "値",
        "summary": "年度別集計",
        "difference": "差",
        "achieved_total": "目標収納率の達成 / 自治体数",
        "charts": "グラフ",
        "chart_alpha": "医療費指数反映係数αの推移",
        "chart_bands": "前年度の現年分収納率の区分別 自治体数と達成自治体数",
        "chart_target": "団体別 目標収納率の変化",
        "chart_levy": "団体別 被保険者1人当たり納付金の変化（昇順）",
        "chart_deficit": "赤字解消の状況（年度別 自治体数）",
        "municipalities": "自治体数",
        "achieved_bar": "達成",
        "pp": "pp",
        "yen_per_person": "円／人",
        "undefined": "未定義",
        "not_in_force": "区分表なし",
        "no_band": "区分なし（前年度の収納率が未定義）",
        "per_municipality": "団体別の結果",
        "per_municipality_note": "変化した値は色付きで、B の値の下に A の値を示します。「—」は未定義の値で、番号は下の「未定義の値」の項目です。",
        "group_target": "目標収納率",
        "group_levy": "納付金・経過措置",
        "group_rates": "標準保険料率",
        "group_other": "その他",
        "code": "団体コード",
        "muni": "団体名",
        "band": "区分",
        "only": "のみ",
        "undefined_values": "未定義の値",
        "undefined_none": "未定義の値はありません。",
        "reason": "理由",
        "count": "件数",
        "citations": "適用した規則と出典",
        "cite": "出典",
        "line": "行",
        "kind": "種類",
        "generated": "kokuho report により作成。同じ規則とデータからは同じ内容になります。",
        "true": "達成",
        "false": "未達成",
        "bool_true": "○",
        "bool_false": "×",
        "changes": {"changed": "変更", "added": "追加", "removed": "削除", "bounds": "範囲", "result": "目標", "wording": "文言",
                    "not_in_force_in": "{version} では適用なし"},
        "missing_chart": "この版には {name} がないため、このグラフはありません。",
        "undefined_in_chart": "未定義のため表示していない値: {n} 件（「未定義の値」参照）",
        "changed_count": "変化した値: {n} / {m}",
    },
    "en": {
        "lang": "en",
        "title": "NHI operating policy: comparison report",
        "compared": "Comparison",
        "period": "Fiscal years",
        "versions": "Versions compared",
        "role_a": "Base (A)",
        "role_b": "Compared (B)",
        "version": "Version",
        "name": "Title",
        "status": "Status",
        "plan_period": "Plan period",
        "basis": "Basis",
        "rule_file": "Rule file",
        "data_files": "Data",
        "file": "File",
        "rows": "Rows",
        "notes": "Notes in the file",
        "synthetic": "The figures in this report come from SYNTHETIC data (not real figures). See the notes of the data files.",
        "synthetic_short": "synthetic",
        "real": "—",
        "rule_diff": "Target collection rates: the rules side by side",
        "rule_diff_note": "For each band of the previous year's collection rate, the target under both versions. Achievers are those of the first year of each version's years.",
        "key": "Previous year's rate",
        "target": "Target",
        "achievers": "Achievers / municipalities",
        "change": "Change",
        "no_table": "no band table",
        "piece_from": "{version}: {origin}'s table",
        "same_tables": "The band tables do not differ in these years.",
        "other_rules": "Other rule changes",
        "item": "Item",
        "year": "Fiscal year",
        "value": "Value",
        "summary": "Summary by fiscal year",
        "difference": "Difference",
        "achieved_total": "Achievers / municipalities",
        "charts": "Charts",
        "chart_alpha": "Medical-cost index coefficient α by fiscal year",
        "chart_bands": "Municipalities and achievers by band of the previous year's rate",
        "chart_target": "Change of each municipality's target collection rate",
        "chart_levy": "Change of each municipality's levy per insured person (sorted)",
        "chart_deficit": "Deficit status by fiscal year (municipalities)",
        "municipalities": "municipalities",
        "achieved_bar": "achieved",
        "pp": "pp",
        "yen_per_person": "yen per person",
        "undefined": "undefined",
        "not_in_force": "no band table",
        "no_band": "no band (previous rate undefined)",
        "per_municipality": "Results by municipality",
        "per_municipality_note": "Changed values are coloured, with A's value below B's. '—' is an undefined value; its number refers to 'Undefined values' below.",
        "group_target": "Target collection rate",
        "group_levy": "Levy and transition relief",
        "group_rates": "Standard premium rates",
        "group_other": "Other",
        "code": "Code",
        "muni": "Municipality",
        "band": "Band",
        "only": " only",
        "undefined_values": "Undefined values",
        "undefined_none": "No value is undefined.",
        "reason": "Reason",
        "count": "Count",
        "citations": "Rules applied and their sources",
        "cite": "Source",
        "line": "Line",
        "kind": "Kind",
        "generated": "Made by kokuho report. The same rules and data give the same document.",
        "true": "achieved",
        "false": "not achieved",
        "bool_true": "yes",
        "bool_false": "no",
        "changes": {},
        "missing_chart": "This version has no {name}, so there is no such chart.",
        "undefined_in_chart": "Values not drawn because they are undefined: {n} (see 'Undefined values')",
        "changed_count": "Changed values: {n} / {m}",
    },
}
LANGS = tuple(TEXT)


# ---- what the report shows --------------------------------------------------------------


@attrs.frozen
class DataFile:
    """One input data file: where it is, how many data rows it has, and its leading '#' notes."""

    role: str  # municipal | prefecture
    path: str  # as shown: relative to the working directory when below it
    rows: int
    sha256: str
    notes: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        return any("SYNTHETIC" in n.upper() or "合成" in n for n in self.notes)


@attrs.frozen
class Report:
    """Two versions evaluated over the same data for the same fiscal years."""

    a: Version
    b: Version
    years: tuple[int, ...]
    span: tuple[int, ...]  # the years of the overview charts: both plan periods and `years`
    result_a: EvalResult
    result_b: EvalResult
    rules: object  # diff.RulesDiff
    files: tuple[DataFile, ...]
    seed_rows: dict  # version id -> (year, tuple[BandCount]) for the side-by-side band table
    only: tuple | None = None  # -m: the municipalities (indices) the per-municipality tables list; None: all

    @property
    def synthetic(self) -> bool:
        return any(f.synthetic for f in self.files)


def select_municipalities(rep: Report, only) -> Report:
    """The report with its per-municipality tables narrowed to some municipalities (-m); the rest stays whole-prefecture."""
    return attrs.evolve(rep, only=tuple(only))


def default_versions(session, version: str | None, base: str | None, *, year: str | None = None, period: str | None = None) -> tuple[Version, Version]:
    """B is the given version, or the newest whose plan period covers the years asked; A the given base or the version B extends."""
    b = session.choose_version(version, year, period)
    if base is None:
        if b.header.extends is None:
            others = ", ".join(v for v in session.ruleset.version_ids if v != b.id) or "none"
            raise UsageError(finding("no-base", f"version {b.id} extends no version: give --base, the version to compare it with (the rules define: {others})"))
        base = b.header.extends
    a = session.version(base)
    if a.id == b.id:
        raise UsageError(finding("same-version", f"--base and --version are both {b.id}; a report compares two versions"))
    return a, b


def target_period(version: Version) -> Period | None:
    """The period of the band table the summary counts, if it has one, else the plan period."""
    table = _bands_line(version)
    item = version.items.get(table[0]) if table else None
    eff = getattr(item, "effective", None)
    if eff is not None and eff.is_bounded:
        return eff
    return version.header.plan_period


def build_report(session, *, version: str | None = None, base: str | None = None, period: str | None = None,
                 year: str | None = None) -> Report:
    """Evaluate A and B over the session's data for the period (default: B's target or plan period)."""
    from . import diff

    a, b = default_versions(session, version, base, year=year, period=period)
    if year is None and period is None:
        p = target_period(b)
        if p is None:
            raise UsageError(finding("no-year", f"version {b.id} has no plan period; give --period"))
        period = f"FY{p.first}..FY{p.last}"
    years = tuple(session.years(b, year, period))
    result_a = session.evaluate(a, years, default_columns(a))
    result_b = session.evaluate(b, years, default_columns(b), donor=result_a.evaluator)  # what B shares with A is computed once
    spans = [years[0], years[-1]]
    for v in (a, b):
        pp = v.header.plan_period
        if pp is not None and pp.is_bounded:
            spans += [pp.first, pp.last]
    span = tuple(range(min(spans), max(spans) + 1))
    rules = diff.compare_rules(a, b, years)
    files = tuple(_data_file(role, path, session.data_for(b)) for role, path in zip(("municipal", "prefecture"), session.data_paths))
    seed_rows = {}
    for v, y in ((a, _first_plan_year(a, years)), (b, years[0])):
        seed_rows[v.id] = _band_counts(session, v, y)
    return Report(a, b, years, span, result_a, result_b, rules, files, seed_rows)


def _first_plan_year(v: Version, years) -> int:
    p = target_period(v)
    return p.first if p is not None and p.first is not None else years[0]


def _bands_line(v: Version):
    s = v.items.get("summary")
    for line in s.lines if s else ():
        if line.kind == "bands":
            return line.names
    return None


def _band_counts(session, v: Version, year: int):
    """(year, bands of the summary's band table with achievers) or None when there is no data for it."""
    line = _bands_line(v)
    if line is None:
        return None
    data = session.data_for(v)
    if not data.years or not data.years[0] <= year <= data.years[-1]:
        return None
    result = session.evaluate(v, [year], [line[1]])
    counts = summarise(result)[0].bands.get(line[0])
    return None if counts is None or is_undef(counts) else (year, counts)


def _data_file(role: str, path: str, data) -> DataFile:
    from .data import split_sheet
    from .source import MAX_DATA_BYTES, read_bytes

    p = Path(split_sheet(path)[0])  # a workbook's sheet (data.xlsx#sheet): the workbook
    raw = read_bytes(p, "data file", limit=MAX_DATA_BYTES)
    notes = []
    text = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = text.decode("cp932", errors="replace")
    for line in decoded.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("#"):
            break
        notes.append(line.lstrip().lstrip("#").strip())
    rows = data.row_counts.get(str(path), 0)
    return DataFile(role, _shown_path(p), rows, hashlib.sha256(raw).hexdigest(), tuple(notes))


def _shown_path(p: Path) -> str:
    """A path relative to the working directory when below it (the same in every checkout); the shipped
    sample as data/sample/... wherever kokuho is installed; else as given."""
    from .shipped import root

    try:
        for base in (Path.cwd().resolve(), root()):
            if p.resolve().is_relative_to(base):
                return Path(os.path.relpath(p.resolve(), base)).as_posix()
        return str(p)
    except (OSError, ValueError):
        return str(p)


# ---- view model: plain strings and numbers for the template --------------------------------


def _t(lang: str) -> dict:
    if lang not in TEXT:
        raise UsageError(finding("bad-lang", f"--lang {lang}: the report is in {' or '.join(LANGS)}"))
    return TEXT[lang]


def _display(v, unit: str, t: dict) -> str:
    if isinstance(v, bool):
        return t["bool_true"] if v else t["bool_false"]
    return format_display(v, unit)


def _signed(delta: Fraction, unit: str) -> str:
    unit = "pp" if unit == "percent" else unit
    text = format_display(delta, unit)
    return "+" + text if delta > 0 else text


class _Undefined:
    """Numbers the undefined values' reasons in order of appearance, and counts where they occur."""

    def __init__(self):
        self.numbers: dict[str, int] = {}
        self.where: dict[str, dict] = {}  # reason -> {(version, year, label): count}

    def note(self, reason: str, version: str, year: int, label: str) -> int:
        n = self.numbers.setdefault(reason, len(self.numbers) + 1)
        w = self.where.setdefault(reason, {})
        w[(version, year, label)] = w.get((version, year, label), 0) + 1
        return n

    def rows(self) -> list[dict]:
        """One row per reason: the versions, years and items it makes undefined, and how many values."""
        out = []
        for reason, n in self.numbers.items():
            where = self.where[reason]
            versions = list(dict.fromkeys(v for v, _, _ in where))
            years = sorted({y for _, y, _ in where})
            items = list(dict.fromkeys(label for _, _, label in where))
            out.append({"n": n, "reason": reason, "version": ", ".join(versions), "year": ", ".join(FiscalYear(y).both for y in years),
                        "item": "、".join(items), "count": sum(where.values())})
        return out


def _columns(rep: Report) -> list[str]:
    """Municipal columns of both versions, B's order first, then A's extras."""
    cols = list(rep.result_b.columns) + [c for c in rep.result_a.columns if c not in rep.result_b.columns]
    out = []
    y = rep.years[0]
    for c in cols:
        ev = rep.result_b.evaluator if c in rep.result_b.columns else rep.result_a.evaluator
        if isinstance(ev.value(c, y), tuple):
            out.append(c)
    return out


def _label(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "label", None) or name


def _unit(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "unit", "text")


def _value_of(result: EvalResult, name: str, year: int, i: int):
    return result.evaluator.column(name, year)[i]


def _groups(cols: list[str]) -> list[tuple[str, list[str]]]:
    placed: set = set()
    out = []
    for key, names in COLUMN_GROUPS:
        if names:
            members = [c for c in names if c in cols]
        else:
            members = [c for c in cols if c not in placed]
        placed.update(members)
        if members:
            out.append((key, members))
    return out


def _band_label(ev, table: str, year: int, i: int, version: Version) -> str | None:
    item = version.at(year).lookup(table)
    if not isinstance(item, ast.Table):
        return None
    ev.value(table, year)
    choice = ev.band_choices(table, year) or ()
    idx = choice[i] if i < len(choice) else None
    if idx is None:
        return None
    band = item.bands[idx]
    return band.label or band.interval


def municipal_tables(rep: Report, t: dict, undefined: _Undefined) -> list[dict]:
    """Per year and column group: one row per municipality, each cell B's value and A's when it differs."""
    from .values import same

    cols = _columns(rep)
    ms = rep.result_b.evaluator.data.municipalities
    line_b, line_a = _bands_line(rep.b), _bands_line(rep.a)
    out = []
    for y in rep.years:
        for key, names in _groups(cols):
            header = []
            if key == "target" and (line_b or line_a):
                header.append({"label": t["band"], "name": "band", "unit": "text", "only": None})
            for c in names:
                in_a, in_b = c in rep.result_a.columns, c in rep.result_b.columns
                only = None if in_a and in_b else (rep.b.id if in_b else rep.a.id)
                header.append({"label": _label(rep, c), "name": c, "unit": _unit(rep, c), "only": only})
            rows = []
            changed = total = 0
            for i, m in enumerate(ms):
                if rep.only is not None and i not in rep.only:
                    continue
                cells = []
                for h in header:
                    c = h["name"]
                    if c == "band":
                        lb = _band_label(rep.result_b.evaluator, line_b[0], y, i, rep.b) if line_b else None
                        la = _band_label(rep.result_a.evaluator, line_a[0], y, i, rep.a) if line_a else None
                        cells.append({"name": "band", "b": lb or "—", "a": la or "—", "changed": (la or "—") != (lb or "—"),
                                      "b_raw": lb or "", "a_raw": la or "", "b_note": None, "a_note": None, "cls": "text"})
                        continue
                    unit = h["unit"]
                    va = _value_of(rep.result_a, c, y, i) if c in rep.result_a.columns else None
                    vb = _value_of(rep.result_b, c, y, i) if c in rep.result_b.columns else None
                    cell = {"name": c, "cls": "num" if unit not in ("text", "bool") else "text"}
                    for side, v, vid in (("a", va, rep.a.id), ("b", vb, rep.b.id)):
                        if v is None:
                            cell[side], cell[side + "_raw"], cell[side + "_note"] = None, None, None
                        elif is_undef(v):
                            cell[side], cell[side + "_raw"] = "—", ""
                            cell[side + "_note"] = undefined.note(v.reason, vid, y, _label(rep, c))
                        else:
                            cell[side], cell[side + "_raw"], cell[side + "_note"] = _display(v, unit, t), format_value(v, unit), None
                    both = va is not None and vb is not None
                    cell["changed"] = both and not same(va, vb)
                    if both:
                        total += 1
                        changed += cell["changed"]
                    if cell["b"] is None:  # only in A: show A's value in the main place
                        cell["b"], cell["b_raw"], cell["b_note"] = cell["a"], cell["a_raw"], cell["a_note"]
                        cell["a"] = None
                        cell["side"] = rep.a.id
                    else:
                        cell["side"] = rep.b.id
                    cells.append(cell)
                rows.append({"code": m.code, "name": m.name, "cells": cells})
            out.append({"year": FiscalYear(y).both, "year_value": y, "group": key, "title": t["group_" + key], "header": header,
                        "rows": rows, "changed": t["changed_count"].format(n=changed, m=total)
                        + ("" if rep.only is None else f" — {selection_note(len(rep.only), len(ms), 'en' if t is TEXT.get('en') else 'ja')}")})
    return out


def summary_tables(rep: Report, t: dict, undefined: _Undefined) -> list[dict]:
    """Per year: each summary total and prefecture value under A and B, and the difference."""
    from .values import same

    sa, sb = summarise(rep.result_a), summarise(rep.result_b)
    out = []
    for y, ya, yb in zip(rep.years, sa, sb):
        rows = []
        flag_b, flag_a = (_bands_line(rep.b) or (None, None))[1], (_bands_line(rep.a) or (None, None))[1]

        def achievers(s, res, flag):
            for counts in s.bands.values():
                if is_undef(counts):
                    return f"—（u{undefined.note(counts.reason, res.version.id, s.year, t['achieved_total'])}）"
                text = f"{sum(b.achieved for b in counts)} / {sum(b.municipalities for b in counts) + sum(s.no_band.values())}"
                unknown = sum(1 for x in res.evaluator.column(flag, s.year) if is_undef(x))
                return text + (f"（{t['undefined']} {unknown}）" if unknown else "")
            return None

        if flag_a or flag_b:
            xa, xb = achievers(ya, rep.result_a, flag_a), achievers(yb, rep.result_b, flag_b)
            rows.append({"label": t["achieved_total"], "a": xa or "", "b": xb or "", "diff": "", "changed": xa != xb,
                         "name": "achievers", "a_raw": xa or "", "b_raw": xb or ""})
        lines_a = {(kind, name, label): (raw, unit) for kind, name, label, display, raw, unit in ya.lines if kind in ("total", "show") and raw is not None}
        lines_b = {(kind, name, label): (raw, unit) for kind, name, label, display, raw, unit in yb.lines if kind in ("total", "show") and raw is not None}
        keys = list(lines_b) + [k for k in lines_a if k not in lines_b]
        for k in keys:
            kind, name, label = k
            ra = lines_a.get(k)
            rb = lines_b.get(k)
            unit = (rb or ra)[1]
            row = {"label": label, "name": name, "changed": False, "diff": ""}
            for side, x, vid in (("a", ra, rep.a.id), ("b", rb, rep.b.id)):
                if x is None:
                    row[side], row[side + "_raw"] = "", ""
                elif is_undef(x[0]):
                    n = undefined.note(x[0].reason, vid, y, label)
                    row[side], row[side + "_raw"] = "—", ""
                    row[side + "_note"] = n
                else:
                    row[side], row[side + "_raw"] = _display(x[0], unit, t), format_value(x[0], unit)
            if ra is not None and rb is not None:
                row["changed"] = not same(ra[0], rb[0])
                if row["changed"] and not is_undef(ra[0]) and not is_undef(rb[0]) and not isinstance(ra[0], (bool, str)):
                    row["diff"] = _signed(Fraction(rb[0]) - Fraction(ra[0]), unit)
            rows.append(row)
        out.append({"year": FiscalYear(y).both, "rows": rows})
    return out


def rule_tables(rep: Report, t: dict) -> list[dict]:
    """The band tables side by side, as the seed's 目標収納率（現行）/（検討案） table, per run of years."""
    from . import diff

    line = _bands_line(rep.b) or _bands_line(rep.a)
    if line is None:
        return []
    name = line[0]
    runs = [x for x in rep.rules.tables if x.name == name]
    if not runs:
        ta, tb = rep.a.at(rep.years[0]).lookup(name), rep.b.at(rep.years[0]).lookup(name)
        runs = [diff.ItemDiff(name, "table", rep.years, ta, tb, "", diff.align_bands(
            ta if isinstance(ta, ast.Table) else None, tb if isinstance(tb, ast.Table) else None))]
    out = []
    for run in runs:
        sides = []
        for v, x in ((rep.a, run.a), (rep.b, run.b)):
            table = x if isinstance(x, ast.Table) else None
            item = x.item if isinstance(x, NotInForce) else x
            period = (item.effective.both if getattr(item, "effective", None) else (v.header.period_text or (v.header.plan_period.both if v.header.plan_period else ""))) if item else ""
            piece = v.at(run.years[0]).piece(name)  # a revision keeps its base's table before its own years
            shown = v.id
            if isinstance(piece, Piece) and len(v.pieces(name)) > 1:
                period = _span_text(piece.years)
                if piece.version != v.id:
                    shown = t["piece_from"].format(version=v.id, origin=piece.version)
            counts = rep.seed_rows.get(v.id)
            achieved_year = FiscalYear(counts[0]).both if counts and table is not None and _same_bands(table, counts[1]) else None
            sides.append({"version": shown, "label": getattr(item, "label", None) or name, "period": period, "in_force": table is not None,
                          "reason": x.reason if isinstance(x, NotInForce) else (None if x is not None else f"{t['no_table']} ({v.id})"),
                          "achieved_year": achieved_year, "counts": counts[1] if achieved_year else None, "table": table})
        rows = []
        for r in run.rows:
            row = {"change": r.change, "change_text": _change_text(r.change, t)}
            for key, band, side in (("a", r.a, sides[0]), ("b", r.b, sides[1])):
                if band is None or side["table"] is None:
                    row[key] = None
                    continue
                ach = ""
                if side["counts"] is not None:
                    idx = side["table"].bands.index(band)
                    c = side["counts"][idx]
                    ach = f"{c.achieved} / {c.municipalities}"
                row[key] = {"label": band.label or band.interval, "interval": band.interval,
                            "wording": band.wording or diff.expr_text(band.result), "achieved": ach}
            rows.append(row)
        out.append({"years": Period(run.years[0], run.years[-1]).both, "change": _change_text(run.change, t), "a": sides[0], "b": sides[1], "rows": rows})
    return out


def _span_text(p) -> str:
    """A piece's years in either language: FY2024-FY2026 (R6-R8), ～FY2023 (R5), FY2030 (R12)～."""
    if p is None or (p.first is None and p.last is None):
        return "—"
    if p.first is None:
        return f"～{FiscalYear(p.last).both}"
    if p.last is None:
        return f"{FiscalYear(p.first).both}～"
    return p.both


def _change_text(change: str, t: dict) -> str:
    """diff's words for a change ('bounds, result'), in the page's language."""
    if change.startswith("not in force in ") and "not_in_force_in" in t["changes"]:
        return t["changes"]["not_in_force_in"].format(version=change[len("not in force in "):])
    return ", ".join(t["changes"].get(w, w) for w in change.split(", ")) if change else ""


def _same_bands(table: ast.Table, counts) -> bool:
    return len(counts) == len(table.bands) and all(c.interval == b.interval for c, b in zip(counts, table.bands))


def other_rule_changes(rep: Report) -> list[dict]:
    """Schedules by year and definitions that differ, in one short list (the full list: kokuho diff --rules-only)."""
    from . import diff

    rd = rep.rules
    out = []
    for s in rd.schedules:
        out.append({"item": f"{s.label} ({s.name})", "year": FiscalYear(s.year).both,
                    "a": _entry(s.a, s.a_note), "b": _entry(s.b, s.b_note)})
    for d in rd.definitions:
        item = (d.b.item if isinstance(d.b, NotInForce) else d.b) or (d.a.item if isinstance(d.a, NotInForce) else d.a)
        label = getattr(item, "label", None)
        years = Period(d.years[0], d.years[-1]).both

        def formula(x):
            if x is None:
                return "—"
            if isinstance(x, NotInForce):
                return "—"
            if isinstance(x, ast.Definition):
                return diff.expr_text(x.expr)
            if isinstance(x, ast.Schedule):
                return "; ".join(f"{e.years_text or e.years}: {diff.expr_text(e.value)}" for e in x.entries)
            return d.change

        out.append({"item": f"{label} ({d.name})" if label else d.name, "year": years, "a": formula(d.a), "b": formula(d.b)})
    return out


def _entry(e, note) -> str:
    from . import diff

    if e is None:
        return "—"
    return diff.expr_text(e.value) + (f"（{e.wording}）" if e.wording else "")


def citations(rep: Report) -> list[dict]:
    """Every rule item with a citation in either version (examples aside), with its file and line."""
    from .diff import loc

    out = []
    seen = set()
    for v in (rep.b, rep.a):
        h = v.header
        if (v.id, "ruleset") not in seen:
            seen.add((v.id, "ruleset"))
            out.append({"versions": v.id, "name": v.id, "label": h.title or "", "kind": "ruleset", "cite": " / ".join(x for x in (h.basis, h.cite) if x),
                        "line": loc(h.span)})
    for name in list(dict.fromkeys(list(rep.b.items) + list(rep.a.items))):
        items = [(v, v.items.get(name)) for v in (rep.a, rep.b)]
        groups: dict = {}
        for v, item in items:
            if item is None or isinstance(item, (ast.Example, ast.Summary)) or not getattr(item, "cite", None):
                continue
            groups.setdefault(id(item), (item, []))[1].append(v.id)
        for item, vids in groups.values():
            kind = {ast.InputDecl: "input", ast.Definition: "define", ast.Table: "table", ast.Schedule: "schedule"}.get(type(item), "")
            out.append({"versions": ", ".join(vids), "name": name, "label": item.label or "", "kind": kind, "cite": item.cite, "line": loc(item.span)})
    return out


def header(rep: Report, t: dict) -> dict:
    versions = []
    for role, v in ((t["role_a"], rep.a), (t["role_b"], rep.b)):
        h = v.header
        versions.append({"role": role, "id": v.id, "title": h.title or "", "status": h.status or "",
                         "period": (h.plan_period.both if h.plan_period else "") + (f"（{h.period_text}）" if h.period_text else ""),
                         "basis": h.basis or "", "file": Path(v.file.path).name if getattr(v.file, "path", None) else ""})
    return {
        "title": f"{rep.a.id} → {rep.b.id}",
        "period": Period(rep.years[0], rep.years[-1]).both,
        "versions": versions,
        "files": [{"role": f.role, "path": f.path, "rows": f.rows, "sha256": f.sha256[:16], "notes": list(f.notes),
                   "synthetic": f.synthetic} for f in rep.files],
        "synthetic": rep.synthetic,
    }


def render_html(rep: Report, *, lang: str = "ja") -> str:
    """The report as one HTML document that loads nothing (same report, same bytes)."""
    import jinja2
    from markupsafe import Markup

    t = _t(lang)
    undefined = _Undefined()
    summaries = summary_tables(rep, t, undefined)
    tables = municipal_tables(rep, t, undefined)
    charts = [{"id": cid, "title": title, "svg": Markup(svg), "note": note} for cid, title, svg, note in draw_charts(rep, t)]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    page = env.get_template("report.html.j2").render(
        t=t, head=header(rep, t), rule_tables=rule_tables(rep, t), other_rules=other_rule_changes(rep),
        summaries=summaries, charts=charts, tables=tables, undefined=undefined.rows(), citations=citations(rep),
        a=rep.a.id, b=rep.b.id, fonts=Markup(", ".join(f"'{f}'" for f in FONTS) + ", sans-serif"),
    )
    return page


# ---- charts ---------------------------------------------------------------------------------


def _float(x) -> float:
    return float(Fraction(x))


def _svg(fig, prefix: str) -> str:
    """A figure as inline SVG: no XML prolog, no namespaces or metadata (no URL at all), ids made unique."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", s)
    s = s.replace("xlink:href=", "href=")
    ids = set(re.findall(r'\bid="([^"]+)"', s))
    s = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', s)
    s = re.sub(r'(url\(#|href="#)([^)"]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0), s)
    s = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', s, count=1)
    return s.replace("<svg ", f'<svg class="chart" role="img" aria-labelledby="{prefix}-title" ', 1).strip() + "\n"


def _matplotlib():
    import logging

    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # font fallbacks are the reader's browser's business
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rc = {
        "svg.fonttype": "none",  # text stays text: the reader's fonts render the Japanese labels
        "svg.hashsalt": "kokuho-report",  # ids from a fixed salt: the same bytes every time
        "font.family": "sans-serif",
        "font.sans-serif": FONTS,
        "font.size": 8,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "path.simplify": False,
    }
    return matplotlib, Figure, rc


def draw_charts(rep: Report, t: dict) -> list[tuple[str, str, str, str | None]]:
    """(id, title, svg, note) for each chart whose names the versions define."""
    import warnings

    matplotlib, Figure, rc = _matplotlib()
    out = []
    with warnings.catch_warnings(), matplotlib.rc_context(rc):
        warnings.simplefilter("ignore")
        for cid, title, fn in (("alpha", t["chart_alpha"], _chart_alpha), ("bands", t["chart_bands"], _chart_bands),
                               ("target", t["chart_target"], _chart_target), ("levy", t["chart_levy"], _chart_levy),
                               ("deficit", t["chart_deficit"], _chart_deficit)):
            drawn = fn(rep, t, Figure)
            if drawn is None:
                continue
            fig, note = drawn
            out.append((f"chart-{cid}", title, _svg(fig, f"chart-{cid}"), note))
    return out


def _year_ticks(years) -> list[str]:
    return [f"FY{y}\n({FiscalYear(y).wareki})" for y in years]


def _has(rep: Report, name: str) -> tuple[bool, bool]:
    return name in rep.a.items, name in rep.b.items


def _chart_alpha(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["alpha"]
    ha, hb = _has(rep, name)
    if not (ha or hb):
        return None
    fig = Figure(figsize=(7.0, 2.5))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.2)
    ax = fig.add_subplot()
    undefined = 0
    for v, res, color, marker, has in ((rep.a, rep.result_a, COLOR_A, "s", ha), (rep.b, rep.result_b, COLOR_B, "o", hb)):
        if not has:
            continue
        xs, ys = [], []
        for k, y in enumerate(rep.span):
            x = res.evaluator.value(name, y)
            if is_undef(x) or isinstance(x, tuple):
                undefined += 1
                continue
            xs.append(k)
            ys.append(_float(x))
            if v is rep.b:
                ax.annotate(format_display(x, "ratio"), (k, _float(x)), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7, color=color)
        ax.plot(xs, ys, marker=marker, color=color, label=f"{v.id} {_label(rep, name)}", linewidth=1.5, markersize=4,
                linestyle="--" if v is rep.a else "-")
    ax.set_xticks(range(len(rep.span)), _year_ticks(rep.span), fontsize=7)
    ax.set_ylim(-0.08, 1.18)
    ax.set_xlim(-0.5, len(rep.span) - 0.5)
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    for y in rep.years:  # the report's years, shaded
        k = rep.span.index(y)
        ax.axvspan(k - 0.5, k + 0.5, color="#fff4d6", zorder=0, linewidth=0)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_bands(rep: Report, t: dict, Figure):
    lines = [(v, res, _bands_line(v)) for v, res in ((rep.a, rep.result_a), (rep.b, rep.result_b))]
    if not any(line for _, _, line in lines):
        return None
    summaries = {v.id: summarise(res) for v, res, line in lines if line}
    n_years = len(rep.years)
    fig = Figure(figsize=(7.0, 0.4 + 1.75 * n_years))
    fig.subplots_adjust(left=0.17, right=0.97, top=1 - 0.25 / (0.4 + 1.75 * n_years), bottom=0.35 / (0.4 + 1.75 * n_years), wspace=0.55, hspace=0.55)
    n_munis = len(rep.result_b.evaluator.data.municipalities)
    for row, y in enumerate(rep.years):
        for col, (v, res, line) in enumerate(lines):
            ax = fig.add_subplot(n_years, 2, row * 2 + col + 1)
            ax.set_title(f"{v.id} — {FiscalYear(y).both}", fontsize=8, loc="left")
            if not line:
                ax.axis("off")
                continue
            table, flag = line
            counts = summaries[v.id][row].bands.get(table)
            if counts is None or is_undef(counts):
                ax.axis("off")
                reason = counts.reason if counts is not None else t["not_in_force"]
                ax.text(0, 0.5, _wrap(reason, 34), fontsize=7, va="center", ha="left", transform=ax.transAxes, color="#555555")
                continue
            flags = res.evaluator.column(flag, y)
            flag_undefined = sum(1 for x in flags if is_undef(x))
            labels = [b.label for b in counts]
            pos = list(range(len(counts)))[::-1]
            ax.barh(pos, [b.municipalities for b in counts], color="#c9d7ea" if v is rep.b else "#dddddd", height=0.7, label=t["municipalities"])
            ax.barh(pos, [b.achieved for b in counts], color=COLOR_B if v is rep.b else COLOR_A, height=0.4, label=t["achieved_bar"])
            for p, b in zip(pos, counts):
                shown = f"{b.achieved} / {b.municipalities}" if flag_undefined < n_munis else f"– / {b.municipalities}"
                ax.text(b.municipalities + n_munis * 0.02, p, shown, va="center", fontsize=6.5)
            ax.set_yticks(pos, labels, fontsize=6.5)
            ax.set_xlim(0, max([b.municipalities for b in counts] + [1]) * 1.35 + 1)
            ax.tick_params(axis="x", labelsize=6.5)
            notes = []
            if flag_undefined:
                notes.append(f"{_label(rep, flag)}: {t['undefined']} {flag_undefined}")
            if summaries[v.id][row].no_band.get(table):
                notes.append(f"{t['no_band']}: {summaries[v.id][row].no_band[table]}")
            if notes:
                ax.text(0.99, 0.99, "\n".join(notes), transform=ax.transAxes, ha="right", va="top", fontsize=6.5, color="#555555")
            if row == 0 and col == 1:
                ax.legend(loc="lower right", fontsize=6, frameon=False)
    return fig, None


def _wrap(text: str, width: int) -> str:
    out, line = [], ""
    for ch in text:
        line += ch
        if len(line) >= width and ch in " 　、,;":
            out.append(line.strip())
            line = ""
    if line.strip():
        out.append(line.strip())
    return "\n".join(out)


def _deltas(rep: Report, name: str, year: int, name_a: str | None = None):
    """B's value minus A's for each municipality (None where either is undefined)."""
    name_a = name_a or name
    ca = rep.result_a.evaluator.column(name_a, year)
    cb = rep.result_b.evaluator.column(name, year)
    out = []
    for x, z in zip(ca, cb):
        if is_undef(x) or is_undef(z) or isinstance(x, (bool, str)) or isinstance(z, (bool, str)):
            out.append(None)
        else:
            out.append(Fraction(z) - Fraction(x))
    return out


def _chart_target(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["target"]
    ha, hb = _has(rep, name)
    if not (ha and hb):
        return None
    ms = rep.result_b.evaluator.data.municipalities
    n_years = len(rep.years)
    fig = Figure(figsize=(7.0, 3.3))
    fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.24)
    ax = fig.add_subplot()
    width = 0.8 / n_years
    undefined = 0
    for k, y in enumerate(rep.years):
        ds = _deltas(rep, name, y)
        undefined += sum(1 for d in ds if d is None)
        xs = [i - 0.4 + width * (k + 0.5) for i, d in enumerate(ds) if d is not None]
        hs = [_float(d * 100) for d in ds if d is not None]
        ax.bar(xs, hs, width=width, color=YEAR_COLORS[k % len(YEAR_COLORS)])
    ax.axhline(0, color="#333333", linewidth=0.6)
    ax.set_xticks(range(len(ms)), [m.name for m in ms], rotation=90, fontsize=5.5)
    ax.set_xlim(-0.6, len(ms) - 0.4)
    ax.set_ylabel(f"{rep.b.id} − {rep.a.id} ({t['pp']})", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    from matplotlib.patches import Patch

    handles = [Patch(color=YEAR_COLORS[k % len(YEAR_COLORS)], label=FiscalYear(y).both) for k, y in enumerate(rep.years)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 1.12), ncol=n_years, fontsize=7, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_levy(rep: Report, t: dict, Figure):
    levy, net, insured = REPORT_NAMES["levy"], REPORT_NAMES["net_levy"], REPORT_NAMES["insured"]
    ha, hb = _has(rep, levy)
    if not (ha and hb) or insured not in rep.b.items:
        return None
    net_b = net if net in rep.b.items else None
    net_a = net if net in rep.a.items else levy
    ms = rep.result_b.evaluator.data.municipalities
    n_years = len(rep.years)
    height = 0.3 + 2.35 * n_years
    fig = Figure(figsize=(7.0, height))
    fig.subplots_adjust(left=0.09, right=0.99, top=1 - 0.3 / height, bottom=0.55 / height, hspace=0.75)
    undefined = 0
    for k, y in enumerate(rep.years):
        ax = fig.add_subplot(n_years, 1, k + 1)
        persons = rep.result_b.evaluator.column(insured, y)
        ds = _deltas(rep, levy, y)
        dn = _deltas(rep, net_b, y, net_a) if net_b else [None] * len(ms)
        per = []
        for i, (d, e, p) in enumerate(zip(ds, dn, persons)):
            if d is None or is_undef(p) or not p:
                undefined += 1
                continue
            per.append((d / p, (e / p) if e is not None else None, ms[i]))
        per.sort(key=lambda r: (r[0], r[2].code))
        xs = range(len(per))
        ax.bar(xs, [_float(r[0]) for r in per], color=COLOR_B, width=0.75,
               label=f"{_label(rep, levy)} ({rep.b.id}) − {_label(rep, levy)} ({rep.a.id})")
        if net_b:
            pts = [(x, _float(r[1])) for x, r in zip(xs, per) if r[1] is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="none", marker="D", markersize=2.4, color="#e08a1e",
                    label=f"{_label(rep, net_b)} ({rep.b.id}) − {_label(rep, net_a)} ({rep.a.id})")
        ax.axhline(0, color="#333333", linewidth=0.6)
        ax.set_xticks(list(xs), [r[2].name for r in per], rotation=90, fontsize=5.5)
        ax.set_xlim(-0.6, max(len(per), 1) - 0.4)
        ax.set_title(f"{FiscalYear(y).both}: {rep.b.id} − {rep.a.id} ({t['yen_per_person']})", fontsize=8, loc="left")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        if k == 0:
            ax.legend(loc="upper left", fontsize=6.5, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_deficit(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["deficit_status"]
    ha, hb = _has(rep, name)
    if not (ha or hb):
        return None
    data_years = rep.result_b.evaluator.data.years
    years = [y for y in rep.span if data_years and data_years[0] <= y <= data_years[-1]]
    if not years:
        return None
    sides = [(v, res) for v, res, has in ((rep.a, rep.result_a, ha), (rep.b, rep.result_b, hb)) if has]
    cols = {v.id: [res.evaluator.column(name, y) for y in years] for v, res in sides}
    if len(sides) == 2:
        from .values import same

        if all(same(x, z) for x, z in zip(cols[rep.a.id], cols[rep.b.id])):
            sides = [(rep.b, rep.result_b)]
            shared = True
        else:
            shared = False
    else:
        shared = False
    values: list = []
    for v, _ in sides:
        for col in cols[v.id]:
            for x in col:
                key = None if is_undef(x) else x
                if key not in values:
                    values.append(key)
    order = [x for x in values if x is not None]
    order = _status_order(rep, name, order) + ([None] if None in values else [])
    fig = Figure(figsize=(7.0, 2.7))
    fig.subplots_adjust(left=0.08, right=0.8, top=0.9, bottom=0.2, wspace=0.25)
    for k, (v, res) in enumerate(sides):
        ax = fig.add_subplot(1, len(sides), k + 1)
        title = f"{rep.a.id}, {rep.b.id}" if shared else v.id
        ax.set_title(title, fontsize=8, loc="left")
        bottom = [0] * len(years)
        for j, status in enumerate(order):
            hs = [sum(1 for x in col if (is_undef(x) if status is None else (not is_undef(x) and x == status))) for col in cols[v.id]]
            color = UNDEFINED_COLOR if status is None else STATUS_COLORS[j % len(STATUS_COLORS)]
            label = t["undefined"] if status is None else str(status)
            ax.bar(range(len(years)), hs, bottom=bottom, color=color, width=0.7, label=label)
            bottom = [b + h for b, h in zip(bottom, hs)]
        ax.set_xticks(range(len(years)), _year_ticks(years), fontsize=6.5)
        ax.set_ylabel(t["municipalities"], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        if k == len(sides) - 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, title=_label(rep, name), title_fontsize=7)
    return fig, None


def _status_order(rep: Report, name: str, found: list) -> list:
    """The values in the order the rule's if-expression states them, then any others sorted."""
    item = rep.b.items.get(name) or rep.a.items.get(name)
    stated: list = []

    def walk(e):
        if isinstance(e, ast.Text) and e.value not in stated:
            stated.append(e.value)
        for f in attrs.fields(type(e)) if attrs.has(type(e)) else ():
            x = getattr(e, f.name)
            if attrs.has(type(x)):
                walk(x)
            elif isinstance(x, tuple):
                for y in x:
                    if attrs.has(type(y)):
                        walk(y)
                    elif isinstance(y, tuple):
                        for z in y:
                            if attrs.has(type(z)):
                                walk(z)

    if isinstance(item, ast.Definition):
        walk(item.expr)
    return [x for x in stated if x in found] + sorted(x for x in found if x not in stated)
