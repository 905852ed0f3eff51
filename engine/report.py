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
import numpy as np

from . import ast
from .errors import UsageError, finding
from .columnar.columns import Num, is_col, scaled_pair
from .results import EvalResult, default_columns
from .values import Undefined, is_undef
from .render import format_display, format_value
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

# Above this many municipalities shown, the page gives distributions, the largest movers and the
# undefined values grouped by reason instead of a row per municipality (the workbook keeps every row).
FULL_TABLES_MAX = 300
BAR_CHART_MAX = 100  # up to this many municipalities the target and levy charts have a bar (and a label) per municipality
TOP_MOVERS = 10  # gains and losses listed per measure and year
SUMMARY_MOVERS = 3  # of which the one-page summary shows the first
SUMMARY_YEARS = 4  # years on the one-page summary (the first three and the last of a longer period)
LIST_ALL = 100  # an undefined reason lists every municipality it concerns up to this many ...
LIST_FIRST = 20  # ... and beyond, the first of them and how many more
HIST_BINS = 30
QUANTILES = (0, 10, 25, 50, 75, 90, 100)  # nearest-rank percentiles of each distribution

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
        "overview": "概要",
        "toc": "目次",
        "details": "比較する版とデータ",
        "what_changes": "主な変更点",
        "band_changes": "{label}（{years}）: {parts}",
        "band_changed": "変更 {n} 区分",
        "band_added": "追加 {n} 区分",
        "band_removed": "削除 {n} 区分",
        "schedule_change": "{label}: {changes}",
        "added_items": "{version} で追加: {names}",
        "removed_items": "{version} で削除: {names}",
        "changed_items": "定義の変更: {names}",
        "no_rule_change": "規則の違いはありません。",
        "key_figures": "年度別の主な数値",
        "target_moves": "目標収納率が",
        "moves_up_down": "上がる {up}・下がる {down}・変わらない {same}",
        "levy_moves": "{what}が",
        "levy_up_down": "増える {up}・減る {down}・変わらない {same}",
        "moves_undefined": "・未定義 {n}",
        "whole_per_person": "全体の1人当たり",
        "whole_text": "（全体の1人当たり {x}）",
        "sep": "、",
        "movers": "変化の大きい団体",
        "movers_year": "変化の大きい団体（{year}）",
        "movers_note": "各年度・各項目について、増えた団体と減った団体をそれぞれ変化の大きい順に最大 {n} 団体示します。",
        "movers_more": "各年度の {n} 団体ずつは「変化の大きい団体」にあります。",
        "gains": "上位（増）",
        "losses": "上位（減）",
        "rank": "順位",
        "total_delta": "差（総額）",
        "per_person": "1人当たり",
        "none_moved": "該当なし",
        "distribution": "変化の分布",
        "distribution_note": "各団体の B − A の分布です（最小・最大と、下から数えた百分位点。値は実際のいずれかの団体の値）。",
        "quantiles": ["最小", "10%点", "25%点", "中央値", "75%点", "90%点", "最大"],
        "measure": "項目",
        "up": "増",
        "down": "減",
        "same": "変化なし",
        "measure_target": "{label}の変化",
        "measure_levy": "被保険者1人当たり{label}の変化",
        "measure_net": "被保険者1人当たり{label}の変化",
        "measure_net_a": "（{a} は{label}）",
        "per_person_note": "1人当たりの額は円未満を四捨五入して表示しています（順位と分布は正確な値によります）。",
        "scaled_note": "自治体数が {n} と多いため、団体別の表の代わりに変化の分布と変化の大きい団体を示します。全団体の表は、ワークブック（kokuho report --format xlsx）の「団体別」シートにあります（差と増減率の列を含みます）。",
        "selection_note": "表示を限定しています（{names}）。団体別の表と変化の大きい団体は選択した {k} 団体だけです。年度別集計・合計・分布・グラフ・未定義の値は全 {n} 団体が対象です。",
        "undefined_summary": "未定義の値: {parts}（理由 {g} 種類）",
        "undefined_part": "{version} {n} 件",
        "muni_placeholder": "〔団体〕",
        "munis_col": "団体",
        "more_munis": "ほか {n} 団体（全件はワークブックの「未定義の値」シート）",
        "all_munis": "全 {n} 団体",
        "prefecture_value": "全体の値",
        "diff_col": "差",
        "pct_col": "増減率",
        "diff_note": "「差」は B − A（変化した値だけ）、「増減率」は差 ÷ A（表示は小数第2位に四捨五入）です。",
        "municipality_count": "{n} 団体",
        "chart_target_hist": "目標収納率の変化の分布（団体数）",
        "chart_levy_hist": "被保険者1人当たり納付金の変化の分布（団体数）",
        "hist_levy": "{label}",
        "hist_net": "{label}（輪郭）",
        "full_tables_in_workbook": "団体別の表はワークブックにあります",
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
        "overview": "Summary",
        "toc": "Contents",
        "details": "Versions and data",
        "what_changes": "What changes",
        "band_changes": "{label} ({years}): {parts}",
        "band_changed": "{n} band(s) changed",
        "band_added": "{n} added",
        "band_removed": "{n} removed",
        "schedule_change": "{label}: {changes}",
        "added_items": "added in {version}: {names}",
        "removed_items": "removed in {version}: {names}",
        "changed_items": "definitions changed: {names}",
        "no_rule_change": "The rules do not differ.",
        "key_figures": "Key figures by fiscal year",
        "target_moves": "Target rate",
        "moves_up_down": "rises {up}, falls {down}, unchanged {same}",
        "levy_moves": "{what}",
        "levy_up_down": "up {up}, down {down}, unchanged {same}",
        "moves_undefined": ", undefined {n}",
        "whole_per_person": "per insured person, all municipalities",
        "whole_text": " (per insured person, all municipalities: {x})",
        "sep": ", ",
        "movers": "Largest changes",
        "movers_year": "Largest changes ({year})",
        "movers_note": "For each year and measure, up to {n} municipalities with the largest increase and the largest decrease.",
        "movers_more": "{n} of each per year are under 'Largest changes'.",
        "gains": "Largest increases",
        "losses": "Largest decreases",
        "rank": "#",
        "total_delta": "Difference (total)",
        "per_person": "per person",
        "none_moved": "none",
        "distribution": "Distribution of the changes",
        "distribution_note": "The distribution of B − A over the municipalities (minimum, maximum and nearest-rank percentiles: each is some municipality's value).",
        "quantiles": ["min", "10th pct", "25th pct", "median", "75th pct", "90th pct", "max"],
        "measure": "Measure",
        "up": "up",
        "down": "down",
        "same": "unchanged",
        "measure_target": "change of {label}",
        "measure_levy": "change of {label} per insured person",
        "measure_net": "change of {label} per insured person",
        "measure_net_a": " ({a}: {label})",
        "per_person_note": "Amounts per person are shown rounded to the yen (ranks and distributions use the exact values).",
        "scaled_note": "With {n} municipalities, the page shows the distribution of the changes and the largest movers instead of a row per municipality. The full tables (with difference columns) are in the workbook: kokuho report --format xlsx, sheet 団体別.",
        "selection_note": "Rows limited to {names}: the per-municipality tables and the largest changes show these {k} municipalities only; the summaries, totals, distributions, charts and undefined values cover all {n}.",
        "undefined_summary": "Undefined values: {parts} ({g} reason(s))",
        "undefined_part": "{version} {n}",
        "muni_placeholder": "<municipality>",
        "munis_col": "Municipalities",
        "more_munis": "and {n} more (all of them on the workbook's 未定義の値 sheet)",
        "all_munis": "all {n}",
        "prefecture_value": "a value for the whole",
        "diff_col": "Diff.",
        "pct_col": "%",
        "diff_note": "'Diff.' is B − A (changed values only); '%' is the difference over A (shown rounded to 2 places).",
        "municipality_count": "{n} municipalities",
        "chart_target_hist": "Distribution of the target rate's change (municipalities)",
        "chart_levy_hist": "Distribution of the change of the levy per insured person (municipalities)",
        "hist_levy": "{label}",
        "hist_net": "{label} (outline)",
        "full_tables_in_workbook": "The per-municipality tables are in the workbook",
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
    outcome: object = None  # diff.OutcomeDiff of the columns over the years: blocks with B - A, movers
    selected: tuple[int, ...] | None = None  # -m: the municipalities whose rows are shown (indices, code order)

    @property
    def synthetic(self) -> bool:
        return any(f.synthetic for f in self.files)

    @property
    def n(self) -> int:
        return self.result_b.evaluator.n

    @property
    def shown(self):
        """The indices of the municipalities whose rows the page shows (numpy array, code order)."""
        return np.arange(self.n) if self.selected is None else np.array(self.selected, dtype=np.int64)

    @property
    def full_tables(self) -> bool:
        """Whether the page lists every shown municipality's row (few enough of them)."""
        return len(self.shown) <= FULL_TABLES_MAX


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
                 year: str | None = None, municipalities=None) -> Report:
    """Evaluate A and B over the session's data for the period (default: B's target or plan period).

    municipalities: codes or names (each may be a comma list) whose rows the page shows; the
    summaries and totals still cover every municipality.
    """
    from . import diff

    a, b = default_versions(session, version, base, year=year, period=period)
    if year is None and period is None:
        p = target_period(b)
        if p is None:
            raise UsageError(finding("no-year", f"version {b.id} has no plan period; give --period"))
        period = f"FY{p.first}..FY{p.last}"
    years = tuple(session.years(b, year, period))
    data_a, data_b = session.data_for(a), session.data_for(b)
    selected = session.select(b, municipalities)  # -m, as every command reads it (lookup.py)
    cols_a, cols_b = default_columns(a), default_columns(b)
    # One comparison of every column (B - A per municipality, exact); its evaluators are the report's
    # (B takes what it shares with A from A's, over the same data).
    outcome = diff.compare(a, b, data_a, data_b, years, list(cols_b) + [c for c in cols_a if c not in cols_b], causes=False)
    result_a = EvalResult(a, years, cols_a, outcome.ev_a)
    result_b = EvalResult(b, years, cols_b, outcome.ev_b)
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
    return Report(a, b, years, span, result_a, result_b, rules, files, seed_rows, outcome, selected)


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


