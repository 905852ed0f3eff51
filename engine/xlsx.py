"""Result tables -> an .xlsx workbook (openpyxl): one sheet per table, typed cells, Japanese headers.

Cells hold numbers, not text: a rate is stored as its ratio with a `0.00%` format (98.12%
is 0.9812), a difference of rates in percentage points with a `+0.00"pp"` format, yen and
counts as integers with `#,##0`, coefficients as decimals. Values are written from the exact
Fractions through Decimal (exactly, when the decimal terminates; else to 15 places, as
render.decimal_text does), never through float. An undefined value is an empty cell; its
reason is in the row's 未定義の理由 column and on the 未定義の値 sheet. Every sheet has a
frozen header row, an autofilter and column widths that fit (an East Asian wide character
counts as two). The bytes are deterministic: fixed document times and zip entry times.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from fractions import Fraction

import attrs

from .cells import MAX_CELL_TEXT
from .display import reason_text, version_labels
from .render import decimal_text, format_display, restore
from .results import EvalResult
from .summary import summarise
from .values import ValueTooLarge, is_undef
from .xlsx_cells import V, cell_value, display_text, number_format, text_width
from .years import FiscalYear

FIXED_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)  # the workbook's created/modified: not the clock
ZIP_TIME = (2000, 1, 1, 0, 0, 0)
MAX_WIDTH = 60
HEADER_FILL = "FFEEF2F7"

# Sheet names (at most 31 characters, none of []:*?/\).
SUMMARY, PER_MUNICIPALITY, RULE_DIFF, UNDEFINED = "集計", "団体別", "規則の比較", "未定義の値"


@attrs.frozen
class Sheet:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple, ...]  # cells: V, or a plain str / int / None
    frozen_columns: int = 0  # key columns kept in view beside the frozen header row


# ---- workbook ----------------------------------------------------------------------------------


def workbook(sheets: list[Sheet]) -> bytes:
    """The sheets as .xlsx bytes; the same sheets give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor=HEADER_FILL)
    wrap = Alignment(vertical="top")
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title)
        widths = [text_width(h) for h in sheet.header]
        for col, h in enumerate(sheet.header, start=1):
            c = _text_cell(ws, 1, col, h)
            c.font, c.fill, c.alignment = bold, fill, wrap
        for r, row in enumerate(sheet.rows, start=2):
            for col, cell in enumerate(row, start=1):
                v = (
                    cell
                    if isinstance(cell, V)
                    else V(cell, "text" if not isinstance(cell, (int, Fraction)) or isinstance(cell, bool) else "count")
                )
                try:
                    value = cell_value(v)
                    if value is None:
                        continue
                    fmt = number_format(v)
                    shown = display_text(v)
                except ValueTooLarge:
                    keys = " ".join(x for x in row[:3] if isinstance(x, str))
                    raise ValueTooLarge(
                        f"the cell '{sheet.header[col - 1]}' of sheet {sheet.title}, row {r}" + (f" ({keys})" if keys else "")
                    ) from None
                c = _text_cell(ws, r, col, value) if type(value) is str else ws.cell(row=r, column=col, value=value)
                if fmt:
                    c.number_format = fmt
                widths[col - 1] = max(widths[col - 1], text_width(shown))
        for k, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(k)].width = min(MAX_WIDTH, max(6, w + 2))
        ws.freeze_panes = ws.cell(row=2, column=sheet.frozen_columns + 1).coordinate
        last = get_column_letter(max(1, len(sheet.header)))
        ws.auto_filter.ref = f"A1:{last}{max(1, len(sheet.rows) + 1)}"
    wb.properties.creator = "kokuho"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _fixed_zip_times(buf.getvalue())


def _text_cell(ws, row: int, column: int, text: str):
    """A string cell, whatever the text: never a formula (`=HYPERLINK(…)` from a name or a label stays text), never an
    error value (`#N/A`). Control characters XML cannot carry become U+FFFD; a text over Excel's limit is cut, with '…'."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(text))
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    c = ws.cell(row=row, column=column)
    c.value = text  # openpyxl reads a leading '=' as a formula ...
    c.data_type = "s"  # ... and this makes it a plain string again
    return c


def _fixed_zip_times(data: bytes) -> bytes:
    """The same archive with every entry dated ZIP_TIME (zipfile stamps the clock otherwise)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---- evaluation ------------------------------------------------------------------------------


