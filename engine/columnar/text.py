"""Column values -> text, a whole column at a time (Arrow strings): the cells of CSV and Parquet outputs.

Each function writes exactly what engine/render.py's format_value writes for one value
(rates as percentages with at least 2 places, decimals exact where they terminate, else 15
places half-even, booleans true/false, years FY2024), and the reasons of undefined values
exactly as the reference evaluator words them. Columns whose exact decimals cannot be
written over one power of ten (a quotient such as 1/3, a value kept only as a bounded
float) are written value by value from their exact Fractions: slower there, never different.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import pyarrow as pa

from ..cells import NUMBER_PATTERN
from ..values import MAX_DECIMALS, Undefined, format_value, terminating_places
from . import arrow as A
from .columns import INT_LIMIT, BoolCol, IntCol, Lin, Num, ObjCol, Reasons, is_col

_TRAILING_ZEROS = {0: r"(\.\d*?[1-9])0+$|\.0+$", 2: r"(\.\d\d\d*?[1-9])0+$|(\.\d\d)0+$"}


def value_texts(value, unit: str, n: int, to_python, *, ints: bool = False) -> pa.Array | None:
    """The text of each municipality's value ("" where undefined); to_python: the evaluator's, for the slow path
    (None: return None instead, when the value needs it). ints: whole numbers may come as an int64 array (null
    where undefined), which Arrow's CSV writer writes as format_value does."""
    if not is_col(value):
        text = "" if type(value) is Undefined else format_value(value, unit)
        return pa.array([text] * n, type=pa.string()) if n else pa.array([], type=pa.string())
    if type(value) is BoolCol:
        texts = A.if_else(A.array(value.b), "true", "false")
    elif type(value) is ObjCol:
        texts = _object_texts(value, unit)
    else:
        texts = _number_texts(value, unit, ints)
        if texts is None:
            if to_python is None:
                return None
            return pa.array([format_value(v, unit) for v in to_python(value)], type=pa.string())
    if value.rid is not None and (value.rid >= 0).any():
        texts = A.if_else(A.array(value.rid < 0), texts, "" if pa.types.is_string(texts.type) else pa.scalar(None, texts.type))
    return texts


def _object_texts(value: ObjCol, unit: str) -> pa.Array:
    if value.cats is not None:
        cats = [format_value(c, unit) for c in value.cats]
        return A.take(pa.array(cats, type=pa.string()), A.array(value.codes))
    return pa.array([format_value(v, unit) if v is not None else "" for v in value.o.tolist()], type=pa.string())


def _number_texts(value: Num, unit: str, ints: bool = False) -> pa.Array | None:
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
    k = terminating_places(d)
    if k is None or k > MAX_DECIMALS:
        return None
    k = max(k, min_places)
    m = scale // g * 10**k // d  # Q = N * m is the value times scale, in units of 10^-k
    if small.maxabs() * m >= INT_LIMIT:
        return None
    Q = N * m if m != 1 else N
    if k == 0:
        return A.array(np.ascontiguousarray(Q, dtype=np.int64)) if ints else A.cast(A.array(Q), pa.string())
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
        these = order[start : start + count]
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


def csv_rows(
    year_texts: list, cells: list, parts: list, reasons: Reasons, codes: pa.Array, names: pa.Array, who: pa.Array, n: int, quoted: bool
):
    """The CSV lines of len(year_texts) years of n municipalities (year by year, code order), as jobs in order:
    each a function of no arguments that gives a year's lines as a list of byte buffers. The cells are: year, code, name, the
    cells (arrays over the rows: texts as format_value writes them, or int64), then the `undefined` column
    from parts. codes, names and who ('code name', as reasons name a municipality) are per municipality;
    quoted: whether a code, a name or a text cell holds a comma, a quote or a line break. Names and text
    cells come neutralised (neutral()); the undefined texts are neutralised here.

    Rows fall in groups by which reasons they have, and most rows of a year are in one: its text is a
    template around the row's municipality, made with one join; the few rows of other groups are patched
    in. When nothing needs CSV quoting (no comma, quote or line break in a name, a text value or a reason),
    Arrow's CSV writer writes each year's table; else the cells are quoted where needed and joined.

    Everything that reads the evaluation is done here; a job only joins the main group's undefined texts, runs
    Arrow's CSV writer and puts the lines together, without Python's lock for most of it, so that a caller may
    run it on a thread of its own while it evaluates the next years.
    """
    rows = n * len(year_texts)
    groups, templates = reason_groups(parts, reasons, rows)
    plain = not quoted and not any(any(p is not None and _SPECIAL_CHARS.intersection(p) for p in pieces) for pieces in templates)
    if not plain:
        every = A.array(np.tile(np.arange(n), len(year_texts)))
        undefined, special = undefined_texts(parts, reasons, A.take(who, every), rows)
        years = A.take(pa.array(year_texts, type=pa.string()), A.array(np.repeat(np.arange(len(year_texts)), n)))
        texts = [csv_cells(c) if pa.types.is_string(c.type) else A.fill_null(A.cast(c, pa.string()), "") for c in cells]
        undefined = neutral(undefined)
        lines = csv_lines(
            [
                years,
                csv_cells(A.take(codes, every)),
                csv_cells(A.take(names, every)),
                *texts,
                csv_cells(undefined) if special else undefined,
            ]
        )
        yield lambda: [lines]
        return
    for y, year in enumerate(year_texts):
        base = y * n
        g = groups[base : base + n]
        counts = np.bincount(g, minlength=len(templates))
        main = int(counts.argmax())
        year_cells = [c.slice(base, n) for c in cells]
        columns = [A.fill_null(pa.nulls(n, pa.string()), year), codes, names, *year_cells]
        if counts[main] == n:
            yield functools.partial(_year_lines, columns, templates[main], who)
            continue
        # The rows of the other groups: lines of their own, put in the place of theirs in the year's lines,
        # so the long undefined texts are not copied again.
        others = np.flatnonzero(g != main)
        idx = A.array(others)
        mine = [A.take(c, idx) for c in columns]
        who_others = A.take(who, idx)
        texts, at = [], []
        for h in np.unique(g[others]).tolist():
            rows_h = np.flatnonzero(g[others] == h)
            texts.append(neutral(_undefined_cell(templates[h], A.take(who_others, A.array(rows_h)), len(rows_h))))
            at.append(rows_h)
        own = [*mine, A.take(pa.concat_arrays(texts), A.array(np.argsort(np.concatenate(at), kind="stable")))]
        yield functools.partial(_year_lines, columns, templates[main], who, own, others)


