"""The rule diff (`kokuho diff --rules-only`): two versions compared as resolved for each fiscal year.

Band tables side by side, schedule values by year, definitions added, removed or changed, inputs,
citations and effective periods. No text diff: spans and comments do not count, meaning does.
"""

from __future__ import annotations

import functools

import attrs

from .. import ast
from ..display import rule_word
from ..format import expression_text as expr_text
from ..render import to_csv, to_json, to_markdown, to_table
from ..versions import NotInForce, Version
from ..years import FiscalYear, Period
from .common import (
    band_core,
    band_result,
    entry_for,
    heading,
    item_core,
    item_kind,
    loc,
    named,
    same_item,
    show_field,
    summary_lines,
    version_doc,
)

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
    years: tuple[FiscalYear, ...]
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
    year: FiscalYear
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
    years: tuple[FiscalYear, ...]
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
        return ("not in force", item_core(x.item))
    return (item_core(x), attrs.evolve(x, override=False) if hasattr(x, "override") else x)


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
            bounds = band_core(x)[:4] != band_core(z)[:4]
            result = x.result != z.result
            change = ", ".join(w for w, on in (("bounds", bounds), ("result", result)) if on)
            if not change and (x.label != z.label or x.wording != z.wording):
                change = "wording"
        rows.append(BandRow(x, z, change))
    return tuple(rows)


def compare_rules(a: Version, b: Version, years) -> RulesDiff:
    """The two versions as resolved for each year: what differs, by meaning, with both sides' lines."""
    years = tuple(FiscalYear(y) for y in years)  # a library caller's may be plain ints
    names = list(dict.fromkeys(list(a.items) + list(b.items)))
    tables, definitions, inputs, schedules = [], [], [], []
    for name in names:
        item = b.items.get(name) or a.items.get(name)
        if isinstance(item, (ast.Example, ast.Summary)):
            continue
        for ys, _ in _runs(
            years,
            lambda y: (_state(a.at(y).lookup(name)), _state(b.at(y).lookup(name)), _from(a, y, name), _from(b, y, name)),  # noqa: B023 (called within this iteration)
        ):
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
            kind = item_kind(_unwrap(lb) or _unwrap(la))
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
                if isinstance(la, ast.InputDecl) and isinstance(lb, ast.InputDecl) and item_core(la) == item_core(lb):
                    continue
                inputs.append(ItemDiff(name, kind, ys, la, lb, change, (), fa, fb))
            else:
                if isinstance(la, ast.Definition) and isinstance(lb, ast.Definition) and item_core(la) == item_core(lb):
                    continue
                definitions.append(ItemDiff(name, kind, ys, la, lb, change, (), fa, fb))
    for name in names:
        item = b.items.get(name) or a.items.get(name)
        if not isinstance(item, ast.Schedule) and not isinstance(a.items.get(name), ast.Schedule):
            continue
        for y in years:
            la, lb = a.at(y).lookup(name), b.at(y).lookup(name)
            ea = entry_for(la, y) if isinstance(la, ast.Schedule) else None
            eb = entry_for(lb, y) if isinstance(lb, ast.Schedule) else None
            if ea is not None and eb is not None and ea.value == eb.value and la.unit == lb.unit:
                continue
            if ea is None and eb is None:
                continue
            label = getattr(_unwrap(lb) or _unwrap(la), "label", None) or name
            schedules.append(ScheduleRow(name, label, y, ea, eb, _absent(a, name, la, y, ea), _absent(b, name, lb, y, eb)))
    return RulesDiff(
        a, b, years, tuple(tables), tuple(schedules), tuple(definitions), tuple(inputs), tuple(_meta(a, b)), tuple(_summary_changes(a, b))
    )


def _unwrap(x):
    return x.item if isinstance(x, NotInForce) else x


def _from(v: Version, year: int, name: str) -> str | None:
    """The version whose piece of `name` v uses in `year` (or names in its reason when none is in force)."""
    p = v.at(year).piece(name)
    return None if p is None else p.version


