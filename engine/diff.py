"""Two evaluations -> per-municipality changes with their causes; two versions -> a semantic rule diff.

An outcome diff evaluates versions A and B over the same data and lists, for every
municipality-year and definition, the value under each, the difference B - A (exact), and
the causes: the rule items that differ between the versions *as resolved for that year* and
that the changed value really depends on. Causes are found by walking the definition's
dependencies in both versions at once, following references to other years and `with`
overrides, taking only the band a municipality fell in and the branch of an `if` it took,
and pruning every dependency whose value is the same under A and B (a function of equal
values is equal, so no cause can hide below it).

A rule diff compares the two versions as resolved for each fiscal year: band tables side by
side, schedule values by year, definitions added, removed or changed, inputs, citations and
effective periods. No text diff: spans and comments do not count, meaning does.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from pathlib import Path

import attrs
import numpy as np

from . import ast
from .check import AGGREGATES, KEY_NAMES, children
from .errors import UsageError, finding
from .format import expression_text as expr_text
from .columnar import ColumnEvaluator
from .columnar.columns import INT_LIMIT, BoolCol, IntCol, Lin, Num, is_col, scaled_pair
from .evaluate import with_override
from .results import default_columns
from .values import MAX_YEAR_DEPTH, is_undef
from .display import rule_word, status_text, value_text
from .render import ARROW_MIN_CELLS, format_display, format_value, to_csv, to_json, to_markdown, to_table
from .versions import NotInForce, Version
from .years import FiscalYear, Period

# ---- the only rule names this module knows ------------------------------------------------
# Everything else comes from the versions' `summary` blocks. These conventional names are a
# fallback and a pairing the rules cannot state; a version that lacks one just loses that line.
CONVENTIONAL_NAMES = {
    # the target and its flag, when a summary block has no `bands TABLE FLAG` line
    "target": "target_rate",
    "achieved": "achieved",
    # each levy part and the rounding residual that absorbs its floor() remainders
    "residuals": {"levy_medical": "residual_medical", "levy_support": "residual_support", "levy_care": "residual_care"},
    # whose largest movers the summary lists, unless --columns names others
    "movers": ("target_rate", "levy_total", "net_levy"),
}
DEFAULT_MOVERS = 5
ZERO = Fraction(0)
ALL = -1  # "every municipality": inside sum(), mean(), count() and for prefecture values

# ---- small helpers ----------------------------------------------------------------------


def loc(span: ast.Span | None) -> str:
    """'R6.rules:24': file name and line, the same wherever the rules are checked out."""
    if span is None or span.file == "<none>":
        return "?"
    name = _file_name(span.file)
    return f"{name}:{span.line}" if span.line else name


@functools.lru_cache(maxsize=256)
def _file_name(path: str) -> str:  # a diff cites the same few files thousands of times
    return Path(path).name


def _named(name: str, item) -> str:
    label = getattr(item, "label", None)
    return f"{name} ({label})" if label else name


def _kind(item) -> str:
    return {ast.InputDecl: "input", ast.Definition: "definition", ast.Table: "table", ast.Schedule: "schedule",
            ast.Summary: "summary", ast.Example: "example"}.get(type(item), "item")


def _band_core(b: ast.Band):
    return (b.lo.value, b.lo_closed, b.hi.value, b.hi_closed, b.result)


def _core(item):
    """What decides an item's values (not its label, citation, wording or position)."""
    if isinstance(item, ast.InputDecl):
        return ("input", item.scope, item.unit, item.columns)
    if isinstance(item, ast.Definition):
        return ("definition", item.unit, item.expr)
    if isinstance(item, ast.Table):
        return ("table", item.unit, item.key, tuple(_band_core(b) for b in item.bands))
    if isinstance(item, ast.Schedule):
        return ("schedule", item.unit, tuple((e.years, e.value) for e in item.entries))
    if isinstance(item, ast.Summary):
        return ("summary", item.lines)
    if isinstance(item, ast.Example):
        return ("example", attrs.evolve(item, override=False, label=None, cite=None))
    return (type(item).__name__,)


def _same_item(a, b) -> bool:
    """The same item apart from `override` (a version restating its base's item says the same)."""
    if type(a) is not type(b):
        return False
    if hasattr(a, "override"):
        return attrs.evolve(a, override=False) == attrs.evolve(b, override=False)
    return a == b


def _entry_for(s: ast.Schedule, year: int):
    return next((e for e in s.entries if year in e.years), None)


def _delta_unit(unit: str) -> str:
    return "pp" if unit == "percent" else unit


def _signed(v: Fraction, unit: str) -> str:
    text = format_display(v, unit)
    return ("+" + text) if v > 0 else text


# ---- causes -----------------------------------------------------------------------------


@attrs.frozen
class Cause:
    """One rule item that differs between the versions on the path to a changed value."""

    kind: str  # added, removed, not-in-force, formula, kind, input, band, band-result, no-band, key, schedule
    name: str
    year: int
    text: str
    a: ast.Span | None = None  # where the item stands in A's file (None: not in A)
    b: ast.Span | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "fiscal_year": self.year, "text": self.text,
                "a": loc(self.a) if self.a else None, "b": loc(self.b) if self.b else None}