def _yen_rounded(x) -> int:
    """A yen amount rounded half up to the yen, for display only (the values themselves stay exact)."""
    q = Fraction(x)
    whole = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    return -whole if q < 0 else whole


def _yen_text(x, signed: bool = False) -> str:
    k = _yen_rounded(x)
    return ("+" if signed and k > 0 else "") + format_display(k, "yen")


def _pct_text(delta, base) -> str:
    """delta / base as a percentage rounded half up to 2 places, for display ('' when base is 0)."""
    if not base:
        return ""
    q = Fraction(delta) / abs(Fraction(base)) * 10000
    k = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    k = -k if q < 0 else k
    sign = "+" if k > 0 else ("-" if k < 0 else "")
    return f"{sign}{abs(k) // 100}.{abs(k) % 100:02d}%"


class UndefinedGroups:
    """Every undefined value the page refers to, grouped by its reason's template (the reason with its
    municipality left out: 'no FY2026 collection rate for 〔団体〕'), numbered in order of first appearance,
    with the versions, years and items it makes undefined and the municipalities it concerns.

    Column values are taken whole: their reason ids (shared by A and B, one table) are grouped with
    numpy, so a reason of 19,000 municipalities costs one group, not 19,000 texts.
    """

    def __init__(self, rep: Report):
        ev = rep.result_b.evaluator
        self.reasons = ev.reasons
        self.ms = ev.data.municipalities
        self.n = ev.n
        self.groups: dict = {}
        self.by_rid: dict[int, int] = {}
        self.per_version: dict[str, int] = {}

    def _group(self, key) -> dict:
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = {"n": len(self.groups) + 1, "key": key, "versions": [], "years": [], "items": [],
                                    "count": 0, "mask": None, "whole": False}
        return g

    def _add(self, g: dict, version: str, year: int, label: str, count: int, rows=None) -> None:
        for field, x in (("versions", version), ("years", year), ("items", label)):
            if x not in g[field]:
                g[field].append(x)
        g["count"] += count
        self.per_version[version] = self.per_version.get(version, 0) + count
        if rows is None:
            g["whole"] = True
            return
        if g["mask"] is None:
            g["mask"] = np.zeros(self.n, dtype=bool)
        g["mask"][rows] = True

    def add_column(self, version: str, year: int, label: str, v) -> None:
        """The undefined entries of one municipal value (a column, or one Undefined for every municipality)."""
        if not is_col(v):
            if type(v) is Undefined:
                self._add(self._group(("s", v.reason)), version, year, label, self.n, slice(None))
            return
        rid = v.rid
        if rid is None:
            return
        rows = np.flatnonzero(rid >= 0)
        if not len(rows):
            return
        r = rid[rows]
        order = np.argsort(r, kind="stable")
        r, rows = r[order], rows[order]
        ids, starts = np.unique(r, return_index=True)
        ends = list(starts[1:].tolist()) + [len(r)]
        for rid_, s, e in zip(ids.tolist(), starts.tolist(), ends):
            g = self._group(self._template(rid_, rows[s:e]))
            self.by_rid[rid_] = g["n"]
            self._add(g, version, year, label, e - s, rows[s:e])

    def _template(self, rid: int, rows):
        e = self.reasons.entries[rid]
        if e[0] == "m":
            return e
        text = e[1]
        if len(rows) == 1:  # a plain text naming its one municipality ('... for 131016 千代田区 in FY2024')
            who = str(self.ms[int(rows[0])])
            at = text.find(who)
            if at >= 0:
                return ("m", text[:at], text[at + len(who):])
        return ("s", text)

    def note(self, reason: str, version: str, year: int, label: str) -> int:
        """One undefined value for the whole (a total, a prefecture value): its group's number."""
        g = self._group(("s", reason))
        self._add(g, version, year, label, 1)
        return g["n"]

    def number(self, v, i: int) -> int | None:
        """The group number of municipality i's undefined entry of a column value (None if it is defined)."""
        if not is_col(v):
            return self.groups[("s", v.reason)]["n"] if type(v) is Undefined and ("s", v.reason) in self.groups else None
        if v.rid is None or v.rid[i] < 0:
            return None
        return self.by_rid.get(int(v.rid[i]))

    @property
    def total(self) -> int:
        return sum(self.per_version.values())

    def rows(self, t: dict) -> list[dict]:
        out = []
        for g in self.groups.values():
            key = g["key"]
            reason = key[1] if key[0] == "s" else f"{key[1]}{t['muni_placeholder']}{key[2]}"
            munis, more, count = [], 0, 0
            if g["mask"] is not None:
                idx = np.flatnonzero(g["mask"])
                count = len(idx)
                listed = idx if count <= LIST_ALL else idx[:LIST_FIRST]
                munis = [str(self.ms[i]) for i in listed.tolist()]
                more = count - len(listed)
            out.append({"n": g["n"], "reason": reason, "version": ", ".join(g["versions"]),
                        "year": ", ".join(FiscalYear(y).both for y in sorted(g["years"])), "item": t["sep"].join(g["items"]),
                        "count": f"{g['count']:,}", "munis_count": t["municipality_count"].format(n=f"{count:,}") if count else "",
                        "munis": t["sep"].join(munis), "more": t["more_munis"].format(n=f"{more:,}") if more else "",
                        "whole": t["prefecture_value"] if g["whole"] else ""})
        return out


