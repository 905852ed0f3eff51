"""The HTML page: the report as plain strings and numbers for the Jinja2 template `templates/report.html.j2`.

The page loads nothing: no script, no font, no stylesheet, no image from anywhere; the charts are
inline SVG (charts.py), and a Content-Security-Policy of `default-src 'none'` forbids every load.
The same inputs give the same bytes (no timestamps).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import ast
from ..columnar.columns import is_col
from ..render import format_value
from ..summary import summarise
from ..values import Undefined, is_undef
from ..versions import NotInForce, Piece, Version
from ..years import FiscalYear, Period
from .charts import FONTS, draw_charts
from .measures import TOP_MOVERS, Measure, distribution, measures, mover_tables, movers
from .model import (
    REPORT_NAMES,
    Report,
    bands_line,
    column_groups,
    column_label,
    column_unit,
    report_columns,
    result_blocks,
    undefined_count,
)
from .text import display_value, pct_text, reason_shown, signed_text, ui_text

SUMMARY_MOVERS = 3  # of the largest movers of each measure (measures.TOP_MOVERS), the one-page summary shows the first
SUMMARY_YEARS = 4  # years on the one-page summary (the first three and the last of a longer period)
LIST_ALL = 100  # an undefined reason lists every municipality it concerns up to this many ...
LIST_FIRST = 20  # ... and beyond, the first of them and how many more


class UndefinedGroups:
    """Every undefined value the page refers to, grouped by its reason's template (the reason with its
    municipality left out: 'no FY2026 collection rate for 〔団体〕'), numbered in order of first appearance,
    with the versions, years and items it makes undefined and the municipalities it concerns.

    Column values are taken whole: their reason ids (shared by A and B, one table) are grouped with
    numpy, so a reason of 19,000 municipalities costs one group, not 19,000 texts.
    """

    def __init__(self, rep: Report):
        self.rep = rep
        ev = rep.result_b.evaluator
        self.reasons = ev.reasons
        self.ms = ev.data.municipalities
        self.n = ev.n
        self.groups: dict = {}
        self.by_rid: dict[int, int] = {}
        self.per_version: dict[str, int] = {}

    def _group(self, key) -> dict:
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = {
                "n": len(self.groups) + 1,
                "key": key,
                "versions": [],
                "years": [],
                "items": [],
                "count": 0,
                "mask": None,
                "whole": False,
            }
        return g

    def _add(self, g: dict, version: str, year: int, label: str, count: int, rows=None) -> None:
        for field, x in (("versions", version), ("years", year), ("items", label)):
            if x not in g[field]:
                g[field].append(x)
        g["count"] += count
        self.per_version[version] = self.per_version.get(version, 0) + count
        if rows is None:
            g["whole"] = True
            return
        if g["mask"] is None:
            g["mask"] = np.zeros(self.n, dtype=bool)
        g["mask"][rows] = True

    def add_column(self, version: str, year: int, label: str, v) -> None:
        """The undefined entries of one municipal value (a column, or one Undefined for every municipality)."""
        if not is_col(v):
            if type(v) is Undefined:
                self._add(self._group(("s", v.reason)), version, year, label, self.n, slice(None))
            return
        rid = v.rid
        if rid is None:
            return
        rows = np.flatnonzero(rid >= 0)
        if not len(rows):
            return
        r = rid[rows]
        order = np.argsort(r, kind="stable")
        r, rows = r[order], rows[order]
        ids, starts = np.unique(r, return_index=True)
        ends = list(starts[1:].tolist()) + [len(r)]
        for rid_, s, e in zip(ids.tolist(), starts.tolist(), ends):
            g = self._group(self._template(rid_, rows[s:e]))
            self.by_rid[rid_] = g["n"]
            self._add(g, version, year, label, e - s, rows[s:e])

    def _template(self, rid: int, rows):
        e = self.reasons.entries[rid]
        if e[0] == "m":
            return e
        text = e[1]
        if len(rows) == 1:  # a plain text naming its one municipality ('... for 131016 千代田区 in FY2024')
            who = str(self.ms[int(rows[0])])
            at = text.find(who)
            if at >= 0:
                return ("m", text[:at], text[at + len(who) :])
        return ("s", text)

    def note(self, reason: str, version: str, year: int, label: str) -> int:
        """One undefined value for the whole (a total, a prefecture value): its group's number."""
        g = self._group(("s", reason))
        self._add(g, version, year, label, 1)
        return g["n"]

    def number(self, v, i: int) -> int | None:
        """The group number of municipality i's undefined entry of a column value (None if it is defined)."""
        if not is_col(v):
            return self.groups[("s", v.reason)]["n"] if type(v) is Undefined and ("s", v.reason) in self.groups else None
        if v.rid is None or v.rid[i] < 0:
            return None
        return self.by_rid.get(int(v.rid[i]))

    @property
    def total(self) -> int:
        return sum(self.per_version.values())

    def rows(self, t: dict) -> list[dict]:
        out = []
        for g in self.groups.values():
            key = g["key"]
            reason = reason_shown(key[1] if key[0] == "s" else f"{key[1]}{t['muni_placeholder']}{key[2]}", self.rep, t)
            munis, more, count = [], 0, 0
            if g["mask"] is not None:
                idx = np.flatnonzero(g["mask"])
                count = len(idx)
                listed = idx if count <= LIST_ALL else idx[:LIST_FIRST]
                munis = [str(self.ms[i]) for i in listed.tolist()]
                more = count - len(listed)
            out.append(
                {
                    "n": g["n"],
                    "reason": reason,
                    "version": ", ".join(g["versions"]),
                    "year": ", ".join(y.both for y in sorted(g["years"])),
                    "item": t["sep"].join(g["items"]),
                    "count": f"{g['count']:,}",
                    "munis_count": t["municipality_count"].format(n=f"{count:,}") if count else "",
                    "munis": t["sep"].join(munis),
                    "more": t["more_munis"].format(n=f"{more:,}") if more else "",
                    "whole": t["prefecture_value"] if g["whole"] else "",
                }
            )
        return out


