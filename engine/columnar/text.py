"""Column values -> text, a whole column at a time (Arrow strings): the cells of CSV and Parquet outputs.

Each function writes exactly what engine/render.py's format_value writes for one value
(rates as percentages with at least 2 places, decimals exact where they terminate, else 15
places half-even, booleans true/false, years FY2024), and the reasons of undefined values
exactly as the reference evaluator words them. Columns whose exact decimals cannot be
written over one power of ten (a quotient such as 1/3, a value kept only as a bounded
float) are written value by value from their exact Fractions: slower there, never different.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pyarrow as pa

from ..render import MAX_DECIMALS, format_value
from ..values import Undefined
from . import arrow as A
from .columns import INT_LIMIT, BoolCol, IntCol, Lin, Num, ObjCol, Reasons, is_col

_TRAILING_ZEROS = {0: r"(\.\d*?[1-9])0+$|\.0+$", 2: r"(\.\d\d\d*?[1-9])0+$|(\.\d\d)0+$"}


def _places(d: int) -> int | None:
    """Decimal places of 1/d when it terminates (d = 2^a 5^b), else None."""
    twos = (d & -d).bit_length() - 1
    d >>= twos
    fives = 0
    while d % 5 == 0:
        d //= 5
        fives += 1
    return max(twos, fives) if d == 1 else None


def value_texts(value, unit: str, n: int, to_python) -> pa.Array | None:
    """The text of each municipality's value ("" where undefined); to_python: the evaluator's, for the slow path
    (None: return None instead, when the value needs it)."""
    if not is_col(value):
        text = "" if type(value) is Undefined else format_value(value, unit)
        return pa.array([text] * n, type=pa.string()) if n else pa.array([], type=pa.string())
    if type(value) is BoolCol:
        texts = A.if_else(A.array(value.b), "true", "false")
    elif type(value) is ObjCol:
        texts = _object_texts(value, unit)
    else:
        texts = _number_texts(value, unit)
        if texts is None:
            if to_python is None:
                return None
            return pa.array([format_value(v, unit) for v in to_python(value)], type=pa.string())
    if value.rid is not None and (value.rid >= 0).any():
        texts = A.if_else(A.array(value.rid < 0), texts, "")
    return texts


def _object_texts(value: ObjCol, unit: str) -> pa.Array:
    if value.cats is not None:
        cats = [format_value(c, unit) for c in value.cats]
        return A.take(pa.array(cats, type=pa.string()), A.array(value.codes))
    return pa.array([format_value(v, unit) if v is not None else "" for v in value.o.tolist()], type=pa.string())


def _number_texts(value: Num, unit: str) -> pa.Array | None:
    """Exact decimals over one power of ten, or None when the column needs the value-by-value path."""
    lin = value.lin
    small = lin.small() if lin is not None else None
    if small is None:
        return None
    N, den = small.v, lin.den
    if unit == "year":
        if den != 1:
            return None
        return A.join("FY", A.cast(A.array(N), pa.string()))
    scale = 100 if unit in ("percent", "pp") else 1
    min_places = 2 if scale == 100 else 0
    g = math.gcd(den, scale)
    d = den // g
    k = _places(d)
    if k is None or k > MAX_DECIMALS:
        return None
    k = max(k, min_places)
    m = scale // g * 10**k // d  # Q = N * m is the value times scale, in units of 10^-k
    if small.maxabs() * m >= INT_LIMIT:
        return None
    Q = N * m if m != 1 else N
    if k == 0:
        return A.cast(A.array(Q), pa.string())
    Q_abs = np.abs(Q)
    p = 10**k
    whole = A.cast(A.array(Q_abs // p), pa.string())
    frac = A.lpad(A.cast(A.array(Q_abs % p), pa.string()), k, "0")
    texts = A.join(whole, frac, sep=".")
    if k > min_places:  # each value with its own places, as the exact decimal of its reduced fraction
        texts = A.replace_regex(texts, _TRAILING_ZEROS[min_places], r"\1\2" if min_places else r"\1")
    negative = Q < 0
    if negative.any():
        texts = A.if_else(A.array(negative), A.join("-", texts), texts)
    return texts


def rid_column(values: list, n: int, reasons: Reasons):
    """The reason ids of several years' values of one name, year after year (-1: defined); None if all are defined."""
    parts, any_rid = [], False
    for v in values:
        if type(v) is Undefined:
            parts.append(np.full(n, reasons.plain(v.reason), dtype=np.int32))
            any_rid = True
        elif is_col(v) and v.rid is not None:
            parts.append(v.rid)
            any_rid = True
        else:
            parts.append(np.full(n, -1, dtype=np.int32))
    return np.concatenate(parts) if any_rid else None


