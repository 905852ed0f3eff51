"""Data files -> columns: municipal inputs as exact integer columns per (field, year), prefecture values as scalars.

ColumnData is what the columnar evaluator reads. `load` reads a municipal CSV or Parquet
file with Apache Arrow (pyarrow): numbers are parsed exactly, as int64 or decimal128, never
through a float, and checked over whole columns. The reference loader (engine/data.py)
states what a valid file is and says what is wrong with one: the first thing out of the
ordinary here (a bad code, a duplicate row, a cell the columns cannot take, YAML, another
encoding the header does not announce) hands the files to it, and its Dataset, or its
error, is the result.
"""

from __future__ import annotations

import csv
import math
import os
import re
from fractions import Fraction

import numpy as np

from .. import data as reference
from ..data import Dataset, Municipality
from ..errors import Finding
from ..source import MAX_DATA_BYTES, MAX_DIGITS, read_bytes
from ..years import YearFormatError, parse_year
from .columns import INT_LIMIT, IntCol, int_col

NUMERIC_UNITS = ("percent", "yen", "count", "ratio")
ARROW_MIN_BYTES = 256 * 1024  # a smaller municipal CSV (a prefecture's 62 municipalities: 60 KB) is read row by row
PARQUET_SUFFIXES = (".parquet", ".pq")
_PLAIN_INT = re.compile(r"\d{1,18}")
_PLAIN_DECIMAL = re.compile(r"\d{1,18}(?:\.(\d{1,18}))?")
_ODD_CHARS = "[\\x00\\x0b\\x0c\\x1c-\\x1f\\x{85}\\x{2028}\\x{2029}\\r\\n]"  # (RE2) line breaks to Python's splitlines, or a NUL


class ColumnData:
    """Municipal inputs as numpy columns per (field, year); prefecture values as exact scalars.

    `municipal[field][year]` is ('num', IntCol, den, missing, isint) | ('bool', array, missing)
    | ('text', object array, missing); missing is a bool array or None. `row_of(code, year)`
    and `prefecture_row_of(year)` give the (file, line) a value came from.
    """

    def __init__(
        self,
        municipalities,
        municipal,
        prefecture,
        years,
        *,
        sources=(),
        row_counts=None,
        warnings=(),
        dataset: Dataset | None = None,
        provenance=None,
    ):
        self.municipalities = tuple(municipalities)
        self.n = len(self.municipalities)
        self.municipal = municipal
        self.prefecture = prefecture
        self.years = tuple(years)
        self.sources = tuple(sources)
        self.row_counts = dict(row_counts or {})
        self.warnings = tuple(warnings)
        self._dataset = dataset
        self._provenance = provenance
        self._index: dict | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset, inputs: dict | None = None) -> ColumnData:
        """Convert a validated Dataset (exact Fractions per cell) into columns."""
        municipal = {}
        for field, per_year in ds.municipal.items():
            unit = inputs[field].unit if inputs and field in inputs else None
            municipal[field] = {y: column_from_values(col, unit) for y, col in per_year.items()}
        return cls(
            ds.municipalities,
            municipal,
            ds.prefecture,
            ds.years,
            sources=ds.sources,
            row_counts=ds.row_counts,
            warnings=ds.warnings,
            dataset=ds,
        )

    @classmethod
    def load(cls, municipal_path, prefecture_path, inputs: dict) -> ColumnData:
        """Read and validate both data files against the version's input declarations."""
        try:
            return _load(cls, str(municipal_path), str(prefecture_path), inputs)
        except _Irregular:
            # The reference loader reads it, and raises its own error if it is wrong.
            return cls.from_dataset(reference.load(municipal_path, prefecture_path, inputs), inputs)

    def dataset(self) -> Dataset:
        """The same data as a reference Dataset (built on demand, for the reference evaluator)."""
        if self._dataset is None:
            municipal = {}
            for field, per_year in self.municipal.items():
                municipal[field] = {y: values_from_column(c) for y, c in per_year.items()}
            # Rows provenance stays here (row_of): the reference evaluator never asks for it.
            self._dataset = Dataset(
                self.municipalities, municipal, self.prefecture, {}, {}, self.years, self.sources, self.row_counts, self.warnings
            )
        return self._dataset

    def index_of(self, key: str) -> int | None:
        """A municipality by its code or its name."""
        if self._index is None:
            self._index = {}
            for i, m in enumerate(self.municipalities):
                self._index.setdefault(m.code, i)
                self._index.setdefault(m.name, i)
        return self._index.get(key)

    def row_of(self, code: str, year: int):
        """(file, line) of the municipal row of a code and year, or None."""
        if self._provenance is not None:
            return self._provenance.row_of(code, year)
        return self._dataset.rows.get((code, year)) if self._dataset is not None else None

    def prefecture_row_of(self, year: int):
        if self._provenance is not None:
            return self._provenance.prefecture_row_of(year)
        return self._dataset.prefecture_rows.get(year) if self._dataset is not None else None