class CauseFinder:
    """Walks a name's dependencies in both versions at once and names the differing items on the path.

    `column_causes` finds, for many municipalities at once, what the walk for each one alone
    would find (the oracle in tests/cause_oracle.py): the rows are carried through the walk
    as index arrays, grouped where their paths part (the band each fell in, the branch of an
    `if` each took, the year a `[year]` reached), and the causes of a row are kept as the id of
    a tuple in a table of distinct tuples. Names walked once for every municipality (a
    prefecture value, the terms of a sum) take the one-walk path (`_node` with ALL).
    """

    def __init__(self, ev_a: ColumnEvaluator, ev_b: ColumnEvaluator):
        self.ev = {"a": ev_a, "b": ev_b}
        self.a, self.b = ev_a.version, ev_b.version
        self.n = ev_a.n
        years = tuple(ev_a.data.years) + tuple(ev_b.data.years)
        self.year_lo = (min(years) if years else 2000) - MAX_YEAR_DEPTH
        self._memo: dict = {}
        self._active: set = set()
        self._differing: dict = {}
        self._uniform: dict = {}
        self._plans: dict = {}  # id(expression) -> (expression, _ref_plan of it)
        self._sigs: list[tuple] = [()]  # id -> a tuple of causes (0: none)
        self._sig_id: dict = {(): 0}
        self._joined: dict = {}  # (id, id) -> id of the joined tuple
        self._vmemo: dict = {}
        self._vactive: set = set()
        self._masks: dict = {}
        self._evals: dict = {}

    def causes(self, name: str, year: int, who: int) -> tuple[Cause, ...]:
        """Why `name` in `year` differs for municipality `who` (an index, or ALL)."""
        if who == ALL:
            return self._node(name, year, (), (), who, True)
        return self._sigs[int(self.column_causes(name, year, np.array([who]))[who])]

    def column_causes(self, name: str, year: int, rows) -> np.ndarray:
        """Cause-tuple ids (see `signature`) of each municipality in rows (an index array), as an array over all n."""
        sig = self._vnode(name, year, (), (), np.asarray(rows, dtype=np.int64), True)
        return np.full(self.n, sig, dtype=np.int64) if np.isscalar(sig) or isinstance(sig, int) else sig

    def signature(self, sig_id: int) -> tuple[Cause, ...]:
        return self._sigs[sig_id]

    # -- tuples of causes by id --
    def _intern(self, causes) -> int:
        t = tuple(dict.fromkeys(causes))
        i = self._sig_id.get(t)
        if i is None:
            i = self._sig_id[t] = len(self._sigs)
            self._sigs.append(t)
        return i

    def _join_ids(self, x: int, y: int) -> int:
        if y == 0 or x == y:
            return x
        if x == 0:
            return y
        key = (x, y)
        hit = self._joined.get(key)
        if hit is None:
            hit = self._joined[key] = self._intern(self._sigs[x] + self._sigs[y])
        return hit

    def _cat(self, rows, parts) -> "np.ndarray | int":
        """Per row in rows, the parts' causes one after another (each part an id for every row, or an array over n)."""
        acc = 0
        for p in parts:
            if isinstance(p, (int, np.integer)):
                p = int(p)
                if p == 0:
                    continue
                if isinstance(acc, int):
                    acc = self._join_ids(acc, p)
                    continue
                ids = acc[rows]
                uniq, inv = np.unique(ids, return_inverse=True)
                joined = np.array([self._join_ids(int(u), p) for u in uniq], dtype=np.int64)
                acc = acc.copy()
                acc[rows] = joined[inv]
                continue
            if isinstance(acc, int):
                if acc == 0:
                    acc = p
                    continue
                acc = np.full(self.n, acc, dtype=np.int64)
            a, b = acc[rows], p[rows]
            key = a * (len(self._sigs) + 1) + b
            uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
            joined = np.array([self._join_ids(int(a[f]), int(b[f])) for f in first], dtype=np.int64)
            acc = acc.copy()
            acc[rows] = joined[inv]
        return acc

    def _pick(self, rows, groups) -> "np.ndarray | int":
        """One array over n from (rows of a group, that group's ids) pairs; rows outside every group get 0."""
        out = np.zeros(self.n, dtype=np.int64)
        for grows, sig in groups:
            if len(grows):
                out[grows] = sig[grows] if not isinstance(sig, (int, np.integer)) else sig
        return out

    # -- rows --
    def _differing_mask(self, name, year, ova, ovb):
        """Per municipality, whether a name's values differ under A and B; None for a prefecture value walked once for all."""
        key = (name, year, ova, ovb)
        if key in self._masks:
            return self._masks[key]
        va, vb = self.ev["a"].fast(name, year, ova), self.ev["b"].fast(name, year, ovb)
        if name not in KEY_NAMES and not is_col(va) and not is_col(vb) and self._uniform_walk(name, year):
            mask = None
        else:
            mask = differs(self.ev["a"], va, vb)
        self._masks[key] = mask
        return mask

    def _fast_eval(self, side: str, e, year: int, ov: tuple):
        """An expression's column value, made once per (side, expression, year, overrides): the same value object
        for the same `with` keeps the evaluator's memo keys and this walk's alike."""
        key = (side, id(e), year, ov)
        hit = self._evals.get(key)
        if hit is None or hit[0] is not e:
            hit = self._evals[key] = (e, self.ev[side].run(e, "a formula", year, ov))
        return hit[1]

    def _truth_rows(self, v, rows):
        """(undefined, true) for rows of a condition's value, as Python's truth of the reference's values."""
        if not is_col(v):
            return np.full(len(rows), is_undef(v)), np.full(len(rows), (not is_undef(v)) and bool(v))
        und = np.zeros(len(rows), dtype=bool) if v.rid is None else v.rid[rows] >= 0
        if type(v) is BoolCol:
            return und, v.b[rows] & ~und
        ops = self.ev["a"].ops
        vals = [ops.entry(v, int(i)) for i in rows]
        return und, np.array([(not is_undef(x)) and bool(x) for x in vals], dtype=bool)

    def _year_rows(self, v, rows, none: int):
        """The fiscal year each row of a year value reaches (none where undefined)."""
        if not is_col(v):
            return np.full(len(rows), none if is_undef(v) else int(v), dtype=np.int64)
        ops = self.ev["a"].ops
        return np.array([none if is_undef(y) else int(y) for y in (ops.entry(v, int(i)) for i in rows)], dtype=np.int64)

    # -- names, many municipalities at once --
    def _vnode(self, name, year, ova, ovb, rows, root=False):
        if len(rows) == 0:
            return 0
        differing = self._differing_mask(name, year, ova, ovb)
        if differing is None:  # one walk serves every municipality
            return self._intern(self._node(name, year, ova, ovb, ALL, root))
        key = (name, year, ova, ovb, root)
        hit = self._vmemo.get(key)
        want = rows if root else rows[differing[rows]]
        if len(want) == 0:
            return 0
        if hit is not None and hit[0][want].all():
            return hit[1]
        if key in self._vactive:
            return 0
        # Every row that differs is walked at once: later callers need a subset of them.
        todo = np.flatnonzero(differing | _mask(self.n, want)) if root else np.flatnonzero(differing)
        self._vactive.add(key)
        try:
            sig = self._vnode_causes(name, year, ova, ovb, todo, root)
        finally:
            self._vactive.discard(key)
        out = np.zeros(self.n, dtype=np.int64)  # a row whose values are equal has no cause
        out[todo] = sig if isinstance(sig, (int, np.integer)) else sig[todo]
        self._vmemo[key] = (_mask(self.n, todo), out)
        return out

    def _vnode_causes(self, name, year, ova, ovb, rows, root):
        if name in KEY_NAMES or year < self.year_lo:
            return 0
        if any(n == name for n, _ in ova) or any(n == name for n, _ in ovb):
            return 0  # overridden by `with`: its value expression was walked where it was set
        ia, ib = self.ev["a"].lookup(name, year), self.ev["b"].lookup(name, year)
        fy = FiscalYear(year).both
        if ia is None and ib is None:
            return 0
        if ia is None or ib is None:
            present = ib if ia is None else ia
            item = present.item if isinstance(present, NotInForce) else present
            if ia is None:
                out = [self._intern([Cause("added", name, year, f"{_named(name, item)}: added in {self.b.id} ({loc(item.span)})", None, item.span)])]
            else:
                out = [self._intern([Cause("removed", name, year, f"{_named(name, item)}: removed in {self.b.id} (was {loc(item.span)})", item.span, None)])]
            if root and not isinstance(present, NotInForce):
                out.append(self._vitem(present, "a" if ib is None else "b", name, year, ova, ovb, rows))
            return self._cat(rows, out)
        nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
        if nia or nib:
            if nia and nib:
                return 0
            gone, there = (ia, ib) if nia else (ib, ia)
            there_v = self.b if nia else self.a
            text = f"{gone.reason} ({loc(gone.item.span)}); {there_v.id} has {_named(name, there)} in force ({loc(there.span)})"
            out = [self._intern([Cause("not-in-force", name, year, text, ia.item.span if nia else ia.span, ib.item.span if nib else ib.span)])]
            if root:
                out.append(self._vitem(there, "b" if nia else "a", name, year, ova, ovb, rows))
            return self._cat(rows, out)
        if type(ia) is not type(ib):
            text = f"{name}: a {_kind(ia)} in {self.a.id} ({loc(ia.span)}), a {_kind(ib)} in {self.b.id} ({loc(ib.span)})"
            return self._cat(rows, [self._intern([Cause("kind", name, year, text, ia.span, ib.span)]),
                                    self._vitem(ia, "a", name, year, ova, ovb, rows), self._vitem(ib, "b", name, year, ova, ovb, rows)])
        if isinstance(ia, ast.InputDecl):
            if _core(ia) == _core(ib):
                return 0
            what = []
            for field in ("scope", "unit", "columns"):
                x, y = getattr(ia, field), getattr(ib, field)
                if x != y:
                    what.append(f"{field} {_show_field(x)} → {_show_field(y)}")
            return self._intern([Cause("input", name, year, f"input {_named(name, ib)}: declaration changed, {'; '.join(what)} ({loc(ia.span)} → {loc(ib.span)})", ia.span, ib.span)])
        if isinstance(ia, ast.Definition):
            if _core(ia) == _core(ib):
                return self._vexpr(ia.expr, year, ova, ovb, rows, "ab")
            unit = f" (unit {ia.unit} → {ib.unit})" if ia.unit != ib.unit else ""
            text = f"{_named(name, ib)}: formula changed{unit}: {expr_text(ia.expr)} ({loc(ia.span)}) → {expr_text(ib.expr)} ({loc(ib.span)})"
            return self._cat(rows, [self._intern([Cause("formula", name, year, text, ia.span, ib.span)]),
                                    self._vexpr(ia.expr, year, ova, ovb, rows, "a"), self._vexpr(ib.expr, year, ova, ovb, rows, "b")])
        if isinstance(ia, ast.Schedule):
            ea, eb = _entry_for(ia, year), _entry_for(ib, year)
            if ea is not None and eb is not None and ea.value == eb.value and ia.unit == ib.unit:
                return self._vexpr(ea.value, year, ova, ovb, rows, "ab")
            ta = f"{expr_text(ea.value)} ({loc(ea.span)})" if ea else f"no entry ({loc(ia.span)})"
            tb = f"{expr_text(eb.value)} ({loc(eb.span)})" if eb else f"no entry ({loc(ib.span)})"
            out = [self._intern([Cause("schedule", name, year, f"{name} {fy}: {ta} → {tb}", ea.span if ea else ia.span, eb.span if eb else ib.span)])]
            if ea:
                out.append(self._vexpr(ea.value, year, ova, ovb, rows, "a"))
            if eb:
                out.append(self._vexpr(eb.value, year, ova, ovb, rows, "b"))
            return self._cat(rows, out)
        if isinstance(ia, ast.Table):
            return self._vtable(name, ia, ib, year, ova, ovb, rows)
        return 0

    def _choices(self, side, name, year, ov):
        """The band index of every municipality (-1: none) after computing the table's value."""
        ev = self.ev[side]
        ev.fast(name, year, ov)
        arr = ev.band_choice_array(name, year, ov)
        if arr is None:
            return np.full(self.n, -1, dtype=np.int64)
        return np.broadcast_to(arr, (self.n,)) if len(arr) == 1 else arr

    def _vitem(self, item, side, name, year, ova, ovb, rows):
        """The dependencies of an item present on one side only (root level: why it has its value)."""
        if isinstance(item, ast.Definition):
            return self._vexpr(item.expr, year, ova, ovb, rows, side)
        if isinstance(item, ast.Schedule):
            e = _entry_for(item, year)
            return self._vexpr(e.value, year, ova, ovb, rows, side) if e else 0
        if isinstance(item, ast.Table):
            choice = self._choices(side, name, year, ova if side == "a" else ovb)
            key = self._vexpr(item.key, year, ova, ovb, rows, side)
            groups = []
            for idx in np.unique(choice[rows]).tolist():
                if idx >= 0:
                    grows = rows[choice[rows] == idx]
                    groups.append((grows, self._vexpr(item.bands[idx].result, year, ova, ovb, grows, side)))
            return self._cat(rows, [key, self._pick(rows, groups)])
        return 0

    def _vtable(self, name, ta: ast.Table, tb: ast.Table, year, ova, ovb, rows):
        parts = []
        if ta.key == tb.key:
            parts.append(self._vexpr(ta.key, year, ova, ovb, rows, "ab"))
        else:
            parts.append(self._intern([Cause("key", name, year, f"{_named(name, tb)}: looked up by {expr_text(ta.key)} ({loc(ta.span)}) → {expr_text(tb.key)} ({loc(tb.span)})", ta.span, tb.span)]))
            parts.append(self._vexpr(ta.key, year, ova, ovb, rows, "a"))
            parts.append(self._vexpr(tb.key, year, ova, ovb, rows, "b"))
        ca, cb = self._choices("a", name, year, ova)[rows], self._choices("b", name, year, ovb)[rows]
        groups = []
        pairs = np.unique(np.stack([ca, cb], axis=1), axis=0) if len(rows) else np.zeros((0, 2), dtype=np.int64)
        for ia_, ib_ in pairs.tolist():
            grows = rows[(ca == ia_) & (cb == ib_)]
            ba = ta.bands[ia_] if ia_ >= 0 else None
            bb = tb.bands[ib_] if ib_ >= 0 else None
            if ba is None and bb is None:
                continue
            out: list = []
            if ba is None or bb is None:
                missing, vid = (self.a.id, ta) if ba is None else (self.b.id, tb)
                there = bb if ba is None else ba
                out.append(self._intern([Cause("no-band", name, year, f"{name}: the key falls in no band in {missing} ({loc(vid.span)}); band {_band_desc(there)} in the other ({loc(there.span)})",
                                               ba.span if ba else ta.span, bb.span if bb else tb.span)]))
            else:
                out.append(self._intern(_band_causes(name, year, ta, tb, ba, bb)))
            if ba is not None and bb is not None and ba.result == bb.result:
                out.append(self._vexpr(ba.result, year, ova, ovb, grows, "ab"))
            else:
                if ba is not None:
                    out.append(self._vexpr(ba.result, year, ova, ovb, grows, "a"))
                if bb is not None:
                    out.append(self._vexpr(bb.result, year, ova, ovb, grows, "b"))
            groups.append((grows, self._cat(grows, out)))
        parts.append(self._pick(rows, groups))
        return self._cat(rows, parts)

    # -- expressions, many municipalities at once --
    def _vexpr(self, e, year, ova, ovb, rows, sides: str):
        if len(rows) == 0:
            return 0
        plan = self._plans.get(id(e))
        if plan is None or plan[0] is not e:
            plan = self._plans[id(e)] = (e, _ref_plan(e))
        if plan[1] is not None:  # no if / [year] / with inside: the names it refers to, in order
            return self._cat(rows, [self._intern(self._node(name, year, ova, ovb, ALL)) if inside_aggregate else self._vnode(name, year, ova, ovb, rows)
                                    for name, inside_aggregate in plan[1]])
        if isinstance(e, ast.Ref):
            return self._vnode(e.name, year, ova, ovb, rows)
        if isinstance(e, ast.AtYear):
            return self._vat_year(e, year, ova, ovb, rows, sides)
        if isinstance(e, ast.Call):
            if e.function in AGGREGATES:
                return self._intern([c for a in e.args for c in self._expr(a, year, ova, ovb, ALL, sides)])
            args = e.args[:2] if e.function == "round" else e.args
            return self._cat(rows, [self._vexpr(a, year, ova, ovb, rows, sides) for a in args])
        if isinstance(e, ast.If):
            return self._vif(e, year, ova, ovb, rows, sides)
        if isinstance(e, ast.With):
            first = self._vexpr(e.value, year, ova, ovb, rows, sides)
            new = {}
            for side, ov in (("a", ova), ("b", ovb)):
                new[side] = with_override(ov, e.name, self._fast_eval(side, e.value, year, ov))
            return self._cat(rows, [first, self._vexpr(e.body, year, new["a"], new["b"], rows, sides)])
        if isinstance(e, ast.Unary):
            return self._vexpr(e.operand, year, ova, ovb, rows, sides)
        if isinstance(e, ast.Binary):
            return self._cat(rows, [self._vexpr(e.left, year, ova, ovb, rows, sides), self._vexpr(e.right, year, ova, ovb, rows, sides)])
        return 0

    def _vat_year(self, e, year, ova, ovb, rows, sides):
        first = self._vexpr(e.year, year, ova, ovb, rows, sides)
        NONE = -(10**9)
        per_side = []
        for side in sides:
            per_side.append(self._year_rows(self._fast_eval(side, e.year, year, ova if side == "a" else ovb), rows, NONE))
        while len(per_side) < 2:
            per_side.append(np.full(len(rows), NONE, dtype=np.int64))
        ya, yb = per_side
        groups = []
        for a_y, b_y in np.unique(np.stack([ya, yb], axis=1), axis=0).tolist():
            grows = rows[(ya == a_y) & (yb == b_y)]
            years = sorted({y for y in (a_y, b_y) if y != NONE}, reverse=True)
            groups.append((grows, self._cat(grows, [self._vnode(e.target.name, y, ova, ovb, grows) for y in years])))
        return self._cat(rows, [first, self._pick(rows, groups)])

    def _vif(self, e: ast.If, year, ova, ovb, rows, sides):
        """Only the conditions that were tested and the branches that were taken matter."""
        k = len(e.branches)
        tested = np.zeros(len(rows), dtype=np.int64)
        taken = []
        for side in sides:
            ov = ova if side == "a" else ovb
            t_side = np.full(len(rows), k, dtype=np.int64)
            took = np.full(len(rows), k, dtype=np.int64)
            open_ = np.ones(len(rows), dtype=bool)
            for j, (c, _) in enumerate(e.branches):
                if not open_.any():
                    break
                und, true = self._truth_rows(self._fast_eval(side, c, year, ov), rows)
                und &= open_
                true &= open_
                t_side[und | true] = j + 1
                took[und] = -1
                took[true] = j
                open_ &= ~(und | true)
            tested = np.maximum(tested, t_side)
            taken.append(took)
        while len(taken) < 2:
            taken.append(np.full(len(rows), -1, dtype=np.int64))
        cond_parts = {}
        for j in range(int(tested.max()) if len(rows) else 0):
            crows = rows[tested > j]
            cond_parts[j] = self._vexpr(e.branches[j][0], year, ova, ovb, crows, sides)
        branch_parts = {}
        for j in range(k + 1):
            brows = rows[(taken[0] == j) | (taken[1] == j)]
            if len(brows):
                branch_parts[j] = self._vexpr(e.branches[j][1] if j < k else e.otherwise, year, ova, ovb, brows, sides)
        groups = []
        keys = np.stack([tested, taken[0], taken[1]], axis=1)
        for t, a_j, b_j in np.unique(keys, axis=0).tolist():
            grows = rows[(tested == t) & (taken[0] == a_j) & (taken[1] == b_j)]
            seq = [cond_parts[j] for j in range(t)] + [branch_parts[j] for j in sorted({a_j, b_j} - {-1})]
            groups.append((grows, self._cat(grows, seq)))
        return self._pick(rows, groups)

    # -- values --
    def _uniform_walk(self, name: str, year: int) -> bool:
        """Whether walking a prefecture value's causes never looks at one municipality's values.

        A `with` can set a municipal value inside it, a table's band can yield one, and a
        [year] can reach anything: a value with one of those below it (outside sum(), mean()
        and count(), which are walked for every municipality anyway) is walked row by row.
        """
        key = (name, year)
        hit = self._uniform.get(key)
        if hit is None:
            self._uniform[key] = False  # a cycle: walk row by row
            hit = self._uniform[key] = all(self._uniform_item(self.ev[side].at(year).lookup(name), year) for side in "ab")
        return hit

    def _uniform_item(self, item, year: int) -> bool:
        if item is None or isinstance(item, ast.InputDecl):
            return True
        if isinstance(item, NotInForce):
            item = item.item
        if isinstance(item, ast.Definition):
            return self._uniform_expr(item.expr, year)
        if isinstance(item, ast.Schedule):
            entry = _entry_for(item, year)
            return entry is None or self._uniform_expr(entry.value, year)
        return False  # a table, or anything else

    def _uniform_expr(self, e, year: int) -> bool:
        if isinstance(e, ast.Ref):
            return e.name in KEY_NAMES or self._uniform_walk(e.name, year)
        if isinstance(e, (ast.With, ast.AtYear)):
            return False
        if isinstance(e, ast.Call) and e.function in AGGREGATES:
            return True
        return all(self._uniform_expr(c, year) for c in children(e))

    # -- names walked once for every municipality (a prefecture value, the terms of sum(), mean(), count()) --
    def _node(self, name, year, ova, ovb, who=ALL, root=False) -> tuple[Cause, ...]:
        """Why a name differs, for all municipalities together: the causes met on any of their paths."""
        key = (name, year, ova, ovb, root)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if key in self._active:
            return ()
        self._active.add(key)
        try:
            out = self._node_causes(name, year, ova, ovb, root)
        finally:
            self._active.discard(key)
        out = tuple(dict.fromkeys(out))
        self._memo[key] = out
        return out

    def _node_causes(self, name, year, ova, ovb, root) -> list:
        if name in KEY_NAMES or year < self.year_lo:
            return []
        if any(n == name for n, _ in ova) or any(n == name for n, _ in ovb):
            return []  # overridden by `with`: its value expression was walked where it was set
        if not root and not differs(self.ev["a"], self.ev["a"].fast(name, year, ova), self.ev["b"].fast(name, year, ovb)).any():
            return []  # equal under A and B: nothing below can be a cause
        ia, ib = self.ev["a"].lookup(name, year), self.ev["b"].lookup(name, year)
        fy = FiscalYear(year).both
        if ia is None and ib is None:
            return []
        if ia is None or ib is None:
            present = ib if ia is None else ia
            item = present.item if isinstance(present, NotInForce) else present
            if ia is None:
                out = [Cause("added", name, year, f"{_named(name, item)}: added in {self.b.id} ({loc(item.span)})", None, item.span)]
            else:
                out = [Cause("removed", name, year, f"{_named(name, item)}: removed in {self.b.id} (was {loc(item.span)})", item.span, None)]
            if root and not isinstance(present, NotInForce):
                out += self._item(present, "a" if ib is None else "b", name, year, ova, ovb)
            return out
        nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
        if nia or nib:
            if nia and nib:
                return []
            gone, there = (ia, ib) if nia else (ib, ia)
            there_v = self.b if nia else self.a
            text = f"{gone.reason} ({loc(gone.item.span)}); {there_v.id} has {_named(name, there)} in force ({loc(there.span)})"
            out = [Cause("not-in-force", name, year, text, ia.item.span if nia else ia.span, ib.item.span if nib else ib.span)]
            if root:
                out += self._item(there, "b" if nia else "a", name, year, ova, ovb)
            return out
        if type(ia) is not type(ib):
            text = f"{name}: a {_kind(ia)} in {self.a.id} ({loc(ia.span)}), a {_kind(ib)} in {self.b.id} ({loc(ib.span)})"
            return [Cause("kind", name, year, text, ia.span, ib.span)] + self._item(ia, "a", name, year, ova, ovb) + self._item(ib, "b", name, year, ova, ovb)
        if isinstance(ia, ast.InputDecl):
            if _core(ia) == _core(ib):
                return []
            what = []
            for field in ("scope", "unit", "columns"):
                x, y = getattr(ia, field), getattr(ib, field)
                if x != y:
                    what.append(f"{field} {_show_field(x)} → {_show_field(y)}")
            return [Cause("input", name, year, f"input {_named(name, ib)}: declaration changed, {'; '.join(what)} ({loc(ia.span)} → {loc(ib.span)})", ia.span, ib.span)]
        if isinstance(ia, ast.Definition):
            if _core(ia) == _core(ib):
                return self._expr(ia.expr, year, ova, ovb, ALL, "ab")
            unit = f" (unit {ia.unit} → {ib.unit})" if ia.unit != ib.unit else ""
            text = f"{_named(name, ib)}: formula changed{unit}: {expr_text(ia.expr)} ({loc(ia.span)}) → {expr_text(ib.expr)} ({loc(ib.span)})"
            return [Cause("formula", name, year, text, ia.span, ib.span)] + self._expr(ia.expr, year, ova, ovb, ALL, "a") + self._expr(ib.expr, year, ova, ovb, ALL, "b")
        if isinstance(ia, ast.Schedule):
            ea, eb = _entry_for(ia, year), _entry_for(ib, year)
            if ea is not None and eb is not None and ea.value == eb.value and ia.unit == ib.unit:
                return self._expr(ea.value, year, ova, ovb, ALL, "ab")
            ta = f"{expr_text(ea.value)} ({loc(ea.span)})" if ea else f"no entry ({loc(ia.span)})"
            tb = f"{expr_text(eb.value)} ({loc(eb.span)})" if eb else f"no entry ({loc(ib.span)})"
            out = [Cause("schedule", name, year, f"{name} {fy}: {ta} → {tb}", ea.span if ea else ia.span, eb.span if eb else ib.span)]
            if ea:
                out += self._expr(ea.value, year, ova, ovb, ALL, "a")
            if eb:
                out += self._expr(eb.value, year, ova, ovb, ALL, "b")
            return out
        if isinstance(ia, ast.Table):
            return self._table(name, ia, ib, year, ova, ovb)
        return []

    def _item(self, item, side, name, year, ova, ovb) -> list:
        """The dependencies of an item present on one side only (root level: why it has its value)."""
        if isinstance(item, ast.Definition):
            return self._expr(item.expr, year, ova, ovb, ALL, side)
        if isinstance(item, ast.Schedule):
            e = _entry_for(item, year)
            return self._expr(e.value, year, ova, ovb, ALL, side) if e else []
        if isinstance(item, ast.Table):
            choice = self._choices(side, name, year, ova if side == "a" else ovb)
            out = self._expr(item.key, year, ova, ovb, ALL, side)
            for idx in np.unique(choice).tolist():
                if idx >= 0:
                    out += self._expr(item.bands[idx].result, year, ova, ovb, ALL, side)
            return out
        return []

    def _table(self, name, ta: ast.Table, tb: ast.Table, year, ova, ovb) -> list:
        out: list = []
        if ta.key == tb.key:
            out += self._expr(ta.key, year, ova, ovb, ALL, "ab")
        else:
            out.append(Cause("key", name, year, f"{_named(name, tb)}: looked up by {expr_text(ta.key)} ({loc(ta.span)}) → {expr_text(tb.key)} ({loc(tb.span)})", ta.span, tb.span))
            out += self._expr(ta.key, year, ova, ovb, ALL, "a") + self._expr(tb.key, year, ova, ovb, ALL, "b")
        ca, cb = self._choices("a", name, year, ova), self._choices("b", name, year, ovb)
        for ia_, ib_ in np.unique(np.stack([ca, cb], axis=1), axis=0).tolist():  # (-1: no band) sorts first, as None did
            ba = ta.bands[ia_] if ia_ >= 0 else None
            bb = tb.bands[ib_] if ib_ >= 0 else None
            if ba is None and bb is None:
                continue
            if ba is None or bb is None:
                missing, vid = (self.a.id, ta) if ba is None else (self.b.id, tb)
                there = bb if ba is None else ba
                out.append(Cause("no-band", name, year, f"{name}: the key falls in no band in {missing} ({loc(vid.span)}); band {_band_desc(there)} in the other ({loc(there.span)})",
                                 ba.span if ba else ta.span, bb.span if bb else tb.span))
            else:
                out += _band_causes(name, year, ta, tb, ba, bb)
            if ba is not None and bb is not None and ba.result == bb.result:
                out += self._expr(ba.result, year, ova, ovb, ALL, "ab")
            else:
                if ba is not None:
                    out += self._expr(ba.result, year, ova, ovb, ALL, "a")
                if bb is not None:
                    out += self._expr(bb.result, year, ova, ovb, ALL, "b")
        return out

    # -- expressions, for all municipalities together --
    def _expr(self, e, year, ova, ovb, who, sides: str) -> list:
        plan = self._plans.get(id(e))
        if plan is None or plan[0] is not e:
            plan = self._plans[id(e)] = (e, _ref_plan(e))
        if plan[1] is not None:  # no if / [year] / with inside: the names it refers to, in order
            out = []
            for name, _ in plan[1]:
                out += self._node(name, year, ova, ovb, ALL)
            return out
        if isinstance(e, ast.Ref):
            return list(self._node(e.name, year, ova, ovb, ALL))
        everyone = np.arange(self.n)
        if isinstance(e, ast.AtYear):
            out = self._expr(e.year, year, ova, ovb, ALL, sides)
            NONE = -(10**9)
            years = set()
            for side in sides:
                ys = self._year_rows(self._fast_eval(side, e.year, year, ova if side == "a" else ovb), everyone, NONE)
                years |= set(np.unique(ys).tolist()) - {NONE}
            for y in sorted(years, reverse=True):
                out += self._node(e.target.name, y, ova, ovb, ALL)
            return out
        if isinstance(e, ast.Call):
            if e.function in AGGREGATES:
                return [c for a in e.args for c in self._expr(a, year, ova, ovb, ALL, sides)]
            args = e.args[:2] if e.function == "round" else e.args
            return [c for a in args for c in self._expr(a, year, ova, ovb, ALL, sides)]
        if isinstance(e, ast.If):
            return self._if(e, year, ova, ovb, sides)
        if isinstance(e, ast.With):
            out = self._expr(e.value, year, ova, ovb, ALL, sides)
            new = {side: with_override(ov, e.name, self._fast_eval(side, e.value, year, ov)) for side, ov in (("a", ova), ("b", ovb))}
            return out + self._expr(e.body, year, new["a"], new["b"], ALL, sides)
        if isinstance(e, ast.Unary):
            return self._expr(e.operand, year, ova, ovb, ALL, sides)
        if isinstance(e, ast.Binary):
            return self._expr(e.left, year, ova, ovb, ALL, sides) + self._expr(e.right, year, ova, ovb, ALL, sides)
        return []

    def _if(self, e: ast.If, year, ova, ovb, sides) -> list:
        """Only the conditions that were tested (by any municipality) and the branches that were taken matter."""
        k = len(e.branches)
        everyone = np.arange(self.n)
        tested = 0
        taken: set = set()
        for side in sides:
            ov = ova if side == "a" else ovb
            open_ = np.ones(self.n, dtype=bool)
            for j, (c, _) in enumerate(e.branches):
                if not open_.any():
                    break
                und, true = self._truth_rows(self._fast_eval(side, c, year, ov), everyone)
                hit = open_ & (und | true)
                if hit.any():
                    tested = max(tested, j + 1)
                if (open_ & true & ~und).any():
                    taken.add(j)
                open_ &= ~(und | true)
            if open_.any():
                tested = k
                taken.add(k)
        out = []
        for j in range(tested):
            out += self._expr(e.branches[j][0], year, ova, ovb, ALL, sides)
        for j in sorted(taken):
            out += self._expr(e.branches[j][1] if j < k else e.otherwise, year, ova, ovb, ALL, sides)
        return out


