"""The reference evaluator: a resolved version over a Dataset, one Python value per municipality.

It is the per-row statement of the semantics: explain walks it to show one figure's
derivation, the columnar core (engine/columnar) falls back to it for rows too close to a
rounding or comparison boundary, and the tests hold the core to it (tests/test_conformance.py).
A municipal value is a tuple with one entry per municipality, a prefecture value a single
entry; entries are values of engine/values.py (Fraction, bool, str, int year, Undefined).
Name resolution (overrides, memo, cycles, limits, sharing) is engine/resolve.py's, common to both.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from . import ast
from .ast import ROUNDING_MODES
from .data import Dataset
from .resolve import Resolver, Sharing
from .values import (
    BINARY,
    MAX_YEAR_DEPTH,
    Undefined,
    as_year,
    check_size,
    exact_sum,
    format_value,
    has_undefined,
    is_undef,
    map1,
    map2,
    round_to,
)
from .versions import Version
from .years import FiscalYear

__all__ = ["Evaluator", "Undefined", "is_undef", "MAX_YEAR_DEPTH", "Choice"]


def _spaced(name: str) -> str:
    return name.replace("_", " ")


@attrs.frozen
class Choice:
    """Which band of a table a municipality fell in (None: no band), for explain and diff."""

    band: int | None


class Evaluator(Resolver):
    """Evaluates one version over one dataset; results are memoised per (name, year, overrides).

    `donor` is an evaluator of another version over the same data (a diff's A, when this is
    B): a value whose rule, and every rule below it, is the same in both versions (as a base
    item inherited through `extends` is) is taken from the donor instead of being computed
    twice. A value with anything undefined in it is always computed here, as its reason may
    name this version.
    """

    def __init__(self, version: Version, data: Dataset, *, donor: Evaluator | None = None):
        share = Sharing.between_versions(donor, version) if donor is not None and donor.data is data else None
        super().__init__(version, data.years, len(data.municipalities), share=share)
        self.data = data
        self._band_choices: dict = {}  # (table, year, overrides) -> tuple of band index or None

    # ---- public ----
    def value(self, name: str, year: int, overrides: tuple = ()):
        """The value of a name in a fiscal year: a tuple per municipality, or one prefecture value."""
        return self.resolved(name, year, overrides)

    def column(self, name: str, year: int, overrides: tuple = ()) -> tuple:
        """The value of a name for every municipality (a prefecture value repeated)."""
        v = self.value(name, year, overrides)
        return v if isinstance(v, tuple) else (v,) * self.n

    def band_choices(self, table: str, year: int, overrides: tuple = ()):
        """The band each municipality fell in (a tuple of index or None; one entry for a prefecture key), or None if not computed."""
        key = (table, year, overrides)
        hit = self._band_choices.get(key)
        if hit is None and self.taken(key):
            return self.share.other.band_choices(table, year, overrides)  # the value was taken from there
        return hit

    # ---- hooks of the resolver ----
    def has_undefined(self, value) -> bool:
        return has_undefined(value)

    def check_size(self, value) -> None:
        check_size(value)

    def formula(self, e, name: str, year: int, ov: tuple):
        return self.eval(e, year, ov)

    def key_column(self, name: str):
        ms = self.data.municipalities
        return tuple(m.code if name == "code" else m.name for m in ms) if name != "fiscal_year" else Undefined("use 'year'")

    def input(self, decl: ast.InputDecl, year: int):
        fy = FiscalYear(year)
        if decl.scope == "prefecture":
            v = self.data.prefecture.get(decl.name, {}).get(year)
            return Undefined(f"no {fy} {_spaced(decl.name)} in the prefecture data") if v is None else v
        col = self.data.municipal.get(decl.name, {}).get(year)
        ms = self.data.municipalities
        if col is None:
            return tuple(Undefined(f"no {fy} {_spaced(decl.name)} for {m}") for m in ms)
        if all(v is not None for v in col):
            return col
        return tuple(Undefined(f"no {fy} {_spaced(decl.name)} for {m}") if v is None else v for v, m in zip(col, ms))

    def table(self, t: ast.Table, year: int, ov: tuple):
        keys = self.eval(t.key, year, ov)
        scalar = not isinstance(keys, tuple)
        keys_col = (keys,) if scalar else keys
        choice = []
        for k in keys_col:
            if is_undef(k):
                choice.append(None)
                continue
            idx = next((i for i, b in enumerate(t.bands) if b.contains(k)), None)
            choice.append(idx)
        self._band_choices[(t.name, year, ov)] = tuple(choice)
        if scalar and not is_undef(keys) and choice[0] is not None:
            return self.eval(t.bands[choice[0]].result, year, ov)  # one band for all; its result may be municipal
        results: dict[int, object] = {}
        out = []
        for i, (k, idx) in enumerate(zip(keys_col, choice)):
            if is_undef(k):
                out.append(k)
            elif idx is None:
                where = "" if scalar else f" for {self.data.municipalities[i]}"
                out.append(Undefined(f"{format_value(k, band_unit(t))} falls in no band of {t.name}{where} in {FiscalYear(year).both}"))
            else:
                if idx not in results:
                    results[idx] = self.eval(t.bands[idx].result, year, ov)
                r = results[idx]
                out.append(r[i] if isinstance(r, tuple) else r)
        return out[0] if scalar else tuple(out)

    # ---- expressions ----
    def eval(self, e, year: int, ov: tuple = ()):
        """An expression's value in a year under overrides (outside a definition, too)."""
        method = getattr(self, "_e_" + type(e).__name__)
        return method(e, year, ov)

    def _e_Number(self, e, year, ov):
        return e.value

    def _e_Text(self, e, year, ov):
        return e.value

    def _e_Bool(self, e, year, ov):
        return e.value

    def _e_YearLiteral(self, e, year, ov):
        return e.value

    def _e_ThisYear(self, e, year, ov):
        return int(year)  # a value is a plain int year (values.py), also when the caller's year is a FiscalYear

    def _e_Ref(self, e, year, ov):
        return self.value(e.name, year, ov)

    def _e_AtYear(self, e, year, ov):
        idx = self.eval(e.year, year, ov)
        name = e.target.name
        if not isinstance(idx, tuple):
            if is_undef(idx):
                return idx
            return self.value(name, as_year(idx), ov)
        # A year that differs by municipality: evaluate each distinct year once.
        by_year = {}
        out = []
        for i, y in enumerate(idx):
            if is_undef(y):
                out.append(y)
                continue
            y = as_year(y)
            if y not in by_year:
                by_year[y] = self.value(name, y, ov)
            v = by_year[y]
            out.append(v[i] if isinstance(v, tuple) else v)
        return tuple(out)

    def _e_Unary(self, e, year, ov):
        x = self.eval(e.operand, year, ov)
        if e.op == "not":
            return map1(lambda a: not a, x)
        return map1(lambda a: -a, x)

    def _e_Binary(self, e, year, ov):
        op = e.op
        a = self.eval(e.left, year, ov)
        b = self.eval(e.right, year, ov)
        if op == "and":  # the left side decides where it is false, so an undefined right side does not matter
            return map2(lambda x, y: x and y, a, b, short=lambda x: x is False)
        if op == "or":
            return map2(lambda x, y: x or y, a, b, short=lambda x: x is True)
        if op == "/":
            return self._divide(a, b, year)
        return map2(BINARY[op], a, b)

    def _divide(self, a, b, year):
        def div(x, y, i=None):
            if y == 0:
                return Undefined(self._where(f"division by zero in {self.computing or 'a formula'}", i, year))
            if type(x) is int and type(y) is int:
                return Fraction(x, y)
            return x / y  # one of them is a Fraction, so the quotient is exact

        if not isinstance(a, tuple) and not isinstance(b, tuple):
            if is_undef(a):
                return a
            if is_undef(b):
                return b
            return div(a, b)
        aa = a if isinstance(a, tuple) else (a,) * self.n
        bb = b if isinstance(b, tuple) else (b,) * self.n
        U = Undefined
        return tuple([x if type(x) is U else y if type(y) is U else div(x, y, i) for i, (x, y) in enumerate(zip(aa, bb))])

    def _where(self, text: str, i, year) -> str:
        who = f" for {self.data.municipalities[i]}" if i is not None else ""
        return f"{text}{who} in {FiscalYear(year).both}"

    def _e_If(self, e, year, ov):
        conds = [self.eval(c, year, ov) for c, _ in e.branches]
        columnar = any(isinstance(c, tuple) for c in conds)
        if not columnar:
            for (c, value), cv in zip(e.branches, conds):  # noqa: B007
                if is_undef(cv):
                    return cv
                if cv:
                    return self.eval(value, year, ov)
            return self.eval(e.otherwise, year, ov)
        values: dict[int, object] = {}

        def branch_value(j):
            if j not in values:
                expr = e.branches[j][1] if j < len(e.branches) else e.otherwise
                values[j] = self.eval(expr, year, ov)
            return values[j]

        out = []
        for i in range(self.n):
            picked = None
            for j, cv in enumerate(conds):
                c = cv[i] if isinstance(cv, tuple) else cv
                if is_undef(c):
                    picked = c
                    break
                if c:
                    picked = j
                    break
            else:
                picked = len(e.branches)
            if is_undef(picked):
                out.append(picked)
            else:
                v = branch_value(picked)
                out.append(v[i] if isinstance(v, tuple) else v)
        return tuple(out)

    def _e_With(self, e, year, ov):
        value = self.eval(e.value, year, ov)
        return self.eval(e.body, year, with_override(ov, e.name, value))

    def _e_Call(self, e, year, ov):
        f = e.function
        if f == "defined":
            x = self.eval(e.args[0], year, ov)
            return map1(lambda a: True, x, undefined=lambda u: False)
        if f == "decimals":
            return Fraction(1, 10 ** int(e.args[0].value))
        if f in ("percent", "ratio"):
            return self.eval(e.args[0], year, ov)
        if f in ("sum", "mean", "count"):
            return self._aggregate(f, e, year, ov)
        args = [self.eval(a, year, ov) for a in (e.args[:2] if f == "round" else e.args)]
        if f in ("min", "max"):
            pick = min if f == "min" else max
            out = args[0]
            for a in args[1:]:
                out = map2(lambda x, y: pick(x, y), out, a)
            return out
        if f == "abs":
            return map1(abs, args[0])
        mode = ROUNDING_MODES[e.args[2].name] if f == "round" else f
        step = args[1]
        return map2(lambda x, s: round_to(x, s, mode), args[0], step)

    def _aggregate(self, f: str, e, year, ov):
        if f == "count" and not e.args:
            return Fraction(self.n)
        x = self.eval(e.args[0], year, ov)
        col = x if isinstance(x, tuple) else (x,) * self.n
        for v in col:
            if is_undef(v):
                return v  # the reason names the municipality
        if f == "count":
            return Fraction(sum(1 for v in col if v))
        total = exact_sum(col)
        if f == "mean":
            if self.n == 0:
                return Undefined("mean over no municipalities")
            return total / self.n
        return total


def with_override(ov: tuple, name: str, value) -> tuple:
    """Overrides with name set to value (replacing an outer one), in name order: one key per set of overrides."""
    new = tuple((n, v) for n, v in ov if n != name) + ((name, value),)
    return tuple(sorted(new, key=lambda p: p[0]))


def band_unit(t: ast.Table) -> str:
    """How a table's keys are written in a reason: as percentages when its bands are."""
    return "percent" if t.bands and t.bands[0].lo.unit == "percent" else "ratio"
