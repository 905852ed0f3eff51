"""The cause walk: why a value differs between two versions, as the rule items on its path.

Causes are found by walking the definition's dependencies in both versions at once, following
references to other years and `with` overrides, taking only the band a municipality fell in and
the branch of an `if` it took, and pruning every dependency whose value is the same under A and
B (a function of equal values is equal, so no cause can hide below it). `CauseFinder` does it
for many municipalities at once, over columns (tests/cause_oracle.py is the per-row walk it matches).
"""

from __future__ import annotations

import attrs
import numpy as np

from .. import ast
from ..ast import AGGREGATES, KEY_NAMES, children
from ..columnar import ColumnEvaluator
from ..columnar.columns import BoolCol, is_col
from ..evaluate import with_override
from ..format import expression_text as expr_text
from ..values import MAX_YEAR_DEPTH, is_undef
from ..versions import NotInForce, Version
from ..years import FiscalYear
from .common import band_core, band_desc, band_result, differs, entry_for, item_core, item_kind, loc, named, row_mask, show_field

ALL = -1  # "every municipality": inside sum(), mean(), count() and for prefecture values


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
        return {
            "kind": self.kind,
            "name": self.name,
            "fiscal_year": self.year,
            "text": self.text,
            "a": loc(self.a) if self.a else None,
            "b": loc(self.b) if self.b else None,
        }


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

    def _cat(self, rows, parts) -> np.ndarray | int:
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

    def _pick(self, rows, groups) -> np.ndarray | int:
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
        todo = np.flatnonzero(differing | row_mask(self.n, want)) if root else np.flatnonzero(differing)
        self._vactive.add(key)
        try:
            sig = self._vnode_causes(name, year, ova, ovb, todo, root)
        finally:
            self._vactive.discard(key)
        out = np.zeros(self.n, dtype=np.int64)  # a row whose values are equal has no cause
        out[todo] = sig if isinstance(sig, (int, np.integer)) else sig[todo]
        self._vmemo[key] = (row_mask(self.n, todo), out)
        return out

    def _vnode_causes(self, name, year, ova, ovb, rows, root):
        if name in KEY_NAMES or year < self.year_lo:
            return 0
        if any(n == name for n, _ in ova) or any(n == name for n, _ in ovb):
            return 0  # overridden by `with`: its value expression was walked where it was set
        ia, ib = self.ev["a"].lookup(name, year), self.ev["b"].lookup(name, year)
        if ia is None and ib is None:
            return 0
        if ia is None or ib is None:
            present = ib if ia is None else ia
            item = present.item if isinstance(present, NotInForce) else present
            out = [self._intern([presence_cause(name, year, item, added=ia is None, b=self.b)])]
            if root and not isinstance(present, NotInForce):
                out.append(self._vitem(present, "a" if ib is None else "b", name, year, ova, ovb, rows))
            return self._cat(rows, out)
        nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
        if nia or nib:
            if nia and nib:
                return 0
            there = ib if nia else ia
            out = [self._intern([in_force_cause(name, year, ia, ib, self.a, self.b)])]
            if root:
                out.append(self._vitem(there, "b" if nia else "a", name, year, ova, ovb, rows))
            return self._cat(rows, out)
        if type(ia) is not type(ib):
            return self._cat(
                rows,
                [
                    self._intern([kind_cause(name, year, ia, ib, self.a, self.b)]),
                    self._vitem(ia, "a", name, year, ova, ovb, rows),
                    self._vitem(ib, "b", name, year, ova, ovb, rows),
                ],
            )
        if isinstance(ia, ast.InputDecl):
            if item_core(ia) == item_core(ib):
                return 0
            return self._intern([input_cause(name, year, ia, ib)])
        if isinstance(ia, ast.Definition):
            if item_core(ia) == item_core(ib):
                return self._vexpr(ia.expr, year, ova, ovb, rows, "ab")
            return self._cat(
                rows,
                [
                    self._intern([formula_cause(name, year, ia, ib)]),
                    self._vexpr(ia.expr, year, ova, ovb, rows, "a"),
                    self._vexpr(ib.expr, year, ova, ovb, rows, "b"),
                ],
            )
        if isinstance(ia, ast.Schedule):
            ea, eb = entry_for(ia, year), entry_for(ib, year)
            if ea is not None and eb is not None and ea.value == eb.value and ia.unit == ib.unit:
                return self._vexpr(ea.value, year, ova, ovb, rows, "ab")
            out = [self._intern([schedule_cause(name, year, ia, ib, ea, eb)])]
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
            e = entry_for(item, year)
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
            parts.append(self._intern([key_cause(name, year, ta, tb)]))
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
                out.append(self._intern([no_band_cause(name, year, ta, tb, ba, bb, self.a, self.b)]))
            else:
                out.append(self._intern(band_causes(name, year, ta, tb, ba, bb)))
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
            plan = self._plans[id(e)] = (e, ref_plan(e))
        if plan[1] is not None:  # no if / [year] / with inside: the names it refers to, in order
            return self._cat(
                rows,
                [
                    self._intern(self._node(name, year, ova, ovb, ALL)) if inside_aggregate else self._vnode(name, year, ova, ovb, rows)
                    for name, inside_aggregate in plan[1]
                ],
            )
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
            entry = entry_for(item, year)
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
        if ia is None and ib is None:
            return []
        if ia is None or ib is None:
            present = ib if ia is None else ia
            item = present.item if isinstance(present, NotInForce) else present
            out = [presence_cause(name, year, item, added=ia is None, b=self.b)]
            if root and not isinstance(present, NotInForce):
                out += self._item(present, "a" if ib is None else "b", name, year, ova, ovb)
            return out
        nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
        if nia or nib:
            if nia and nib:
                return []
            there = ib if nia else ia
            out = [in_force_cause(name, year, ia, ib, self.a, self.b)]
            if root:
                out += self._item(there, "b" if nia else "a", name, year, ova, ovb)
            return out
        if type(ia) is not type(ib):
            return (
                [kind_cause(name, year, ia, ib, self.a, self.b)]
                + self._item(ia, "a", name, year, ova, ovb)
                + self._item(ib, "b", name, year, ova, ovb)
            )
        if isinstance(ia, ast.InputDecl):
            if item_core(ia) == item_core(ib):
                return []
            return [input_cause(name, year, ia, ib)]
        if isinstance(ia, ast.Definition):
            if item_core(ia) == item_core(ib):
                return self._expr(ia.expr, year, ova, ovb, ALL, "ab")
            return (
                [formula_cause(name, year, ia, ib)]
                + self._expr(ia.expr, year, ova, ovb, ALL, "a")
                + self._expr(ib.expr, year, ova, ovb, ALL, "b")
            )
        if isinstance(ia, ast.Schedule):
            ea, eb = entry_for(ia, year), entry_for(ib, year)
            if ea is not None and eb is not None and ea.value == eb.value and ia.unit == ib.unit:
                return self._expr(ea.value, year, ova, ovb, ALL, "ab")
            out = [schedule_cause(name, year, ia, ib, ea, eb)]
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
            e = entry_for(item, year)
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
            out.append(key_cause(name, year, ta, tb))
            out += self._expr(ta.key, year, ova, ovb, ALL, "a") + self._expr(tb.key, year, ova, ovb, ALL, "b")
        ca, cb = self._choices("a", name, year, ova), self._choices("b", name, year, ovb)
        for ia_, ib_ in np.unique(np.stack([ca, cb], axis=1), axis=0).tolist():  # (-1: no band) sorts first, as None did
            ba = ta.bands[ia_] if ia_ >= 0 else None
            bb = tb.bands[ib_] if ib_ >= 0 else None
            if ba is None and bb is None:
                continue
            if ba is None or bb is None:
                out.append(no_band_cause(name, year, ta, tb, ba, bb, self.a, self.b))
            else:
                out += band_causes(name, year, ta, tb, ba, bb)
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
            plan = self._plans[id(e)] = (e, ref_plan(e))
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


