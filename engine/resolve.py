"""Name resolution shared by both evaluators: (name, fiscal year, overrides) -> a value, once.

Both the columnar evaluator (engine/columnar) and the per-row reference (engine/evaluate.py)
inherit Resolver, so they agree by construction on everything that is not arithmetic:
`with` overrides, years out of reach, missing and not-in-force items, schedules, the
memo, cycles ("x depends on itself"), the depth and step limits and values too large to
keep exactly, and the sharing of values between two evaluators of the same data (a diff's
B takes from A whatever both versions compute alike; a sweep's scenario from the unvaried
run). Each evaluator supplies the hooks at the bottom in its own representation of values.
"""

from __future__ import annotations

import sys

from . import ast
from .ast import KEY_NAMES, earlier_year, item_exprs, refs
from .errors import RuleCheckError, finding
from .values import MAX_YEAR_DEPTH, TooManyDigits, Undefined
from .versions import NotInForce, Version
from .years import FiscalYear

MAX_NAME_DEPTH = 400  # names being computed inside one another ([year - 1] chains included)
MAX_STEPS = 20_000  # (name, year, overrides) computed by one evaluator: `with` inside `with` can multiply them
# Python's recursion limit, raised for the process (never lowered) when the evaluators are imported: room for
# MAX_NAME_DEPTH names, each taking up to 40 frames in either evaluator or in a walk over the names (explain's
# derivation, diff's causes), above the caller's own frames. With Python's default (1,000 frames) the reference
# stopped after about 110 names and the columnar core after about 120, each with its own eval-too-deep.
RECURSION_LIMIT = MAX_NAME_DEPTH * 40 + 2_000
if sys.getrecursionlimit() < RECURSION_LIMIT:
    sys.setrecursionlimit(RECURSION_LIMIT)


class _TooDeep(Exception):
    """Raised at the depth limit; the outermost call reports it for the name that was asked for."""


class _TooLarge(Exception):
    """A value too large to keep exactly, raised for the name that produced it."""

    def __init__(self, name: str, year: int):
        self.name = name
        self.year = year


class _TooManySteps(Exception):
    """More than MAX_STEPS names computed by one evaluator."""


