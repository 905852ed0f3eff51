"""Errors and findings: one root (KokuhoError), one branch per stage, each shown as file:line:col.

Every message a user sees is built here or passes through here, so that a finding always
carries its code, its position, the source line and a caret under the spot.
"""

from __future__ import annotations

import functools

import attrs

from .ast import NO_SPAN, Span


@attrs.frozen
class Finding:
    """One problem in a rule file or a data file, with a stable code (docs/errors.md)."""

    code: str
    message: str
    span: Span = NO_SPAN
    source_line: str | None = None
    severity: str = "error"

    def render(self) -> str:
        where = f"{self.span}: " if self.span.line else (f"{self.span.file}: " if self.span.file != "<none>" else "")
        text = f"{where}{'warning: ' if self.severity == 'warning' else ''}{self.code}: {self.message}"
        if self.source_line is not None and self.span.column > 0:
            line = self.source_line.rstrip("\n").translate(_BREAKS_SHOWN_AS_SPACES)
            # Carets line up under wide (Japanese) characters too: pad with the same characters' widths.
            pad = "".join("\u3000" if _is_wide(ch) else ("\t" if ch == "\t" else " ") for ch in line[: self.span.column - 1])
            text += f"\n    {line}\n    {pad}^"
        return text

    def __str__(self) -> str:
        return self.render()


# Characters a terminal may take for a line break, inside a line the parser counts as one: shown as spaces (one for
# one, so that the caret stays under its column).
_BREAKS_SHOWN_AS_SPACES = {ord(c): " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _is_wide(ch: str) -> bool:
    import unicodedata

    return unicodedata.east_asian_width(ch) in ("W", "F")


def finding(code: str, message: str, span: Span = NO_SPAN, source: str | None = None) -> Finding:
    """Build a finding, taking the source line from the file's text when it is given."""
    line = None
    if source is not None and span.line > 0:
        lines = source_lines(source)
        if span.line <= len(lines):
            line = lines[span.line - 1]
    return Finding(code, message, span, line)


@functools.lru_cache(maxsize=8)
def source_lines(source: str) -> tuple[str, ...]:
    """A file's lines as the parser counts them: only a line feed ends a line (a carriage return before it is dropped).

    str.splitlines() also breaks at form feeds, vertical tabs, U+2028 and others, which the parser (lark)
    does not count, so a caret after one of them pointed at the wrong line. Cached: a file with thousands of
    findings is split once, not once per finding.
    """
    return tuple(line[:-1] if line.endswith("\r") else line for line in source.split("\n"))


def closest(name: str, candidates, cutoff: float = 0.6) -> str | None:
    """The candidate most like `name` (difflib's ratio at least `cutoff`), or None: the one "did you mean" of the tool.

    The cutoffs in use: 0.7 for names in rule files (checks, keywords, data columns), 0.6 for what is typed
    on a command line or in kokuho.toml (columns, municipalities, keys), 0.5 for units in the editor.
    """
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, candidates, cutoff: float = 0.6, *, template: str = "; did you mean '{}'?", otherwise: str = "") -> str:
    """`template` around the closest candidate ("; did you mean 'target_rate'?"), else `otherwise` ("")."""
    close = closest(name, candidates, cutoff)
    return template.format(close) if close is not None else otherwise


class Hints:
    """ "Did you mean ...?" suggestions, within a budget of comparisons.

    Each suggestion compares a name with every candidate; a file with thousands of unknown names among thousands
    of items would make that quadratic (minutes). Past the budget, messages simply have no suggestion.
    """

    def __init__(self, budget: int = 200_000):
        self.budget = budget

    def closest(self, name: str, candidates, cutoff: float = 0.7) -> str | None:
        if len(candidates) > self.budget:
            self.budget = 0
            return None
        self.budget -= len(candidates)
        return closest(name, candidates, cutoff)


class KokuhoError(Exception):
    """The root of every error the tool reports; the CLI maps it to exit code 2."""

    exit_code = 2

    def __init__(self, findings: list[Finding] | Finding | str):
        if isinstance(findings, str):
            findings = [Finding("error", findings)]
        elif isinstance(findings, Finding):
            findings = [findings]
        self.findings = list(findings)
        super().__init__("\n".join(f.render() for f in self.findings))


class RuleSyntaxError(KokuhoError):
    """A rule file that does not parse."""


class RuleCheckError(KokuhoError):
    """A rule file that parses but fails a static check (unknown name, unit error, ...)."""


class DataError(KokuhoError):
    """A data file that cannot be read or has invalid rows or columns."""


class UsageError(KokuhoError):
    """A command line that cannot be carried out (unknown version, bad year, bad path)."""


class UnitError(RuleCheckError):
    """A formula whose units (or names, arity, scope) do not fit, found while inferring its unit (engine/check.py).

    The checker catches it and reports it as a finding with `code` at `span`; `message` is the text without the
    position. Raised as a RuleCheckError it carries that one finding.
    """

    def __init__(self, message: str, span: Span, code: str = "unit"):
        super().__init__(Finding(code, message, span))
        self.message = message
        self.span = span
        self.code = code