def reason_groups(parts, reasons: Reasons, rows: int):
    """Rows grouped by which reasons they have, from [(name, reason ids over the rows or None)] in column order:
    (a group number per row, numbered by first appearance; per group, the pieces of its 'name: reason; name:
    reason' text, a str, or None where the row's municipality goes)."""
    live = [(name, rid) for name, rid in parts if rid is not None and (rid >= 0).any()]
    if not live:
        return np.zeros(rows, dtype=np.int64), [[]]
    matrix = np.stack([rid for _, rid in live], axis=1)
    groups = _row_groups(matrix)
    first = np.zeros(int(groups.max()) + 1, dtype=np.int64)
    first[groups[::-1]] = np.arange(rows)[::-1]  # the first row of each group
    templates = []
    for sig in matrix[first].tolist():
        pieces: list = []
        for (name, _), r in zip(live, sig):
            if r < 0:
                continue
            e = reasons.entries[r]
            lead = f"{'; ' if pieces else ''}{name}: {e[1]}"
            if pieces and pieces[-1] is not None:
                pieces[-1] += lead
            else:
                pieces.append(lead)
            if e[0] == "m":
                pieces += [None, e[2]]
        templates.append(pieces)
    return groups, templates


def undefined_texts(parts, reasons: Reasons, who: pa.Array, rows: int):
    """'name: reason; name: reason' for each row ("" where nothing is undefined), and whether any of it needs CSV
    quoting; who: 'code name' per row, as the reasons name a municipality."""
    groups, templates = reason_groups(parts, reasons, rows)
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=len(templates))
    chunks, special, named = [], False, False
    start = 0
    for pieces, count in zip(templates, counts.tolist()):
        special = special or any(p is not None and _SPECIAL_CHARS.intersection(p) for p in pieces)
        these = order[start: start + count]
        start += count
        if None in pieces:
            named = True
            chunks.append(A.join(*(A.take(who, A.array(these)) if p is None else p for p in pieces)))
        else:
            chunks.append(A.fill_null(pa.nulls(count, pa.string()), pieces[0] if pieces else ""))
    where = np.empty(rows, dtype=np.int64)
    where[order] = np.arange(rows)
    texts = A.take(pa.concat_arrays(chunks), A.array(where))
    return texts, special or (named and A.any_(A.matches(who, _SPECIAL)))


