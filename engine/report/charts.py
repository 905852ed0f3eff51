"""The report's charts: matplotlib figures as inline SVG whose text stays text.

The same inputs give the same bytes (fixed SVG hash salt, no metadata); a chart is a picture, so
its bar heights are floats converted from the exact values at drawing time only. book.py draws
its schedule charts with the same setup (`matplotlib_setup`, `figure_svg`).
"""

from __future__ import annotations

import io
import re
from fractions import Fraction

import attrs
import numpy as np

from .. import ast
from ..columnar.columns import is_col
from ..render import format_display
from ..summary import summarise
from ..values import Undefined, is_undef
from ..years import FiscalYear
from .measures import measures
from .model import REPORT_NAMES, Report, bands_line, column_label, undefined_count
from .text import reason_shown

BAR_CHART_MAX = 100  # up to this many municipalities the target and levy charts have a bar (and a label) per municipality
HIST_BINS = 30

# The fonts named in the page and the charts, tried in order by the reader's browser.
FONTS = [
    "IPAexGothic",
    "IPAPGothic",
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic",
    "Meiryo",
    "IPAGothic",
    "DejaVu Sans",
]
COLOR_A = "#8c8c8c"
COLOR_B = "#1f5fa8"
YEAR_COLORS = ("#1f5fa8", "#e08a1e", "#3a9a4a", "#b0413e", "#7a5ba8", "#8c6d31")
STATUS_COLORS = ("#3a9a4a", "#e0b31e", "#1f77b4", "#b0413e", "#7a5ba8", "#8c6d31")
UNDEFINED_COLOR = "#d0d0d0"


# ---- charts ---------------------------------------------------------------------------------


def _float(x) -> float:
    return float(Fraction(x))


