"""An evaluation's per-year summary, laid out by the version's `summary` block.

`bands TABLE FLAG` counts, per band of the table in force that year (a revision's table takes
over from its first year, so the bands may differ between years), the municipalities whose key fell
in it and how many of them have FLAG true (the seed's 「達成自治体数」 table); `total` sums
over municipalities; `tally` counts each distinct value; `show` gives prefecture values.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import attrs

from . import ast
from .evaluate import EvalResult, Undefined, is_undef
from .render import format_display
from .versions import Piece


@attrs.frozen
class BandCount:
    label: str  # the band's label, or its interval
    interval: str
    wording: str | None
    municipalities: int
    achieved: int
    undefined: int = 0  # members whose flag is undefined (counted as neither achieved nor missed)


@attrs.frozen
class YearSummary:
    year: int
    bands: dict  # table name -> tuple[BandCount] | Undefined (table not in force)
    band_flag: dict  # table name -> flag name
    no_band: dict  # table name -> number of municipalities with no band (key undefined)
    lines: tuple  # (kind, name, label, display value, raw value, unit)
    tables: dict = attrs.field(factory=dict)  # table name -> the Piece in force this year (its bands may differ between years)


def summarise(result: EvalResult) -> list[YearSummary]:
    ev = result.evaluator
    version = result.version
    summary = version.items.get("summary")
    out = []
    for y in result.years:
        bands: dict = {}
        flags: dict = {}
        no_band: dict = {}
        tables: dict = {}
        lines = []
        for line in summary.lines if summary else ():
            if line.kind == "bands":
                table_name, flag = line.names
                flags[table_name] = flag
                v = ev.value(table_name, y)
                piece = ev.at(y).piece(table_name)  # the table in force this year, with the version that wrote it
                lookup = piece.item if isinstance(piece, Piece) else piece
                if not isinstance(lookup, ast.Table):
                    bands[table_name] = Undefined(getattr(lookup, "reason", f"no table {table_name}"))
                    continue
                tables[table_name] = piece
                choices = ev.band_choices.get((table_name, y, ()), ())
                flag_col = ev.column(flag, y)
                rows = []
                for idx, band in enumerate(lookup.bands):
                    members = [i for i, c in enumerate(choices) if c == idx]
                    hits = sum(1 for i in members if flag_col[i] is True)
                    unknown = sum(1 for i in members if is_undef(flag_col[i]))
                    rows.append(BandCount(band.label or band.interval, band.interval, band.wording, len(members), hits, unknown))
                bands[table_name] = tuple(rows)
                no_band[table_name] = sum(1 for c in choices if c is None)
                del v
            elif line.kind == "total":
                for name in line.names:
                    col = ev.column(name, y)
                    undef = next((x for x in col if is_undef(x)), None)
                    total = undef if undef is not None else sum(col, Fraction(0))
                    unit = result.unit(name)
                    lines.append(("total", name, result.label(name), format_display(total, unit), total, unit))
            elif line.kind == "tally":
                for name in line.names:
                    col = ev.column(name, y)
                    counts = Counter("undefined" if is_undef(x) else format_display(x, result.unit(name)) for x in col)
                    for value in sorted(counts):
                        lines.append(("tally", name, f"{result.label(name)}: {value}", str(counts[value]), counts[value], "count"))
            elif line.kind == "show":
                for name in line.names:
                    v = ev.value(name, y)
                    unit = result.unit(name)
                    if isinstance(v, tuple):
                        lines.append(("show", name, result.label(name), "(per municipality)", None, unit))
                    else:
                        lines.append(("show", name, result.label(name), format_display(v, unit), v, unit))
        out.append(YearSummary(y, bands, flags, no_band, tuple(lines), tables))
    return out
