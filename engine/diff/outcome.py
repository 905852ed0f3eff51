"""The outcome diff: two evaluations -> per-municipality changes with their causes, and its outputs.

`compare` evaluates versions A and B over the same data and lists, for every municipality-year
and definition, the value under each, the difference B - A (exact), and the causes (causes.py):
the rule items that differ between the versions *as resolved for that year* and that the changed
value really depends on. `render_outcome` writes it as a table, CSV, JSON or Markdown.
"""

from __future__ import annotations

import math
from fractions import Fraction

import attrs
import numpy as np

from .. import ast
from ..ast import KEY_NAMES
from ..columnar import ColumnEvaluator
from ..columnar.columns import INT_LIMIT, IntCol, Lin, Num, is_col, scaled_pair
from ..display import value_text
from ..errors import UsageError, did_you_mean, finding
from ..render import ARROW_MIN_CELLS, format_display, format_value, to_csv, to_json, to_markdown, to_table
from ..results import default_columns
from ..values import is_undef
from ..versions import Version
from ..years import FiscalYear
from .causes import Cause, CauseFinder
from .common import difference_unit, differs, heading, row_mask, signed, undefined_notes, version_doc

# ---- the outcome diff -------------------------------------------------------------------


@attrs.frozen
class Change:
    """One municipality-year-definition: the value under A and B, B - A, and why they differ."""

    year: FiscalYear
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
        if (
            self.num is not None
            and int(np.abs(self.num[rows]).max()) * threshold.denominator < INT_LIMIT
            and threshold.numerator * self.den < INT_LIMIT
        ):
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
    years: tuple[FiscalYear, ...]
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
        return Change(
            blk.year,
            self.municipalities[i],
            blk.name,
            blk.unit,
            ops.entry(blk.va, i),
            ops.entry(blk.vb, i),
            STATUS[int(blk.status[i])],
            blk.delta.at(i),
            causes,
        )

    def movers(self, name: str, year: FiscalYear, top: int) -> tuple[Change, ...]:
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
    from ..source import number_from_text

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
            names = sorted({n for v in (a, b) for n, i in v.items.items() if hasattr(i, "unit")})
            raise UsageError(finding("unknown-column", f"neither {a.id} nor {b.id} has a definition '{c}'" + did_you_mean(c, names, 0.6)))
    return tuple(columns)


def compare(
    a: Version,
    b: Version,
    data_a,
    data_b,
    years,
    columns=None,
    *,
    show_all: bool = False,
    min_change=None,
    top: int | None = None,
    only=None,
    causes: bool = True,
) -> OutcomeDiff:
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
    years = tuple(FiscalYear(y) for y in years)  # a library caller's may be plain ints
    ev_a = ColumnEvaluator(a, data_a)
    # What B shares with A is computed once (over the same data: the same columns).
    ev_b = ColumnEvaluator.sharing_with(ev_a, b) if data_b is data_a or data_b is ev_a.data else ColumnEvaluator(b, data_b)
    if tuple(m.code for m in ev_a.data.municipalities) != tuple(m.code for m in ev_b.data.municipalities):
        raise UsageError(
            finding(
                "data-mismatch",
                f"the data read for {a.id} and for {b.id} list different municipalities; their input declarations must read the same rows",
            )
        )
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
    mask = None if only is None else row_mask(n, np.asarray(only, dtype=np.int64))
    order, shown_changed = _shown_order(blocks, columns, thresholds, show_all, top, mask)
    return OutcomeDiff(
        a,
        b,
        years,
        columns,
        tuple(blocks),
        order,
        len(blocks) * n,
        changed_total,
        shown_changed,
        ev_a.data.municipalities,
        ev_a,
        ev_b,
        finder,
        None if only is None else tuple(only),
    )


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


def value_cell(v, unit: str, notes: dict, item=None, lang: str = "ja") -> str:
    """A value, or a dash with the number of its reason's footnote (notes: reason -> number, in order)."""
    if is_undef(v):
        return f"—[u{notes.setdefault(v.reason, len(notes) + 1)}]"
    return value_text(v, item, lang=lang) if item is not None else format_display(v, unit)


def side_cell(d, v, unit: str, notes: dict, name: str, version: Version, lang: str) -> str:
    """A compared value of one version; a rule the version does not have is shown as such, not as a blank."""
    if is_undef(v) and name not in version.items and name not in KEY_NAMES:
        return f"({version.id} に規則なし)" if lang == "ja" else f"(no rule in {version.id})"
    return value_cell(v, unit, notes, d.item(name), lang)


