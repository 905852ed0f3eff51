"""Rule files -> a checked rule set: the one way rules are loaded, for `kokuho check`, every command and `kokuho test`.

load() reads the files (a directory gives every *.rules file in it), parses them, resolves every
version (extends, overrides, removals) and runs the static checks (engine/check.py):

- `keep_going=False` (every command, `kokuho test`): the first file that does not parse is an error,
  and so is any version that does not resolve or check; warnings are returned as findings.
- `keep_going=True` (`kokuho check`): a file that does not parse, a version that does not resolve and
  every check are findings, so that one run reports all of them. A path that cannot be read at all
  (missing, a directory's non-file, unreadable) is still an error.
- `bases_beside=True` (`kokuho test R6.rules`): a version whose base is not among the given files has
  its base read from beside them; only the files defining a missing base are added.

A file named twice (or reached twice, as a file and through its directory) is read once.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from .check import check_rules
from .errors import Finding, KokuhoError, RuleCheckError
from .source import parse_file
from .versions import RuleSet, default_rules_dir, rule_files

# Codes of a path that cannot be read at all: a usage error even when the rest is reported as findings.
UNREADABLE = ("no-such-file", "not-a-file", "unreadable")


@attrs.frozen
class Loaded:
    """What load() found: the rule set (None when the files do not make one), the findings, and what was read."""

    ruleset: RuleSet | None
    findings: list[Finding]  # keep_going: every finding; else the warnings only (errors are raised)
    file_count: int  # distinct rule files read
    versions: list[str]  # the versions of the files asked for (not of bases read from beside them)


def load(paths=None, *, keep_going: bool = False, bases_beside: bool = False) -> Loaded:
    """Rule files or directories (default: the shipped rules) -> the checked rule set; see the module's docstring."""
    paths = [Path(p) for p in (paths or [default_rules_dir()])]
    wanted = _distinct(rule_files(paths))  # raises for a missing path or an empty directory
    findings: list[Finding] = []
    files: dict[Path, object] = {}
    for f in wanted:
        try:
            files[f.resolve()] = parse_file(f)
        except KokuhoError as e:
            if not keep_going or (e.findings and e.findings[0].code in UNREADABLE):
                raise
            findings.extend(e.findings)
    if bases_beside:
        _add_bases(paths, files)
    if not files:
        return Loaded(None, findings, len(wanted), [])
    try:
        ruleset = RuleSet(list(files.values()))
    except KokuhoError as e:
        if not keep_going:
            raise
        return Loaded(None, findings + list(e.findings), len(wanted), [])
    want = {f.resolve() for f in wanted}
    versions = [vid for vid in ruleset.version_ids if Path(ruleset.files[vid].path).resolve() in want]
    problems = check_ruleset(ruleset)
    if keep_going:
        return Loaded(ruleset, findings + problems, len(wanted), versions)
    errors = [f for f in problems if f.severity == "error"]
    if errors:
        raise RuleCheckError(errors)
    return Loaded(ruleset, [f for f in problems if f.severity != "error"], len(wanted), versions)


def check_ruleset(ruleset: RuleSet) -> list[Finding]:
    """Every version resolved (each problem once); when all resolve, every finding of the static checks."""
    findings: list[Finding] = []
    for vid in ruleset.version_ids:
        try:
            ruleset.version(vid)
        except KokuhoError as e:
            findings.extend(x for x in e.findings if x not in findings)
    if findings:
        return findings
    return check_rules(ruleset)


def _distinct(files: list[Path]) -> list[Path]:
    """Each file once, in the order first given (the same file by two spellings is one file)."""
    seen: set[Path] = set()
    out = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _add_bases(paths: list[Path], files: dict) -> None:
    """Add to `files` the files beside the given files that define a base version none of them defines."""
    siblings = [f for p in paths if p.is_file() for f in rule_files([p.parent])]
    while True:
        have = {rf.header.version for rf in files.values()}
        missing = {rf.header.extends for rf in files.values() if rf.header.extends and rf.header.extends not in have}
        added = False
        for f in siblings:
            if missing and f.resolve() not in files:
                rf = parse_file(f)
                if rf.header.version in missing:
                    files[f.resolve()] = rf
                    missing.discard(rf.header.version)
                    added = True
        if not added:
            break