def collect_undefined(rep: Report) -> UndefinedGroups:
    """The undefined values of every municipal column shown (both versions, every year), grouped."""
    groups = UndefinedGroups(rep)
    cols = report_columns(rep)
    for y in rep.years:
        for c in cols:
            for v, res in ((rep.a, rep.result_a), (rep.b, rep.result_b)):
                if c in res.columns:
                    groups.add_column(v.id, y, column_label(rep, c), res.evaluator.fast(c, y))
    return groups


# ---- the per-municipality tables (few municipalities) ------------------------------------------


def _band_names(ev, table: str, year: int, version: Version) -> list | None:
    """Each municipality's band label of a table in a year (None: no band), or None when the table is not in force."""
    item = version.at(year).lookup(table)
    if not isinstance(item, ast.Table):
        return None
    ev.fast(table, year)
    choice = ev.band_choice_array(table, year)
    if choice is None:
        return None
    labels = [b.label or b.interval for b in item.bands]
    if len(choice) == 1:
        choice = np.full(ev.n, int(choice[0]))
    return [labels[c] if c >= 0 else None for c in choice.tolist()]


def _esc(x) -> str:
    from markupsafe import escape

    return str(escape(x))


def municipal_tables(rep: Report, t: dict, undefined: UndefinedGroups) -> list[dict]:
    """Per year and column group: one row per shown municipality, each cell B's value and A's when it differs,
    and for each number that changes in any year, B - A and (for amounts) the change in percent.

    The rows are written here as HTML (escaped): a few hundred rows of twenty cells each."""
    from markupsafe import Markup

    cols = report_columns(rep)
    blocks = result_blocks(rep)
    ms = rep.result_b.evaluator.data.municipalities
    shown = rep.shown.tolist()
    line_b, line_a = bands_line(rep.b), bands_line(rep.a)
    ops = rep.result_a.evaluator.ops
    in_a = {c: c in rep.result_a.columns for c in cols}
    in_b = {c: c in rep.result_b.columns for c in cols}
    diff_cols = set()
    for c in cols:
        if in_a[c] and in_b[c]:
            for y in rep.years:
                blk = blocks.get((y, c))
                if blk is not None and blk.numeric and (blk.delta.defined & (blk.status == 1)).any():
                    diff_cols.add(c)
                    break
    out = []
    for y in rep.years:
        for key, names in column_groups(cols):
            header = []
            band = key == "target" and (line_b or line_a)
            if band:
                header.append({"label": t["band"], "name": "band", "only": None, "diff": False, "pct": False})
            for c in names:
                only = None if in_a[c] and in_b[c] else (rep.b.id if in_b[c] else rep.a.id)
                unit = column_unit(rep, c)
                header.append(
                    {
                        "label": column_label(rep, c),
                        "name": c,
                        "only": only,
                        "diff": c in diff_cols,
                        "pct": c in diff_cols and unit not in ("percent", "pp"),
                    }
                )
            lb = _band_names(rep.result_b.evaluator, line_b[0], y, rep.b) if band and line_b else None
            la = _band_names(rep.result_a.evaluator, line_a[0], y, rep.a) if band and line_a else None
            values = {}
            for c in names:
                blk = blocks[(y, c)]
                values[c] = (_entries(ops, blk.va, shown) if in_a[c] else None, _entries(ops, blk.vb, shown) if in_b[c] else None, blk)
            rows = []
            changed = total = 0
            for i in shown:
                m = ms[i]
                cells = [f'<tr data-code="{_esc(m.code)}"><td class="text">{_esc(m.code)}</td><td class="text">{_esc(m.name)}</td>']
                if band:
                    b_ = (lb[i] if lb else None) or "—"
                    a_ = (la[i] if la else None) or "—"
                    chg = a_ != b_
                    cells.append(
                        f'<td class="text{" chg" if chg else ""}" data-col="band" data-b="{_esc(b_ if b_ != "—" else "")}" '
                        f'data-a="{_esc(a_ if a_ != "—" else "")}">{_esc(b_)}'
                        + (f'<span class="a">{_esc(a_)}</span>' if chg else "")
                        + "</td>"
                    )
                for h in header[1 if band else 0 :]:
                    c = h["name"]
                    unit = column_unit(rep, c)
                    pa, pb, blk = values[c]
                    va = None if pa is None else pa[i]
                    vb = None if pb is None else pb[i]
                    cls = "num" if unit not in ("text", "bool") else "text"
                    both = va is not None and vb is not None
                    chg = both and bool(blk.status[i] != 0)
                    if both:
                        total += 1
                        changed += chg
                    main, main_v, side_v = ("b", vb, blk.vb) if vb is not None else ("a", va, blk.va)
                    attrs_ = f' data-b="{_esc(_raw(main_v, unit))}"'
                    if both:
                        attrs_ += f' data-a="{_esc(_raw(va, unit))}"'
                    body = _cell_text(main_v, unit, t, undefined, side_v, i)
                    if chg:
                        body += f'<span class="a">{_cell_text(va, unit, t, undefined, blk.va, i)}</span>'
                    cells.append(f'<td class="{cls}{" chg" if chg else ""}" data-col="{c}"{attrs_}>{body}</td>')
                    if h["diff"]:
                        d = blk.delta.at(i) if chg else None
                        cells.append(f'<td class="num d">{signed_text(d, unit) if d else ""}</td>')
                        if h["pct"]:
                            cells.append(f'<td class="num d">{pct_text(d, va) if d else ""}</td>')
                cells.append("</tr>")
                rows.append(Markup("".join(cells)))
            out.append(
                {
                    "year": y.both,
                    "year_value": f"{y:d}",  # the table's id and data-year
                    "group": key,
                    "title": t["group_" + key],
                    "header": header,
                    "rows": rows,
                    "changed": t["changed_count"].format(n=changed, m=total),
                }
            )
    return out