class Resolver:
    """Memoised (name, year, overrides) -> value for one version; subclasses supply the values.

    `share`: a Sharing with another evaluator over the same data, whose values this one takes
    for the names both compute alike.
    """

    def __init__(self, version: Version, years, n: int, *, share: Sharing | None = None):
        self.version = version
        self.n = n
        self._cache: dict = {}
        self._in_progress: set = set()
        self._views: dict = {}
        self._lookups: dict = {}
        self.share = share
        # One stack of names being computed for evaluators that share values: the depth limit
        # then counts the same nesting whichever evaluator computes a value.
        self._stack: list[str] = share.other._stack if share is not None else []
        self.steps = 0
        years = tuple(years)
        self.year_lo = (min(years) if years else 2000) - MAX_YEAR_DEPTH
        self.year_hi = (max(years) if years else 2000) + MAX_YEAR_DEPTH

    # ---- public ----
    def resolved(self, name: str, year: int, overrides: tuple = ()):
        """The value of a name in a fiscal year, in this evaluator's representation (memoised)."""
        key = (name, year, overrides)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if self._stack:
            return self._resolve(key)
        try:  # the outermost call: the limits met anywhere below are reported for the name asked for
            return self._resolve(key)
        except (_TooDeep, RecursionError):
            raise RuleCheckError(
                finding(
                    "eval-too-deep",
                    f"the rules are nested too deeply to evaluate {name} for {FiscalYear(year).both}: "
                    "a chain of definitions that use other definitions (or earlier years) is too long",
                    self._span_of(name),
                )
            ) from None
        except _TooLarge as e:
            from .values import MAX_VALUE_DIGITS

            raise RuleCheckError(
                finding(
                    "value-too-large",
                    f"{e.name} for {FiscalYear(e.year).both} has more than {MAX_VALUE_DIGITS:,} digits as an exact "
                    "number; round it (or what it adds up) with round(), floor() or ceil()",
                    self._span_of(e.name),
                )
            ) from None
        except _TooManySteps:
            raise RuleCheckError(
                finding(
                    "eval-too-long",
                    f"evaluating {name} for {FiscalYear(year).both} needs more than {MAX_STEPS:,} "
                    "computations of a name: 'with' inside 'with' multiplies them",
                    self._span_of(name),
                )
            ) from None

    def at(self, year: int):
        """What the version has in force in a year (versions.InForce), made once per year."""
        view = self._views.get(year)
        if view is None:
            view = self._views[year] = self.version.at(year)
        return view

    def taken(self, key: tuple) -> bool:
        """Whether the memoised value of (name, year, overrides) is the other evaluator's (what it recorded of
        it, such as band choices, is then there); a name whose items differ is never taken."""
        return self.share is not None and key in self._cache and key[0] not in self.share.differing(key[2])

    def lookup(self, name: str, year: int):
        key = (name, year)
        hit = self._lookups.get(key, self)
        if hit is self:
            hit = self._lookups[key] = self.at(year).lookup(name)
        return hit

    # ---- resolution ----
    def _resolve(self, key):
        name, year, ov = key
        share = self.share
        if share is not None and name not in share.differing(ov):
            value = share.other.resolved(name, year, ov)
            if share.with_undefined or not self.has_undefined(value):
                self._cache[key] = value
                return value
        if key in self._in_progress:
            return Undefined(f"{name} depends on itself in {FiscalYear(year).both}")
        if len(self._stack) >= MAX_NAME_DEPTH:
            raise _TooDeep
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _TooManySteps
        self._in_progress.add(key)
        self._stack.append(name)
        try:
            result = self.compute_name(name, year, ov)
            self.check_size(result)
        except TooManyDigits:
            raise _TooLarge(name, year) from None
        finally:
            self._stack.pop()
            self._in_progress.discard(key)
        self._cache[key] = result
        return result

    def compute_name(self, name: str, year: int, ov: tuple):
        """What a name is in a year: an override, a key column, an input, a formula, a table or a schedule entry."""
        for oname, ovalue in ov:
            if oname == name:
                return ovalue
        if year < self.year_lo:
            return Undefined(f"{name} would need data before FY{self.year_lo}")
        if year > self.year_hi:
            return Undefined(f"{name} would need data after FY{self.year_hi}")
        if name in KEY_NAMES:
            return self.key_column(name)
        item = self.lookup(name, year)
        if item is None:
            return Undefined(f"'{name}' is not defined in version {self.version.id}")
        if isinstance(item, NotInForce):
            return Undefined(item.reason)
        if isinstance(item, ast.InputDecl):
            return self.input(item, year)
        if isinstance(item, ast.Definition):
            return self.formula(item.expr, name, year, ov)
        if isinstance(item, ast.Table):
            return self.table(item, year, ov)
        if isinstance(item, ast.Schedule):
            for entry in item.entries:
                if year in entry.years:
                    return self.formula(entry.value, name, year, ov)
            return Undefined(f"schedule {item.name} has no value for {FiscalYear(year).both} in version {self.version.id}")
        return Undefined(f"'{name}' is not a value")

    def _span_of(self, name: str):
        item = self.version.items.get(name)
        return getattr(item, "span", ast.NO_SPAN)

    @property
    def computing(self) -> str | None:
        """The name being computed (innermost), for reasons such as a division by zero."""
        return self._stack[-1] if self._stack else None

    # ---- hooks, in the subclass's representation of values ----
    def key_column(self, name: str):
        """`code` or `name` for every municipality (`fiscal_year` is refused: use `year`)."""
        raise NotImplementedError

    def input(self, decl: ast.InputDecl, year: int):
        raise NotImplementedError

    def formula(self, expr, name: str, year: int, ov: tuple):
        """An expression of the named item (a definition, or a schedule's entry) in a year."""
        raise NotImplementedError

    def table(self, item: ast.Table, year: int, ov: tuple):
        raise NotImplementedError

    def has_undefined(self, value) -> bool:
        raise NotImplementedError

    def check_size(self, value) -> None:
        """Raise values.TooManyDigits for a value too large to keep exactly."""
        raise NotImplementedError