# A workbook is read by people: its reasons are in Japanese (display.reason_text), names by their labels.


def _reasons(names, values, labels: dict) -> str:
    return "; ".join(f"{n}: {reason_text(v.reason, 'ja', labels)}" for n, v in zip(names, values) if is_undef(v))


def summary_rows(result: EvalResult) -> list[tuple]:
    """年度 | 種類 | 項目 | 範囲 | 値 | 達成自治体数 | 自治体数 | 未定義の理由, from the version's summary block."""
    rows = []
    labels = version_labels(result.version)
    for s in summarise(result):
        fy = s.year.both
        for table, counts in s.bands.items():
            flag = s.band_flag[table]
            if is_undef(counts):
                rows.append(
                    (
                        fy,
                        f"区分別の{result.label(flag)}",
                        result.label(table),
                        None,
                        None,
                        None,
                        None,
                        reason_text(counts.reason, "ja", labels),
                    )
                )
                continue
            unknown = sum(1 for x in result.evaluator.column(flag, s.year) if is_undef(x))
            for b in counts:
                rows.append(
                    (
                        fy,
                        f"区分別の{result.label(flag)}",
                        b.label,
                        b.interval,
                        b.wording,
                        V(b.achieved, "count"),
                        V(b.municipalities, "count"),
                        f"{result.label(flag)}が未定義の団体を含む" if unknown else None,
                    )
                )
            if s.no_band.get(table):
                rows.append(
                    (
                        fy,
                        f"区分別の{result.label(flag)}",
                        "区分なし",
                        None,
                        None,
                        None,
                        V(s.no_band[table], "count"),
                        "前年度の収納率が未定義",
                    )
                )
        for kind, _name, label, _display, raw, unit in s.lines:
            what = {"total": "合計", "tally": "件数", "show": "値"}[kind]
            if raw is None:
                continue
            value = V(raw, "count" if kind == "tally" else unit)
            rows.append((fy, what, label, None, value, None, None, reason_text(raw.reason, "ja", labels) if is_undef(raw) else None))
    return rows


SUMMARY_HEADER = ("年度", "種類", "項目", "範囲", "値", "達成自治体数", "自治体数", "未定義の理由")


def eval_sheets(result: EvalResult) -> list[Sheet]:
    """集計 (the summary), 団体別 (one row per municipality-year), 未定義の値 (every undefined value)."""
    cols = result.columns
    header = ("年度", "団体コード", "団体名") + tuple(result.label(c) for c in cols) + ("未定義の理由",)
    rows = []
    undefined = []
    labels = version_labels(result.version)
    for r in result.rows:
        fy = r.year.both
        cells = [fy, r.municipality.code, r.municipality.name]
        for c, v in zip(cols, r.values):
            cells.append(V(v, result.unit(c)))
            if is_undef(v):
                undefined.append((fy, r.municipality.code, r.municipality.name, result.label(c), c, reason_text(v.reason, "ja", labels)))
        cells.append(_reasons(cols, r.values, labels) or None)
        rows.append(tuple(cells))
    return [
        Sheet(SUMMARY, SUMMARY_HEADER, tuple(summary_rows(result)), 1),
        Sheet(PER_MUNICIPALITY, header, tuple(rows), 3),
        Sheet(UNDEFINED, ("年度", "団体コード", "団体名", "項目", "名前", "理由"), tuple(undefined), 3),
    ]


def eval_workbook(result: EvalResult) -> bytes:
    return workbook(eval_sheets(result))


# ---- diff ---------------------------------------------------------------------------------------


def _delta_unit(unit: str) -> str:
    return {"percent": "pp", "pp": "pp", "yen": "yen_delta", "count": "count_delta"}.get(unit, unit)


RULE_HEADER = {"section": "区分", "name": "名前", "fiscal_years": "年度", "item": "項目", "change": "変更"}