def csv_rows(year_texts: list, cells: list, parts: list, reasons: Reasons, codes: pa.Array, names: pa.Array, who: pa.Array, n: int):
    """The CSV lines of len(year_texts) years of n municipalities (year by year, code order), as buffers in order:
    year, code, name, the cells (CSV-safe arrays over the rows), then the `undefined` column from parts.

    codes and names are CSV-safe, who is 'code name' per municipality (how reasons name one). Rows
    fall in groups by which reasons they have, and most rows of a year are in one: a year's lines are
    made with one join and that group's text (a template around the row's municipality); the few rows of
    the other groups get lines of their own, written in their places between the others'. A municipality
    whose name needs CSV quoting sends the whole table the slower way: texts per group, put back in order.
    """
    rows = n * len(year_texts)
    groups, templates = reason_groups(parts, reasons, rows)
    if A.any_(A.matches(who, _SPECIAL)) or rows == 0:
        undefined, special = undefined_texts(parts, reasons, A.take(who, A.array(np.tile(np.arange(n), len(year_texts)))), rows)
        every = A.array(np.tile(np.arange(n), len(year_texts)))
        years = A.take(pa.array(year_texts, type=pa.string()), A.array(np.repeat(np.arange(len(year_texts)), n)))
        yield csv_lines([years, A.take(codes, every), A.take(names, every), *cells, csv_cells(undefined) if special else undefined])
        return
    ends = [_quoted_template(p) for p in templates]
    for y, year in enumerate(year_texts):
        base = y * n
        g = groups[base: base + n]
        counts = np.bincount(g, minlength=len(ends))
        main = int(counts.argmax())
        year_cells = [c.slice(base, n) for c in cells]
        lines = A.join(year, codes, names, *year_cells, _undefined_cell(ends[main], who), sep=",")
        if counts[main] == n:
            yield _text_buffer(lines)
            continue
        # The rows of the other groups: their own lines, then each put in its place between runs of the main group's.
        others = np.flatnonzero(g != main)
        parts_lines, parts_rows = [], []
        for h in np.unique(g[others]).tolist():
            rows_h = np.flatnonzero(g == h)
            idx = A.array(rows_h)
            parts_lines.append(A.join(year, A.take(codes, idx), A.take(names, idx), *(A.take(c, idx) for c in year_cells),
                                      _undefined_cell(ends[h], A.take(who, idx)), sep=","))
            parts_rows.append(rows_h)
        rows_h = np.concatenate(parts_rows)
        other_lines = A.take(pa.concat_arrays(parts_lines), A.array(np.argsort(rows_h, kind="stable")))
        main_buf, main_at = _buffer_and_offsets(lines)
        other_buf, other_at = _buffer_and_offsets(other_lines)
        prev = 0
        for j, r in enumerate(others.tolist()):
            if r > prev:
                yield main_buf[main_at[prev]: main_at[r]]
            yield other_buf[other_at[j]: other_at[j + 1]]
            prev = r + 1
        if prev < n:
            yield main_buf[main_at[prev]: main_at[n]]


def _undefined_cell(pieces: list, who):
    """A group's undefined cell (and the line end) for rows whose municipalities are `who`: one text, or a join around them."""
    return A.join(*(who if p is None else p for p in pieces)) if None in pieces else pieces[0]


def _buffer_and_offsets(lines):
    """A string array's bytes (a memoryview, not copied) and its offsets (a list: row i is [at[i], at[i + 1]))."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    at = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset: lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2]), at.tolist()


def _quoted_template(pieces: list) -> list:
    """A group's undefined text as csv.writer writes it (quoted where it needs to be), ending the line."""
    if any(p is not None and _SPECIAL_CHARS.intersection(p) for p in pieces):
        pieces = ['"'] + [p.replace('"', '""') if p is not None else None for p in pieces] + ['"']
    pieces = list(pieces) + ["\r\n"]
    out: list = []
    for p in pieces:  # adjacent texts as one
        if p is not None and out and out[-1] is not None:
            out[-1] += p
        else:
            out.append(p)
    return out