def figure_svg(fig, prefix: str) -> str:
    """A figure as inline SVG: no XML prolog, no namespaces or metadata (no URL at all), ids made unique."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    s = buf.getvalue()
    s = s[s.index("<svg") :]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", s)
    s = s.replace("xlink:href=", "href=")
    ids = set(re.findall(r'\bid="([^"]+)"', s))
    s = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', s)
    s = re.sub(r'(url\(#|href="#)([^)"]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0), s)
    s = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", s, count=1)
    return s.replace("<svg ", f'<svg class="chart" role="img" aria-labelledby="{prefix}-title" ', 1).strip() + "\n"


def matplotlib_setup():
    import logging

    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # font fallbacks are the reader's browser's business
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rc = {
        "svg.fonttype": "none",  # text stays text: the reader's fonts render the Japanese labels
        "svg.hashsalt": "kokuho-report",  # ids from a fixed salt: the same bytes every time
        "font.family": "sans-serif",
        "font.sans-serif": FONTS,
        "font.size": 8,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "path.simplify": False,
    }
    return matplotlib, Figure, rc


def draw_charts(rep: Report, t: dict, ms: list | None = None) -> list[tuple[str, str, str, str | None]]:
    """(id, title, svg, note) for each chart whose names the versions define.

    With more than BAR_CHART_MAX municipalities (a third of FULL_TABLES_MAX: a chart of a few hundred
    labelled bars is unreadable and slow to draw) the two per-municipality bar charts become
    histograms of the same changes: no chart draws a bar or a label per municipality then."""
    import warnings

    matplotlib, Figure, rc = matplotlib_setup()
    out = []
    scaled = rep.n > BAR_CHART_MAX
    ms = measures(rep, t) if ms is None and scaled else ms
    if scaled:
        target = ("target", t["chart_target_hist"], lambda rep, t, Figure: _chart_target_hist(rep, t, Figure, ms))
        levy = ("levy", t["chart_levy_hist"], lambda rep, t, Figure: _chart_levy_hist(rep, t, Figure, ms))
    else:
        target, levy = ("target", t["chart_target"], _chart_target), ("levy", t["chart_levy"], _chart_levy)
    with warnings.catch_warnings(), matplotlib.rc_context(rc):
        warnings.simplefilter("ignore")
        for cid, title, fn in (
            ("alpha", t["chart_alpha"], _chart_alpha),
            ("bands", t["chart_bands"], _chart_bands),
            target,
            levy,
            ("deficit", t["chart_deficit"], _chart_deficit),
        ):
            drawn = fn(rep, t, Figure)
            if drawn is None:
                continue
            fig, note = drawn
            out.append((f"chart-{cid}", title, figure_svg(fig, f"chart-{cid}"), note))
    return out


def _year_ticks(years: list[FiscalYear]) -> list[str]:
    return [f"{y}\n({y.wareki})" for y in years]


def _has(rep: Report, name: str) -> tuple[bool, bool]:
    return name in rep.a.items, name in rep.b.items


def _chart_alpha(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["alpha"]
    ha, hb = _has(rep, name)
    if not (ha or hb):
        return None
    fig = Figure(figsize=(7.0, 2.5))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.2)
    ax = fig.add_subplot()
    undefined = 0
    for v, res, color, marker, has in ((rep.a, rep.result_a, COLOR_A, "s", ha), (rep.b, rep.result_b, COLOR_B, "o", hb)):
        if not has:
            continue
        xs, ys = [], []
        for k, y in enumerate(rep.span):
            x = res.evaluator.value(name, y)
            if is_undef(x) or isinstance(x, tuple):
                undefined += 1
                continue
            xs.append(k)
            ys.append(_float(x))
            if v is rep.b:
                ax.annotate(
                    format_display(x, "ratio"),
                    (k, _float(x)),
                    textcoords="offset points",
                    xytext=(0, 5),
                    ha="center",
                    fontsize=7,
                    color=color,
                )
        ax.plot(
            xs,
            ys,
            marker=marker,
            color=color,
            label=f"{v.id} {column_label(rep, name)}",
            linewidth=1.5,
            markersize=4,
            linestyle="--" if v is rep.a else "-",
        )
    ax.set_xticks(range(len(rep.span)), _year_ticks(rep.span), fontsize=7)
    ax.set_ylim(-0.08, 1.18)
    ax.set_xlim(-0.5, len(rep.span) - 0.5)
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    for y in rep.years:  # the report's years, shaded
        k = rep.span.index(y)
        ax.axvspan(k - 0.5, k + 0.5, color="#fff4d6", zorder=0, linewidth=0)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_bands(rep: Report, t: dict, Figure):
    lines = [(v, res, bands_line(v)) for v, res in ((rep.a, rep.result_a), (rep.b, rep.result_b))]
    if not any(line for _, _, line in lines):
        return None
    summaries = {v.id: summarise(res) for v, res, line in lines if line}
    n_years = len(rep.years)
    fig = Figure(figsize=(7.0, 0.4 + 1.75 * n_years))
    fig.subplots_adjust(
        left=0.17, right=0.97, top=1 - 0.25 / (0.4 + 1.75 * n_years), bottom=0.35 / (0.4 + 1.75 * n_years), wspace=0.55, hspace=0.55
    )
    n_munis = len(rep.result_b.evaluator.data.municipalities)
    for row, y in enumerate(rep.years):
        for col, (v, res, line) in enumerate(lines):
            ax = fig.add_subplot(n_years, 2, row * 2 + col + 1)
            ax.set_title(f"{v.id} — {y.both}", fontsize=8, loc="left")
            if not line:
                ax.axis("off")
                continue
            table, flag = line
            counts = summaries[v.id][row].bands.get(table)
            if counts is None or is_undef(counts):
                ax.axis("off")
                reason = reason_shown(counts.reason, rep, t) if counts is not None else t["not_in_force"]
                ax.text(0, 0.5, _wrap(reason, 34), fontsize=7, va="center", ha="left", transform=ax.transAxes, color="#555555")
                continue
            flag_undefined = undefined_count(res.evaluator.fast(flag, y), n_munis)
            labels = [b.label for b in counts]
            pos = list(range(len(counts)))[::-1]
            ax.barh(
                pos, [b.municipalities for b in counts], color="#c9d7ea" if v is rep.b else "#dddddd", height=0.7, label=t["municipalities"]
            )
            ax.barh(pos, [b.achieved for b in counts], color=COLOR_B if v is rep.b else COLOR_A, height=0.4, label=t["achieved_bar"])
            for p, b in zip(pos, counts):
                shown = f"{b.achieved} / {b.municipalities}" if flag_undefined < n_munis else f"– / {b.municipalities}"
                ax.text(b.municipalities + n_munis * 0.02, p, shown, va="center", fontsize=6.5)
            ax.set_yticks(pos, labels, fontsize=6.5)
            ax.set_xlim(0, max([b.municipalities for b in counts] + [1]) * 1.35 + 1)
            ax.tick_params(axis="x", labelsize=6.5)
            notes = []
            if flag_undefined:
                notes.append(f"{column_label(rep, flag)}: {t['undefined']} {flag_undefined}")
            if summaries[v.id][row].no_band.get(table):
                notes.append(f"{t['no_band']}: {summaries[v.id][row].no_band[table]}")
            if notes:
                ax.text(0.99, 0.99, "\n".join(notes), transform=ax.transAxes, ha="right", va="top", fontsize=6.5, color="#555555")
            if row == 0 and col == 1:
                ax.legend(loc="lower right", fontsize=6, frameon=False)
    return fig, None


def _wrap(text: str, width: int) -> str:
    out, line = [], ""
    for ch in text:
        line += ch
        if len(line) >= width and ch in " 　、,;":
            out.append(line.strip())
            line = ""
    if line.strip():
        out.append(line.strip())
    return "\n".join(out)


def _deltas(rep: Report, name: str, year: int, name_a: str | None = None):
    """B's value minus A's for each municipality (None where either is undefined)."""
    name_a = name_a or name
    ca = rep.result_a.evaluator.column(name_a, year)
    cb = rep.result_b.evaluator.column(name, year)
    out = []
    for x, z in zip(ca, cb):
        if is_undef(x) or is_undef(z) or isinstance(x, (bool, str)) or isinstance(z, (bool, str)):
            out.append(None)
        else:
            out.append(Fraction(z) - Fraction(x))
    return out


def _chart_target(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["target"]
    ha, hb = _has(rep, name)
    if not (ha and hb):
        return None
    ms = rep.result_b.evaluator.data.municipalities
    n_years = len(rep.years)
    fig = Figure(figsize=(7.0, 3.3))
    fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.24)
    ax = fig.add_subplot()
    width = 0.8 / n_years
    undefined = 0
    for k, y in enumerate(rep.years):
        ds = _deltas(rep, name, y)
        undefined += sum(1 for d in ds if d is None)
        xs = [i - 0.4 + width * (k + 0.5) for i, d in enumerate(ds) if d is not None]
        hs = [_float(d * 100) for d in ds if d is not None]
        ax.bar(xs, hs, width=width, color=YEAR_COLORS[k % len(YEAR_COLORS)])
    ax.axhline(0, color="#333333", linewidth=0.6)
    ax.set_xticks(range(len(ms)), [m.name for m in ms], rotation=90, fontsize=5.5)
    ax.set_xlim(-0.6, len(ms) - 0.4)
    ax.set_ylabel(f"{rep.b.id} − {rep.a.id} ({t['pp']})", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    from matplotlib.patches import Patch

    handles = [Patch(color=YEAR_COLORS[k % len(YEAR_COLORS)], label=y.both) for k, y in enumerate(rep.years)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 1.12), ncol=n_years, fontsize=7, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_levy(rep: Report, t: dict, Figure):
    levy, net, insured = REPORT_NAMES["levy"], REPORT_NAMES["net_levy"], REPORT_NAMES["insured"]
    ha, hb = _has(rep, levy)
    if not (ha and hb) or insured not in rep.b.items:
        return None
    net_b = net if net in rep.b.items else None
    net_a = net if net in rep.a.items else levy
    ms = rep.result_b.evaluator.data.municipalities
    n_years = len(rep.years)
    height = 0.3 + 2.35 * n_years
    fig = Figure(figsize=(7.0, height))
    fig.subplots_adjust(left=0.09, right=0.99, top=1 - 0.3 / height, bottom=0.55 / height, hspace=0.75)
    undefined = 0
    for k, y in enumerate(rep.years):
        ax = fig.add_subplot(n_years, 1, k + 1)
        persons = rep.result_b.evaluator.column(insured, y)
        ds = _deltas(rep, levy, y)
        dn = _deltas(rep, net_b, y, net_a) if net_b else [None] * len(ms)
        per = []
        for i, (d, e, p) in enumerate(zip(ds, dn, persons)):
            if d is None or is_undef(p) or not p:
                undefined += 1
                continue
            per.append((d / p, (e / p) if e is not None else None, ms[i]))
        per.sort(key=lambda r: (r[0], r[2].code))
        xs = range(len(per))
        ax.bar(
            xs,
            [_float(r[0]) for r in per],
            color=COLOR_B,
            width=0.75,
            label=f"{column_label(rep, levy)} ({rep.b.id}) − {column_label(rep, levy)} ({rep.a.id})",
        )
        if net_b:
            pts = [(x, _float(r[1])) for x, r in zip(xs, per) if r[1] is not None]
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle="none",
                marker="D",
                markersize=2.4,
                color="#e08a1e",
                label=f"{column_label(rep, net_b)} ({rep.b.id}) − {column_label(rep, net_a)} ({rep.a.id})",
            )
        ax.axhline(0, color="#333333", linewidth=0.6)
        ax.set_xticks(list(xs), [r[2].name for r in per], rotation=90, fontsize=5.5)
        ax.set_xlim(-0.6, max(len(per), 1) - 0.4)
        ax.set_title(f"{y.both}: {rep.b.id} − {rep.a.id} ({t['yen_per_person']})", fontsize=8, loc="left")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        if k == 0:
            ax.legend(loc="upper left", fontsize=6.5, frameon=False)
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _floats(m) -> np.ndarray:
    """A measure's defined values as floats, for drawing only."""
    rows = np.flatnonzero(m.defined)
    den = m.den[rows] if isinstance(m.den, np.ndarray) else m.den
    with np.errstate(all="ignore"):
        return np.asarray(m.num[rows], dtype=np.float64) / np.asarray(den, dtype=np.float64)