def _mask(n: int, rows) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


def differs(ev: ColumnEvaluator, va, vb) -> np.ndarray:
    """Per municipality, whether two values are not `same`."""
    return ev.differs(va, vb)


def _ref_plan(e, inside_aggregate: bool = False):
    """The (name, inside sum/mean/count) pairs an expression refers to, in the order CauseFinder._expr
    walks them; None when it holds an if, a [year] or a with, whose walk depends on values."""
    if isinstance(e, ast.Ref):
        return ((e.name, inside_aggregate),)
    if isinstance(e, (ast.If, ast.AtYear, ast.With)):
        return None
    if isinstance(e, ast.Call):
        aggregate = inside_aggregate or e.function in AGGREGATES
        parts = [_ref_plan(a, aggregate) for a in (e.args[:2] if e.function == "round" else e.args)]
    elif isinstance(e, ast.Unary):
        parts = [_ref_plan(e.operand, inside_aggregate)]
    elif isinstance(e, ast.Binary):
        parts = [_ref_plan(e.left, inside_aggregate), _ref_plan(e.right, inside_aggregate)]
    else:
        return ()
    if any(p is None for p in parts):
        return None
    return tuple(x for p in parts for x in p)


def _band_causes(name: str, year: int, ta: ast.Table, tb: ast.Table, ba: ast.Band, bb: ast.Band) -> list:
    """The table's own part in a change: the band fallen in under B, or under A, is not in the other table.

    A band both tables share (same bounds, same result) is no cause even when the municipality
    moved into it: then the key moved, and the key's own causes say why.
    """
    def twin(band, table):  # the band of `table` with the same bounds, if any
        return next((x for x in table.bands if _band_core(x)[:4] == _band_core(band)[:4]), None)

    def shared(band, table):
        return any(_band_core(x) == _band_core(band) for x in table.bands)

    if not shared(bb, ta):
        old = twin(bb, ta)
        if old is not None:
            text = f"{name} band {_band_desc(bb)}: result {_band_result(old)} ({loc(old.span)}) → {_band_result(bb)} ({loc(bb.span)})"
            return [Cause("band-result", name, year, text, old.span, bb.span)]
        text = f"{name} band {_band_desc(bb)} ({loc(bb.span)}) replaces {_band_desc(ba)} ({loc(ba.span)})"
        if ba.result != bb.result:
            text += f"; result {_band_result(ba)} → {_band_result(bb)}"
        return [Cause("band", name, year, text, ba.span, bb.span)]
    if not shared(ba, tb):
        new = twin(ba, tb)
        if new is not None:
            text = f"{name} band {_band_desc(ba)}: result {_band_result(ba)} ({loc(ba.span)}) → {_band_result(new)} ({loc(new.span)})"
            return [Cause("band-result", name, year, text, ba.span, new.span)]
        text = f"{name} band {_band_desc(ba)} ({loc(ba.span)}) is gone; {_band_desc(bb)} ({loc(bb.span)}) applies"
        return [Cause("band", name, year, text, ba.span, bb.span)]
    return []