def rule_sheet(rd) -> Sheet:
    """The rule diff (diff.compare_rules) as rows, as `kokuho diff --rules-only --format csv` gives them."""
    from .diff import render_rules

    table = [
        [restore(x) for x in row] for row in csv.reader(io.StringIO(render_rules(rd, "csv").lstrip("\ufeff")))
    ]  # cells as written, not CSV-neutralised
    head = tuple(RULE_HEADER.get(h, h.replace("_line", " の行")) for h in table[0])
    return Sheet(RULE_DIFF, head, tuple(tuple(x or None for x in row) for row in table[1:]), 2)


def outcome_sheets(d) -> list[Sheet]:
    """団体別 (each compared value under A and B, B - A, status, causes) and 未定義の値."""
    a, b = d.a.id, d.b.id
    header = ("年度", "団体コード", "団体名", "項目", "名前", a, b, f"差 ({b}−{a})", "状態", "原因", "未定義の理由")
    labels = version_labels(d.a, d.b)
    rows, undefined = [], []
    for r in d.rows:
        fy = r.year.both
        reasons = "; ".join(f"{tag}: {reason_text(v.reason, 'ja', labels)}" for tag, v in ((a, r.a), (b, r.b)) if is_undef(v))
        rows.append(
            (
                fy,
                r.municipality.code,
                r.municipality.name,
                d.label(r.name),
                r.name,
                V(r.a, r.unit),
                V(r.b, r.unit),
                V(r.delta, _delta_unit(r.unit)) if r.delta is not None else None,
                r.status,
                " | ".join(c.text for c in r.causes) or None,
                reasons or None,
            )
        )
    for tag, year, m, name, reason in d.undefined_values():
        undefined.append((tag, year.both, m.code, m.name, d.label(name), name, reason_text(reason, "ja", labels)))
    return [
        Sheet(PER_MUNICIPALITY, header, tuple(rows), 3),
        Sheet(UNDEFINED, ("版", "年度", "団体コード", "団体名", "項目", "名前", "理由"), tuple(undefined), 4),
    ]


def diff_summary_sheet(d, summaries) -> Sheet:
    """Per year: target moves (overall and by band), achievement changes, totals and their shifts, largest movers."""
    a, b = d.a.id, d.b.id
    labels = version_labels(d.a, d.b)
    rows = []
    for s in summaries:
        fy = s.year.both
        if s.moves is not None:
            for word, n in zip(("上がる", "下がる", "変わらない", "未定義"), s.moves):
                rows.append((fy, f"{d.label(s.target)}の変化", word, None, None, V(n, "count"), None))
            for bm in s.by_band:
                for interval, label, count, rises, falls, stays, undef in bm.rows:
                    note = f"上がる {rises}, 下がる {falls}, 変わらない {stays}, 未定義 {undef}"
                    rows.append(
                        (
                            fy,
                            f"{bm.version} の区分別 ({bm.label})",
                            f"{label} {interval}".strip(),
                            None,
                            None,
                            V(count, "count"),
                            "; ".join(x for x in (note, bm.note and reason_text(bm.note, "ja", labels)) if x),
                        )
                    )
        if s.achievement is not None:
            for word, n in zip(("両方で達成", f"{b}でのみ達成", f"{a}でのみ達成", "どちらも未達成", "未定義"), s.achievement):
                rows.append((fy, f"{d.label(s.flag)}の変化", word, None, None, V(n, "count"), None))
        for p in s.parts:
            note = (
                f"増 {p.raised} 団体 {format_display(p.raised_sum, 'yen')}, 減 {p.lowered} 団体 {format_display(p.lowered_sum, 'yen')}, "
                f"変化なし {p.stays}, 未定義 {p.undefined}"
            )
            reasons = "; ".join(
                f"{tag}: {reason_text(v.reason, 'ja', labels)}" for tag, v in ((a, p.total_a), (b, p.total_b)) if is_undef(v)
            )
            rows.append(
                (
                    fy,
                    "合計",
                    p.label,
                    V(p.total_a, "yen"),
                    V(p.total_b, "yen"),
                    V(p.net, "yen_delta"),
                    "; ".join(x for x in (note, reasons) if x),
                )
            )
        for name, movers in s.movers:
            for r in movers:
                rows.append(
                    (
                        fy,
                        f"変化の大きい団体: {d.label(name)}",
                        f"{r.municipality.code} {r.municipality.name}",
                        V(r.a, r.unit),
                        V(r.b, r.unit),
                        V(r.delta, _delta_unit(r.unit)),
                        None,
                    )
                )
    return Sheet(SUMMARY, ("年度", "種類", "項目", a, b, "値・差", "注"), tuple(rows), 1)


