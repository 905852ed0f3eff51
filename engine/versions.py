"""Rule files -> versions: resolve `extends`, then say what is in force for a (version, fiscal year).

A version is the items of its file laid over the items of the version it extends:
`override` replaces a base item, `remove` drops one, anything else is new. A name keeps its
history: the pieces (statements of the item) of every version in the chain that are still in
force somewhere. A piece written with `effective P` is in force in P; in the years before P the
base's pieces stay in force (with their own history); after P's last year the item is not in
force, unless P is open-ended or a later piece of the same version takes over. A piece without
`effective` replaces the base's pieces in every year. One file may state several pieces of one
item, each with its own `effective` years (they may not overlap).

The evaluators ask `version.at(year).lookup(name)` and never compare years with effective
periods themselves; `version.at(year).piece(name)` says which version's piece that is, and
`version.pieces(name)` lists a name's whole history.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from . import ast
from .errors import Hints, RuleCheckError, UsageError, finding
from .source import parse_file
from .years import FiscalYear, Period

MAX_EXTENDS_DEPTH = 50
RULE_SUFFIX = ".rules"
PIECE_KINDS = (ast.InputDecl, ast.Definition, ast.Table, ast.Schedule)  # items that may be stated in several pieces


@attrs.frozen
class Piece:
    """One statement of an item as resolved in a version: the item, the version whose file states
    it, and the fiscal years in which it is the item in force there (None: every year)."""

    item: object
    version: str
    years: Period | None

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def span(self) -> ast.Span:
        return self.item.span

    def covers(self, year: int) -> bool:
        return self.years is None or year in self.years

    @property
    def years_text(self) -> str:
        """'FY2024-FY2026 (R6-R8)', 'up to FY2023 (R5)', 'from FY2030 (R12)' or 'every year'."""
        return years_text(self.years)


def years_text(p: Period | None) -> str:
    """A piece's years as outputs show them: 'FY2024-FY2026 (R6-R8)', 'up to FY2023 (R5)', 'from FY2030 (R12)', 'every year'."""
    if p is None or (p.first is None and p.last is None):
        return "every year"
    if p.first is None:
        return f"up to {FiscalYear(p.last).both}"
    if p.last is None:
        return f"from {FiscalYear(p.first).both}"
    return p.both


@attrs.frozen
class Version:
    """One version resolved through its `extends` chain: every item by name, base items included."""

    header: ast.Header
    file: ast.RuleFile
    items: dict  # name -> the newest piece's item, in file order (base items first)
    origin: dict  # name -> version id of the file that states the newest piece
    chain: tuple[str, ...]  # this version, its base, the base's base, ...
    history: dict  # name -> tuple[Piece, ...], the pieces in force in some year, earliest years first

    @property
    def id(self) -> str:
        return self.header.version

    def inputs(self) -> dict[str, ast.InputDecl]:
        return {n: i for n, i in self.items.items() if isinstance(i, ast.InputDecl)}

    def examples(self) -> list[ast.Example]:
        return [i for i in self.items.values() if isinstance(i, ast.Example)]

    def at(self, year: int) -> InForce:
        return InForce(self, year)

    def pieces(self, name: str) -> tuple[Piece, ...]:
        """A name's history in this version: every piece in force in some year, earliest years first."""
        return self.history.get(name, ())

    def all_pieces(self):
        """Every piece of every name, name by name (file order, base names first)."""
        for pieces in self.history.values():
            yield from pieces

    def shares(self, other: Version, name: str) -> bool:
        """Whether the two versions have the same history for a name: equal items in force in the same years."""
        pa, pb = self.history.get(name), other.history.get(name)
        if pa is None or pb is None or len(pa) != len(pb):
            return False
        return all((x.item is y.item or x.item == y.item) and x.years == y.years for x, y in zip(pa, pb))

    def with_item(self, old, new) -> Version:
        """This version with the piece whose item is `old` stated as `new` by this version (a sweep's variation)."""
        name = old.name
        history = dict(self.history)
        history[name] = tuple(Piece(new, self.id, p.years) if p.item is old else p for p in self.history[name])
        items, origin = dict(self.items), dict(self.origin)
        if items.get(name) is old:
            items[name] = new
            origin[name] = self.id
        return attrs.evolve(self, items=items, origin=origin, history=history)

    def not_in_force(self, name: str, year: int) -> NotInForce:
        """Why no piece of a name is in force in a year: the piece just before the year (or the first
        one) is named, with the years it was written for."""
        pieces = self.history[name]
        before = [p for p in pieces if p.years is not None and p.years.last is not None and p.years.last < year]
        p = before[-1] if before else pieces[0]
        item = p.item
        fy = FiscalYear(year)
        what = f"{name} ({item.label})" if getattr(item, "label", None) else name
        eff = getattr(item, "effective", None) or p.years
        covers = eff.both if eff is not None else "every year"
        return NotInForce(item, f"no {what} in force for {fy.both} in version {self.id}; it covers {covers}", p.version)


