"""The changes of each municipality the page ranks and charts: B - A of the target, the levy and the net levy, exactly.

A `Measure` is one year's difference of one measure for every municipality (per insured person
for the levies); `distribution` gives its nearest-rank percentiles, `movers` its largest gains and losses.
"""

from __future__ import annotations

from fractions import Fraction

import attrs
import numpy as np

from ..columnar.columns import Num, is_col, scaled_pair
from ..render import format_display
from ..values import Undefined, is_undef
from ..years import FiscalYear
from .model import REPORT_NAMES, Report, column_label, column_unit, result_blocks
from .text import signed_text, yen_text

TOP_MOVERS = 10  # gains and losses listed per measure and year
QUANTILES = (0, 10, 25, 50, 75, 90, 100)  # nearest-rank percentiles of each distribution


# ---- the changes of each municipality: B - A of the measures the page ranks and charts -----------


@attrs.frozen(eq=False)
class Measure:
    """One year's B - A of one measure for every municipality, exactly: num[i] / den (den[i] where it is
    an array) where defined. Per person: the difference divided by B's insured persons."""

    key: str  # target | levy | net
    year: FiscalYear
    title: str
    unit: str  # pp | yen
    per_person: bool
    name_a: str
    name_b: str
    num: object  # numpy int64 or object array
    den: object  # a positive int, or an array of them
    defined: object  # numpy bool array
    total: object = None  # per person: the exact sum of the differences over the defined rows (yen)
    persons: object = None  # per person: B's insured persons, a numpy array of exact integers (numerators over persons_den)
    persons_den: int = 1

    def at(self, i: int) -> Fraction:
        d = self.den[i] if isinstance(self.den, np.ndarray) else self.den
        return Fraction(int(self.num[i]), int(d))

    def show(self, x) -> str:
        return yen_text(x, signed=True) if self.unit == "yen" else signed_text(x, "percent")

    def ranked(self, rows, descending: bool = False):
        return _ranked(self.num, self.den, rows, descending)


def _delta_parts(delta, n: int):
    """(num, den, defined) of a diff.Delta: int64 numerators over one denominator where they fit, else exact objects."""
    defined = np.array(delta.defined, dtype=bool)
    if delta.num is not None:
        return np.asarray(delta.num, dtype=np.int64), int(delta.den), defined
    num = np.zeros(n, dtype=object)
    den = np.ones(n, dtype=object)
    for i in np.flatnonzero(defined).tolist():
        q = Fraction(delta.at(i))
        num[i], den[i] = q.numerator, q.denominator
    return num, den, defined


def _difference(ev, va, vb, n: int):
    """(num, den, defined) of vb - va for two values of different names (the net levy beside A's levy)."""

    def ok(v):
        if is_col(v):
            return np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
        return np.full(n, type(v) is not Undefined)

    numeric = all(type(v) is Num or (not is_col(v) and type(v) in (int, Fraction)) for v in (va, vb))
    defined = ok(va) & ok(vb) & numeric
    if numeric:
        ib, ia, den = scaled_pair(vb, va, with_den=True)
        if ia is not None:
            return np.broadcast_to(np.asarray(ib - ia, dtype=np.int64), (n,)).copy(), int(den), defined
    num = np.zeros(n, dtype=object)
    den = np.ones(n, dtype=object)
    for i, x in enumerate(ev.difference(vb, va)):
        if x is not None and defined[i]:
            q = Fraction(x)
            num[i], den[i] = q.numerator, q.denominator
        else:
            defined[i] = False
    return num, den, defined