def _absent(v: Version, name: str, looked, year: FiscalYear, entry) -> str | None:
    if entry is not None:
        return None
    if looked is None:
        return f"no {name} in {v.id}"
    if isinstance(looked, NotInForce):
        return looked.reason
    return f"no entry for {year.both}"


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
    return None if same_item(la, lb) else "changed"


def _meta(a: Version, b: Version) -> list[MetaChange]:
    out = []
    ha, hb = a.header, b.header
    for field, x, z in (
        ("title", ha.title, hb.title),
        ("status", ha.status, hb.status),
        ("period", ha.plan_period.both if ha.plan_period else "", hb.plan_period.both if hb.plan_period else ""),
        ("basis", ha.basis, hb.basis),
        ("cite", ha.cite, hb.cite),
    ):
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
        x = [n for names in summary_lines(a, kind) for n in names]
        z = [n for names in summary_lines(b, kind) for n in names]
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
    out = [heading(rd, "規則の比較 (rule diff)", fmt, lang).rstrip("\n") + "\n"]
    if rd.empty:
        out.append("差はありません。\n" if lang == "ja" else "No differences.\n")
        return "\n".join(out)
    h2 = "## " if md else "■ "
    for t in rd.tables:
        ta, tb = _unwrap(t.a), _unwrap(t.b)
        title = f"{h2}区分表 {t.name} — {_years_text(t.years)}"
        out.append(title + f" ({w(t.change)})\n")
        for _side, x, v in (("A", t.a, a), ("B", t.b, b)):
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
            rows.append(
                [
                    r.a.label or "" if r.a else "",
                    r.a.interval if r.a else "",
                    band_result(r.a) if r.a else "",
                    r.b.label or "" if r.b else "",
                    r.b.interval if r.b else "",
                    band_result(r.b) if r.b else "",
                    w(r.change),
                ]
            )
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
            rows.append(
                [
                    f"{s.name} ({s.label})",
                    s.year.both,
                    _entry_text(s.a, s.a_note),
                    _entry_text(s.b, s.b_note),
                    " → ".join(x for x in (loc(s.a.span) if s.a else "", loc(s.b.span) if s.b else "") if x),
                ]
            )
        out.append(tab(head, rows, ["left", "left", "right", "right", "left"]))
    if rd.definitions:
        out.append(f"{h2}定義 (definitions)\n")
        head = ["項目", "年度", "変更", f"{a.id} の式", f"{b.id} の式"]
        rows = []
        for dd in rd.definitions:
            item = _unwrap(dd.b) or _unwrap(dd.a)
            rows.append([named(dd.name, item), _years_text(dd.years), w(dd.change), _formula_cell(dd.a), _formula_cell(dd.b)])
        out.append(tab(head, rows))
    if rd.inputs:
        out.append(f"{h2}入力 (inputs)\n")
        head = ["項目", "変更", a.id, b.id]
        rows = [[named(i.name, _unwrap(i.b) or _unwrap(i.a)), w(i.change), _input_text(i.a), _input_text(i.b)] for i in rd.inputs]
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
    return f"{named(name, x.item)} is not in force for {_years_text(years)}; it covers {eff} ({loc(x.item.span)})"


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
    return f"{item_kind(x)} ({loc(x.span)})"


def _input_text(x) -> str:
    if x is None:
        return "—"
    x = _unwrap(x)
    return f"{x.scope} {x.unit}; columns {show_field(x.columns)} ({loc(x.span)})"