def _text_buffer(lines):
    """The concatenated bytes of a string array, without copying them."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset: lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]): int(offsets[-1])]


def _row_groups(matrix: np.ndarray) -> np.ndarray:
    """A group number per row of a small-int matrix (equal rows, equal numbers; numbered in order of first
    appearance), column by column through dense codes: a sort of whole rows as np.unique(axis=0) does is slower."""
    key = np.zeros(len(matrix), dtype=np.int64)
    size = 1
    for col in matrix.T:
        shifted = col.astype(np.int64) + 1  # -1 (defined) becomes 0
        present = np.bincount(shifted)
        lut = np.cumsum(present > 0) - 1
        width = int(lut[-1]) + 1
        if size * width >= 2**62:
            _, key = np.unique(key, return_inverse=True)
            size = int(key.max()) + 1
        key = key * width + lut[shifted]
        size *= width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def column_texts(values: list, unit: str, n: int, ev) -> pa.Array:
    """One name's CSV cells over several years (year after year): a prefecture value written once per year, a
    column once for all years where they stack, else year by year (ev: the evaluator, for the slow path)."""
    if not any(is_col(v) for v in values):  # one text per year, repeated
        per_year = pa.array([format_value(v, unit) if type(v) is not Undefined else "" for v in values], type=pa.string())
        texts = A.take(per_year, A.array(np.repeat(np.arange(len(values)), n)))
    else:
        stacked = stack(values, n, ev.reasons)
        texts = value_texts(stacked, unit, n * len(values), None) if stacked is not None else None
        if texts is None:  # value by value, a year at a time
            texts = pa.concat_arrays([value_texts(v, unit, n, ev.to_python) for v in values])
    return csv_cells(texts) if unit == "text" else texts


def stack(values: list, n: int, reasons: Reasons):
    """Several years' values of one name (each a column or a prefecture value) as one column of n * len(values)
    rows, year after year; None when they cannot share one (numbers with no common denominator that fits, mixed kinds)."""
    kinds = set()
    for v in values:
        if type(v) is Num or (not is_col(v) and type(v) in (int, Fraction)):
            kinds.add("num")
        elif type(v) is BoolCol or type(v) is bool:
            kinds.add("bool")
        elif (type(v) is ObjCol and v.cats is not None) or type(v) is str:
            kinds.add("obj")
        elif type(v) is not Undefined:
            return None
    if len(kinds) > 1:
        return None
    kind = kinds.pop() if kinds else "num"
    rids, any_rid = [], False
    for v in values:
        if type(v) is Undefined:
            rids.append(np.full(n, reasons.plain(v.reason), dtype=np.int32))
            any_rid = True
        elif is_col(v) and v.rid is not None:
            rids.append(v.rid)
            any_rid = True
        else:
            rids.append(np.full(n, -1, dtype=np.int32))
    rid = np.concatenate(rids) if any_rid else None
    if kind == "bool":
        return BoolCol(np.concatenate([v.b if type(v) is BoolCol else np.full(n, v is True) for v in values]), rid)
    if kind == "obj":
        cats: list = []
        codes = []
        for v in values:
            vals = [v] if type(v) is str else [] if type(v) is Undefined else v.cats
            lut = []
            for x in vals:
                if x not in cats:
                    cats.append(x)
                lut.append(cats.index(x))
            if type(v) is ObjCol:
                codes.append(np.array(lut, dtype=np.int64)[v.codes])
            else:
                codes.append(np.full(n, lut[0] if lut else 0, dtype=np.int64))
        return ObjCol(None, rid, codes=np.concatenate(codes), cats=cats or [""])
    parts = []
    for v in values:
        if type(v) is Undefined:
            parts.append((np.zeros(n, dtype=np.int64), 1))
        elif not is_col(v):
            q = Fraction(v)
            if abs(q.numerator) >= INT_LIMIT:
                return None
            parts.append((np.full(n, q.numerator, dtype=np.int64), q.denominator))
        else:
            small = v.lin.small() if v.lin is not None else None
            if small is None:
                return None
            parts.append((small.v, v.lin.den))
    den = 1
    for _, d in parts:
        den = den * d // math.gcd(den, d)
    out = []
    for N, d in parts:
        f = den // d
        if len(N) and int(np.abs(N).max()) * f >= INT_LIMIT:
            return None
        out.append(N * f if f != 1 else N)
    return Num(rid, Lin.of(IntCol(np.concatenate(out)), den), isint=all(type(v) is int or (type(v) is Num and v.isint) for v in values))


_SPECIAL = r'[",\r\n]'
_SPECIAL_CHARS = set(',"\r\n')


def csv_cells(texts: pa.Array) -> pa.Array:
    """Cells as csv.writer writes them: quoted (quotes doubled) where they hold a comma, a quote or a line break."""
    needs = A.matches(texts, _SPECIAL)
    if not A.any_(needs):
        return texts
    quoted = A.join('"', A.replace(texts, '"', '""'), '"')
    return A.if_else(needs, quoted, texts)


def csv_lines(cells: list) -> bytes:
    """The rows' CSV lines (CRLF-terminated) from their cells, column by column (arrays or scalars of one string)."""
    last = A.join(cells[-1], "\r\n")
    lines = A.join(*cells[:-1], last, sep=",") if len(cells) > 1 else last
    return bytes(_text_buffer(lines))