def _columns(rep: Report) -> list[str]:
    """Municipal columns of both versions, B's order first, then A's extras."""
    cols = list(rep.result_b.columns) + [c for c in rep.result_a.columns if c not in rep.result_b.columns]
    out = []
    y = rep.years[0]
    for c in cols:
        ev = rep.result_b.evaluator if c in rep.result_b.columns else rep.result_a.evaluator
        v = ev.fast(c, y)
        if is_col(v) or (type(v) is Undefined and _is_municipal(ev, c, y)):
            out.append(c)
    return out


def _is_municipal(ev, name: str, year: int) -> bool:
    """Whether an undefined name has a value per municipality (its reference form is a tuple)."""
    return isinstance(ev.value(name, year), tuple)


def _label(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "label", None) or name


def _unit(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "unit", "text")


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


def _blocks(rep: Report) -> dict:
    return {(blk.year, blk.name): blk for blk in rep.outcome.blocks}


def collect_undefined(rep: Report) -> UndefinedGroups:
    """The undefined values of every municipal column shown (both versions, every year), grouped."""
    groups = UndefinedGroups(rep)
    cols = _columns(rep)
    for y in rep.years:
        for c in cols:
            for v, res in ((rep.a, rep.result_a), (rep.b, rep.result_b)):
                if c in res.columns:
                    groups.add_column(v.id, y, _label(rep, c), res.evaluator.fast(c, y))
    return groups


# ---- the changes of each municipality: B - A of the measures the page ranks and charts -----------


@attrs.frozen(eq=False)
class Measure:
    """One year's B - A of one measure for every municipality, exactly: num[i] / den (den[i] where it is
    an array) where defined. Per person: the difference divided by B's insured persons."""

    key: str  # target | levy | net
    year: int
    title: str
    unit: str  # pp | yen
    per_person: bool
    name_a: str
    name_b: str
    num: object  # numpy int64 or object array
    den: object  # a positive int, or an array of them
    defined: object  # numpy bool array
    total: object = None  # per person: the exact sum of the differences over the defined rows (yen)
    persons: object = None  # per person: B's insured persons, a numpy array of exact integers (numerators over persons_den)
    persons_den: int = 1

    def at(self, i: int) -> Fraction:
        d = self.den[i] if isinstance(self.den, np.ndarray) else self.den
        return Fraction(int(self.num[i]), int(d))

    def show(self, x) -> str:
        return _yen_text(x, signed=True) if self.unit == "yen" else _signed(x, "percent")

    def ranked(self, rows, descending: bool = False):
        return _ranked(self.num, self.den, rows, descending)


