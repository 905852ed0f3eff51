"""The page's words: the ja/en UI text (data beside the template, templates/report-text.json) and value text.

Exact values are shown exactly (render.format_display); yen per person rounded to whole yen.
"""

from __future__ import annotations

import functools
import json
from fractions import Fraction
from pathlib import Path

from ..display import reason_text, version_labels
from ..errors import UsageError, finding
from ..render import format_display

# The page's own words in each language it has, keyed as the template and this package read them.
TEXT_FILE = Path(__file__).resolve().parent.parent / "templates" / "report-text.json"


@functools.lru_cache(maxsize=1)
def text_table() -> dict[str, dict]:
    """templates/report-text.json: language -> key -> text (a few keys hold a list or a table), read once."""
    return json.loads(TEXT_FILE.read_text(encoding="utf-8"))


# ---- the text of values ---------------------------------------------------------------------


def ui_text(lang: str) -> dict:
    table = text_table()
    if lang not in table:
        raise UsageError(finding("bad-lang", f"--lang {lang}: the report is in {' or '.join(table)}"))
    return table[lang]


def reason_shown(reason: str, rep, t: dict) -> str:
    """An undefined value's reason in the page's language, names by B's labels, else A's."""
    return reason_text(reason, t["lang"], version_labels(rep.a, rep.b))


def display_value(v, unit: str, t: dict) -> str:
    if isinstance(v, bool):
        return t["bool_true"] if v else t["bool_false"]
    return format_display(v, unit)


def signed_text(delta: Fraction, unit: str) -> str:
    unit = "pp" if unit == "percent" else unit
    text = format_display(delta, unit)
    return "+" + text if delta > 0 else text


def yen_rounded(x) -> int:
    """A yen amount rounded half up to the yen, for display only (the values themselves stay exact)."""
    q = Fraction(x)
    whole = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    return -whole if q < 0 else whole


def yen_text(x, signed: bool = False) -> str:
    k = yen_rounded(x)
    return ("+" if signed and k > 0 else "") + format_display(k, "yen")


def pct_text(delta, base) -> str:
    """delta / base as a percentage rounded half up to 2 places, for display ('' when base is 0)."""
    if not base:
        return ""
    q = Fraction(delta) / abs(Fraction(base)) * 10000
    k = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    k = -k if q < 0 else k
    sign = "+" if k > 0 else ("-" if k < 0 else "")
    return f"{sign}{abs(k) // 100}.{abs(k) % 100:02d}%"