def _entries(ops, v, shown: list) -> dict:
    """The shown municipalities' values in Python form: the whole column when most are shown, else one by one."""
    if not is_col(v):
        return dict.fromkeys(shown, v)
    if len(shown) * 4 >= ops.n:
        py = ops.to_python(v)
        return {i: py[i] for i in shown}
    return {i: ops.entry(v, i) for i in shown}


def _raw(v, unit: str) -> str:
    return "" if is_undef(v) else format_value(v, unit)


def _cell_text(v, unit: str, t: dict, undefined: UndefinedGroups, col, i: int) -> str:
    if is_undef(v):
        n = undefined.number(col, i)  # every shown column was grouped (collect_undefined): a number is always found
        return "—" if n is None else f'—<sup class="u"><a href="#u{n}">u{n}</a></sup>'
    return _esc(display_value(v, unit, t))


def summary_tables(rep: Report, t: dict, undefined: UndefinedGroups) -> list[dict]:
    """Per year: each summary total and prefecture value under A and B, and the difference."""
    from ..values import same

    sa, sb = summarise(rep.result_a), summarise(rep.result_b)
    out = []
    for y, ya, yb in zip(rep.years, sa, sb):
        rows = []
        flag_b, flag_a = (bands_line(rep.b) or (None, None))[1], (bands_line(rep.a) or (None, None))[1]

        def achievers(s, res, flag):
            for counts in s.bands.values():
                if is_undef(counts):
                    return f"—（u{undefined.note(counts.reason, res.version.id, s.year, t['achieved_total'])}）", None
                hits = sum(b.achieved for b in counts)
                text = f"{hits} / {sum(b.municipalities for b in counts) + sum(s.no_band.values())}"
                unknown = undefined_count(res.evaluator.fast(flag, s.year), rep.n)
                return text + (f"（{t['undefined']} {unknown}）" if unknown else ""), hits
            return None, None

        if flag_a or flag_b:
            (xa, ha), (xb, hb) = achievers(ya, rep.result_a, flag_a), achievers(yb, rep.result_b, flag_b)
            rows.append(
                {
                    "label": t["achieved_total"],
                    "a": xa or "",
                    "b": xb or "",
                    "changed": xa != xb,
                    "diff": f"{hb - ha:+d}" if ha is not None and hb is not None and ha != hb else "",
                    "name": "achievers",
                    "a_raw": xa or "",
                    "b_raw": xb or "",
                }
            )
        lines_a = {
            (kind, name, label): (raw, unit)
            for kind, name, label, display, raw, unit in ya.lines
            if kind in ("total", "show") and raw is not None
        }
        lines_b = {
            (kind, name, label): (raw, unit)
            for kind, name, label, display, raw, unit in yb.lines
            if kind in ("total", "show") and raw is not None
        }
        keys = list(lines_b) + [k for k in lines_a if k not in lines_b]
        for k in keys:
            kind, name, label = k
            ra = lines_a.get(k)
            rb = lines_b.get(k)
            unit = (rb or ra)[1]
            row = {"label": label, "name": name, "changed": False, "diff": ""}
            for side, x, vid in (("a", ra, rep.a.id), ("b", rb, rep.b.id)):
                if x is None:
                    row[side], row[side + "_raw"] = "", ""
                elif is_undef(x[0]):
                    n = undefined.note(x[0].reason, vid, y, label)
                    row[side], row[side + "_raw"] = "—", ""
                    row[side + "_note"] = n
                else:
                    row[side], row[side + "_raw"] = display_value(x[0], unit, t), format_value(x[0], unit)
            if ra is not None and rb is not None:
                row["changed"] = not same(ra[0], rb[0])
                if row["changed"] and not is_undef(ra[0]) and not is_undef(rb[0]) and not isinstance(ra[0], (bool, str)):
                    row["diff"] = signed_text(Fraction(rb[0]) - Fraction(ra[0]), unit)
            rows.append(row)
        out.append({"year": y.both, "year_value": y, "rows": rows})
    return out