OUTCOME_WORDS = {
    "ja": {"unchanged": "変化なし", "changed": "変化", "only": "{v} のみ"},
    "en": {"unchanged": "unchanged", "changed": "changed", "only": "{v} only"},
}


def _delta_cell(d, r: Change, lang: str = "en") -> str:
    words = OUTCOME_WORDS[lang]
    if r.delta is not None:
        return signed(r.delta, difference_unit(r.unit))
    if r.status == "unchanged":
        return words["unchanged"]
    if r.status == "changed":
        return words["changed"]
    return words["only"].format(v=d.a.id if r.status == "undefined-in-b" else d.b.id)


def _shown_note(d: OutcomeDiff, lang: str) -> str:
    """How many values differ (of the municipalities shown, and of the whole prefecture under -m), and what is hidden."""
    ja = lang == "ja"
    changed, compared = d.changed, d.compared
    if d.only is not None:
        mask = row_mask(len(d.municipalities), np.asarray(d.only, dtype=np.int64))
        changed = sum(int(np.count_nonzero((blk.status != 0) & mask)) for blk in d.blocks)
        compared = len(d.blocks) * len(d.only)
    note = f"{compared:,} 件中 {changed:,} 件の値が異なります" if ja else f"{changed} of {compared} values differ"
    if d.only is not None:
        total = len(d.municipalities)
        note += (
            f" (-m で選んだ {len(d.only)} 団体; 都全体 {total} 団体では {d.compared:,} 件中 {d.changed:,} 件)"
            if ja
            else f" for the {len(d.only)} {'municipality' if len(d.only) == 1 else 'municipalities'} chosen with -m"
            f" (over the whole prefecture, {total} municipalities: {d.changed} of {d.compared})"
        )
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


OUTCOME_CSV_HEADER_JA = [
    "年度",
    "団体コード",
    "団体名",
    "名前",
    "名称",
    "単位",
    None,
    None,
    "差",
    "差の単位",
    "状態",
    "原因",
    "未定義の理由",
]


def render_outcome(d: OutcomeDiff, fmt: str, *, headers: str = "ja") -> str:
    """The outcome diff as table | markdown | csv | json (both year forms).

    headers ja: Japanese headers, labels and values as display.py shows them (○, 赤字なし); en: rule
    names and the values themselves. CSV and JSON cells are the values themselves either way.
    """
    lang = "en" if headers == "en" else "ja"
    if fmt == "json":
        return to_json(
            {
                "a": version_doc(d.a),
                "b": version_doc(d.b),
                "years": [y.both for y in d.years],
                "compared": d.compared,
                "changed": d.changed,
                "shown": len(d.rows),
                **({"municipalities_shown": [d.municipalities[i].code for i in d.only]} if d.only is not None else {}),
                "rows": [row_doc(d, r) for r in d.rows],
            }
        )
    if fmt == "csv":
        data = outcome_csv(d).decode("utf-8")
        if lang == "ja":  # the same cells under Japanese headers
            rest = data.partition("\r\n")[2]
            header = [d.a.id if i == 6 else d.b.id if i == 7 else h for i, h in enumerate(OUTCOME_CSV_HEADER_JA)]
            data = to_csv(header, []) + rest
        return data
    md = fmt == "markdown"
    out = heading(d, "比較 (outcome diff)" if lang == "ja" else "outcome diff", fmt, lang)
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
        rows.append(
            [
                r.year.both,
                r.municipality.code,
                r.municipality.name,
                d.label(r.name) if lang == "ja" else r.name,
                side_cell(d, r.a, r.unit, notes, r.name, d.a, lang),
                side_cell(d, r.b, r.unit, notes, r.name, d.b, lang),
                _delta_cell(d, r, lang),
                "".join(refs),
            ]
        )
    align = ["left", "left", "left", "left", "right", "right", "right", "left"]
    out += (to_markdown if md else to_table)(header, rows, align)
    if causes:
        out += "\n" + ("## 原因 (causes)\n\n" if md else "原因 (causes):\n")
        out += "".join(f"{'- ' if md else '  '}[{k}] {text}\n" for k, text in enumerate(causes, 1))
    uniq = list(notes)
    if uniq:
        out += "\n" + ("## 未定義の値 (undefined values)\n\n" if md else "未定義の値 (undefined values):\n")
        out += undefined_notes(d, uniq, md, lang)
    return out