@attrs.frozen
class NotInForce:
    """An item that exists in the version but not for this fiscal year, and why."""

    item: object
    reason: str
    version: str | None = None  # the version whose piece is named in the reason


@attrs.frozen
class InForce:
    """What a version says for one fiscal year: each name -> item, or NotInForce with its reason."""

    version: Version
    year: int

    def piece(self, name: str):
        """The piece in force (with the version that wrote it and its years), NotInForce, or None (no such name)."""
        pieces = self.version.history.get(name)
        if pieces is None:
            return None
        year = self.year
        for p in pieces:
            if p.years is None or year in p.years:
                return p
        return self.version.not_in_force(name, year)

    def lookup(self, name: str):
        """The item in force, NotInForce with its reason, or None (no such name)."""
        p = self.piece(name)
        return p.item if type(p) is Piece else p


class RuleSet:
    """All versions found in a set of rule files, by version id."""

    def __init__(self, files: list[ast.RuleFile]):
        self.files = {f.header.version: f for f in files}
        self._resolved: dict[str, Version] = {}
        dupes = {}
        for f in files:
            dupes.setdefault(f.header.version, []).append(f)
        for vid, fs in dupes.items():
            if len(fs) > 1:
                raise RuleCheckError(
                    finding(
                        "duplicate-version",
                        f"version {vid} is defined in {len(fs)} files: " + ", ".join(x.path for x in fs),
                        fs[1].header.span,
                        fs[1].source,
                    )
                )

    @classmethod
    def from_paths(cls, paths: list[str | Path]) -> RuleSet:
        """Load rule files; a directory contributes every *.rules file in it."""
        files = []
        for p in rule_files(paths):
            files.append(parse_file(p))
        return cls(files)

    @property
    def version_ids(self) -> list[str]:
        return sorted(self.files, key=_version_sort_key)

    def newest_first(self) -> list[str]:
        """Version ids, newest first: by the first year of the plan period, then by id (R6 before R6a before R9)."""

        def key(vid):
            p = self.files[vid].header.plan_period
            return (float("-inf") if p is None or p.first is None else p.first, _version_sort_key(vid))

        return sorted(self.files, key=key, reverse=True)

    def default_version(self, years: list[int] | None) -> tuple[str, str]:
        """The version a command uses without --version, and why: the newest whose plan period covers
        every year asked, else the newest. (A version id is a name, not a year: the years asked
        choose the version through the plan periods the rule files state.)"""
        order = self.newest_first()
        if not years:
            return order[0], "the newest version"
        asked = Period(min(years), max(years)).both
        for vid in order:
            p = self.files[vid].header.plan_period
            if p is not None and all(y in p for y in years):
                return vid, f"the newest version whose plan period ({p.both}) covers {asked}"
        return order[0], f"the newest version; no version's plan period covers {asked}"

    def version(self, vid: str) -> Version:
        if vid not in self.files:
            known = ", ".join(self.version_ids) or "none"
            raise UsageError(finding("unknown-version", f"unknown version '{vid}'; the rules define: {known}"))
        if vid not in self._resolved:
            self._resolved[vid] = self._resolve(vid, ())
        return self._resolved[vid]

    def _resolve(self, vid: str, seen: tuple[str, ...]) -> Version:
        f = self.files[vid]
        h = f.header
        if vid in seen:
            cycle = " -> ".join(seen + (vid,))
            raise RuleCheckError(finding("cyclic-extends", f"versions extend each other in a cycle: {cycle}", h.extends_span, f.source))
        if len(seen) >= MAX_EXTENDS_DEPTH:
            # Reported at the version asked for, whose chain is too long (its deepest base may extend nothing).
            top = self.files[seen[0]]
            raise RuleCheckError(
                finding(
                    "extends-too-deep",
                    f"version {seen[0]} extends a chain of more than {MAX_EXTENDS_DEPTH} versions "
                    f"({seen[0]} -> {seen[1] if len(seen) > 1 else vid} -> ... -> {vid})",
                    top.header.extends_span,
                    top.source,
                )
            )
        items: dict = {}
        origin: dict = {}
        history: dict = {}
        chain: tuple[str, ...] = (vid,)
        if h.extends is not None:
            if h.extends not in self.files:
                raise RuleCheckError(finding("unknown-base", self._unknown_base(vid, h.extends), h.extends_span, f.source))
            base = self._resolve(h.extends, seen + (vid,))
            items = dict(base.items)
            origin = dict(base.origin)
            history = dict(base.history)
            chain = (vid,) + base.chain
        in_base = set(items)
        problems = []
        hints = Hints()
        stated: dict[str, list] = {}  # name -> the pieces this file states, in file order
        for item in f.items:
            name = item.name
            if name in stated:
                earlier = stated[name]
                if not _may_be_pieces(earlier + [item]):
                    problems.append(
                        finding(
                            "duplicate-name",
                            f"'{name}' is defined twice in version {vid} (first at line {earlier[0].span.line})",
                            item.span,
                            f.source,
                        )
                    )
                    continue
                clash = next((x for x in earlier if x.effective.overlaps(item.effective)), None)
                if clash is not None:
                    problems.append(
                        finding(
                            "piece-overlap",
                            f"'{name}' is stated twice in version {vid} for years that overlap: "
                            f"{clash.effective.both} (line {clash.span.line}) and {item.effective.both}, both in force in "
                            f"{_shared_years(clash.effective, item.effective)}; give each its own years",
                            item.span,
                            f.source,
                        )
                    )
                    continue
                stated[name].append(item)
                continue
            if isinstance(item, ast.Removal):
                stated[name] = [item]
                if name not in in_base:
                    problems.append(
                        finding(
                            "remove-unknown", f"cannot remove '{name}': {_base_phrase(h)} has no item of that name", item.span, f.source
                        )
                    )
                else:
                    del items[name]
                    origin.pop(name, None)
                    history.pop(name, None)
                continue
            if item.override and name not in in_base:
                close = hints.closest(name, items, 0.6)
                hint = f"; did you mean '{close}'?" if close else ""
                problems.append(
                    finding(
                        "override-unknown",
                        f"'{name}' overrides nothing: {_base_phrase(h)} has no item of that name{hint}",
                        item.span,
                        f.source,
                    )
                )
                continue
            if not item.override and name in in_base:
                problems.append(
                    finding(
                        "missing-override",
                        f"'{name}' is already defined in version {origin[name]}; write 'override' to replace it or choose another name",
                        item.span,
                        f.source,
                    )
                )
                continue
            if item.override and type(items[name]) is not type(item):
                problems.append(
                    finding(
                        "override-kind",
                        f"'{name}' is a {_kind(items[name])} in version {origin[name]}; it cannot be overridden by {'an' if _kind(item)[0] in 'aeiou' else 'a'} {_kind(item)}",
                        item.span,
                        f.source,
                    )
                )
                continue
            stated[name] = [item]
        if problems:
            raise RuleCheckError(problems)
        for name, stated_items in stated.items():
            if isinstance(stated_items[0], ast.Removal):
                continue
            own = sorted(stated_items, key=lambda x: _first(getattr(x, "effective", None)))
            pieces = tuple(Piece(x, vid, getattr(x, "effective", None)) for x in own)
            history[name] = _taken_over(history.get(name, ()), _first(pieces[0].years)) + pieces
            items[name] = own[-1]
            origin[name] = vid
        return Version(h, f, items, origin, chain, history)

    def _unknown_base(self, vid: str, base: str) -> str:
        """unknown-base: the versions the rules read define, where the base's file is if it lies beside them, what to do."""
        others = [v for v in self.version_ids if v != vid]
        text = f"version {vid} extends unknown version '{base}'; " + (
            f"the rules read define {', '.join(others)}" if others else f"the rules read define only {vid}"
        )
        found = _find_version_file(base, [Path(rf.path).parent for rf in self.files.values()] + [default_rules_dir()])
        mine = _shown(self.files[vid].path)
        if found is not None:
            folder = _shown(found.parent)
            return (
                text
                + f". {base} is defined in {_shown(found)}: give its folder too, e.g. --rules {folder} --rules {mine} (kokuho check {folder} {mine})"
            )
        return text + f". Give the file of version {base} too (--rules FILE or a folder), or correct the name after 'extends'"