def rule_tables(rep: Report, t: dict) -> list[dict]:
    """The band tables side by side, as the seed's 目標収納率（現行）/（検討案） table, per run of years."""
    from .. import diff

    line = bands_line(rep.b) or bands_line(rep.a)
    if line is None:
        return []
    name = line[0]
    runs = [x for x in rep.rules.tables if x.name == name]
    if not runs:
        ta, tb = rep.a.at(rep.years[0]).lookup(name), rep.b.at(rep.years[0]).lookup(name)
        runs = [
            diff.ItemDiff(
                name,
                "table",
                rep.years,
                ta,
                tb,
                "",
                diff.align_bands(ta if isinstance(ta, ast.Table) else None, tb if isinstance(tb, ast.Table) else None),
            )
        ]
    out = []
    for run in runs:
        sides = []
        for v, x in ((rep.a, run.a), (rep.b, run.b)):
            table = x if isinstance(x, ast.Table) else None
            item = x.item if isinstance(x, NotInForce) else x
            period = (
                (
                    item.effective.both
                    if getattr(item, "effective", None)
                    else (v.header.period_text or (v.header.plan_period.both if v.header.plan_period else ""))
                )
                if item
                else ""
            )
            piece = v.at(run.years[0]).piece(name)  # a revision keeps its base's table before its own years
            shown = v.id
            if isinstance(piece, Piece) and len(v.pieces(name)) > 1:
                period = _span_text(piece.years)
                if piece.version != v.id:
                    shown = t["piece_from"].format(version=v.id, origin=piece.version)
            counts = rep.seed_rows.get(v.id)
            achieved_year = counts[0].both if counts and table is not None and _same_bands(table, counts[1]) else None
            sides.append(
                {
                    "version": shown,
                    "label": getattr(item, "label", None) or name,
                    "period": period,
                    "in_force": table is not None,
                    "reason": reason_shown(x.reason, rep, t)
                    if isinstance(x, NotInForce)
                    else (None if x is not None else f"{t['no_table']} ({v.id})"),
                    "achieved_year": achieved_year,
                    "counts": counts[1] if achieved_year else None,
                    "table": table,
                }
            )
        rows = []
        for r in run.rows:
            row = {"change": r.change, "change_text": _change_text(r.change, t)}
            for key, band, side in (("a", r.a, sides[0]), ("b", r.b, sides[1])):
                if band is None or side["table"] is None:
                    row[key] = None
                    continue
                ach = ""
                if side["counts"] is not None:
                    idx = side["table"].bands.index(band)
                    c = side["counts"][idx]
                    ach = f"{c.achieved} / {c.municipalities}"
                row[key] = {
                    "label": band.label or band.interval,
                    "interval": band.interval,
                    "wording": band.wording or diff.expr_text(band.result),
                    "achieved": ach,
                }
            rows.append(row)
        out.append(
            {
                "years": Period(run.years[0], run.years[-1]).both,
                "change": _change_text(run.change, t),
                "a": sides[0],
                "b": sides[1],
                "rows": rows,
            }
        )
    return out