def _delta_parts(delta, n: int):
    """(num, den, defined) of a diff.Delta: int64 numerators over one denominator where they fit, else exact objects."""
    defined = np.array(delta.defined, dtype=bool)
    if delta.num is not None:
        return np.asarray(delta.num, dtype=np.int64), int(delta.den), defined
    num = np.zeros(n, dtype=object)
    den = np.ones(n, dtype=object)
    for i in np.flatnonzero(defined).tolist():
        q = Fraction(delta.at(i))
        num[i], den[i] = q.numerator, q.denominator
    return num, den, defined


def _difference(ev, va, vb, n: int):
    """(num, den, defined) of vb - va for two values of different names (the net levy beside A's levy)."""
    def ok(v):
        if is_col(v):
            return np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
        return np.full(n, type(v) is not Undefined)

    numeric = all(type(v) is Num or (not is_col(v) and type(v) in (int, Fraction)) for v in (va, vb))
    defined = ok(va) & ok(vb) & numeric
    if numeric:
        ib, ia, den = scaled_pair(vb, va, with_den=True)
        if ia is not None:
            return np.broadcast_to(np.asarray(ib - ia, dtype=np.int64), (n,)).copy(), int(den), defined
    num = np.zeros(n, dtype=object)
    den = np.ones(n, dtype=object)
    for i, x in enumerate(ev.difference(vb, va)):
        if x is not None and defined[i]:
            q = Fraction(x)
            num[i], den[i] = q.numerator, q.denominator
        else:
            defined[i] = False
    return num, den, defined


def _per_person(num, den, defined, persons, ev, n: int):
    """The differences divided by the insured persons (defined where they are positive), exactly."""
    if type(persons) is Num and persons.lin is not None and persons.lin.small() is not None:
        p, pden = persons.lin.small().v, persons.lin.den
        defined = defined & (p > 0) & (np.ones(n, dtype=bool) if persons.rid is None else persons.rid < 0)
    else:  # a prefecture value or an inexact column: exact values one by one
        py = ev.to_python(persons)
        py = py if isinstance(py, tuple) else (py,) * n
        p = np.array([Fraction(x).numerator if not is_undef(x) and not isinstance(x, (bool, str)) else 0 for x in py], dtype=object)
        pden = 1
        if any(not is_undef(x) and not isinstance(x, (bool, str)) and Fraction(x).denominator != 1 for x in py):
            return None
        defined = defined & np.array([x > 0 for x in p.tolist()], dtype=bool)
    p_safe = np.where(defined, p, 1)
    if num.dtype == np.int64 and p_safe.dtype == np.int64 and not isinstance(den, np.ndarray):
        big = int(np.abs(num).max()) if len(num) else 0
        if big * pden < 2**62 and int(p_safe.max() if len(p_safe) else 1) * den < 2**62:
            return num * pden, p_safe * den, defined, p, pden
    return num.astype(object) * pden, p_safe.astype(object) * (den if not isinstance(den, np.ndarray) else den.astype(object)), defined, p, pden


def measures(rep: Report, t: dict) -> list[Measure]:
    """Per year: the target rate's change (pp), and the levy's and the net levy's change per insured person."""
    target, levy, net, insured = (REPORT_NAMES[k] for k in ("target", "levy", "net_levy", "insured"))
    blocks = _blocks(rep)
    ev_a, ev_b = rep.result_a.evaluator, rep.result_b.evaluator
    n = rep.n
    out = []
    for y in rep.years:
        blk = blocks.get((y, target))
        if blk is not None and target in rep.a.items and target in rep.b.items and blk.numeric:
            num, den, defined = _delta_parts(blk.delta, n)
            out.append(Measure("target", y, t["measure_target"].format(label=_label(rep, target)), "pp", False, target, target,
                               num, den, defined))
        if insured not in rep.b.items:
            continue
        persons = ev_b.fast(insured, y)
        sides = []
        if levy in rep.a.items and levy in rep.b.items:
            sides.append(("levy", levy, levy, t["measure_levy"].format(label=_label(rep, levy))))
        if net in rep.b.items:
            name_a = net if net in rep.a.items else levy
            title = t["measure_net"].format(label=_label(rep, net))
            if name_a != net:
                title += t["measure_net_a"].format(a=rep.a.id, label=_label(rep, name_a))
            if name_a in rep.a.items:
                sides.append(("net", name_a, net, title))
        for key, name_a, name_b, title in sides:
            blk = blocks.get((y, name_b))
            if name_a == name_b and blk is not None:
                if not blk.numeric:
                    continue
                num, den, defined = _delta_parts(blk.delta, n)
            else:
                num, den, defined = _difference(ev_b, ev_a.fast(name_a, y), ev_b.fast(name_b, y), n)
            pp = _per_person(num, den, defined, persons, ev_b, n)
            if pp is None:
                continue
            pnum, pden_arr, pdefined, p, p_den = pp
            rows = np.flatnonzero(pdefined)
            if isinstance(den, np.ndarray):
                total = sum((Fraction(int(num[i]), int(den[i])) for i in rows.tolist()), Fraction(0))
            else:
                total = Fraction(int(num[rows].astype(object).sum()) if len(rows) else 0, den)
            out.append(Measure(key, y, title, "yen", True, name_a, name_b, pnum, pden_arr, pdefined, total, p, p_den))
    return out


