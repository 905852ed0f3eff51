"""The diff summary (`kokuho diff --summary`): per year, target moves by band, achievement, totals, largest movers.

Built from an outcome diff (outcome.py). The rule names it looks for come from the versions'
`summary` blocks; CONVENTIONAL_NAMES is the fallback for what the rules cannot state.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from .. import ast
from ..columnar import ColumnEvaluator
from ..display import reason_text, version_labels
from ..render import format_display, format_value, to_csv, to_json, to_markdown, to_table
from ..values import is_undef
from ..versions import NotInForce, Version
from ..years import FiscalYear
from .common import difference_unit, heading, signed, summary_lines, undefined_notes, version_doc
from .outcome import OutcomeDiff, row_doc, side_cell, value_cell

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
    year: FiscalYear
    municipalities: int
    target: str | None
    flag: str | None
    by_band: tuple[BandMoves, ...]
    moves: tuple  # (rises, falls, stays, undefined) over all municipalities
    achievement: tuple | None  # (both, gained, lost, neither, undefined)
    parts: tuple[PartShift, ...]
    movers: tuple  # (name, tuple[Change])


def summarise(d: OutcomeDiff, *, top: int | None = None, movers=None) -> list[YearDiffSummary]:
    """Per year: target moves by band, achievement changes, shifts of each total, largest movers."""
    a, b = d.a, d.b
    bands = summary_lines(b, "bands") or summary_lines(a, "bands")
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
        for names in summary_lines(v, "total"):
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
        rows.append(
            (band.interval, band.label or "", len(members)) + tuple(members.count(k) for k in ("rises", "falls", "stays", "undefined"))
        )
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
    return PartShift(
        name,
        d.label(name),
        _total(ca),
        _total(cb),
        raised,
        raised_sum,
        lowered,
        lowered_sum,
        stays,
        undefined,
        raised_sum + lowered_sum,
        residual,
        residual_delta,
    )


def _total(col):
    undef = next((x for x in col if is_undef(x)), None)
    return undef if undef is not None else sum((Fraction(x) for x in col), Fraction(0))


def render_diff_summary(d: OutcomeDiff, summaries: list[YearDiffSummary], fmt: str, *, headers: str = "ja") -> str:
    """The per-year diff summary; it covers the whole prefecture, also under -m (and says so)."""
    from ..selection import whole_note

    lang = "en" if headers == "en" else "ja"
    if fmt in ("csv", "json"):
        flat = []
        for s in summaries:
            fy = f"{s.year:d}"
            if s.moves is not None:
                for k, v in zip(("rises", "falls", "stays", "undefined"), s.moves):
                    flat.append([fy, "target", s.target, k, "", "", str(v), ""])
                for bm in s.by_band:
                    for interval, label, count, *ks in bm.rows:
                        counts = ", ".join(f"{k} {v}" for k, v in zip(("rises", "falls", "stays", "undefined"), ks))
                        flat.append(
                            [
                                fy,
                                f"target_by_band_{bm.version}",
                                s.target,
                                f"{interval} {label}".strip(),
                                "",
                                "",
                                str(count),
                                "; ".join(x for x in (counts, bm.note) if x),
                            ]
                        )
            if s.achievement is not None:
                for k, v in zip(("both", "gained", "lost", "neither", "undefined"), s.achievement):
                    flat.append([fy, "achievement", s.flag, k, "", "", str(v), ""])
            for p in s.parts:
                res = "" if p.residual_delta is None or is_undef(p.residual_delta) else format_value(p.residual_delta, "yen")
                flat.append(
                    [
                        fy,
                        "total",
                        p.name,
                        p.label,
                        format_value(p.total_a, "yen"),
                        format_value(p.total_b, "yen"),
                        f"raised {p.raised} {format_value(p.raised_sum, 'yen')}; lowered {p.lowered} {format_value(p.lowered_sum, 'yen')}; net {format_value(p.net, 'yen')}; stays {p.stays}; undefined {p.undefined}",
                        f"{p.residual} change {res}" if p.residual else "",
                    ]
                )
            for name, rows in s.movers:
                for r in rows:
                    flat.append(
                        [
                            fy,
                            "mover",
                            name,
                            f"{r.municipality.code} {r.municipality.name}",
                            format_value(r.a, r.unit),
                            format_value(r.b, r.unit),
                            format_value(r.delta, difference_unit(r.unit)),
                            "",
                        ]
                    )
        header = ["fiscal_year", "section", "name", "item", "a", "b", "value", "note"]
        if fmt == "csv":
            return to_csv(["年度", "種類", "名前", "項目", d.a.id, d.b.id, "値", "注"] if lang == "ja" else header, flat)
        return to_json({"a": version_doc(d.a), "b": version_doc(d.b), "summary": [_summary_doc(d, s) for s in summaries]})
    md = fmt == "markdown"
    tab = to_markdown if md else to_table
    out = [heading(d, "比較の集計 (diff summary)", fmt, lang).rstrip("\n") + "\n"]
    if d.only is not None:
        out.append(whole_note(len(d.municipalities), lang) + "\n")
    for s in summaries:
        fy = s.year.both
        out.append(f"{'## ' if md else ''}{fy} — {d.a.id} → {d.b.id}（{s.municipalities} 団体）\n")
        if s.moves is not None:
            out.append(f"{'### ' if md else ''}{d.label(s.target)}の変化（前年度の現年分収納率の区分別）\n")
            r, f, st, u = s.moves
            out.append(f"上がる (rises) {r}, 下がる (falls) {f}, 変わらない (stays) {st}, 未定義 (undefined) {u}; 計 {r + f + st + u}\n")
            for bm in s.by_band:
                head = ["区分", "前年度の現年分収納率", "団体数", "上がる", "下がる", "変わらない", "未定義"]
                rows = [
                    [label or interval, "" if interval == "(no band)" else interval, str(count)] + [str(k) for k in ks]
                    for interval, label, count, *ks in bm.rows
                ]
                rows.append(["計", "", str(sum(x[2] for x in bm.rows))] + [str(sum(x[3 + j] for x in bm.rows)) for j in range(4)])
                note = reason_text(bm.note, lang, version_labels(d.a, d.b)) if bm.note else ""
                out.append(f"{bm.version} の区分 ({bm.label})" + (f" — {note}" if note else "") + "\n")
                out.append(tab(head, rows, ["left", "left", "right", "right", "right", "right", "right"]))
        if s.achievement is not None:
            both, gained, lost, neither, undefined = s.achievement
            out.append(f"{'### ' if md else ''}{d.label(s.flag)}の変化\n")
            head = ["", "団体数"]
            rows = [
                ["両方で達成 (both)", str(both)],
                [f"{d.b.id}でのみ達成 (gained)", str(gained)],
                [f"{d.a.id}でのみ達成 (lost)", str(lost)],
                ["どちらも未達成 (neither)", str(neither)],
                ["未定義 (undefined)", str(undefined)],
                ["計", str(sum(s.achievement))],
            ]
            out.append(tab(head, rows, ["left", "right"]))
        if s.parts:
            out.append(f"{'### ' if md else ''}合計の変化 (totals)\n")
            head = [
                "項目",
                f"{d.a.id} 計",
                f"{d.b.id} 計",
                "増 (団体)",
                "増額計",
                "減 (団体)",
                "減額計",
                "差引",
                "端数調整額の差",
                "変化なし",
                "未定義",
            ]
            rows = []
            notes: dict[str, int] = {}
            for p in s.parts:
                res = "" if p.residual is None else (value_cell(p.residual_delta, "yen", notes) if p.residual_delta is not None else "")
                if p.residual_delta is not None and not is_undef(p.residual_delta):
                    res = signed(p.residual_delta, "yen") if p.residual_delta else "0円"
                rows.append(
                    [
                        p.label,
                        side_cell(d, p.total_a, "yen", notes, p.name, d.a, lang),
                        side_cell(d, p.total_b, "yen", notes, p.name, d.b, lang),
                        str(p.raised),
                        signed(p.raised_sum, "yen"),
                        str(p.lowered),
                        signed(p.lowered_sum, "yen"),
                        signed(p.net, "yen"),
                        res,
                        str(p.stays),
                        str(p.undefined),
                    ]
                )
            out.append(tab(head, rows, ["left"] + ["right"] * 10))
            out.append(
                "差引 + 端数調整額の差 = 算定基礎額の差 (0 when the total to allocate is the same): floor() remainders move between the municipalities and the residual.\n"
            )
            uniq = list(notes)
            if uniq:
                out.append(
                    ("未定義の値 (undefined values):\n" if not md else "未定義の値 (undefined values):\n\n")
                    + undefined_notes(d, uniq, md, lang)
                )
        for name, rows in s.movers:
            out.append(f"{'### ' if md else ''}変化の大きい団体: {d.label(name)}\n")
            head = ["団体コード", "団体名", d.a.id, d.b.id, "差"]
            body = [
                [
                    r.municipality.code,
                    r.municipality.name,
                    format_display(r.a, r.unit),
                    format_display(r.b, r.unit),
                    signed(r.delta, difference_unit(r.unit)),
                ]
                for r in rows
            ]
            out.append(tab(head, body, ["left", "left", "right", "right", "right"]))
        out.append("")
    return "\n".join(out)


def _summary_doc(d: OutcomeDiff, s: YearDiffSummary) -> dict:
    def money(v):
        return None if v is None or is_undef(v) else format_value(v, "yen")

    return {
        "fiscal_year": s.year,
        "fiscal_year_label": s.year.both,
        "municipalities": s.municipalities,
        "target": None
        if s.moves is None
        else {
            "name": s.target,
            "label": d.label(s.target),
            **dict(zip(("rises", "falls", "stays", "undefined"), s.moves)),
            "by_band": [
                {
                    "version": bm.version,
                    "table_label": bm.label,
                    "note": bm.note,
                    "bands": [
                        dict(zip(("interval", "label", "municipalities", "rises", "falls", "stays", "undefined"), row)) for row in bm.rows
                    ],
                }
                for bm in s.by_band
            ],
        },
        "achievement": None
        if s.achievement is None
        else {"name": s.flag, **dict(zip(("both", "gained", "lost", "neither", "undefined"), s.achievement))},
        "totals": [
            {
                "name": p.name,
                "label": p.label,
                "a": money(p.total_a),
                "b": money(p.total_b),
                "undefined_reason": {k: v.reason for k, v in (("a", p.total_a), ("b", p.total_b)) if is_undef(v)},
                "raised": p.raised,
                "raised_sum": money(p.raised_sum),
                "lowered": p.lowered,
                "lowered_sum": money(p.lowered_sum),
                "net": money(p.net),
                "stays": p.stays,
                "undefined": p.undefined,
                "residual": p.residual,
                "residual_change": money(p.residual_delta),
            }
            for p in s.parts
        ],
        "largest_movers": [{"name": name, "label": d.label(name), "rows": [row_doc(d, r) for r in rows]} for name, rows in s.movers],
    }