def _span_text(p) -> str:
    """A piece's years in either language: FY2024-FY2026 (R6-R8), ～FY2023 (R5), FY2030 (R12)～."""
    if p is None or (p.first is None and p.last is None):
        return "—"
    if p.first is None:
        return f"～{FiscalYear(p.last).both}"
    if p.last is None:
        return f"{FiscalYear(p.first).both}～"
    return p.both


def _change_text(change: str, t: dict) -> str:
    """diff's words for a change ('bounds, result'), in the page's language."""
    if change.startswith("not in force in ") and "not_in_force_in" in t["changes"]:
        return t["changes"]["not_in_force_in"].format(version=change[len("not in force in ") :])
    return ", ".join(t["changes"].get(w, w) for w in change.split(", ")) if change else ""


def _same_bands(table: ast.Table, counts) -> bool:
    return len(counts) == len(table.bands) and all(c.interval == b.interval for c, b in zip(counts, table.bands))


def other_rule_changes(rep: Report) -> list[dict]:
    """Schedules by year and definitions that differ, in one short list (the full list: kokuho diff --rules-only)."""
    from .. import diff

    rd = rep.rules
    out = []
    for s in rd.schedules:
        out.append({"item": f"{s.label} ({s.name})", "year": s.year.both, "a": _entry(s.a, s.a_note), "b": _entry(s.b, s.b_note)})
    for d in rd.definitions:
        item = (d.b.item if isinstance(d.b, NotInForce) else d.b) or (d.a.item if isinstance(d.a, NotInForce) else d.a)
        label = getattr(item, "label", None)
        years = Period(d.years[0], d.years[-1]).both

        def formula(x):
            if x is None:
                return "—"
            if isinstance(x, NotInForce):
                return "—"
            if isinstance(x, ast.Definition):
                return diff.expr_text(x.expr)
            if isinstance(x, ast.Schedule):
                return "; ".join(f"{e.years_text or e.years}: {diff.expr_text(e.value)}" for e in x.entries)
            return d.change  # noqa: B023 (called within this iteration)

        out.append({"item": f"{label} ({d.name})" if label else d.name, "year": years, "a": formula(d.a), "b": formula(d.b)})
    return out