def ref_plan(e, inside_aggregate: bool = False):
    """The (name, inside sum/mean/count) pairs an expression refers to, in the order CauseFinder._expr
    walks them; None when it holds an if, a [year] or a with, whose walk depends on values."""
    if isinstance(e, ast.Ref):
        return ((e.name, inside_aggregate),)
    if isinstance(e, (ast.If, ast.AtYear, ast.With)):
        return None
    if isinstance(e, ast.Call):
        aggregate = inside_aggregate or e.function in AGGREGATES
        parts = [ref_plan(a, aggregate) for a in (e.args[:2] if e.function == "round" else e.args)]
    elif isinstance(e, ast.Unary):
        parts = [ref_plan(e.operand, inside_aggregate)]
    elif isinstance(e, ast.Binary):
        parts = [ref_plan(e.left, inside_aggregate), ref_plan(e.right, inside_aggregate)]
    else:
        return ()
    if any(p is None for p in parts):
        return None
    return tuple(x for p in parts for x in p)


# ---- what each kind of change says: one text per kind, for both walks (many municipalities at once, and all together)


def presence_cause(name: str, year: int, item, *, added: bool, b: Version) -> Cause:
    """An item only B has (added) or only A has (removed)."""
    if added:
        return Cause("added", name, year, f"{named(name, item)}: added in {b.id} ({loc(item.span)})", None, item.span)
    return Cause("removed", name, year, f"{named(name, item)}: removed in {b.id} (was {loc(item.span)})", item.span, None)


def in_force_cause(name: str, year: int, ia, ib, a: Version, b: Version) -> Cause:
    """An item in force in the year on one side only (the other is NotInForce)."""
    nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
    gone, there = (ia, ib) if nia else (ib, ia)
    there_v = b if nia else a
    text = f"{gone.reason} ({loc(gone.item.span)}); {there_v.id} has {named(name, there)} in force ({loc(there.span)})"
    return Cause("not-in-force", name, year, text, ia.item.span if nia else ia.span, ib.item.span if nib else ib.span)


