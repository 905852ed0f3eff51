"""What the outcome diff, its summary and the rule diff share: where an item stands, what decides it, how a change is shown.

`loc` cites an item's file and line; `item_core` is what decides an item's values (not its label,
citation or position), so two versions' items compare by meaning; the rest format bands, schedule
entries, signed differences and the headings and version documents every diff output starts with.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import attrs
import numpy as np

from .. import ast
from ..columnar import ColumnEvaluator
from ..display import reason_text, status_text, version_labels
from ..format import expression_text as expr_text
from ..render import format_display
from ..versions import Version
from ..years import Period

ZERO = Fraction(0)


def undefined_notes(d, notes, md: bool, lang: str) -> str:
    """The numbered reasons of a diff's undefined values ([u1] ...), in the output's language; names
    shown by B's labels, else A's."""
    labels = version_labels(d.a, d.b)
    return "".join(f"{'- ' if md else '  '}[u{k}] {reason_text(reason, lang, labels)}\n" for k, reason in enumerate(notes, 1))


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


def named(name: str, item) -> str:
    label = getattr(item, "label", None)
    return f"{name} ({label})" if label else name


def item_kind(item) -> str:
    """The item's kind (the node's class attribute); a removal, or anything not an item, is an "item"."""
    return item.kind if isinstance(item, (*ast.VALUE_KINDS, ast.Summary, ast.Example)) else "item"


def band_core(b: ast.Band):
    return (b.lo.value, b.lo_closed, b.hi.value, b.hi_closed, b.result)


def item_core(item):
    """What decides an item's values (not its label, citation, wording or position)."""
    if isinstance(item, ast.InputDecl):
        return ("input", item.scope, item.unit, item.columns)
    if isinstance(item, ast.Definition):
        return ("definition", item.unit, item.expr)
    if isinstance(item, ast.Table):
        return ("table", item.unit, item.key, tuple(band_core(b) for b in item.bands))
    if isinstance(item, ast.Schedule):
        return ("schedule", item.unit, tuple((e.years, e.value) for e in item.entries))
    if isinstance(item, ast.Summary):
        return ("summary", item.lines)
    if isinstance(item, ast.Example):
        return ("example", attrs.evolve(item, override=False, label=None, cite=None))
    return (type(item).__name__,)


def same_item(a, b) -> bool:
    """The same item apart from `override` (a version restating its base's item says the same)."""
    if type(a) is not type(b):
        return False
    if hasattr(a, "override"):
        return attrs.evolve(a, override=False) == attrs.evolve(b, override=False)
    return a == b


def entry_for(s: ast.Schedule, year: int):
    return next((e for e in s.entries if year in e.years), None)


def difference_unit(unit: str) -> str:
    return "pp" if unit == "percent" else unit


def signed(v: Fraction, unit: str) -> str:
    text = format_display(v, unit)
    return ("+" + text) if v > 0 else text


def row_mask(n: int, rows) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


def differs(ev: ColumnEvaluator, va, vb) -> np.ndarray:
    """Per municipality, whether two values are not `same`."""
    return ev.differs(va, vb)


def show_field(x) -> str:
    if isinstance(x, tuple):
        return ", ".join(f'"{c}"' for c in x)
    return str(x)


def band_desc(b: ast.Band) -> str:
    return f'{b.interval} "{b.label}"' if b.label else b.interval


def band_result(b: ast.Band) -> str:
    return b.wording or expr_text(b.result)


def heading(d, what: str, fmt: str, lang: str = "ja") -> str:
    a, b = d.a, d.b
    years = Period(min(d.years), max(d.years)).both if d.years else "no years"
    title = f"{a.id} → {b.id} {what}: {years}"
    lines = [f"# {title}" if fmt == "markdown" else title, ""]
    for tag, v in (("A", a), ("B", b)):
        period = v.header.plan_period.both if v.header.plan_period else ("計画期間なし" if lang == "ja" else "no plan period")
        lines.append(
            f"{'- ' if fmt == 'markdown' else ''}{tag}: {v.id} {v.header.title or ''} ({status_text(v.header.status, lang)}, {period})"
        )
    return "\n".join(lines) + "\n\n"


def version_doc(v: Version) -> dict:
    h = v.header
    return {"version": v.id, "title": h.title, "status": h.status, "period": h.plan_period.both if h.plan_period else None}


def summary_lines(v: Version, kind: str) -> list[tuple]:
    s = v.items.get("summary")
    return [line.names for line in (s.lines if s else ()) if line.kind == kind]