def _ranked(num, den, rows, descending: bool = False):
    """rows sorted by the exact value num/den (ascending, or descending), ties in code order.

    A common denominator with int64 numerators sorts the integers; otherwise the float quotients
    (each correctly rounded, so in exact order but for near-ties) sort, and each run of values
    within 1e-12 of each other is sorted again with exact fractions."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return rows
    sign = -1 if descending else 1
    common = not isinstance(den, np.ndarray)
    part = num[rows]
    if common and part.dtype == np.int64:
        return rows[np.lexsort((rows, -part if descending else part))]
    d = float(den) if common else den[rows].astype(np.float64)
    with np.errstate(all="ignore"):
        f = sign * (part.astype(np.float64) / d)
    order = np.lexsort((rows, f))
    r, fs = rows[order], f[order]
    close = np.abs(np.diff(fs)) <= np.maximum(np.abs(fs[1:]), np.abs(fs[:-1])) * 1e-12
    if close.any():
        r = r.copy()
        edges = np.flatnonzero(np.diff(np.concatenate(([0], close.astype(np.int8), [0]))))
        for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist()):
            seg = r[s:e + 1]
            if not np.any(num[seg]):
                continue  # all zero: already in code order
            r[s:e + 1] = sorted(seg.tolist(), key=lambda i: (sign * Fraction(int(num[i]), int(den if common else den[i])), i))
    return r


def distribution(m: Measure, t: dict) -> dict:
    """Counts up, down and unchanged over every municipality, and nearest-rank percentiles of the exact values."""
    rows = np.flatnonzero(m.defined)
    ordered = m.ranked(rows)
    positive = m.num[rows] > 0
    negative = m.num[rows] < 0
    k = len(ordered)
    qs = []
    for p in QUANTILES:
        rank = max(1, -(-p * k // 100)) if k else 0
        qs.append(m.show(m.at(int(ordered[rank - 1]))) if k else "—")
    out = {"title": m.title, "year": FiscalYear(m.year).both, "n": k, "up": int(np.count_nonzero(positive)),
           "down": int(np.count_nonzero(negative)), "same": int(k - np.count_nonzero(positive) - np.count_nonzero(negative)),
           "undefined": int(len(m.defined) - k), "quantiles": qs, "whole": ""}
    if m.per_person and m.persons is not None and k:
        persons = Fraction(int(m.persons[rows].astype(object).sum()), m.persons_den)
        if persons:
            out["whole"] = m.show(m.total / persons)
    return out


def movers(rep: Report, m: Measure, top: int) -> tuple[list, list]:
    """The `top` largest increases and decreases among the shown municipalities (exact order, ties by code)."""
    rows = np.intersect1d(np.flatnonzero(m.defined), rep.shown)
    up = rows[m.num[rows] > 0]
    down = rows[m.num[rows] < 0]
    return [mover_row(rep, m, int(i)) for i in m.ranked(up, descending=True)[:top]], \
           [mover_row(rep, m, int(i)) for i in m.ranked(down)[:top]]


def mover_row(rep: Report, m: Measure, i: int) -> dict:
    ev_a, ev_b = rep.result_a.evaluator, rep.result_b.evaluator
    a = ev_a.ops.entry(ev_a.fast(m.name_a, m.year), i)
    b = ev_b.ops.entry(ev_b.fast(m.name_b, m.year), i)
    mun = ev_b.data.municipalities[i]
    row = {"code": mun.code, "name": mun.name, "delta": m.show(m.at(i)), "i": i}
    if m.per_person:
        p = Fraction(int(m.persons[i]), m.persons_den)
        row["a"], row["b"] = _yen_text(Fraction(a) / p), _yen_text(Fraction(b) / p)
        row["total"] = _signed(Fraction(b) - Fraction(a), "yen")
    else:
        row["a"], row["b"] = format_display(a, _unit(rep, m.name_a)), format_display(b, _unit(rep, m.name_b))
        row["total"] = ""
    return row


def mover_tables(rep: Report, t: dict, ms: list[Measure]) -> list[dict]:
    out = []
    for m in ms:
        gains, losses = movers(rep, m, TOP_MOVERS)
        out.append({"id": f"movers-{m.year}-{m.key}", "title": m.title, "year": FiscalYear(m.year).both, "per_person": m.per_person,
                    "gains": gains, "losses": losses})
    return out


# ---- the per-municipality tables (few municipalities) ------------------------------------------


def _band_names(ev, table: str, year: int, version: Version) -> list | None:
    """Each municipality's band label of a table in a year (None: no band), or None when the table is not in force."""
    item = version.at(year).lookup(table)
    if not isinstance(item, ast.Table):
        return None
    ev.fast(table, year)
    choice = ev.band_choice_array(table, year)
    if choice is None:
        return None
    labels = [b.label or b.interval for b in item.bands]
    if len(choice) == 1:
        choice = np.full(ev.n, int(choice[0]))
    return [labels[c] if c >= 0 else None for c in choice.tolist()]


def _esc(x) -> str:
    from markupsafe import escape

    return str(escape(x))