def _hist(rep: Report, t: dict, Figure, series_of, xlabel: str):
    """One panel per year: a histogram of each series (bars, then outlines) over the same bins."""
    years = rep.years
    ncols = min(3, len(years))
    nrows = -(-len(years) // ncols)
    height = 0.55 + 2.1 * nrows
    fig = Figure(figsize=(7.0, height))
    fig.subplots_adjust(left=0.08, right=0.99, top=1 - 0.45 / height, bottom=0.45 / height, wspace=0.3, hspace=0.7)
    undefined = 0
    drawn = False
    for k, y in enumerate(years):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        series = series_of(y)
        values = [v for v, _, _, _ in series if len(v)]
        undefined = max([undefined] + [u for _, _, _, u in series])
        if not values:
            ax.axis("off")
            continue
        drawn = True
        both = np.concatenate(values)
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo - 0.5, hi + 0.5, 2) if lo == hi else np.linspace(lo, hi, HIST_BINS + 1)
        for _j, (vals, label, kind, _) in enumerate(series):
            counts, _ = np.histogram(vals, edges)
            if kind == "bar":
                ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=COLOR_B, label=label, linewidth=0)
            else:
                ax.stairs(counts, edges, color="#e08a1e", linewidth=1.2, label=label)
        if lo <= 0 <= hi:
            ax.axvline(0, color="#333333", linewidth=0.6)
        ax.set_title(y.both, fontsize=8, loc="left")
        ax.set_xlabel(xlabel, fontsize=7)
        ax.tick_params(labelsize=6.5)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        if k == 0:
            ax.set_ylabel(t["municipalities"], fontsize=7)
            if len(series) > 1:
                ax.legend(loc="upper left", bbox_to_anchor=(0, 1.32), fontsize=6.5, frameon=False, ncol=2)
    if not drawn:
        return None
    return fig, (t["undefined_in_chart"].format(n=undefined) if undefined else None)