def _year_lines(columns, pieces, who, own=None, others=None) -> list:
    """A year's CSV lines, as buffers in order (not joined: a copy less of the longest output): Arrow's CSV
    writer over `columns` and the undefined texts of the year's main group (pieces around who, joined here:
    the longest column, made on the writer's thread), with the lines of the rows `others` replaced by those
    written from `own` (their byte offsets follow from the cells' lengths)."""
    columns = [*columns, neutral(_undefined_cell(pieces, who, len(who)))]
    main_at = _line_offsets(columns)
    lines = _write_csv(columns, main_at[-1])
    if own is None:
        return [lines]
    n = len(columns[0])
    own_at = _line_offsets(own)
    other_lines = _write_csv(own, own_at[-1])
    pieces = []
    prev = 0
    for j, r in enumerate(others.tolist()):
        if r > prev:
            pieces.append(lines[main_at[prev] : main_at[r]])
        pieces.append(other_lines[own_at[j] : own_at[j + 1]])
        prev = r + 1
    if prev < n:
        pieces.append(lines[main_at[prev] : main_at[n]])
    return pieces


def _write_csv(columns, size: int) -> memoryview:
    """Arrow's CSV writer over columns that need no quoting: CRLF lines, no header, nulls as empty cells, into a
    buffer of the lines' exact size (_line_offsets)."""
    import pyarrow.csv as pcsv

    buf = pa.allocate_buffer(size)
    sink = pa.FixedSizeBufferWriter(buf)
    pcsv.write_csv(
        pa.table(columns, names=[f"c{k}" for k in range(len(columns))]),
        sink,
        pcsv.WriteOptions(include_header=False, quoting_style="none", eol="\r\n"),
    )
    if sink.tell() != size:  # pragma: no cover - a writer that writes otherwise
        raise AssertionError("CSV line lengths do not add up")
    return memoryview(buf)


_POWERS_OF_TEN = np.array([10**k for k in range(1, 19)], dtype=np.int64)


def _line_offsets(columns) -> list:
    """Where each row's line starts in _write_csv's output (and where the last ends): the cells' text lengths,
    the commas between them and CRLF."""
    total = np.full(len(columns[0]), len(columns) + 1, dtype=np.int64)  # commas and the line end
    for c in columns:
        if pa.types.is_string(c.type):
            off = np.frombuffer(c.buffers()[1], dtype=np.int32)[c.offset : c.offset + len(c) + 1]
            total += np.diff(off)
        else:  # int64: its decimal digits, a minus sign, nothing where null
            v = np.frombuffer(c.buffers()[1], dtype=np.int64)[c.offset : c.offset + len(c)]
            digits = np.searchsorted(_POWERS_OF_TEN, np.abs(v), side="right") + 1 + (v < 0)
            if c.null_count:
                digits = np.where(A.call("is_valid", c).to_numpy(zero_copy_only=False), digits, 0)
            total += digits
    return np.concatenate(([0], np.cumsum(total))).tolist()


def _undefined_cell(pieces: list, who, rows: int):
    """A group's undefined text for rows whose municipalities are `who`: a join around them, or one text repeated."""
    if None in pieces:
        return A.join(*(who if p is None else p for p in pieces))
    return A.fill_null(pa.nulls(rows, pa.string()), pieces[0] if pieces else "")


def _text_buffer(lines):
    """The concatenated bytes of a string array, without copying them."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


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
        texts = value_texts(stacked, unit, n * len(values), None, ints=True) if stacked is not None else None
        if texts is None:  # value by value, a year at a time
            texts = pa.concat_arrays([value_texts(v, unit, n, ev.to_python) for v in values])
    return texts


def needs_quoting(texts) -> bool:
    """Whether any string holds a comma, a quote or a line break (csv.writer would quote it)."""
    return texts.type == pa.string() and A.any_(A.matches(texts, _SPECIAL))


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


_FORMULA_START = r"^[=+\-@\t\r']"  # cells.FORMULA_START as an RE2 class
_WHOLE_NUMBER = f"^(?:{NUMBER_PATTERN})$"


def neutral(texts: pa.Array) -> pa.Array:
    """cells.neutralise over a column of text cells: a ' in front of those a spreadsheet would take for a formula
    (names, labels and text values come from data and rule files; negative numbers are left alone)."""
    if texts.type != pa.string():  # whole numbers handed over as int64 (a text column undefined throughout stacks so)
        return texts
    starts = A.matches(texts, _FORMULA_START)
    if not A.any_(starts):
        return texts
    needs = A.call("and_kleene", starts, A.call("invert", A.matches(texts, _WHOLE_NUMBER)))
    return A.if_else(needs, A.join("'", texts), texts)


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