def municipal_tables(rep: Report, t: dict, undefined: UndefinedGroups) -> list[dict]:
    """Per year and column group: one row per shown municipality, each cell B's value and A's when it differs,
    and for each number that changes in any year, B - A and (for amounts) the change in percent.

    The rows are written here as HTML (escaped): a few hundred rows of twenty cells each."""
    from markupsafe import Markup

    cols = _columns(rep)
    blocks = _blocks(rep)
    ms = rep.result_b.evaluator.data.municipalities
    shown = rep.shown.tolist()
    line_b, line_a = _bands_line(rep.b), _bands_line(rep.a)
    ops = rep.result_a.evaluator.ops
    in_a = {c: c in rep.result_a.columns for c in cols}
    in_b = {c: c in rep.result_b.columns for c in cols}
    diff_cols = set()
    for c in cols:
        if in_a[c] and in_b[c]:
            for y in rep.years:
                blk = blocks.get((y, c))
                if blk is not None and blk.numeric and (blk.delta.defined & (blk.status == 1)).any():
                    diff_cols.add(c)
                    break
    out = []
    for y in rep.years:
        for key, names in _groups(cols):
            header = []
            band = key == "target" and (line_b or line_a)
            if band:
                header.append({"label": t["band"], "name": "band", "only": None, "diff": False, "pct": False})
            for c in names:
                only = None if in_a[c] and in_b[c] else (rep.b.id if in_b[c] else rep.a.id)
                unit = _unit(rep, c)
                header.append({"label": _label(rep, c), "name": c, "only": only, "diff": c in diff_cols,
                               "pct": c in diff_cols and unit not in ("percent", "pp")})
            lb = _band_names(rep.result_b.evaluator, line_b[0], y, rep.b) if band and line_b else None
            la = _band_names(rep.result_a.evaluator, line_a[0], y, rep.a) if band and line_a else None
            values = {}
            for c in names:
                blk = blocks[(y, c)]
                values[c] = (_entries(ops, blk.va, shown) if in_a[c] else None, _entries(ops, blk.vb, shown) if in_b[c] else None, blk)
            rows = []
            changed = total = 0
            for i in shown:
                m = ms[i]
                cells = [f'<tr data-code="{_esc(m.code)}"><td class="text">{_esc(m.code)}</td><td class="text">{_esc(m.name)}</td>']
                if band:
                    b_ = (lb[i] if lb else None) or "—"
                    a_ = (la[i] if la else None) or "—"
                    chg = a_ != b_
                    cells.append(f'<td class="text{" chg" if chg else ""}" data-col="band" data-b="{_esc(b_ if b_ != "—" else "")}" '
                                 f'data-a="{_esc(a_ if a_ != "—" else "")}">{_esc(b_)}'
                                 + (f'<span class="a">{_esc(a_)}</span>' if chg else "") + "</td>")
                for h in header[1 if band else 0:]:
                    c = h["name"]
                    unit = _unit(rep, c)
                    pa, pb, blk = values[c]
                    va = None if pa is None else pa[i]
                    vb = None if pb is None else pb[i]
                    cls = "num" if unit not in ("text", "bool") else "text"
                    both = va is not None and vb is not None
                    chg = both and bool(blk.status[i] != 0)
                    if both:
                        total += 1
                        changed += chg
                    main, main_v, side_v = ("b", vb, blk.vb) if vb is not None else ("a", va, blk.va)
                    attrs_ = f' data-b="{_esc(_raw(main_v, unit))}"'
                    if both:
                        attrs_ += f' data-a="{_esc(_raw(va, unit))}"'
                    body = _cell_text(main_v, unit, t, undefined, side_v, i)
                    if chg:
                        body += f'<span class="a">{_cell_text(va, unit, t, undefined, blk.va, i)}</span>'
                    cells.append(f'<td class="{cls}{" chg" if chg else ""}" data-col="{c}"{attrs_}>{body}</td>')
                    if h["diff"]:
                        d = blk.delta.at(i) if chg else None
                        cells.append(f'<td class="num d">{_signed(d, unit) if d else ""}</td>')
                        if h["pct"]:
                            cells.append(f'<td class="num d">{_pct_text(d, va) if d else ""}</td>')
                cells.append("</tr>")
                rows.append(Markup("".join(cells)))
            out.append({"year": FiscalYear(y).both, "year_value": y, "group": key, "title": t["group_" + key], "header": header,
                        "rows": rows, "changed": t["changed_count"].format(n=changed, m=total)})
    return out


def _entries(ops, v, shown: list) -> dict:
    """The shown municipalities' values in Python form: the whole column when most are shown, else one by one."""
    if not is_col(v):
        return dict.fromkeys(shown, v)
    if len(shown) * 4 >= ops.n:
        py = ops.to_python(v)
        return {i: py[i] for i in shown}
    return {i: ops.entry(v, i) for i in shown}


def _raw(v, unit: str) -> str:
    return "" if is_undef(v) else format_value(v, unit)


def _cell_text(v, unit: str, t: dict, undefined: UndefinedGroups, col, i: int) -> str:
    if is_undef(v):
        n = undefined.number(col, i)  # every shown column was grouped (collect_undefined): a number is always found
        return "—" if n is None else f'—<sup class="u"><a href="#u{n}">u{n}</a></sup>'
    return _esc(_display(v, unit, t))