def diff_workbook(
    session, a, b, years, *, columns=None, show_all=False, min_change=None, top=None, rules_only=False, only=None
) -> tuple[bytes, bool]:
    """`kokuho diff A B --format xlsx`: the workbook and whether anything differs (for --exit-code); the versions
    and the fiscal years (a list) are the command line's."""
    from . import diff

    rd = diff.compare_rules(a, b, years)
    if rules_only:
        return workbook([rule_sheet(rd)]), not rd.empty
    d = diff.compare(
        a, b, session.data_for(a), session.data_for(b), years, columns, show_all=show_all, min_change=min_change, top=top, only=only
    )
    per, undefined = outcome_sheets(d)
    sheets = [diff_summary_sheet(d, diff.summarise(d, top=top, movers=columns)), per, rule_sheet(rd), undefined]
    return workbook(sheets), d.shown_changed > 0


# ---- report -------------------------------------------------------------------------------------


def report_sheets(rep) -> list:
    """集計 (both versions' summaries), 団体別 (A, B, B − A and the change in percent side by side, one row per
    municipality and year), 規則の比較, 未定義の値 (every undefined value, one row each).

    The two big sheets are made from whole columns (engine/xlsx_columns.py): at 20,000 municipalities a
    cell-by-cell workbook takes minutes. -m (rep.selected) limits the rows of 団体別; the summary and the
    undefined values cover every municipality."""
    from .xlsx_columns import SmallSheet

    a, b = rep.a.id, rep.b.id
    summary = [(a,) + row for row in summary_rows(rep.result_a)] + [(b,) + row for row in summary_rows(rep.result_b)]
    rules = rule_sheet(rep.rules)
    return [
        SmallSheet(SUMMARY, ("版",) + SUMMARY_HEADER, tuple(summary), 2),
        _report_municipal_sheet(rep),
        SmallSheet(rules.title, rules.header, rules.rows, rules.frozen_columns),
        _report_undefined_sheet(rep),
    ]


def report_workbook(rep) -> bytes:
    from .xlsx_columns import write

    return write(report_sheets(rep))


PCT_PLACES = 6  # the change in percent is stored as a ratio rounded half up to 6 places (4 of a percent)
PCT_FORMAT = "+0.00%;-0.00%;0.00%"


def _num_format(den: int | None, unit: str) -> str | None:
    """The number format of a column whose values are multiples of 1/den (None: not terminating), per number_format."""
    if unit in ("text", "bool", "year"):
        return None
    probe = Fraction(1, den) if den else Fraction(1, 3)
    return number_format(V(probe, unit))