def _choice(choices: tuple, i: int):
    """The band municipality i fell in; a table over a prefecture value has one choice for all."""
    if len(choices) == 1:
        return choices[0]
    return choices[i] if i < len(choices) else None


def _show_field(x) -> str:
    if isinstance(x, tuple):
        return ", ".join(f'"{c}"' for c in x)
    return str(x)


def _band_desc(b: ast.Band) -> str:
    return f'{b.interval} "{b.label}"' if b.label else b.interval


def _band_result(b: ast.Band) -> str:
    return b.wording or expr_text(b.result)


# ---- the outcome diff -------------------------------------------------------------------


@attrs.frozen
class Change:
    """One municipality-year-definition: the value under A and B, B - A, and why they differ."""

    year: int
    municipality: object  # data.Municipality
    name: str
    unit: str
    a: object
    b: object
    status: str  # unchanged | changed | undefined-in-a | undefined-in-b
    delta: Fraction | None  # B - A for numbers defined on both sides
    causes: tuple[Cause, ...] = ()

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


STATUS = ("unchanged", "changed", "undefined-in-a", "undefined-in-b")
_GROUP = {"delta": 0, "undefined": 1, "changed": 2, "unchanged": 4}  # the order of rows within a definition


class Block:
    """One (year, definition) of an outcome diff over every municipality, as columns.

    status: index into STATUS per municipality; delta: B - A (Delta); sig: the id of each
    changed row's causes in the diff's CauseFinder (0: none).
    """

    __slots__ = ("year", "name", "unit", "numeric", "va", "vb", "status", "delta", "sig")

    def __init__(self, year, name, unit, numeric, va, vb, status, delta, sig):
        self.year, self.name, self.unit, self.numeric = year, name, unit, numeric
        self.va, self.vb, self.status, self.delta, self.sig = va, vb, status, delta, sig


class Delta:
    """B - A per municipality: int64 numerators over den where they fit (num), else exact values (values);
    None where no difference is defined (a side undefined, or not numbers)."""

    def __init__(self, n: int, defined, num=None, den: int = 1, values=None):
        self.n, self.defined, self.num, self.den, self.values = n, defined, num, den, values

    def at(self, i: int):
        if not self.defined[i]:
            return None
        if self.num is not None:
            x = int(self.num[i])
            return x if self.den == 1 else Fraction(x, self.den)
        return self.values[i]

    def passes(self, rows, threshold: Fraction | None) -> np.ndarray:
        """|delta| >= threshold for rows (True where no delta is defined: nothing to hold back)."""
        out = np.ones(len(rows), dtype=bool)
        if threshold is None or not len(rows):
            return out
        have = self.defined[rows]
        if self.num is not None and int(np.abs(self.num[rows]).max()) * threshold.denominator < INT_LIMIT \
                and threshold.numerator * self.den < INT_LIMIT:
            big = np.abs(self.num[rows]) * threshold.denominator >= threshold.numerator * self.den
            return np.where(have, big, True)
        for k, i in enumerate(rows.tolist()):
            if have[k]:
                out[k] = abs(self.at(i)) >= threshold
        return out


def _delta(ev: ColumnEvaluator, va, vb, defined) -> Delta:
    """B - A where both are defined numbers, exactly."""
    n = ev.n
    if all(type(v) is Num or (not is_col(v) and not isinstance(v, (bool, str)) and not is_undef(v)) for v in (va, vb)):
        ia, ib, den = scaled_pair(va, vb, with_den=True)
        if ia is not None:
            return Delta(n, defined, num=np.broadcast_to(np.asarray(ib - ia, dtype=np.int64), (n,)), den=den)
    return Delta(n, defined, values=ev.difference(vb, va))


@attrs.frozen
class OutcomeDiff:
    """Every compared municipality-year-definition as blocks of columns; `rows` are the shown ones, in order."""

    a: Version
    b: Version
    years: tuple[int, ...]
    columns: tuple[str, ...]
    blocks: tuple  # Block per (year, definition)
    order: object  # numpy array of (block index, municipality) of the shown rows, in order
    compared: int  # municipality-year-definitions compared
    changed: int  # of which changed (before --min-change and --top)
    shown_changed: int  # changed rows passing --min-change (what --exit-code looks at)
    municipalities: tuple
    ev_a: ColumnEvaluator
    ev_b: ColumnEvaluator
    finder: CauseFinder
    only: tuple | None = None  # -m: the municipalities whose rows are shown (indices); None: all
    _rows: list = attrs.field(factory=list, init=False, eq=False, repr=False)  # the shown Change objects, made on first use

    def item(self, name: str):
        return self.b.items.get(name) or self.a.items.get(name)

    def unit(self, name: str) -> str:
        return getattr(self.item(name), "unit", "text")

    def label(self, name: str) -> str:
        return getattr(self.item(name), "label", None) or name

    @property
    def rows(self) -> tuple[Change, ...]:
        """The shown rows as Change objects (tables, JSON and workbooks read these)."""
        if not self._rows:
            self._rows.append(tuple(self.change(int(k), int(i)) for k, i in self.order.tolist()))
        return self._rows[0]

    def change(self, k: int, i: int) -> Change:
        blk = self.blocks[k]
        ops = self.ev_a.ops
        causes = self.finder.signature(int(blk.sig[i])) if blk.sig is not None else ()
        return Change(blk.year, self.municipalities[i], blk.name, blk.unit, ops.entry(blk.va, i), ops.entry(blk.vb, i),
                      STATUS[int(blk.status[i])], blk.delta.at(i), causes)

    def movers(self, name: str, year: int, top: int) -> tuple[Change, ...]:
        """The `top` largest nonzero changes of a name in a year (largest |B - A| first, then code order)."""
        k = next((k for k, b in enumerate(self.blocks) if b.year == year and b.name == name), None)
        if k is None:
            return ()
        delta = self.blocks[k].delta
        rows = np.flatnonzero(delta.defined)
        if delta.num is not None:
            rows = rows[delta.num[rows] != 0]
            order = np.lexsort((rows, -np.abs(delta.num[rows])))
            rows = rows[order]
        else:
            rows = np.array(sorted((i for i in rows.tolist() if delta.at(i) != 0), key=lambda i: (-abs(delta.at(i)), i)), dtype=np.int64)
        return tuple(self.change(k, int(i)) for i in rows[:top])

    def undefined_values(self):
        """(version id, year, municipality, name, reason) of every undefined value compared, block by block."""
        ops = self.ev_a.ops
        for blk in self.blocks:
            for tag, v in ((self.a.id, blk.va), (self.b.id, blk.vb)):
                if not is_col(v):
                    if is_undef(v):
                        for m in self.municipalities:
                            yield tag, blk.year, m, blk.name, v.reason
                    continue
                if v.rid is None:
                    continue
                for i in np.flatnonzero(v.rid >= 0).tolist():
                    yield tag, blk.year, self.municipalities[i], blk.name, ops.entry(v, i).reason


def parse_min_change(texts) -> dict[str, Fraction]:
    """'0.05pp' -> {'pp': 1/2000}; '100000円' / '100,000yen' -> {'yen': 100000}; '0.01' -> {'number': 1/100}."""
    from .source import number_from_text

    out: dict[str, Fraction] = {}
    for text in texts or ():
        try:
            value, unit = number_from_text(str(text).replace("ｐｐ", "pp"))
        except (ValueError, ZeroDivisionError):
            value, unit = None, None
        if value is None or value < 0 or unit == "percent":
            hint = "; a change of a rate is in percentage points, as in 0.05pp" if unit == "percent" else ""
            raise UsageError(finding("bad-min-change", f"--min-change '{text}' is not an amount like 0.05pp, 100000円 or 0.01{hint}"))
        out[unit] = value
    return out


def _threshold_unit(unit: str) -> str:
    return {"percent": "pp", "pp": "pp", "yen": "yen"}.get(unit, "number")


def _check_columns(a: Version, b: Version, columns) -> tuple[str, ...]:
    if not columns:
        cols = list(default_columns(b))
        cols += [c for c in default_columns(a) if c not in cols]
        return tuple(cols)
    for c in columns:
        ia, ib = a.items.get(c), b.items.get(c)
        ok = [i for i in (ia, ib) if i is not None and not isinstance(i, (ast.Summary, ast.Example))]
        if c not in KEY_NAMES and not ok:
            import difflib

            names = sorted({n for v in (a, b) for n, i in v.items.items() if hasattr(i, "unit")})
            close = difflib.get_close_matches(c, names, n=1, cutoff=0.6)
            raise UsageError(finding("unknown-column", f"neither {a.id} nor {b.id} has a definition '{c}'" + (f"; did you mean '{close[0]}'?" if close else "")))
    return tuple(columns)


def compare(a: Version, b: Version, data_a, data_b, years, columns=None, *, show_all: bool = False,
            min_change=None, top: int | None = None, only=None, causes: bool = True) -> OutcomeDiff:
    """Evaluate A and B over the same data and list the changes with their causes.

    Rows are ordered by definition (in column order), then by absolute change (largest
    first; changes to or from undefined, then true/false and text changes after the
    numbers), then year and code. `top` keeps the N largest of each definition. `only`
    (municipality indices, -m) chooses the rows shown; everything is still computed over all.
    causes=False skips the cause walk (no Change has causes then): for a caller that shows values
    and differences only.
    """
    if top is not None and top < 1:
        raise UsageError(finding("bad-top", f"--top takes a positive number of rows, not {top}"))
    thresholds = min_change if isinstance(min_change, dict) else parse_min_change(min_change)
    columns = _check_columns(a, b, columns)
    ev_a = ColumnEvaluator(a, data_a)
    # What B shares with A is computed once (over the same data: the same columns).
    ev_b = ColumnEvaluator.sharing_with(ev_a, b) if data_b is data_a or data_b is ev_a.data else ColumnEvaluator(b, data_b)
    if tuple(m.code for m in ev_a.data.municipalities) != tuple(m.code for m in ev_b.data.municipalities):
        raise UsageError(finding("data-mismatch", f"the data read for {a.id} and for {b.id} list different municipalities; "
                                 "their input declarations must read the same rows"))
    finder = CauseFinder(ev_a, ev_b)
    n = ev_a.n
    units = {c: getattr(b.items.get(c) or a.items.get(c), "unit", "text") for c in columns}
    unit_pairs = {c: (getattr(a.items.get(c), "unit", None), getattr(b.items.get(c), "unit", None)) for c in columns}
    blocks: list[Block] = []
    changed_total = 0
    for y in years:
        for c in columns:
            va, vb = ev_a.fast(c, y), ev_b.fast(c, y)
            unit = units[c]
            numeric = unit not in ("bool", "text", "year") and (None in unit_pairs[c] or unit_pairs[c][0] == unit_pairs[c][1])
            changed = differs(ev_a, va, vb)
            ua, ub = _undefined_mask(va, n), _undefined_mask(vb, n)
            status = np.zeros(n, dtype=np.int8)
            status[changed] = 1
            status[changed & ua] = 2
            status[changed & ub & ~ua] = 3
            defined = (~ua & ~ub & _is_numeric(va, n) & _is_numeric(vb, n)) if numeric else np.zeros(n, dtype=bool)
            delta = _delta(ev_a, va, vb, defined) if defined.any() else Delta(n, defined, values=[None] * n)
            rows = np.flatnonzero(changed)
            sig = finder.column_causes(c, y, rows) if len(rows) and causes else None
            blocks.append(Block(y, c, unit, numeric, va, vb, status, delta, sig))
            changed_total += len(rows)
    mask = None if only is None else _mask(n, np.asarray(only, dtype=np.int64))
    order, shown_changed = _shown_order(blocks, columns, thresholds, show_all, top, mask)
    return OutcomeDiff(a, b, tuple(years), columns, tuple(blocks), order, len(blocks) * n, changed_total, shown_changed,
                       ev_a.data.municipalities, ev_a, ev_b, finder, None if only is None else tuple(only))


def _undefined_mask(v, n: int) -> np.ndarray:
    if not is_col(v):
        return np.full(n, is_undef(v))
    return np.zeros(n, dtype=bool) if v.rid is None else v.rid >= 0


def _is_numeric(v, n: int) -> np.ndarray:
    """Entries that are numbers (not true/false, not text), whatever their definedness."""
    if not is_col(v):
        return np.full(n, not isinstance(v, (bool, str)) and not is_undef(v))
    return np.full(n, type(v) is Num)