def _chart_target_hist(rep: Report, t: dict, Figure, ms):
    by = {m.year: m for m in ms if m.key == "target"}
    if not by:
        return None
    return _hist(
        rep,
        t,
        Figure,
        lambda y: [(_floats(by[y]) * 100, "", "bar", int(len(by[y].defined) - by[y].defined.sum()))] if y in by else [],
        f"{rep.b.id} − {rep.a.id} ({t['pp']})",
    )


def _chart_levy_hist(rep: Report, t: dict, Figure, ms):
    levy = {m.year: m for m in ms if m.key == "levy"}
    net = {m.year: m for m in ms if m.key == "net"}
    if not levy and not net:
        return None

    def series(y):
        out = []
        for m, kind, key in ((levy.get(y), "bar", "hist_levy"), (net.get(y), "step", "hist_net")):
            if m is not None:
                out.append((_floats(m), t[key].format(label=column_label(rep, m.name_b)), kind, int(len(m.defined) - m.defined.sum())))
        return out

    return _hist(rep, t, Figure, series, f"{rep.b.id} − {rep.a.id} ({t['yen_per_person']})")


def _chart_deficit(rep: Report, t: dict, Figure):
    name = REPORT_NAMES["deficit_status"]
    ha, hb = _has(rep, name)
    if not (ha or hb):
        return None
    data_years = rep.result_b.evaluator.data.years
    years = [y for y in rep.span if data_years and data_years[0] <= y <= data_years[-1]]
    if not years:
        return None
    sides = [(v, res) for v, res, has in ((rep.a, rep.result_a, ha), (rep.b, rep.result_b, hb)) if has]
    counts = {v.id: [_value_counts(res.evaluator, name, y) for y in years] for v, res in sides}
    shared = len(sides) == 2 and counts[rep.a.id] == counts[rep.b.id]
    if shared:
        sides = [(rep.b, rep.result_b)]
    values: list = []
    for v, _ in sides:
        for c in counts[v.id]:
            for key in c:
                if key not in values:
                    values.append(key)
    order = [x for x in values if x is not None]
    order = _status_order(rep, name, order) + ([None] if None in values else [])
    fig = Figure(figsize=(7.0, 2.7))
    fig.subplots_adjust(left=0.08, right=0.8, top=0.9, bottom=0.2, wspace=0.25)
    for k, (v, _res) in enumerate(sides):
        ax = fig.add_subplot(1, len(sides), k + 1)
        title = f"{rep.a.id}, {rep.b.id}" if shared else v.id
        ax.set_title(title, fontsize=8, loc="left")
        bottom = [0] * len(years)
        for j, status in enumerate(order):
            hs = [c.get(status, 0) for c in counts[v.id]]
            color = UNDEFINED_COLOR if status is None else STATUS_COLORS[j % len(STATUS_COLORS)]
            label = t["undefined"] if status is None else str(status)
            ax.bar(range(len(years)), hs, bottom=bottom, color=color, width=0.7, label=label)
            bottom = [b + h for b, h in zip(bottom, hs)]
        ax.set_xticks(range(len(years)), _year_ticks(years), fontsize=6.5)
        ax.set_ylabel(t["municipalities"], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        if k == len(sides) - 1:
            ax.legend(
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, title=column_label(rep, name), title_fontsize=7
            )
    return fig, None


def _value_counts(ev, name: str, year: int) -> dict:
    """How many municipalities have each value of a text or true/false name (None: undefined), from the column."""
    n = ev.n
    v = ev.fast(name, year)
    if not is_col(v):
        return {None if type(v) is Undefined else v: n}
    known = np.ones(n, dtype=bool) if v.rid is None else v.rid < 0
    out: dict = {}
    from ..columnar.columns import BoolCol, ObjCol

    if type(v) is ObjCol and v.cats is not None:
        for k, c in enumerate(np.bincount(v.codes[known], minlength=len(v.cats)).tolist()):
            if c:
                out[v.cats[k]] = out.get(v.cats[k], 0) + c
    elif type(v) is BoolCol:
        for key, c in ((False, int(np.count_nonzero(known & ~v.b))), (True, int(np.count_nonzero(known & v.b)))):
            if c:
                out[key] = c
    else:
        for x in ev.to_python(v):
            if not is_undef(x):
                out[x] = out.get(x, 0) + 1
    if not known.all():
        out[None] = int(np.count_nonzero(~known))
    return out


def _status_order(rep: Report, name: str, found: list) -> list:
    """The values in the order the rule's if-expression states them, then any others sorted."""
    item = rep.b.items.get(name) or rep.a.items.get(name)
    stated: list = []

    def walk(e):
        if isinstance(e, ast.Text) and e.value not in stated:
            stated.append(e.value)
        for f in attrs.fields(type(e)) if attrs.has(type(e)) else ():
            x = getattr(e, f.name)
            if attrs.has(type(x)):
                walk(x)
            elif isinstance(x, tuple):
                for y in x:
                    if attrs.has(type(y)):
                        walk(y)
                    elif isinstance(y, tuple):
                        for z in y:
                            if attrs.has(type(z)):
                                walk(z)

    if isinstance(item, ast.Definition):
        walk(item.expr)
    return [x for x in stated if x in found] + sorted(x for x in found if x not in stated)