def _rules_flat(rd: RulesDiff) -> list[list[str]]:
    a, b = rd.a, rd.b
    flat = []
    for t in rd.tables:
        ys = _years_text(t.years)
        for k, r in enumerate(t.rows, 1):

            def cell(band):
                return f"{band.label or ''} {band.interval} => {band_result(band)}".strip() if band else ""

            flat.append(
                [
                    "table",
                    t.name,
                    ys,
                    f"band {k}",
                    r.change or "same",
                    cell(r.a),
                    cell(r.b),
                    loc(r.a.span) if r.a else "",
                    loc(r.b.span) if r.b else "",
                ]
            )
        for tag, x in ((a.id, t.a), (b.id, t.b)):
            if isinstance(x, NotInForce):
                flat.append(
                    ["table", t.name, ys, "in force", t.change, x.reason if tag == a.id else "", x.reason if tag == b.id else "", "", ""]
                )
    for s in rd.schedules:
        flat.append(
            [
                "schedule",
                s.name,
                s.year.both,
                s.label,
                "changed" if s.a and s.b else ("added" if s.b else "removed"),
                _entry_text(s.a, s.a_note),
                _entry_text(s.b, s.b_note),
                loc(s.a.span) if s.a else "",
                loc(s.b.span) if s.b else "",
            ]
        )
    for dd in rd.definitions:
        flat.append(
            [
                "definition",
                dd.name,
                _years_text(dd.years),
                getattr(_unwrap(dd.b) or _unwrap(dd.a), "label", "") or "",
                dd.change,
                _formula_cell(dd.a),
                _formula_cell(dd.b),
                loc(_unwrap(dd.a).span) if dd.a else "",
                loc(_unwrap(dd.b).span) if dd.b else "",
            ]
        )
    for i in rd.inputs:
        flat.append(
            [
                "input",
                i.name,
                _years_text(i.years),
                "",
                i.change,
                _input_text(i.a),
                _input_text(i.b),
                loc(_unwrap(i.a).span) if i.a else "",
                loc(_unwrap(i.b).span) if i.b else "",
            ]
        )
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
        d = {"in_force": True, "kind": item_kind(x), "label": getattr(x, "label", None), "line": loc(x.span), "version": origin}
        if isinstance(x, ast.Definition):
            d.update(unit=x.unit, formula=expr_text(x.expr))
        if isinstance(x, ast.InputDecl):
            d.update(scope=x.scope, unit=x.unit, columns=list(x.columns))
        if isinstance(x, ast.Table):
            d.update(unit=x.unit, key=expr_text(x.key))
        return d

    def entry(e, note):
        return (
            None
            if e is None and note is None
            else ({"value": expr_text(e.value), "wording": e.wording, "line": loc(e.span)} if e else {"value": None, "note": note})
        )

    return {
        "a": version_doc(rd.a),
        "b": version_doc(rd.b),
        "years": [y.both for y in rd.years],
        "tables": [
            {
                "name": t.name,
                "years": _years_text(t.years),
                "change": t.change,
                "a": side(t.a, t.a_from),
                "b": side(t.b, t.b_from),
                "rows": [{"a": band(r.a), "b": band(r.b), "change": r.change} for r in t.rows],
            }
            for t in rd.tables
        ],
        "schedules": [
            {
                "name": s.name,
                "label": s.label,
                "fiscal_year": s.year,
                "fiscal_year_label": s.year.both,
                "a": entry(s.a, s.a_note),
                "b": entry(s.b, s.b_note),
            }
            for s in rd.schedules
        ],
        "definitions": [
            {"name": x.name, "years": _years_text(x.years), "change": x.change, "a": side(x.a, x.a_from), "b": side(x.b, x.b_from)}
            for x in rd.definitions
        ],
        "inputs": [
            {"name": x.name, "years": _years_text(x.years), "change": x.change, "a": side(x.a, x.a_from), "b": side(x.b, x.b_from)}
            for x in rd.inputs
        ],
        "meta": [{"name": m.name, "field": m.field, "a": m.a, "b": m.b, "a_line": loc(m.a_span), "b_line": loc(m.b_span)} for m in rd.meta],
        "summary": [{"line": kind, "added": list(added), "removed": list(removed)} for kind, added, removed in rd.summary],
    }
