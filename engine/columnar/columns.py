"""Column types of the exact core and their error bounds: exact integer columns, exact
linear combinations of them (Lin), float64 views with a proven bound (Num), booleans, texts.

- Data are columns: each municipal input of a year is an int64 numpy array of scaled
  integers over one power of ten (91.23% -> 9123 / 10^4), with a missing mask.
- Numbers stay exact as `Lin`: a short sum of integer columns times integer coefficients
  over one common denominator. That covers inputs, + - *, division by a prefecture value
  (`income / sum(income)`), the band tables, rounding results; a sum over municipalities
  of a Lin is an exact integer sum. A division by a per-municipality value gives a Num
  without a Lin: float64 values with a proven error bound |f - x| <= r|f| + a and a way to
  recompute any row exactly with Fractions.
- Undefined entries carry reason ids into a Reasons table (`rid`, -1 where defined); the
  text is made only when a value is shown, and it is the reference evaluator's text.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from functools import reduce

import numpy as np

from .. import ast
from ..display import reason_template, reason_text
from ..values import Undefined

U = 2.0**-53  # unit roundoff of float64
INT_LIMIT = 2**62  # an int64 column's values stay below this in magnitude
F_EXACT = 2**53  # integers up to this are exact in float64
MAX_TERMS = 12  # a Lin with more terms is turned into an Approx
SLACK = 1.0 + 2.0**-30  # inflates every computed bound to cover the rounding of the bound itself
TINY = 2.0**-1000  # absolute slack for underflow
STATS = {"recomputed_rows": 0}  # rows whose float decision was too close to call and were recomputed exactly


def up(x: float) -> float:
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

    def translated(self, lang: str, labels: dict, done: Reasons | None = None) -> Reasons:
        """The same ids with the texts as a display in `lang` shows them (display.reason_text); `done`,
        an earlier translation of this table, is extended with the entries added since."""
        if lang != "ja":
            return self
        out = done if done is not None else Reasons(self.municipalities)
        for e in self.entries[len(out.entries) :]:
            out.entries.append(("s", reason_text(e[1], lang, labels)) if e[0] == "s" else ("m", *reason_template(e[1], e[2], lang, labels)))
        return out

    def undefined(self, rid: int, row: int) -> Undefined:
        e = self.entries[rid]
        if e[0] == "s":
            u = self._undef.get(rid)
            if u is None:
                u = self._undef[rid] = Undefined(e[1])
            return u
        return Undefined(f"{e[1]}{self.municipalities[row]}{e[2]}")


def first_rid(*rids):
    """Per row, the first operand's reason that exists (the reference's left-to-right rule)."""
    out = None
    for r in rids:
        if r is None:
            continue
        out = r if out is None else np.where(out >= 0, out, r)
    return out


def has_undefined_rid(rid) -> bool:
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


def int_sum(col: IntCol) -> int:
    """The exact sum of an integer column (int64 split in 32-bit halves, so no overflow)."""
    v = col.v
    if not col.is64:
        return int(sum(v.tolist()))
    if len(v) < 2**31 and col.bound() * len(v) < INT_LIMIT:
        return int(v.sum())
    hi = v >> 32
    lo = v & 0xFFFFFFFF
    return int(hi.sum()) * 2**32 + int(lo.sum())


def int_col(values: list[int]) -> IntCol:
    mx = max(values) if values else 0
    mn = min(values) if values else 0
    if max(abs(mx), abs(mn)) < INT_LIMIT:
        return IntCol(np.array(values, dtype=np.int64), mx, mn)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return IntCol(arr, mx, mn)


def mul_cols(a: IntCol, b: IntCol) -> IntCol:
    ub = a.bound() * b.bound()
    nn = a.known_nonneg() and b.known_nonneg()
    if a.is64 and b.is64 and ub < INT_LIMIT:
        return IntCol(a.v * b.v, ub=ub, nn=nn)
    return IntCol(a.v.astype(object) * b.v.astype(object), ub=ub, nn=nn)


def scale_col(a: IntCol, k: int) -> IntCol:
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
    def of(cls, col: IntCol, den: int = 1) -> Lin:
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
            self.small() is not None and self.small().minv() >= 0
        )

    def scaled(self, p: int, q: int) -> Lin:
        """This times p/q (q > 0)."""
        terms = [(c * p, col) for c, col in self.terms]
        den = self.den * q
        g = reduce(math.gcd, [c for c, _ in terms], den)
        if g > 1:
            terms = [(c // g, col) for c, col in terms]
            den //= g
        return Lin(terms, den)

    def collapsed(self) -> Lin:
        """One int64 term when the numerators fit: keeps later products small."""
        if len(self.terms) == 1 and self.terms[0][1] is not None:
            return self
        s = self.small()
        return Lin(((1, s),), self.den) if s is not None else self


def lin_add(a: Lin, b: Lin, sign: int = 1) -> Lin:
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


def lin_mul(a: Lin, b: Lin) -> Lin | None:
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
                col = mul_cols(xa, xb)
            terms.append((ca * cb, col))
    return Lin(terms, a.den * b.den).collapsed()


# ---- column values -----------------------------------------------------------------------


class Num:
    """A numeric column: exact (lin) or float64 with a bound (f, r, a) and an exact recompute per row.

    Without a lin, `bits` bounds the size of the exact values: (numerator bits, denominator bits)
    at most, for every row (see size_bits); None when unknown.
    """

    __slots__ = ("rid", "lin", "_f", "r", "a", "_rows", "_nonneg", "isint", "_M", "bits")

    def __init__(self, rid=None, lin: Lin | None = None, f=None, r=0.0, a=0.0, rows=None, nonneg=None, isint=False, bits=None):
        self.rid = rid
        self.lin = lin
        self._f = f
        self.r = r
        self.a = a
        self._rows = rows
        self._nonneg = nonneg
        self.isint = isint
        self._M = None
        self.bits = bits

    @property
    def nonneg(self) -> bool:
        if self._nonneg is None:
            self._nonneg = self.lin.nonneg() if self.lin is not None else bool((self.f() >= 0).all())
        return self._nonneg

    def f(self):
        """The float64 view (values of undefined rows are meaningless but finite or caught)."""
        if self._f is None:
            self._f, self.r, self.a = float_view(self.lin)
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


def float_view(lin: Lin):
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
        return f, up(r * U * (1 + 4 * U)), 0.0
    f = None
    scale = 0.0
    k = len(lin.terms)
    nonneg = True
    for c, col in lin.terms:
        try:
            cf = c / den
        except OverflowError:
            return nan_view(lin)
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
        return nan_view(lin)
    rel = (k + 3) * U * (1 + 8 * U)
    if nonneg:
        return f, up(rel * (1 + 2 * U)), TINY * k
    return f, 0.0, up(rel * scale)


def nan_view(lin: Lin):
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


def is_col(v) -> bool:
    return type(v) in COLUMN_TYPES


def is_number(v) -> bool:
    return (type(v) is Fraction) or (type(v) is int)


def isint_of(v) -> bool:
    return type(v) is int or (type(v) is Num and v.isint)


def nonneg_of(v) -> bool:
    if is_number(v):
        return v >= 0
    return v.nonneg


def lin_of(v) -> Lin | None:
    if type(v) is Num:
        return v.lin
    q = Fraction(v)
    return Lin(((q.numerator, None),), q.denominator)


def fview(v):
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


def max_abs(v) -> float:
    """max |f| (over every row, undefined ones included: a safe over-estimate)."""
    if type(v) is Num:
        return v.M()
    try:
        return abs(float(v))
    except OverflowError:
        return math.inf


def err_of(v):
    if type(v) is Num:
        return v.err()
    fv, r, a, _ = fview(v)
    return abs(fv) * r + a


def size_bits(v):
    """(numerator bits, denominator bits): bounds on the size of every row's exact value (as a fraction, reduced or
    not), or None when unknown. The size check (values.too_large) needs the exact values only past these bounds."""
    if type(v) is Num:
        if v.lin is not None:
            return v.lin.bound().bit_length(), v.lin.den.bit_length()
        return v.bits
    if type(v) is int or type(v) is Fraction:
        return abs(v.numerator).bit_length(), v.denominator.bit_length()
    return None


def bits_after(op: str, a, b):
    """size_bits of a + b or a - b ("+"), a * b, a / b, or of a choice between a and b ("|")."""
    x, y = size_bits(a), size_bits(b)
    if x is None or y is None:
        return None
    (na, da), (nb, db) = x, y
    if op == "+":
        return max(na + db, nb + da) + 1, da + db
    if op == "*":
        return na + nb, da + db
    if op == "/":
        return na + db, da + nb
    return max(na, nb), max(da, db)


def exact_fn(v):
    if type(v) is Num:
        return v.exact_rows
    return lambda idx: [v] * len(idx)


def scaled_pair(a, b, with_den=False):
    """Both values as int64 numerators over one denominator, when they are exact and fit; else Nones."""
    pa = small_of(a)
    pb = small_of(b) if pa is not None else None
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


def small_of(v):
    if type(v) is Num:
        if v.lin is None:
            return None
        s = v.lin.small()
        if s is None:
            return None
        return s.v, v.lin.den, s.maxabs()
    q = Fraction(v)
    return q.numerator, q.denominator, abs(q.numerator)


CMP = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def int_round(P, Q: int, mode: str):
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


def float_round_proved(x: Num, s: Fraction, mode: str):
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
    k1 = up((r + U + us) * (1 + 4 * U) + (U if half else 0.0) + 2 * U)
    k2 = up(a * inv * (1 + us) * (1 + 4 * U) + (0.5 * U if half else 0.0) + 2 * U + TINY)
    nonneg = x.nonneg
    qmax = magnitude(x) * inv * (1 + 4 * U)
    if qmax * k1 + k2 < 1e-6:
        # One bound for every row (the largest |q|'s): fewer passes, hardly more rows to recompute.
        return float_round_scalar_bound(f, sf, mode, nonneg, up(qmax * k1 + k2))
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


def float_round_scalar_bound(f, sf: float, mode: str, nonneg: bool, B: float):
    """As float_round_proved, with one bound B on |t - T| for every row."""
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


def magnitude(x: Num) -> float:
    """An upper bound of max |f| without a pass when the value is a Lin; else max |f|."""
    if x.lin is not None:
        den = x.lin.den
        try:
            return float(sum(abs(c) * (col.bound() if col is not None else 1) for c, col in x.lin.terms) / den) * (1 + 4 * U)
        except OverflowError:
            return math.inf
    return x.M()


def first_seen(choice) -> list[int]:
    """The branch indices present in choice (>= 0), in order of first occurrence, as the reference evaluates them.

    The order matters where names need each other in the same year (x[year + 0], which the
    checker cannot see): the one asked for first computes, the other sees "depends on itself".
    """
    if not len(choice):
        return []
    counts = np.bincount(choice + 1)
    present = [j - 1 for j in np.flatnonzero(counts).tolist() if j > 0]
    if len(present) > 1:
        present.sort(key=lambda j: int(np.argmax(choice == j)))
    return present


def band_unit(t: ast.Table) -> str:
    return "percent" if t.bands and t.bands[0].lo.unit == "percent" else "ratio"


def defined_mask(rid, n):
    return np.ones(n, dtype=bool) if rid is None else (rid < 0)
