"""Rule files -> versions: resolve `extends`, then say what is in force for a (version, fiscal year).

A version is the items of its file laid over the items of the version it extends:
`override` replaces a base item, `remove` drops one, anything else is new. The evaluator
asks `RuleSet.at(version, year)` and never compares years with effective periods itself.
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


@attrs.frozen
class Version:
    """One version resolved through its `extends` chain: every item by name, base items included."""

    header: ast.Header
    file: ast.RuleFile
    items: dict  # name -> item, in file order (base items first)
    origin: dict  # name -> version id of the file that states the item
    chain: tuple[str, ...]  # this version, its base, the base's base, ...

    @property
    def id(self) -> str:
        return self.header.version

    def inputs(self) -> dict[str, ast.InputDecl]:
        return {n: i for n, i in self.items.items() if isinstance(i, ast.InputDecl)}

    def examples(self) -> list[ast.Example]:
        return [i for i in self.items.values() if isinstance(i, ast.Example)]

    def at(self, year: int) -> "InForce":
        return InForce(self, year)


@attrs.frozen
class NotInForce:
    """An item that exists in the version but not for this fiscal year, and why."""

    item: object
    reason: str


@attrs.frozen
class InForce:
    """What a version says for one fiscal year: each name -> item, or NotInForce with its reason."""

    version: Version
    year: int

    def lookup(self, name: str):
        item = self.version.items.get(name)
        if item is None:
            return None
        eff = getattr(item, "effective", None)
        if eff is not None and self.year not in eff:
            fy = FiscalYear(self.year)
            what = f"{name} ({item.label})" if getattr(item, "label", None) else name
            return NotInForce(item, f"no {what} in force for {fy.both} in version {self.version.id}; it covers {eff.both}")
        return item


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
                raise RuleCheckError(finding("duplicate-version", f"version {vid} is defined in {len(fs)} files: " + ", ".join(x.path for x in fs), fs[1].header.span, fs[1].source))

    @classmethod
    def from_paths(cls, paths: list[str | Path]) -> "RuleSet":
        """Load rule files; a directory contributes every *.rules file in it."""
        files = []
        for p in rule_files(paths):
            files.append(parse_file(p))
        return cls(files)

    @property
    def version_ids(self) -> list[str]:
        return sorted(self.files, key=_version_sort_key)

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
            raise RuleCheckError(finding("extends-too-deep", f"version {seen[0]} extends a chain of more than {MAX_EXTENDS_DEPTH} versions "
                                         f"({seen[0]} -> {seen[1] if len(seen) > 1 else vid} -> ... -> {vid})", top.header.extends_span, top.source))
        items: dict = {}
        origin: dict = {}
        chain: tuple[str, ...] = (vid,)
        if h.extends is not None:
            if h.extends not in self.files:
                known = ", ".join(v for v in self.version_ids if v != vid) or "none"
                raise RuleCheckError(finding("unknown-base", f"version {vid} extends unknown version '{h.extends}'; known versions: {known}", h.extends_span, f.source))
            base = self._resolve(h.extends, seen + (vid,))
            items = dict(base.items)
            origin = dict(base.origin)
            chain = (vid,) + base.chain
        problems = []
        hints = Hints()
        stated: dict[str, object] = {}
        for item in f.items:
            name = item.name
            if name in stated:
                problems.append(finding("duplicate-name", f"'{name}' is defined twice in version {vid} (first at line {stated[name].span.line})", item.span, f.source))
                continue
            stated[name] = item
            in_base = name in items and origin.get(name) != vid
            if isinstance(item, ast.Removal):
                if not in_base:
                    problems.append(finding("remove-unknown", f"cannot remove '{name}': {_base_phrase(h)} has no item of that name", item.span, f.source))
                else:
                    del items[name]
                    origin.pop(name, None)
                continue
            if item.override and not in_base:
                close = hints.closest(name, items, 0.6)
                hint = f"; did you mean '{close}'?" if close else ""
                problems.append(finding("override-unknown", f"'{name}' overrides nothing: {_base_phrase(h)} has no item of that name{hint}", item.span, f.source))
                continue
            if not item.override and in_base:
                problems.append(finding("missing-override", f"'{name}' is already defined in version {origin[name]}; write 'override' to replace it or choose another name", item.span, f.source))
                continue
            if item.override and type(items[name]) is not type(item):
                problems.append(finding("override-kind", f"'{name}' is a {_kind(items[name])} in version {origin[name]}; it cannot be overridden by {'an' if _kind(item)[0] in 'aeiou' else 'a'} {_kind(item)}", item.span, f.source))
                continue
            items[name] = item
            origin[name] = vid
        if problems:
            raise RuleCheckError(problems)
        return Version(h, f, items, origin, chain)


def _kind(item) -> str:
    return {ast.InputDecl: "input", ast.Definition: "definition", ast.Table: "table", ast.Schedule: "schedule",
            ast.Summary: "summary", ast.Example: "example"}.get(type(item), "item")


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
    return Path(__file__).resolve().parent.parent / "rules" / "tokyo"


def plan_period_of(version: Version) -> Period | None:
    return version.header.plan_period
