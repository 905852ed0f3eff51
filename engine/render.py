"""Values and result tables -> text: exact figures, CSV (UTF-8 with BOM), JSON, markdown, plain tables.

Rates print with 2 decimals (more only when the exact value has more), yen as integers,
booleans as true/false, an undefined value as an empty cell with its reason beside it.
"""

from __future__ import annotations

import csv
import functools
import io
import json

from .cells import FORMULA_START, NUMBER_PATTERN, needs_neutralising, neutralise, neutralise_column, restore  # noqa: F401 - re-exported
from .display import format_display, reason_text, unit_suffix, value_text, version_labels  # noqa: F401 - re-exported: values as people read them
from .values import MAX_DECIMALS, Undefined, ValueTooLarge, check_printable, decimal_text, format_value, grouped, int_text, is_undef  # noqa: F401 - re-exported: how values are written

# Below this many cells a table is written value by value: importing Arrow (about 0.1 s) would cost
# more than it saves. Both ways write the same bytes (tests/test_render.py).
ARROW_MIN_CELLS = 40_000
# Rows of a large CSV made at once: a year at N = 20,000, so that the writer's thread writes a year's lines while
# the next year is evaluated (at 200,000, ten years were made before the first was written: 0.83 s against 1.0 s).
CHUNK_ROWS = 20_000


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    """CSV that Excel opens correctly and safely: UTF-8 with BOM, CRLF line ends, no cell read as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(neutralise_column(list(header)))
    w.writerows(neutralise_column(r) for r in rows)
    return "\ufeff" + buf.getvalue()


def to_markdown(header: list[str], rows: list[list[str]], align=None) -> str:
    from tabulate import tabulate  # imported when used: it is most of a cold start's import time

    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True, colalign=align) + "\n"


def to_table(header: list[str], rows: list[list[str]], align=None) -> str:
    """tabulate's "simple" layout, drawn directly: a diff of thousands of rows is printed on every
    interactive run, and tabulate's general machinery was most of its time."""
    if not rows:  # tabulate's own layout of a header alone differs; it is cheap here
        from tabulate import tabulate

        return tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True, colalign=align) + "\n"
    ncols = len(header) if header else max(len(r) for r in rows)
    align = list(align or ()) + ["left"] * (ncols - len(align or ()))
    cells = [[str(c) for c in r] + [""] * (ncols - len(r)) for r in rows]
    cell_widths = [[_cell_width(c) for c in r] for r in cells]  # measured once: Japanese cells are not free to measure
    widths = [_cell_width(h) + 2 for h in header] if header else [0] * ncols  # tabulate's header padding
    for r in cell_widths:
        for i, w in enumerate(r):
            if w > widths[i]:
                widths[i] = w

    def line(r, ws):
        out = []
        for c, cw, w, a in zip(r, ws, widths, align):
            pad = w - cw
            if a == "right":
                out.append(" " * pad + c)
            elif a == "center":
                out.append(" " * (pad // 2) + c + " " * (pad - pad // 2))
            else:
                out.append(c + " " * pad)
        return "  ".join(out).rstrip()

    lines = []
    if header:
        lines.append(line(header, [_cell_width(h) for h in header]))
        lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(r, ws) for r, ws in zip(cells, cell_widths))
    return "\n".join(lines) + "\n"


def _cell_width(text: str) -> int:
    """Terminal columns, as wcwidth.wcswidth counts them: Japanese (wide) characters take two."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:  # a sum over characters: exact for the characters _char_width vouches for
        w = _char_width(ch)
        if w is None:
            return _wide_width(text)
        width += w
    return width


# Kana, kanji, full- and half-width forms, Greek (α, β, γ) and the punctuation and arrows of our tables: their
# widths as wcwidth gives them (tests/test_render.py checks every code point against it).
KNOWN_WIDTHS = (
    (0x3000, 0x3029, 2),
    (0x3041, 0x3096, 2),
    (0x309B, 0x30FF, 2),
    (0x3400, 0x4DBF, 2),
    (0x4E00, 0x9FFF, 2),
    (0xF900, 0xFAFF, 2),
    (0xFF01, 0xFF60, 2),
    (0xFFE0, 0xFFE6, 2),
    (0x0370, 0x03FF, 1),
    (0x2010, 0x2027, 1),
    (0x2190, 0x21FF, 1),
    (0x2212, 0x2212, 1),
    (0xFF61, 0xFF9F, 1),
)


@functools.lru_cache(maxsize=4096)
def _char_width(ch: str) -> int | None:
    """One character's columns when it cannot join a neighbour into a wider or narrower cluster, else None.

    Printable ASCII, Latin, Greek, punctuation, arrows, CJK and full/half-width forms, minus the marks,
    joiners and selectors that wcswidth reads together with the character before them.
    """
    import unicodedata

    code = ord(ch)
    if code < 0x80:
        return 1 if 0x20 <= code < 0x7F else None
    if not (
        0xA0 <= code <= 0x24F
        or 0x370 <= code <= 0x3FF
        or 0x2010 <= code <= 0x2BFF
        or 0x3000 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
    ):
        return None
    if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
        return None
    for lo, hi, w in KNOWN_WIDTHS:
        if lo <= code <= hi:
            return w
    from wcwidth import wcwidth  # a dozen modules: imported only for characters beyond the table

    w = wcwidth(ch)
    return w if w >= 1 else None


@functools.lru_cache(maxsize=4096)
def _wide_width(text: str) -> int:
    from wcwidth import wcswidth

    w = wcswidth(text)
    return w if w >= 0 else len(text)


def to_json(doc) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# ---- evaluation results ---------------------------------------------------------------------


def _undefined_text(result, row) -> str:
    return "; ".join(f"{c}: {v.reason}" for c, v in zip(result.columns, row.values) if is_undef(v))


def _naming_the_value(render):
    """A renderer of an EvalResult whose ValueTooLarge names the value: its definition, municipality and year."""

    @functools.wraps(render)
    def wrapper(result, *args, **kwargs):
        try:
            return render(result, *args, **kwargs)
        except ValueTooLarge as e:
            if e.where:
                raise
            raise ValueTooLarge(_too_large_in(result)) from None

    return wrapper


def _too_large_in(result) -> str:
    """'x of 131016 千代田区 in FY2030 (R12)': the first value of the result that cannot be written, else ''."""
    for r in result.rows:
        for c, v in zip(result.columns, r.values):
            try:
                format_value(v, result.unit(c))
            except ValueTooLarge:
                return f"{c} of {r.municipality} in {r.year.both}"
    return ""


@_naming_the_value
def render_eval(result, fmt: str, *, headers: str = "ja") -> str:
    """An EvalResult as csv | json | markdown | table; one row per municipality-year.

    headers: ja, Japanese labels and values as people read them (○, 赤字なし; display.py); en, rule
    names and the values themselves. CSV and JSON cells are always the values themselves.
    """
    from .selection import note, selected_count

    cols = result.columns
    if fmt == "json":
        doc = {
            "version": result.version.id,
            "years": [y.both for y in result.years],
            "columns": [{"name": c, "label": result.label(c), "unit": result.unit(c)} for c in cols],
            "rows": [
                {
                    "fiscal_year": r.year,
                    "code": r.municipality.code,
                    "name": r.municipality.name,
                    "values": {c: (None if is_undef(v) else format_value(v, result.unit(c))) for c, v in zip(cols, r.values)},
                    "undefined": {c: v.reason for c, v in zip(cols, r.values) if is_undef(v)},
                }
                for r in result.rows
            ],
        }
        return to_json(doc)
    if fmt == "csv":
        if selected_count(result) is not None:
            return eval_csv_rows(result, headers=headers).decode("utf-8")
        return b"".join(eval_csv_chunks(result, headers=headers)).decode("utf-8")
    # People read these: labels, units, both year forms, and reasons listed below.
    lang = "en" if headers == "en" else "ja"
    header = eval_csv_header(result, lang)[:-1]
    rows = []
    notes: dict[str, int] = {}  # reason -> its footnote number, in order of first use
    for r in result.rows:
        cells = [r.year.both, r.municipality.code, r.municipality.name]
        for c, v in zip(cols, r.values):
            if is_undef(v):
                cells.append(f"—[{notes.setdefault(v.reason, len(notes) + 1)}]")
            else:
                cells.append(value_text(v, result.version.items.get(c), lang=lang))
        rows.append(cells)
    align = ["left", "left", "left"] + ["right" if result.unit(c) not in ("text", "bool") else "left" for c in cols]
    body = (to_markdown if fmt == "markdown" else to_table)(header, rows, align)
    title = f"{result.version.id} {result.version.header.title or ''}".strip()
    head = f"# {title}\n\n" if fmt == "markdown" else f"{title}\n\n"
    chosen = selected_count(result)
    tail = f"\n{note(chosen, len(result.municipalities), lang)}\n" if chosen is not None else ""
    return head + body + tail + _render_notes(list(notes), fmt, lang, version_labels(result.version))


def eval_csv_header(result, headers: str = "ja") -> list[str]:
    """The header row of an evaluation's CSV: Japanese labels (ja) or rule names (en), then the reasons' column."""
    if headers == "ja":
        return ["年度", "団体コード", "団体名"] + [result.label(c) for c in result.columns] + ["未定義の理由"]
    return ["fiscal_year", "code", "name"] + list(result.columns) + ["undefined"]


def eval_csv_rows(result, *, headers: str = "ja") -> bytes:
    """eval_csv_chunks's CSV for the rows of `result.rows` only (the municipalities -m chose), value by value."""
    rows = [
        [f"{r.year:d}", r.municipality.code, r.municipality.name]
        + [format_value(v, result.unit(c)) for c, v in zip(result.columns, r.values)]
        + [_undefined_text(result, r)]
        for r in result.rows
    ]
    return to_csv(eval_csv_header(result, headers), rows).encode("utf-8")


def eval_csv_chunks(result, *, headers: str = "ja"):
    """render_eval's CSV as UTF-8 bytes, a header and then a chunk per year, written from whole columns.

    The cells are exactly format_value's, the `undefined` column lists each undefined value's
    name and reason; a year's intermediate values are released once its rows are written.
    """
    cols = result.columns
    ms = result.municipalities
    n = len(ms)
    if n * len(result.years) * len(cols) < ARROW_MIN_CELLS:  # small: written value by value, without importing Arrow
        yield eval_csv_rows(result, headers=headers)
        return
    import collections
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from .columnar import text

    yield to_csv(eval_csv_header(result, headers), []).encode("utf-8")
    ev = result.evaluator
    units = [result.unit(c) for c in cols]
    codes = pa.array([m.code for m in ms], type=pa.string())
    names = text.neutral(pa.array([m.name for m in ms], type=pa.string()))  # no name read as a formula (cells.py)
    who = pa.array([str(m) for m in ms], type=pa.string())  # as reasons name a municipality
    names_quoted = text.needs_quoting(names) or text.needs_quoting(codes)
    per = max(1, CHUNK_ROWS // n)  # years written at once: few Arrow calls for a small table, bounded memory for a large one
    # Arrow's CSV writer runs on a thread of its own, mostly without Python's lock, while the next years are
    # evaluated; at most two years' lines wait to be yielded (bounded memory).
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: collections.deque = collections.deque()
        for start in range(0, len(result.years), per):
            years = result.years[start : start + per]
            per_year = [result.values(y) for y in years]
            cells, reasons = [], []
            quoted = names_quoted
            for c, unit in zip(cols, units):
                values = [v[c] for v in per_year]
                cells.append(text.column_texts(values, unit, n, ev))
                if unit == "text":
                    cells[-1] = text.neutral(cells[-1])
                    quoted = quoted or text.needs_quoting(cells[-1])
                reasons.append((c, text.rid_column(values, n, ev.reasons)))
            for job in text.csv_rows([f"{y:d}" for y in years], cells, reasons, ev.reasons, codes, names, who, n, quoted):
                pending.append(writer.submit(job))
                while len(pending) > 2:
                    yield from pending.popleft().result()
            result.release()
        while pending:
            yield from pending.popleft().result()


def _render_notes(notes: list[str], fmt: str, lang: str, labels: dict) -> str:
    """The numbered reasons below a display table, in its language (display.reason_text)."""
    uniq = list(dict.fromkeys(notes))
    if not uniq:
        return ""
    lines = ["", "未定義の値 (undefined values):" if fmt != "markdown" else "\n## 未定義の値 (undefined values)\n"]
    for i, reason in enumerate(uniq, 1):
        lines.append(f"{'- ' if fmt == 'markdown' else '  '}[{i}] {reason_text(reason, lang, labels)}")
    return "\n".join(lines) + "\n"


SUMMARY_HEADER = {
    "en": [
        "fiscal_year",
        "section",
        "name",
        "label",
        "item",
        "item_label",
        "value",
        "unit",
        "achieved",
        "municipalities",
        "undefined",
        "note",
    ],
    "ja": ["年度", "種類", "名前", "名称", "項目", "項目の名称", "値", "単位", "達成自治体数", "自治体数", "未定義の自治体数", "注"],
}


def summary_records(result, summaries) -> list[list]:
    """The summary as flat rows of SUMMARY_HEADER's columns, numbers in columns of their own (for CSV and JSON).

    bands: a row per band (achieved / municipalities / undefined as counts) and one saying which version's
    table is in force; total and show: the value and its unit; tally: a row per value counted.
    """

    flat = []
    for s in summaries:
        fy = f"{s.year:d}"
        for table, counts in s.bands.items():
            label = result.label(table)
            if isinstance(counts, Undefined):
                flat.append([fy, "bands", table, label, "", "", "", "", "", "", "", counts.reason])
                continue
            piece = s.tables.get(table)
            if piece is not None:  # which version's table is in force this year, under its own label
                label = piece.item.label or label
                flat.append([fy, "bands", table, label, "in force", "", piece.version, "", "", "", "", piece.years_text])
            for b in counts:
                flat.append(
                    [
                        fy,
                        "bands",
                        table,
                        label,
                        b.interval,
                        b.label if b.label != b.interval else "",
                        "",
                        "",
                        b.achieved,
                        b.municipalities,
                        b.undefined,
                        b.wording or "",
                    ]
                )
            if s.no_band.get(table):
                flat.append(
                    [fy, "bands", table, label, "(no band)", "", "", "", "", s.no_band[table], s.no_band[table], "previous rate undefined"]
                )
        for kind, name, label, _display, raw, unit in s.lines:
            if kind == "tally":
                continue
            reason = raw.reason if isinstance(raw, Undefined) else ""
            value = format_value(raw, unit) if raw is not None and not isinstance(raw, Undefined) else ""
            flat.append([fy, kind, name, label, "", "", value, unit, "", "", "", reason or ("per municipality" if raw is None else "")])
        for name, counted in s.tallies.items():
            item = result.version.items.get(name)
            for value, k in counted:
                text = "" if value is None else format_value(value, result.unit(name))
                shown = "undefined" if value is None else value_text(value, item, lang="ja")
                flat.append([fy, "tally", name, result.label(name), text, shown if shown != text else "", k, "count", "", "", "", ""])
    return flat


def render_summary(result, summaries, fmt: str, *, headers: str = "ja") -> str:
    """The per-year summary (bands with achievers, totals, tallies, coefficients).

    csv / json: summary_records, headers in Japanese (ja) or English (en); table / markdown: laid out
    for reading, values as display.py shows them in the language of `headers`.
    """
    from .selection import selected_count, whole_note

    lang = "en" if headers == "en" else "ja"
    if fmt in ("csv", "json"):
        flat = summary_records(result, summaries)
        if fmt == "csv":
            return to_csv(SUMMARY_HEADER[lang], [[str(x) for x in r] for r in flat])
        return to_json({"version": result.version.id, "summary": [dict(zip(SUMMARY_HEADER["en"], r)) for r in flat]})
    out = []
    md = fmt == "markdown"
    if selected_count(result) is not None:
        out.append(whole_note(len(result.municipalities), lang) + "\n")
    word = {
        "ja": {
            "band": "区分",
            "of": "自治体数",
            "sum": "計",
            "item": "項目",
            "value": "値",
            "title": "年度別集計",
            "undef": "未定義",
            "no_band": "(区分なし: 前年度の値が未定義)",
            "in_force": "適用",
        },
        "en": {
            "band": "band",
            "of": "municipalities",
            "sum": "total",
            "item": "item",
            "value": "value",
            "title": "summary",
            "undef": "undefined",
            "no_band": "(no band: previous rate undefined)",
            "in_force": "in force",
        },
    }[lang]
    name_of = result.label if lang == "ja" else (lambda n: n)
    labels = version_labels(result.version)
    for s in summaries:
        out.append(f"{'## ' if md else ''}{s.year.both} — {result.version.id} {word['title']}\n")
        for table, counts in s.bands.items():
            flag = s.band_flag[table]
            if isinstance(counts, Undefined):
                out.append(f"{name_of(table)}: {reason_text(counts.reason, lang, labels)}\n")
                continue
            piece = s.tables.get(table)
            item = piece.item if piece is not None else result.version.items[table]
            key = item.key
            key_label = name_of(key.name) if hasattr(key, "name") else word["band"]
            title = (item.label or table) if lang == "ja" else table
            if piece is not None and len(result.version.pieces(table)) > 1:  # the bands may differ between years
                title += f" ({piece.version}, {word['in_force']} {piece.years_text})"
            header = [key_label, word["band"], (item.label or table) if lang == "ja" else table, f"{name_of(flag)} / {word['of']}"]

            def count(achieved, members, unknown):
                return f"{achieved} / {members}" + (f" ({unknown} {word['undef']})" if unknown else "")

            rows = [[b.interval, b.label, b.wording or "", count(b.achieved, b.municipalities, b.undefined)] for b in counts]
            rows.append(
                [
                    word["sum"],
                    "",
                    "",
                    count(sum(b.achieved for b in counts), sum(b.municipalities for b in counts), sum(b.undefined for b in counts)),
                ]
            )
            if s.no_band.get(table):
                rows.append([word["no_band"], "", "", f"– / {s.no_band[table]}"])
            out.append(f"{title}\n" if not md else f"### {title}\n")
            out.append((to_markdown if md else to_table)(header, rows, ["left", "left", "left", "right"]))
        rows = [
            [label if lang == "ja" else name + label[len(result.label(name)) :], display]
            for kind, name, label, display, raw, unit in s.lines
        ]
        notes = [raw.reason for kind, name, label, display, raw, unit in s.lines if isinstance(raw, Undefined)]
        if rows:
            out.append((to_markdown if md else to_table)([word["item"], word["value"]], rows, ["left", "right"]))
        if notes:
            out.append(_render_notes(notes, fmt, lang, labels))
        out.append("")
    return "\n".join(out)
