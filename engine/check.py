"""Static checks: a resolved version -> findings (unknown names, cycles, units, bands, schedules).

Units are inferred bottom-up. 'number' is a bare literal and fits any numeric unit; percent,
pp and ratio are dimensionless and act as ratios in * and /; yen and count are dimensions.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from . import ast

# The language's vocabulary and traversal live with its nodes (engine/ast.py), UnitError in the error tree
# (engine/errors.py); they are re-exported here for the modules and tests that have always taken them from check.
from .ast import (  # noqa: F401 - re-exported
    AGGREGATES,
    FUNCTIONS,
    KEY_NAMES,
    ROUNDING_MODES,
    another_year,
    children,
    earlier_year,
    item_exprs,
    refs,
    same_year_refs,
)
from .errors import Finding, Hints, UnitError, finding  # noqa: F401 - UnitError re-exported
from .versions import Piece, RuleSet, Version
from .years import FiscalYear, Period

DIMENSIONLESS = {"number", "ratio", "percent", "pp"}
NUMERIC = DIMENSIONLESS | {"yen", "count"}


def unit_name(u: str) -> str:
    return {"number": "a plain number", "pp": "percentage points (pp)"}.get(u, u)


def add_units(op: str, a: str, b: str, span: ast.Span) -> str:
    if a in ("bool", "text") or b in ("bool", "text"):
        raise UnitError(f"cannot {'add' if op == '+' else 'subtract'} {unit_name(a)} and {unit_name(b)}", span)
    if a == "year" and b == "year" and op == "-":
        return "number"
    if a == "year" and b in ("number", "count"):
        return "year"
    if b == "year" and a in ("number", "count") and op == "+":
        return "year"
    if a == "year" or b == "year":
        raise UnitError(f"cannot {'add' if op == '+' else 'subtract'} {unit_name(a)} and {unit_name(b)}", span)
    if a == "number":
        return b
    if b == "number":
        return a
    if a == b:
        return "pp" if (a == "percent" and op == "-") else a
    if {a, b} == {"percent", "pp"} and not (a == "pp" and op == "-"):
        return "percent"
    if {a, b} == {"ratio", "pp"} or {a, b} == {"ratio", "percent"}:
        return "ratio"
    raise UnitError(f"cannot {'add' if op == '+' else 'subtract'} {unit_name(b)} {'to' if op == '+' else 'from'} {unit_name(a)}", span)


def mul_units(op: str, a: str, b: str, span: ast.Span) -> str:
    for u in (a, b):
        if u in ("bool", "text", "year"):
            raise UnitError(
                f"cannot {'multiply' if op == '*' else 'divide'} {unit_name(a)} {'by' if op == '/' else 'and'} {unit_name(b)}", span
            )
    if op == "*":
        if a in DIMENSIONLESS and b in DIMENSIONLESS:
            if a == "number":
                return b
            if b == "number":
                return a
            return "ratio"
        if a in DIMENSIONLESS:
            return b
        if b in DIMENSIONLESS:
            return a
        if {a, b} == {"yen", "count"}:
            return "yen"
        if a == b == "count":
            return "count"
        raise UnitError(f"cannot multiply {unit_name(a)} by {unit_name(b)}", span)
    # division
    if b in DIMENSIONLESS:
        if a in DIMENSIONLESS:
            return a if b == "number" else ("ratio" if a != "number" or b != "number" else "number")
        return a
    if a == b:
        return "ratio"
    if a == "yen" and b == "count":
        return "yen"
    raise UnitError(f"cannot divide {unit_name(a)} by {unit_name(b)}", span)


def unify(a: str, b: str, span: ast.Span, what: str) -> str:
    if a == b:
        return a
    if a == "number" and b in NUMERIC | {"year"}:
        return b
    if b == "number" and a in NUMERIC | {"year"}:
        return a
    if {a, b} == {"ratio", "number"}:
        return "ratio"
    raise UnitError(f"{what} mixes {unit_name(a)} and {unit_name(b)}", span)


def fits(declared: str, inferred: str) -> bool:
    if declared == inferred:
        return True
    if inferred == "number":
        return declared in NUMERIC | {"year"}
    return False


class Checker:
    """Infers the unit and scope of every expression of one version and collects findings."""

    def __init__(self, version: Version, base: Version | None = None):
        self.version = version
        self.base = base
        self.items = version.items
        self.findings: list[Finding] = []
        self._seen: set[Finding] = set()
        self._municipal: set[str] | None = None  # names with a value per municipality (is_municipal)
        self._refs: dict[int, set[str]] = {}  # id of a piece's item -> every name it refers to (ast.all_refs)
        self.hints = Hints()

    def add(self, code: str, message: str, span: ast.Span):
        # A version reports only its own items, so the span is always in its own file.
        f = finding(code, message, span, self.version.file.source)
        if f not in self._seen:
            self._seen.add(f)
            self.findings.append(f)

    # ---- units ----
    def unit_of_name(self, name: str, span: ast.Span) -> str:
        if name in KEY_NAMES:
            return "text"
        item = self.items.get(name)
        if item is None:
            hint = self.hints.closest(name, _Joined(self.items, FUNCTIONS))
            raise UnitError(f"unknown name '{name}'" + (f"; did you mean '{hint}'?" if hint else ""), span, "unknown-name")
        if isinstance(item, (ast.Summary, ast.Example)):
            raise UnitError(f"'{name}' is a {type(item).__name__.lower()}, not a value", span, "unknown-name")
        return item.unit

    def infer(self, e) -> str:
        if isinstance(e, ast.Number):
            return e.unit
        if isinstance(e, ast.Text):
            return "text"
        if isinstance(e, ast.Bool):
            return "bool"
        if isinstance(e, (ast.YearLiteral, ast.ThisYear)):
            return "year"
        if isinstance(e, ast.Ref):
            return self.unit_of_name(e.name, e.span)
        if isinstance(e, ast.AtYear):
            if not isinstance(e.target, ast.Ref):
                raise UnitError("only a name can be taken at another year, as in collection_rate[year - 1]", e.span, "bad-year-index")
            u = self.infer(e.year)
            if u not in ("year", "number"):
                raise UnitError(
                    f"a year index must be a fiscal year, like [year - 1] or [FY2020], not {unit_name(u)}", e.span, "bad-year-index"
                )
            _refuse_fractional_year(e.year, e.span)
            return self.infer(e.target)
        if isinstance(e, ast.Unary):
            u = self.infer(e.operand)
            if e.op == "not":
                if u != "bool":
                    raise UnitError(f"'not' needs a true/false value, not {unit_name(u)}", e.span)
                return "bool"
            if u not in NUMERIC:
                raise UnitError(f"cannot negate {unit_name(u)}", e.span)
            return u
        if isinstance(e, ast.Binary):
            a, b = self.infer(e.left), self.infer(e.right)
            if e.op not in ("*", "/", "and", "or"):
                _refuse_bare_number_beside_rate(e.left, b, e.span)
                _refuse_bare_number_beside_rate(e.right, a, e.span)
            if e.op in ("+", "-"):
                return add_units(e.op, a, b, e.span)
            if e.op in ("*", "/"):
                return mul_units(e.op, a, b, e.span)
            if e.op in ("and", "or"):
                if a != "bool" or b != "bool":
                    raise UnitError(f"'{e.op}' needs true/false values on both sides, not {unit_name(a)} and {unit_name(b)}", e.span)
                return "bool"
            # comparison
            if e.op not in ("=", "!=") and ("bool" in (a, b) or "text" in (a, b)):
                raise UnitError(f"cannot order {unit_name(a)} and {unit_name(b)} with '{e.op}'", e.span)
            try:
                unify(a, b, e.span, "comparison")
            except UnitError:
                raise UnitError(f"cannot compare {unit_name(a)} with {unit_name(b)}", e.span) from None
            return "bool"
        if isinstance(e, ast.If):
            u = None
            for cond, value in e.branches:
                cu = self.infer(cond)
                if cu != "bool":
                    raise UnitError(f"an 'if' condition must be true/false, not {unit_name(cu)}", cond.span if cond.span.line else e.span)
                vu = self.infer(value)
                u = vu if u is None else unify(u, vu, e.span, "'if'")
            return unify(u, self.infer(e.otherwise), e.span, "'if'")
        if isinstance(e, ast.With):
            target = self.items.get(e.name)
            if target is None or isinstance(target, (ast.Summary, ast.Example)):
                hint = self.hints.closest(e.name, self.items)
                raise UnitError(
                    f"'with' names unknown parameter '{e.name}'" + (f"; did you mean '{hint}'?" if hint else ""), e.span, "unknown-name"
                )
            vu = self.infer(e.value)
            if not fits(target.unit, vu) and not (target.unit == "ratio" and vu == "number"):
                raise UnitError(f"'{e.name}' is {unit_name(target.unit)}; it cannot be set to {unit_name(vu)}", e.span)
            return self.infer(e.body)
        if isinstance(e, ast.Call):
            return self.infer_call(e)
        raise AssertionError(f"unknown node {e!r}")

    def infer_call(self, e: ast.Call) -> str:
        f, args = e.function, e.args
        if f not in FUNCTIONS:
            hint = self.hints.closest(f, sorted(FUNCTIONS), 0.6)
            raise UnitError(
                f"unknown function '{f}'"
                + (f"; did you mean '{hint}'?" if hint else "")
                + "; functions are "
                + ", ".join(sorted(FUNCTIONS)),
                e.span,
                "unknown-function",
            )

        def arity(lo, hi=None):
            hi = lo if hi is None else hi
            if not lo <= len(args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise UnitError(f"{f}() takes {want} argument{'s' if hi != 1 else ''}, not {len(args)}", e.span, "arity")

        if f in ("min", "max"):
            if len(args) < 2:
                raise UnitError(f"{f}() takes at least 2 arguments, not {len(args)}", e.span, "arity")
            units = [self.infer(a) for a in args]
            # A bare number among the arguments and a rate among them (not pair by pair: min() may have thousands).
            rate = next((u for u in units if u in ("percent", "pp")), None)
            if rate is not None:
                for a in args:
                    _refuse_bare_number_beside_rate(a, rate, e.span)
            u = units[0]
            for other in units[1:]:
                u = unify(u, other, e.span, f"{f}()")
            if u not in NUMERIC | {"year"}:
                raise UnitError(f"{f}() needs numbers, not {unit_name(u)}", e.span)
            return u
        if f == "abs":
            arity(1)
            u = self.infer(args[0])
            if u not in NUMERIC:
                raise UnitError(f"abs() needs a number, not {unit_name(u)}", e.span)
            return u
        if f in ("sum", "mean"):
            arity(1)
            u = self.infer(args[0])
            if u not in NUMERIC:
                raise UnitError(f"{f}() needs numbers, not {unit_name(u)}", e.span)
            self.refuse_prefecture_value(f, args[0], e.span)
            return u
        if f == "count":
            arity(0, 1)
            if args and self.infer(args[0]) != "bool":
                raise UnitError("count() counts the municipalities where a true/false value is true", e.span)
            if args:
                self.refuse_prefecture_value(f, args[0], e.span)
            return "count"
        if f == "defined":
            arity(1)
            self.infer(args[0])
            return "bool"
        if f == "decimals":
            arity(1)
            if not (
                isinstance(args[0], ast.Number) and args[0].unit == "number" and args[0].value.denominator == 1 and 0 <= args[0].value <= 30
            ):
                raise UnitError("decimals() takes a whole number of decimal places, 0 to 30, as in decimals(13)", e.span)
            return "number"
        if f in ("percent", "ratio"):
            arity(1)
            u = self.infer(args[0])
            if u not in DIMENSIONLESS:
                raise UnitError(f"{f}() converts a ratio or percent, not {unit_name(u)}", e.span)
            return f
        # round / floor / ceil
        if f == "round":
            arity(3)
            mode = args[2]
            if not (isinstance(mode, ast.Ref) and mode.name in ROUNDING_MODES):
                raise UnitError(
                    "round() needs a rounding mode as its third argument: " + ", ".join(ROUNDING_MODES),
                    getattr(mode, "span", e.span),
                    "rounding-mode",
                )
        else:
            arity(2)
        u = self.infer(args[0])
        step = args[1]
        su = self.infer(step)
        if not (isinstance(step, ast.Number) or (isinstance(step, ast.Call) and step.function == "decimals")):
            raise UnitError(f"the step of {f}() must be a literal such as 1円, 0.01% or decimals(13)", e.span, "rounding-step")
        ok = su == u or su == "number" and u in DIMENSIONLESS | {"count"} or (u == "percent" and su == "pp")
        if not ok:
            raise UnitError(f"cannot round {unit_name(u)} to a step of {unit_name(su)}", e.span)
        if isinstance(step, ast.Number) and step.value <= 0:
            raise UnitError(f"the step of {f}() must be positive", e.span, "rounding-step")
        return u

    # ---- scope: one value per municipality, or one for the prefecture ----
    def is_municipal(self, e) -> bool:
        """True when the expression has a value per municipality (outside sum/mean/count)."""
        municipal = self.municipal_names()
        todo = [e]
        while todo:
            x = todo.pop()
            if isinstance(x, ast.Ref):
                if x.name in municipal:
                    return True
            elif not (isinstance(x, ast.Call) and x.function in AGGREGATES):
                todo.extend(children(x))
        return False

    def municipal_names(self) -> set[str]:
        """The names with a value per municipality: the keys, the municipal inputs, and every item that uses one outside
        sum/mean/count. Found once per version, from the municipal inputs back through their users (every item is
        walked once: with a sum() in each of thousands of chained definitions, a walk per sum was quadratic)."""
        if self._municipal is not None:
            return self._municipal
        users: dict[str, set[str]] = {}
        found = set(KEY_NAMES)
        for piece in self.version.all_pieces():  # municipal if any year's piece is
            if isinstance(piece.item, ast.InputDecl):
                if piece.item.scope == "municipal":
                    found.add(piece.name)
                continue
            for ref in ast.scope_refs(piece.item):
                users.setdefault(ref, set()).add(piece.name)
        todo = sorted(found)
        while todo:
            for user in sorted(users.get(todo.pop(), ())):
                if user not in found:
                    found.add(user)
                    todo.append(user)
        self._municipal = found
        return found

    def refuse_prefecture_value(self, f: str, arg, span: ast.Span):
        if not self.is_municipal(arg):
            raise UnitError(
                f"{f}() runs over the municipalities, but its argument has one value for the whole prefecture", span, "aggregate-scope"
            )

    # ---- checks ----
    def run(self) -> list[Finding]:
        for item in self.version.file.items:  # every piece this version states; the base's own check reports its pieces
            if isinstance(item, ast.Removal):
                continue
            try:
                self.check_item(item)
            except UnitError as err:
                self.add(err.code, err.message, err.span)
        self.check_cycles()
        self.check_removals_and_overrides()
        self.check_plan_gaps()
        return self.findings

    def check_removals_and_overrides(self):
        """Pieces inherited from the base (in force in some year) still refer to what this version removes or re-types."""
        inherited = [p for p in self.version.all_pieces() if p.version != self.version.id]
        for item in self.version.file.items:
            if isinstance(item, ast.Removal):
                users = sorted({p.name for p in self.version.all_pieces() if item.name in self.all_refs(p.item)})
                if users:
                    self.add(
                        "remove-in-use",
                        f"cannot remove '{item.name}': "
                        + ", ".join(f"'{u}'" for u in users)
                        + f" still {'uses' if len(users) == 1 else 'use'} it",
                        item.span,
                    )
            elif getattr(item, "override", False) and not isinstance(item, (ast.Summary, ast.Example)):
                users = sorted({p.name for p in inherited if item.name in self.all_refs(p.item)})
                base_unit = self._base_unit(item.name)
                if users and base_unit is not None and base_unit != item.unit:
                    self.add(
                        "override-unit",
                        f"'{item.name}' was {unit_name(base_unit)} and is now {unit_name(item.unit)}, but inherited "
                        + ", ".join(f"'{u}'" for u in users)
                        + f" still {'uses' if len(users) == 1 else 'use'} it as before",
                        item.span,
                    )

    def check_plan_gaps(self):
        """Warning `plan-gap`: a year of the version's own plan period in which an item its summary uses
        (by name, or through the pieces of the names it uses) has no piece in force: before its first
        piece, between two pieces, or in a plan period it has no piece in at all (a revision for
        R9-R11 that keeps R6's table, which ends in FY2026). An item in force in part of the plan
        period that ends before the plan does is taken as intended (R6's target table, written for
        R6-R8 of the plan R6-R11). Not looked at while the version has errors of its own."""
        period = self.version.header.plan_period
        summary = self.items.get("summary")
        if period is None or not period.is_bounded or not isinstance(summary, ast.Summary):
            return
        if any(f.severity == "error" for f in self.findings):
            return  # some findings hide others
        via: dict = {}
        order: list = []
        todo = [(n, None) for line in summary.lines for n in line.names]
        while todo:
            n, parent = todo.pop(0)
            if n in via or n in KEY_NAMES or n not in self.version.history:
                continue
            via[n] = parent
            order.append(n)
            todo.extend((r, n if parent is None else parent) for p in self.version.pieces(n) for r in sorted(self.all_refs(p.item)))
        h = self.version.header
        for n in order:
            last = self.version.pieces(n)[-1]  # the piece with the latest years
            ends_in_plan = last.years is not None and last.years.last is not None and last.years.overlaps(period)
            gaps = []
            for y in period.years():
                if isinstance(self.version.at(y).piece(n), Piece):
                    continue
                if ends_in_plan and y > last.years.last:
                    continue  # the item ends inside the plan period, as its last piece says
                gaps.append(y)
            if not gaps:
                continue
            item = self.items[n]
            what = f"{n} ({item.label})" if getattr(item, "label", None) else n
            through = f" through {via[n]}" if via[n] is not None else ""
            runs = _year_runs(gaps)
            years = ", ".join(Period(a, b).both for a, b in runs)
            f = finding(
                "plan-gap",
                f"version {self.version.id}'s summary uses {what}{through}, but no piece of it is in force in {years} "
                f"of the plan period {period.both}; state one for those years or end the plan period earlier",
                h.span,
                self.version.file.source,
            )
            f = attrs.evolve(f, severity="warning")
            if f not in self.findings:
                self.findings.append(f)

    def all_refs(self, item) -> set[str]:
        """ast.all_refs(item), found once per piece (each removal and override asks about every piece)."""
        found = self._refs.get(id(item))
        if found is None:
            found = self._refs[id(item)] = ast.all_refs(item)
        return found

    def _hint(self, name, names) -> str:
        close = self.hints.closest(name, names)
        return f"; did you mean '{close}'?" if close else ""

    def _base_unit(self, name: str):
        base = self.base.items.get(name) if self.base is not None else None
        return getattr(base, "unit", None)

    def guarded(self, fn, *a):
        """fn(*a), with a UnitError reported as a finding; returns False then."""
        try:
            result = fn(*a)
            return True if result is None else result
        except UnitError as err:
            self.add(err.code, err.message, err.span)
            return False

    def check_item(self, item):
        if isinstance(item, ast.InputDecl):
            if item.unit not in ast.UNITS:
                self.add("unknown-unit", f"unknown unit '{item.unit}'; units are " + ", ".join(ast.UNITS), item.unit_span)
            return
        if isinstance(item, (ast.Definition, ast.Table, ast.Schedule)):
            if item.unit not in ast.UNITS:
                self.add("unknown-unit", f"unknown unit '{item.unit}'; units are " + ", ".join(ast.UNITS), item.unit_span)
                return
        if isinstance(item, ast.Definition):
            u = self.guarded(self.infer, item.expr)
            if u and not fits(item.unit, u):
                self.add("unit", f"'{item.name}' is declared {unit_name(item.unit)} but its formula gives {unit_name(u)}", item.unit_span)
            if item.value_labels:
                self.check_labels(item)
        elif isinstance(item, ast.Table):
            self.check_table(item)
        elif isinstance(item, ast.Schedule):
            self.check_schedule(item)
        elif isinstance(item, ast.Summary):
            self.check_summary(item)
        elif isinstance(item, ast.Example):
            self.check_example(item)

    def check_table(self, t: ast.Table):
        ku = self.guarded(self.infer, t.key)
        bad_bounds = False
        for b in t.bands:
            bad_here = False
            for bound in (b.lo, b.hi):
                if ku and not fits(ku, bound.unit):
                    self.add("unit", f"band bound {bound.text} is {unit_name(bound.unit)} but the table is over {unit_name(ku)}", b.span)
                    bad_here = True
                elif ku and self.guarded(_refuse_bare_number_beside_rate, bound, ku, b.span) is False:
                    bad_here = True
            bad_bounds = bad_bounds or bad_here
            ru = self.guarded(self.infer, b.result)
            if ru and not fits(t.unit, ru):
                self.add("unit", f"band {b.interval} gives {unit_name(ru)} but table '{t.name}' is declared {unit_name(t.unit)}", b.span)
            empty = b.lo.value > b.hi.value or (b.lo.value == b.hi.value and not (b.lo_closed and b.hi_closed))
            if empty and not bad_here:
                self.add("empty-band", f"band {b.interval} is empty: its lower end is not below its upper end", b.span)
        if bad_bounds:
            return  # order, gaps and coverage mean nothing until the bounds have the table's unit
        bands = list(t.bands)
        for prev, cur in zip(bands, bands[1:]):
            if cur.lo.value < prev.lo.value:
                self.add("band-order", f"band {cur.interval} comes after {prev.interval}; list bands from the lowest up", cur.span)
                return
        for prev, cur in zip(bands, bands[1:]):
            if prev.hi.value > cur.lo.value or (prev.hi.value == cur.lo.value and prev.hi_closed and cur.lo_closed):
                self.add(
                    "band-overlap",
                    f"bands {prev.interval} and {cur.interval} overlap: a value of {cur.lo.text} would fall in both",
                    cur.span,
                )
            elif prev.hi.value < cur.lo.value or (prev.hi.value == cur.lo.value and not prev.hi_closed and not cur.lo_closed):
                if prev.hi.value < cur.lo.value:
                    gap = f"{'(' if prev.hi_closed else '['}{prev.hi.text}, {cur.lo.text}{')' if cur.lo_closed else ']'}"
                else:
                    gap = prev.hi.text
                self.add("band-gap", f"bands {prev.interval} and {cur.interval} leave a gap: {gap} falls in no band", cur.span)
        if ku == "percent" and bands:
            first, last = bands[0], bands[-1]
            if first.lo.value > 0 or (first.lo.value == 0 and not first.lo_closed):
                self.add(
                    "band-coverage",
                    f"the bands of '{t.name}' start at {first.lo.text}{'' if first.lo_closed else ' (open)'}; a percent table must cover 0% to 100%",
                    first.span,
                )
            if last.hi.value < 1 or (last.hi.value == 1 and not last.hi_closed):
                self.add(
                    "band-coverage",
                    f"the bands of '{t.name}' end at {last.hi.text}{'' if last.hi_closed else ' (open)'}; a percent table must cover 0% to 100%",
                    last.span,
                )

    def check_schedule(self, s: ast.Schedule):
        for entry in s.entries:
            u = self.guarded(self.infer, entry.value)
            if u and not fits(s.unit, u):
                self.add(
                    "unit", f"schedule '{s.name}' is {unit_name(s.unit)} but the value for {entry.years_text} is {unit_name(u)}", entry.span
                )
        entries = list(s.entries)
        for a, b in _first_overlaps(entries):
            lo = max(x for x in (a.years.first, b.years.first, -(10**9)) if x is not None)
            lasts = [x for x in (a.years.last, b.years.last) if x is not None]
            which = f"FY{lo}" if lo > -(10**9) else (f"FY{min(lasts)}" if lasts else "every year")
            self.add(
                "schedule-duplicate",
                f"schedule '{s.name}' gives {which} twice: in {a.years_text} (line {a.span.line}) and in {b.years_text}",
                b.span,
            )
        for prev, cur in zip(entries, entries[1:]):
            if prev.years.first is not None and cur.years.first is not None and cur.years.first < prev.years.first:
                self.add(
                    "schedule-order", f"schedule '{s.name}': {cur.years_text} comes after {prev.years_text}; list years in order", cur.span
                )
        period = self.version.header.plan_period
        if period is not None:
            years = [y for y in period.years() if s.effective is None or y in s.effective]
            missing = [y for y in years if not any(y in e.years for e in entries)]
            if missing:
                self.add(
                    "schedule-gap",
                    f"schedule '{s.name}' has no value for {', '.join(str(y) for y in missing)} of the plan period {period.both}",
                    s.span,
                )

    def check_labels(self, d: ast.Definition):
        """`labels`: only for a text or true/false definition; each value once; a text value its formula can give."""
        if d.unit not in ("text", "bool"):
            self.add(
                "labels",
                f"'labels' names the values of a text or true/false definition; '{d.name}' is {unit_name(d.unit)}",
                d.value_labels[0].span,
            )
            return
        produced = _texts_produced(d.expr) if d.unit == "text" else None
        seen = set()
        for x in d.value_labels:
            shown = f'"{x.value}"' if isinstance(x.value, str) else str(x.value).lower()
            if isinstance(x.value, bool) != (d.unit == "bool"):
                want = "true and false" if d.unit == "bool" else 'texts like "none"'
                self.add("labels", f"'{d.name}' is {unit_name(d.unit)}: its labels name {want}, not {shown}", x.span)
            elif (type(x.value), x.value) in seen:
                self.add("labels", f"{shown} is labelled twice in '{d.name}'", x.span)
            elif produced is not None and x.value not in produced:
                close = self.hints.closest(x.value, sorted(produced), 0.6)
                gives = ", ".join(f'"{t}"' for t in sorted(produced))
                hint = f'; did you mean "{close}"?' if close else f"; it gives {gives}"
                self.add("labels", f"'{d.name}' never gives {shown}{hint}", x.span)
            seen.add((type(x.value), x.value))

    def check_summary(self, s: ast.Summary):
        for line in s.lines:
            for n in line.names:
                if n not in self.items:
                    self.add("unknown-name", f"summary names unknown '{n}'" + self._hint(n, self.items), line.span)
            if line.kind == "bands":
                table, flag = line.names
                if table in self.items and not isinstance(self.items[table], ast.Table):
                    self.add("summary", f"'bands' needs a band table first, and '{table}' is not one", line.span)
                if flag in self.items and getattr(self.items[flag], "unit", None) != "bool":
                    self.add("summary", f"'bands' counts a true/false definition, and '{flag}' is not one", line.span)

    def check_example(self, ex: ast.Example):
        inputs = self.version.inputs()
        for m in ex.municipalities:
            for a in m.values:
                if a.name not in inputs or inputs[a.name].scope != "municipal":
                    self.add(
                        "unknown-name", f"example sets '{a.name}', which is not a municipal input" + self._hint(a.name, inputs), a.span
                    )
        for a in ex.prefecture:
            if a.name not in inputs or inputs[a.name].scope != "prefecture":
                self.add("unknown-name", f"example sets '{a.name}', which is not a prefecture input" + self._hint(a.name, inputs), a.span)
        codes = {m.code for m in ex.municipalities}
        for x in ex.expectations:
            if x.name not in self.items:
                self.add("unknown-name", f"example expects unknown '{x.name}'" + self._hint(x.name, self.items), x.span)
            if x.code is not None and x.code not in codes:
                self.add("example", f"example expects a value for municipality {x.code}, which the example does not give", x.span)
        for code, message, span in example_problems(self.version, ex):
            self.add(code, message, span)

    def check_cycles(self, own: set[str] | None = None, reported: set | None = None):
        """Definitions that need each other in the same year, with the pieces in force together: once for
        each run of years in which the same pieces are in force. A cycle is reported when one of its
        pieces is this version's own (or, given `own`, one of those names)."""
        reported = set() if reported is None else reported
        for year in self.version_epochs():
            view = self.version.at(year)
            pieces = {n: view.piece(n) for n in self.items}
            pieces = {
                n: p for n, p in pieces.items() if isinstance(p, Piece) and isinstance(p.item, (ast.Definition, ast.Table, ast.Schedule))
            }
            mine = own if own is not None else {n for n, p in pieces.items() if p.version == self.version.id}
            self._cycles(
                {n: sorted(same_year_refs(p.item)) for n, p in pieces.items()}, {n: p.item for n, p in pieces.items()}, mine, reported
            )

    def version_epochs(self) -> list[int]:
        """One fiscal year in each run of years in which the same pieces are in force (the first may stand for all earlier years)."""
        bounds = sorted(
            {
                b
                for p in self.version.all_pieces()
                if p.years is not None
                for b in (p.years.first, None if p.years.last is None else p.years.last + 1)
                if b is not None
            }
        )
        return [bounds[0] - 1] + bounds if bounds else [0]

    def _cycles(self, graph: dict, items: dict, own: set, reported: set):
        state: dict[str, int] = {}

        # Depth-first, with an explicit stack: a long chain of definitions must not exhaust Python's.
        for n in graph:
            if state.get(n) is not None:
                continue
            state[n] = 1
            path, todo = [n], [iter(graph[n])]
            while todo:
                m = next(todo[-1], None)
                if m is None:
                    state[path.pop()] = 2
                    todo.pop()
                elif m not in graph:
                    continue
                elif state.get(m) == 1:
                    cycle = path[path.index(m) :] + [m]
                    key = frozenset(cycle)
                    if key not in reported and any(c in own for c in cycle):
                        reported.add(key)
                        item = items[cycle[0]]
                        self.add("cycle", "definitions depend on each other in the same year: " + " -> ".join(cycle), item.span)
                elif state.get(m) is None:
                    state[m] = 1
                    path.append(m)
                    todo.append(iter(graph[m]))


def _refuse_fractional_year(e, span: ast.Span) -> None:
    """[year - 1/3] or [year - 0.5] names no fiscal year (evaluation rounded it down): a year index counts whole years."""
    todo = [e]
    while todo:
        x = todo.pop()
        if isinstance(x, ast.Number) and x.value.denominator != 1 or isinstance(x, ast.Binary) and x.op == "/":
            why = (
                f"{x.text} is not a whole number of years" if isinstance(x, ast.Number) else "a division may fall between two fiscal years"
            )
            raise UnitError(f"a year index counts whole years, like [year - 1]; {why}", x.span if x.span.line else span, "bad-year-index")
        todo.extend(children(x))


def _first_overlaps(entries: list) -> list[tuple]:
    """(a, b) for each schedule entry b that covers a year an earlier entry covers, a the first such entry.

    Years lie in 1900-2200 (years.parse_year), so an open end is one more slot on each side and every entry
    is a slice of 303 slots: the cost is linear in the number of entries (pairwise, 10,000 entries took minutes).
    """
    lo_year, hi_year, none = 1899, 2201, len(entries)
    first = [none] * (hi_year - lo_year + 1)  # slot -> index of the first entry covering that year
    out = []
    for j, b in enumerate(entries):
        lo = max(0, (b.years.first if b.years.first is not None else lo_year) - lo_year)
        hi = min(len(first), (b.years.last if b.years.last is not None else hi_year) - lo_year + 1)
        if lo >= hi:
            continue
        earliest = min(first[lo:hi])
        if earliest < none:
            out.append((entries[earliest], b))
        if max(first[lo:hi]) == none:  # some year not covered before: b is its first entry
            first[lo:hi] = [j if i == none else i for i in first[lo:hi]]
    return out


def _refuse_bare_number_beside_rate(e, other_unit: str, span: ast.Span) -> None:
    """`rate >= 90` or `rate + 1` means 9000% / +100 points: a bare number beside a rate must say its unit."""
    if isinstance(e, ast.Number) and e.unit == "number" and e.value != 0 and other_unit in ("percent", "pp"):
        suggestion = f"{e.text}%" if other_unit == "percent" else f"{e.text}pp"
        where = e.span if e.span.line else span  # the caret on the number itself, where the parser recorded it
        raise UnitError(
            f"the plain number {e.text} stands beside {unit_name(other_unit)}; write {suggestion} (a plain number is a ratio: 1 = 100%)",
            where,
            "bare-number",
        )


def _year_runs(years: list[int]) -> list[tuple[int, int]]:
    """Consecutive fiscal years as (first, last) runs."""
    runs: list[list[int]] = []
    for y in years:
        if runs and runs[-1][1] == y - 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return [(a, b) for a, b in runs]


def _texts_produced(e) -> set[str] | None:
    """The texts a text formula can give, when each of its outcomes is a text literal (an if of literals); else None."""
    if isinstance(e, ast.Text):
        return {e.value}
    if isinstance(e, ast.If):
        out: set[str] = set()
        for part in [v for _, v in e.branches] + [e.otherwise]:
            got = _texts_produced(part)
            if got is None:
                return None
            out |= got
        return out
    return None


class _Joined:
    """Two collections of names as one sized iterable, without copying them (Hints.closest may not need it)."""

    def __init__(self, *parts):
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self):
        for p in self.parts:
            yield from p