def _texts_of(rep, v, unit: str, rows):
    """(kind, texts, format) of a value for the rows: exact decimals (rates as ratios, pp as points), texts or 1/0;
    null where undefined."""
    import numpy as np
    import pyarrow as pa

    from .columnar import arrow as A
    from .columnar.columns import BoolCol, Num, ObjCol, is_col
    from .columnar.text import value_texts

    ev = rep.result_b.evaluator
    n = ev.n
    null = pa.scalar(None, pa.string())
    if not is_col(v):
        if is_undef(v):
            return "str", pa.nulls(len(rows), pa.string()), None
        if isinstance(v, bool):
            return "bool", pa.array(["1" if v else "0"] * len(rows), type=pa.string()), None
        if isinstance(v, str) or unit == "year":
            text = FiscalYear(int(v)).both if unit == "year" else v
            return "str", pa.array([text] * len(rows), type=pa.string()), None
        q = Fraction(v) * (100 if unit == "pp" else 1)
        return "num", pa.array([decimal_text(q)] * len(rows), type=pa.string()), _num_format(q.denominator, unit)
    idx = A.array(rows)
    defined = np.ones(len(rows), dtype=bool) if v.rid is None else v.rid[rows] < 0
    if type(v) is BoolCol:
        texts = A.take(A.if_else(A.array(v.b), "1", "0"), idx)
        kind, fmt = "bool", None
    elif type(v) is ObjCol:
        texts = A.take(value_texts(v, "text", n, ev.to_python), idx)
        kind, fmt = "str", None
    elif unit == "year":
        kind, fmt = "str", None
        texts = A.take(pa.array([format_display(x, "year") if not is_undef(x) else "" for x in ev.to_python(v)], type=pa.string()), idx)
    else:
        texts = A.take(value_texts(v, "pp" if unit == "pp" else "ratio", n, ev.to_python), idx)
        kind = "num"
        lin = v.lin if type(v) is Num else None
        den = lin.den if lin is not None and lin.small() is not None else None
        fmt = _num_format(den if den is None or _terminates(den) else None, unit)
    if not defined.all():
        texts = A.if_else(A.array(defined), texts, null)
    return kind, texts, fmt


def _terminates(den: int) -> bool:
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    return den == 1


def _delta_col(blk):
    """B − A of a block as a value column (its rid only marks where no difference is defined), or None when the
    differences have no common denominator that fits."""
    import numpy as np

    from .columnar.columns import IntCol, Lin, Num

    d = blk.delta
    rid = np.where(d.defined, -1, 0).astype(np.int32)
    if d.num is not None:
        return Num(rid, Lin.of(IntCol(np.asarray(d.num, dtype=np.int64)), int(d.den)))
    return None


def _pct_texts(blk, va, rows, ev):
    """(B − A) / |A| per row rounded half up to PCT_PLACES decimals, as exact decimal texts (null where A is 0 or undefined)."""
    import numpy as np
    import pyarrow as pa

    from .columnar.columns import Num, scaled_pair

    d = blk.delta
    out = [None] * len(rows)
    base = None
    if type(va) is Num and d.num is not None:
        ia, _, den = scaled_pair(va, Fraction(0), with_den=True)  # A's numerators over a denominator
        if ia is not None:
            base = (np.asarray(ia, dtype=np.int64), int(den))
    scale = 10**PCT_PLACES
    if base is not None:
        A_num, A_den = base
        num = np.asarray(d.num, dtype=np.int64)[rows]
        an = A_num[rows]
        ok = d.defined[rows] & (an != 0)
        # (num / d.den) / (an / A_den) = num * A_den / (d.den * an)
        big = (int(np.abs(num).max()) if len(num) else 0) * A_den * scale * 2
        qden = np.abs(an) * d.den
        if big < 2**62 and (int(qden.max()) if len(qden) else 0) * 2 < 2**62:
            P = np.abs(num) * (A_den * scale)
            Q = np.where(ok, qden, 1)
            k = (2 * P + Q) // (2 * Q)
            k = np.where(num < 0, -k, k)
            texts = [None if not o else _fixed(int(x)) for x, o in zip(k.tolist(), ok.tolist())]
            return pa.array(texts, type=pa.string())
    for j, i in enumerate(rows.tolist()):
        x = d.at(i)
        a = ev.ops.entry(va, i)
        if x is None or is_undef(a) or not a:
            continue
        q = Fraction(x) / abs(Fraction(a)) * scale
        k = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
        out[j] = _fixed(-k if q < 0 else k)
    return pa.array(out, type=pa.string())


def _fixed(k: int) -> str:
    return decimal_text(Fraction(k, 10**PCT_PLACES))


def _widths(header, columns: list) -> list[int]:
    """Text widths of the columns: the header, and the widest value as shown (numbers formatted, texts as they are)."""
    from .columnar import arrow as A

    widths = [text_width(h) for h in header]
    for k, (kind, texts, _fmt, unit) in enumerate(columns):
        if not len(texts) or texts.null_count == len(texts):
            continue
        lengths = A.fill_null(A.call("utf8_length", texts), 0).to_numpy(zero_copy_only=False)
        longest = texts[int(lengths.argmax())].as_py()
        if kind == "num":
            x = Fraction(longest)
            show = display_text(V(x / 100 if unit == "pp" else x, unit))
        elif kind == "bool":
            show = "FALSE"
        else:
            uniques = A.unique(texts)
            show = max((u for u in uniques.to_pylist() if u), key=text_width, default="") if len(uniques) <= 5000 else longest * 2
        widths[k] = max(widths[k], text_width(show))
    return widths