def _per_person(num, den, defined, persons, ev, n: int):
    """The differences divided by the insured persons (defined where they are positive), exactly."""
    if type(persons) is Num and persons.lin is not None and persons.lin.small() is not None:
        p, pden = persons.lin.small().v, persons.lin.den
        defined = defined & (p > 0) & (np.ones(n, dtype=bool) if persons.rid is None else persons.rid < 0)
    else:  # a prefecture value or an inexact column: exact values one by one
        py = ev.to_python(persons)
        py = py if isinstance(py, tuple) else (py,) * n
        p = np.array([Fraction(x).numerator if not is_undef(x) and not isinstance(x, (bool, str)) else 0 for x in py], dtype=object)
        pden = 1
        if any(not is_undef(x) and not isinstance(x, (bool, str)) and Fraction(x).denominator != 1 for x in py):
            return None
        defined = defined & np.array([x > 0 for x in p.tolist()], dtype=bool)
    p_safe = np.where(defined, p, 1)
    if num.dtype == np.int64 and p_safe.dtype == np.int64 and not isinstance(den, np.ndarray):
        big = int(np.abs(num).max()) if len(num) else 0
        if big * pden < 2**62 and int(p_safe.max() if len(p_safe) else 1) * den < 2**62:
            return num * pden, p_safe * den, defined, p, pden
    return (
        num.astype(object) * pden,
        p_safe.astype(object) * (den if not isinstance(den, np.ndarray) else den.astype(object)),
        defined,
        p,
        pden,
    )


def measures(rep: Report, t: dict) -> list[Measure]:
    """Per year: the target rate's change (pp), and the levy's and the net levy's change per insured person."""
    target, levy, net, insured = (REPORT_NAMES[k] for k in ("target", "levy", "net_levy", "insured"))
    blocks = result_blocks(rep)
    ev_a, ev_b = rep.result_a.evaluator, rep.result_b.evaluator
    n = rep.n
    out = []
    for y in rep.years:
        blk = blocks.get((y, target))
        if blk is not None and target in rep.a.items and target in rep.b.items and blk.numeric:
            num, den, defined = _delta_parts(blk.delta, n)
            out.append(
                Measure(
                    "target", y, t["measure_target"].format(label=column_label(rep, target)), "pp", False, target, target, num, den, defined
                )
            )
        if insured not in rep.b.items:
            continue
        persons = ev_b.fast(insured, y)
        sides = []
        if levy in rep.a.items and levy in rep.b.items:
            sides.append(("levy", levy, levy, t["measure_levy"].format(label=column_label(rep, levy))))
        if net in rep.b.items:
            name_a = net if net in rep.a.items else levy
            title = t["measure_net"].format(label=column_label(rep, net))
            if name_a != net:
                title += t["measure_net_a"].format(a=rep.a.id, label=column_label(rep, name_a))
            if name_a in rep.a.items:
                sides.append(("net", name_a, net, title))
        for key, name_a, name_b, title in sides:
            blk = blocks.get((y, name_b))
            if name_a == name_b and blk is not None:
                if not blk.numeric:
                    continue
                num, den, defined = _delta_parts(blk.delta, n)
            else:
                num, den, defined = _difference(ev_b, ev_a.fast(name_a, y), ev_b.fast(name_b, y), n)
            pp = _per_person(num, den, defined, persons, ev_b, n)
            if pp is None:
                continue
            pnum, pden_arr, pdefined, p, p_den = pp
            rows = np.flatnonzero(pdefined)
            if isinstance(den, np.ndarray):
                total = sum((Fraction(int(num[i]), int(den[i])) for i in rows.tolist()), Fraction(0))
            else:
                total = Fraction(int(num[rows].astype(object).sum()) if len(rows) else 0, den)
            out.append(Measure(key, y, title, "yen", True, name_a, name_b, pnum, pden_arr, pdefined, total, p, p_den))
    return out


