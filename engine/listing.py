"""A rule set -> the `kokuho versions` listing: every version with its status, plan period, base chain
and files; for one fiscal year, which piece of each item is in force under each version and where it
was written (a revision takes over from the first year of its pieces' years, so a version may use its
base's piece in some years).
"""

from __future__ import annotations

import attrs

from . import ast
from .versions import Piece, RuleSet, Version
from .years import FiscalYear, Period


@attrs.frozen
class PieceRow:
    """One item of a version in one fiscal year: the piece in force (or why none is) and where it was written."""

    name: str
    kind: str
    label: str | None
    version: str | None  # the version whose file states the piece in force; None: not in force
    years: str  # the years that piece is in force in the version ('every year', 'FY2024-FY2026 (R6-R8)', ...)
    file: str
    line: int
    reason: str | None = None  # why no piece is in force
    pieces: int = 1  # how many pieces the name has in the version


@attrs.frozen
class VersionRow:
    id: str
    title: str | None
    status: str | None
    plan_period: Period | None
    period_text: str | None
    chain: tuple[str, ...]  # the version, its base, the base's base, ...
    files: tuple[str, ...]  # the files of the chain, in the same order
    examples: int
    covers_year: bool | None = None  # with a year: whether the plan period covers it
    items: tuple[PieceRow, ...] = ()  # with a year: every input, definition, table and schedule


@attrs.frozen
class Listing:
    year: FiscalYear | None
    default: str  # the version a command uses without --version (for the year, when one is given)
    why: str
    versions: tuple[VersionRow, ...]


def list_versions(ruleset: RuleSet, *, year: FiscalYear | None = None, version: str | None = None, names=None) -> Listing:
    """Every version (or the one asked for), newest last; with a year, each item's piece in force then
    (every input, definition, table and schedule, or those named)."""
    from .explain import shown_path

    default, why = ruleset.default_version([year] if year is not None else None)
    ids = [version] if version is not None else ruleset.version_ids
    rows = []
    for vid in ids:
        v = ruleset.version(vid)
        h = v.header
        files = tuple(shown_path(ruleset.files[c].path) for c in v.chain)
        covers = None if year is None else (h.plan_period is not None and year in h.plan_period)
        items = _items(v, year, names) if year is not None else ()
        rows.append(VersionRow(vid, h.title, h.status, h.plan_period, h.period_text, v.chain, files, len(v.examples()), covers, items))
    return Listing(year, default, why, tuple(rows))


def _items(v: Version, year: int, names=None) -> tuple[PieceRow, ...]:
    from .explain import shown_path

    view = v.at(year)
    out = []
    for name, newest in v.items.items():
        if names is not None and name not in names:
            continue
        kind = newest.kind if isinstance(newest, ast.VALUE_KINDS) else None
        if kind is None:
            continue  # the summary and examples are not in force by year
        p = view.piece(name)
        n = len(v.pieces(name))
        if isinstance(p, Piece):
            out.append(PieceRow(name, kind, p.item.label, p.version, p.years_text, shown_path(p.span.file), p.span.line, None, n))
        else:
            item = p.item
            named = next((x for x in v.pieces(name) if x.item is item), None)
            covers = named.years_text if named is not None else "no years"
            out.append(
                PieceRow(
                    name,
                    kind,
                    item.label,
                    None,
                    f"not in force; {p.version}'s piece covers {covers}",
                    shown_path(item.span.file),
                    item.span.line,
                    p.reason,
                    n,
                )
            )
    return tuple(out)


# ---- rendering ---------------------------------------------------------------------------------


def _period(r: VersionRow) -> str:
    if r.plan_period is None:
        return "—"
    return r.plan_period.both


