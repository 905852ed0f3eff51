"""`kokuho diff A B` as one call: the versions and years resolved by the command line, the diff asked for, rendered."""

from __future__ import annotations

from ..ast import KEY_NAMES
from ..versions import Version
from .outcome import compare, render_outcome
from .rules import compare_rules, render_rules
from .summary import render_diff_summary, summarise

# ---- one call for the command line ------------------------------------------------------


def diff_columns(a: Version, b: Version, text) -> tuple[str, ...] | None:
    """--columns of a diff: names or labels of either version (lookup.py), comma-separated; none or `all`: both versions' columns."""
    from ..lookup import resolve_names, split_list

    texts = split_list(text)
    if not texts or (len(texts) == 1 and texts[0].lower() in ("all", "すべて", "全部")):
        return None
    return tuple(
        resolve_names(
            texts, [b, a], code="unknown-column", message=lambda t: f"neither {a.id} nor {b.id} has a definition '{t}'", extra=KEY_NAMES
        )
    )


def run(
    session,
    a: Version,
    b: Version,
    years,
    *,
    columns=None,
    show_all=False,
    min_change=None,
    top=None,
    summary=False,
    rules_only=False,
    fmt="table",
    headers="ja",
    municipalities=None,
) -> tuple[str, bool, str]:
    """`kokuho diff A B`: the rendered text, whether anything differs (for --exit-code) and what it holds, in a line.

    The versions and the fiscal years (a list) are the command line's, resolved once (api.years_asked,
    Session.years: by default B's plan period); columns are names or labels (a list or comma-separated
    text); municipalities (-m) choose the rows shown.
    """
    from ..formats import municipalities_text, years_text

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
    what = f"outcome diff {a.id} → {b.id}, {years_text(years)}, {who}, {len(d.order):,} rows"  # counted, not built: the CSV is written from columns
    return render_outcome(d, fmt, headers=headers), d.shown_changed > 0, what
