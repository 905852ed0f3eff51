"""Evaluate a resolved version over a Dataset: (name, fiscal year) -> a value for every municipality.

Evaluation is column-wise: an expression is evaluated once per (name, year) over all
municipalities at once, so interpretive overhead is paid per rule, not per row. A value is
a Fraction, bool, str, int year, or Undefined(reason); a municipal value is a tuple with one
entry per municipality, a prefecture value a single entry. Nothing is ever rounded unless a
rule says so, and a value that cannot be computed is Undefined with its reason, never 0.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction

import attrs

from . import ast
from .check import ROUNDING_MODES, KEY_NAMES
from .data import Dataset
from .versions import NotInForce, Version
from .years import FiscalYear

MAX_YEAR_DEPTH = 60  # how far back a chain of [year - 1] references may reach


@attrs.frozen
class Undefined:
    """A value that cannot be computed, and why (shown to staff as is)."""

    reason: str

    def __str__(self) -> str:
        return f"undefined: {self.reason}"


def is_undef(x) -> bool:
    return type(x) is Undefined


def _spaced(name: str) -> str:
    return name.replace("_", " ")


@attrs.frozen
class Choice:
    """Which band of a table a municipality fell in (None: no band), for explain and diff."""

    band: int | None


class Evaluator:
    """Evaluates one version over one dataset; results are memoised per (name, year, overrides).

    `donor` is an evaluator of another version over the same data (a diff's A, when this is
    B): a value whose rule, and every rule below it, is the same in both versions (as a base
    item inherited through `extends` is) is taken from the donor instead of being computed twice. A value with anything undefined in
    it is always computed here, as its reason may name this version.
    """

    def __init__(self, version: Version, data: Dataset, *, donor: "Evaluator | None" = None):
        self.version = version
        self.data = data
        self.n = len(data.municipalities)
        self._donor = donor if donor is not None and donor.data is data else None
        self._unshared: frozenset | None = None
        self._cache: dict = {}
        self._in_progress: set = set()
        self._views: dict = {}
        self.band_choices: dict = {}  # (table, year, overrides) -> tuple of band index or None
        self._stack: list[str] = []
        self._year_lo = (min(data.years) if data.years else 2000) - MAX_YEAR_DEPTH
        self._year_hi = (max(data.years) if data.years else 2000) + MAX_YEAR_DEPTH

    # ---- public ----
    def value(self, name: str, year: int, overrides: tuple = ()):
        """The value of a name in a fiscal year: a tuple per municipality, or one prefecture value."""
        key = (name, year, overrides)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if not self._stack:  # the outermost call: a chain too long for Python's stack becomes our error
            try:
                return self._value(key, name, year, overrides)
            except RecursionError:
                from .errors import RuleCheckError, finding

                raise RuleCheckError(finding("eval-too-deep", f"the rules are nested too deeply to evaluate {name} for {FiscalYear(year).both}: "
                                             "a chain of definitions that use other definitions (or earlier years) is too long", self._span_of(name))) from None
        return self._value(key, name, year, overrides)

    def _span_of(self, name: str):
        item = self.version.items.get(name)
        return getattr(item, "span", ast.NO_SPAN)

    def _value(self, key, name: str, year: int, overrides: tuple):
        if self._donor is not None and name not in self._unshared_names():
            # The donor's inner _value: a chain too deep to evaluate is reported for this
            # version's outermost name, as without a donor.
            shared = self._donor._cache.get(key)
            if shared is None:
                shared = self._donor._value(key, name, year, overrides)
            if not _has_undefined(shared):
                self._cache[key] = shared
                if key in self._donor.band_choices:
                    self.band_choices[key] = self._donor.band_choices[key]
                return shared
        if key in self._in_progress:
            return Undefined(f"{name} depends on itself in {FiscalYear(year).both}")
        self._in_progress.add(key)
        self._stack.append(name)
        try:
            result = self._compute(name, year, overrides)
        finally:
            self._stack.pop()
            self._in_progress.discard(key)
        self._cache[key] = result
        return result

    def _unshared_names(self) -> frozenset:
        if self._unshared is None:
            self._unshared = unshared_names(self._donor.version, self.version)
        return self._unshared

    def column(self, name: str, year: int, overrides: tuple = ()) -> tuple:
        """The value of a name for every municipality (a prefecture value repeated)."""
        v = self.value(name, year, overrides)
        return v if isinstance(v, tuple) else (v,) * self.n

    def at(self, year: int):
        view = self._views.get(year)
        if view is None:
            view = self._views[year] = self.version.at(year)
        return view

    # ---- names ----
    def _compute(self, name: str, year: int, ov: tuple):
        return compute_name(self, name, year, ov)

    def _lookup(self, name: str, year: int):
        return self.at(year).lookup(name)

    def _formula(self, e, name: str, year: int, ov: tuple):
        return self.eval(e, year, ov)

    def _key_column(self, name: str):
        ms = self.data.municipalities
        return tuple(m.code if name == "code" else m.name for m in ms) if name != "fiscal_year" else Undefined("use 'year'")

    def _input(self, decl: ast.InputDecl, year: int):
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

    def _table(self, t: ast.Table, year: int, ov: tuple):
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
        self.band_choices[(t.name, year, ov)] = tuple(choice)
        if scalar and not is_undef(keys) and choice[0] is not None:
            return self.eval(t.bands[choice[0]].result, year, ov)  # one band for all; its result may be municipal
        results: dict[int, object] = {}
        out = []
        for i, (k, idx) in enumerate(zip(keys_col, choice)):
            if is_undef(k):
                out.append(k)
            elif idx is None:
                where = "" if scalar else f" for {self.data.municipalities[i]}"
                out.append(Undefined(f"{_show_value(k, 'percent' if t.bands and t.bands[0].lo.unit == 'percent' else 'ratio')} falls in no band of {t.name}{where} in {FiscalYear(year).both}"))
            else:
                if idx not in results:
                    results[idx] = self.eval(t.bands[idx].result, year, ov)
                r = results[idx]
                out.append(r[i] if isinstance(r, tuple) else r)
        return out[0] if scalar else tuple(out)

    # ---- expressions ----
    def eval(self, e, year: int, ov: tuple):
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
        return year

    def _e_Ref(self, e, year, ov):
        return self.value(e.name, year, ov)

    def _e_AtYear(self, e, year, ov):
        idx = self.eval(e.year, year, ov)
        name = e.target.name
        if not isinstance(idx, tuple):
            if is_undef(idx):
                return idx
            return self.value(name, _as_year(idx), ov)
        # A year that differs by municipality: evaluate each distinct year once.
        by_year = {}
        out = []
        for i, y in enumerate(idx):
            if is_undef(y):
                out.append(y)
                continue
            y = _as_year(y)
            if y not in by_year:
                by_year[y] = self.value(name, y, ov)
            v = by_year[y]
            out.append(v[i] if isinstance(v, tuple) else v)
        return tuple(out)

    def _e_Unary(self, e, year, ov):
        x = self.eval(e.operand, year, ov)
        if e.op == "not":
            return _map1(lambda a: not a, x)
        return _map1(lambda a: -a, x)

    def _e_Binary(self, e, year, ov):
        op = e.op
        a = self.eval(e.left, year, ov)
        if op in ("and", "or"):
            # Short-circuit where the left side decides, so an undefined right side does not matter.
            b = self.eval(e.right, year, ov)
            if op == "and":
                return _map2(lambda x, y: x and y, a, b, short=lambda x: x is False)
            return _map2(lambda x, y: x or y, a, b, short=lambda x: x is True)
        b = self.eval(e.right, year, ov)
        if op == "/":
            return self._divide(a, b, e, year)
        fn = _BINARY[op]
        return _map2(fn, a, b)

    def _divide(self, a, b, e, year):
        def div(x, y, i=None):
            if y == 0:
                return Undefined(self._where(f"division by zero in {self._stack[-1] if self._stack else 'a formula'}", i, year))
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
            for (c, value), cv in zip(e.branches, conds):
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
        new = tuple((n, v) for n, v in ov if n != e.name) + ((e.name, value),)
        return self.eval(e.body, year, tuple(sorted(new, key=lambda p: p[0])))

    def _e_Call(self, e, year, ov):
        f = e.function
        if f == "defined":
            x = self.eval(e.args[0], year, ov)
            return _map1(lambda a: True, x, undefined=lambda u: False)
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
                out = _map2(lambda x, y: pick(x, y), out, a)
            return out
        if f == "abs":
            return _map1(abs, args[0])
        mode = ROUNDING_MODES[e.args[2].name] if f == "round" else f
        step = args[1]
        return _map2(lambda x, s: round_to(x, s, mode), args[0], step)

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
        total = _exact_sum(col)
        if f == "mean":
            if self.n == 0:
                return Undefined("mean over no municipalities")
            return total / self.n
        return total


def compute_name(ev, name: str, year: int, ov: tuple):
    """What a name is in a year, for this module's Evaluator and for fast.py's alike, so that the
    two settle overrides, years out of reach and missing items with the same reasons.

    ev supplies _lookup, _key_column, _input, _formula (an expression of the named item) and
    _table, each in its own representation of values.
    """
    for oname, ovalue in ov:
        if oname == name:
            return ovalue
    if year < ev._year_lo:
        return Undefined(f"{name} would need data before FY{ev._year_lo}")
    if year > ev._year_hi:
        return Undefined(f"{name} would need data after FY{ev._year_hi}")
    if name in KEY_NAMES:
        return ev._key_column(name)
    item = ev._lookup(name, year)
    if item is None:
        return Undefined(f"'{name}' is not defined in version {ev.version.id}")
    if isinstance(item, NotInForce):
        return Undefined(item.reason)
    if isinstance(item, ast.InputDecl):
        return ev._input(item, year)
    if isinstance(item, ast.Definition):
        return ev._formula(item.expr, name, year, ov)
    if isinstance(item, ast.Table):
        return ev._table(item, year, ov)
    if isinstance(item, ast.Schedule):
        for entry in item.entries:
            if year in entry.years:
                return ev._formula(entry.value, name, year, ov)
        return Undefined(f"schedule {item.name} has no value for {FiscalYear(year).both} in version {ev.version.id}")
    return Undefined(f"'{name}' is not a value")


def _exact_sum(col) -> Fraction:
    """sum(col) as a Fraction, over a common denominator: adding Fractions one by one reduces every partial sum."""
    den = 1
    for v in col:
        if type(v) is not int:
            d = v.denominator
            if den % d:
                den = den // math.gcd(den, d) * d
    if den == 1:
        return Fraction(sum(v if type(v) is int else v.numerator for v in col))
    return Fraction(sum(v * den if type(v) is int else v.numerator * (den // v.denominator) for v in col), den)


def _has_undefined(v) -> bool:
    if type(v) is tuple:
        return any(type(x) is Undefined for x in v)
    return type(v) is Undefined


def unshared_names(a: Version, b: Version) -> frozenset:
    """Names whose values may differ between two versions over the same data.

    A name is shared when both versions hold the same history for it (equal pieces in force in
    the same years) and every name its pieces' expressions refer to (at any year) is shared;
    everything else is unshared.
    """
    from .check import earlier_year, item_exprs, refs

    names = set(a.items) | set(b.items)
    deps: dict = {}
    unshared = set()
    for n in names:
        if not a.shares(b, n):
            unshared.add(n)
        else:
            deps[n] = set().union(*(refs(e) for p in b.pieces(n) for e in item_exprs(p.item))) - KEY_NAMES
    unshared |= {n for n, d in deps.items() if d - names}  # refers to a name neither version has
    # Where a name may need itself in the same year (`x[year + 0]` slips past the cycle check),
    # its value depends on which name was asked for first: each version keeps its own order.
    unshared |= _on_same_year_cycle({n: set().union(*(refs(e, skip_year=earlier_year) for p in b.pieces(n) for e in item_exprs(p.item))) & names for n in deps})
    grew = True
    while grew:  # a name that uses an unshared name is unshared
        grew = False
        for n, d in deps.items():
            if n not in unshared and d & unshared:
                unshared.add(n)
                grew = True
    return frozenset(unshared)


def _on_same_year_cycle(graph: dict) -> set:
    """The names from which the graph leads back to themselves."""
    on_cycle = set()
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            n = todo.pop()
            if n == start:
                on_cycle.add(start)
                break
            if n not in seen and n in graph:
                seen.add(n)
                todo.extend(graph[n])
    return on_cycle


def _as_year(v) -> int:
    if isinstance(v, Fraction):
        return int(v)
    return int(v)


def round_to(x: Fraction, step: Fraction, mode: str) -> Fraction:
    """x rounded to a multiple of step with the named mode: floor, ceil, half_up, half_even, down."""
    q = x if step == 1 else Fraction(x) / step
    if mode == "floor":
        n = math.floor(q)
    elif mode == "ceil":
        n = math.ceil(q)
    elif mode == "down":
        n = math.trunc(q)
    elif mode == "half_up":
        # Half away from zero, as the rounding of published figures (四捨五入).
        n = math.floor(abs(q) + Fraction(1, 2)) * (1 if q >= 0 else -1)
    elif mode == "half_even":
        n = round(q)
    else:  # pragma: no cover - the checker allows only the modes above
        raise ValueError(mode)
    return n * step


def _map1(fn, x, undefined=None):
    if isinstance(x, tuple):
        if undefined is None:
            return tuple(v if is_undef(v) else fn(v) for v in x)
        return tuple(undefined(v) if is_undef(v) else fn(v) for v in x)
    if is_undef(x):
        return x if undefined is None else undefined(x)
    return fn(x)


def _map2(fn, a, b, short=None):
    if not isinstance(a, tuple) and not isinstance(b, tuple):
        if short is not None and not is_undef(a) and short(a):
            return a
        if is_undef(a):
            return a
        if is_undef(b):
            return b
        return fn(a, b)
    n = len(a) if isinstance(a, tuple) else len(b)
    aa = a if isinstance(a, tuple) else (a,) * n
    bb = b if isinstance(b, tuple) else (b,) * n
    if short is None:
        U = Undefined
        return tuple([x if type(x) is U else y if type(y) is U else fn(x, y) for x, y in zip(aa, bb)])
    out = []
    for x, y in zip(aa, bb):
        if short is not None and not is_undef(x) and short(x):
            out.append(x)
        elif is_undef(x):
            out.append(x)
        elif is_undef(y):
            out.append(y)
        else:
            out.append(fn(x, y))
    return tuple(out)


_BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _show_value(v, unit: str) -> str:
    from .render import format_value

    return format_value(v, unit)


# ---- evaluating a version for a list of years --------------------------------------------


@attrs.frozen
class ResultRow:
    year: int
    municipality: object  # data.Municipality
    values: tuple  # aligned with EvalResult.columns


@attrs.frozen
class EvalResult:
    """Every municipality x every year x the chosen definitions, exactly as computed."""

    version: Version
    years: tuple[int, ...]
    columns: tuple[str, ...]
    rows: tuple[ResultRow, ...]
    evaluator: Evaluator

    def unit(self, name: str) -> str:
        item = self.version.items.get(name)
        return getattr(item, "unit", "text")

    def label(self, name: str) -> str:
        item = self.version.items.get(name)
        return getattr(item, "label", None) or name


def default_columns(version: Version) -> tuple[str, ...]:
    """The columns the version's summary lists, or else every definition."""
    summary = version.items.get("summary")
    if summary is not None:
        for line in summary.lines:
            if line.kind == "columns":
                return line.names
    return tuple(n for n, i in version.items.items() if isinstance(i, (ast.Definition, ast.Table)))


def evaluate(version: Version, data: Dataset, years, columns=None, evaluator: Evaluator | None = None) -> EvalResult:
    """Evaluate the chosen definitions for every municipality in every year, in year then code order."""
    from .errors import UsageError, finding

    columns = tuple(columns) if columns else default_columns(version)
    for c in columns:
        item = version.items.get(c)
        if c not in KEY_NAMES and (item is None or isinstance(item, (ast.Summary, ast.Example))):
            import difflib

            close = difflib.get_close_matches(c, [n for n, i in version.items.items() if hasattr(i, "unit")], n=1, cutoff=0.6)
            raise UsageError(finding("unknown-column", f"version {version.id} has no definition '{c}'" + (f"; did you mean '{close[0]}'?" if close else "")))
    ev = evaluator or Evaluator(version, data)
    rows = []
    for y in years:
        cols = [ev.column(c, y) for c in columns]
        for i, m in enumerate(data.municipalities):
            rows.append(ResultRow(y, m, tuple(col[i] for col in cols)))
    return EvalResult(version, tuple(years), columns, tuple(rows), ev)