def render_listing(listing: Listing, fmt: str = "table") -> str:
    """The listing as table | markdown | csv | json."""
    from .render import to_csv, to_json, to_markdown, to_table

    fy = listing.year.both if listing.year is not None else None
    if fmt == "json":
        return to_json(_doc(listing))
    if fmt == "csv":
        header = ["version", "status", "plan_period", "extends", "files", "title"]
        if listing.year is None:
            return to_csv(header, [_version_cells(r, listing, display=False) for r in listing.versions])
        rows = [
            [r.id, x.name, x.kind, x.label or "", x.version or "", x.years, f"{x.file}:{x.line}"] for r in listing.versions for x in r.items
        ]
        return to_csv(["version", "name", "kind", "label", "piece_of", "years", "written_at"], rows)
    md = fmt == "markdown"
    tab = to_markdown if md else to_table
    out = []
    when = f" for {fy}" if fy else ""
    head = f"版 (versions){when}: without --version, commands use {listing.default} ({listing.why})"
    out.append(("## " if md else "") + head + "\n")
    header = ["版", "状態", "計画期間", "基の版 (extends)", "ファイル", "題名"]
    if fy:
        header.insert(3, fy)
    out.append(tab(header, [_version_cells(r, listing) for r in listing.versions]))
    if listing.year is None:
        out.append("A version id is a name, not a year: the years a command asks for choose the version through the plan periods above.\n")
        return "\n".join(out)
    for r in listing.versions:
        title = f"{r.id} {r.title}" if r.title else r.id
        out.append(f"{'### ' if md else '■ '}{title} — {fy}\n")
        rows = [[x.name, x.kind, x.label or "", x.version or "—", x.years, f"{x.file}:{x.line}"] for x in r.items]
        out.append(tab(["項目", "種類", "名称", "版", "適用年度", "場所"], rows))
    return "\n".join(out)


def _version_cells(r: VersionRow, listing: Listing, *, display: bool = True) -> list[str]:
    """A version's row: its status as staff read it (施行中, 改定案) in tables, as written in CSV."""
    from .display import status_text

    extends = " → ".join(r.chain[1:]) or "—"
    status = (status_text(r.status) if display else r.status) if r.status else ""
    cells = [r.id, status, _period(r), extends, ", ".join(r.files[:1]), r.title or ""]
    if listing.year is not None:
        cells.insert(3, ("計画期間内" if display else "in plan period") if r.covers_year else "—")
    return cells


def _doc(listing: Listing) -> dict:
    def item(x: PieceRow) -> dict:
        return {
            "name": x.name,
            "kind": x.kind,
            "label": x.label,
            "in_force": x.version is not None,
            "version": x.version,
            "years": x.years,
            "file": x.file,
            "line": x.line,
            "reason": x.reason,
            "pieces": x.pieces,
        }

    return {
        "fiscal_year": listing.year.both if listing.year is not None else None,
        "default_version": {"id": listing.default, "why": listing.why},
        "versions": [
            {
                "id": r.id,
                "title": r.title,
                "status": r.status,
                "plan_period": r.plan_period.both if r.plan_period else None,
                "period_text": r.period_text,
                "extends": list(r.chain[1:]),
                "files": list(r.files),
                "examples": r.examples,
                **({"covers_year": r.covers_year, "items": [item(x) for x in r.items]} if listing.year is not None else {}),
            }
            for r in listing.versions
        ],
    }


def version_text() -> str:
    """`kokuho --version`: the package version and the versions of the rules it ships, one a line."""
    from .shipped import DISTRIBUTION, package_version, rules_dir

    ruleset = RuleSet.from_paths([rules_dir()])
    lines = [f"{DISTRIBUTION} {package_version()}", "shipped rules (rules/tokyo):"]
    for vid in ruleset.version_ids:
        header = ruleset.version(vid).header
        facts = [header.status, header.plan_period and header.plan_period.both, header.extends and f"extends {header.extends}"]
        lines.append(f"  {vid}  {header.title or '(no title)'}  [{', '.join(f for f in facts if f)}]")
    return "\n".join(lines) + "\n"