def _shown_order(blocks, columns, thresholds, show_all: bool, top, mask=None):
    """(block, row) of the rows shown, sorted, and how many changed rows pass --min-change.

    Municipalities are in code order, so a row's index is its place in code order. mask: the
    municipalities whose rows may be shown (-m), None for all.
    """
    per_name: dict[str, list] = {c: [] for c in columns}
    shown_changed = 0
    for k, blk in enumerate(blocks):
        changed = blk.status != 0
        rows_changed = np.flatnonzero(changed if mask is None else changed & mask)
        ok = blk.delta.passes(rows_changed, thresholds.get(_threshold_unit(blk.unit)))
        shown_changed += int(np.count_nonzero(ok))
        keep = rows_changed[ok]
        if show_all:
            keep = np.union1d(keep, np.flatnonzero(~changed if mask is None else ~changed & mask))
        if len(keep):
            per_name[blk.name].append((k, keep))
    out = []
    for name in columns:
        parts = per_name[name]
        if not parts:
            continue
        ks = np.concatenate([np.full(len(r), k, dtype=np.int64) for k, r in parts])
        rows = np.concatenate([r for _, r in parts])
        group = np.concatenate([_groups(blocks[k], r) for k, r in parts])
        years = np.concatenate([np.full(len(r), blocks[k].year, dtype=np.int64) for k, r in parts])
        size = _abs_delta_keys(blocks, parts)
        if size is not None:
            idx = np.lexsort((rows, years, -size, group))
        else:  # differences with no common denominator that fits: sorted as exact Fractions
            keys = [(int(g), -abs(blocks[k].delta.at(i) or 0), int(y), i) for k, i, g, y in zip(ks.tolist(), rows.tolist(), group, years)]
            idx = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
        picked = np.stack([ks[idx], rows[idx]], axis=1)
        out.append(picked[:top] if top is not None else picked)
    order = np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
    return order, shown_changed


def _groups(blk: Block, rows) -> np.ndarray:
    st = blk.status[rows]
    g = np.full(len(rows), _GROUP["changed"], dtype=np.int64)
    g[(st == 2) | (st == 3)] = _GROUP["undefined"]
    g[(st == 1) & blk.delta.defined[rows]] = _GROUP["delta"]
    g[st == 0] = _GROUP["unchanged"]
    return g


def _abs_delta_keys(blocks, parts):
    """|B - A| of the rows as int64 over one common denominator (0 where none), or None when that does not fit."""
    common = 1
    for k, _ in parts:
        d = blocks[k].delta
        if d.num is None:
            if d.defined.any():
                return None
            continue
        common = common * d.den // math.gcd(common, d.den)
    out = []
    for k, rows in parts:
        delta = blocks[k].delta
        if delta.num is None:
            out.append(np.zeros(len(rows), dtype=np.int64))
            continue
        f = common // delta.den
        a = np.abs(delta.num[rows])
        if len(a) and int(a.max()) * f >= INT_LIMIT:
            return None
        out.append(np.where(delta.defined[rows], a * f, 0))
    return np.concatenate(out)


# ---- rendering the outcome diff ---------------------------------------------------------


def _value_cell(v, unit: str, notes: dict, item=None, lang: str = "ja") -> str:
    """A value, or a dash with the number of its reason's footnote (notes: reason -> number, in order)."""
    if is_undef(v):
        return f"—[u{notes.setdefault(v.reason, len(notes) + 1)}]"
    return value_text(v, item, lang=lang) if item is not None else format_display(v, unit)


def _side_cell(d, v, unit: str, notes: dict, name: str, version: Version, lang: str) -> str:
    """A compared value of one version; a rule the version does not have is shown as such, not as a blank."""
    if is_undef(v) and name not in version.items and name not in KEY_NAMES:
        return f"({version.id} に規則なし)" if lang == "ja" else f"(no rule in {version.id})"
    return _value_cell(v, unit, notes, d.item(name), lang)


OUTCOME_WORDS = {
    "ja": {"unchanged": "変化なし", "changed": "変化", "only": "{v} のみ"},
    "en": {"unchanged": "unchanged", "changed": "changed", "only": "{v} only"},
}


def _delta_cell(d, r: Change, lang: str = "en") -> str:
    words = OUTCOME_WORDS[lang]
    if r.delta is not None:
        return _signed(r.delta, _delta_unit(r.unit))
    if r.status == "unchanged":
        return words["unchanged"]
    if r.status == "changed":
        return words["changed"]
    return words["only"].format(v=d.a.id if r.status == "undefined-in-b" else d.b.id)


def _heading(d, what: str, fmt: str, lang: str = "ja") -> str:
    a, b = d.a, d.b
    years = Period(min(d.years), max(d.years)).both if d.years else "no years"
    title = f"{a.id} → {b.id} {what}: {years}"
    lines = [f"# {title}" if fmt == "markdown" else title, ""]
    for tag, v in (("A", a), ("B", b)):
        period = v.header.plan_period.both if v.header.plan_period else ("計画期間なし" if lang == "ja" else "no plan period")
        lines.append(f"{'- ' if fmt == 'markdown' else ''}{tag}: {v.id} {v.header.title or ''} ({status_text(v.header.status, lang)}, {period})")
    return "\n".join(lines) + "\n\n"


def _shown_note(d: OutcomeDiff, lang: str) -> str:
    """How many values differ (of the municipalities shown, and of the whole prefecture under -m), and what is hidden."""
    ja = lang == "ja"
    changed, compared = d.changed, d.compared
    if d.only is not None:
        mask = _mask(len(d.municipalities), np.asarray(d.only, dtype=np.int64))
        changed = sum(int(np.count_nonzero((blk.status != 0) & mask)) for blk in d.blocks)
        compared = len(d.blocks) * len(d.only)
    note = f"{compared:,} 件中 {changed:,} 件の値が異なります" if ja else f"{changed} of {compared} values differ"
    if d.only is not None:
        total = len(d.municipalities)
        note += (f" (-m で選んだ {len(d.only)} 団体; 都全体 {total} 団体では {d.compared:,} 件中 {d.changed:,} 件)" if ja
                 else f" for the {len(d.only)} {'municipality' if len(d.only) == 1 else 'municipalities'} chosen with -m"
                      f" (over the whole prefecture, {total} municipalities: {d.changed} of {d.compared})")
    hidden = compared - changed
    if len(d.rows) != changed:
        parts = []
        if hidden and not any(not r.changed for r in d.rows):
            parts.append("変化のない値は省略 (--all で表示)" if ja else "unchanged hidden (--all shows them)")
        if d.shown_changed != changed:
            k = changed - d.shown_changed
            parts.append(f"{k:,} 件は --min-change 未満" if ja else f"{k} below --min-change")
        shown_changed = sum(1 for r in d.rows if r.changed)
        if shown_changed < d.shown_changed:
            k = d.shown_changed - shown_changed
            parts.append(f"{k:,} 件は --top で省略" if ja else f"{k} past --top")
        if parts:
            note += ("。" if ja else "; ") + ("、".join(parts) if ja else ", ".join(parts))
    return note + ("。\n\n" if ja else ".\n\n")


OUTCOME_CSV_HEADER_JA = ["年度", "団体コード", "団体名", "名前", "名称", "単位", None, None, "差", "差の単位", "状態", "原因", "未定義の理由"]


def render_outcome(d: OutcomeDiff, fmt: str, *, headers: str = "ja") -> str:
    """The outcome diff as table | markdown | csv | json (both year forms).

    headers ja: Japanese headers, labels and values as display.py shows them (○, 赤字なし); en: rule
    names and the values themselves. CSV and JSON cells are the values themselves either way.
    """
    lang = "en" if headers == "en" else "ja"
    if fmt == "json":
        return to_json({
            "a": _version_doc(d.a), "b": _version_doc(d.b),
            "years": [FiscalYear(y).both for y in d.years],
            "compared": d.compared, "changed": d.changed, "shown": len(d.rows),
            **({"municipalities_shown": [d.municipalities[i].code for i in d.only]} if d.only is not None else {}),
            "rows": [_row_doc(d, r) for r in d.rows],
        })
    if fmt == "csv":
        data = outcome_csv(d).decode("utf-8")
        if lang == "ja":  # the same cells under Japanese headers
            rest = data.partition("\r\n")[2]
            header = [d.a.id if i == 6 else d.b.id if i == 7 else h for i, h in enumerate(OUTCOME_CSV_HEADER_JA)]
            data = to_csv(header, []) + rest
        return data
    md = fmt == "markdown"
    out = _heading(d, "比較 (outcome diff)" if lang == "ja" else "outcome diff", fmt, lang)
    out += _shown_note(d, lang)
    if not d.rows:
        return out + (("差はありません。\n" if lang == "ja" else "No differences.\n") if not d.changed else "")
    causes: dict[str, int] = {}  # footnote numbers by text: a band change reads the same in every year
    notes: dict[str, int] = {}
    if lang == "ja":
        header = ["年度", "団体コード", "団体名", "項目", d.a.id, d.b.id, f"差 ({d.b.id}−{d.a.id})", "原因"]
    else:
        header = ["fiscal_year", "code", "name", "definition", d.a.id, d.b.id, f"difference ({d.b.id}−{d.a.id})", "causes"]
    rows = []
    for r in d.rows:
        refs = dict.fromkeys(f"[{causes.setdefault(c.text, len(causes) + 1)}]" for c in r.causes)
        rows.append([FiscalYear(r.year).both, r.municipality.code, r.municipality.name, d.label(r.name) if lang == "ja" else r.name,
                     _side_cell(d, r.a, r.unit, notes, r.name, d.a, lang), _side_cell(d, r.b, r.unit, notes, r.name, d.b, lang),
                     _delta_cell(d, r, lang), "".join(refs)])
    align = ["left", "left", "left", "left", "right", "right", "right", "left"]
    out += (to_markdown if md else to_table)(header, rows, align)
    if causes:
        out += "\n" + ("## 原因 (causes)\n\n" if md else "原因 (causes):\n")
        out += "".join(f"{'- ' if md else '  '}[{k}] {text}\n" for k, text in enumerate(causes, 1))
    uniq = list(notes)
    if uniq:
        out += "\n" + ("## 未定義の値 (undefined values)\n\n" if md else "未定義の値 (undefined values):\n")
        out += "".join(f"{'- ' if md else '  '}[u{k}] {reason}\n" for k, reason in enumerate(uniq, 1))
    return out


def outcome_csv(d: OutcomeDiff) -> bytes:
    """render_outcome's CSV (UTF-8 with BOM), written from the blocks' columns: the shown rows in order."""
    header = ["fiscal_year", "code", "name", "definition", "label", "unit", d.a.id, d.b.id, "difference", "difference_unit", "status", "causes", "undefined"]
    if len(d.order) * len(header) < ARROW_MIN_CELLS or not len(d.order):  # small: written row by row, without importing Arrow
        rows = []
        for r in d.rows:
            undefined = "; ".join(f"{tag}: {v.reason}" for tag, v in ((d.a.id, r.a), (d.b.id, r.b)) if is_undef(v))
            rows.append([str(r.year), r.municipality.code, r.municipality.name, r.name, d.label(r.name), r.unit,
                         format_value(r.a, r.unit), format_value(r.b, r.unit),
                         format_value(r.delta, _delta_unit(r.unit)) if r.delta is not None else "",
                         _delta_unit(r.unit) if r.delta is not None else "", r.status,
                         " | ".join(c.text for c in r.causes), undefined])
        return to_csv(header, rows).encode("utf-8")
    import pyarrow as pa

    from .columnar import arrow as A
    from .columnar import text

    head = to_csv(header, []).encode("utf-8")
    ms = d.municipalities
    n = len(ms)
    codes = pa.array([m.code for m in ms], type=pa.string())  # quoted with the other cells, at the end
    names = pa.array([m.name for m in ms], type=pa.string())
    who = pa.array([str(m) for m in ms], type=pa.string())
    statuses = pa.array(list(STATUS), type=pa.string())
    finder, ev = d.finder, d.ev_a
    reasons = ev.reasons
    columns: list[list] = [[] for _ in header]
    positions = []
    for k in np.unique(d.order[:, 0]).tolist():
        at = np.flatnonzero(d.order[:, 0] == k)
        rows = A.array(d.order[at, 1])
        positions.append(at)
        blk = d.blocks[k]
        m = len(at)

        def repeated(x):
            return A.fill_null(pa.nulls(m, pa.string()), x)

        delta_unit = _delta_unit(blk.unit)
        defined = A.array(blk.delta.defined)
        if blk.delta.num is not None:
            dtext = text.value_texts(Num(None, Lin.of(IntCol(np.ascontiguousarray(blk.delta.num)), blk.delta.den)), delta_unit, n, ev.to_python)
        else:
            dtext = pa.array([format_value(x, delta_unit) if x is not None else "" for x in blk.delta.values], type=pa.string())
        dtext = A.if_else(defined, dtext, "")
        sig = blk.sig if blk.sig is not None else np.zeros(n, dtype=np.int64)
        cause_texts = pa.array([" | ".join(c.text for c in finder.signature(j)) for j in range(int(sig.max()) + 1)], type=pa.string())
        undefined, _ = text.undefined_texts([(d.a.id, text.rid_column([blk.va], n, reasons)), (d.b.id, text.rid_column([blk.vb], n, reasons))],
                                            reasons, who, n)
        whole = [codes, names, text.value_texts(blk.va, blk.unit, n, ev.to_python), text.value_texts(blk.vb, blk.unit, n, ev.to_python),
                 dtext, A.if_else(defined, delta_unit, ""), A.take(statuses, A.array(blk.status.astype(np.int64))),
                 A.take(cause_texts, A.array(sig)), undefined]  # one entry per municipality: the shown rows are taken
        code, name, va, vb, dt, du, st, cs, un = (A.take(c, rows) for c in whole)
        cells = [repeated(str(blk.year)), code, name, repeated(blk.name), repeated(d.label(blk.name)), repeated(blk.unit), va, vb, dt, du, st, cs, un]
        for col, c in zip(columns, cells):
            col.append(c)
    where = np.empty(len(d.order), dtype=np.int64)
    where[np.concatenate(positions)] = np.arange(len(d.order))
    order = A.array(where)
    cells = [text.csv_cells(text.neutral(A.take(pa.concat_arrays(col), order))) for col in columns]  # as to_csv: no cell read as a formula
    return head + text.csv_lines(cells)