def _entry(e, note) -> str:
    from .. import diff

    if e is None:
        return "—"
    return diff.expr_text(e.value) + (f"（{e.wording}）" if e.wording else "")


def citations(rep: Report) -> list[dict]:
    """Every rule item with a citation in either version (examples aside), with its file and line."""
    from ..diff import loc

    out = []
    seen = set()
    for v in (rep.b, rep.a):
        h = v.header
        if (v.id, "ruleset") not in seen:
            seen.add((v.id, "ruleset"))
            out.append(
                {
                    "versions": v.id,
                    "name": v.id,
                    "label": h.title or "",
                    "kind": "ruleset",
                    "cite": " / ".join(x for x in (h.basis, h.cite) if x),
                    "line": loc(h.span),
                }
            )
    for name in list(dict.fromkeys(list(rep.b.items) + list(rep.a.items))):
        items = [(v, v.items.get(name)) for v in (rep.a, rep.b)]
        groups: dict = {}
        for v, item in items:
            if item is None or isinstance(item, (ast.Example, ast.Summary)) or not getattr(item, "cite", None):
                continue
            groups.setdefault(id(item), (item, []))[1].append(v.id)
        for item, vids in groups.values():
            kind = {ast.InputDecl: "input", ast.Definition: "define", ast.Table: "table", ast.Schedule: "schedule"}.get(type(item), "")
            out.append(
                {
                    "versions": ", ".join(vids),
                    "name": name,
                    "label": item.label or "",
                    "kind": kind,
                    "cite": item.cite,
                    "line": loc(item.span),
                }
            )
    return out