class Sharing:
    """Which values an evaluator takes from another over the same data, and whether undefined ones too.

    `changed`: names whose values may differ whatever the overrides (their items differ, or
    they must not be shared); `users`: name -> the names whose items refer to it. Under
    overrides, a name differs when it reaches a changed name through references that do not
    pass an overridden name (an overridden name's item is not consulted).
    """

    def __init__(self, other: Resolver, changed, users: dict, *, with_undefined: bool):
        self.other = other
        self.changed = frozenset(changed)
        self.users = users
        self.with_undefined = with_undefined
        self._differing: dict = {}

    def differing(self, ov: tuple) -> frozenset:
        key = tuple(n for n, _ in ov)
        hit = self._differing.get(key)
        if hit is None:
            hit = self._differing[key] = affected(self.changed, self.users, cut=key)
        return hit

    @classmethod
    def between_versions(cls, other: Resolver, version: Version) -> Sharing:
        """Another version's evaluator (a diff's A for B): undefined values are never taken, as
        their reasons may name the version."""
        return cls(other, changed_names(other.version, version), users_of(version), with_undefined=False)

    @classmethod
    def for_scenario(cls, other: Resolver, changed) -> Sharing:
        """The same version with some items changed (a sweep's scenario and its unvaried run)."""
        return cls(other, changed, users_of(other.version), with_undefined=True)


def users_of(version: Version) -> dict:
    """name -> the names whose pieces refer to it (every piece: another year's may be in force)."""
    users: dict = {}
    for piece in version.all_pieces():
        for r in item_refs(piece.item):
            users.setdefault(r, []).append(piece.name)
    return users


_REFS: dict = {}  # id(item) -> (item, names its expressions refer to); the item is kept so the id stays its own


def item_refs(item) -> frozenset:
    """The names an item's expressions refer to (memoised per item object)."""
    hit = _REFS.get(id(item))
    if hit is not None and hit[0] is item:
        return hit[1]
    names: set = set()
    for e in item_exprs(item):
        names |= refs(e)
    if len(_REFS) > 100_000:
        _REFS.clear()
    _REFS[id(item)] = (item, frozenset(names))
    return _REFS[id(item)][1]


def changed_names(a: Version, b: Version) -> frozenset:
    """Names whose own items make their values differ between two versions over the same data.

    A name is changed when the versions hold different histories for it (equal pieces in force in
    the same years, positions included, are the same history), when it refers to a name neither
    version has, or when it may need itself in the same year
    (`x[year + 0]` slips past the cycle check: its value then depends on which name was asked
    for first, and each version keeps its own order). Names that use a changed name differ
    too (Sharing.differing follows the references).
    """
    names = set(a.items) | set(b.items)
    changed = set()
    deps: dict = {}
    for n in names:
        if not a.shares(b, n):
            changed.add(n)
        else:
            deps[n] = set().union(*(item_refs(p.item) for p in b.pieces(n))) - KEY_NAMES
    changed |= {n for n, d in deps.items() if d - names}  # refers to a name neither version has
    changed |= _on_same_year_cycle(
        {n: set().union(*(refs(e, skip_year=earlier_year) for p in b.pieces(n) for e in item_exprs(p.item))) & names for n in deps}
    )
    return frozenset(changed)


def unshared_names(a: Version, b: Version) -> frozenset:
    """Names whose values may differ between two versions over the same data, with no overrides."""
    return affected(changed_names(a, b), users_of(b))


def affected(changed, users: dict, cut=()) -> frozenset:
    """The changed names and every name that reaches one through references not passing a name in cut."""
    stop = set(cut)
    seen: set = set()
    todo = [c for c in changed if c not in stop]
    while todo:
        x = todo.pop()
        if x in seen or x in stop:
            continue
        seen.add(x)
        todo.extend(users.get(x, ()))
    return frozenset(seen)


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
