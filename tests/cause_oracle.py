"""The per-row cause walk the outcome diff used before its causes were found over whole columns.

A test oracle only (tests/test_diff.py): for one municipality at a time it walks a changed
value's dependencies in both versions and names the differing rule items on the path. The
columnar walk in engine/diff/causes.py must find the same causes, in the same order, for every row.
"""

from __future__ import annotations

from engine import ast
from engine.check import AGGREGATES, KEY_NAMES, children
from engine.diff.causes import ALL, Cause, band_causes, band_choice, ref_plan
from engine.diff.common import band_desc, entry_for, expr_text, item_core, item_kind, loc, named, show_field
from engine.values import MAX_YEAR_DEPTH, is_undef, same
from engine.versions import NotInForce
from engine.years import FiscalYear


class RowCauseFinder:
    """Walks a name's dependencies in both versions at once and names the differing items on the path."""

    def __init__(self, ev_a, ev_b):
        self.ev = {"a": ev_a, "b": ev_b}
        self.a, self.b = ev_a.version, ev_b.version
        self.n = ev_a.n
        years = tuple(ev_a.data.years) + tuple(ev_b.data.years)
        self.year_lo = (min(years) if years else 2000) - MAX_YEAR_DEPTH
        self._memo: dict = {}
        self._active: set = set()
        self._differing: dict = {}
        self._uniform: dict = {}
        self._plans: dict = {}  # id(expression) -> (expression, ref_plan of it)

    def causes(self, name: str, year: int, who: int) -> tuple[Cause, ...]:
        """Why `name` in `year` differs for municipality `who` (an index, or ALL)."""
        return self._node(name, year, (), (), who, True)

    # -- values --
    def _value(self, side: str, name: str, year: int, ov: tuple, who: int):
        v = self.ev[side].value(name, year, ov)
        if who != ALL and isinstance(v, tuple):
            return v[who]
        return v

    def _eval(self, side: str, e, year: int, ov: tuple):
        return self.ev[side].eval(e, year, ov)

    def _rows(self, who: int):
        return range(self.n) if who == ALL else (who,)

    def _differing_rows(self, name, year, ova, ovb):
        """The municipalities whose values of a name differ under A and B, or None for a prefecture value.

        Why a prefecture value differs is the same for every municipality, so it is walked once
        (the check keeps municipal values out of a prefecture value except inside sum(), mean()
        and count(), which are walked for every municipality anyway).
        """
        key = (name, year, ova, ovb)
        if key in self._differing:
            return self._differing[key]
        va, vb = self._value("a", name, year, ova, ALL), self._value("b", name, year, ovb, ALL)
        if name not in KEY_NAMES and not isinstance(va, tuple) and not isinstance(vb, tuple) and self._uniform_walk(name, year):
            rows = None
        else:
            xs = va if isinstance(va, tuple) else (va,) * self.n
            ys = vb if isinstance(vb, tuple) else (vb,) * self.n
            rows = frozenset(i for i, (x, y) in enumerate(zip(xs, ys)) if not same(x, y))
        self._differing[key] = rows
        return rows

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

    # -- names --
    def _node(self, name, year, ova, ovb, who, root=False) -> tuple[Cause, ...]:
        if who != ALL:
            rows = self._differing_rows(name, year, ova, ovb)
            if rows is None:
                who = ALL  # one walk serves every municipality
            elif not root and who not in rows:
                return ()  # equal under A and B: nothing below can be a cause
        key = (name, year, ova, ovb, who, root)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if key in self._active:
            return ()
        self._active.add(key)
        try:
            out = self._node_causes(name, year, ova, ovb, who, root)
        finally:
            self._active.discard(key)
        out = tuple(dict.fromkeys(out))
        self._memo[key] = out
        return out

    def _node_causes(self, name, year, ova, ovb, who, root) -> list:
        if name in KEY_NAMES or year < self.year_lo:
            return []
        if any(n == name for n, _ in ova) or any(n == name for n, _ in ovb):
            return []  # overridden by `with`: its value expression was walked where it was set
        if not root and same(self._value("a", name, year, ova, who), self._value("b", name, year, ovb, who)):
            return []  # equal under A and B: nothing below can be a cause
        ia, ib = self.ev["a"].at(year).lookup(name), self.ev["b"].at(year).lookup(name)
        fy = FiscalYear(year).both
        if ia is None and ib is None:
            return []
        if ia is None or ib is None:
            present = ib if ia is None else ia
            item = present.item if isinstance(present, NotInForce) else present
            if ia is None:
                out = [Cause("added", name, year, f"{named(name, item)}: added in {self.b.id} ({loc(item.span)})", None, item.span)]
            else:
                out = [Cause("removed", name, year, f"{named(name, item)}: removed in {self.b.id} (was {loc(item.span)})", item.span, None)]
            if root and not isinstance(present, NotInForce):
                out += self._item(present, "a" if ib is None else "b", name, year, ova, ovb, who)
            return out
        nia, nib = isinstance(ia, NotInForce), isinstance(ib, NotInForce)
        if nia or nib:
            if nia and nib:
                return []
            gone, there = (ia, ib) if nia else (ib, ia)
            there_v = self.b if nia else self.a
            text = f"{gone.reason} ({loc(gone.item.span)}); {there_v.id} has {named(name, there)} in force ({loc(there.span)})"
            out = [Cause("not-in-force", name, year, text, ia.item.span if nia else ia.span, ib.item.span if nib else ib.span)]
            if root:
                out += self._item(there, "b" if nia else "a", name, year, ova, ovb, who)
            return out
        if type(ia) is not type(ib):
            text = f"{name}: a {item_kind(ia)} in {self.a.id} ({loc(ia.span)}), a {item_kind(ib)} in {self.b.id} ({loc(ib.span)})"
            return (
                [Cause("kind", name, year, text, ia.span, ib.span)]
                + self._item(ia, "a", name, year, ova, ovb, who)
                + self._item(ib, "b", name, year, ova, ovb, who)
            )
        if isinstance(ia, ast.InputDecl):
            if item_core(ia) == item_core(ib):
                return []
            what = []
            for field in ("scope", "unit", "columns"):
                x, y = getattr(ia, field), getattr(ib, field)
                if x != y:
                    what.append(f"{field} {show_field(x)} → {show_field(y)}")
            return [
                Cause(
                    "input",
                    name,
                    year,
                    f"input {named(name, ib)}: declaration changed, {'; '.join(what)} ({loc(ia.span)} → {loc(ib.span)})",
                    ia.span,
                    ib.span,
                )
            ]
        if isinstance(ia, ast.Definition):
            if item_core(ia) == item_core(ib):
                return self._expr(ia.expr, year, ova, ovb, who, "ab")
            unit = f" (unit {ia.unit} → {ib.unit})" if ia.unit != ib.unit else ""
            text = (
                f"{named(name, ib)}: formula changed{unit}: {expr_text(ia.expr)} ({loc(ia.span)}) → {expr_text(ib.expr)} ({loc(ib.span)})"
            )
            return (
                [Cause("formula", name, year, text, ia.span, ib.span)]
                + self._expr(ia.expr, year, ova, ovb, who, "a")
                + self._expr(ib.expr, year, ova, ovb, who, "b")
            )
        if isinstance(ia, ast.Schedule):
            ea, eb = entry_for(ia, year), entry_for(ib, year)
            if ea is not None and eb is not None and ea.value == eb.value and ia.unit == ib.unit:
                return self._expr(ea.value, year, ova, ovb, who, "ab")
            ta = f"{expr_text(ea.value)} ({loc(ea.span)})" if ea else f"no entry ({loc(ia.span)})"
            tb = f"{expr_text(eb.value)} ({loc(eb.span)})" if eb else f"no entry ({loc(ib.span)})"
            out = [Cause("schedule", name, year, f"{name} {fy}: {ta} → {tb}", ea.span if ea else ia.span, eb.span if eb else ib.span)]
            if ea:
                out += self._expr(ea.value, year, ova, ovb, who, "a")
            if eb:
                out += self._expr(eb.value, year, ova, ovb, who, "b")
            return out
        if isinstance(ia, ast.Table):
            return self._table(name, ia, ib, year, ova, ovb, who)
        return []

    def _item(self, item, side, name, year, ova, ovb, who) -> list:
        """The dependencies of an item present on one side only (root level: why it has its value)."""
        if isinstance(item, ast.Definition):
            return self._expr(item.expr, year, ova, ovb, who, side)
        if isinstance(item, ast.Schedule):
            e = entry_for(item, year)
            return self._expr(e.value, year, ova, ovb, who, side) if e else []
        if isinstance(item, ast.Table):
            ov = ova if side == "a" else ovb
            self.ev[side].value(name, year, ov)
            choices = self.ev[side].band_choices(name, year, ov) or ()
            out = self._expr(item.key, year, ova, ovb, who, side)
            for idx in sorted({band_choice(choices, i) for i in self._rows(who)} - {None}):
                out += self._expr(item.bands[idx].result, year, ova, ovb, who, side)
            return out
        return []

    def _table(self, name, ta: ast.Table, tb: ast.Table, year, ova, ovb, who) -> list:
        out: list = []
        if ta.key == tb.key:
            out += self._expr(ta.key, year, ova, ovb, who, "ab")
        else:
            out.append(
                Cause(
                    "key",
                    name,
                    year,
                    f"{named(name, tb)}: looked up by {expr_text(ta.key)} ({loc(ta.span)}) → {expr_text(tb.key)} ({loc(tb.span)})",
                    ta.span,
                    tb.span,
                )
            )
            out += self._expr(ta.key, year, ova, ovb, who, "a") + self._expr(tb.key, year, ova, ovb, who, "b")
        self.ev["a"].value(name, year, ova)
        self.ev["b"].value(name, year, ovb)
        ca = self.ev["a"].band_choices(name, year, ova) or ()
        cb = self.ev["b"].band_choices(name, year, ovb) or ()
        pairs = {(band_choice(ca, i), band_choice(cb, i)) for i in self._rows(who)}
        for ia_, ib_ in sorted(pairs, key=lambda p: (-1 if p[0] is None else p[0], -1 if p[1] is None else p[1])):
            ba = ta.bands[ia_] if ia_ is not None else None
            bb = tb.bands[ib_] if ib_ is not None else None
            if ba is None and bb is None:
                continue
            if ba is None or bb is None:
                missing, vid = (self.a.id, ta) if ba is None else (self.b.id, tb)
                there = bb if ba is None else ba
                out.append(
                    Cause(
                        "no-band",
                        name,
                        year,
                        f"{name}: the key falls in no band in {missing} ({loc(vid.span)}); band {band_desc(there)} in the other ({loc(there.span)})",
                        ba.span if ba else ta.span,
                        bb.span if bb else tb.span,
                    )
                )
            else:
                out += band_causes(name, year, ta, tb, ba, bb)
            if ba is not None and bb is not None and ba.result == bb.result:
                out += self._expr(ba.result, year, ova, ovb, who, "ab")
            else:
                if ba is not None:
                    out += self._expr(ba.result, year, ova, ovb, who, "a")
                if bb is not None:
                    out += self._expr(bb.result, year, ova, ovb, who, "b")
        return out

    # -- expressions --
    def _ovs(self, side, ova, ovb):
        return ova if side == "a" else ovb

    def _expr(self, e, year, ova, ovb, who, sides: str) -> list:
        plan = self._plans.get(id(e))
        if plan is None or plan[0] is not e:
            plan = self._plans[id(e)] = (e, ref_plan(e))
        if plan[1] is not None:  # no if / [year] / with inside: the names it refers to, in order
            out = []
            for name, inside_aggregate in plan[1]:
                out += self._node(name, year, ova, ovb, ALL if inside_aggregate else who)
            return out
        if isinstance(e, ast.Ref):
            return list(self._node(e.name, year, ova, ovb, who))
        if isinstance(e, ast.AtYear):
            out = self._expr(e.year, year, ova, ovb, who, sides)
            years = set()
            for side in sides:
                y = self._eval(side, e.year, year, self._ovs(side, ova, ovb))
                for i in self._rows(who):
                    yi = y[i] if isinstance(y, tuple) else y
                    if not is_undef(yi):
                        years.add(int(yi))
            for y in sorted(years, reverse=True):
                out += self._node(e.target.name, y, ova, ovb, who)
            return out
        if isinstance(e, ast.Call):
            if e.function in AGGREGATES:
                return [c for a in e.args for c in self._expr(a, year, ova, ovb, ALL, sides)]
            args = e.args[:2] if e.function == "round" else e.args
            return [c for a in args for c in self._expr(a, year, ova, ovb, who, sides)]
        if isinstance(e, ast.If):
            return self._if(e, year, ova, ovb, who, sides)
        if isinstance(e, ast.With):
            out = self._expr(e.value, year, ova, ovb, who, sides)
            new = {}
            for side, ov in (("a", ova), ("b", ovb)):
                value = self._eval(side, e.value, year, ov)
                pairs = tuple((n, v) for n, v in ov if n != e.name) + ((e.name, value),)
                new[side] = tuple(sorted(pairs, key=lambda p: p[0]))
            return out + self._expr(e.body, year, new["a"], new["b"], who, sides)
        if isinstance(e, ast.Unary):
            return self._expr(e.operand, year, ova, ovb, who, sides)
        if isinstance(e, ast.Binary):
            return self._expr(e.left, year, ova, ovb, who, sides) + self._expr(e.right, year, ova, ovb, who, sides)
        return []

    def _if(self, e: ast.If, year, ova, ovb, who, sides) -> list:
        """Only the conditions that were tested and the branches that were taken matter."""
        k = len(e.branches)
        tested = 0
        taken: set = set()
        for side in sides:
            ov = self._ovs(side, ova, ovb)
            conds = [self._eval(side, c, year, ov) for c, _ in e.branches]
            for i in self._rows(who):
                for j, cv in enumerate(conds):
                    c = cv[i] if isinstance(cv, tuple) else cv
                    if is_undef(c):
                        tested = max(tested, j + 1)
                        break
                    if c:
                        tested = max(tested, j + 1)
                        taken.add(j)
                        break
                else:
                    tested = k
                    taken.add(k)
        out = []
        for j in range(tested):
            out += self._expr(e.branches[j][0], year, ova, ovb, who, sides)
        for j in sorted(taken):
            out += self._expr(e.branches[j][1] if j < k else e.otherwise, year, ova, ovb, who, sides)
        return out