# ---- examples' values ------------------------------------------------------------------------------------


def _value_unit(node) -> str:
    if isinstance(node, ast.Number):
        return node.unit
    if isinstance(node, ast.Text):
        return "text"
    if isinstance(node, ast.Bool):
        return "bool"
    return "year"


_WRITE_AS = {
    "percent": "a percent like 98.40%",
    "pp": "percentage points like 1.50pp",
    "yen": "an amount like 1,000円 or 1000",
    "count": "a whole number like 1200",
    "ratio": "a number like 1.0250",
    "year": "a fiscal year like FY2026 or R8",
    "bool": "true or false",
    "text": 'a "quoted text"',
}


def example_value(unit: str, node, *, what: str = "input"):
    """An example's value node -> the value of the declared unit; ValueError with a message if it does not fit.

    Percent and pp need their sign (98.40%, 1.50pp): a bare 98.40 would be the ratio 98.4.
    A bare number fits yen, count, ratio and year.
    """
    if node is None:
        return None
    vu = _value_unit(node)
    ok = vu == unit or (vu == "number" and unit in ("yen", "count", "ratio", "year"))
    if not ok:
        raise ValueError(f"{literal_text(node)} does not fit {unit}: write {_WRITE_AS.get(unit, unit)}")
    v = node.value
    if unit == "year":
        if isinstance(node, ast.Number) and (v.denominator != 1 or not 1000 <= v <= 9999):
            raise ValueError(f"{node.text} is not a fiscal year: write {_WRITE_AS['year']}")
        return int(v)
    if what == "input":
        if unit == "percent" and not 0 <= v <= 1:
            raise ValueError(f"a rate of {node.text} is outside 0-100%")
        if unit in ("yen", "count") and v < 0:
            raise ValueError(f"{'an amount' if unit == 'yen' else 'a count'} cannot be negative: {node.text}")
        if unit == "count" and Fraction(v).denominator != 1:
            raise ValueError(f"a count is a whole number, not {node.text}")
    return v


