"""An evaluation's per-year summary, laid out by the version's `summary` block.

`bands TABLE FLAG` counts, per band of the table in force that year (a revision's table takes
over from its first year, so the bands may differ between years), the municipalities whose key fell
in it and how many of them have FLAG true (the seed's 「達成自治体数」 table); `total` sums
over municipalities; `tally` counts each distinct value; `show` gives prefecture values.
"""

from __future__ import annotations

from collections import Counter

import attrs
import numpy as np

from . import ast
from .columnar.columns import BoolCol, ObjCol, is_col
from .display import value_text
from .render import format_display
from .results import EvalResult
from .values import Undefined, is_undef
from .versions import Piece
from .years import FiscalYear


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
    year: FiscalYear
    bands: dict  # table name -> tuple[BandCount] | Undefined (table not in force)
    band_flag: dict  # table name -> flag name
    no_band: dict  # table name -> number of municipalities with no band (key undefined)
    lines: tuple  # (kind, name, label, display value, raw value, unit)
    tables: dict = attrs.field(factory=dict)  # table name -> the Piece in force this year (its bands may differ between years)
    tallies: dict = attrs.field(factory=dict)  # name -> ((value, count), ...) of a tally line, in the lines' order; value None: undefined


def summarise(result: EvalResult, *, lang: str = "ja") -> list[YearSummary]:
    """Each year's summary lines, computed over whole columns (a band's members, totals, tallies).

    lang: how a tally line names the values it counts (ja: the rule's labels, ○/×; en: the values).
    """
    ev = result.evaluator
    version = result.version
    summary = version.items.get("summary")
    n = ev.n
    out = []
    for y in result.years:
        bands: dict = {}
        flags: dict = {}
        no_band: dict = {}
        tables: dict = {}
        tallies: dict = {}
        lines = []
        for line in summary.lines if summary else ():
            if line.kind == "bands":
                table_name, flag = line.names
                flags[table_name] = flag
                ev.fast(table_name, y)
                piece = ev.at(y).piece(table_name)  # the table in force this year, with the version that wrote it
                lookup = piece.item if isinstance(piece, Piece) else piece
                if not isinstance(lookup, ast.Table):
                    bands[table_name] = Undefined(getattr(lookup, "reason", f"no table {table_name}"))
                    continue
                tables[table_name] = piece
                choice = ev.band_choice_array(table_name, y)
                choice = np.full(n, -1, dtype=np.int64) if choice is None else np.broadcast_to(choice, (n,)) if len(choice) == 1 else choice
                truth, known = _truth(ev.fast(flag, y), n)
                rows = []
                for idx, band in enumerate(lookup.bands):
                    members = choice == idx
                    hits = int(np.count_nonzero(members & known & truth))
                    unknown = int(np.count_nonzero(members & ~known))
                    rows.append(
                        BandCount(band.label or band.interval, band.interval, band.wording, int(np.count_nonzero(members)), hits, unknown)
                    )
                bands[table_name] = tuple(rows)
                no_band[table_name] = int(np.count_nonzero(choice < 0))
            elif line.kind == "total":
                for name in line.names:
                    total = ev.total(name, y)
                    unit = result.unit(name)
                    lines.append(("total", name, result.label(name), format_display(total, unit), total, unit))
            elif line.kind == "tally":
                for name in line.names:
                    item = version.items.get(name)
                    counts = _tally(ev, ev.fast(name, y), result.unit(name))
                    ordered = tuple((value, counts[value]) for value in _tally_order(counts, item))
                    tallies[name] = ordered
                    for value, k in ordered:
                        shown = ("未定義" if lang == "ja" else "undefined") if value is None else value_text(value, item, lang=lang)
                        lines.append(("tally", name, f"{result.label(name)}: {shown}", str(k), k, "count"))
            elif line.kind == "show":
                for name in line.names:
                    v = ev.fast(name, y)
                    unit = result.unit(name)
                    if is_col(v):
                        lines.append(("show", name, result.label(name), "(per municipality)", None, unit))
                    else:
                        lines.append(("show", name, result.label(name), format_display(v, unit), v, unit))
        out.append(YearSummary(y, bands, flags, no_band, tuple(lines), tables, tallies))
    return out


def _truth(v, n: int):
    """(is true, is defined) per municipality of a flag: only a defined True counts as achieved."""
    if type(v) is BoolCol:
        known = np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
        return v.b, known
    if is_col(v):
        raise TypeError("a band's flag is a true/false value")  # pragma: no cover - the checker requires bool
    return np.full(n, v is True), np.full(n, not is_undef(v))


def _tally(ev, v, unit: str) -> Counter:
    """How many municipalities have each value (the value itself; None for the undefined ones)."""
    n = ev.n
    if type(v) is BoolCol or (type(v) is ObjCol and v.cats is not None):
        known = np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
        if type(v) is BoolCol:
            keys, codes = [False, True], v.b.astype(np.int64)
        else:
            keys, codes = v.cats, v.codes
        counts: Counter = Counter()
        for k, c in enumerate(np.bincount(codes[known], minlength=len(keys)).tolist()):
            if c:
                counts[keys[k]] += c
        if (~known).any():
            counts[None] = int(np.count_nonzero(~known))
        return counts
    col = ev.to_python(v) if is_col(v) else (v,) * n
    return Counter(None if is_undef(x) else x for x in col)


def _tally_order(counts: Counter, item) -> list:
    """The values counted: those the rule labels, in its order; then true before false, the rest as shown; undefined last."""
    labelled = [value for value, _ in getattr(item, "labels", ())]
    known = [x for x in counts if x is not None]
    first = [x for x in labelled if any(type(x) is type(k) and x == k for k in known)]
    rest = [x for x in known if not any(type(x) is type(f) and x == f for f in first)]
    rest.sort(
        key=lambda x: (not isinstance(x, bool), not x if isinstance(x, bool) else 0, format_display(x, getattr(item, "unit", "text")))
    )
    return first + rest + ([None] if None in counts else [])
