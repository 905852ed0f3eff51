"""The columnar evaluator: a resolved version over ColumnData -> exact values for all municipalities at once.

Each rule item is compiled once into Python closures over whole columns (engine/columnar/ops.py
does the arithmetic); a (name, year, overrides) is computed once and memoised by the resolver
shared with the reference evaluator (engine/resolve.py), so the two agree on everything but
the representation of values: here a prefecture value is a scalar of engine/values.py and a
municipal value a column of engine/columnar/columns.py. `value` gives the reference's form.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import ast
from ..ast import ROUNDING_MODES
from ..data import Dataset
from ..evaluate import band_unit, with_override
from ..resolve import Resolver, Sharing
from ..values import MAX_VALUE_BITS, TooManyDigits, Undefined, as_year, is_undef, same
from ..values import format_value as show_value
from ..versions import Version
from ..years import FiscalYear
from .columns import BoolCol, IntCol, Lin, Num, ObjCol, Reasons, first_rid, first_seen, is_col, is_number, scaled_pair
from .data import ColumnData
from .ops import ColumnOps


class ColumnEvaluator(Resolver):
    """Evaluates one version over one ColumnData, column-wise and exactly; `value` matches the reference's.

    share: a resolve.Sharing with another ColumnEvaluator over the same data (see
    `sharing_with` and `for_scenario`); the two then use one table of undefined reasons.
    """

    def __init__(self, version: Version, data: ColumnData, *, share: Sharing | None = None):
        if isinstance(data, Dataset):  # the reference loader's (or an example's) data: made columns
            data = ColumnData.from_dataset(data, version.inputs())
        if share is not None and share.other.data is not data:
            share = None
        super().__init__(version, data.years, data.n, share=share)
        self.data = data
        self.reasons = share.other.reasons if share is not None else Reasons(data.municipalities)
        self.ops = ColumnOps(data.municipalities, self.reasons)
        self._py_cache: dict = {}
        self._compiled: dict = {}
        self._band_arrays: dict = {}
        self._python_overrides: dict = {}

    @classmethod
    def sharing_with(cls, other: ColumnEvaluator, version: Version) -> ColumnEvaluator:
        """An evaluator of another version over other's data that takes what both compute alike from other (a diff's B)."""
        return cls(version, other.data, share=Sharing.between_versions(other, version))

    @classmethod
    def for_scenario(cls, parent: ColumnEvaluator, version: Version, changed) -> ColumnEvaluator:
        """A variation of parent's version (changed: the names whose items differ), reusing parent's other values."""
        return cls(version, parent.data, share=Sharing.for_scenario(parent, changed))

    # ---- values in the reference's form ----
    def value(self, name: str, year: int, overrides: tuple = ()):
        """The value of a name in a fiscal year as the reference gives it: a tuple per municipality or one value.

        overrides may hold values in either form (the reference's tuples, or columns).
        """
        key = (name, year, overrides)
        hit = self._py_cache.get(key)
        if hit is None:
            hit = self._py_cache[key] = self.ops.to_python(self.fast(name, year, self._columnar(overrides)))
        return hit

    def column(self, name: str, year: int, overrides: tuple = ()) -> tuple:
        v = self.value(name, year, overrides)
        return v if isinstance(v, tuple) else (v,) * self.n

    def eval(self, e, year: int, ov: tuple = ()):
        """An expression's value in the reference's form (Evaluator.eval), outside any definition."""
        return self.ops.to_python(self.run(e, "a formula", year, self._columnar(ov)))

    def band_choices(self, table: str, year: int, overrides: tuple = ()):
        """The band each municipality fell in, as the reference records it (tuple of index or None), or None."""
        arr = self.band_choice_array(table, year, self._columnar(overrides))
        return None if arr is None else tuple(None if c < 0 else c for c in arr.tolist())

    def to_python(self, v):
        return self.ops.to_python(v)

    def _columnar(self, ov: tuple) -> tuple:
        """Overrides with any reference-form tuple made a column (the same column for the same tuple)."""
        if not any(type(v) is tuple for _, v in ov):
            return ov
        hit = self._python_overrides.get(ov)
        if hit is None:
            hit = self._python_overrides[ov] = tuple((n, self.ops.wrap(v) if type(v) is tuple else v) for n, v in ov)
        return hit

    # ---- values in column form ----
    def fast(self, name: str, year: int, overrides: tuple = ()):
        """The value: a scalar for a prefecture value, a column (Num, BoolCol, ObjCol) for a municipal one."""
        return self.resolved(name, year, overrides)

    def band_choice_array(self, table: str, year: int, overrides: tuple = ()):
        """The band index per municipality (-1: none; one entry for a prefecture key), or None if not computed."""
        key = (table, year, overrides)
        hit = self._band_arrays.get(key)
        if hit is None and self.taken(key):
            return self.share.other.band_choice_array(table, year, overrides)  # the value was taken from there
        return hit

    def total(self, name: str, year: int):
        """The sum over municipalities (the summary's `total`): exact, or the first municipality's Undefined."""
        return self.ops.aggregate("sum", self.fast(name, year))

    def differs(self, a, b):
        """Per municipality: are two values not values.same (defined vs undefined, or in value; True is not 1)?"""
        ops = self.ops
        n = self.n
        ra = a.rid if is_col(a) else ops.scalar_rid(a)
        rb = b.rid if is_col(b) else ops.scalar_rid(b)
        da = np.ones(n, dtype=bool) if ra is None else (ra < 0)
        db = np.ones(n, dtype=bool) if rb is None else (rb < 0)
        ne = None
        if (type(a) is Num or is_number(a)) and (type(b) is Num or is_number(b)) and not (isinstance(a, bool) or isinstance(b, bool)):
            ia, ib = scaled_pair(a, b)
            if ia is not None:
                ne = np.asarray(ia != ib)
                if ne.ndim == 0:
                    ne = np.full(n, bool(ne))
            else:  # float bounds decide where they can; rows too close to call are compared exactly
                ne = ops.cmp_arrays("!=", a, b, da & db)
        elif type(a) is BoolCol and type(b) is BoolCol:
            ne = a.b != b.b
        if ne is None:
            pa, pb = ops.to_python(a), ops.to_python(b)
            pa = pa if isinstance(pa, tuple) else (pa,) * n
            pb = pb if isinstance(pb, tuple) else (pb,) * n
            ne = np.array([not is_undef(x) and not is_undef(y) and not same(x, y) for x, y in zip(pa, pb)], dtype=bool)
        return (da != db) | (da & db & ne)

    def difference(self, a, b) -> list | None:
        """Per municipality a - b exactly (None where either is undefined or not a number)."""
        ops = self.ops
        n = self.n
        if type(a) is Num and type(b) is Num:
            ia, ib, den = scaled_pair(a, b, with_den=True)
            if ia is not None:
                d = (ia - ib).tolist()
                vals = d if den == 1 else [Fraction(x, den) for x in d]
                rid = first_rid(a.rid, b.rid)
                if rid is not None:
                    vals = [None if r >= 0 else x for x, r in zip(vals, rid.tolist())]
                return vals
        pa, pb = ops.to_python(a), ops.to_python(b)
        pa = pa if isinstance(pa, tuple) else (pa,) * n
        pb = pb if isinstance(pb, tuple) else (pb,) * n
        out = []
        for x, y in zip(pa, pb):
            if is_undef(x) or is_undef(y) or not is_number(x) or not is_number(y) or isinstance(x, bool) or isinstance(y, bool):
                out.append(None)
            else:
                out.append(x - y)
        return out

    def forget(self, keep=()) -> None:
        """Drop memoised values of years not in keep (memory); they are recomputed if asked again."""
        keep = set(keep)
        for cache in (self._cache, self._py_cache):
            for k in [k for k in cache if k[1] not in keep]:
                del cache[k]

    # ---- hooks of the resolver ----
    def has_undefined(self, value) -> bool:
        if is_col(value):
            return value.rid is not None and bool((value.rid >= 0).any())
        return type(value) is Undefined

    def check_size(self, value) -> None:
        """A Lin's coefficients, denominator and Python-int columns; a float view's exact values where their size
        bound (Num.bits) does not rule out a value too large, as the reference checks every value."""
        if type(value) is Num and value.lin is not None:
            lin = value.lin
            if lin.den.bit_length() > MAX_VALUE_BITS or any(abs(c).bit_length() > MAX_VALUE_BITS for c, _ in lin.terms):
                raise TooManyDigits
            for _, col in lin.terms:
                if col is not None and not col.is64 and col.maxabs().bit_length() > MAX_VALUE_BITS:
                    raise TooManyDigits
        elif type(value) is Num:
            if value.bits is None or max(value.bits) > MAX_VALUE_BITS:
                from ..values import check_size

                check_size(tuple(value.exact_rows(np.arange(self.n) if value.rid is None else np.flatnonzero(value.rid < 0))))
        elif not is_col(value):
            from ..values import check_size

            check_size(value)

    def formula(self, e, name: str, year: int, ov: tuple):
        return self.run(e, name, year, ov)

    def key_column(self, name: str):
        if name == "fiscal_year":
            return Undefined("use 'year'")
        arr = np.empty(self.n, dtype=object)
        arr[:] = [m.code if name == "code" else m.name for m in self.data.municipalities]
        return ObjCol(arr)

    def input(self, decl: ast.InputDecl, year: int):
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
    def run(self, expr, owner: str, year: int, ov: tuple):
        """An expression of the item `owner` (whose name division reasons give), compiled once."""
        fn = self._compiled.get((id(expr), owner))
        if fn is None:
            fn = self._compiled[(id(expr), owner)] = self._compile(expr, owner)
        return fn(year, ov)

    def _compile(self, e, owner: str):
        t = type(e)
        if t is ast.Number or t is ast.Text or t is ast.Bool or t is ast.YearLiteral:
            value = e.value
            return lambda year, ov: value
        if t is ast.ThisYear:  # a plain int, as values are (a FiscalYear is not a scalar to the column operations)
            return lambda year, ov: int(year)
        if t is ast.Ref:
            name = e.name
            fast = self.fast
            return lambda year, ov: fast(name, year, ov)
        if t is ast.AtYear:
            return self._c_at_year(e, owner)
        if t is ast.Unary:
            inner = self._compile(e.operand, owner)
            if e.op == "not":
                return lambda year, ov: self.ops.not_(inner(year, ov))
            return lambda year, ov: self.ops.neg(inner(year, ov))
        if t is ast.Binary:
            return self._c_binary(e, owner)
        if t is ast.If:
            return self._c_if(e, owner)
        if t is ast.With:
            body = self._compile(e.body, owner)
            val = self._compile(e.value, owner)
            name = e.name

            def run_with(year, ov):
                return body(year, with_override(ov, name, val(year, ov)))

            return run_with
        if t is ast.Call:
            return self._c_call(e, owner)
        raise TypeError(f"no column form for {t.__name__}")  # pragma: no cover - the parser makes no other node

    def _c_at_year(self, e, owner):
        idx_fn = self._compile(e.year, owner)
        name = e.target.name

        def run(year, ov):
            idx = idx_fn(year, ov)
            if not is_col(idx):
                if is_undef(idx):
                    return idx
                return self.fast(name, as_year(idx), ov)
            # A year that differs by municipality: evaluate each distinct year once.
            py = self.ops.to_python(idx)
            years = []
            choice = np.full(self.n, -1, dtype=np.int64)
            rid = np.full(self.n, -1, dtype=np.int32)
            for i, y in enumerate(py):
                if is_undef(y):
                    rid[i] = idx.rid[i]
                    continue
                y = as_year(y)
                if y not in years:
                    years.append(y)
                choice[i] = years.index(y)
            values = {j: self.fast(name, y, ov) for j, y in enumerate(years)}
            return self.ops.select(choice, rid, values)

        return run

    def _c_binary(self, e, owner):
        left = self._compile(e.left, owner)
        right = self._compile(e.right, owner)
        op = e.op
        if op in ("and", "or"):
            return lambda year, ov: self.ops.logic(op, left(year, ov), right(year, ov))
        if op == "/":
            return lambda year, ov: self.ops.divide(left(year, ov), right(year, ov), owner, year)
        if op in ("+", "-"):
            return lambda year, ov: self.ops.add(op, left(year, ov), right(year, ov))
        if op == "*":
            return lambda year, ov: self.ops.mul(left(year, ov), right(year, ov))
        return lambda year, ov: self.ops.compare(op, left(year, ov), right(year, ov))

    def _c_if(self, e, owner):
        conds = [self._compile(c, owner) for c, _ in e.branches]
        values = [self._compile(v, owner) for _, v in e.branches] + [self._compile(e.otherwise, owner)]

        def run(year, ov):
            cvals = [c(year, ov) for c in conds]
            if not any(is_col(c) for c in cvals):
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
                if not is_col(cv):
                    if is_undef(cv):
                        choice[open_] = -1
                        rid[open_] = self.reasons.plain(cv.reason)
                    elif cv:
                        choice[open_] = j
                    continue
                truth, crid = self.ops.truth(cv)
                if crid is not None:
                    und = open_ & (crid >= 0)
                    choice[und] = -1
                    rid[und] = crid[und]
                    open_ = open_ & ~und
                choice[open_ & truth] = j
            choice[choice == -2] = len(conds)
            used = first_seen(choice)
            branch = {j: values[j](year, ov) for j in used}
            return self.ops.select(choice, rid, branch)

        return run

    def _c_call(self, e, owner):
        f = e.function
        if f == "defined":
            arg = self._compile(e.args[0], owner)

            def run_defined(year, ov):
                x = arg(year, ov)
                if not is_col(x):
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
            return lambda year, ov: self.ops.aggregate(f, arg(year, ov))
        args = [self._compile(a, owner) for a in (e.args[:2] if f == "round" else e.args)]
        if f in ("min", "max"):

            def run_minmax(year, ov):
                vals = [a(year, ov) for a in args]
                out = vals[0]
                for v in vals[1:]:
                    out = self.ops.minmax(f, out, v)
                return out

            return run_minmax
        if f == "abs":
            return lambda year, ov: self.ops.abs_(args[0](year, ov))
        mode = ROUNDING_MODES[e.args[2].name] if f == "round" else f
        return lambda year, ov: self.ops.round(args[0](year, ov), args[1](year, ov), mode)

    def table(self, t: ast.Table, year: int, ov: tuple):
        owner = t.name
        keys = self.run(t.key, owner, year, ov)
        if not is_col(keys):
            if is_undef(keys):
                self._band_arrays[(t.name, year, ov)] = np.array([-1])
                return keys
            idx = next((i for i, b in enumerate(t.bands) if b.contains(keys)), None)
            self._band_arrays[(t.name, year, ov)] = np.array([-1 if idx is None else idx])
            if idx is None:
                return Undefined(f"{show_value(keys, band_unit(t))} falls in no band of {t.name} in {FiscalYear(year).both}")
            return self.run(t.bands[idx].result, owner, year, ov)
        n = self.n
        nk = self.ops.num_view(keys)
        rid = np.full(n, -1, dtype=np.int32) if keys.rid is None else keys.rid.copy()
        defined = rid < 0
        choice = np.full(n, -1, dtype=np.int64)
        if nk is None:
            py = self.ops.to_python(keys)
            for i, k in enumerate(py):
                if not is_undef(k):
                    idx = next((j for j, b in enumerate(t.bands) if b.contains(k)), None)
                    choice[i] = -1 if idx is None else idx
        else:
            open_ = defined.copy()
            for j, b in enumerate(t.bands):
                if not open_.any():
                    break
                above = self.ops.cmp_arrays(">=" if b.lo_closed else ">", nk, b.lo.value, open_)
                below = self.ops.cmp_arrays("<=" if b.hi_closed else "<", nk, b.hi.value, open_ & above)
                take = open_ & above & below
                choice[take] = j
                open_ &= ~take
        self._band_arrays[(t.name, year, ov)] = choice
        no_band = np.flatnonzero(defined & (choice < 0))
        if len(no_band):
            fy = FiscalYear(year).both
            kv = keys.exact_rows(no_band) if type(keys) is Num else [self.ops.to_python(keys)[i] for i in no_band]
            for i, k in zip(no_band.tolist(), kv):
                rid[i] = self.reasons.plain(
                    f"{show_value(k, band_unit(t))} falls in no band of {t.name} for {self.data.municipalities[i]} in {fy}"
                )
        used = first_seen(choice)
        results = {j: self.run(t.bands[j].result, owner, year, ov) for j in used}
        return self.ops.select(choice, rid, results)


def evaluate_columns(ev: ColumnEvaluator, years, columns, *, release: bool = True) -> dict:
    """{(name, year): column value} for every column and year, releasing each year's intermediates."""
    out = {}
    for y in years:
        for c in columns:
            out[(c, y)] = ev.fast(c, y)
        if release:
            ev.forget(keep=())
    return out
