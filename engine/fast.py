"""A resolved version + columnar data -> compiled per-(version, year) column programs evaluated exactly, fast.

engine/evaluate.py is the reference; this module computes the same values (to the yen and
the last decimal, with the same Undefined reasons) at vectorised speed:

- Data are columns (FastData): each municipal input of a year is an int64 numpy array of
  scaled integers over one power of ten (91.23% -> 9123 / 10^4), with a missing mask.
- Each rule item is compiled once into Python closures over whole columns; a
  (name, year, overrides) is evaluated once and memoised, as in the reference.
- Numbers stay exact as `Lin`: a short sum of integer columns times integer coefficients
  over one common denominator. That covers inputs, + - *, division by a prefecture value
  (`income / sum(income)`), the band tables, rounding results; a sum over municipalities
  of a Lin is an exact integer sum. A division by a per-municipality value gives an
  `Approx`: float64 values with a proven error bound |f - x| <= r|f| + a and a way to
  recompute any row exactly with Fractions.
- Decisions (floor / round / comparisons / bands / min / max) on a value that is not a
  small integer column are taken in float64 where the bound proves them; the few rows too
  close to a boundary are recomputed exactly. So the results are exact, never "nearly".
- Undefined values carry reason ids into a reason table; the text is made only when a
  value is shown, and it is the reference's text.
- Anything this module does not vectorise falls back to the reference semantics for that
  node (values materialised per municipality, evaluate.py's helpers applied), so it is
  slower there, never different.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from functools import reduce

import numpy as np

from . import ast
from .check import ROUNDING_MODES
from .data import Dataset, Municipality
from .evaluate import _BINARY, EvalResult, Undefined, _as_year, _map1, _map2, _show_value, compute_name, default_columns, is_undef, round_to
from .versions import Version
from .years import FiscalYear

MAX_YEAR_DEPTH = 60  # as the reference: how far back [year - 1] chains may reach
U = 2.0**-53  # unit roundoff of float64
INT_LIMIT = 2**62  # an int64 column's values stay below this in magnitude
F_EXACT = 2**53  # integers up to this are exact in float64
MAX_TERMS = 12  # a Lin with more terms is turned into an Approx
SLACK = 1.0 + 2.0**-30  # inflates every computed bound to cover the rounding of the bound itself
TINY = 2.0**-1000  # absolute slack for underflow
STATS = {"recomputed_rows": 0}  # rows whose float decision was too close to call and were recomputed exactly


def _up(x: float) -> float:
    return x * SLACK + TINY


# ---- reasons -----------------------------------------------------------------------------


class Reasons:
    """Reason texts by id: a plain text, or a text around a municipality ('no FY2017 ... for 131016 千代田区')."""

    def __init__(self, municipalities):
        self.municipalities = municipalities
        self.entries: list = []
        self._ids: dict = {}
        self._undef: dict = {}

    def plain(self, text: str) -> int:
        key = ("s", text)
        i = self._ids.get(key)
        if i is None:
            i = self._ids[key] = len(self.entries)
            self.entries.append(key)
        return i

    def per_municipality(self, prefix: str, suffix: str) -> int:
        key = ("m", prefix, suffix)
        i = self._ids.get(key)
        if i is None:
            i = self._ids[key] = len(self.entries)
            self.entries.append(key)
        return i

    def text(self, rid: int, row: int) -> str:
        e = self.entries[rid]
        if e[0] == "s":
            return e[1]
        return f"{e[1]}{self.municipalities[row]}{e[2]}"

    def undefined(self, rid: int, row: int) -> Undefined:
        e = self.entries[rid]
        if e[0] == "s":
            u = self._undef.get(rid)
            if u is None:
                u = self._undef[rid] = Undefined(e[1])
            return u
        return Undefined(f"{e[1]}{self.municipalities[row]}{e[2]}")


def _first_rid(*rids):
    """Per row, the first operand's reason that exists (the reference's left-to-right rule)."""
    out = None
    for r in rids:
        if r is None:
            continue
        out = r if out is None else np.where(out >= 0, out, r)
    return out


def _has_undef(rid) -> bool:
    return rid is not None and bool((rid >= 0).any())


# ---- exact integer columns -------------------------------------------------------------------


class IntCol:
    """An exact integer column: int64 when it fits, else a numpy object array of Python ints.

    ub, when given, is an upper bound of |v| known without a pass over the data (a product's
    factors' bounds); nonneg says every entry is >= 0 when that is known the same way.
    """

    __slots__ = ("v", "_max", "_min", "ub", "nn")

    def __init__(self, v, mx=None, mn=None, ub=None, nn=False):
        self.v = v
        self._max = mx
        self._min = mn
        self.ub = ub
        self.nn = nn

    def bound(self) -> int:
        """An upper bound of max |v| (exact when computed, else the cheap one)."""
        if self._max is not None or self.ub is None:
            return self.maxabs()
        return self.ub

    def known_nonneg(self) -> bool:
        return self.nn or self.minv() >= 0

    @property
    def is64(self) -> bool:
        return self.v.dtype == np.int64

    def _minmax(self):
        if self._max is None:
            if len(self.v) == 0:
                self._max = self._min = 0
            else:
                self._max = int(self.v.max())
                self._min = int(self.v.min())

    def maxabs(self) -> int:
        self._minmax()
        return max(abs(self._max), abs(self._min))

    def minv(self) -> int:
        self._minmax()
        return self._min

    def floats(self):
        return self.v.astype(np.float64)


def _exact_sum(col: IntCol) -> int:
    """The exact sum of an integer column (int64 split in 32-bit halves, so no overflow)."""
    v = col.v
    if not col.is64:
        return int(sum(v.tolist()))
    if len(v) < 2**31 and col.bound() * len(v) < INT_LIMIT:
        return int(v.sum())
    hi = v >> 32
    lo = v & 0xFFFFFFFF
    return int(hi.sum()) * 2**32 + int(lo.sum())


def _to_int_col(values: list[int]) -> IntCol:
    mx = max(values) if values else 0
    mn = min(values) if values else 0
    if max(abs(mx), abs(mn)) < INT_LIMIT:
        return IntCol(np.array(values, dtype=np.int64), mx, mn)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return IntCol(arr, mx, mn)


def _mul_cols(a: IntCol, b: IntCol) -> IntCol:
    ub = a.bound() * b.bound()
    nn = a.known_nonneg() and b.known_nonneg()
    if a.is64 and b.is64 and ub < INT_LIMIT:
        return IntCol(a.v * b.v, ub=ub, nn=nn)
    return IntCol(a.v.astype(object) * b.v.astype(object), ub=ub, nn=nn)


def _scale_col(a: IntCol, k: int) -> IntCol:
    if k == 1:
        return a
    if a.is64 and a.maxabs() * abs(k) < INT_LIMIT:
        return IntCol(a.v * k)
    return IntCol(a.v.astype(object) * k)


class Lin:
    """An exact column: (sum of coef * column, a column None meaning 1) / den, den > 0."""

    __slots__ = ("terms", "den", "_N")

    def __init__(self, terms, den: int):
        self.terms = tuple(terms)
        self.den = den
        self._N = None

    @classmethod
    def of(cls, col: IntCol, den: int = 1) -> "Lin":
        lin = cls(((1, col),), den)
        return lin

    def bound(self) -> int:
        return sum(abs(c) * (col.bound() if col is not None else 1) for c, col in self.terms)

    def small(self):
        """The numerators as one int64 column when they fit (exact vectorised decisions), else None."""
        if self._N is None:
            if all(col is None or col.is64 for _, col in self.terms) and self.bound() < INT_LIMIT:
                if len(self.terms) == 1 and self.terms[0][0] == 1 and self.terms[0][1] is not None:
                    self._N = self.terms[0][1]
                else:
                    acc = None
                    const = 0
                    for c, col in self.terms:
                        if col is None:
                            const += c
                            continue
                        if col.bound() == 0:
                            # An all-zero column adds nothing (and its coefficient may not fit int64).
                            t = np.zeros(len(col.v), dtype=np.int64)
                        else:
                            t = col.v * c if c != 1 else col.v
                        acc = t if acc is None else acc + t
                    if acc is None:
                        acc = np.zeros(0, dtype=np.int64)
                    if const:
                        acc = acc + const
                    self._N = IntCol(acc)
            else:
                self._N = False
        return self._N or None

    def row(self, i: int) -> Fraction:
        total = 0
        for c, col in self.terms:
            total += c * (int(col.v[i]) if col is not None else 1)
        return Fraction(total, self.den)

    def nonneg(self) -> bool:
        return all(c >= 0 and (col is None or col.known_nonneg()) for c, col in self.terms) or (
            self.small() is not None and self.small().minv() >= 0)

    def scaled(self, p: int, q: int) -> "Lin":
        """This times p/q (q > 0)."""
        terms = [(c * p, col) for c, col in self.terms]
        den = self.den * q
        g = reduce(math.gcd, [c for c, _ in terms], den)
        if g > 1:
            terms = [(c // g, col) for c, col in terms]
            den //= g
        return Lin(terms, den)

    def collapsed(self) -> "Lin":
        """One int64 term when the numerators fit: keeps later products small."""
        if len(self.terms) == 1 and self.terms[0][1] is not None:
            return self
        s = self.small()
        return Lin(((1, s),), self.den) if s is not None else self


def _lin_add(a: Lin, b: Lin, sign: int = 1) -> Lin:
    den = a.den * b.den // math.gcd(a.den, b.den)
    ka, kb = den // a.den, den // b.den
    merged: dict = {}
    order: list = []
    for c, col in [(c * ka, col) for c, col in a.terms] + [(sign * c * kb, col) for c, col in b.terms]:
        k = id(col) if col is not None else None
        if k in merged:
            merged[k] = (merged[k][0] + c, col)
        else:
            merged[k] = (c, col)
            order.append(k)
    terms = [merged[k] for k in order if merged[k][0] != 0]
    if not any(col is not None for _, col in terms):
        # Keep a column (with coefficient 0) so that the value still has one entry per municipality.
        col = next((merged[k][1] for k in order if merged[k][1] is not None), None)
        terms.append((0, col))
    g = reduce(math.gcd, [c for c, _ in terms], den)
    if g > 1:
        terms = [(c // g, col) for c, col in terms]
        den //= g
    return Lin(terms, den).collapsed()


def _lin_mul(a: Lin, b: Lin) -> Lin | None:
    if len(a.terms) * len(b.terms) > MAX_TERMS:
        return None
    terms = []
    for ca, xa in a.terms:
        for cb, xb in b.terms:
            if xa is None:
                col = xb
            elif xb is None:
                col = xa
            else:
                col = _mul_cols(xa, xb)
            terms.append((ca * cb, col))
    return Lin(terms, a.den * b.den).collapsed()


# ---- column values -----------------------------------------------------------------------


class Num:
    """A numeric column: exact (lin) or float64 with a bound (f, r, a) and an exact recompute per row."""

    __slots__ = ("rid", "lin", "_f", "r", "a", "_rows", "_nonneg", "isint", "_M")

    def __init__(self, rid=None, lin: Lin | None = None, f=None, r=0.0, a=0.0, rows=None, nonneg=None, isint=False):
        self.rid = rid
        self.lin = lin
        self._f = f
        self.r = r
        self.a = a
        self._rows = rows
        self._nonneg = nonneg
        self.isint = isint
        self._M = None

    @property
    def nonneg(self) -> bool:
        if self._nonneg is None:
            self._nonneg = self.lin.nonneg() if self.lin is not None else bool((self.f() >= 0).all())
        return self._nonneg

    def f(self):
        """The float64 view (values of undefined rows are meaningless but finite or caught)."""
        if self._f is None:
            self._f, self.r, self.a = _float_view(self.lin)
        return self._f

    def bound(self):
        self.f()
        return self.r, self.a

    def M(self) -> float:
        if self._M is None:
            f = self.f()
            self._M = float(np.max(np.abs(f))) if len(f) else 0.0
        return self._M

    def err(self):
        """The per-row bound on |f - x|."""
        r, a = self.bound()
        if r == 0:
            return a
        return np.abs(self.f()) * r + a

    def exact_rows(self, rows) -> list:
        if self.lin is not None:
            s = self.lin.small()
            if s is not None:
                den = self.lin.den
                if self.isint and den == 1:
                    return [int(s.v[i]) for i in rows]
                return [Fraction(int(s.v[i]), den) for i in rows]
            return [self.lin.row(int(i)) for i in rows]
        return self._rows(rows)


def _float_view(lin: Lin):
    """float64 values of a Lin, and (r, a) with |f - x| <= r|f| + a."""
    s = lin.small()
    den = lin.den
    den_exact = den < F_EXACT
    if s is not None:
        exact_n = s.maxabs() <= F_EXACT
        f = s.floats()
        if den == 1:
            return f, (0.0 if exact_n else U), 0.0
        f = f / float(den)
        r = (0 if exact_n else 1) + (0 if den_exact else 1) + 1
        return f, _up(r * U * (1 + 4 * U)), 0.0
    f = None
    scale = 0.0
    k = len(lin.terms)
    nonneg = True
    for c, col in lin.terms:
        try:
            cf = c / den
        except OverflowError:
            return _nan_view(lin)
        if col is None:
            term = cf
            m = 1.0
        else:
            term = col.floats() * cf
            m = float(col.bound())
            if not col.known_nonneg():
                nonneg = False
        if c < 0:
            nonneg = False
        scale += abs(cf) * m
        f = term if f is None else f + term
    if not isinstance(f, np.ndarray):
        return _nan_view(lin)
    rel = (k + 3) * U * (1 + 8 * U)
    if nonneg:
        return f, _up(rel * (1 + 2 * U)), TINY * k
    return f, 0.0, _up(rel * scale)


def _nan_view(lin: Lin):
    n = len(next(col for _, col in lin.terms if col is not None).v)
    return np.full(n, np.nan), 0.0, math.inf


class BoolCol:
    __slots__ = ("rid", "b")

    def __init__(self, b, rid=None):
        self.b = b
        self.rid = rid


class ObjCol:
    """Python values per municipality (text, or anything the fast path does not vectorise).

    Either an object array `o`, or categories: codes (int array) into cats (a list of
    values), made into `o` only when asked (a status column of four texts stays small).
    Entries of undefined rows are meaningless.
    """

    __slots__ = ("rid", "_o", "codes", "cats")

    def __init__(self, o=None, rid=None, codes=None, cats=None):
        self._o = o
        self.rid = rid
        self.codes = codes
        self.cats = cats

    @property
    def o(self):
        if self._o is None:
            table = np.empty(len(self.cats), dtype=object)
            table[:] = self.cats
            self._o = table[self.codes]
        return self._o


COLUMN_TYPES = (Num, BoolCol, ObjCol)


def _is_col(v) -> bool:
    return type(v) in COLUMN_TYPES


def _is_number(v) -> bool:
    return (type(v) is Fraction) or (type(v) is int)


# ---- columnar data -------------------------------------------------------------------------


class FastData:
    """Municipal inputs as numpy columns per (field, year); prefecture values as exact scalars.

    `municipal[field][year]` is ('num', IntCol, den, missing, isint) | ('bool', array, missing)
    | ('text', object array, missing); missing is a bool array or None.
    """

    def __init__(self, municipalities, municipal, prefecture, years, dataset=None):
        self.municipalities = tuple(municipalities)
        self.n = len(self.municipalities)
        self.municipal = municipal
        self.prefecture = prefecture
        self.years = tuple(years)
        self._dataset = dataset

    @classmethod
    def from_dataset(cls, ds: Dataset, inputs: dict | None = None) -> "FastData":
        """Convert a validated Dataset (exact Fractions per cell) into columns."""
        municipal = {}
        for field, per_year in ds.municipal.items():
            unit = inputs[field].unit if inputs and field in inputs else None
            municipal[field] = {y: _column_from_values(col, unit) for y, col in per_year.items()}
        return cls(ds.municipalities, municipal, ds.prefecture, ds.years, ds)

    @classmethod
    def load(cls, municipal_path, prefecture_path, inputs: dict) -> "FastData":
        """Read the data files straight into columns (for large data); errors are data.load's own."""
        try:
            return _load_columns(cls, municipal_path, prefecture_path, inputs)
        except _Fallback:
            from . import data as data_mod

            # Anything unusual: the reference loader reads it (and raises its own error if it is wrong).
            return cls.from_dataset(data_mod.load(municipal_path, prefecture_path, inputs), inputs)

    def dataset(self) -> Dataset:
        """The same data as a reference Dataset (built on demand, for reference fallbacks)."""
        if self._dataset is None:
            municipal = {}
            for field, per_year in self.municipal.items():
                municipal[field] = {y: _values_from_column(c) for y, c in per_year.items()}
            self._dataset = Dataset(self.municipalities, municipal, self.prefecture, {}, {}, self.years, ())
        return self._dataset


def _column_from_values(col: tuple, unit: str | None):
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
    return ("num", _to_int_col(nums), den, missing if has_missing else None, isint)


def _values_from_column(c) -> tuple:
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


# ---- reading large data files straight into columns ---------------------------------------


class _Fallback(Exception):
    """The fast reader met something it does not handle; data.load reads the files instead."""


_ODD_BREAKS = None


def _load_columns(cls, municipal_path, prefecture_path, inputs: dict) -> "FastData":
    """Stream the municipal CSV into int64 columns (no Python object per cell).

    Only plain well-formed files take this path; the first thing out of the ordinary (a
    bad code, a duplicate row, a value data.parse_value would refuse, YAML, another
    encoding) raises _Fallback, and data.load then reads the files with its full checks
    and messages. Cells that are not plain decimals are parsed by data.parse_value itself.
    """
    import array
    import csv
    import itertools
    import re

    from . import data as D
    from .years import YearFormatError, parse_year

    global _ODD_BREAKS
    if _ODD_BREAKS is None:
        _ODD_BREAKS = re.compile("[\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
    mpath, ppath = str(municipal_path), str(prefecture_path)
    if mpath.lower().endswith((".yaml", ".yml")) or ppath.lower().endswith((".yaml", ".yml")):
        raise _Fallback
    m_inputs = {n: d for n, d in inputs.items() if d.scope == "municipal"}
    p_inputs = {n: d for n, d in inputs.items() if d.scope == "prefecture"}
    try:
        f = open(mpath, encoding="utf-8-sig", newline="")
    except OSError:
        raise _Fallback from None
    codes: list[str] = []
    names: list[str] = []
    code_index: dict[str, int] = {}
    year_of_text: dict[str, int] = {}
    row_muni = array.array("l")
    row_year = array.array("l")
    fields = list(m_inputs)
    store: dict = {}
    for fld in fields:
        unit = m_inputs[fld].unit
        store[fld] = [] if unit in ("text", "bool") else (array.array("q"), array.array("b"))
    try:
        with f:
            line = f.readline()
            while line and (line.lstrip().startswith("#") or not line.strip()):
                line = f.readline()
            if not line or _ODD_BREAKS.search(line):
                raise _Fallback
            delimiter = "\t" if line.count("\t") > line.count(",") else ","

            def lines():
                for raw in f:
                    if _ODD_BREAKS.search(raw):
                        raise _Fallback
                    yield raw

            reader = csv.reader(itertools.chain([line], lines()), delimiter=delimiter)
            header = [c.strip() for c in next(reader)]
            findings: list = []
            mapping = D._column_map(header, 1, m_inputs, D.KEY_COLUMNS, mpath, findings)
            if findings:
                raise _Fallback
            col_of = {fld: i for i, fld in enumerate(mapping) if fld is not None}
            ci, ni, yi = col_of["code"], col_of["name"], col_of["fiscal_year"]
            width = len(header)
            plan = [(fld, col_of[fld], m_inputs[fld].unit, store[fld]) for fld in fields if fld in col_of]
            absent = [fld for fld in fields if fld not in col_of]
            parse_value = D.parse_value
            for cells in reader:
                if len(cells) != width:
                    if not any(c.strip() for c in cells):
                        continue
                    raise _Fallback
                code = cells[ci].strip()
                name = cells[ni].strip()
                idx = code_index.get(code)
                if idx is None:
                    if not any(c.strip() for c in cells):
                        continue
                    if not (len(code) == 6 and code.isascii() and code.isdigit()) or D.check_digit(code[:5]) != int(code[5]):
                        raise _Fallback
                    idx = code_index[code] = len(codes)
                    codes.append(code)
                    names.append(name)
                elif name and names[idx] != name:
                    raise _Fallback
                ytext = cells[yi]
                year = year_of_text.get(ytext)
                if year is None:
                    try:
                        year = year_of_text[ytext] = parse_year(ytext).value
                    except YearFormatError:
                        raise _Fallback from None
                row_muni.append(idx)
                row_year.append(year)
                for fld, col, unit, st in plan:
                    cell = cells[col]
                    if unit == "text" or unit == "bool":
                        if not cell.strip():
                            st.append(None)
                        else:
                            try:
                                st.append(parse_value(cell, unit))
                            except ValueError:
                                raise _Fallback from None
                        continue
                    nums, exps = st
                    t = cell.strip()
                    if not t:
                        nums.append(0)
                        exps.append(-1)
                        continue
                    N, e = _fast_decimal(t, unit)
                    if N is None:
                        try:
                            v = parse_value(cell, unit)
                        except ValueError:
                            raise _Fallback from None
                        N, e = _as_scaled(v)
                    try:
                        nums.append(N)
                    except OverflowError:
                        raise _Fallback from None
                    exps.append(e)
                for fld in absent:
                    st = store[fld]
                    if isinstance(st, list):
                        st.append(None)
                    else:
                        st[0].append(0)
                        st[1].append(-1)
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise _Fallback from None
    if not codes:
        raise _Fallback
    prefecture, p_years = _load_prefecture(ppath, p_inputs)
    n = len(codes)
    order = sorted(range(n), key=codes.__getitem__)
    pos = np.empty(n, dtype=np.int64)
    pos[np.array(order, dtype=np.int64)] = np.arange(n)
    rm = pos[np.frombuffer(row_muni, dtype=np.dtype("l")).astype(np.int64)]
    ry = np.frombuffer(row_year, dtype=np.dtype("l")).astype(np.int64)
    m_years = sorted(set(np.unique(ry).tolist()))
    years = tuple(sorted(set(m_years) | set(p_years)))
    year_idx = {y: i for i, y in enumerate(m_years)}
    yi_rows = np.searchsorted(np.array(m_years, dtype=np.int64), ry)
    counts = np.bincount(yi_rows * n + rm, minlength=len(m_years) * n)
    if (counts > 1).any():
        raise _Fallback  # a duplicate row: data.load reports it
    municipal: dict = {}
    for fld in fields:
        unit = m_inputs[fld].unit
        st = store[fld]
        per_year = {}
        if isinstance(st, list):
            vals = np.empty(len(st), dtype=object)
            vals[:] = st
            for y in years:
                grid = np.empty(n, dtype=object)
                grid[:] = [None] * n
                if y in year_idx:
                    sel = yi_rows == year_idx[y]
                    grid[rm[sel]] = vals[sel]
                per_year[y] = _column_from_values(tuple(grid.tolist()), unit)
            municipal[fld] = per_year
            continue
        nums = np.frombuffer(st[0], dtype=np.int64)
        exps = np.frombuffer(st[1], dtype=np.int8)
        for y in years:
            if y not in year_idx:
                per_year[y] = ("num", IntCol(np.zeros(n, dtype=np.int64), 0, 0), 1, np.ones(n, dtype=bool), unit == "year")
                continue
            sel = yi_rows == year_idx[y]
            N = nums[sel]
            e = exps[sel]
            where = rm[sel]
            missing = np.ones(n, dtype=bool)
            missing[where[e >= 0]] = False
            col = np.zeros(n, dtype=np.int64)
            emax = int(e.max()) if len(e) else 0
            emax = max(emax, 0)
            if emax > 0:
                have = e >= 0
                shift = (emax - e[have]).astype(np.int64)
                scaled_src = N[have]
                if len(scaled_src) and int(np.abs(scaled_src).max()) * 10 ** int(shift.max()) >= INT_LIMIT:
                    raise _Fallback
                col[where[have]] = scaled_src * (10 ** shift)
            else:
                have = e >= 0
                col[where[have]] = N[have]
            per_year[y] = ("num", IntCol(col), 10 ** emax, missing if missing.any() else None, unit == "year")
        municipal[fld] = per_year
    municipalities = tuple(Municipality(codes[i], names[i]) for i in order)
    return cls(municipalities, municipal, prefecture, years)


def _fast_decimal(t: str, unit: str):
    """'91.23' -> (9123, 4) for a percent (the value is 9123 / 10^4 as a ratio); (None, None) if not plain."""
    if len(t) > 18 or not t.isascii():
        return None, None
    if t.isdigit():
        N, k = int(t), 0
    else:
        a, dot, b = t.partition(".")
        if not (a.isdigit() and b.isdigit()):
            return None, None
        if unit == "count":
            return None, None
        N, k = int(a + b), len(b)
    if unit == "percent":
        if N > 100 * 10**k:
            return None, None
        return N, k + 2
    if unit == "year":
        return None, None
    return N, k


def _as_scaled(v):
    """An exact decimal value -> (N, e) with v = N / 10^e."""
    if isinstance(v, bool) or not isinstance(v, (int, Fraction)):
        raise _Fallback
    q = Fraction(v)
    d = q.denominator
    e = 0
    while d % 10 == 0 or d % 2 == 0 or d % 5 == 0:
        if d == 1:
            break
        e += 1
        if (10**e) % d == 0:
            break
        if e > 60:
            raise _Fallback
    if (10**e) % d:
        raise _Fallback
    return q.numerator * (10**e // d), e


def _load_prefecture(ppath: str, p_inputs: dict):
    from . import data as D
    from .years import YearFormatError, parse_year

    header, rows, hline = D.read_table(ppath)
    findings: list = []
    mapping = D._column_map(header, hline, p_inputs, D.PREFECTURE_KEYS, ppath, findings)
    if findings:
        raise _Fallback
    pcol = {f: i for i, f in enumerate(mapping) if f is not None}
    prefecture: dict = {n: {} for n in p_inputs}
    seen = set()
    for _lineno, cells in rows:
        if len(cells) != len(header):
            raise _Fallback
        try:
            year = parse_year(cells[pcol["fiscal_year"]]).value
        except YearFormatError:
            raise _Fallback from None
        if year in seen:
            raise _Fallback
        seen.add(year)
        for field, decl in p_inputs.items():
            if field not in pcol or not cells[pcol[field]].strip():
                continue
            try:
                prefecture[field][year] = D.parse_value(cells[pcol[field]], decl.unit)
            except ValueError:
                raise _Fallback from None
    return prefecture, seen


# ---- the evaluator -------------------------------------------------------------------------


class BandChoices:
    """A read-only mapping (table, year, overrides) -> tuple of band index or None, made per key on demand."""

    def __init__(self, arrays: dict):
        self._arrays = arrays
        self._made: dict = {}

    def get(self, key, default=None):
        if key not in self._arrays:
            return default
        return self[key]

    def __getitem__(self, key):
        hit = self._made.get(key)
        if hit is None:
            hit = self._made[key] = tuple(None if c < 0 else int(c) for c in self._arrays[key].tolist())
        return hit

    def __contains__(self, key) -> bool:
        return key in self._arrays

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def keys(self):
        return self._arrays.keys()

    def items(self):
        return [(k, self[k]) for k in self._arrays]

    def __eq__(self, other) -> bool:
        return dict(self.items()) == dict(other.items() if hasattr(other, "items") else other)


class _Generic(Exception):
    """Raised inside a fast operation that cannot handle its operands: use the reference semantics."""


class FastEvaluator:
    """Evaluates one version over one dataset, column-wise and exactly; `value` matches Evaluator.value."""

    def __init__(self, version: Version, data, *, parent: "FastEvaluator | None" = None, changed=frozenset()):
        if isinstance(data, Dataset):
            data = FastData.from_dataset(data, version.inputs())
        self.version = version
        self.data = data
        self.n = data.n
        self.reasons = parent.reasons if parent is not None else Reasons(data.municipalities)
        self._cache: dict = {}
        self._py_cache: dict = {}
        self._in_progress: set = set()
        self._stack: list[str] = []
        self._views: dict = {}
        self._lookups: dict = {}
        self._compiled: dict = {}
        self._band_arrays: dict = {}
        self._year_lo = (min(data.years) if data.years else 2000) - MAX_YEAR_DEPTH
        self._year_hi = (max(data.years) if data.years else 2000) + MAX_YEAR_DEPTH
        self._parent = parent
        self._changed = frozenset(changed)
        self._deps: dict = {}
        self._reference = None

    # ---- public: the reference's interface ----
    def value(self, name: str, year: int, overrides: tuple = ()):
        """The value of a name in a fiscal year as the reference gives it: a tuple per municipality or one value."""
        key = (name, year, overrides)
        hit = self._py_cache.get(key)
        if hit is None:
            hit = self._py_cache[key] = self.to_python(self.fast(name, year, overrides))
        return hit

    def column(self, name: str, year: int, overrides: tuple = ()) -> tuple:
        v = self.value(name, year, overrides)
        return v if isinstance(v, tuple) else (v,) * self.n

    @property
    def band_choices(self) -> "BandChoices":
        """(table, year, overrides) -> tuple of band index or None, as the reference records them."""
        return BandChoices(self._band_arrays)

    def eval(self, e, year: int, ov: tuple = ()):
        """An expression's value (the reference's Evaluator.eval), outside any definition."""
        return self.to_python(self._run(e, "a formula", year, ov))

    def band_choice_array(self, table: str, year: int, overrides: tuple = ()):
        return self._band_arrays.get((table, year, overrides))

    def total(self, name: str, year: int):
        """The sum over municipalities (the summary's `total`): exact, or the first municipality's Undefined."""
        return self._aggregate("sum", self.fast(name, year))

    def differs(self, a, b):
        """Per municipality: do two values of the same name differ (defined vs undefined, or in value)?"""
        n = self.n
        ra = a.rid if _is_col(a) else self._scalar_rid(a)
        rb = b.rid if _is_col(b) else self._scalar_rid(b)
        da = np.ones(n, dtype=bool) if ra is None else (ra < 0)
        db = np.ones(n, dtype=bool) if rb is None else (rb < 0)
        ne = None
        if type(a) is Num and type(b) is Num:
            ia, ib = _scaled_pair(a, b)
            if ia is not None:
                ne = ia != ib
        elif type(a) is BoolCol and type(b) is BoolCol:
            ne = a.b != b.b
        if ne is None:
            pa, pb = self.to_python(a), self.to_python(b)
            pa = pa if isinstance(pa, tuple) else (pa,) * n
            pb = pb if isinstance(pb, tuple) else (pb,) * n
            ne = np.array([not is_undef(x) and not is_undef(y) and x != y for x, y in zip(pa, pb)], dtype=bool)
        return (da != db) | (da & db & ne)

    def difference(self, a, b) -> list | None:
        """Per municipality a - b exactly (None where either is undefined); None if the values are not numbers."""
        n = self.n
        if type(a) is Num and type(b) is Num:
            ia, ib, den = _scaled_pair(a, b, with_den=True)
            if ia is not None:
                d = (ia - ib).tolist()
                vals = d if den == 1 else [Fraction(x, den) for x in d]
                rid = _first_rid(a.rid, b.rid)
                if rid is not None:
                    vals = [None if r >= 0 else x for x, r in zip(vals, rid.tolist())]
                return vals
        pa, pb = self.to_python(a), self.to_python(b)
        pa = pa if isinstance(pa, tuple) else (pa,) * n
        pb = pb if isinstance(pb, tuple) else (pb,) * n
        out = []
        for x, y in zip(pa, pb):
            if is_undef(x) or is_undef(y) or not (_is_number(x) or isinstance(x, Fraction)) or not (_is_number(y) or isinstance(y, Fraction)):
                out.append(None)
            else:
                out.append(x - y)
        return out

    def at(self, year: int):
        view = self._views.get(year)
        if view is None:
            view = self._views[year] = self.version.at(year)
        return view

    def forget(self, keep=()) -> None:
        """Drop memoised values of years not in keep (memory); they are recomputed if asked again."""
        keep = set(keep)
        for cache in (self._cache, self._py_cache):
            for k in [k for k in cache if k[1] not in keep]:
                del cache[k]

    # ---- public: fast values ----
    def fast(self, name: str, year: int, overrides: tuple = ()):
        """The internal value: a scalar (as the reference) or a column object (Num, BoolCol, ObjCol)."""
        key = (name, year, overrides)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if not self._stack:  # the outermost call: a chain too long for Python's stack is the reference's error
            try:
                return self._fast(key, name, year, overrides)
            except RecursionError:
                from .errors import RuleCheckError, finding

                item = self.version.items.get(name)
                raise RuleCheckError(finding("eval-too-deep", f"the rules are nested too deeply to evaluate {name} for {FiscalYear(year).both}: "
                                             "a chain of definitions that use other definitions (or earlier years) is too long",
                                             getattr(item, "span", ast.NO_SPAN))) from None
        return self._fast(key, name, year, overrides)

    def _fast(self, key, name: str, year: int, overrides: tuple):
        if key in self._in_progress:
            return Undefined(f"{name} depends on itself in {FiscalYear(year).both}")
        if self._parent is not None and name not in self._affected(overrides):
            result = self._parent.fast(name, year, overrides)
            self._cache[key] = result
            return result
        self._in_progress.add(key)
        self._stack.append(name)
        try:
            result = self._compute(name, year, overrides)
        finally:
            self._stack.pop()
            self._in_progress.discard(key)
        self._cache[key] = result
        return result

    def to_python(self, v):
        """A fast value -> the reference's value (tuple of Fraction/bool/str/int/Undefined, or a scalar)."""
        if not _is_col(v):
            return v
        rid = v.rid
        reasons = self.reasons
        if isinstance(v, Num):
            if v.lin is not None:
                s = v.lin.small()
                den = v.lin.den
                if s is not None:
                    vals = s.v.tolist()
                    out = [int(x) for x in vals] if (v.isint and den == 1) else [Fraction(x, den) for x in vals]
                else:
                    out = [v.lin.row(i) for i in range(self.n)]
                if rid is not None:
                    rl = rid.tolist()
                    out = [reasons.undefined(r, i) if r >= 0 else x for i, (x, r) in enumerate(zip(out, rl))]
                return tuple(out)
            if rid is None:
                return tuple(v.exact_rows(np.arange(self.n)))
            rows = np.flatnonzero(rid < 0)
            vals = v.exact_rows(rows)
            out = [None] * self.n
            for i, x in zip(rows.tolist(), vals):
                out[i] = x
            for i in np.flatnonzero(rid >= 0).tolist():
                out[i] = reasons.undefined(int(rid[i]), i)
            return tuple(out)
        vals = v.b.tolist() if isinstance(v, BoolCol) else list(v.o)
        if rid is None:
            return tuple(vals)
        rl = rid.tolist()
        return tuple(reasons.undefined(r, i) if r >= 0 else x for i, (x, r) in enumerate(zip(vals, rl)))

    # ---- dependencies (sweeps: reuse the unvaried version's values) ----
    def _affected(self, overrides: tuple) -> frozenset:
        """The names whose value may differ from the parent's: those that reach a changed item
        through references not cut by an override (an overridden name's item is not consulted)."""
        key = tuple(n for n, _ in overrides)
        hit = self._deps.get(key)
        if hit is None:
            stop = set(key)
            users: dict = {}
            for piece in self.version.all_pieces():  # every piece: another year's may be in force
                for r in _item_refs(piece.item):
                    users.setdefault(r, []).append(piece.name)
            seen: set = set()
            todo = [c for c in self._changed if c not in stop]
            while todo:
                x = todo.pop()
                if x in seen or x in stop:
                    continue
                seen.add(x)
                todo.extend(users.get(x, ()))
            hit = self._deps[key] = frozenset(seen)
        return hit

    # ---- names ----
    def _lookup(self, name: str, year: int):
        key = (name, year)
        if key not in self._lookups:
            self._lookups[key] = self.at(year).lookup(name)
        return self._lookups[key]

    def _compute(self, name: str, year: int, ov: tuple):
        return compute_name(self, name, year, ov)

    def _formula(self, e, name: str, year: int, ov: tuple):
        return self._run(e, name, year, ov)

    def _key_column(self, name: str):
        if name == "fiscal_year":
            return Undefined("use 'year'")
        arr = np.empty(self.n, dtype=object)
        arr[:] = [m.code if name == "code" else m.name for m in self.data.municipalities]
        return ObjCol(arr)

    def _input(self, decl: ast.InputDecl, year: int):
        fy = FiscalYear(year)
        spaced = decl.name.replace("_", " ")
        if decl.scope == "prefecture":
            v = self.data.prefecture.get(decl.name, {}).get(year)
            return Undefined(f"no {fy} {spaced} in the prefecture data") if v is None else v
        c = self.data.municipal.get(decl.name, {}).get(year)
        rid_missing = self.reasons.per_municipality(f"no {fy} {spaced} for ", "")
        if c is None:
            rid = np.full(self.n, rid_missing, dtype=np.int32)
            unit = decl.unit
            if unit == "text":
                return ObjCol(np.full(self.n, "", dtype=object), rid)
            if unit == "bool":
                return BoolCol(np.zeros(self.n, dtype=bool), rid)
            return Num(rid, Lin.of(IntCol(np.zeros(self.n, dtype=np.int64), 0, 0)), isint=unit == "year")
        kind = c[0]
        if kind == "num":
            _, col, den, missing, isint = c
            rid = None if missing is None else np.where(missing, np.int32(rid_missing), np.int32(-1)).astype(np.int32, copy=False)
            return Num(rid, Lin.of(col, den), isint=isint)
        missing = c[2]
        rid = None if missing is None else np.where(missing, np.int32(rid_missing), np.int32(-1)).astype(np.int32, copy=False)
        return BoolCol(c[1], rid) if kind == "bool" else ObjCol(c[1], rid)

    # ---- compiling expressions into closures ----
    def _run(self, expr, owner: str, year: int, ov: tuple):
        fn = self._compiled.get((id(expr), owner))
        if fn is None:
            fn = self._compiled[(id(expr), owner)] = self._compile(expr, owner)
        return fn(year, ov)

    def _compile(self, e, owner: str):
        t = type(e)
        if t is ast.Number or t is ast.Text or t is ast.Bool or t is ast.YearLiteral:
            value = e.value
            return lambda year, ov: value
        if t is ast.ThisYear:
            return lambda year, ov: year
        if t is ast.Ref:
            name = e.name
            fast = self.fast
            return lambda year, ov: fast(name, year, ov)
        if t is ast.AtYear:
            return self._c_at_year(e, owner)
        if t is ast.Unary:
            inner = self._compile(e.operand, owner)
            if e.op == "not":
                return lambda year, ov: self._not(inner(year, ov))
            return lambda year, ov: self._neg(inner(year, ov))
        if t is ast.Binary:
            return self._c_binary(e, owner)
        if t is ast.If:
            return self._c_if(e, owner)
        if t is ast.With:
            body = self._compile(e.body, owner)
            val = self._compile(e.value, owner)
            name = e.name

            def run_with(year, ov):
                v = val(year, ov)
                new = tuple((n, x) for n, x in ov if n != name) + ((name, v),)
                return body(year, tuple(sorted(new, key=lambda p: p[0])))

            return run_with
        if t is ast.Call and e.function in _FAST_FUNCTIONS:
            return self._c_call(e, owner)
        return self._c_reference(e, owner)

    def _c_reference(self, e, owner: str):
        """A node this module does not vectorise: the reference evaluator computes it (same data, same overrides)."""

        def run(year, ov):
            ref = self._reference_evaluator()
            pov = tuple((n, self.to_python(v)) for n, v in ov)
            ref._stack.append(owner)  # division reasons name the definition, as in the reference
            try:
                value = ref.eval(e, year, pov)
            finally:
                ref._stack.pop()
            return self._wrap(value)

        return run

    def _reference_evaluator(self):
        if self._reference is None:
            from .evaluate import Evaluator

            self._reference = Evaluator(self.version, self.data.dataset())
        return self._reference

    def _c_at_year(self, e, owner):
        idx_fn = self._compile(e.year, owner)
        name = e.target.name

        def run(year, ov):
            idx = idx_fn(year, ov)
            if not _is_col(idx):
                if is_undef(idx):
                    return idx
                return self.fast(name, _as_year(idx), ov)
            # A year that differs by municipality: evaluate each distinct year once.
            py = self.to_python(idx)
            years = []
            choice = np.full(self.n, -1, dtype=np.int64)
            rid = np.full(self.n, -1, dtype=np.int32)
            for i, y in enumerate(py):
                if is_undef(y):
                    rid[i] = idx.rid[i]
                    continue
                y = _as_year(y)
                if y not in years:
                    years.append(y)
                choice[i] = years.index(y)
            values = {j: self.fast(name, y, ov) for j, y in enumerate(years)}
            return self._select(choice, rid, values)

        return run

    def _c_binary(self, e, owner):
        left = self._compile(e.left, owner)
        right = self._compile(e.right, owner)
        op = e.op
        if op in ("and", "or"):
            return lambda year, ov: self._logic(op, left(year, ov), right(year, ov))
        if op == "/":
            return lambda year, ov: self._divide(left(year, ov), right(year, ov), owner, year)
        if op in ("+", "-"):
            return lambda year, ov: self._add(op, left(year, ov), right(year, ov))
        if op == "*":
            return lambda year, ov: self._mul(left(year, ov), right(year, ov))
        return lambda year, ov: self._compare(op, left(year, ov), right(year, ov))

    def _c_if(self, e, owner):
        conds = [self._compile(c, owner) for c, _ in e.branches]
        values = [self._compile(v, owner) for _, v in e.branches] + [self._compile(e.otherwise, owner)]

        def run(year, ov):
            cvals = [c(year, ov) for c in conds]
            if not any(_is_col(c) for c in cvals):
                for cv, vf in zip(cvals, values):
                    if is_undef(cv):
                        return cv
                    if cv:
                        return vf(year, ov)
                return values[-1](year, ov)
            n = self.n
            choice = np.full(n, -2, dtype=np.int64)
            rid = np.full(n, -1, dtype=np.int32)
            for j, cv in enumerate(cvals):
                open_ = choice == -2
                if not open_.any():
                    break
                if not _is_col(cv):
                    if is_undef(cv):
                        choice[open_] = -1
                        rid[open_] = self.reasons.plain(cv.reason)
                    elif cv:
                        choice[open_] = j
                    continue
                truth, crid = self._truth(cv)
                if crid is not None:
                    und = open_ & (crid >= 0)
                    choice[und] = -1
                    rid[und] = crid[und]
                    open_ = open_ & ~und
                choice[open_ & truth] = j
            choice[choice == -2] = len(conds)
            used = _first_seen(choice)
            branch = {j: values[j](year, ov) for j in used}
            return self._select(choice, rid, branch)

        return run

    def _c_call(self, e, owner):
        f = e.function
        if f == "defined":
            arg = self._compile(e.args[0], owner)

            def run_defined(year, ov):
                x = arg(year, ov)
                if not _is_col(x):
                    return not is_undef(x)
                return BoolCol(np.ones(self.n, dtype=bool) if x.rid is None else (x.rid < 0))

            return run_defined
        if f == "decimals":
            value = Fraction(1, 10 ** int(e.args[0].value))
            return lambda year, ov: value
        if f in ("percent", "ratio"):
            return self._compile(e.args[0], owner)
        if f in ("sum", "mean", "count"):
            if f == "count" and not e.args:
                return lambda year, ov: Fraction(self.n)
            arg = self._compile(e.args[0], owner)
            return lambda year, ov: self._aggregate(f, arg(year, ov))
        args = [self._compile(a, owner) for a in (e.args[:2] if f == "round" else e.args)]
        if f in ("min", "max"):
            def run_minmax(year, ov):
                vals = [a(year, ov) for a in args]
                out = vals[0]
                for v in vals[1:]:
                    out = self._minmax(f, out, v)
                return out

            return run_minmax
        if f == "abs":
            return lambda year, ov: self._abs(args[0](year, ov))
        mode = ROUNDING_MODES[e.args[2].name] if f == "round" else f
        return lambda year, ov: self._round(args[0](year, ov), args[1](year, ov), mode)

    # ---- generic fallback: the reference semantics on materialised values ----
    def _wrap(self, v):
        """A reference value (scalar or tuple) -> a fast value."""
        if not isinstance(v, tuple):
            return v
        n = len(v)
        rid = None
        defined = []
        for i, x in enumerate(v):
            if type(x) is Undefined:
                if rid is None:
                    rid = np.full(n, -1, dtype=np.int32)
                rid[i] = self.reasons.plain(x.reason)
            else:
                defined.append(x)
        if all(type(x) is bool for x in defined):
            return BoolCol(np.array([x if type(x) is bool else False for x in v], dtype=bool), rid)
        if all(_is_number(x) for x in defined):
            den = 1
            for x in defined:
                d = x.denominator
                if den % d:
                    den = den * d // math.gcd(den, d)
                    if den > 10**40:
                        break
            if den <= 10**40:
                nums = [x.numerator * (den // x.denominator) if _is_number(x) else 0 for x in v]
                return Num(rid, Lin.of(_to_int_col(nums), den), isint=all(type(x) is int for x in defined))
        arr = np.empty(n, dtype=object)
        arr[:] = [None if type(x) is Undefined else x for x in v]
        return ObjCol(arr, rid)

    def _generic2(self, fn, a, b, short=None):
        pa, pb = self.to_python(a), self.to_python(b)
        return self._wrap(_map2(fn, pa, pb, short=short))

    # ---- operations ----
    def _scalar_rid(self, v):
        if type(v) is Undefined:
            return np.full(self.n, self.reasons.plain(v.reason), dtype=np.int32)
        return None

    def _num_view(self, v):
        """A Num (or a numeric scalar) for arithmetic; None when v is neither."""
        if type(v) is Num:
            return v
        if _is_number(v):
            return v
        return None

    def _add(self, op, a, b):
        if not _is_col(a) and not _is_col(b):
            return _map2(_BINARY[op], a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self._undefined_num(a, b)
        na, nb = self._num_view(a), self._num_view(b)
        if na is None or nb is None:
            return self._undef_or_generic(_BINARY[op], a, b)
        rid = _first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = _isint(na) and _isint(nb)
        sign = 1 if op == "+" else -1
        la, lb = _lin_of(na), _lin_of(nb)
        if la is not None and lb is not None:
            return Num(rid, _lin_add(la, lb, sign), isint=isint)
        fa, ra, aa, nna = _fview(na)
        fb, rb, ab, nnb = _fview(nb)
        with np.errstate(all="ignore"):
            f = fa + fb if sign == 1 else fa - fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        if sign == 1 and nna and nnb:
            r = _up(max(ra, rb) * (1 + 2 * U) + U)
            aa_ = _up(aa + ab)
            nonneg = True
        else:
            r = U
            aa_ = _up((ra * _M(na) if ra else 0.0) + (rb * _M(nb) if rb else 0.0) + aa + ab)
            nonneg = None
        ea, eb = _exact_fn(na), _exact_fn(nb)
        if sign == 1:
            rows = lambda idx: [x + y for x, y in zip(ea(idx), eb(idx))]
        else:
            rows = lambda idx: [x - y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, aa_, rows, nonneg, isint)

    def _mul(self, a, b):
        if not _is_col(a) and not _is_col(b):
            return _map2(_BINARY["*"], a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self._undefined_num(a, b)
        na, nb = self._num_view(a), self._num_view(b)
        if na is None or nb is None:
            return self._undef_or_generic(_BINARY["*"], a, b)
        rid = _first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = _isint(na) and _isint(nb)
        if _is_number(na) or _is_number(nb):
            s, col = (na, nb) if _is_number(na) else (nb, na)
            s = Fraction(s)
            if col.lin is not None:
                return Num(rid, col.lin.scaled(s.numerator, s.denominator).collapsed(), isint=isint)
        la, lb = _lin_of(na), _lin_of(nb)
        if la is not None and lb is not None:
            lin = _lin_mul(la, lb)
            if lin is not None:
                return Num(rid, lin, isint=isint)
        fa, ra, aa, nna = _fview(na)
        fb, rb, ab, nnb = _fview(nb)
        with np.errstate(all="ignore"):
            f = fa * fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        r = _up((ra + rb + ra * rb) * (1 + 2 * U) + U)
        a_ = 0.0
        if ab:
            a_ += ab * _M(na) * (1 + ra)
        if aa:
            a_ += aa * _M(nb) * (1 + rb) + aa * ab
        ea, eb = _exact_fn(na), _exact_fn(nb)
        rows = lambda idx: [x * y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, _up(a_), rows, (nna and nnb) or None, isint)

    def _divide(self, a, b, owner, year):
        name = owner
        fy = FiscalYear(year).both
        if not _is_col(a) and not _is_col(b):
            if is_undef(a):
                return a
            if is_undef(b):
                return b
            if b == 0:
                return Undefined(f"division by zero in {name} in {fy}")
            return a / b
        if type(a) is Undefined or type(b) is Undefined:
            return self._undefined_num(a, b)
        na, nb = self._num_view(a), self._num_view(b)
        if na is None or nb is None:
            return self._generic_divide(a, b, name, fy)
        rid = _first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        rid_zero = self.reasons.per_municipality(f"division by zero in {name} for ", f" in {fy}")
        if _is_number(nb):
            if nb == 0:
                # Every defined row divides by zero.
                zero = np.full(self.n, rid_zero, dtype=np.int32)
                return Num(_first_rid(rid, zero), Lin.of(IntCol(np.zeros(self.n, dtype=np.int64), 0, 0)))
            s = Fraction(nb)
            lin = _lin_of(na)
            if lin is not None:
                return Num(rid, lin.scaled(s.denominator, s.numerator).collapsed() if s > 0 else lin.scaled(-s.denominator, -s.numerator).collapsed())
            return self._mul(a, 1 / s)
        # Division by a column: zero divisors become undefined; the quotient is an Approx.
        fb, rb, ab, nnb = _fview(nb)
        if ab <= 2.0**-900 and rb < 0.25:
            done = self._divide_relative(na, nb, rid, rid_zero, fb, rb, ab)
            if done is not None:
                return done
        defined = np.ones(self.n, dtype=bool) if rid is None else (rid < 0)
        lb = nb.lin
        exact_zero_known = lb is not None and lb.small() is not None
        if exact_zero_known:
            zero = lb.small().v == 0
            risky = np.zeros(self.n, dtype=bool)
        else:
            zero = np.zeros(self.n, dtype=bool)
            with np.errstate(all="ignore"):
                risky = ~(np.abs(fb) * (0.25 - rb) > ab)
            risky &= defined
            if risky.any():
                idx = np.flatnonzero(risky)
                for i, x in zip(idx.tolist(), nb.exact_rows(idx)):
                    if x == 0:
                        zero[i] = True
        zero &= defined
        if zero.any():
            zrid = np.where(zero, np.int32(rid_zero), np.int32(-1)).astype(np.int32, copy=False)
            rid = zrid if rid is None else np.where(rid >= 0, rid, zrid)
        ok = defined & ~zero & ~risky
        fb_safe = np.where(ok, fb, 1.0)
        fa, ra, aa, nna = _fview(na)
        with np.errstate(all="ignore"):
            f = fa / fb_safe
            mb = float(np.min(np.abs(fb_safe))) if self.n else 1.0
        if not np.isfinite(mb) or mb <= 0:
            mb = 0.0
        rho = rb + (ab / mb if ab else 0.0) if mb > 0 else math.inf
        ea, eb = _exact_fn(na), _exact_fn(nb)
        rows = lambda idx: [Fraction(x) / y for x, y in zip(ea(idx), eb(idx))]
        if rho >= 0.5:
            r, a_ = 0.0, math.inf
        else:
            r = _up((rho + ra) / (1 - rho) * (1 + 2 * U) + U)
            a_ = _up(aa / (mb * (1 - rho))) if aa else 0.0
        risky &= ~zero
        if risky.any():
            # Rows whose divisor is too close to zero for the float bound: exact values.
            idx = np.flatnonzero(risky)
            f = np.array(f, dtype=np.float64, copy=True)
            for i, x in zip(idx.tolist(), rows(idx)):
                f[i] = float(x)
            r = max(r, _up(U))
        return Num(rid, None, f, r, a_, rows, (_nonneg_of(na) and _nonneg_of(nb)) or None)

    def _divide_relative(self, na, nb, rid, rid_zero, fb, rb, ab):
        """x / y where y's bound is (nearly) relative: exact divisors, or no divisor near zero.

        An exact divisor (a small Lin) is zero exactly where its float is; its relative
        error is rb. Otherwise every |fy| must be large against ab (no row near zero), and
        the relative error is rb + ab / min |fy|; if not, None (the general path decides).
        """
        lb = nb.lin if type(nb) is Num else None
        sb = lb.small() if lb is not None else None
        rho = rb
        if sb is not None:
            # A nonzero exact divisor is at least 1 / den in magnitude.
            amin = (1.0 / float(lb.den)) * (1 - 4 * U) if lb.den < 2**1000 else 0.0
            zero_all = None if (sb.minv() > 0 or sb._max < 0) else (fb == 0)
        else:
            with np.errstate(all="ignore"):
                amin = float(np.min(np.abs(fb))) if self.n else 1.0
            if not (amin > 0 and rb + ab / amin < 0.25):
                return None
            rho = rb + ab / amin
            zero_all = None
        if zero_all is not None and zero_all.any():
            fb = np.where(zero_all, 1.0, fb)
            zero = zero_all if rid is None else (zero_all & (rid < 0))
            if zero.any():
                zrid = np.where(zero, np.int32(rid_zero), np.int32(-1)).astype(np.int32, copy=False)
                rid = zrid if rid is None else np.where(rid >= 0, rid, zrid)
        fa, ra, aa, nna = _fview(na)
        with np.errstate(all="ignore"):
            f = fa / fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        r = _up((rho + ra) / (1 - rho) * (1 + 2 * U) + U)
        a_ = TINY  # the division's own rounding, should it underflow
        if aa:
            a_ += _up(aa / (amin * (1 - rho))) if amin > 0 else math.inf
        ea, eb = _exact_fn(na), _exact_fn(nb)
        rows = lambda idx: [Fraction(x) / y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, a_, rows, (_nonneg_of(na) and _nonneg_of(nb)) or None)

    def _generic_divide(self, a, b, name, fy):
        pa, pb = self.to_python(a), self.to_python(b)
        n = self.n
        aa = pa if isinstance(pa, tuple) else (pa,) * n
        bb = pb if isinstance(pb, tuple) else (pb,) * n
        out = []
        for i, (x, y) in enumerate(zip(aa, bb)):
            if is_undef(x):
                out.append(x)
            elif is_undef(y):
                out.append(y)
            elif y == 0:
                out.append(Undefined(f"division by zero in {name} for {self.data.municipalities[i]} in {fy}"))
            else:
                out.append(Fraction(x) / y)
        return self._wrap(tuple(out))

    def _undef_or_generic(self, fn, a, b):
        return self._generic2(fn, a, b)

    def _undefined_num(self, a, b):
        """An operation with an undefined prefecture value: every row undefined, first operand's reason first."""
        ra = a.rid if _is_col(a) else self._scalar_rid(a)
        rb = b.rid if _is_col(b) else self._scalar_rid(b)
        other = a if _is_col(a) else b
        if _is_col(other) and type(other) is not Num:
            return self._generic2(lambda x, y: x, a, b)
        return Num(_first_rid(ra, rb), Lin.of(IntCol(np.zeros(self.n, dtype=np.int64), 0, 0)))

    def _neg(self, x):
        if not _is_col(x):
            return _map1(lambda v: -v, x)
        if type(x) is Num:
            if x.lin is not None:
                return Num(x.rid, x.lin.scaled(-1, 1), isint=x.isint)
            f, r, a = x.f(), x.r, x.a
            ex = x.exact_rows
            return Num(x.rid, None, -f, r, a, lambda idx: [-v for v in ex(idx)], None, x.isint)
        return self._wrap(_map1(lambda v: -v, self.to_python(x)))

    def _not(self, x):
        if not _is_col(x):
            return _map1(lambda v: not v, x)
        if type(x) is BoolCol:
            return BoolCol(~x.b, x.rid)
        return self._wrap(_map1(lambda v: not v, self.to_python(x)))

    def _abs(self, x):
        if not _is_col(x):
            return _map1(abs, x)
        if type(x) is Num:
            s = x.lin.small() if x.lin is not None else None
            if s is not None:
                return Num(x.rid, Lin.of(IntCol(np.abs(s.v)), x.lin.den), isint=x.isint)
            f, r, a = x.f(), x.r, x.a
            ex = x.exact_rows
            return Num(x.rid, None, np.abs(f), r, a, lambda idx: [abs(v) for v in ex(idx)], True, x.isint)
        return self._wrap(_map1(abs, self.to_python(x)))

    def _logic(self, op, a, b):
        if not _is_col(a) and not _is_col(b):
            if op == "and":
                return _map2(lambda x, y: x and y, a, b, short=lambda x: x is False)
            return _map2(lambda x, y: x or y, a, b, short=lambda x: x is True)
        ba, bb = self._bool_view(a), self._bool_view(b)
        if ba is None or bb is None:
            if op == "and":
                return self._generic2(lambda x, y: x and y, a, b, short=lambda x: x is False)
            return self._generic2(lambda x, y: x or y, a, b, short=lambda x: x is True)
        xb, xr = ba
        yb, yr = bb
        n = self.n
        xd = np.ones(n, dtype=bool) if xr is None else (xr < 0)
        short = xd & (~xb if op == "and" else xb)
        value = (xb & yb) if op == "and" else (xb | yb)
        if xr is None and yr is None:
            return BoolCol(value)
        rid = np.full(n, -1, dtype=np.int32)
        if yr is not None:
            rid = np.where(yr >= 0, yr, rid)
        if xr is not None:
            rid = np.where(xr >= 0, xr, rid)
        rid = np.where(short, np.int32(-1), rid).astype(np.int32, copy=False)
        return BoolCol(value, rid)

    def _bool_view(self, v):
        n = self.n
        if type(v) is BoolCol:
            return v.b, v.rid
        if type(v) is bool:
            return np.full(n, v, dtype=bool), None
        if type(v) is Undefined:
            return np.zeros(n, dtype=bool), self._scalar_rid(v)
        return None

    def _truth(self, cv):
        """A condition column -> (truth array, rid) with Python's truthiness."""
        if type(cv) is BoolCol:
            return cv.b, cv.rid
        if type(cv) is Num:
            ne = self._cmp_arrays("!=", cv, Fraction(0), _defined(cv.rid, self.n))
            return ne, cv.rid
        py = self.to_python(cv)
        return np.array([bool(x) if not is_undef(x) else False for x in py], dtype=bool), cv.rid

    # ---- comparisons ----
    def _compare(self, op, a, b):
        fn = _BINARY[op]
        if not _is_col(a) and not _is_col(b):
            return _map2(fn, a, b)
        na, nb = self._num_view(a), self._num_view(b)
        rid = _first_rid(getattr(a, "rid", None) if _is_col(a) else self._scalar_rid(a),
                         getattr(b, "rid", None) if _is_col(b) else self._scalar_rid(b))
        if type(a) is Undefined or type(b) is Undefined:
            return BoolCol(np.zeros(self.n, dtype=bool), rid)
        if na is not None and nb is not None:
            return BoolCol(self._cmp_arrays(op, na, nb, _defined(rid, self.n)), rid)
        if op in ("=", "!="):
            if type(a) is Undefined or type(b) is Undefined:
                return BoolCol(np.zeros(self.n, dtype=bool), rid)
            if type(a) is BoolCol and (type(b) is BoolCol or type(b) is bool):
                bv = b.b if type(b) is BoolCol else b
                eq = a.b == bv
                return BoolCol(eq if op == "=" else ~eq, rid)
            if type(a) is ObjCol and isinstance(b, str):
                if a.cats is not None:
                    eq = a.codes == a.cats.index(b) if b in a.cats else np.zeros(self.n, dtype=bool)
                else:
                    eq = np.asarray(a.o == b, dtype=bool)
                return BoolCol(eq if op == "=" else ~eq, rid)
        return self._generic2(fn, a, b)

    def _cmp_arrays(self, op, a, b, mask):
        """Exact comparison of two numeric values (Num or scalar) on the rows in mask: a bool array."""
        n = self.n
        ia, ib = _scaled_pair(a, b)
        if ia is not None:
            out = _CMP[op](ia, ib)
            return out if isinstance(out, np.ndarray) else np.full(n, out)
        fa = _fview(a)[0]
        fb = _fview(b)[0]
        ea, eb = _err(a), _err(b)
        with np.errstate(all="ignore"):
            d = fa - fb
            if not isinstance(d, np.ndarray):
                d = np.full(n, d)
            decided = np.abs(d) * (1 - 4 * U) > (ea + eb) * SLACK + TINY
        out = _CMP[op](d, 0.0)
        if not isinstance(out, np.ndarray):
            out = np.full(n, out)
        undecided = np.flatnonzero(~decided & mask)
        STATS["recomputed_rows"] += len(undecided)
        if len(undecided):
            fn = _BINARY[op]
            xa, xb = _exact_fn(a)(undecided), _exact_fn(b)(undecided)
            out = np.array(out, dtype=bool, copy=True)
            for i, x, y in zip(undecided.tolist(), xa, xb):
                out[i] = fn(x, y)
        return out

    def _minmax(self, f, a, b):
        pick = min if f == "min" else max
        if not _is_col(a) and not _is_col(b):
            return _map2(lambda x, y: pick(x, y), a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self._undefined_num(a, b)
        na, nb = self._num_view(a), self._num_view(b)
        if na is None or nb is None:
            return self._generic2(lambda x, y: pick(x, y), a, b)
        rid = _first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = _isint(na) and _isint(nb)
        ia, ib, den = _scaled_pair(na, nb, with_den=True)
        if ia is not None:
            if not isinstance(ia, np.ndarray):
                ia = np.full(self.n, ia, dtype=np.int64)
            if not isinstance(ib, np.ndarray):
                ib = np.full(self.n, ib, dtype=np.int64)
            v = np.minimum(ia, ib) if f == "min" else np.maximum(ia, ib)
            return Num(rid, Lin.of(IntCol(v), den), isint=isint)
        # a <= b decides min: take a where a <= b (min(x, y) keeps x when equal).
        take_a = self._cmp_arrays("<=" if f == "min" else ">=", na, nb, _defined(rid, self.n))
        fa, ra, aa, nna = _fview(na)
        fb, rb, ab, nnb = _fview(nb)
        f_ = np.where(take_a, fa, fb)
        ea, eb = _exact_fn(na), _exact_fn(nb)

        def rows(idx):
            xa, xb = ea(idx), eb(idx)
            return [pick(x, y) for x, y in zip(xa, xb)]

        return Num(rid, None, f_, max(ra, rb), max(aa, ab), rows, (nna and nnb) or None, isint)

    # ---- rounding ----
    def _round(self, x, step, mode):
        if not _is_col(x) and not _is_col(step):
            return _map2(lambda v, s: round_to(v, s, mode), x, step)
        if type(x) is not Num or not _is_number(step) or step <= 0:
            return self._generic2(lambda v, s: round_to(v, s, mode), x, step)
        s = Fraction(step)
        lin = x.lin
        small = lin.small() if lin is not None else None
        if small is not None and small.maxabs() * s.denominator * 2 + lin.den * s.numerator < INT_LIMIT and lin.den * s.numerator * 2 < INT_LIMIT:
            # q = N * s.den / (den * s.num): integer arithmetic, exact.
            P = small.v * s.denominator if s.denominator != 1 else small.v
            Q = lin.den * s.numerator
            q = _int_round(P, Q, mode)
        else:
            q, ok = _float_round_proved(x, s, mode)
            bad = np.flatnonzero(~ok)
            if x.rid is not None and len(bad):
                bad = bad[x.rid[bad] < 0]
            STATS["recomputed_rows"] += len(bad)
            if len(bad):
                exact = x.exact_rows(bad)
                vals = [round_to(v, s, mode) / s for v in exact]
                if all(abs(int(v)) < INT_LIMIT for v in vals):
                    q[bad] = [int(v) for v in vals]
                else:
                    return self._generic2(lambda v, st: round_to(v, st, mode), x, step)
        lin_q = Lin.of(IntCol(q), 1)
        if s != 1:
            lin_q = lin_q.scaled(s.numerator, s.denominator)
        return Num(x.rid, lin_q.collapsed(), isint=False)

    # ---- aggregates ----
    def _aggregate(self, f, x):
        n = self.n
        if not _is_col(x):
            if n == 0:
                return Undefined("mean over no municipalities") if f == "mean" else Fraction(0)
            if is_undef(x):
                return x
            if f == "count":
                return Fraction(n if x else 0)
            total = Fraction(0) + x * n
            return total / n if f == "mean" else total
        rid = x.rid
        if rid is not None:
            bad = np.flatnonzero(rid >= 0)
            if len(bad):
                i = int(bad[0])
                return self.reasons.undefined(int(rid[i]), i)
        if f == "count":
            if type(x) is BoolCol:
                return Fraction(int(np.count_nonzero(x.b)))
            truth, _ = self._truth(x)
            return Fraction(int(np.count_nonzero(truth)))
        if type(x) is Num:
            if x.lin is not None:
                total_num = 0
                for c, col in x.lin.terms:
                    total_num += c * (_exact_sum(col) if col is not None else n)
                total = Fraction(total_num, x.lin.den)
            else:
                total = sum(x.exact_rows(np.arange(n)), Fraction(0))
        else:
            total = sum(self.to_python(x), Fraction(0))
        if f == "mean":
            if n == 0:
                return Undefined("mean over no municipalities")
            return total / n
        return total

    # ---- band tables ----
    def _table(self, t: ast.Table, year: int, ov: tuple):
        owner = t.name
        keys = self._run(t.key, owner, year, ov)
        if not _is_col(keys):
            if is_undef(keys):
                self._band_arrays[(t.name, year, ov)] = np.array([-1])
                return keys
            idx = next((i for i, b in enumerate(t.bands) if b.contains(keys)), None)
            self._band_arrays[(t.name, year, ov)] = np.array([-1 if idx is None else idx])
            if idx is None:
                return Undefined(f"{_show_value(keys, _band_unit(t))} falls in no band of {t.name} in {FiscalYear(year).both}")
            return self._run(t.bands[idx].result, owner, year, ov)
        n = self.n
        nk = self._num_view(keys)
        rid = np.full(n, -1, dtype=np.int32) if keys.rid is None else keys.rid.copy()
        defined = rid < 0
        choice = np.full(n, -1, dtype=np.int64)
        if nk is None:
            py = self.to_python(keys)
            for i, k in enumerate(py):
                if not is_undef(k):
                    idx = next((j for j, b in enumerate(t.bands) if b.contains(k)), None)
                    choice[i] = -1 if idx is None else idx
        else:
            open_ = defined.copy()
            for j, b in enumerate(t.bands):
                if not open_.any():
                    break
                above = self._cmp_arrays(">=" if b.lo_closed else ">", nk, b.lo.value, open_)
                below = self._cmp_arrays("<=" if b.hi_closed else "<", nk, b.hi.value, open_ & above)
                take = open_ & above & below
                choice[take] = j
                open_ &= ~take
        self._band_arrays[(t.name, year, ov)] = choice
        no_band = np.flatnonzero(defined & (choice < 0))
        if len(no_band):
            fy = FiscalYear(year).both
            kv = keys.exact_rows(no_band) if type(keys) is Num else [self.to_python(keys)[i] for i in no_band]
            for i, k in zip(no_band.tolist(), kv):
                rid[i] = self.reasons.plain(f"{_show_value(k, _band_unit(t))} falls in no band of {t.name} for {self.data.municipalities[i]} in {fy}")
        used = _first_seen(choice)
        results = {j: self._run(t.bands[j].result, owner, year, ov) for j in used}
        return self._select(choice, rid, results)

    # ---- choosing per row among branch values ----
    def _select(self, choice, rid, values: dict):
        """Rows with choice j take values[j]; rows with choice -1 are undefined with rid."""
        n = self.n
        undef_rows = choice < 0
        any_undef = bool(undef_rows.any())
        rid = np.where(undef_rows, rid, np.int32(-1)).astype(np.int32, copy=False) if (rid is not None and any_undef) else None
        kinds = set()
        for j, v in values.items():
            if type(v) is Undefined:
                if rid is None:
                    rid = np.full(n, -1, dtype=np.int32)
                rid[choice == j] = self.reasons.plain(v.reason)
                continue
            if _is_col(v) and v.rid is not None:
                take = (choice == j) & (v.rid >= 0)
                if take.any():
                    rid = np.where(take, v.rid, np.int32(-1) if rid is None else rid).astype(np.int32, copy=False)
            kinds.add("num" if (type(v) is Num or _is_number(v)) else "bool" if (type(v) is BoolCol or type(v) is bool) else "obj")
        rid_out = rid if (rid is not None and (rid >= 0).any()) else None
        live = {j: v for j, v in values.items() if type(v) is not Undefined}
        if not live:
            return Num(rid_out, Lin.of(IntCol(np.zeros(n, dtype=np.int64), 0, 0)))
        order = sorted(live)
        pos = {j: k for k, j in enumerate(order)}
        if len(order) > 31:
            return self._select_generic(choice, rid_out, live)
        if order == list(range(len(order))):
            idx = np.where(undef_rows, 0, choice) if any_undef else choice
        else:
            lut = np.zeros(max(order) + 2, dtype=np.int64)
            for j in order:
                lut[j + 1] = pos[j]
            idx = lut[choice + 1]
        if kinds == {"bool"}:
            arrays = [v.b if type(v) is BoolCol else np.full(n, v, dtype=bool) for v in (live[j] for j in order)]
            return BoolCol(np.choose(idx, arrays), rid_out)
        if kinds == {"obj"} and all(isinstance(v, str) or (type(v) is ObjCol and v.cats is not None) for v in live.values()):
            cats: list = []
            luts = []
            for j in order:
                v = live[j]
                vals = [v] if isinstance(v, str) else v.cats
                lut = []
                for x in vals:
                    if x not in cats:
                        cats.append(x)
                    lut.append(cats.index(x))
                luts.append(np.array(lut, dtype=np.int64))
            arrays = [np.full(n, lut[0], dtype=np.int64) if isinstance(live[j], str) else lut[live[j].codes]
                      for j, lut in zip(order, luts)]
            return ObjCol(None, rid_out, codes=np.choose(idx, arrays) if len(arrays) > 1 else arrays[0], cats=cats)
        if kinds == {"obj"} and all(type(v) is ObjCol or isinstance(v, str) for v in live.values()):
            arrays = []
            for j in order:
                v = live[j]
                if type(v) is ObjCol:
                    arrays.append(v.o)
                else:
                    a = np.empty(n, dtype=object)
                    a[:] = [v] * n
                    arrays.append(a)
            return ObjCol(np.choose(idx, arrays), rid_out)
        if kinds != {"num"}:
            return self._select_generic(choice, rid_out, live)
        isint = all(_isint(live[j]) for j in order)
        # All exact and small: one integer column over a common denominator.
        smalls = []
        for j in order:
            v = live[j]
            if _is_number(v):
                smalls.append((Fraction(v).numerator, Fraction(v).denominator, True))
            elif v.lin is not None and v.lin.small() is not None:
                smalls.append((v.lin.small(), v.lin.den, False))
            else:
                smalls = None
                break
        if smalls is not None:
            den = reduce(lambda x, y: x * y // math.gcd(x, y), [d for _, d, _ in smalls], 1)
            fits = all((abs(s) if c else s.maxabs()) * (den // d) < INT_LIMIT for s, d, c in smalls)
            if fits:
                arrays = []
                for s, d, c in smalls:
                    k = den // d
                    if c:
                        arrays.append(np.full(n, s * k, dtype=np.int64))
                    else:
                        arrays.append(s.v * k if k != 1 else s.v)
                return Num(rid_out, Lin.of(IntCol(np.choose(idx, arrays)), den), isint=isint)
        fs, rs, as_, nonneg = [], [], [], True
        for j in order:
            fv, r, a, nn = _fview(live[j])
            fs.append(fv if isinstance(fv, np.ndarray) else np.full(n, fv))
            rs.append(r)
            as_.append(a)
            nonneg = nonneg and nn
        f = np.choose(idx, fs)
        exacts = {j: _exact_fn(live[j]) for j in order}

        def rows(req):
            req = np.asarray(req)
            out = [None] * len(req)
            ch = choice[req]
            for j in order:
                where = np.flatnonzero(ch == j)
                if len(where):
                    for k, x in zip(where.tolist(), exacts[j](req[where])):
                        out[k] = x
            return out

        return Num(rid_out, None, f, max(rs), max(as_), rows, nonneg or None, isint)

    def _select_generic(self, choice, rid, live):
        n = self.n
        py = {j: self.to_python(v) for j, v in live.items()}
        arr = np.empty(n, dtype=object)
        for i, c in enumerate(choice.tolist()):
            if c in py:
                v = py[c]
                arr[i] = v[i] if isinstance(v, tuple) else v
        wrapped = self._wrap(tuple(self.reasons.undefined(int(rid[i]), i) if rid is not None and rid[i] >= 0 else
                                   (arr[i] if not is_undef(arr[i]) else arr[i]) for i in range(n)))
        return wrapped


# ---- helpers on numeric views -----------------------------------------------------------------


_FAST_FUNCTIONS = frozenset({"defined", "decimals", "percent", "ratio", "sum", "mean", "count", "min", "max", "abs", "round", "floor", "ceil"})
_REFS: dict = {}  # id(item) -> (item, names its expressions refer to); the item is kept so the id stays its own


def _item_refs(item) -> frozenset:
    hit = _REFS.get(id(item))
    if hit is not None and hit[0] is item:
        return hit[1]
    from .check import item_exprs, refs

    names: set = set()
    for e in item_exprs(item):
        names |= refs(e)
    if len(_REFS) > 100_000:
        _REFS.clear()
    _REFS[id(item)] = (item, frozenset(names))
    return _REFS[id(item)][1]


def _isint(v) -> bool:
    return type(v) is int or (type(v) is Num and v.isint)


def _nonneg_of(v) -> bool:
    if _is_number(v):
        return v >= 0
    return v.nonneg


def _lin_of(v) -> Lin | None:
    if type(v) is Num:
        return v.lin
    q = Fraction(v)
    return Lin(((q.numerator, None),), q.denominator)


def _fview(v):
    """(f, r, a, nonneg) of a Num or a numeric scalar: |f - x| <= r|f| + a."""
    if type(v) is Num:
        f = v.f()
        return f, v.r, v.a, v.nonneg
    q = Fraction(v)
    try:
        fv = float(q)
    except OverflowError:
        return math.nan, 0.0, math.inf, q >= 0
    r = 0.0 if Fraction(fv) == q else U
    return fv, r, 0.0, q >= 0


def _M(v) -> float:
    """max |f| (over every row, undefined ones included: a safe over-estimate)."""
    if type(v) is Num:
        return v.M()
    try:
        return abs(float(v))
    except OverflowError:
        return math.inf


def _err(v):
    if type(v) is Num:
        return v.err()
    fv, r, a, _ = _fview(v)
    return abs(fv) * r + a


def _exact_fn(v):
    if type(v) is Num:
        return v.exact_rows
    return lambda idx: [v] * len(idx)


def _scaled_pair(a, b, with_den=False):
    """Both values as int64 numerators over one denominator, when they are exact and fit; else Nones."""
    pa = _small_of(a)
    pb = _small_of(b) if pa is not None else None
    if pa is None or pb is None:
        return (None, None, None) if with_den else (None, None)
    (va, da, ma), (vb, db, mb) = pa, pb
    den = da * db // math.gcd(da, db)
    ka, kb = den // da, den // db
    if ma * ka >= INT_LIMIT or mb * kb >= INT_LIMIT:
        return (None, None, None) if with_den else (None, None)
    ia = va * ka if ka != 1 else va
    ib = vb * kb if kb != 1 else vb
    return (ia, ib, den) if with_den else (ia, ib)


def _small_of(v):
    if type(v) is Num:
        if v.lin is None:
            return None
        s = v.lin.small()
        if s is None:
            return None
        return s.v, v.lin.den, s.maxabs()
    q = Fraction(v)
    return q.numerator, q.denominator, abs(q.numerator)


_CMP = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _int_round(P, Q: int, mode: str):
    """round(P / Q) per mode for an int64 array P and a positive int Q (no overflow by the caller's check)."""
    if mode == "floor":
        return np.floor_divide(P, Q)
    if mode == "ceil":
        return -np.floor_divide(-P, Q)
    sign = np.where(P < 0, -1, 1)
    A = np.abs(P)
    if mode == "down":
        return sign * np.floor_divide(A, Q)
    if mode == "half_up":
        return sign * np.floor_divide(2 * A + Q, 2 * Q)
    if mode == "half_even":
        q = np.floor_divide(P, Q)
        rem2 = 2 * (P - q * Q)
        return q + ((rem2 > Q) | ((rem2 == Q) & (q % 2 == 1)))
    raise ValueError(mode)  # pragma: no cover - the checker allows only the modes above


def _float_round_proved(x: "Num", s: Fraction, mode: str):
    """round(x / s) per mode in float64, and for each row whether the bound proves it.

    With q = fl(f / fl(s)), the exact quotient X = x / s satisfies |q - X| <= |q| k1 + k2
    (the bound of x, the rounding of s and of the division). The rounding is taken on
    t = q (floor), -q (ceil), |q| (down) or q + 1/2 (half up / half even, |q| + 1/2 when
    the sign is unknown), whose floor n gives the result; it is proved when the fraction
    t - n (exact in float64) is farther than the bound from 0 and from 1.
    """
    f = x.f()
    r, a = x.bound()
    sf = float(s)
    us = 0.0 if Fraction(sf) == s else U
    inv = 1.0 / abs(sf)
    half = mode in ("half_up", "half_even")
    k1 = _up((r + U + us) * (1 + 4 * U) + (U if half else 0.0) + 2 * U)
    k2 = _up(a * inv * (1 + us) * (1 + 4 * U) + (0.5 * U if half else 0.0) + 2 * U + TINY)
    nonneg = x.nonneg
    qmax = _magnitude(x) * inv * (1 + 4 * U)
    if qmax * k1 + k2 < 1e-6:
        # One bound for every row (the largest |q|'s): fewer passes, hardly more rows to recompute.
        return _float_round_scalar_bound(f, sf, mode, nonneg, _up(qmax * k1 + k2))
    with np.errstate(all="ignore"):
        q = f / sf
        aq = q if nonneg else np.abs(q)
        signed = False
        if mode == "floor":
            t = q
        elif mode == "ceil":
            t = -q
        elif mode == "down":
            t = aq
            signed = not nonneg
        elif mode == "half_up":
            t = aq + 0.5
            signed = not nonneg
        else:
            t = q + 0.5
        nf = np.floor(t)
        fr = t - nf
        fr -= 0.5
        np.abs(fr, out=fr)
        bound = aq * k1
        bound += k2
        np.subtract(0.5, bound, out=bound)
        ok = fr < bound
        if mode == "ceil":
            np.negative(nf, out=nf)
        elif signed:
            nf = np.copysign(nf, q)
        nf[~ok] = 0.0
    return nf.astype(np.int64), ok


def _float_round_scalar_bound(f, sf: float, mode: str, nonneg: bool, B: float):
    """As _float_round_proved, with one bound B on |t - T| for every row."""
    thr = 0.5 - B
    with np.errstate(all="ignore"):
        q = f / sf
        signed = False
        if mode == "floor":
            t = q
        elif mode == "ceil":
            np.negative(q, out=q)
            t = q
        elif mode == "down":
            t = q if nonneg else np.abs(q)
            signed = not nonneg
        elif mode == "half_up":
            t = q + 0.5 if nonneg else np.abs(q) + 0.5
            signed = not nonneg
        else:
            t = q + 0.5
        nf = np.floor(t)
        np.subtract(t, nf, out=t)
        t -= 0.5
        np.abs(t, out=t)
        ok = t < thr
        if mode == "ceil":
            np.negative(nf, out=nf)
        elif signed:
            nf = np.copysign(nf, f)
        out = nf.astype(np.int64)
    return out, ok


def _magnitude(x: "Num") -> float:
    """An upper bound of max |f| without a pass when the value is a Lin; else max |f|."""
    if x.lin is not None:
        den = x.lin.den
        try:
            return float(sum(abs(c) * (col.bound() if col is not None else 1) for c, col in x.lin.terms) / den) * (1 + 4 * U)
        except OverflowError:
            return math.inf
    return x.M()


def _first_seen(choice) -> list[int]:
    """The branch indices present in choice (>= 0), lowest first.

    (The reference evaluates them in order of first occurrence; evaluating a branch never
    changes another's value, so the order does not matter to the results.)
    """
    if not len(choice):
        return []
    counts = np.bincount(choice + 1)
    return [j - 1 for j in np.flatnonzero(counts).tolist() if j > 0]


def _band_unit(t: ast.Table) -> str:
    return "percent" if t.bands and t.bands[0].lo.unit == "percent" else "ratio"


def _defined(rid, n):
    return np.ones(n, dtype=bool) if rid is None else (rid < 0)


# ---- evaluating a version for a list of years ---------------------------------------------------


def evaluate(version: Version, data, years, columns=None, evaluator: FastEvaluator | None = None) -> EvalResult:
    """The reference's evaluate(), computed by the fast evaluator (same rows, same values)."""
    from .evaluate import evaluate as reference_evaluate

    ev = evaluator or FastEvaluator(version, data)
    return reference_evaluate(version, data, years, columns, evaluator=ev)  # it reads only data.municipalities


def evaluate_columns(ev: FastEvaluator, years, columns=None, *, release: bool = True) -> dict:
    """{(name, year): fast value} for every column and year, releasing each year's intermediates."""
    columns = tuple(columns) if columns else default_columns(ev.version)
    out = {}
    for y in years:
        for c in columns:
            out[(c, y)] = ev.fast(c, y)
        if release:
            ev.forget(keep=())
    return out