def _report_municipal_sheet(rep):
    """団体別: per year, one row per shown municipality: A, B, B − A and % for each column."""
    import pyarrow as pa

    from .columnar import arrow as A
    from .columnar.text import rid_column, undefined_texts
    from .report import column_label, column_unit, report_columns, result_blocks
    from .xlsx_columns import BigSheet, Column

    a, b = rep.a.id, rep.b.id
    cols = report_columns(rep)
    blocks = result_blocks(rep)
    ev = rep.result_b.evaluator
    reasons = ev.reasons
    labels, shown = version_labels(rep.a, rep.b), None
    ms = ev.data.municipalities
    rows = rep.shown
    header = ["年度", "団体コード", "団体名"]
    plan = []  # (kind of column, name, side)
    for c in cols:
        sides = [(side, res) for side, res in ((a, rep.result_a), (b, rep.result_b)) if c in res.columns]
        for side, _ in sides:
            header.append(f"{column_label(rep, c)} ({side})")
            plan.append(("value", c, side))
        blk = blocks.get((rep.years[0], c))
        if len(sides) == 2 and blk is not None and blk.numeric:
            header.append(f"{column_label(rep, c)} 差 ({b}−{a})")
            plan.append(("delta", c, None))
            if column_unit(rep, c) not in ("percent", "pp"):
                header.append(f"{column_label(rep, c)} 増減率")
                plan.append(("pct", c, None))
    header.append("未定義の理由")
    codes = pa.array([ms[i].code for i in rows.tolist()], type=pa.string())
    names = pa.array([ms[i].name for i in rows.tolist()], type=pa.string())
    who = pa.array([str(ms[i]) for i in rows.tolist()], type=pa.string())
    chunks = []
    for y in rep.years:
        fy = pa.array([y.both] * len(rows), type=pa.string())
        made = [("str", fy, None, "text"), ("str", codes, None, "text"), ("str", names, None, "text")]
        parts = []
        for kind, c, side in plan:
            blk = blocks[(y, c)]
            unit = column_unit(rep, c)
            if kind == "value":
                v = blk.va if side == a else blk.vb
                made.append(_texts_of(rep, v, unit, rows) + (unit,))
                rid = rid_column([v], ev.n, reasons)
                parts.append((f"{c} ({side})", None if rid is None else rid[rows]))
            elif kind == "delta":
                du = "pp" if unit in ("percent", "pp") else {"yen": "yen_delta", "count": "count_delta"}.get(unit, unit)
                col = _delta_col(blk)
                if col is None:  # no common denominator that fits: exact values one by one
                    texts = pa.array(
                        [
                            None if blk.delta.at(i) is None else decimal_text(Fraction(blk.delta.at(i)) * (100 if du == "pp" else 1))
                            for i in rows.tolist()
                        ],
                        type=pa.string(),
                    )
                    made.append(("num", texts, _num_format(None, du), du))
                else:
                    k, texts, _ = _texts_of(rep, col, "pp" if du == "pp" else "ratio", rows)
                    made.append(("num", texts, _num_format(col.lin.den if _terminates(col.lin.den) else None, du), du))
            else:
                made.append(("num", _pct_texts(blk, blk.va, rows, ev), PCT_FORMAT, "ratio"))
        shown = reasons.translated("ja", labels, shown)
        texts, _ = undefined_texts(parts, shown, who, len(rows))
        made.append(("str", A.if_else(A.call("equal", texts, ""), pa.scalar(None, pa.string()), texts), None, "text"))
        chunks.append(made)
    widths = [0] * len(header)
    for made in chunks:
        widths = [max(x, w) for x, w in zip(widths, _widths(header, made))]
    return BigSheet(
        PER_MUNICIPALITY,
        tuple(header),
        [(len(rows), [Column(kind, texts, fmt) for kind, texts, fmt, _ in made]) for made in chunks],
        len(rows) * len(rep.years),
        tuple(widths),
        3,
    )


