"""A version -> the `kokuho names` listing: every name with its label, unit, kind, the version whose piece it
comes from, the years that piece is in force, its citation and where it is written.

These are the names (and labels) every option accepts (engine/lookup.py). A name stated in several
pieces (R6's target table from FY2024, R3's before) has a row per piece; with a year, only the piece in
force then, or a row saying why none is.
"""

from __future__ import annotations

import attrs

from . import ast
from .versions import Piece, RuleSet
from .years import FiscalYear

KINDS = (ast.Definition, ast.Table, ast.Schedule)  # with the inputs (by scope), the items a name listing shows
KIND_JA = {
    "municipal input": "入力（団体別）",
    "prefecture input": "入力（都）",
    "definition": "定義",
    "table": "区分表",
    "schedule": "年度別の値",
}
HEADERS = {
    "en": ["name", "label", "unit", "kind", "version", "years", "written_at", "cite"],
    "ja": ["名前", "名称", "単位", "種類", "版", "適用年度", "場所", "根拠"],
}


@attrs.frozen
class NameRow:
    name: str
    label: str | None
    unit: str
    kind: str  # municipal input | prefecture input | definition | table | schedule
    version: str | None  # the version whose file states the piece; None: no piece in force in the year asked
    years: str  # the years that piece is in force ('every year', 'FY2024-FY2026 (R6-R8)', ...), or why none is
    cite: str | None
    file: str
    line: int


@attrs.frozen
class NameListing:
    version: str
    title: str | None
    year: FiscalYear | None
    rows: tuple[NameRow, ...]

    @property
    def count(self) -> int:
        return len({r.name for r in self.rows})


def _kind(item) -> str | None:
    if isinstance(item, ast.InputDecl):
        return f"{item.scope} input"
    return item.kind if isinstance(item, KINDS) else None


def list_names(ruleset: RuleSet, *, version: str | None = None, year: FiscalYear | None = None) -> NameListing:
    """Every name of a version (default: the newest, or the one whose plan period covers the year), piece by piece.

    The rules and the year (api.years_asked of --year) are the command line's, read once."""
    from .explain import shown_path

    vid = version or ruleset.default_version([year] if year is not None else None)[0]
    v = ruleset.version(vid)
    rows = []
    for name, newest in v.items.items():
        if _kind(newest) is None:
            continue  # the summary and examples are not names of values
        if year is None:
            pieces = v.pieces(name)
        else:
            p = v.at(year).piece(name)
            if not isinstance(p, Piece):
                item = p.item
                named = next((x for x in v.pieces(name) if x.item is item), None)
                covers = named.years_text if named is not None else "no years"
                rows.append(
                    NameRow(
                        name,
                        getattr(item, "label", None),
                        item.unit,
                        _kind(item),
                        None,
                        f"not in force; {p.version}'s piece covers {covers}",
                        getattr(item, "cite", None),
                        shown_path(item.span.file),
                        item.span.line,
                    )
                )
                continue
            pieces = (p,)
        for p in pieces:
            item = p.item
            rows.append(
                NameRow(
                    name, item.label, item.unit, _kind(item), p.version, p.years_text, item.cite, shown_path(item.span.file), item.span.line
                )
            )
    return NameListing(v.id, v.header.title, year, tuple(rows))


def _cells(r: NameRow, lang: str) -> list[str]:
    kind = KIND_JA.get(r.kind, r.kind) if lang == "ja" else r.kind
    years = r.years
    if lang == "ja":
        years = {"every year": "全年度"}.get(years, years)
        if years.startswith("not in force; "):
            years = "適用外 (" + years[len("not in force; ") :].replace("'s piece covers ", " の規定は ") + ")"
        elif years.startswith("up to "):
            years = "～" + years[len("up to ") :]
        elif years.startswith("from "):
            years = years[len("from ") :] + "～"
    return [r.name, r.label or "", r.unit, kind, r.version or "—", years, f"{r.file}:{r.line}", r.cite or ""]


def render_names(listing: NameListing, fmt: str = "table", *, headers: str = "ja") -> str:
    """The listing as table | markdown | csv | json (JSON keys and CSV cells in English with --headers en)."""
    from .render import to_csv, to_json, to_markdown, to_table

    lang = "en" if headers == "en" else "ja"
    if fmt == "json":
        return to_json(
            {
                "version": listing.version,
                "fiscal_year": listing.year.both if listing.year is not None else None,
                "names": [attrs.asdict(r) for r in listing.rows],
            }
        )
    if fmt == "csv":
        return to_csv(
            HEADERS[lang],
            [[r.name, r.label or "", r.unit, r.kind, r.version or "", r.years, f"{r.file}:{r.line}", r.cite or ""] for r in listing.rows],
        )
    md = fmt == "markdown"
    when = f", {listing.year.both}" if listing.year is not None else ""
    title = f"{listing.version} {listing.title or ''}".strip()
    head = f"{title} — 名前の一覧{when}: {listing.count} 件" if lang == "ja" else f"{title} — names{when}: {listing.count}"
    foot = (
        "名前か名称 (ラベル) のどちらでも、--columns、explain、sweep などに指定できます。\n"
        if lang == "ja"
        else "A name or its label may be given to --columns, explain, sweep and the other options that take a name.\n"
    )
    body = (to_markdown if md else to_table)(HEADERS[lang], [_cells(r, lang) for r in listing.rows])
    return ("# " if md else "") + head + "\n\n" + body + "\n" + foot


def describe(listing: NameListing) -> str:
    """What a written listing holds, in one line."""
    when = f" in {listing.year}" if listing.year is not None else ""
    return f"{listing.count} names of {listing.version}{when} ({len(listing.rows)} pieces)"