def _version_doc(v: Version) -> dict:
    h = v.header
    return {"version": v.id, "title": h.title, "status": h.status, "period": h.plan_period.both if h.plan_period else None}


def _row_doc(d: OutcomeDiff, r: Change) -> dict:
    return {
        "fiscal_year": r.year, "fiscal_year_label": FiscalYear(r.year).both,
        "code": r.municipality.code, "name": r.municipality.name,
        "definition": r.name, "label": d.label(r.name), "unit": r.unit,
        "a": None if is_undef(r.a) else format_value(r.a, r.unit),
        "b": None if is_undef(r.b) else format_value(r.b, r.unit),
        "difference": format_value(r.delta, _delta_unit(r.unit)) if r.delta is not None else None,
        "difference_unit": _delta_unit(r.unit) if r.delta is not None else None,
        "status": r.status,
        "undefined": {tag: v.reason for tag, v in (("a", r.a), ("b", r.b)) if is_undef(v)},
        "causes": [c.as_dict() for c in r.causes],
    }


# ---- the diff summary -------------------------------------------------------------------


@attrs.frozen
class BandMoves:
    """Municipalities whose target rises / falls / stays, by the band of one version's table."""

    version: str
    table: str
    label: str
    rows: tuple  # (interval, band label, municipalities, rises, falls, stays, undefined)
    note: str | None = None  # the table is not in force: why


@attrs.frozen
class PartShift:
    """One total (a levy part, relief, ...): sums under A and B and how the change splits."""

    name: str
    label: str
    total_a: object
    total_b: object
    raised: int
    raised_sum: Fraction
    lowered: int
    lowered_sum: Fraction
    stays: int
    undefined: int
    net: Fraction
    residual: str | None  # name of the rounding residual for this part
    residual_delta: object  # residual under B minus under A, or Undefined / None


@attrs.frozen
class YearDiffSummary:
    year: int
    municipalities: int
    target: str | None
    flag: str | None
    by_band: tuple[BandMoves, ...]
    moves: tuple  # (rises, falls, stays, undefined) over all municipalities
    achievement: tuple | None  # (both, gained, lost, neither, undefined)
    parts: tuple[PartShift, ...]
    movers: tuple  # (name, tuple[Change])


def _summary_lines(v: Version, kind: str) -> list[tuple]:
    s = v.items.get("summary")
    return [line.names for line in (s.lines if s else ()) if line.kind == kind]


def summarise(d: OutcomeDiff, *, top: int | None = None, movers=None) -> list[YearDiffSummary]:
    """Per year: target moves by band, achievement changes, shifts of each total, largest movers."""
    a, b = d.a, d.b
    bands = _summary_lines(b, "bands") or _summary_lines(a, "bands")
    if bands:
        table, flag = bands[0]
    else:
        table, flag = CONVENTIONAL_NAMES["target"], CONVENTIONAL_NAMES["achieved"]
    if table not in a.items and table not in b.items:
        table = None
    # The value whose moves are counted: the conventional target definition when there is
    # one (its label reads the same in both versions), else the band table itself.
    target = CONVENTIONAL_NAMES["target"] if CONVENTIONAL_NAMES["target"] in a.items or CONVENTIONAL_NAMES["target"] in b.items else table
    if flag not in a.items and flag not in b.items:
        flag = None
    totals: list[str] = []
    for v in (b, a):
        for names in _summary_lines(v, "total"):
            for n in names:
                if n not in totals and getattr(v.items.get(n), "unit", None) == "yen":
                    totals.append(n)
    mover_names = [n for n in (movers or CONVENTIONAL_NAMES["movers"]) if n in a.items or n in b.items]
    top = top or DEFAULT_MOVERS
    ev_a, ev_b = d.ev_a, d.ev_b
    n = len(d.municipalities)
    out = []
    for y in d.years:
        by_band: list = []
        moves = None
        if target is not None:
            ta, tb = ev_a.column(target, y), ev_b.column(target, y)
            kinds = [_move(x, z) for x, z in zip(ta, tb)]
            moves = tuple(kinds.count(k) for k in ("rises", "falls", "stays", "undefined"))
            for v, ev in ((a, ev_a), (b, ev_b)):
                if table is not None:
                    by_band.append(_band_moves(v, ev, table, y, kinds))
        achievement = None
        if flag is not None:
            fa, fb = ev_a.column(flag, y), ev_b.column(flag, y)
            counts = {"both": 0, "gained": 0, "lost": 0, "neither": 0, "undefined": 0}
            for x, z in zip(fa, fb):
                if is_undef(x) or is_undef(z) or not isinstance(x, bool) or not isinstance(z, bool):
                    counts["undefined"] += 1
                else:
                    counts[{(True, True): "both", (False, True): "gained", (True, False): "lost", (False, False): "neither"}[(x, z)]] += 1
            achievement = tuple(counts.values())
        parts = tuple(_part_shift(d, name, y) for name in totals)
        ranked = []
        for name in mover_names:
            rows = d.movers(name, y, top)
            if rows:
                ranked.append((name, rows))
        out.append(YearDiffSummary(y, n, target, flag, tuple(by_band), moves, achievement, parts, tuple(ranked)))
    return out


def _move(x, z) -> str:
    if is_undef(x) or is_undef(z) or isinstance(x, (bool, str)) or isinstance(z, (bool, str)):
        return "undefined"
    return "rises" if z > x else "falls" if z < x else "stays"


def _band_moves(v: Version, ev: ColumnEvaluator, table: str, year: int, kinds: list) -> BandMoves:
    item = v.at(year).lookup(table)
    label = getattr(item.item if isinstance(item, NotInForce) else item, "label", None) or table
    if not isinstance(item, ast.Table):
        reason = item.reason if isinstance(item, NotInForce) else f"version {v.id} has no band table '{table}'"
        rows = (("(no band)", "", len(kinds)) + tuple(kinds.count(k) for k in ("rises", "falls", "stays", "undefined")),)
        return BandMoves(v.id, table, label, rows, reason)
    ev.value(table, year)
    choices = ev.band_choices(table, year) or (None,) * len(kinds)
    rows = []
    for idx, band in enumerate(item.bands):
        members = [k for c, k in zip(choices, kinds) if c == idx]
        rows.append((band.interval, band.label or "", len(members)) + tuple(members.count(k) for k in ("rises", "falls", "stays", "undefined")))
    loose = [k for c, k in zip(choices, kinds) if c is None]
    if loose:
        rows.append(("(no band)", "", len(loose)) + tuple(loose.count(k) for k in ("rises", "falls", "stays", "undefined")))
    return BandMoves(v.id, table, label, tuple(rows))


def _part_shift(d: OutcomeDiff, name: str, year: int) -> PartShift:
    ca, cb = d.ev_a.column(name, year), d.ev_b.column(name, year)
    raised = lowered = stays = undefined = 0
    raised_sum = lowered_sum = Fraction(0)
    for x, z in zip(ca, cb):
        if is_undef(x) or is_undef(z):
            undefined += 1
            continue
        delta = Fraction(z) - Fraction(x)
        if delta > 0:
            raised += 1
            raised_sum += delta
        elif delta < 0:
            lowered += 1
            lowered_sum += delta
        else:
            stays += 1
    residual = CONVENTIONAL_NAMES["residuals"].get(name)
    residual_delta = None
    if residual is not None and (residual in d.a.items or residual in d.b.items):
        ra, rb = d.ev_a.value(residual, year), d.ev_b.value(residual, year)
        if is_undef(ra):
            residual_delta = ra
        elif is_undef(rb):
            residual_delta = rb
        elif isinstance(ra, tuple) or isinstance(rb, tuple):
            residual_delta = None
        else:
            residual_delta = Fraction(rb) - Fraction(ra)
    else:
        residual = None
    return PartShift(name, d.label(name), _total(ca), _total(cb), raised, raised_sum, lowered, lowered_sum, stays, undefined,
                     raised_sum + lowered_sum, residual, residual_delta)


def _total(col):
    undef = next((x for x in col if is_undef(x)), None)
    return undef if undef is not None else sum((Fraction(x) for x in col), Fraction(0))


def render_diff_summary(d: OutcomeDiff, summaries: list[YearDiffSummary], fmt: str, *, headers: str = "ja") -> str:
    """The per-year diff summary; it covers the whole prefecture, also under -m (and says so)."""
    from .selection import whole_note

    lang = "en" if headers == "en" else "ja"
    if fmt in ("csv", "json"):
        flat = []
        for s in summaries:
            fy = str(s.year)
            if s.moves is not None:
                for k, v in zip(("rises", "falls", "stays", "undefined"), s.moves):
                    flat.append([fy, "target", s.target, k, "", "", str(v), ""])
                for bm in s.by_band:
                    for interval, label, count, *ks in bm.rows:
                        counts = ", ".join(f"{k} {v}" for k, v in zip(("rises", "falls", "stays", "undefined"), ks))
                        flat.append([fy, f"target_by_band_{bm.version}", s.target, f"{interval} {label}".strip(), "", "", str(count), "; ".join(x for x in (counts, bm.note) if x)])
            if s.achievement is not None:
                for k, v in zip(("both", "gained", "lost", "neither", "undefined"), s.achievement):
                    flat.append([fy, "achievement", s.flag, k, "", "", str(v), ""])
            for p in s.parts:
                res = "" if p.residual_delta is None or is_undef(p.residual_delta) else format_value(p.residual_delta, "yen")
                flat.append([fy, "total", p.name, p.label, format_value(p.total_a, "yen"), format_value(p.total_b, "yen"),
                             f"raised {p.raised} {format_value(p.raised_sum, 'yen')}; lowered {p.lowered} {format_value(p.lowered_sum, 'yen')}; net {format_value(p.net, 'yen')}; stays {p.stays}; undefined {p.undefined}",
                             f"{p.residual} change {res}" if p.residual else ""])
            for name, rows in s.movers:
                for r in rows:
                    flat.append([fy, "mover", name, f"{r.municipality.code} {r.municipality.name}", format_value(r.a, r.unit), format_value(r.b, r.unit),
                                 format_value(r.delta, _delta_unit(r.unit)), ""])
        header = ["fiscal_year", "section", "name", "item", "a", "b", "value", "note"]
        if fmt == "csv":
            return to_csv(["年度", "種類", "名前", "項目", d.a.id, d.b.id, "値", "注"] if lang == "ja" else header, flat)
        return to_json({"a": _version_doc(d.a), "b": _version_doc(d.b), "summary": [_summary_doc(d, s) for s in summaries]})
    md = fmt == "markdown"
    tab = to_markdown if md else to_table
    out = [_heading(d, "比較の集計 (diff summary)", fmt, lang).rstrip("\n") + "\n"]
    if d.only is not None:
        out.append(whole_note(len(d.municipalities), lang) + "\n")
    for s in summaries:
        fy = FiscalYear(s.year).both
        out.append(f"{'## ' if md else ''}{fy} — {d.a.id} → {d.b.id}（{s.municipalities} 団体）\n")
        if s.moves is not None:
            out.append(f"{'### ' if md else ''}{d.label(s.target)}の変化（前年度の現年分収納率の区分別）\n")
            r, f, st, u = s.moves
            out.append(f"上がる (rises) {r}, 下がる (falls) {f}, 変わらない (stays) {st}, 未定義 (undefined) {u}; 計 {r + f + st + u}\n")
            for bm in s.by_band:
                head = ["区分", "前年度の現年分収納率", "団体数", "上がる", "下がる", "変わらない", "未定義"]
                rows = [[label or interval, "" if interval == "(no band)" else interval, str(count)] + [str(k) for k in ks] for interval, label, count, *ks in bm.rows]
                rows.append(["計", "", str(sum(x[2] for x in bm.rows))] + [str(sum(x[3 + j] for x in bm.rows)) for j in range(4)])
                out.append(f"{bm.version} の区分 ({bm.label})" + (f" — {bm.note}" if bm.note else "") + "\n")
                out.append(tab(head, rows, ["left", "left", "right", "right", "right", "right", "right"]))
        if s.achievement is not None:
            both, gained, lost, neither, undefined = s.achievement
            out.append(f"{'### ' if md else ''}{d.label(s.flag)}の変化\n")
            head = ["", "団体数"]
            rows = [["両方で達成 (both)", str(both)], [f"{d.b.id}でのみ達成 (gained)", str(gained)], [f"{d.a.id}でのみ達成 (lost)", str(lost)],
                    ["どちらも未達成 (neither)", str(neither)], ["未定義 (undefined)", str(undefined)], ["計", str(sum(s.achievement))]]
            out.append(tab(head, rows, ["left", "right"]))
        if s.parts:
            out.append(f"{'### ' if md else ''}合計の変化 (totals)\n")
            head = ["項目", f"{d.a.id} 計", f"{d.b.id} 計", "増 (団体)", "増額計", "減 (団体)", "減額計", "差引", "端数調整額の差", "変化なし", "未定義"]
            rows = []
            notes: dict[str, int] = {}
            for p in s.parts:
                res = "" if p.residual is None else (_value_cell(p.residual_delta, "yen", notes) if p.residual_delta is not None else "")
                if p.residual_delta is not None and not is_undef(p.residual_delta):
                    res = _signed(p.residual_delta, "yen") if p.residual_delta else "0円"
                rows.append([p.label, _side_cell(d, p.total_a, "yen", notes, p.name, d.a, lang), _side_cell(d, p.total_b, "yen", notes, p.name, d.b, lang),
                             str(p.raised), _signed(p.raised_sum, "yen"),
                             str(p.lowered), _signed(p.lowered_sum, "yen"), _signed(p.net, "yen"), res, str(p.stays), str(p.undefined)])
            out.append(tab(head, rows, ["left"] + ["right"] * 10))
            out.append("差引 + 端数調整額の差 = 算定基礎額の差 (0 when the total to allocate is the same): floor() remainders move between the municipalities and the residual.\n")
            uniq = list(notes)
            if uniq:
                out.append(("未定義の値 (undefined values):\n" if not md else "未定義の値 (undefined values):\n\n") + "".join(f"{'- ' if md else '  '}[u{k}] {reason}\n" for k, reason in enumerate(uniq, 1)))
        for name, rows in s.movers:
            out.append(f"{'### ' if md else ''}変化の大きい団体: {d.label(name)}\n")
            head = ["団体コード", "団体名", d.a.id, d.b.id, "差"]
            body = [[r.municipality.code, r.municipality.name, format_display(r.a, r.unit), format_display(r.b, r.unit), _signed(r.delta, _delta_unit(r.unit))] for r in rows]
            out.append(tab(head, body, ["left", "left", "right", "right", "right"]))
        out.append("")
    return "\n".join(out)