def column_from_values(col: tuple, unit: str | None):
    """A tuple of exact values (None: missing) -> a column of ColumnData.municipal."""
    n = len(col)
    missing = np.fromiter((v is None for v in col), dtype=bool, count=n)
    has_missing = bool(missing.any())
    present = [v for v in col if v is not None]
    if unit == "text" or any(isinstance(v, str) for v in present):
        arr = np.empty(n, dtype=object)
        arr[:] = ["" if v is None else v for v in col]
        return ("text", arr, missing if has_missing else None)
    if unit == "bool" or (present and all(isinstance(v, bool) for v in present)):
        return ("bool", np.array([bool(v) for v in col], dtype=bool), missing if has_missing else None)
    isint = unit == "year" or (present and all(type(v) is int for v in present))
    den = 1
    for v in present:
        d = v.denominator if isinstance(v, Fraction) else 1
        if den % d:
            den = den * d // math.gcd(den, d)
    nums = [0 if v is None else (v.numerator * (den // v.denominator) if isinstance(v, Fraction) else int(v) * den) for v in col]
    return ("num", int_col(nums), den, missing if has_missing else None, isint)


def values_from_column(c) -> tuple:
    """A column of ColumnData.municipal -> a tuple of exact values (None: missing)."""
    kind = c[0]
    if kind == "num":
        _, col, den, missing, isint = c
        vals = col.v.tolist()
        out = [int(v) if isint and den == 1 else Fraction(v, den) for v in vals]
    else:
        out = list(c[1].tolist())
        missing = c[2]
        if kind == "bool":
            out = [bool(v) for v in out]
    if missing is not None:
        out = [None if m else v for v, m in zip(out, missing.tolist())]
    return tuple(out)


# ---- reading with Arrow ------------------------------------------------------------------------


class _Irregular(Exception):
    """Something the columnar reader does not take as it is: the reference loader reads the files instead."""


def _load(cls, mpath: str, ppath: str, inputs: dict) -> ColumnData:
    try:
        small = os.path.getsize(mpath) < ARROW_MIN_BYTES and not mpath.lower().endswith(PARQUET_SUFFIXES)
    except OSError:
        small = True  # data.load says what is wrong with the path
    if small:
        raise _Irregular  # read row by row: faster than importing Arrow for it
    import pyarrow as pa

    try:
        return _load_arrow(cls, mpath, ppath, inputs)
    except pa.ArrowException:  # a cell or a row Arrow cannot take: the reference says what is wrong
        raise _Irregular from None


def _load_arrow(cls, mpath: str, ppath: str, inputs: dict) -> ColumnData:
    m_inputs = {n: d for n, d in inputs.items() if d.scope == "municipal"}
    p_inputs = {n: d for n, d in inputs.items() if d.scope == "prefecture"}
    if mpath.lower().endswith((".yaml", ".yml")) or ppath.lower().endswith((".yaml", ".yml")):
        raise _Irregular
    table = _read_table(mpath, m_inputs)
    prefecture, prow_of, p_count = _read_prefecture(ppath, p_inputs)
    return _columns(cls, table, mpath, ppath, m_inputs, prefecture, prow_of, p_count)


class _Table:
    """The municipal file as Arrow columns by field, and where its data rows start."""

    def __init__(self, columns: dict, rows: int, first_line: int, lines=None, parquet: bool = False):
        self.columns = columns  # field -> pyarrow Array (strings, int64 or decimal128)
        self.rows = rows
        self.first_line = first_line  # line (row, for Parquet) of the first data row
        self.lines = lines  # line of each data row when they do not follow one another
        self.parquet = parquet


def _unit(field: str, m_inputs: dict) -> str:
    return m_inputs[field].unit if field in m_inputs else "text"


def _read_table(path: str, m_inputs: dict) -> _Table:
    if path.lower().endswith(PARQUET_SUFFIXES):
        return _read_parquet(path, m_inputs)
    raw = read_bytes(path, "data file", limit=MAX_DATA_BYTES)
    return _read_csv(raw, path, m_inputs)


def _read_csv(raw: bytes, path: str, m_inputs: dict) -> _Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise _Irregular  # UTF-16 or binary: the reference says so
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    encoding = "utf-8"
    line, text_line, start = _header_line(body)
    try:
        header_text = text_line.decode("utf-8")
    except UnicodeDecodeError:
        if bom:
            raise _Irregular from None
        encoding = "cp932"  # as data.py decodes a file that is not UTF-8
        body = _recode(body)
        line, text_line, start = _header_line(body)
        header_text = text_line.decode("utf-8")
    header_text = header_text.rstrip("\r")
    delimiter = "\t" if header_text.count("\t") > header_text.count(",") else ","
    try:
        header = [c.strip() for c in next(csv.reader([header_text], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        raise _Irregular from None
    fields = _mapping(header, line, path, m_inputs)
    names = [f"c{i}" for i in range(len(header))]
    sample = _sample(body[start : start + 65536], delimiter, len(header))
    typed = {}
    for i, f in enumerate(fields):
        unit = _unit(f, m_inputs)
        typed[names[i]] = (
            _arrow_type(pa, unit, [r[i] for r in sample]) if unit in NUMERIC_UNITS and f not in reference.KEY_COLUMNS else pa.string()
        )
    strings = {n: pa.string() for n in names}
    attempts = [typed, strings] if typed != strings else [strings]
    table = None
    while table is None and attempts:
        try:
            table = pcsv.read_csv(
                pa.py_buffer(memoryview(body)[start:]),
                read_options=pcsv.ReadOptions(column_names=names),
                parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
                convert_options=pcsv.ConvertOptions(column_types=attempts[0], strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if encoding == "utf-8" and not bom and not _is_utf8(body[start:]):
                encoding = "cp932"  # an ASCII header over CP932 rows: data.py decodes the whole file as CP932
                body = _recode(body)
                line, _, start = _header_line(body)
                continue
            attempts.pop(0)
    if table is None:
        raise _Irregular
    columns = {f: table.column(i) for i, f in enumerate(fields)}
    rows = table.num_rows
    # Arrow skips empty lines; line numbers follow the rows only when there are none.
    lines = None
    if body.count(b"\n", start) + (0 if body.endswith(b"\n") or len(body) == start else 1) != rows:
        lines = _data_lines(body, start, line + 1, rows)
    return _Table(columns, rows, line + 1, lines)


def _header_line(body: bytes):
    """(line number, bytes, offset after it) of the header: comment and blank lines before it are skipped, as data.read_table does."""
    pos, line = 0, 1
    while True:
        end = body.find(b"\n", pos)
        text_line = body[pos : end if end >= 0 else len(body)]
        if text_line.strip() and not text_line.lstrip().startswith(b"#"):
            return line, text_line, (end + 1 if end >= 0 else len(body))
        if end < 0:
            raise _Irregular  # no header row
        pos, line = end + 1, line + 1


def _recode(body: bytes) -> bytes:
    try:
        return body.decode("cp932").encode("utf-8")
    except UnicodeDecodeError:
        raise _Irregular from None


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _mapping(header: list[str], line: int, path: str, m_inputs: dict) -> list[str]:
    findings: list[Finding] = []
    mapping = reference.column_map(header, line, m_inputs, reference.KEY_COLUMNS, path, findings)
    if findings or any(f is None for f in mapping):
        raise _Irregular
    return mapping


def _sample(chunk: bytes, delimiter: str, width: int) -> list[list[str]]:
    """The first rows of the data (up to 64 KB), to choose the Arrow types of the numeric columns."""
    text = chunk.decode("utf-8", errors="replace")
    lines = text.split("\n")[:-1] if len(chunk) == 65536 else text.split("\n")
    rows = []
    try:
        for cells in csv.reader(lines, delimiter=delimiter):
            if len(cells) == width:
                rows.append(cells)
    except csv.Error:
        raise _Irregular from None
    return rows


def _arrow_type(pa, unit: str, cells: list[str]):
    """int64 for whole numbers, decimal128 with the sample's decimals for plain decimals, else strings."""
    places = 0
    for c in cells:
        if not c:
            continue
        m = _PLAIN_DECIMAL.fullmatch(c)
        if m is None:
            return pa.string()  # '1,234', '91.5%', spaces: parsed cell by cell
        if m.group(1):
            places = max(places, len(m.group(1)))
    if places == 0:
        return pa.int64()
    if unit == "count":
        return pa.string()
    return pa.decimal128(38, places)


def _data_lines(body: bytes, start: int, first: int, rows: int):
    """The line number of each data row when empty lines lie between them (Arrow skips those)."""
    buf = np.frombuffer(body, dtype=np.uint8)[start:]
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends + 1))
    if starts[-1] >= len(buf):
        starts = starts[:-1]
    stops = np.concatenate((ends, [len(buf)]))[: len(starts)]
    length = stops - starts
    cr = (length > 0) & (buf[np.minimum(stops - 1, len(buf) - 1)] == 13)
    empty = (length - cr) == 0
    lines = first + np.flatnonzero(~empty)
    if len(lines) != rows:
        raise _Irregular
    return lines.astype(np.int64)


def _read_parquet(path: str, m_inputs: dict) -> _Table:
    """A Parquet file: its columns by name; every cell made a string, parsed as a CSV cell would be.

    Integer and decimal columns are exact as they are; a float64 column is read as the shortest
    decimal that gives the float back (what Python prints for it). Rows are numbered from 2,
    the header being row 1, as a spreadsheet shows them.
    """
    import pyarrow as pa

    from . import arrow as A

    table = _parquet(path)
    header = [str(n) for n in table.column_names]
    fields = _mapping(header, 1, path, m_inputs)
    columns = {}
    for i, f in enumerate(fields):
        col = table.column(i)
        t = col.type
        if pa.types.is_dictionary(t):
            col = A.call("dictionary_decode", col)
            t = col.type
        if pa.types.is_integer(t) and not pa.types.is_int64(t):
            col = A.cast(col, pa.int64())
        elif pa.types.is_large_string(t):
            col = A.cast(col, pa.string())
        elif not (pa.types.is_int64(t) or pa.types.is_string(t) or pa.types.is_decimal(t)):
            col = A.cast(col, pa.string())
        if pa.types.is_decimal(col.type) and col.type.scale < 0:
            col = A.cast(col, pa.string())
        if pa.types.is_string(col.type):
            col = A.fill_null(col, "")
        columns[f] = col
    return _Table(columns, table.num_rows, 2, parquet=True)


def _parquet(path: str):
    from ..errors import DataError

    try:
        return reference.read_parquet(path)
    except DataError:
        raise _Irregular from None


# ---- whole-column checks and conversions -------------------------------------------------------------


def _columns(cls, table: _Table, mpath: str, ppath: str, m_inputs: dict, prefecture: dict, prow_of: dict, p_count: int) -> ColumnData:
    import pyarrow as pa

    from . import arrow as A

    cols = table.columns
    code = A.trim(_as_string(cols["code"]))
    # Rows with no cell at all are skipped (as data.read_table skips them); a row with cells but no code is an error.
    blank_code = A.call("equal", code, "")
    keep = None
    if A.any_(blank_code):
        empty_row = blank_code
        for f, c in cols.items():
            if f == "code":
                continue
            filled = A.call("not_equal", A.trim(c), "") if pa.types.is_string(c.type) else A.call("is_valid", c)
            empty_row = A.call("and", empty_row, A.call("invert", filled))
        if not A.all_(A.call("equal", blank_code, empty_row)):
            raise _Irregular
        keep = A.call("invert", blank_code)
        cols = {f: A.call("filter", c, keep) for f, c in cols.items()}
        code = A.call("filter", code, keep)
    rows = len(code)
    if rows == 0 or _has_odd(code):
        raise _Irregular
    # Codes: six ASCII digits with a right check digit (data.load's own tests, once per distinct code).
    code_idx, distinct = _encode(code)
    if not _valid_codes(distinct):
        raise _Irregular
    codes = distinct.to_pylist()
    order = np.array(sorted(range(len(codes)), key=codes.__getitem__), dtype=np.int64)
    n = len(codes)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    muni = rank[code_idx]
    # Names: every non-empty name of a code is the one on its first row.
    name = A.trim(_as_string(cols["name"]))
    if _has_odd(name):
        raise _Irregular
    first_row = np.full(n, rows, dtype=np.int64)
    np.minimum.at(first_row, muni, np.arange(rows, dtype=np.int64))
    first_name = A.take(name, A.array(first_row))
    same = A.call("or", A.call("equal", name, A.take(first_name, A.array(muni))), A.call("equal", name, ""))
    if not A.all_(same):
        raise _Irregular
    # Years: each distinct text once.
    y_idx, y_dict = _encode(_as_string(cols["fiscal_year"]))
    try:
        y_of = np.array([int(parse_year(t)) for t in y_dict.to_pylist()], dtype=np.int64)
    except YearFormatError:
        raise _Irregular from None
    ry = y_of[y_idx]
    m_years = np.unique(ry)
    years = tuple(sorted(set(m_years.tolist()) | set(prow_of)))
    yi = np.searchsorted(m_years, ry)
    if (np.bincount(yi * n + muni, minlength=len(m_years) * n) > 1).any():
        raise _Irregular  # a second row for a municipality and year
    source_row = np.flatnonzero(keep.to_numpy(zero_copy_only=False)) if keep is not None else np.arange(rows)
    row_index = np.full((n, len(m_years)), -1, dtype=np.int64)
    row_index[muni, yi] = source_row
    by_year = {int(y): np.flatnonzero(yi == k) for k, y in enumerate(m_years)}
    municipal = {}
    for field, decl in m_inputs.items():
        col = cols.get(field)
        if col is None:
            municipal[field] = {y: _empty_column(decl.unit, n) for y in years}
            continue
        values, missing, den, isint = _field_values(pa, col, decl.unit, rows)
        per_year = {}
        for y in years:
            sel = by_year.get(y)
            if sel is None:
                per_year[y] = _empty_column(decl.unit, n)
                continue
            where = muni[sel]
            miss = np.ones(n, dtype=bool)
            miss[where] = missing[sel]
            miss_or_none = miss if miss.any() else None
            if decl.unit == "text":
                arr = np.empty(n, dtype=object)
                arr[:] = ""
                arr[where] = values[sel]
                per_year[y] = ("text", arr, miss_or_none)
            elif decl.unit == "bool":
                arr = np.zeros(n, dtype=bool)
                arr[where] = values[sel]
                per_year[y] = ("bool", arr, miss_or_none)
            else:
                arr = np.zeros(n, dtype=np.int64)
                arr[where] = values[sel]
                arr[miss] = 0
                per_year[y] = ("num", IntCol(arr), den, miss_or_none, isint)
        municipal[field] = per_year
    municipalities = tuple(Municipality(codes[k], nm) for k, nm in zip(order.tolist(), first_name.to_pylist()))
    provenance = _Provenance(mpath, table, municipalities, m_years, row_index, prow_of)
    return cls(
        municipalities,
        municipal,
        prefecture,
        years,
        sources=(mpath, ppath),
        row_counts={mpath: rows, ppath: p_count},
        provenance=provenance,
        warnings=provenance.missing_row_warnings(),
    )


def _encode(col):
    """(index of each entry into the distinct values as int64 numpy, the distinct values as an Arrow array)."""
    from . import arrow as A

    distinct = A.unique(col)
    if hasattr(distinct, "combine_chunks"):
        distinct = distinct.combine_chunks()
    idx = A.index_in(col, distinct)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64), distinct


def _valid_codes(distinct) -> bool:
    """Every code six ASCII digits with its JIS X 0402 check digit (data.check_digit), over the whole array."""
    from . import arrow as A

    if not len(distinct):
        return True
    if not A.all_(A.matches(distinct, "^[0-9]{6}$")):
        return False
    offsets = np.frombuffer(distinct.buffers()[1], dtype=np.int32)[distinct.offset : distinct.offset + len(distinct) + 1]
    digits = np.frombuffer(distinct.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 6).astype(np.int64) - 48
    total = digits[:, :5] @ np.array([6, 5, 4, 3, 2], dtype=np.int64)
    return bool(((11 - total % 11) % 10 == digits[:, 5]).all())


def _has_odd(col) -> bool:
    """Whether any string holds one of _ODD_CHARS: matched over each chunk's characters as one string, since a
    match per string costs more in calls than in characters (13 ms against 6 ms for 240,000 names)."""
    import pyarrow as pa

    from . import arrow as A

    for chunk in col.chunks if hasattr(col, "chunks") else [col]:
        if not len(chunk):
            continue
        if not pa.types.is_string(chunk.type):  # not 32-bit offsets (large_string): string by string
            if A.any_(A.matches(chunk, _ODD_CHARS)):
                return True
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[[chunk.offset, chunk.offset + len(chunk)]]
        if offsets[0] == offsets[1]:  # empty strings only (there may be no data buffer)
            continue
        whole = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets), chunk.buffers()[2]])
        if A.any_(A.matches(whole, _ODD_CHARS)):
            return True
    return False


def _as_string(col):
    import pyarrow as pa

    from . import arrow as A

    return col if pa.types.is_string(col.type) else A.cast(col, pa.string())


def _empty_column(unit: str, n: int):
    return column_from_values((None,) * n, unit)


def _field_values(pa, col, unit: str, rows: int):
    """One municipal field over every row -> (values, missing, denominator, whole years) as numpy arrays.

    Numbers are scaled integers over one power of ten (percent over 10^(places + 2)); text a
    stripped object array; booleans and years each distinct text parsed once. Any cell
    data.parse_value would refuse, or read otherwise, makes the file irregular.
    """
    from . import arrow as A

    if pa.types.is_int64(col.type) or pa.types.is_decimal(col.type):
        missing = A.call("is_null", col).to_numpy(zero_copy_only=False)
        if pa.types.is_int64(col.type):
            values = A.fill_null(col, 0).to_numpy(zero_copy_only=False).astype(np.int64)
            places = 0
        else:
            values = _decimal_ints(pa, A.fill_null(col, pa.scalar(0, col.type)))
            places = col.type.scale
        return _checked_number(values, missing, places, unit)
    s = A.trim(_as_string(col))
    missing = A.call("equal", s, "").to_numpy(zero_copy_only=False)
    if unit == "text":
        if _has_odd(s):
            raise _Irregular
        values = np.empty(rows, dtype=object)
        values[:] = s.to_pylist()
        return values, missing, 1, False
    if unit in ("bool", "year"):
        idx, distinct = _encode(s)
        parsed = []
        for t in distinct.to_pylist():
            try:
                parsed.append(None if t == "" else reference.parse_value(t, unit))
            except ValueError:
                raise _Irregular from None
        if unit == "bool":
            table = np.array([bool(v) for v in parsed], dtype=bool)
            return table[idx], missing, 1, False
        table = np.array([0 if v is None else v for v in parsed], dtype=np.int64)
        return table[idx], missing, 1, True
    # Numbers written otherwise than plainly ('1,234', '91.5%', spaces): each distinct cell by data.parse_value.
    idx, distinct = _encode(s)
    parsed = []
    texts = distinct.to_pylist()
    signed = unit == "percent" and any(t.endswith(("%", "％")) for t in texts)
    for t in texts:
        if t == "":
            parsed.append(0)
            continue
        try:
            v = reference.parse_value(t, unit)
        except ValueError:
            raise _Irregular from None
        parsed.append(v * 100 if unit == "percent" else v)  # percent in percent units, as a plain cell is
    places = max((_places(Fraction(v).denominator) for v in parsed), default=0)
    scaled = [int(Fraction(v) * 10**places) for v in parsed]
    if any(abs(x) >= INT_LIMIT for x in scaled):
        raise _Irregular
    table = np.array(scaled, dtype=np.int64)
    values = table[idx]
    return _checked_number(values, missing, places, unit, checked=True, signed=signed)


def _places(d: int) -> int:
    """Decimal places of 1/d (d = 2^a 5^b); a cell parse_value accepted is always a plain decimal."""
    twos = (d & -d).bit_length() - 1
    d >>= twos
    fives = 0
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1 or max(twos, fives) > MAX_DIGITS:
        raise _Irregular
    return max(twos, fives)


def _decimal_ints(pa, col) -> np.ndarray:
    """decimal128 values as their unscaled int64 integers (exact), or irregular when one does not fit."""
    parts = []
    for chunk in col.chunks if hasattr(col, "chunks") else [col]:
        words = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[2 * chunk.offset : 2 * (chunk.offset + len(chunk))].reshape(-1, 2)
        low, high = words[:, 0], words[:, 1]
        if not np.array_equal(high, np.where(low < 0, -1, 0)) or (np.abs(low) >= INT_LIMIT).any():
            raise _Irregular
        parts.append(low)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _checked_number(values: np.ndarray, missing: np.ndarray, places: int, unit: str, checked: bool = False, signed: bool = False):
    """The checks of data.parse_value over a whole column of scaled integers (values are N / 10^places), and
    data.check_plausible's (signed: a cell of the column was written with a % sign)."""
    present = ~missing
    if not checked:
        if places > MAX_DIGITS or (present & (np.abs(values) >= 10 ** min(MAX_DIGITS, 18))).any():
            raise _Irregular
        if unit == "percent" and (present & ((values < 0) | (values > 100 * 10**places))).any():
            raise _Irregular  # a rate outside 0-100
        if unit in ("yen", "count", "ratio") and (present & (values < 0)).any():
            raise _Irregular
    if unit == "percent" and not signed:
        nonzero = present & (values != 0)
        if nonzero.any() and (values[nonzero] * 2 < 3 * 10**places).all():
            raise _Irregular  # every rate below 1.5: data-rate-as-fraction, as the reference reports it
    den = 10**places * (100 if unit == "percent" else 1)
    return values, missing, den, places == 0 and unit != "percent"


# ---- where values came from ---------------------------------------------------------------------


class _Provenance:
    """(file, line) of each municipal and prefecture row, and the data-missing-row warnings."""

    def __init__(self, path: str, table: _Table, municipalities, m_years, row_index, prow_of: dict):
        self.path = path
        self.table = table
        self.municipalities = municipalities
        self.m_years = [int(y) for y in m_years]
        self.row_index = row_index
        self.prow_of = prow_of
        self.code_index = {m.code: i for i, m in enumerate(municipalities)}

    def line(self, row: int) -> int:
        t = self.table
        return int(t.lines[row]) if t.lines is not None else t.first_line + int(row)

    def row_of(self, code: str, year: int):
        i = self.code_index.get(code)
        if i is None or year not in self.m_years:
            return None
        r = int(self.row_index[i, self.m_years.index(year)])
        return None if r < 0 else (self.path, self.line(r))

    def prefecture_row_of(self, year: int):
        return self.prow_of.get(year)

    def missing_row_warnings(self) -> tuple:
        """data._missing_rows's warnings, from the table of rows."""
        if not self.m_years:
            return ()
        lo, hi = self.m_years[0], self.m_years[-1]
        span_years = list(range(lo, hi + 1))
        if len(span_years) == len(self.m_years) and (self.row_index >= 0).all():
            return ()
        col_of = {y: k for k, y in enumerate(self.m_years)}
        present = {y: self.row_index[:, col_of[y]] >= 0 for y in self.m_years}
        rows_present = self.row_index >= 0
        first = np.where(rows_present, self.row_index, np.iinfo(np.int64).max).min(axis=1)
        short = []
        for i, m in enumerate(self.municipalities):
            missing = [y for y in span_years if y not in present or not present[y][i]]
            if missing:
                short.append((i, m, missing))
        lines = {i: self.line(int(first[i])) for i, _, _ in short[: reference.MAX_FINDINGS]}
        return reference.missing_row_findings(
            [(m, missing, lines[i]) for i, m, missing in short[: reference.MAX_FINDINGS]], len(short), self.path, lo, hi
        )


def _read_prefecture(ppath: str, p_inputs: dict):
    """The prefecture file (a row per year) through data.py's reader and cell parser: it is small."""
    if ppath.lower().endswith(PARQUET_SUFFIXES):
        raise _Irregular
    header, rows, hline = reference.read_table(ppath)
    findings: list = []
    mapping = reference.column_map(header, hline, p_inputs, reference.PREFECTURE_KEYS, ppath, findings)
    if findings:
        raise _Irregular
    pcol = {f: i for i, f in enumerate(mapping) if f is not None}
    prefecture: dict = {n: {} for n in p_inputs}
    prow_of: dict = {}
    for lineno, cells in rows:
        if len(cells) != len(header):
            raise _Irregular
        try:
            year = int(parse_year(cells[pcol["fiscal_year"]]))
        except YearFormatError:
            raise _Irregular from None
        if year in prow_of:
            raise _Irregular
        prow_of[year] = (ppath, lineno)
        for field, decl in p_inputs.items():
            if field not in pcol or not cells[pcol[field]].strip():
                continue
            try:
                prefecture[field][year] = reference.parse_value(cells[pcol[field]], decl.unit)
            except ValueError:
                raise _Irregular from None
    for field, decl in p_inputs.items():
        signed = field in pcol and any(cells[pcol[field]].rstrip().endswith(("%", "％")) for _, cells in rows)
        years = list(prefecture[field])
        if reference.check_plausible(
            field,
            decl.unit,
            [prefecture[field][y] for y in years],
            [prow_of[y][1] for y in years],
            path=ppath,
            column=1,
            percent_sign=signed,
        ):
            raise _Irregular  # the reference reports it
    return prefecture, prow_of, len(rows)