def what_changes(rep: Report, t: dict) -> list[str]:
    """The rule changes in a few lines: band tables by kind of change, schedules by year, definitions added,
    removed or changed (the full list: 規則の比較 below, and `kokuho diff --rules-only`)."""
    from .. import diff

    rd = rep.rules
    out = []
    for run in rd.tables:
        counts = {"changed": 0, "added": 0, "removed": 0}
        for r in run.rows:
            if r.change in ("added", "removed"):
                counts[r.change] += 1
            elif r.change:
                counts["changed"] += 1
        parts = [t["band_" + k].format(n=v) for k, v in counts.items() if v]
        if not parts:
            parts = [_change_text(run.change, t)]
        item = (run.b.item if isinstance(run.b, NotInForce) else run.b) or (run.a.item if isinstance(run.a, NotInForce) else run.a)
        label = getattr(item, "label", None) or run.name
        out.append(t["band_changes"].format(label=label, years=Period(run.years[0], run.years[-1]).both, parts=t["sep"].join(parts)))
    by_name: dict = {}
    for s in rd.schedules:
        by_name.setdefault((s.name, s.label), []).append(
            f"{s.year.both} {diff.expr_text(s.a.value) if s.a else '—'} → {diff.expr_text(s.b.value) if s.b else '—'}"
        )
    for (_name, label), changes in by_name.items():
        out.append(t["schedule_change"].format(label=label, changes=t["sep"].join(changes)))
    kinds: dict = {"added": [], "removed": [], "changed": []}
    for d in rd.definitions:
        item = (d.b.item if isinstance(d.b, NotInForce) else d.b) or (d.a.item if isinstance(d.a, NotInForce) else d.a)
        label = getattr(item, "label", None) or d.name
        kind = d.change if d.change in ("added", "removed") else "changed"
        if label not in kinds[kind]:
            kinds[kind].append(label)
    for kind, key, vid in (("added", "added_items", rep.b.id), ("removed", "removed_items", rep.b.id), ("changed", "changed_items", None)):
        names = kinds[kind]
        if names:
            shown = t["sep"].join(names[:8]) + (f" … ({len(names)})" if len(names) > 8 else "")
            out.append(t[key].format(version=vid, names=shown))
    return out or [t["no_rule_change"]]


def key_figures(rep: Report, t: dict, ms: list[Measure], summaries: list[dict]) -> list[dict]:
    """The one-page summary's table: per year, achievers, how many targets rise or fall, the levy totals and
    how many municipalities pay more or less per person."""
    years = list(rep.years)
    if len(years) > SUMMARY_YEARS:
        years = years[: SUMMARY_YEARS - 1] + years[-1:]
    by = {(m.year, m.key): m for m in ms}
    out = []
    for y in years:
        rows = []
        s = next(x for x in summaries if x["year_value"] == y)
        for r in s["rows"]:
            if r["name"] == "achievers":
                rows.append({"label": r["label"], "a": r["a"], "b": r["b"], "diff": r["diff"], "span": None})
        m = by.get((y, "target"))
        if m is not None:
            d = distribution(m, t)
            text = t["moves_up_down"].format(up=d["up"], down=d["down"], same=d["same"]) + (
                t["moves_undefined"].format(n=d["undefined"]) if d["undefined"] else ""
            )
            rows.append({"label": t["target_moves"], "span": text})
        for r in s["rows"]:
            if r["name"] in (REPORT_NAMES["levy"], REPORT_NAMES["net_levy"]):
                rows.append({"label": r["label"], "a": r["a"], "b": r["b"], "diff": r["diff"], "span": None})
        for key in ("net", "levy"):
            m = by.get((y, key))
            if m is None:
                continue
            d = distribution(m, t)
            text = t["levy_up_down"].format(up=d["up"], down=d["down"], same=d["same"]) + (
                t["moves_undefined"].format(n=d["undefined"]) if d["undefined"] else ""
            )
            if d["whole"]:
                text += t["whole_text"].format(x=d["whole"])
            rows.append({"label": t["levy_moves"].format(what=m.title), "span": text})
            break
        out.append({"year": y.both, "rows": rows})
    return out


def overview_movers(rep: Report, t: dict, ms: list[Measure]) -> dict | None:
    """The first year's largest increases and decreases of the target rate and of the (net) levy per person."""
    y = rep.years[0]
    picked = [m for m in ms if m.year == y and m.key == "target"]
    picked += [m for m in ms if m.year == y and m.key == "net"][:1] or [m for m in ms if m.year == y and m.key == "levy"][:1]
    tables = []
    for m in picked:
        gains, losses = movers(rep, m, SUMMARY_MOVERS)
        tables.append({"title": m.title, "per_person": m.per_person, "gains": gains, "losses": losses})
    if not tables:
        return None
    return {"year": y.both, "tables": tables}


