"""A workbook cell: an exact value and its unit -> what openpyxl or the column writer stores, its number format and its width.

The lowest layer of the workbooks: engine/xlsx.py (sheets of cells, through openpyxl) and
engine/xlsx_columns.py (big sheets written from whole columns) both read cells through these.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from fractions import Fraction

import attrs

from .render import decimal_text, format_display
from .values import check_printable, is_undef
from .years import FiscalYear


@attrs.frozen
class V:
    """One cell: an exact value and the unit that decides its number format."""

    value: object  # Fraction | int | bool | str | Undefined | None
    unit: str = "text"  # percent | pp | yen | count | ratio | number | text | bool | year


# ---- cells -------------------------------------------------------------------------------------


def _places(x: Fraction) -> int:
    text = decimal_text(x)
    return len(text.partition(".")[2])


def cell_value(v: V):
    """The value openpyxl stores: Decimal for numbers, bool, str, or None for an empty cell."""
    x = v.value
    if x is None or is_undef(x):
        return None
    if isinstance(x, bool):
        return x
    if isinstance(x, str):
        return x
    if v.unit == "year":
        return FiscalYear(int(x)).both
    x = Fraction(x)
    if v.unit == "pp":
        x = x * 100  # points, with a "pp" format
    if x.denominator == 1:
        check_printable(x.numerator)  # openpyxl writes it as text
        return int(x)
    return Decimal(decimal_text(x))


def number_format(v: V) -> str | None:
    """`0.00%` rates, `#,##0` yen and counts, `+0.00"pp"` rate differences, enough places for ratios."""
    x = v.value
    if x is None or is_undef(x) or isinstance(x, (bool, str)) or v.unit in ("text", "bool", "year"):
        return None
    x = Fraction(x)
    if v.unit == "percent":
        extra = max(0, _places(x * 100) - 2)
        return "0.00" + "#" * extra + "%"
    if v.unit == "pp":
        extra = max(0, _places(x * 100) - 2)
        body = "0.00" + "#" * extra + '"pp"'
        return f"+{body};-{body};{body}"
    if v.unit in ("yen", "count", "yen_delta", "count_delta"):
        places = _places(x)
        body = "#,##0" + ("." + "#" * places if places else "")
        return f"+{body};-{body};0" if v.unit.endswith("_delta") else body
    places = _places(x)
    return "0" if places == 0 else "0." + "0" * min(places, 2) + "#" * max(0, places - 2)


def display_text(v) -> str:
    """What the cell shows, for the column width."""
    if not isinstance(v, V):
        return "" if v is None else str(v)
    x = v.value
    if x is None or is_undef(x):
        return ""
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if isinstance(x, str):
        return x
    if v.unit == "year":
        return FiscalYear(int(x)).both
    unit = {"yen_delta": "yen", "count_delta": "count"}.get(v.unit, v.unit)
    text = format_display(Fraction(x), unit)
    return text.rstrip("円") + ("+" if v.unit.endswith("_delta") and x > 0 else "")


def text_width(text: str) -> int:
    """Columns a text takes: an East Asian wide or full-width character counts as two."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in text.split("\n")), default=0)