def example_problems(version: Version, ex: ast.Example, *, names: bool = False) -> list[tuple[str, str, ast.Span]]:
    """(code, message, span) for input values that do not fit their unit, repeated municipalities or values.

    An expected value that does not fit its definition's unit is not a finding but a failed
    expectation (run_example), so that a unit changed in the rules fails its examples, once each.

    With names, also unknown inputs and expectations (check.py reports those for a version's own examples;
    an inherited example needs them when the extending version drops a name).
    """
    out: list[tuple[str, str, ast.Span]] = []
    inputs = version.inputs()
    codes: dict[str, ast.ExampleMunicipality] = {}
    for m in ex.municipalities:
        if m.code in codes:
            first = codes[m.code].span.line
            out.append(("example", f"municipality {m.code} is given twice in example {ex.name} (first at line {first})", m.span))
        codes.setdefault(m.code, m)
        _assignments(m.values, "municipal", inputs, ex, out, names)
    _assignments(ex.prefecture, "prefecture", inputs, ex, out, names)
    for x in ex.expectations:
        item = version.items.get(x.name)
        if item is None or not hasattr(item, "unit"):
            if names:
                out.append(("unknown-name", f"example expects unknown '{x.name}' in version {version.id}", x.span))
            continue
        if names and x.code is not None and x.code not in codes:
            out.append(("example", f"example expects a value for municipality {x.code}, which the example does not give", x.span))
    return out


