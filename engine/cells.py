"""Spreadsheet safety of text cells: no CSV cell is read as a formula.

Excel, LibreOffice and Google Sheets read a CSV cell that starts with = + - @ (or a tab or a
carriage return) as a formula. Names and labels come from data and rule files, so every CSV cell
that starts so, and is not a plain number, gets a single quote in front (the OWASP "CSV
injection" advice); so does a cell that already starts with a quote, so that the rule stays
reversible: a reader removes the first character of every cell that starts with ' (restore()).
docs/data.md says so for staff. render.to_csv applies it cell by cell, the columnar CSV writer
(engine/columnar/text.py) to whole columns.
"""

from __future__ import annotations

import re

FORMULA_START = "=+-@\t\r'"  # a cell starting with one of these is neutralised unless it is a number
NUMBER_PATTERN = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?%?"  # -12, +0.30, -1,234.5, -.5, -1e5, -3%
_NUMBER = re.compile(NUMBER_PATTERN, re.ASCII)
_STARTS = frozenset(FORMULA_START)
MAX_CELL_TEXT = 32_767  # Excel's limit on the characters of one workbook cell: a longer text makes it call the file damaged


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
