"""Values and result tables -> text: exact figures, CSV (UTF-8 with BOM), JSON, markdown, plain tables.

Rates print with 2 decimals (more only when the exact value has more), yen as integers,
booleans as true/false, an undefined value as an empty cell with its reason beside it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
import sys
from fractions import Fraction

from .errors import KokuhoError, finding
from .evaluate import Undefined, is_undef

MAX_DECIMALS = 15  # a value that does not terminate (1/3) is shown to this many places


@functools.lru_cache(maxsize=1024)
def _terminating_places(d: int) -> int | None:
    """Decimal places of 1/d when it terminates (d = 2^a 5^b: max(a, b)), else None."""
    twos = (d & -d).bit_length() - 1
    d >>= twos
    fives = 0
    while d % 5 == 0:
        d //= 5
        fives += 1
    return max(twos, fives) if d == 1 else None


class ValueTooLarge(KokuhoError):
    """A value with more digits than can be written (Python's int-to-text limit, 4,300 digits by default)."""

    def __init__(self, where: str = ""):
        limit = sys.get_int_max_str_digits()
        super().__init__(finding("value-too-large", f"{where or 'a result'} is a number of more than {limit:,} digits: too large to write; "
                                 "a rule that multiplies a value by itself or by large numbers year after year grows it without bound"))
        self.where = where


def _naming_the_value(render):
    """A renderer of an EvalResult whose ValueTooLarge names the value: its definition, municipality and year."""

    @functools.wraps(render)
    def wrapper(result, *args, **kwargs):
        try:
            return render(result, *args, **kwargs)
        except ValueTooLarge as e:
            if e.where:
                raise
            raise ValueTooLarge(_too_large_in(result)) from None

    return wrapper


def _too_large_in(result) -> str:
    """'x of 131016 千代田区 in FY2030 (R12)': the first value of the result that cannot be written, else ''."""
    from .years import FiscalYear

    for r in result.rows:
        for c, v in zip(result.columns, r.values):
            try:
                format_value(v, result.unit(c))
            except ValueTooLarge:
                return f"{c} of {r.municipality} in {FiscalYear(r.year).both}"
    return ""


def int_text(n: int) -> str:
    """str(n), or ValueTooLarge instead of Python's ValueError past the int-to-text limit."""
    try:
        return str(n)
    except ValueError:
        raise ValueTooLarge() from None


def check_printable(n: int) -> None:
    """Raise ValueTooLarge for an int that could not be written as text (cheap for ordinary ints)."""
    if n.bit_length() > 14_000:  # 4,214 digits or fewer are always within the default limit
        int_text(n)


def _grouped(n: int) -> str:
    """1234567 -> '1,234,567' (ValueTooLarge past the int-to-text limit)."""
    try:
        return f"{n:,}"
    except ValueError:
        raise ValueTooLarge() from None


def _num_den(x) -> tuple[int, int]:
    t = type(x)
    if t is int:
        return x, 1
    if t is Fraction:
        return x.numerator, x.denominator
    f = Fraction(x)
    return f.numerator, f.denominator


def decimal_text(x: Fraction, min_places: int = 0) -> str:
    """An exact decimal rendering when x terminates, else rounded half-even to MAX_DECIMALS."""
    return _decimal(*_num_den(x), min_places)


def _decimal(num: int, den: int, min_places: int) -> str:
    """decimal_text of num/den in lowest terms (den > 0), without building a Fraction: a diff prints thousands."""
    negative = num < 0
    num = -num if negative else num
    exact = 0 if den == 1 else _terminating_places(den)
    if exact is not None and exact <= MAX_DECIMALS:
        places = max(min_places, exact)
        scaled = num * 10**places // den  # exact: den divides num * 10**places
    else:
        places = MAX_DECIMALS
        scaled = round(Fraction(num * 10**places, den))
    digits = int_text(scaled).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    if exact is None or exact > MAX_DECIMALS:
        text = text.rstrip("0").rstrip(".") if "." in text else text
    if negative and scaled != 0:
        text = "-" + text
    return text


def _percent_text(v) -> str:
    """A rate as a percentage with at least 2 places: 981/1000 -> 98.10."""
    num, den = _num_den(v)
    num *= 100
    g = math.gcd(num, den)
    return _decimal(num // g, den // g, 2)


def format_value(v, unit: str, *, undefined: str = "") -> str:
    if v is None or type(v) is Undefined:
        return undefined
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if unit == "year":
        return f"FY{int(v)}"
    if unit in ("percent", "pp"):
        return _percent_text(v)
    return decimal_text(v, 0)


def unit_suffix(unit: str) -> str:
    return {"percent": "%", "pp": "pp", "yen": "円"}.get(unit, "")


def format_display(v, unit: str, *, undefined: str = "—") -> str:
    """For tables read by people: 98.10%, 1,234,567円, +0.30pp."""
    if unit in ("yen", "count"):  # most cells of a levy table are whole yen: no decimal rendering needed
        t = type(v)
        if t is int or (t is Fraction and v.denominator == 1):
            return f"{_grouped(int(v))}円" if unit == "yen" else _grouped(int(v))
    if v is None or type(v) is Undefined:
        return undefined
    text = format_value(v, unit)
    if unit in ("yen", "count") and not isinstance(v, (bool, str)):
        whole, _, frac = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        whole = _grouped(int(whole.lstrip("-")))
        text = sign + whole + (f".{frac}" if frac else "")
    return text + unit_suffix(unit) if not isinstance(v, (bool, str)) and unit != "year" else text


# ---- spreadsheet safety: no CSV cell is read as a formula --------------------------------------
#
# Excel, LibreOffice and Google Sheets read a CSV cell that starts with = + - @ (or a tab or a
# carriage return) as a formula. Names and labels come from data and rule files, so every CSV cell
# that starts so, and is not a plain number, gets a single quote in front (the OWASP "CSV
# injection" advice); so does a cell that already starts with a quote, so that the rule stays
# reversible: a reader removes the first character of every cell that starts with ' (restore()).
# docs/data.md §7 says so for staff.

FORMULA_START = "=+-@\t\r'"  # a cell starting with one of these is neutralised unless it is a number
NUMBER_PATTERN = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?%?"  # -12, +0.30, -1,234.5, -.5, -1e5, -3%
_NUMBER = re.compile(NUMBER_PATTERN, re.ASCII)
_STARTS = frozenset(FORMULA_START)


def needs_neutralising(text: str) -> bool:
    """True when a spreadsheet could take this CSV cell for a formula (or it starts with the quote we add)."""
    return bool(text) and text[0] in FORMULA_START and not (text[0] in "+-" and _NUMBER.fullmatch(text) is not None)


def neutralise(text: str) -> str:
    """The cell as a spreadsheet shows it as text: ' in front when needs_neutralising(text), else unchanged."""
    return "'" + text if needs_neutralising(text) else text


def neutralise_column(values: list) -> list:
    """A whole column (or row) of cells: the same list when no cell needs it (the common case), else a neutralised copy.

    Cells that are not text (numbers, None) are left alone."""
    hits = [i for i, v in enumerate(values) if type(v) is str and v[:1] in _STARTS and needs_neutralising(v)]
    if not hits:
        return values
    out = list(values)
    for i in hits:
        out[i] = "'" + out[i]
    return out


def restore(text: str) -> str:
    """What a CSV reader does to undo neutralise(): drop the first character of a cell that starts with '."""
    return text[1:] if text.startswith("'") else text


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    """CSV that Excel opens correctly and safely: UTF-8 with BOM, CRLF line ends, no cell read as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(neutralise_column(list(header)))
    w.writerows(neutralise_column(r) for r in rows)
    return "\ufeff" + buf.getvalue()


def to_markdown(header: list[str], rows: list[list[str]], align=None) -> str:
    from tabulate import tabulate  # imported when used: it is most of a cold start's import time

    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True, colalign=align) + "\n"


def to_table(header: list[str], rows: list[list[str]], align=None) -> str:
    """tabulate's "simple" layout, drawn directly: a diff of thousands of rows is printed on every
    interactive run, and tabulate's general machinery was most of its time."""
    if not rows:  # tabulate's own layout of a header alone differs; it is cheap here
        from tabulate import tabulate

        return tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True, colalign=align) + "\n"
    ncols = len(header) if header else max(len(r) for r in rows)
    align = list(align or ()) + ["left"] * (ncols - len(align or ()))
    cells = [[str(c) for c in r] + [""] * (ncols - len(r)) for r in rows]
    cell_widths = [[_cell_width(c) for c in r] for r in cells]  # measured once: Japanese cells are not free to measure
    widths = [_cell_width(h) + 2 for h in header] if header else [0] * ncols  # tabulate's header padding
    for r in cell_widths:
        for i, w in enumerate(r):
            if w > widths[i]:
                widths[i] = w

    def line(r, ws):
        out = []
        for c, cw, w, a in zip(r, ws, widths, align):
            pad = w - cw
            if a == "right":
                out.append(" " * pad + c)
            elif a == "center":
                out.append(" " * (pad // 2) + c + " " * (pad - pad // 2))
            else:
                out.append(c + " " * pad)
        return "  ".join(out).rstrip()

    lines = []
    if header:
        lines.append(line(header, [_cell_width(h) for h in header]))
        lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(r, ws) for r, ws in zip(cells, cell_widths))
    return "\n".join(lines) + "\n"


def _cell_width(text: str) -> int:
    """Terminal columns, as wcwidth.wcswidth counts them: Japanese (wide) characters take two."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:  # a sum over characters: exact for the characters _char_width vouches for
        w = _char_width(ch)
        if w is None:
            return _wide_width(text)
        width += w
    return width


# Kana, kanji, full- and half-width forms, Greek (α, β, γ) and the punctuation and arrows of our tables: their
# widths as wcwidth gives them (tests/test_render.py checks every code point against it).
KNOWN_WIDTHS = (
    (0x3000, 0x3029, 2), (0x3041, 0x3096, 2), (0x309B, 0x30FF, 2), (0x3400, 0x4DBF, 2), (0x4E00, 0x9FFF, 2),
    (0xF900, 0xFAFF, 2), (0xFF01, 0xFF60, 2), (0xFFE0, 0xFFE6, 2),
    (0x0370, 0x03FF, 1), (0x2010, 0x2027, 1), (0x2190, 0x21FF, 1), (0x2212, 0x2212, 1), (0xFF61, 0xFF9F, 1),
)


@functools.lru_cache(maxsize=4096)
def _char_width(ch: str) -> int | None:
    """One character's columns when it cannot join a neighbour into a wider or narrower cluster, else None.

    Printable ASCII, Latin, Greek, punctuation, arrows, CJK and full/half-width forms, minus the marks,
    joiners and selectors that wcswidth reads together with the character before them.
    """
    import unicodedata

    code = ord(ch)
    if code < 0x80:
        return 1 if 0x20 <= code < 0x7F else None
    if not (0xA0 <= code <= 0x24F or 0x370 <= code <= 0x3FF or 0x2010 <= code <= 0x2BFF or 0x3000 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF
            or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF):
        return None
    if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
        return None
    for lo, hi, w in KNOWN_WIDTHS:
        if lo <= code <= hi:
            return w
    from wcwidth import wcwidth  # a dozen modules: imported only for characters beyond the table

    w = wcwidth(ch)
    return w if w >= 1 else None


@functools.lru_cache(maxsize=4096)
def _wide_width(text: str) -> int:
    from wcwidth import wcswidth

    w = wcswidth(text)
    return w if w >= 0 else len(text)


def to_json(doc) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# ---- evaluation results ---------------------------------------------------------------------


def _undefined_text(result, row) -> str:
    return "; ".join(f"{c}: {v.reason}" for c, v in zip(result.columns, row.values) if is_undef(v))


@_naming_the_value
def render_eval(result, fmt: str, *, headers: str = "en") -> str:
    """An EvalResult as csv | json | markdown | table; one row per municipality-year."""
    from .years import FiscalYear

    cols = result.columns
    if fmt == "json":
        doc = {
            "version": result.version.id,
            "years": [FiscalYear(y).both for y in result.years],
            "columns": [{"name": c, "label": result.label(c), "unit": result.unit(c)} for c in cols],
            "rows": [
                {
                    "fiscal_year": r.year,
                    "code": r.municipality.code,
                    "name": r.municipality.name,
                    "values": {c: (None if is_undef(v) else format_value(v, result.unit(c))) for c, v in zip(cols, r.values)},
                    "undefined": {c: v.reason for c, v in zip(cols, r.values) if is_undef(v)},
                }
                for r in result.rows
            ],
        }
        return to_json(doc)
    if fmt == "csv":
        names = [result.label(c) for c in cols] if headers == "ja" else list(cols)
        keys = ["年度", "団体コード", "団体名"] if headers == "ja" else ["fiscal_year", "code", "name"]
        undefined = "未定義の理由" if headers == "ja" else "undefined"
        rows = [[str(r.year), r.municipality.code, r.municipality.name] + [format_value(v, result.unit(c)) for c, v in zip(cols, r.values)] + [_undefined_text(result, r)] for r in result.rows]
        return to_csv(keys + names + [undefined], rows)
    # People read these: Japanese labels, units, both year forms, and reasons listed below.
    names = [f"{result.label(c)}" for c in cols]
    header = ["年度", "団体コード", "団体名"] + names
    rows = []
    notes: dict[str, int] = {}  # reason -> its footnote number, in order of first use
    for r in result.rows:
        cells = [FiscalYear(r.year).both, r.municipality.code, r.municipality.name]
        for c, v in zip(cols, r.values):
            if is_undef(v):
                cells.append(f"—[{notes.setdefault(v.reason, len(notes) + 1)}]")
            else:
                cells.append(format_display(v, result.unit(c)))
        rows.append(cells)
    align = ["left", "left", "left"] + ["right" if result.unit(c) not in ("text", "bool") else "left" for c in cols]
    body = (to_markdown if fmt == "markdown" else to_table)(header, rows, align)
    title = f"{result.version.id} {result.version.header.title or ''}".strip()
    head = f"# {title}\n\n" if fmt == "markdown" else f"{title}\n\n"
    return head + body + _render_notes(list(notes), fmt)


def _render_notes(notes: list[str], fmt: str) -> str:
    uniq = list(dict.fromkeys(notes))
    if not uniq:
        return ""
    lines = ["", "未定義の値 (undefined values):" if fmt != "markdown" else "\n## 未定義の値 (undefined values)\n"]
    for i, reason in enumerate(uniq, 1):
        lines.append(f"{'- ' if fmt == 'markdown' else '  '}[{i}] {reason}")
    return "\n".join(lines) + "\n"


def render_summary(result, summaries, fmt: str) -> str:
    """The per-year summary (bands with achievers, totals, tallies, coefficients)."""
    from .years import FiscalYear

    if fmt in ("csv", "json"):
        flat = []
        for s in summaries:
            for table, counts in s.bands.items():
                if isinstance(counts, Undefined):
                    flat.append([str(s.year), "bands", table, "", "", counts.reason])
                    continue
                for b in counts:
                    flat.append([str(s.year), "bands", table, b.interval, f"{b.achieved} / {b.municipalities}", b.label])
            for kind, name, label, display, raw, unit in s.lines:
                value = format_value(raw, unit) if raw is not None and not isinstance(raw, Undefined) else ""
                reason = raw.reason if isinstance(raw, Undefined) else ""
                flat.append([str(s.year), kind, name, label, value, reason])
        header = ["fiscal_year", "section", "name", "item", "value", "note"]
        if fmt == "csv":
            return to_csv(header, flat)
        return to_json({"version": result.version.id, "summary": [dict(zip(header, r)) for r in flat]})
    out = []
    md = fmt == "markdown"
    for s in summaries:
        fy = FiscalYear(s.year)
        out.append(f"{'## ' if md else ''}{fy.both} — {result.version.id} 年度別集計\n")
        for table, counts in s.bands.items():
            flag = s.band_flag[table]
            if isinstance(counts, Undefined):
                out.append(f"{result.label(table)}: {counts.reason}\n")
                continue
            key = result.version.items[table].key
            key_label = result.label(key.name) if hasattr(key, "name") else "区分"
            header = [key_label, "区分", result.label(table), f"{result.label(flag)} / 自治体数"]

            def count(achieved, members, unknown):
                return f"{achieved} / {members}" + (f" ({unknown} undefined)" if unknown else "")

            rows = [[b.interval, b.label, b.wording or "", count(b.achieved, b.municipalities, b.undefined)] for b in counts]
            rows.append(["計", "", "", count(sum(b.achieved for b in counts), sum(b.municipalities for b in counts), sum(b.undefined for b in counts))])
            if s.no_band.get(table):
                rows.append(["(no band: previous rate undefined)", "", "", f"– / {s.no_band[table]}"])
            out.append(f"{result.label(table)}\n" if not md else f"### {result.label(table)}\n")
            out.append((to_markdown if md else to_table)(header, rows, ["left", "left", "left", "right"]))
        rows = [[label, display] for kind, name, label, display, raw, unit in s.lines]
        notes = [raw.reason for kind, name, label, display, raw, unit in s.lines if isinstance(raw, Undefined)]
        if rows:
            out.append((to_markdown if md else to_table)(["項目", "値"], rows, ["left", "right"]))
        if notes:
            out.append(_render_notes(notes, fmt))
        out.append("")
    return "\n".join(out)
