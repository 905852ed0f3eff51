"""Exact operations on column values: arithmetic, comparisons, rounding, sums, choices.

Each operation takes values of engine/columnar/columns.py (or plain scalars, for prefecture
values) and returns one, with the reference evaluator's semantics: the first operand's
undefined entry wins, a division by zero is undefined with its reason, and a decision
(floor, round, compare, band, min, max) taken in float64 only where the error bound proves
it; the rows too close to call are recomputed exactly with Fractions. Anything not
vectorised here is computed by the reference helpers of engine/values.py on the values
materialised per municipality (`generic2`): slower there, never different.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import reduce

import numpy as np

from ..values import BINARY, MAX_VALUE_BITS, Undefined, exact_sum, is_undef, map1, map2, round_to
from ..years import FiscalYear
from .columns import (
    CMP,
    INT_LIMIT,
    SLACK,
    STATS,
    TINY,
    BoolCol,
    IntCol,
    Lin,
    Num,
    ObjCol,
    Reasons,
    U,
    bits_after,
    defined_mask,
    err_of,
    exact_fn,
    first_rid,
    float_round_proved,
    fview,
    int_col,
    int_round,
    int_sum,
    is_col,
    is_number,
    isint_of,
    lin_add,
    lin_mul,
    lin_of,
    max_abs,
    nonneg_of,
    scaled_pair,
    size_bits,
    up,
)


class ColumnOps:
    """The operations over one dataset's n municipalities, with its table of undefined reasons."""

    def __init__(self, municipalities, reasons: Reasons):
        self.municipalities = tuple(municipalities)
        self.n = len(self.municipalities)
        self.reasons = reasons

    def to_python(self, v):
        """A fast value -> the reference's value (tuple of Fraction/bool/str/int/Undefined, or a scalar)."""
        if not is_col(v):
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

    def entry(self, v, i: int):
        """Municipality i's entry of a value in the reference's form (a prefecture value as it is)."""
        if not is_col(v):
            return v
        if v.rid is not None and v.rid[i] >= 0:
            return self.reasons.undefined(int(v.rid[i]), i)
        if type(v) is Num:
            return v.exact_rows(np.array([i]))[0]
        if type(v) is BoolCol:
            return bool(v.b[i])
        return v.o[i]

    def wrap(self, v):
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
        if all(is_number(x) for x in defined):
            den = 1
            for x in defined:
                d = x.denominator
                if den % d:
                    den = den * d // math.gcd(den, d)
                    if den > 10**40:
                        break
            if den <= 10**40:
                nums = [x.numerator * (den // x.denominator) if is_number(x) else 0 for x in v]
                return Num(rid, Lin.of(int_col(nums), den), isint=all(type(x) is int for x in defined))
        arr = np.empty(n, dtype=object)
        arr[:] = [None if type(x) is Undefined else x for x in v]
        return ObjCol(arr, rid)

    def generic2(self, fn, a, b, short=None):
        pa, pb = self.to_python(a), self.to_python(b)
        return self.wrap(map2(fn, pa, pb, short=short))

    # ---- operations ----
    def scalar_rid(self, v):
        if type(v) is Undefined:
            return np.full(self.n, self.reasons.plain(v.reason), dtype=np.int32)
        return None

    def num_view(self, v):
        """A Num (or a numeric scalar) for arithmetic; None when v is neither."""
        if type(v) is Num:
            return v
        if is_number(v):
            return v
        return None

    def add(self, op, a, b):
        if not is_col(a) and not is_col(b):
            return map2(BINARY[op], a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self.undefined_num(a, b)
        na, nb = self.num_view(a), self.num_view(b)
        if na is None or nb is None:
            return self.generic2(BINARY[op], a, b)
        rid = first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = isint_of(na) and isint_of(nb)
        sign = 1 if op == "+" else -1
        la, lb = lin_of(na), lin_of(nb)
        if la is not None and lb is not None:
            return Num(rid, lin_add(la, lb, sign), isint=isint)
        fa, ra, aa, nna = fview(na)
        fb, rb, ab, nnb = fview(nb)
        with np.errstate(all="ignore"):
            f = fa + fb if sign == 1 else fa - fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        if sign == 1 and nna and nnb:
            r = up(max(ra, rb) * (1 + 2 * U) + U)
            aa_ = up(aa + ab)
            nonneg = True
        else:
            r = U
            aa_ = up((ra * max_abs(na) if ra else 0.0) + (rb * max_abs(nb) if rb else 0.0) + aa + ab)
            nonneg = None
        ea, eb = exact_fn(na), exact_fn(nb)
        if sign == 1:
            rows = lambda idx: [x + y for x, y in zip(ea(idx), eb(idx))]
        else:
            rows = lambda idx: [x - y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, aa_, rows, nonneg, isint, bits_after("+", na, nb))

    def mul(self, a, b):
        if not is_col(a) and not is_col(b):
            return map2(BINARY["*"], a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self.undefined_num(a, b)
        na, nb = self.num_view(a), self.num_view(b)
        if na is None or nb is None:
            return self.generic2(BINARY["*"], a, b)
        rid = first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = isint_of(na) and isint_of(nb)
        if is_number(na) or is_number(nb):
            s, col = (na, nb) if is_number(na) else (nb, na)
            s = Fraction(s)
            if col.lin is not None:
                return Num(rid, col.lin.scaled(s.numerator, s.denominator).collapsed(), isint=isint)
        la, lb = lin_of(na), lin_of(nb)
        if la is not None and lb is not None:
            lin = lin_mul(la, lb)
            if lin is not None:
                return Num(rid, lin, isint=isint)
        fa, ra, aa, nna = fview(na)
        fb, rb, ab, nnb = fview(nb)
        with np.errstate(all="ignore"):
            f = fa * fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        r = up((ra + rb + ra * rb) * (1 + 2 * U) + U)
        a_ = 0.0
        if ab:
            a_ += ab * max_abs(na) * (1 + ra)
        if aa:
            a_ += aa * max_abs(nb) * (1 + rb) + aa * ab
        ea, eb = exact_fn(na), exact_fn(nb)
        rows = lambda idx: [x * y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, up(a_), rows, (nna and nnb) or None, isint, bits_after("*", na, nb))

    def divide(self, a, b, owner, year):
        name = owner
        fy = FiscalYear(year).both
        if not is_col(a) and not is_col(b):
            if is_undef(a):
                return a
            if is_undef(b):
                return b
            if b == 0:
                return Undefined(f"division by zero in {name} in {fy}")
            return Fraction(a, b) if type(a) is int and type(b) is int else a / b  # int / int would be a float
        if type(a) is Undefined or type(b) is Undefined:
            return self.undefined_num(a, b)
        na, nb = self.num_view(a), self.num_view(b)
        if na is None or nb is None:
            return self._generic_divide(a, b, name, fy)
        rid = first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        rid_zero = self.reasons.per_municipality(f"division by zero in {name} for ", f" in {fy}")
        if is_number(nb):
            if nb == 0:
                # Every defined row divides by zero.
                zero = np.full(self.n, rid_zero, dtype=np.int32)
                return Num(first_rid(rid, zero), Lin.of(IntCol(np.zeros(self.n, dtype=np.int64), 0, 0)))
            s = Fraction(nb)
            lin = lin_of(na)
            if lin is not None:
                return Num(
                    rid,
                    lin.scaled(s.denominator, s.numerator).collapsed() if s > 0 else lin.scaled(-s.denominator, -s.numerator).collapsed(),
                )
            return self.mul(a, 1 / s)
        # Division by a column: zero divisors become undefined; the quotient is an Approx.
        fb, rb, ab, nnb = fview(nb)
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
        fa, ra, aa, nna = fview(na)
        with np.errstate(all="ignore"):
            f = fa / fb_safe
            mb = float(np.min(np.abs(fb_safe))) if self.n else 1.0
        if not np.isfinite(mb) or mb <= 0:
            mb = 0.0
        rho = rb + (ab / mb if ab else 0.0) if mb > 0 else math.inf
        ea, eb = exact_fn(na), exact_fn(nb)
        rows = lambda idx: [Fraction(x) / y for x, y in zip(ea(idx), eb(idx))]
        if rho >= 0.5:
            r, a_ = 0.0, math.inf
        else:
            r = up((rho + ra) / (1 - rho) * (1 + 2 * U) + U)
            a_ = up(aa / (mb * (1 - rho))) if aa else 0.0
        risky &= ~zero
        if risky.any():
            # Rows whose divisor is too close to zero for the float bound: exact values.
            idx = np.flatnonzero(risky)
            f = np.array(f, dtype=np.float64, copy=True)
            for i, x in zip(idx.tolist(), rows(idx)):
                f[i] = float(x)
            r = max(r, up(U))
        return Num(rid, None, f, r, a_, rows, (nonneg_of(na) and nonneg_of(nb)) or None, bits=bits_after("/", na, nb))

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
        fa, ra, aa, nna = fview(na)
        with np.errstate(all="ignore"):
            f = fa / fb
        if not isinstance(f, np.ndarray):
            f = np.full(self.n, f)
        r = up((rho + ra) / (1 - rho) * (1 + 2 * U) + U)
        a_ = TINY  # the division's own rounding, should it underflow
        if aa:
            a_ += up(aa / (amin * (1 - rho))) if amin > 0 else math.inf
        ea, eb = exact_fn(na), exact_fn(nb)
        rows = lambda idx: [Fraction(x) / y for x, y in zip(ea(idx), eb(idx))]
        return Num(rid, None, f, r, a_, rows, (nonneg_of(na) and nonneg_of(nb)) or None, bits=bits_after("/", na, nb))

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
                out.append(Undefined(f"division by zero in {name} for {self.municipalities[i]} in {fy}"))
            else:
                out.append(Fraction(x) / y)
        return self.wrap(tuple(out))

    def undefined_num(self, a, b):
        """An operation with an undefined prefecture value: every row undefined, first operand's reason first."""
        ra = a.rid if is_col(a) else self.scalar_rid(a)
        rb = b.rid if is_col(b) else self.scalar_rid(b)
        other = a if is_col(a) else b
        if is_col(other) and type(other) is not Num:
            return self.generic2(lambda x, y: x, a, b)
        return Num(first_rid(ra, rb), Lin.of(IntCol(np.zeros(self.n, dtype=np.int64), 0, 0)))

    def neg(self, x):
        if not is_col(x):
            return map1(lambda v: -v, x)
        if type(x) is Num:
            if x.lin is not None:
                return Num(x.rid, x.lin.scaled(-1, 1), isint=x.isint)
            f, r, a = x.f(), x.r, x.a
            ex = x.exact_rows
            return Num(x.rid, None, -f, r, a, lambda idx: [-v for v in ex(idx)], None, x.isint, x.bits)
        return self.wrap(map1(lambda v: -v, self.to_python(x)))

    def not_(self, x):
        if not is_col(x):
            return map1(lambda v: not v, x)
        if type(x) is BoolCol:
            return BoolCol(~x.b, x.rid)
        return self.wrap(map1(lambda v: not v, self.to_python(x)))

    def abs_(self, x):
        if not is_col(x):
            return map1(abs, x)
        if type(x) is Num:
            s = x.lin.small() if x.lin is not None else None
            if s is not None:
                return Num(x.rid, Lin.of(IntCol(np.abs(s.v)), x.lin.den), isint=x.isint)
            f, r, a = x.f(), x.r, x.a
            ex = x.exact_rows
            return Num(x.rid, None, np.abs(f), r, a, lambda idx: [abs(v) for v in ex(idx)], True, x.isint, x.bits)
        return self.wrap(map1(abs, self.to_python(x)))

    def logic(self, op, a, b):
        if not is_col(a) and not is_col(b):
            if op == "and":
                return map2(lambda x, y: x and y, a, b, short=lambda x: x is False)
            return map2(lambda x, y: x or y, a, b, short=lambda x: x is True)
        ba, bb = self.bool_view(a), self.bool_view(b)
        if ba is None or bb is None:
            if op == "and":
                return self.generic2(lambda x, y: x and y, a, b, short=lambda x: x is False)
            return self.generic2(lambda x, y: x or y, a, b, short=lambda x: x is True)
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

    def bool_view(self, v):
        n = self.n
        if type(v) is BoolCol:
            return v.b, v.rid
        if type(v) is bool:
            return np.full(n, v, dtype=bool), None
        if type(v) is Undefined:
            return np.zeros(n, dtype=bool), self.scalar_rid(v)
        return None

    def truth(self, cv):
        """A condition column -> (truth array, rid) with Python's truthiness."""
        if type(cv) is BoolCol:
            return cv.b, cv.rid
        if type(cv) is Num:
            ne = self.cmp_arrays("!=", cv, Fraction(0), defined_mask(cv.rid, self.n))
            return ne, cv.rid
        py = self.to_python(cv)
        return np.array([bool(x) if not is_undef(x) else False for x in py], dtype=bool), cv.rid

    # ---- comparisons ----
    def compare(self, op, a, b):
        fn = BINARY[op]
        if not is_col(a) and not is_col(b):
            return map2(fn, a, b)
        na, nb = self.num_view(a), self.num_view(b)
        rid = first_rid(
            getattr(a, "rid", None) if is_col(a) else self.scalar_rid(a), getattr(b, "rid", None) if is_col(b) else self.scalar_rid(b)
        )
        if type(a) is Undefined or type(b) is Undefined:
            return BoolCol(np.zeros(self.n, dtype=bool), rid)
        if na is not None and nb is not None:
            return BoolCol(self.cmp_arrays(op, na, nb, defined_mask(rid, self.n)), rid)
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
        return self.generic2(fn, a, b)

    def cmp_arrays(self, op, a, b, mask):
        """Exact comparison of two numeric values (Num or scalar) on the rows in mask: a bool array."""
        n = self.n
        ia, ib = scaled_pair(a, b)
        if ia is not None:
            out = CMP[op](ia, ib)
            return out if isinstance(out, np.ndarray) else np.full(n, out)
        fa = fview(a)[0]
        fb = fview(b)[0]
        ea, eb = err_of(a), err_of(b)
        with np.errstate(all="ignore"):
            d = fa - fb
            if not isinstance(d, np.ndarray):
                d = np.full(n, d)
            decided = np.abs(d) * (1 - 4 * U) > (ea + eb) * SLACK + TINY
        out = CMP[op](d, 0.0)
        if not isinstance(out, np.ndarray):
            out = np.full(n, out)
        undecided = np.flatnonzero(~decided & mask)
        STATS["recomputed_rows"] += len(undecided)
        if len(undecided):
            fn = BINARY[op]
            xa, xb = exact_fn(a)(undecided), exact_fn(b)(undecided)
            out = np.array(out, dtype=bool, copy=True)
            for i, x, y in zip(undecided.tolist(), xa, xb):
                out[i] = fn(x, y)
        return out

    def minmax(self, f, a, b):
        pick = min if f == "min" else max
        if not is_col(a) and not is_col(b):
            return map2(lambda x, y: pick(x, y), a, b)
        if type(a) is Undefined or type(b) is Undefined:
            return self.undefined_num(a, b)
        na, nb = self.num_view(a), self.num_view(b)
        if na is None or nb is None:
            return self.generic2(lambda x, y: pick(x, y), a, b)
        rid = first_rid(getattr(a, "rid", None), getattr(b, "rid", None))
        isint = isint_of(na) and isint_of(nb)
        ia, ib, den = scaled_pair(na, nb, with_den=True)
        if ia is not None:
            if not isinstance(ia, np.ndarray):
                ia = np.full(self.n, ia, dtype=np.int64)
            if not isinstance(ib, np.ndarray):
                ib = np.full(self.n, ib, dtype=np.int64)
            v = np.minimum(ia, ib) if f == "min" else np.maximum(ia, ib)
            return Num(rid, Lin.of(IntCol(v), den), isint=isint)
        # a <= b decides min: take a where a <= b (min(x, y) keeps x when equal).
        take_a = self.cmp_arrays("<=" if f == "min" else ">=", na, nb, defined_mask(rid, self.n))
        fa, ra, aa, nna = fview(na)
        fb, rb, ab, nnb = fview(nb)
        f_ = np.where(take_a, fa, fb)
        ea, eb = exact_fn(na), exact_fn(nb)

        def rows(idx):
            xa, xb = ea(idx), eb(idx)
            return [pick(x, y) for x, y in zip(xa, xb)]

        return Num(rid, None, f_, max(ra, rb), max(aa, ab), rows, (nna and nnb) or None, isint, bits_after("|", na, nb))

    # ---- rounding ----
    def round(self, x, step, mode):
        if not is_col(x) and not is_col(step):
            return map2(lambda v, s: round_to(v, s, mode), x, step)
        if type(x) is not Num or not is_number(step) or step <= 0:
            return self.generic2(lambda v, s: round_to(v, s, mode), x, step)
        s = Fraction(step)
        lin = x.lin
        small = lin.small() if lin is not None else None
        if (
            small is not None
            and small.maxabs() * s.denominator * 2 + lin.den * s.numerator < INT_LIMIT
            and lin.den * s.numerator * 2 < INT_LIMIT
        ):
            # q = N * s.den / (den * s.num): integer arithmetic, exact.
            P = small.v * s.denominator if s.denominator != 1 else small.v
            Q = lin.den * s.numerator
            q = int_round(P, Q, mode)
        else:
            q, ok = float_round_proved(x, s, mode)
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
                    return self.generic2(lambda v, st: round_to(v, st, mode), x, step)
        lin_q = Lin.of(IntCol(q), 1)
        if s != 1:
            lin_q = lin_q.scaled(s.numerator, s.denominator)
        return Num(x.rid, lin_q.collapsed(), isint=False)

    # ---- aggregates ----
    def aggregate(self, f, x):
        n = self.n
        if not is_col(x):
            if n == 0:
                return Undefined("mean over no municipalities") if f == "mean" else Fraction(0)
            if is_undef(x):
                return x
            if f == "count":
                return Fraction(n if x else 0)
            total = exact_sum((x,)) * n  # as the reference adds n copies: TooManyDigits past its denominator's limit
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
            truth, _ = self.truth(x)
            return Fraction(int(np.count_nonzero(truth)))
        # The reference's values.exact_sum: TooManyDigits when the common denominator of the terms grows past the
        # limit, even where the total would reduce; over one denominator that fits, the sum of the numerators.
        if type(x) is Num and x.lin is not None and x.lin.den.bit_length() <= MAX_VALUE_BITS:
            total_num = 0
            for c, col in x.lin.terms:
                total_num += c * (int_sum(col) if col is not None else n)
            total = Fraction(total_num, x.lin.den)
        elif type(x) is Num:
            total = exact_sum(x.exact_rows(np.arange(n)))
        else:
            total = exact_sum(self.to_python(x))
        if f == "mean":
            if n == 0:
                return Undefined("mean over no municipalities")
            return total / n
        return total

    # ---- band tables ----
    def select(self, choice, rid, values: dict):
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
            if is_col(v) and v.rid is not None:
                take = (choice == j) & (v.rid >= 0)
                if take.any():
                    rid = np.where(take, v.rid, np.int32(-1) if rid is None else rid).astype(np.int32, copy=False)
            kinds.add("num" if (type(v) is Num or is_number(v)) else "bool" if (type(v) is BoolCol or type(v) is bool) else "obj")
        rid_out = rid if (rid is not None and (rid >= 0).any()) else None
        live = {j: v for j, v in values.items() if type(v) is not Undefined}
        if not live:
            return Num(rid_out, Lin.of(IntCol(np.zeros(n, dtype=np.int64), 0, 0)))
        order = sorted(live)
        pos = {j: k for k, j in enumerate(order)}
        if len(order) > 31:
            return self._select_generic(choice, rid_out, live)
        top = max(values)  # rows choosing an undefined value take any index: their rid says why
        if order == list(range(len(order))) and top < len(order):
            idx = np.where(undef_rows, 0, choice) if any_undef else choice
        else:
            lut = np.zeros(top + 2, dtype=np.int64)
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
            arrays = [np.full(n, lut[0], dtype=np.int64) if isinstance(live[j], str) else lut[live[j].codes] for j, lut in zip(order, luts)]
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
        isint = all(isint_of(live[j]) for j in order)
        # All exact and small: one integer column over a common denominator.
        smalls = []
        for j in order:
            v = live[j]
            if is_number(v):
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
            fv, r, a, nn = fview(live[j])
            fs.append(fv if isinstance(fv, np.ndarray) else np.full(n, fv))
            rs.append(r)
            as_.append(a)
            nonneg = nonneg and nn
        f = np.choose(idx, fs)
        exacts = {j: exact_fn(live[j]) for j in order}

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

        sizes = [size_bits(live[j]) for j in order]
        bits = None if None in sizes else (max(b[0] for b in sizes), max(b[1] for b in sizes))
        return Num(rid_out, None, f, max(rs), max(as_), rows, nonneg or None, isint, bits)

    def _select_generic(self, choice, rid, live):
        n = self.n
        py = {j: self.to_python(v) for j, v in live.items()}
        arr = np.empty(n, dtype=object)
        for i, c in enumerate(choice.tolist()):
            if c in py:
                v = py[c]
                arr[i] = v[i] if isinstance(v, tuple) else v
        wrapped = self.wrap(
            tuple(
                self.reasons.undefined(int(rid[i]), i) if rid is not None and rid[i] >= 0 else (arr[i] if not is_undef(arr[i]) else arr[i])
                for i in range(n)
            )
        )
        return wrapped