def kind_cause(name: str, year: int, ia, ib, a: Version, b: Version) -> Cause:
    text = f"{name}: a {item_kind(ia)} in {a.id} ({loc(ia.span)}), a {item_kind(ib)} in {b.id} ({loc(ib.span)})"
    return Cause("kind", name, year, text, ia.span, ib.span)


def input_cause(name: str, year: int, ia: ast.InputDecl, ib: ast.InputDecl) -> Cause:
    what = []
    for field in ("scope", "unit", "columns"):
        x, y = getattr(ia, field), getattr(ib, field)
        if x != y:
            what.append(f"{field} {show_field(x)} → {show_field(y)}")
    text = f"input {named(name, ib)}: declaration changed, {'; '.join(what)} ({loc(ia.span)} → {loc(ib.span)})"
    return Cause("input", name, year, text, ia.span, ib.span)


def formula_cause(name: str, year: int, ia: ast.Definition, ib: ast.Definition) -> Cause:
    unit = f" (unit {ia.unit} → {ib.unit})" if ia.unit != ib.unit else ""
    text = f"{named(name, ib)}: formula changed{unit}: {expr_text(ia.expr)} ({loc(ia.span)}) → {expr_text(ib.expr)} ({loc(ib.span)})"
    return Cause("formula", name, year, text, ia.span, ib.span)


def schedule_cause(name: str, year: int, ia: ast.Schedule, ib: ast.Schedule, ea, eb) -> Cause:
    """A schedule's entry for the year changed (ea, eb: the entries, None where a side has none)."""
    ta = f"{expr_text(ea.value)} ({loc(ea.span)})" if ea else f"no entry ({loc(ia.span)})"
    tb = f"{expr_text(eb.value)} ({loc(eb.span)})" if eb else f"no entry ({loc(ib.span)})"
    return Cause(
        "schedule", name, year, f"{name} {FiscalYear(year).both}: {ta} → {tb}", ea.span if ea else ia.span, eb.span if eb else ib.span
    )


def key_cause(name: str, year: int, ta: ast.Table, tb: ast.Table) -> Cause:
    text = f"{named(name, tb)}: looked up by {expr_text(ta.key)} ({loc(ta.span)}) → {expr_text(tb.key)} ({loc(tb.span)})"
    return Cause("key", name, year, text, ta.span, tb.span)


def no_band_cause(name: str, year: int, ta: ast.Table, tb: ast.Table, ba, bb, a: Version, b: Version) -> Cause:
    """The key falls in a band on one side only (ba or bb is None)."""
    missing, vid = (a.id, ta) if ba is None else (b.id, tb)
    there = bb if ba is None else ba
    text = f"{name}: the key falls in no band in {missing} ({loc(vid.span)}); band {band_desc(there)} in the other ({loc(there.span)})"
    return Cause("no-band", name, year, text, ba.span if ba else ta.span, bb.span if bb else tb.span)


def band_causes(name: str, year: int, ta: ast.Table, tb: ast.Table, ba: ast.Band, bb: ast.Band) -> list:
    """The table's own part in a change: the band fallen in under B, or under A, is not in the other table.

    A band both tables share (same bounds, same result) is no cause even when the municipality
    moved into it: then the key moved, and the key's own causes say why.
    """

    def twin(band, table):  # the band of `table` with the same bounds, if any
        return next((x for x in table.bands if band_core(x)[:4] == band_core(band)[:4]), None)

    def shared(band, table):
        return any(band_core(x) == band_core(band) for x in table.bands)

    if not shared(bb, ta):
        old = twin(bb, ta)
        if old is not None:
            text = f"{name} band {band_desc(bb)}: result {band_result(old)} ({loc(old.span)}) → {band_result(bb)} ({loc(bb.span)})"
            return [Cause("band-result", name, year, text, old.span, bb.span)]
        text = f"{name} band {band_desc(bb)} ({loc(bb.span)}) replaces {band_desc(ba)} ({loc(ba.span)})"
        if ba.result != bb.result:
            text += f"; result {band_result(ba)} → {band_result(bb)}"
        return [Cause("band", name, year, text, ba.span, bb.span)]
    if not shared(ba, tb):
        new = twin(ba, tb)
        if new is not None:
            text = f"{name} band {band_desc(ba)}: result {band_result(ba)} ({loc(ba.span)}) → {band_result(new)} ({loc(new.span)})"
            return [Cause("band-result", name, year, text, ba.span, new.span)]
        text = f"{name} band {band_desc(ba)} ({loc(ba.span)}) is gone; {band_desc(bb)} ({loc(bb.span)}) applies"
        return [Cause("band", name, year, text, ba.span, bb.span)]
    return []


def band_choice(choices: tuple, i: int):
    """The band municipality i fell in; a table over a prefecture value has one choice for all."""
    if len(choices) == 1:
        return choices[0]
    return choices[i] if i < len(choices) else None