def _assignments(values, scope, inputs, ex, out, names):
    seen: dict = {}
    for a in values:
        decl = inputs.get(a.name)
        if decl is None or decl.scope != scope:
            if names:
                out.append(("unknown-name", f"example sets '{a.name}', which is not a {scope} input", a.span))
            continue
        key = (a.name, a.year or ex.year)
        if key in seen:
            out.append(("example", f"{a.name} for {FiscalYear(key[1])} is given twice (first at line {seen[key].span.line})", a.span))
            continue
        seen[key] = a
        try:
            example_value(decl.unit, a.value)
        except ValueError as e:
            out.append(("example-unit", f"{a.name}: {e}", a.span))


def literal_text(node) -> str:
    """An example's value node as it is written: 98.40%, FY2026, true, \"none\"."""
    if isinstance(node, (ast.Number, ast.YearLiteral)):
        return node.text
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    return f'"{node.value}"'


def check_rules(ruleset: RuleSet) -> list[Finding]:
    """Every finding of every version in the rule set (each item checked in its own version)."""
    findings: list[Finding] = []
    for vid in ruleset.version_ids:
        version = ruleset.version(vid)
        base = ruleset.version(version.header.extends) if version.header.extends else None
        findings.extend(Checker(version, base).run())
        h = version.header
        if h.status is not None and h.status not in ast.STATUSES:
            findings.append(
                finding("bad-status", f"status is one of {', '.join(ast.STATUSES)}, not '{h.status}'", h.status_span, version.file.source)
            )
    return findings


def infer_unit(version: Version, expr) -> str:
    return Checker(version).infer(expr)