def _report_undefined_sheet(rep):
    """未定義の値: every undefined value of the municipal columns, both versions, every year and municipality."""
    import numpy as np
    import pyarrow as pa

    from .columnar import arrow as A
    from .columnar.columns import is_col
    from .report import column_label, report_columns, result_blocks
    from .xlsx_columns import BigSheet, Column

    a, b = rep.a.id, rep.b.id
    ev = rep.result_b.evaluator
    reasons = ev.reasons
    ms = ev.data.municipalities
    n = ev.n
    cols = report_columns(rep)
    blocks = result_blocks(rep)
    keys, rids = [], []  # (year, municipality, column, side) per entry, and its reason id
    plan = []
    for k, c in enumerate(cols):
        for s, (side, res) in enumerate(((a, rep.result_a), (b, rep.result_b))):
            if c in res.columns:
                plan.append((k, c, s, side))
    for y in rep.years:
        for k, c, s, side in plan:  # noqa: B007
            blk = blocks[(y, c)]
            v = blk.va if s == 0 else blk.vb
            if not is_col(v):
                if not is_undef(v):
                    continue
                where = np.arange(n)
                rid = np.full(n, reasons.plain(v.reason), dtype=np.int32)
            else:
                if v.rid is None:
                    continue
                where = np.flatnonzero(v.rid >= 0)
                rid = v.rid[where]
            if not len(where):
                continue
            keys.append(np.stack([np.full(len(where), y), where, np.full(len(where), k), np.full(len(where), s)], axis=1))
            rids.append(rid)
    header = ("版", "年度", "団体コード", "団体名", "項目", "名前", "理由")
    if not keys:
        return BigSheet(UNDEFINED, header, [], 0, tuple(text_width(h) for h in header), 4)
    key = np.concatenate(keys)
    rid = np.concatenate(rids).astype(np.int64)
    order = np.lexsort((key[:, 3], key[:, 2], key[:, 1], key[:, 0]))
    key, rid = key[order], rid[order]
    entries = reasons.translated("ja", version_labels(rep.a, rep.b)).entries
    pre = pa.array([e[1] for e in entries], type=pa.string())
    suf = pa.array([e[2] if e[0] == "m" else "" for e in entries], type=pa.string())
    is_m = np.array([e[0] == "m" for e in entries], dtype=bool)
    who_all = pa.array([str(m) for m in ms], type=pa.string())
    idx_r, idx_m = A.array(rid), A.array(key[:, 1].astype(np.int64))
    who = A.if_else(A.array(is_m[rid]), A.take(who_all, idx_m), "")
    reason = A.join(A.take(pre, idx_r), who, A.take(suf, idx_r))
    sides = pa.array([a, b], type=pa.string())
    years = sorted(set(rep.years))
    year_text = pa.array([y.both for y in years], type=pa.string())
    labels = pa.array([column_label(rep, c) for c in cols], type=pa.string())
    names = pa.array(list(cols), type=pa.string())
    codes = pa.array([m.code for m in ms], type=pa.string())
    mnames = pa.array([m.name for m in ms], type=pa.string())
    year_idx = np.searchsorted(np.array(years), key[:, 0])
    col_idx = A.array(key[:, 2].astype(np.int64))
    made = [
        ("str", A.take(sides, A.array(key[:, 3].astype(np.int64))), None, "text"),
        ("str", A.take(year_text, A.array(year_idx.astype(np.int64))), None, "text"),
        ("str", A.take(codes, idx_m), None, "text"),
        ("str", A.take(mnames, idx_m), None, "text"),
        ("str", A.take(labels, col_idx), None, "text"),
        ("str", A.take(names, col_idx), None, "text"),
        ("str", reason, None, "text"),
    ]
    widths = _widths(header, made)
    return BigSheet(UNDEFINED, header, [(len(rid), [Column(kind, texts, fmt) for kind, texts, fmt, _ in made])], len(rid), tuple(widths), 4)