def _summary_doc(d: OutcomeDiff, s: YearDiffSummary) -> dict:
    def money(v):
        return None if v is None or is_undef(v) else format_value(v, "yen")

    return {
        "fiscal_year": s.year, "fiscal_year_label": FiscalYear(s.year).both, "municipalities": s.municipalities,
        "target": None if s.moves is None else {
            "name": s.target, "label": d.label(s.target),
            **dict(zip(("rises", "falls", "stays", "undefined"), s.moves)),
            "by_band": [{"version": bm.version, "table_label": bm.label, "note": bm.note,
                         "bands": [dict(zip(("interval", "label", "municipalities", "rises", "falls", "stays", "undefined"), row)) for row in bm.rows]}
                        for bm in s.by_band],
        },
        "achievement": None if s.achievement is None else {"name": s.flag, **dict(zip(("both", "gained", "lost", "neither", "undefined"), s.achievement))},
        "totals": [{
            "name": p.name, "label": p.label, "a": money(p.total_a), "b": money(p.total_b),
            "undefined_reason": {k: v.reason for k, v in (("a", p.total_a), ("b", p.total_b)) if is_undef(v)},
            "raised": p.raised, "raised_sum": money(p.raised_sum), "lowered": p.lowered, "lowered_sum": money(p.lowered_sum),
            "net": money(p.net), "stays": p.stays, "undefined": p.undefined,
            "residual": p.residual, "residual_change": money(p.residual_delta),
        } for p in s.parts],
        "largest_movers": [{"name": name, "label": d.label(name), "rows": [_row_doc(d, r) for r in rows]} for name, rows in s.movers],
    }


# ---- the rule diff ------------------------------------------------------------------------


@attrs.frozen
class BandRow:
    """One row of two band tables side by side, aligned on the lower end of the interval."""

    a: ast.Band | None
    b: ast.Band | None
    change: str  # '' | 'added' | 'removed' | 'bounds' | 'bounds, result' | 'result' | 'wording'


@attrs.frozen
class ItemDiff:
    """One item compared over a run of years in which both sides resolve to the same things."""

    name: str
    kind: str  # definition | table | schedule | input | summary
    years: tuple[int, ...]
    a: object  # item | NotInForce | None
    b: object
    change: str  # added | removed | changed | not in force in A | not in force in B
    rows: tuple = ()  # BandRow for tables
    a_from: str | None = None  # the version whose piece A uses in these years (a revision keeps its base's before its own years)
    b_from: str | None = None


@attrs.frozen
class ScheduleRow:
    name: str
    label: str
    year: int
    a: ast.Entry | None
    b: ast.Entry | None
    a_note: str | None  # why A has no value (no such schedule / not in force)
    b_note: str | None


@attrs.frozen
class MetaChange:
    name: str
    field: str  # label | cite | effective | title | status | period | basis
    a: str
    b: str
    a_span: ast.Span | None
    b_span: ast.Span | None


@attrs.frozen
class RulesDiff:
    a: Version
    b: Version
    years: tuple[int, ...]
    tables: tuple[ItemDiff, ...]
    schedules: tuple[ScheduleRow, ...]
    definitions: tuple[ItemDiff, ...]
    inputs: tuple[ItemDiff, ...]
    meta: tuple[MetaChange, ...]
    summary: tuple  # (kind, added names, removed names)

    @property
    def empty(self) -> bool:
        return not (self.tables or self.schedules or self.definitions or self.inputs or self.meta or self.summary)


def _state(x):
    """What a lookup gives, for grouping years: the item (its meaning and wording), NotInForce, or None."""
    if x is None:
        return None
    if isinstance(x, NotInForce):
        return ("not in force", _core(x.item))
    return (_core(x), attrs.evolve(x, override=False) if hasattr(x, "override") else x)


def _runs(years, key):
    """Consecutive years with equal key -> [(years, first year's value)]."""
    runs: list = []
    for y in years:
        k = key(y)
        if runs and runs[-1][1] == k:
            runs[-1][0].append(y)
        else:
            runs.append(([y], k))
    return [(tuple(ys), k) for ys, k in runs]


def align_bands(ta: ast.Table | None, tb: ast.Table | None) -> tuple[BandRow, ...]:
    """Rows of two tables side by side: bands with the same lower end share a row."""
    def lower(b):
        return (b.lo.value, 0 if b.lo_closed else 1)

    a = {lower(x): x for x in (ta.bands if ta else ())}
    b = {lower(x): x for x in (tb.bands if tb else ())}
    rows = []
    for k in sorted(set(a) | set(b)):
        x, z = a.get(k), b.get(k)
        if x is None:
            change = "added"
        elif z is None:
            change = "removed"
        else:
            bounds = _band_core(x)[:4] != _band_core(z)[:4]
            result = x.result != z.result
            change = ", ".join(w for w, on in (("bounds", bounds), ("result", result)) if on)
            if not change and (x.label != z.label or x.wording != z.wording):
                change = "wording"
        rows.append(BandRow(x, z, change))
    return tuple(rows)


def compare_rules(a: Version, b: Version, years) -> RulesDiff:
    """The two versions as resolved for each year: what differs, by meaning, with both sides' lines."""
    years = tuple(years)
    names = list(dict.fromkeys(list(a.items) + list(b.items)))
    tables, definitions, inputs, schedules = [], [], [], []
    for name in names:
        item = b.items.get(name) or a.items.get(name)
        if isinstance(item, (ast.Example, ast.Summary)):
            continue
        for ys, _ in _runs(years, lambda y: (_state(a.at(y).lookup(name)), _state(b.at(y).lookup(name)), _from(a, y, name), _from(b, y, name))):
            la, lb = a.at(ys[0]).lookup(name), b.at(ys[0]).lookup(name)
            fa, fb = _from(a, ys[0], name), _from(b, ys[0], name)
            if la is None and lb is None:
                continue
            change = _change(a, b, la, lb)
            if change is None:
                continue
            if isinstance(item, ast.Schedule) or isinstance(_unwrap(la), ast.Schedule) or isinstance(_unwrap(lb), ast.Schedule):
                if change in ("added", "removed"):
                    definitions.append(ItemDiff(name, "schedule", ys, la, lb, change, (), fa, fb))
                continue  # values by year below
            kind = _kind(_unwrap(lb) or _unwrap(la))
            rows = ()
            if kind == "table":
                ta = la if isinstance(la, ast.Table) else None
                tb = lb if isinstance(lb, ast.Table) else None
                if ta is not None and tb is not None and ta.bands == tb.bands and ta.key == tb.key and ta.unit == tb.unit:
                    continue  # only the label, citation or period differs: listed with the citations
                rows = align_bands(ta, tb)
                if change.startswith("not in force"):
                    rows = tuple(attrs.evolve(r, change=change) for r in rows)
                tables.append(ItemDiff(name, kind, ys, la, lb, change, rows, fa, fb))
            elif kind == "input":
                if isinstance(la, ast.InputDecl) and isinstance(lb, ast.InputDecl) and _core(la) == _core(lb):
                    continue
                inputs.append(ItemDiff(name, kind, ys, la, lb, change, (), fa, fb))
            else:
                if isinstance(la, ast.Definition) and isinstance(lb, ast.Definition) and _core(la) == _core(lb):
                    continue
                definitions.append(ItemDiff(name, kind, ys, la, lb, change, (), fa, fb))
    for name in names:
        item = b.items.get(name) or a.items.get(name)
        if not isinstance(item, ast.Schedule) and not isinstance(a.items.get(name), ast.Schedule):
            continue
        for y in years:
            la, lb = a.at(y).lookup(name), b.at(y).lookup(name)
            ea = _entry_for(la, y) if isinstance(la, ast.Schedule) else None
            eb = _entry_for(lb, y) if isinstance(lb, ast.Schedule) else None
            if ea is not None and eb is not None and ea.value == eb.value and la.unit == lb.unit:
                continue
            if ea is None and eb is None:
                continue
            label = getattr(_unwrap(lb) or _unwrap(la), "label", None) or name
            schedules.append(ScheduleRow(name, label, y, ea, eb, _absent(a, name, la, y, ea), _absent(b, name, lb, y, eb)))
    return RulesDiff(a, b, years, tuple(tables), tuple(schedules), tuple(definitions), tuple(inputs), tuple(_meta(a, b)), tuple(_summary_changes(a, b)))


def _unwrap(x):
    return x.item if isinstance(x, NotInForce) else x


def _from(v: Version, year: int, name: str) -> str | None:
    """The version whose piece of `name` v uses in `year` (or names in its reason when none is in force)."""
    p = v.at(year).piece(name)
    return None if p is None else p.version


def _absent(v: Version, name: str, looked, year: int, entry) -> str | None:
    if entry is not None:
        return None
    if looked is None:
        return f"no {name} in {v.id}"
    if isinstance(looked, NotInForce):
        return looked.reason
    return f"no entry for {FiscalYear(year).both}"


def _change(a, b, la, lb) -> str | None:
    if (la is None and isinstance(lb, NotInForce)) or (lb is None and isinstance(la, NotInForce)):
        return None  # in force in neither version in these years: nothing to compare
    if la is None:
        return "added"
    if lb is None:
        return "removed"
    nia, nib = isinstance(la, NotInForce), isinstance(lb, NotInForce)
    if nia and nib:
        return None
    if nia:
        return f"not in force in {a.id}"
    if nib:
        return f"not in force in {b.id}"
    return None if _same_item(la, lb) else "changed"


def _meta(a: Version, b: Version) -> list[MetaChange]:
    out = []
    ha, hb = a.header, b.header
    for field, x, z in (("title", ha.title, hb.title), ("status", ha.status, hb.status),
                        ("period", ha.plan_period.both if ha.plan_period else "", hb.plan_period.both if hb.plan_period else ""),
                        ("basis", ha.basis, hb.basis), ("cite", ha.cite, hb.cite)):
        if (x or "") != (z or ""):
            out.append(MetaChange("ruleset", field, x or "", z or "", ha.span, hb.span))
    for name, ia in a.items.items():
        ib = b.items.get(name)
        if ib is None or ia is ib or isinstance(ia, ast.Example):
            continue
        for field in ("label", "cite", "effective"):
            x, z = getattr(ia, field, None), getattr(ib, field, None)
            if x != z:
                show = (lambda p: p.both if p is not None else "always") if field == "effective" else (lambda t: t or "")
                out.append(MetaChange(name, field, show(x), show(z), ia.span, ib.span))
    return out


def _summary_changes(a: Version, b: Version) -> list[tuple]:
    out = []
    for kind in ("bands", "total", "tally", "show", "columns"):
        x = [n for names in _summary_lines(a, kind) for n in names]
        z = [n for names in _summary_lines(b, kind) for n in names]
        added, removed = [n for n in z if n not in x], [n for n in x if n not in z]
        if added or removed:
            out.append((kind, tuple(added), tuple(removed)))
    return out


def _years_text(ys) -> str:
    return Period(ys[0], ys[-1]).both if ys else ""


def _key_label(v: Version, t: ast.Table) -> str:
    if isinstance(t.key, ast.Ref):
        item = v.items.get(t.key.name)
        return getattr(item, "label", None) or t.key.name
    return expr_text(t.key)