def outcome_csv(d: OutcomeDiff) -> bytes:
    """render_outcome's CSV (UTF-8 with BOM), written from the blocks' columns: the shown rows in order."""
    header = [
        "fiscal_year",
        "code",
        "name",
        "definition",
        "label",
        "unit",
        d.a.id,
        d.b.id,
        "difference",
        "difference_unit",
        "status",
        "causes",
        "undefined",
    ]
    if len(d.order) * len(header) < ARROW_MIN_CELLS or not len(d.order):  # small: written row by row, without importing Arrow
        rows = []
        for r in d.rows:
            undefined = "; ".join(f"{tag}: {v.reason}" for tag, v in ((d.a.id, r.a), (d.b.id, r.b)) if is_undef(v))
            rows.append(
                [
                    f"{r.year:d}",
                    r.municipality.code,
                    r.municipality.name,
                    r.name,
                    d.label(r.name),
                    r.unit,
                    format_value(r.a, r.unit),
                    format_value(r.b, r.unit),
                    format_value(r.delta, difference_unit(r.unit)) if r.delta is not None else "",
                    difference_unit(r.unit) if r.delta is not None else "",
                    r.status,
                    " | ".join(c.text for c in r.causes),
                    undefined,
                ]
            )
        return to_csv(header, rows).encode("utf-8")
    import pyarrow as pa

    from ..columnar import arrow as A
    from ..columnar import text

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
            return A.fill_null(pa.nulls(m, pa.string()), x)  # noqa: B023 (called within this iteration)

        delta_unit = difference_unit(blk.unit)
        defined = A.array(blk.delta.defined)
        if blk.delta.num is not None:
            dtext = text.value_texts(
                Num(None, Lin.of(IntCol(np.ascontiguousarray(blk.delta.num)), blk.delta.den)), delta_unit, n, ev.to_python
            )
        else:
            dtext = pa.array([format_value(x, delta_unit) if x is not None else "" for x in blk.delta.values], type=pa.string())
        dtext = A.if_else(defined, dtext, "")
        sig = blk.sig if blk.sig is not None else np.zeros(n, dtype=np.int64)
        cause_texts = pa.array([" | ".join(c.text for c in finder.signature(j)) for j in range(int(sig.max()) + 1)], type=pa.string())
        undefined, _ = text.undefined_texts(
            [(d.a.id, text.rid_column([blk.va], n, reasons)), (d.b.id, text.rid_column([blk.vb], n, reasons))], reasons, who, n
        )
        whole = [
            codes,
            names,
            text.value_texts(blk.va, blk.unit, n, ev.to_python),
            text.value_texts(blk.vb, blk.unit, n, ev.to_python),
            dtext,
            A.if_else(defined, delta_unit, ""),
            A.take(statuses, A.array(blk.status.astype(np.int64))),
            A.take(cause_texts, A.array(sig)),
            undefined,
        ]  # one entry per municipality: the shown rows are taken
        code, name, va, vb, dt, du, st, cs, un = (A.take(c, rows) for c in whole)
        cells = [
            repeated(f"{blk.year:d}"),
            code,
            name,
            repeated(blk.name),
            repeated(d.label(blk.name)),
            repeated(blk.unit),
            va,
            vb,
            dt,
            du,
            st,
            cs,
            un,
        ]
        for col, c in zip(columns, cells):
            col.append(c)
    where = np.empty(len(d.order), dtype=np.int64)
    where[np.concatenate(positions)] = np.arange(len(d.order))
    order = A.array(where)
    cells = [text.csv_cells(text.neutral(A.take(pa.concat_arrays(col), order))) for col in columns]  # as to_csv: no cell read as a formula
    return head + text.csv_lines(cells)


def row_doc(d: OutcomeDiff, r: Change) -> dict:
    return {
        "fiscal_year": r.year,
        "fiscal_year_label": r.year.both,
        "code": r.municipality.code,
        "name": r.municipality.name,
        "definition": r.name,
        "label": d.label(r.name),
        "unit": r.unit,
        "a": None if is_undef(r.a) else format_value(r.a, r.unit),
        "b": None if is_undef(r.b) else format_value(r.b, r.unit),
        "difference": format_value(r.delta, difference_unit(r.unit)) if r.delta is not None else None,
        "difference_unit": difference_unit(r.unit) if r.delta is not None else None,
        "status": r.status,
        "undefined": {tag: v.reason for tag, v in (("a", r.a), ("b", r.b)) if is_undef(v)},
        "causes": [c.as_dict() for c in r.causes],
    }