def selection_note(rep: Report, t: dict) -> str | None:
    if rep.selected is None:
        return None
    ms = rep.result_b.evaluator.data.municipalities
    names = t["sep"].join(str(ms[i]) for i in rep.selected[:10]) + (" …" if len(rep.selected) > 10 else "")
    return t["selection_note"].format(names=names, k=len(rep.selected), n=rep.n)


def header(rep: Report, t: dict) -> dict:
    versions = []
    for role, v in ((t["role_a"], rep.a), (t["role_b"], rep.b)):
        h = v.header
        versions.append(
            {
                "role": role,
                "id": v.id,
                "title": h.title or "",
                "status": h.status or "",
                "period": (h.plan_period.both if h.plan_period else "") + (f"（{h.period_text}）" if h.period_text else ""),
                "basis": h.basis or "",
                "file": Path(v.file.path).name if getattr(v.file, "path", None) else "",
            }
        )
    return {
        "title": f"{rep.a.id} → {rep.b.id}",
        "period": Period(rep.years[0], rep.years[-1]).both,
        "versions": versions,
        "files": [
            {"role": f.role, "path": f.path, "rows": f.rows, "sha256": f.sha256[:16], "notes": list(f.notes), "synthetic": f.synthetic}
            for f in rep.files
        ],
        "synthetic": rep.synthetic,
    }


def render_html(rep: Report, *, lang: str = "ja") -> str:
    """The report as one HTML document that loads nothing (same report, same bytes).

    Page 1 is the one-page summary; then the contents, the versions and data, the rules side by
    side, the yearly summaries, the charts, the distributions of the changes, the largest movers,
    the per-municipality tables (few municipalities) or a pointer to the workbook (many), the
    undefined values grouped by reason and the citations.
    """
    import jinja2
    from markupsafe import Markup

    t = ui_text(lang)
    undefined = collect_undefined(rep)
    ms = measures(rep, t)
    summaries = summary_tables(rep, t, undefined)
    tables = municipal_tables(rep, t, undefined) if rep.full_tables else []
    charts = [{"id": cid, "title": title, "svg": Markup(svg), "note": note} for cid, title, svg, note in draw_charts(rep, t, ms)]
    rules = rule_tables(rep, t)
    other = other_rule_changes(rep)
    sections = [("overview", t["overview"]), ("versions", t["details"]), ("rules", t["rule_diff"])]
    if other:
        sections.append(("other-rules", t["other_rules"]))
    sections += [
        ("summary", t["summary"]),
        ("charts", t["charts"]),
        ("distribution", t["distribution"]),
        ("movers", t["movers"]),
        ("municipal", t["per_municipality"]),
        ("undefined", t["undefined_values"]),
        ("citations", t["citations"]),
    ]
    undefined_rows = undefined.rows(t)
    parts = [t["undefined_part"].format(version=v, n=f"{undefined.per_version.get(v, 0):,}") for v in (rep.a.id, rep.b.id)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = env.get_template("report.html.j2").render(
        t=t,
        head=header(rep, t),
        rule_tables=rules,
        other_rules=other,
        summaries=summaries,
        charts=charts,
        tables=tables,
        undefined=undefined_rows,
        citations=citations(rep),
        a=rep.a.id,
        b=rep.b.id,
        fonts=Markup(", ".join(f"'{f}'" for f in FONTS) + ", sans-serif"),
        sections=sections,
        changes=what_changes(rep, t),
        figures=key_figures(rep, t, ms, summaries),
        top=overview_movers(rep, t, ms),
        selection=selection_note(rep, t),
        full_tables=rep.full_tables,
        scaled_note=None if rep.full_tables else t["scaled_note"].format(n=f"{len(rep.shown):,}"),
        distributions=[distribution(m, t) for m in ms],
        movers=mover_tables(rep, t, ms),
        per_person=any(m.per_person for m in ms),
        top_n=TOP_MOVERS,
        n=f"{rep.n:,}",
        undefined_summary=t["undefined_summary"].format(parts=t["sep"].join(parts), g=len(undefined_rows))
        if undefined_rows
        else t["undefined_none"],
    )
    return page