def _first(p: Period | None) -> float:
    """The first year of a piece's years, for ordering: an open start or no period is earliest."""
    return float("-inf") if p is None or p.first is None else p.first


def _may_be_pieces(items: list) -> bool:
    """Several statements of one name in one file are pieces of one item when each is an input,
    definition, table or schedule of the same kind, with its own `effective` years."""
    kind = type(items[0])
    return all(type(x) is kind and isinstance(x, PIECE_KINDS) and x.effective is not None for x in items)


def _shared_years(a: Period, b: Period) -> str:
    lo = max((x for x in (a.first, b.first) if x is not None), default=None)
    hi = min((x for x in (a.last, b.last) if x is not None), default=None)
    return Period(lo, hi).both if lo is not None or hi is not None else "every year"


def _taken_over(base: tuple, first) -> tuple:
    """The base's pieces in force before `first`, the first year of the pieces that take over."""
    if first == float("-inf"):
        return ()
    out = []
    for p in base:
        years = p.years
        if years is not None and years.first is not None and years.first >= first:
            continue
        last = first - 1 if years is None or years.last is None else min(years.last, first - 1)
        out.append(attrs.evolve(p, years=Period(None if years is None else years.first, last)))
    return tuple(out)


def _find_version_file(vid: str, folders) -> Path | None:
    """A *.rules file in one of the folders whose header line is `ruleset VID` (read as text, not parsed)."""
    import re

    pattern = re.compile(r"^\s*ruleset\s+" + re.escape(vid) + r"(\s|$)", re.M)
    seen = set()
    for folder in folders:
        folder = Path(folder)
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        for candidate in sorted(folder.glob(f"*{RULE_SUFFIX}")):
            try:
                if pattern.search(candidate.read_text(encoding="utf-8-sig", errors="replace")):
                    return candidate
            except OSError:
                continue
    return None