def summary_tables(rep: Report, t: dict, undefined: UndefinedGroups) -> list[dict]:
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
                    return f"—（u{undefined.note(counts.reason, res.version.id, s.year, t['achieved_total'])}）", None
                hits = sum(b.achieved for b in counts)
                text = f"{hits} / {sum(b.municipalities for b in counts) + sum(s.no_band.values())}"
                unknown = _undefined_count(res.evaluator.fast(flag, s.year), rep.n)
                return text + (f"（{t['undefined']} {unknown}）" if unknown else ""), hits
            return None, None

        if flag_a or flag_b:
            (xa, ha), (xb, hb) = achievers(ya, rep.result_a, flag_a), achievers(yb, rep.result_b, flag_b)
            rows.append({"label": t["achieved_total"], "a": xa or "", "b": xb or "", "changed": xa != xb,
                         "diff": f"{hb - ha:+d}" if ha is not None and hb is not None and ha != hb else "",
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
        out.append({"year": FiscalYear(y).both, "year_value": y, "rows": rows})
    return out


def _undefined_count(v, n: int) -> int:
    if is_col(v):
        return 0 if v.rid is None else int(np.count_nonzero(v.rid >= 0))
    return n if type(v) is Undefined else 0


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


def what_changes(rep: Report, t: dict) -> list[str]:
    """The rule changes in a few lines: band tables by kind of change, schedules by year, definitions added,
    removed or changed (the full list: 規則の比較 below, and `kokuho diff --rules-only`)."""
    from . import diff

    rd = rep.rules
    out = []
    for run in rd.tables:
        counts = {"changed": 0, "added": 0, "removed": 0}
        for r in run.rows:
            if r.change in ("added", "removed"):
                counts[r.change] += 1
            elif r.change:
                counts["changed"] += 1
        parts = [t["band_" + k].format(n=v) for k, v in counts.items() if v]
        if not parts:
            parts = [_change_text(run.change, t)]
        item = (run.b.item if isinstance(run.b, NotInForce) else run.b) or (run.a.item if isinstance(run.a, NotInForce) else run.a)
        label = getattr(item, "label", None) or run.name
        out.append(t["band_changes"].format(label=label, years=Period(run.years[0], run.years[-1]).both, parts=t["sep"].join(parts)))
    by_name: dict = {}
    for s in rd.schedules:
        by_name.setdefault((s.name, s.label), []).append(
            f"{FiscalYear(s.year).both} {diff.expr_text(s.a.value) if s.a else '—'} → {diff.expr_text(s.b.value) if s.b else '—'}")
    for (name, label), changes in by_name.items():
        out.append(t["schedule_change"].format(label=label, changes=t["sep"].join(changes)))
    kinds: dict = {"added": [], "removed": [], "changed": []}
    for d in rd.definitions:
        item = (d.b.item if isinstance(d.b, NotInForce) else d.b) or (d.a.item if isinstance(d.a, NotInForce) else d.a)
        label = getattr(item, "label", None) or d.name
        kind = d.change if d.change in ("added", "removed") else "changed"
        if label not in kinds[kind]:
            kinds[kind].append(label)
    for kind, key, vid in (("added", "added_items", rep.b.id), ("removed", "removed_items", rep.b.id), ("changed", "changed_items", None)):
        names = kinds[kind]
        if names:
            shown = t["sep"].join(names[:8]) + (f" … ({len(names)})" if len(names) > 8 else "")
            out.append(t[key].format(version=vid, names=shown))
    return out or [t["no_rule_change"]]


def key_figures(rep: Report, t: dict, ms: list[Measure], summaries: list[dict]) -> list[dict]:
    """The one-page summary's table: per year, achievers, how many targets rise or fall, the levy totals and
    how many municipalities pay more or less per person."""
    years = list(rep.years)
    if len(years) > SUMMARY_YEARS:
        years = years[:SUMMARY_YEARS - 1] + years[-1:]
    by = {(m.year, m.key): m for m in ms}
    out = []
    for y in years:
        rows = []
        s = next(x for x in summaries if x["year_value"] == y)
        for r in s["rows"]:
            if r["name"] == "achievers":
                rows.append({"label": r["label"], "a": r["a"], "b": r["b"], "diff": r["diff"], "span": None})
        m = by.get((y, "target"))
        if m is not None:
            d = distribution(m, t)
            text = t["moves_up_down"].format(up=d["up"], down=d["down"], same=d["same"]) + (t["moves_undefined"].format(n=d["undefined"]) if d["undefined"] else "")
            rows.append({"label": t["target_moves"], "span": text})
        for r in s["rows"]:
            if r["name"] in (REPORT_NAMES["levy"], REPORT_NAMES["net_levy"]):
                rows.append({"label": r["label"], "a": r["a"], "b": r["b"], "diff": r["diff"], "span": None})
        for key in ("net", "levy"):
            m = by.get((y, key))
            if m is None:
                continue
            d = distribution(m, t)
            text = t["levy_up_down"].format(up=d["up"], down=d["down"], same=d["same"]) + (t["moves_undefined"].format(n=d["undefined"]) if d["undefined"] else "")
            if d["whole"]:
                text += t["whole_text"].format(x=d["whole"])
            rows.append({"label": t["levy_moves"].format(what=m.title), "span": text})
            break
        out.append({"year": FiscalYear(y).both, "rows": rows})
    return out


def overview_movers(rep: Report, t: dict, ms: list[Measure]) -> dict | None:
    """The first year's largest increases and decreases of the target rate and of the (net) levy per person."""
    y = rep.years[0]
    picked = [m for m in ms if m.year == y and m.key == "target"]
    picked += [m for m in ms if m.year == y and m.key == "net"][:1] or [m for m in ms if m.year == y and m.key == "levy"][:1]
    tables = []
    for m in picked:
        gains, losses = movers(rep, m, SUMMARY_MOVERS)
        tables.append({"title": m.title, "per_person": m.per_person, "gains": gains, "losses": losses})
    if not tables:
        return None
    return {"year": FiscalYear(y).both, "tables": tables}


def selection_note(rep: Report, t: dict) -> str | None:
    if rep.selected is None:
        return None
    ms = rep.result_b.evaluator.data.municipalities
    names = t["sep"].join(str(ms[i]) for i in rep.selected[:10]) + (" …" if len(rep.selected) > 10 else "")
    return t["selection_note"].format(names=names, k=len(rep.selected), n=rep.n)


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
    """The report as one HTML document that loads nothing (same report, same bytes).

    Page 1 is the one-page summary; then the contents, the versions and data, the rules side by
    side, the yearly summaries, the charts, the distributions of the changes, the largest movers,
    the per-municipality tables (few municipalities) or a pointer to the workbook (many), the
    undefined values grouped by reason and the citations.
    """
    import jinja2
    from markupsafe import Markup

    t = _t(lang)
    undefined = collect_undefined(rep)
    ms = measures(rep, t)
    summaries = summary_tables(rep, t, undefined)
    tables = municipal_tables(rep, t, undefined) if rep.full_tables else []
    charts = [{"id": cid, "title": title, "svg": Markup(svg), "note": note} for cid, title, svg, note in draw_charts(rep, t, ms)]
    rules = rule_tables(rep, t)
    other = other_rule_changes(rep)
    sections = [("overview", t["overview"]), ("versions", t["details"]), ("rules", t["rule_diff"])]
    if other:
        sections.append(("other-rules", t["other_rules"]))
    sections += [("summary", t["summary"]), ("charts", t["charts"]), ("distribution", t["distribution"]), ("movers", t["movers"]),
                 ("municipal", t["per_municipality"]), ("undefined", t["undefined_values"]), ("citations", t["citations"])]
    undefined_rows = undefined.rows(t)
    parts = [t["undefined_part"].format(version=v, n=f"{undefined.per_version.get(v, 0):,}") for v in (rep.a.id, rep.b.id)]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    page = env.get_template("report.html.j2").render(
        t=t, head=header(rep, t), rule_tables=rules, other_rules=other,
        summaries=summaries, charts=charts, tables=tables, undefined=undefined_rows, citations=citations(rep),
        a=rep.a.id, b=rep.b.id, fonts=Markup(", ".join(f"'{f}'" for f in FONTS) + ", sans-serif"),
        sections=sections, changes=what_changes(rep, t), figures=key_figures(rep, t, ms, summaries),
        top=overview_movers(rep, t, ms), selection=selection_note(rep, t), full_tables=rep.full_tables,
        scaled_note=None if rep.full_tables else t["scaled_note"].format(n=f"{len(rep.shown):,}"),
        distributions=[distribution(m, t) for m in ms], movers=mover_tables(rep, t, ms),
        per_person=any(m.per_person for m in ms), top_n=TOP_MOVERS, n=f"{rep.n:,}",
        undefined_summary=t["undefined_summary"].format(parts=t["sep"].join(parts), g=len(undefined_rows)) if undefined_rows else t["undefined_none"],
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


def draw_charts(rep: Report, t: dict, ms: list | None = None) -> list[tuple[str, str, str, str | None]]:
    """(id, title, svg, note) for each chart whose names the versions define.

    With more than BAR_CHART_MAX municipalities (a third of FULL_TABLES_MAX: a chart of a few hundred
    labelled bars is unreadable and slow to draw) the two per-municipality bar charts become
    histograms of the same changes: no chart draws a bar or a label per municipality then."""
    import warnings

    matplotlib, Figure, rc = _matplotlib()
    out = []
    scaled = rep.n > BAR_CHART_MAX
    ms = measures(rep, t) if ms is None and scaled else ms
    if scaled:
        target = ("target", t["chart_target_hist"], lambda rep, t, Figure: _chart_target_hist(rep, t, Figure, ms))
        levy = ("levy", t["chart_levy_hist"], lambda rep, t, Figure: _chart_levy_hist(rep, t, Figure, ms))
    else:
        target, levy = ("target", t["chart_target"], _chart_target), ("levy", t["chart_levy"], _chart_levy)
    with warnings.catch_warnings(), matplotlib.rc_context(rc):
        warnings.simplefilter("ignore")
        for cid, title, fn in (("alpha", t["chart_alpha"], _chart_alpha), ("bands", t["chart_bands"], _chart_bands),
                               target, levy, ("deficit", t["chart_deficit"], _chart_deficit)):
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
            flag_undefined = _undefined_count(res.evaluator.fast(flag, y), n_munis)
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


def _floats(m) -> np.ndarray:
    """A measure's defined values as floats, for drawing only."""
    rows = np.flatnonzero(m.defined)
    den = m.den[rows] if isinstance(m.den, np.ndarray) else m.den
    with np.errstate(all="ignore"):
        return np.asarray(m.num[rows], dtype=np.float64) / np.asarray(den, dtype=np.float64)


def _hist(rep: Report, t: dict, Figure, series_of, xlabel: str):
    """One panel per year: a histogram of each series (bars, then outlines) over the same bins."""
    years = rep.years
    ncols = min(3, len(years))
    nrows = -(-len(years) // ncols)
    height = 0.55 + 2.1 * nrows
    fig = Figure(figsize=(7.0, height))
    fig.subplots_adjust(left=0.08, right=0.99, top=1 - 0.45 / height, bottom=0.45 / height, wspace=0.3, hspace=0.7)
    undefined = 0
    drawn = False
    for k, y in enumerate(years):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        series = series_of(y)
        values = [v for v, _, _, _ in series if len(v)]
        undefined = max([undefined] + [u for _, _, _, u in series])
        if not values:
            ax.axis("off")
            continue
        drawn = True
        both = np.concatenate(values)
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo - 0.5, hi + 0.5, 2) if lo == hi else np.linspace(lo, hi, HIST_BINS + 1)
        for j, (vals, label, kind, _) in enumerate(series):
            counts, _ = np.histogram(vals, edges)
            if kind == "bar":
                ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=COLOR_B, label=label, linewidth=0)
            else:
                ax.stairs(counts, edges, color="#e08a1e", linewidth=1.2, label=label)
        if lo <= 0 <= hi:
            ax.axvline(0, color="#333333", linewidth=0.6)
        ax.set_title(FiscalYear(y).both, fontsize=8, loc="left")
        ax.set_xlabel(xlabel, fontsize=7)
        ax.tick_params(labelsize=6.5)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        if k == 0:
            ax.set_ylabel(t["municipalities"], fontsize=7)
            if len(series) > 1:
                ax.legend(loc="upper left", bbox_to_anchor=(0, 1.32), fontsize=6.5, frameon=False, ncol=2)
    if not drawn:
        return None
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_target_hist(rep: Report, t: dict, Figure, ms):
    by = {m.year: m for m in ms if m.key == "target"}
    if not by:
        return None
    return _hist(rep, t, Figure, lambda y: [(_floats(by[y]) * 100, "", "bar", int(len(by[y].defined) - by[y].defined.sum()))] if y in by else [],
                 f"{rep.b.id} − {rep.a.id} ({t['pp']})")


def _chart_levy_hist(rep: Report, t: dict, Figure, ms):
    levy = {m.year: m for m in ms if m.key == "levy"}
    net = {m.year: m for m in ms if m.key == "net"}
    if not levy and not net:
        return None

    def series(y):
        out = []
        for m, kind, key in ((levy.get(y), "bar", "hist_levy"), (net.get(y), "step", "hist_net")):
            if m is not None:
                out.append((_floats(m), t[key].format(label=_label(rep, m.name_b)), kind, int(len(m.defined) - m.defined.sum())))
        return out

    return _hist(rep, t, Figure, series, f"{rep.b.id} − {rep.a.id} ({t['yen_per_person']})")


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
    counts = {v.id: [_value_counts(res.evaluator, name, y) for y in years] for v, res in sides}
    shared = len(sides) == 2 and counts[rep.a.id] == counts[rep.b.id]
    if shared:
        sides = [(rep.b, rep.result_b)]
    values: list = []
    for v, _ in sides:
        for c in counts[v.id]:
            for key in c:
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
            hs = [c.get(status, 0) for c in counts[v.id]]
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


def _value_counts(ev, name: str, year: int) -> dict:
    """How many municipalities have each value of a text or true/false name (None: undefined), from the column."""
    n = ev.n
    v = ev.fast(name, year)
    if not is_col(v):
        return {None if type(v) is Undefined else v: n}
    known = np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
    out: dict = {}
    from .columnar.columns import BoolCol, ObjCol

    if type(v) is ObjCol and v.cats is not None:
        for k, c in enumerate(np.bincount(v.codes[known], minlength=len(v.cats)).tolist()):
            if c:
                out[v.cats[k]] = out.get(v.cats[k], 0) + c
    elif type(v) is BoolCol:
        for key, c in ((False, int(np.count_nonzero(known & ~v.b))), (True, int(np.count_nonzero(known & v.b)))):
            if c:
                out[key] = c
    else:
        for x in ev.to_python(v):
            if not is_undef(x):
                out[x] = out.get(x, 0) + 1
    if not known.all():
        out[None] = int(np.count_nonzero(~known))
    return out


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