def _ranked(num, den, rows, descending: bool = False):
    """rows sorted by the exact value num/den (ascending, or descending), ties in code order.

    A common denominator with int64 numerators sorts the integers; otherwise the float quotients
    (each correctly rounded, so in exact order but for near-ties) sort, and each run of values
    within 1e-12 of each other is sorted again with exact fractions."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return rows
    sign = -1 if descending else 1
    common = not isinstance(den, np.ndarray)
    part = num[rows]
    if common and part.dtype == np.int64:
        return rows[np.lexsort((rows, -part if descending else part))]
    d = float(den) if common else den[rows].astype(np.float64)
    with np.errstate(all="ignore"):
        f = sign * (part.astype(np.float64) / d)
    order = np.lexsort((rows, f))
    r, fs = rows[order], f[order]
    close = np.abs(np.diff(fs)) <= np.maximum(np.abs(fs[1:]), np.abs(fs[:-1])) * 1e-12
    if close.any():
        r = r.copy()
        edges = np.flatnonzero(np.diff(np.concatenate(([0], close.astype(np.int8), [0]))))
        for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist()):
            seg = r[s : e + 1]
            if not np.any(num[seg]):
                continue  # all zero: already in code order
            r[s : e + 1] = sorted(seg.tolist(), key=lambda i: (sign * Fraction(int(num[i]), int(den if common else den[i])), i))
    return r


def distribution(m: Measure, t: dict) -> dict:
    """Counts up, down and unchanged over every municipality, and nearest-rank percentiles of the exact values."""
    rows = np.flatnonzero(m.defined)
    ordered = m.ranked(rows)
    positive = m.num[rows] > 0
    negative = m.num[rows] < 0
    k = len(ordered)
    qs = []
    for p in QUANTILES:
        rank = max(1, -(-p * k // 100)) if k else 0
        qs.append(m.show(m.at(int(ordered[rank - 1]))) if k else "—")
    out = {
        "title": m.title,
        "year": m.year.both,
        "n": k,
        "up": int(np.count_nonzero(positive)),
        "down": int(np.count_nonzero(negative)),
        "same": int(k - np.count_nonzero(positive) - np.count_nonzero(negative)),
        "undefined": int(len(m.defined) - k),
        "quantiles": qs,
        "whole": "",
    }
    if m.per_person and m.persons is not None and k:
        persons = Fraction(int(m.persons[rows].astype(object).sum()), m.persons_den)
        if persons:
            out["whole"] = m.show(m.total / persons)
    return out


def movers(rep: Report, m: Measure, top: int) -> tuple[list, list]:
    """The `top` largest increases and decreases among the shown municipalities (exact order, ties by code)."""
    rows = np.intersect1d(np.flatnonzero(m.defined), rep.shown)
    up = rows[m.num[rows] > 0]
    down = rows[m.num[rows] < 0]
    return [mover_row(rep, m, int(i)) for i in m.ranked(up, descending=True)[:top]], [
        mover_row(rep, m, int(i)) for i in m.ranked(down)[:top]
    ]


def mover_row(rep: Report, m: Measure, i: int) -> dict:
    ev_a, ev_b = rep.result_a.evaluator, rep.result_b.evaluator
    a = ev_a.ops.entry(ev_a.fast(m.name_a, m.year), i)
    b = ev_b.ops.entry(ev_b.fast(m.name_b, m.year), i)
    mun = ev_b.data.municipalities[i]
    row = {"code": mun.code, "name": mun.name, "delta": m.show(m.at(i)), "i": i}
    if m.per_person:
        p = Fraction(int(m.persons[i]), m.persons_den)
        row["a"], row["b"] = yen_text(Fraction(a) / p), yen_text(Fraction(b) / p)
        row["total"] = signed_text(Fraction(b) - Fraction(a), "yen")
    else:
        row["a"], row["b"] = format_display(a, column_unit(rep, m.name_a)), format_display(b, column_unit(rep, m.name_b))
        row["total"] = ""
    return row


def mover_tables(rep: Report, t: dict, ms: list[Measure]) -> list[dict]:
    out = []
    for m in ms:
        gains, losses = movers(rep, m, TOP_MOVERS)
        out.append(
            {
                "id": f"movers-{m.year:d}-{m.key}",
                "title": m.title,
                "year": m.year.both,
                "per_person": m.per_person,
                "gains": gains,
                "losses": losses,
            }
        )
    return out