def _shown(path) -> str:
    """A path as people type it: relative to the working directory when it lies under it, else the
    shipped rules relative to the project (rules/tokyo/R6.rules), else as given (as explain.shown_path)."""
    import os

    for base in (os.getcwd(), default_rules_dir().parent.parent):
        try:
            rel = os.path.relpath(path, base)
        except ValueError:  # another drive on Windows
            continue
        if not rel.startswith(".."):
            return rel
    return str(path)


def _kind(item) -> str:
    return "item" if isinstance(item, ast.Removal) else getattr(item, "kind", "item")


def _base_phrase(h: ast.Header) -> str:
    return f"base version {h.extends}" if h.extends else f"version {h.version} extends no version, so it"


def _version_sort_key(vid: str):
    import re

    m = re.match(r"^([A-Za-z]*)([0-9]+)(.*)$", vid)
    if not m:
        return (vid, 0, "", "")
    digits = m.group(2).lstrip("0")  # compared as a number without int(): a 5,000-digit id is past int's string limit
    return (m.group(1), len(digits), digits, m.group(3))


def rule_files(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # A folder of versions; a folder of such folders (rules/ holding tokyo/) is searched below.
            found = sorted(p.glob(f"*{RULE_SUFFIX}")) or sorted(p.rglob(f"*{RULE_SUFFIX}"))
            if not found:
                raise UsageError(finding("no-rules", f"no {RULE_SUFFIX} files in directory {p}"))
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise UsageError(finding("no-such-file", f"rule file or directory not found: {p}"))
    return out


def default_rules_dir() -> Path:
    from .shipped import rules_dir  # in the checkout or inside the installed package

    return rules_dir()


def plan_period_of(version: Version) -> Period | None:
    return version.header.plan_period