def render_rules(rd: RulesDiff, fmt: str, *, headers: str = "ja") -> str:
    """The rule diff as table | markdown | csv | json.

    headers ja: Japanese headers and words (区分表, 区分1, 変更なし; display.rule_word), also in the CSV;
    en: the English words, which JSON always has.
    """
    a, b = rd.a, rd.b
    lang = "en" if headers == "en" else "ja"
    w = functools.partial(rule_word, lang=lang)
    if fmt == "json":
        return to_json(_rules_doc(rd))
    if fmt == "csv":
        if lang == "ja":
            header = ["区分", "名前", "年度", "項目", "変更", a.id, b.id, f"{a.id} の行", f"{b.id} の行"]
            rows = [[w(r[0]), r[1], r[2], w(r[3]), w(r[4])] + r[5:] for r in _rules_flat(rd)]
            return to_csv(header, rows)
        header = ["section", "name", "fiscal_years", "item", "change", a.id, b.id, f"{a.id}_line", f"{b.id}_line"]
        return to_csv(header, _rules_flat(rd))
    md = fmt == "markdown"
    tab = to_markdown if md else to_table
    out = [_heading(rd, "規則の比較 (rule diff)", fmt, lang).rstrip("\n") + "\n"]
    if rd.empty:
        out.append("差はありません。\n" if lang == "ja" else "No differences.\n")
        return "\n".join(out)
    h2 = "## " if md else "■ "
    for t in rd.tables:
        ta, tb = _unwrap(t.a), _unwrap(t.b)
        title = f"{h2}区分表 {t.name} — {_years_text(t.years)}"
        out.append(title + f" ({w(t.change)})\n")
        for side, x, v in (("A", t.a, a), ("B", t.b, b)):
            if x is None:
                out.append(f"{v.id}: no {t.name}\n")
            elif isinstance(x, NotInForce):
                out.append(f"{v.id}: {_nif_text(v, t.name, x, t.years)}\n")
        ka = _key_label(a, ta) if ta else None
        kb = _key_label(b, tb) if tb else None
        la = (ta.label or ta.name) if ta else t.name
        lb = (tb.label or tb.name) if tb else t.name
        key = ka or kb or "key"
        if la == lb:
            la, lb = f"{la} ({t.a_from or a.id})", f"{lb} ({t.b_from or b.id})"
        head = [key, "範囲", la, kb or key, "範囲", lb, "変更"]
        rows = []
        show_a, show_b = isinstance(t.a, ast.Table), isinstance(t.b, ast.Table)
        for r in t.rows:
            if not show_a or not show_b:
                r = attrs.evolve(r, a=r.a if show_a else None, b=r.b if show_b else None)
            rows.append([r.a.label or "" if r.a else "", r.a.interval if r.a else "", _band_result(r.a) if r.a else "",
                         r.b.label or "" if r.b else "", r.b.interval if r.b else "", _band_result(r.b) if r.b else "", w(r.change)])
        out.append(tab(head, rows))
        spans = []
        if show_a:
            spans.append(f"{a.id}: {_piece_of(a, t.a_from)}{loc(ta.span)}")
        if show_b:
            spans.append(f"{b.id}: {_piece_of(b, t.b_from)}{loc(tb.span)}")
        out.append("(" + ", ".join(spans) + ")\n")
    if rd.schedules:
        out.append(f"{h2}年度別の値 (schedules)\n")
        head = ["項目", "年度", a.id, b.id, "行"]
        rows = []
        for s in rd.schedules:
            rows.append([f"{s.name} ({s.label})", FiscalYear(s.year).both, _entry_text(s.a, s.a_note), _entry_text(s.b, s.b_note),
                         " → ".join(x for x in (loc(s.a.span) if s.a else "", loc(s.b.span) if s.b else "") if x)])
        out.append(tab(head, rows, ["left", "left", "right", "right", "left"]))
    if rd.definitions:
        out.append(f"{h2}定義 (definitions)\n")
        head = ["項目", "年度", "変更", f"{a.id} の式", f"{b.id} の式"]
        rows = []
        for dd in rd.definitions:
            item = _unwrap(dd.b) or _unwrap(dd.a)
            rows.append([_named(dd.name, item), _years_text(dd.years), w(dd.change), _formula_cell(dd.a), _formula_cell(dd.b)])
        out.append(tab(head, rows))
    if rd.inputs:
        out.append(f"{h2}入力 (inputs)\n")
        head = ["項目", "変更", a.id, b.id]
        rows = [[_named(i.name, _unwrap(i.b) or _unwrap(i.a)), w(i.change), _input_text(i.a), _input_text(i.b)] for i in rd.inputs]
        out.append(tab(head, rows))
    if rd.meta:
        out.append(f"{h2}名称・根拠・適用期間 (labels, citations, effective periods)\n")
        head = ["項目", "属性", a.id, b.id, "行"]
        rows = [[m.name, w(m.field), m.a, m.b, f"{loc(m.a_span)} → {loc(m.b_span)}"] for m in rd.meta]
        out.append(tab(head, rows))
    if rd.summary:
        out.append(f"{h2}集計の構成 (summary layout)\n")
        rows = [[w(kind), ", ".join(added), ", ".join(removed)] for kind, added, removed in rd.summary]
        out.append(tab(["行", f"{b.id} で追加", f"{b.id} で削除"], rows))
    return "\n".join(out)


def _piece_of(v: Version, origin: str | None) -> str:
    """'R6's table, ' when v uses a piece its base wrote (R9 in FY2025 uses R6's target table)."""
    return f"{origin}'s table, " if origin is not None and origin != v.id else ""


def _nif_text(v: Version, name: str, x: NotInForce, years) -> str:
    eff = x.item.effective.both if x.item.effective else "no years"
    return f"{_named(name, x.item)} is not in force for {_years_text(years)}; it covers {eff} ({loc(x.item.span)})"


def _entry_text(e: ast.Entry | None, note: str | None) -> str:
    if e is None:
        return f"— ({note})" if note else "—"
    return expr_text(e.value) + (f" 「{e.wording}」" if e.wording else "")


def _formula_cell(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, NotInForce):
        return f"— (not in force; {x.item.effective.both if x.item.effective else ''})"
    if isinstance(x, ast.Definition):
        return f"{expr_text(x.expr)} : {x.unit} ({loc(x.span)})"
    if isinstance(x, ast.Schedule):
        entries = ", ".join(f"{e.years_text or e.years}: {expr_text(e.value)}" for e in x.entries)
        return f"schedule {{{entries}}} : {x.unit} ({loc(x.span)})"
    return f"{_kind(x)} ({loc(x.span)})"


def _input_text(x) -> str:
    if x is None:
        return "—"
    x = _unwrap(x)
    return f"{x.scope} {x.unit}; columns {_show_field(x.columns)} ({loc(x.span)})"


def _rules_flat(rd: RulesDiff) -> list[list[str]]:
    a, b = rd.a, rd.b
    flat = []
    for t in rd.tables:
        ys = _years_text(t.years)
        for k, r in enumerate(t.rows, 1):
            def cell(band):
                return f"{band.label or ''} {band.interval} => {_band_result(band)}".strip() if band else ""
            flat.append(["table", t.name, ys, f"band {k}", r.change or "same", cell(r.a), cell(r.b),
                         loc(r.a.span) if r.a else "", loc(r.b.span) if r.b else ""])
        for tag, x in ((a.id, t.a), (b.id, t.b)):
            if isinstance(x, NotInForce):
                flat.append(["table", t.name, ys, "in force", t.change, x.reason if tag == a.id else "", x.reason if tag == b.id else "", "", ""])
    for s in rd.schedules:
        flat.append(["schedule", s.name, FiscalYear(s.year).both, s.label, "changed" if s.a and s.b else ("added" if s.b else "removed"),
                     _entry_text(s.a, s.a_note), _entry_text(s.b, s.b_note), loc(s.a.span) if s.a else "", loc(s.b.span) if s.b else ""])
    for dd in rd.definitions:
        flat.append(["definition", dd.name, _years_text(dd.years), getattr(_unwrap(dd.b) or _unwrap(dd.a), "label", "") or "", dd.change,
                     _formula_cell(dd.a), _formula_cell(dd.b), loc(_unwrap(dd.a).span) if dd.a else "", loc(_unwrap(dd.b).span) if dd.b else ""])
    for i in rd.inputs:
        flat.append(["input", i.name, _years_text(i.years), "", i.change, _input_text(i.a), _input_text(i.b),
                     loc(_unwrap(i.a).span) if i.a else "", loc(_unwrap(i.b).span) if i.b else ""])
    for m in rd.meta:
        flat.append(["meta", m.name, "", m.field, "changed", m.a, m.b, loc(m.a_span), loc(m.b_span)])
    for kind, added, removed in rd.summary:
        flat.append(["summary", kind, "", "", "changed", ", ".join(removed), ", ".join(added), "", ""])
    return flat


def _rules_doc(rd: RulesDiff) -> dict:
    def band(x):
        if x is None:
            return None
        return {"interval": x.interval, "label": x.label, "wording": x.wording, "result": expr_text(x.result), "line": loc(x.span)}

    def side(x, origin=None):
        if x is None:
            return None
        if isinstance(x, NotInForce):
            return {"in_force": False, "reason": x.reason, "line": loc(x.item.span), "version": x.version}
        d = {"in_force": True, "kind": _kind(x), "label": getattr(x, "label", None), "line": loc(x.span), "version": origin}
        if isinstance(x, ast.Definition):
            d.update(unit=x.unit, formula=expr_text(x.expr))
        if isinstance(x, ast.InputDecl):
            d.update(scope=x.scope, unit=x.unit, columns=list(x.columns))
        if isinstance(x, ast.Table):
            d.update(unit=x.unit, key=expr_text(x.key))
        return d

    def entry(e, note):
        return None if e is None and note is None else ({"value": expr_text(e.value), "wording": e.wording, "line": loc(e.span)} if e else {"value": None, "note": note})

    return {
        "a": _version_doc(rd.a), "b": _version_doc(rd.b), "years": [FiscalYear(y).both for y in rd.years],
        "tables": [{"name": t.name, "years": _years_text(t.years), "change": t.change, "a": side(t.a, t.a_from), "b": side(t.b, t.b_from),
                    "rows": [{"a": band(r.a), "b": band(r.b), "change": r.change} for r in t.rows]} for t in rd.tables],
        "schedules": [{"name": s.name, "label": s.label, "fiscal_year": s.year, "fiscal_year_label": FiscalYear(s.year).both,
                       "a": entry(s.a, s.a_note), "b": entry(s.b, s.b_note)} for s in rd.schedules],
        "definitions": [{"name": x.name, "years": _years_text(x.years), "change": x.change, "a": side(x.a, x.a_from), "b": side(x.b, x.b_from)} for x in rd.definitions],
        "inputs": [{"name": x.name, "years": _years_text(x.years), "change": x.change, "a": side(x.a, x.a_from), "b": side(x.b, x.b_from)} for x in rd.inputs],
        "meta": [{"name": m.name, "field": m.field, "a": m.a, "b": m.b, "a_line": loc(m.a_span), "b_line": loc(m.b_span)} for m in rd.meta],
        "summary": [{"line": kind, "added": list(added), "removed": list(removed)} for kind, added, removed in rd.summary],
    }


# ---- one call for the command line ------------------------------------------------------


def diff_columns(a: Version, b: Version, text) -> tuple[str, ...] | None:
    """--columns of a diff: names or labels of either version (lookup.py), comma-separated; none or `all`: both versions' columns."""
    from .lookup import resolve_names, split_list

    texts = split_list(text)
    if not texts or (len(texts) == 1 and texts[0].lower() in ("all", "すべて", "全部")):
        return None
    return tuple(resolve_names(texts, [b, a], code="unknown-column", message=lambda t: f"neither {a.id} nor {b.id} has a definition '{t}'",
                               extra=KEY_NAMES))


def run(session, a_id: str, b_id: str, *, year=None, period=None, columns=None, show_all=False, min_change=None,
        top=None, summary=False, rules_only=False, fmt="table", headers="ja", municipalities=None) -> tuple[str, bool, str]:
    """`kokuho diff A B`: the rendered text, whether anything differs (for --exit-code) and what it holds, in a line.

    Years default to B's plan period; --year / --period accept every year form; columns are names or
    labels (a list or comma-separated text); municipalities (-m) choose the rows shown.
    """
    from .formats import municipalities_text, years_text

    a, b = session.version(a_id), session.version(b_id)
    years = session.years(b, year, period)
    if rules_only:
        rd = compare_rules(a, b, years)
        return render_rules(rd, fmt, headers=headers), not rd.empty, f"rule diff {a.id} → {b.id}, {years_text(years)}"
    if isinstance(columns, (list, tuple)):
        columns = ",".join(columns)
    cols = diff_columns(a, b, columns)
    only = session.select(b, municipalities)
    d = compare(a, b, session.data_for(a), session.data_for(b), years, cols, show_all=show_all, min_change=min_change, top=top, only=only)
    who = municipalities_text(None if only is None else len(only), len(d.municipalities))
    if summary:
        what = f"diff summary {a.id} → {b.id}, {years_text(years)}, {municipalities_text(None, len(d.municipalities))}"
        return render_diff_summary(d, summarise(d, top=top, movers=cols), fmt, headers=headers), d.shown_changed > 0, what
    what = f"outcome diff {a.id} → {b.id}, {years_text(years)}, {who}, {len(d.rows):,} rows"
    return render_outcome(d, fmt, headers=headers), d.shown_changed > 0, what
