"""Format rule files: an ast.RuleFile and its comments -> canonical rule-file text.

The layout is the one of the shipped rules (rules/tokyo): items at the left margin, their
clauses (`columns`, `effective`, `cite`, a formula's `= ...` continuation) indented by two
spaces, block rows (bands, schedule entries, summary lines, example lines) by two, with the
columns of band tables and schedules aligned (Japanese characters count as two columns).
Expressions are printed with the fewest parentheses that give back the same tree, and literals
keep their spelling (`1.50pp`, `462,100,000,000円`, `令和6～8年度`, `「…」`).

Some choices stay the author's, because the AST alone cannot make them well: a blank line
before an item, a comment or a block row is kept (one at most), a formula the author put on a
`= ...` line of its own stays there (and one longer than LONG_LINE columns is put there), an
`if` the author spread over lines keeps one branch per line, a formula that is a chain of
terms (+ -, * /, and, or) the author wrote on several lines keeps those lines (each led by its
operator; breaks inside parentheses or arguments are not kept), and a list of names or columns
keeps the author's line breaks (each line filled to LIST_WIDTH columns at most).

Every comment is kept: one on a line of its own goes before the construct that follows it,
one at the end of a line stays at the end of the line of the construct it annotates (at the
author's column when that line starts where it did, so hand-aligned comments stay aligned;
else two spaces after the code), and comments never change their order. `format_text` checks its own result: the formatted text
must parse to the same AST and keep every comment, else FormatError and nothing is written.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from . import ast
from .errors import KokuhoError, finding
from .output import unwritable, write_output
from .source import parse_file

if TYPE_CHECKING:
    from .parse import SourceToken
from .years import Period, parse_period, parse_year

LONG_LINE = 140  # display columns: a longer `define ... = formula` puts the formula on its own line
LIST_WIDTH = 100  # display columns: a longer line of names or columns is wrapped
INDENT = 2

_ITEM_STARTS = {"OVERRIDE", "INPUT", "DEFINE", "TABLE", "SCHEDULE", "SUMMARY", "EXAMPLE", "REMOVE"}
_COMPARISONS = {"<", "<=", ">", ">=", "=", "!="}


class FormatError(KokuhoError):
    """The formatter would change a file's meaning or lose a comment (a bug): nothing is written."""


# ---- public API ----------------------------------------------------------------------------


@attrs.frozen
class FormatResult:
    """One file: its text as read and as formatted."""

    path: Path
    original: str
    formatted: str

    @property
    def changed(self) -> bool:
        return self.original != self.formatted

    @property
    def shown(self) -> str:
        """The path as messages show it: relative to the working directory when under it."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except (ValueError, OSError):
            return str(self.path)

    def diff(self) -> str:
        """A unified diff from the file as it is to the file as formatted ('' when unchanged)."""
        a = self.original.lstrip("\ufeff").splitlines(keepends=True)
        b = self.formatted.splitlines(keepends=True)
        lines = difflib.unified_diff(a, b, fromfile=self.shown, tofile=f"{self.shown} (formatted)")
        out = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
        if not out and self.changed:  # only the BOM or the line endings differ
            out = f"--- {self.shown}\n+++ {self.shown} (formatted)\n@@ byte order mark or line endings only @@\n"
        return out


def expression_text(e) -> str:
    """One expression as rule-file text, with the fewest parentheses that give back the same tree."""
    return _Formatter(ast.RuleFile("<expr>", None, ())).expr(e, 0)


def format_text(source: str, path: str = "<rules>") -> str:
    """Parse rule-file text and return it in the canonical layout (RuleSyntaxError if it does not parse)."""
    from .parse import parse_text

    return format_rule_file(parse_text(source.lstrip("\ufeff"), path))


def format_rule_file(rule_file: ast.RuleFile) -> str:
    """The canonical text of a parsed file; with its source, comments and author's choices are kept.

    A RuleFile built without source (e.g. by a test) is laid out from the AST alone.
    """
    formatter = _Formatter(rule_file)
    text = formatter.run()
    if rule_file.source:
        _verify(rule_file, text, [c.text for c in formatter.comments])
    return text


def format_paths(paths=None) -> list[FormatResult]:
    """Format every rule file under paths (files or directories; default: the shipped rules).

    Reads and formats everything first, so that a file that does not parse stops the run
    before anything is written.
    """
    from .versions import default_rules_dir, rule_files

    results = []
    for p in rule_files(list(paths) if paths else [default_rules_dir()]):
        rule_file = parse_file(p)
        original = p.read_bytes().decode("utf-8")
        results.append(FormatResult(p, original, format_rule_file(rule_file)))
    return results


def write_formatted(result: FormatResult) -> None:
    """Replace the file with its formatted text, atomically, keeping its permissions."""
    try:
        mode = result.path.stat().st_mode & 0o7777
        write_output(result.formatted, str(result.path))
        os.chmod(result.path, mode)
    except OSError as e:
        raise unwritable(str(result.path), e) from None


def comment_texts(source: str) -> list[str]:
    """The comments of a rule file's text, in order, as the formatter sees them (trailing blanks dropped)."""
    from .parse import source_tokens

    return [c.text for c in _comments(source, source_tokens(source))]


# ---- checking our own output ---------------------------------------------------------------


def _verify(rule_file: ast.RuleFile, text: str, comments: list[str]) -> None:
    from .parse import parse_text

    span = ast.Span(rule_file.path, 0, 0)
    try:
        again = parse_text(text, rule_file.path)
    except KokuhoError as e:
        raise FormatError(
            finding(
                "format-internal",
                f"the formatted text does not parse ({e.findings[0].message}); nothing was written (a bug in kokuho fmt: please report it)",
                span,
            )
        ) from None
    if again != rule_file:
        raise FormatError(
            finding(
                "format-internal",
                "formatting would change the meaning of this file; nothing was written (a bug in kokuho fmt: please report it)",
                span,
            )
        )
    if comment_texts(text) != comments:
        raise FormatError(
            finding(
                "format-internal",
                "formatting would lose or reorder a comment of this file; nothing was written (a bug in kokuho fmt: please report it)",
                span,
            )
        )


# ---- display width and small helpers -------------------------------------------------------


def width(text: str) -> int:
    """Display columns: East Asian wide and full-width characters count as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _ljust(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def _unquote(token_text: str) -> str:
    # The same decoding as parse._ToAst._text.
    if token_text.startswith("「"):
        return token_text[1:-1]
    return token_text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _quote_plain(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _period_text(p: Period) -> str:
    return str(p)


def _line(span: ast.Span) -> int | None:
    return span.line if span.line > 0 else None


def _first_line(e, *, last: bool = False) -> int | None:
    """The first (or last) source line of an expression (None without spans)."""
    lines = []
    for n in ast.walk(e):
        span = getattr(n, "span", None)
        if span is not None and span.line > 0:
            lines.append(max(span.line, span.end_line) if last else span.line)
    return (max(lines) if last else min(lines)) if lines else None


# ---- expressions -----------------------------------------------------------------------------
# Binding strength, weakest first, as in grammar.lark: if 2, or 3, and 4, not 5,
# comparison 6, + - 7, * / 8, leading - 9, name[...] and `with` 10, atoms 11.


def _prec(e) -> int:
    if isinstance(e, ast.If):
        return 2
    if isinstance(e, ast.Binary):
        if e.op == "or":
            return 3
        if e.op == "and":
            return 4
        if e.op in _COMPARISONS:
            return 6
        return 7 if e.op in ("+", "-") else 8
    if isinstance(e, ast.Unary):
        return 5 if e.op == "not" else 9
    if isinstance(e, ast.Number):
        return 9 if e.text.startswith("-") else 11
    if isinstance(e, (ast.AtYear, ast.With)):
        return 10
    return 11


# ---- the source: positions and spellings ------------------------------------------------------


class _Source:
    """The tokens of the header or of one item: where its parts stood and how they were spelled."""

    def __init__(self, tokens: tuple[SourceToken, ...] = ()):
        self.tokens = tokens
        self._strings: dict[str, deque[str]] = {}
        self._spellings: dict[tuple, deque[str]] = {}
        for i, t in enumerate(tokens):
            before = [x.type for x in tokens[max(0, i - 2) : i]]
            if t.type == "STRING":
                self._strings.setdefault(_unquote(t.text), deque()).append(t.text)
            elif t.type == "YEARSPEC" and before[-1:] == ["EFFECTIVE"]:
                self._remember(("effective", parse_period(t.text, allow_open=True)), t.text)
            elif t.type == "YEARSPEC" and before in (["NAME", "YEAR"], ["STRING", "YEAR"]):  # example NAME "label" year Y
                self._remember(("example-year", int(parse_year(t.text))), t.text)
            elif t.type == "YEAR_LIT" and before[-1:] == ["LSQB"]:  # an example's name[year] = value
                self._remember(("year", int(parse_year(t.text))), t.text)

    def _remember(self, key, text: str) -> None:
        self._spellings.setdefault(key, deque()).append(text)

    def spelling(self, key, default: str) -> str:
        q = self._spellings.get(key)
        return q.popleft() if q else default

    def quote(self, value: str) -> str:
        """The text as the author quoted it ("…" or 「…」), else in double quotes."""
        q = self._strings.get(value)
        return q.popleft() if q else _quote_plain(value)

    @property
    def first_line(self) -> int | None:
        return self.tokens[0].line if self.tokens else None

    def first(self, type_: str, start: int = 0) -> int | None:
        """Index of the first token of that type from start, or None."""
        for i in range(start, len(self.tokens)):
            if self.tokens[i].type == type_:
                return i
        return None

    def line_of(self, type_: str) -> int | None:
        i = self.first(type_)
        return self.tokens[i].line if i is not None else None

    def last_line_of(self, type_: str) -> int | None:
        for t in reversed(self.tokens):
            if t.type == type_:
                return t.line
        return None

    def index_at(self, span: ast.Span) -> int | None:
        """Index of the token where span starts."""
        if span.line <= 0:
            return None
        for i, t in enumerate(self.tokens):
            if (t.line, t.column) >= (span.line, span.column):
                return i
        return None

    def within(self, span: ast.Span) -> list[SourceToken]:
        """The tokens inside a span that has an end (bands, summary lines)."""
        if span.line <= 0 or span.end_line <= 0:
            return []
        return [t for t in self.tokens if (span.line, span.column) <= (t.line, t.column) < (span.end_line, span.end_column)]

    def matching_brace(self, start: int) -> int | None:
        """Index of the '}' closing the first '{' at or after token index start."""
        depth = 0
        for i in range(start, len(self.tokens)):
            t = self.tokens[i].type
            if t == "LBRACE":
                depth += 1
            elif t == "RBRACE":
                depth -= 1
                if depth == 0:
                    return i
        return None


# ---- output lines and comments --------------------------------------------------------------


@attrs.define
class _Line:
    indent: int
    text: str
    src: int | None = None  # the source line of the construct this line starts
    blank: bool = False  # a blank line goes before it (the author had one, or the AST-only layout wants one)


@attrs.frozen
class _Comment:
    line: int
    text: str
    own_line: bool  # alone on its line (else it ends a line of code)
    column: int = 0  # display column of the '#' in the source (0-based)
    code_column: int = 0  # display column where the code on its source line starts


def _comments(source: str, tokens) -> list[_Comment]:
    """Comments are what '#' starts in the gaps between tokens (never inside a string)."""
    out = []
    bounds = [0] + [x for t in tokens for x in (t.start, t.end)] + [len(source)]
    for a, b in zip(bounds[::2], bounds[1::2]):
        for m in re.finditer(r"#[^\n]*", source[a:b]):
            start = a + m.start()
            line_start = source.rfind("\n", 0, start) + 1
            before = source[line_start:start]
            code_column = width(before) - width(before.lstrip())
            out.append(_Comment(source.count("\n", 0, start) + 1, m.group(0).rstrip(), before.strip() == "", width(before), code_column))
    return out


# ---- the formatter ----------------------------------------------------------------------------


def _tokens(source: str) -> tuple:
    from .parse import source_tokens  # the lexer: only laying out a whole file needs it, not expression_text

    return source_tokens(source)


class _Formatter:
    def __init__(self, rule_file: ast.RuleFile):
        self.rf = rule_file
        self.source = rule_file.source
        self.tokens = _tokens(self.source) if self.source else ()
        self.src_lines = self.source.split("\n") if self.source else []
        self.comments = _comments(self.source, self.tokens) if self.source else []
        self.lines: list[_Line] = []
        self.S = _Source()

    # -- building lines --

    def add(self, indent: int, text: str, src: int | None = None, *, row: bool = False) -> None:
        """One output line; `row` lines (items, block rows) keep a blank line the author put before them."""
        blank = row and src is not None and self._blank_before(src)
        self.lines.append(_Line(indent, text, src, blank))

    def _blank_before(self, line: int) -> bool:
        return line >= 2 and self.src_lines[line - 2].strip() == ""

    def run(self) -> str:
        items = self.rf.items
        starts = self._item_starts()
        bounds = starts + [len(self.tokens)]
        self.S = _Source(self.tokens[: bounds[0]] if self.tokens else ())
        self.header(self.rf.header)
        previous = None
        for i, item in enumerate(items):
            self.S = _Source(self.tokens[bounds[i] : bounds[i + 1]] if self.tokens else ())
            first = len(self.lines)
            self.item(item)
            if not self.source:  # the AST-only layout: a blank line between groups of items
                same_group = type(item) is type(previous) and isinstance(item, (ast.InputDecl, ast.Definition, ast.Removal))
                self.lines[first].blank = not same_group
            previous = item
        return self.render()

    def _item_starts(self) -> list[int]:
        if not self.tokens:
            return []
        starts, depth = [], 0
        for i, t in enumerate(self.tokens):
            if t.type == "LBRACE":
                depth += 1
            elif t.type == "RBRACE":
                depth -= 1
            elif depth == 0 and t.type in _ITEM_STARTS and not (i and self.tokens[i - 1].type == "OVERRIDE"):
                starts.append(i)
        if len(starts) != len(self.rf.items):  # pragma: no cover - the grammar gained an item keyword
            raise FormatError(
                finding(
                    "format-internal",
                    f"found {len(starts)} items in the tokens of {self.rf.path} but {len(self.rf.items)} in its AST; please report this",
                )
            )
        return starts

    # -- header and items --

    def header(self, h: ast.Header) -> None:
        S = self.S
        self.add(0, f"ruleset {h.version}" + (f" extends {h.extends}" if h.extends else ""), S.first_line, row=True)
        if h.title is not None:
            self.add(INDENT, f"title {S.quote(h.title)}", S.line_of("TITLE"))
        if h.status is not None:
            self.add(INDENT, f"status {h.status}", S.line_of("STATUS"))
        if h.plan_period is not None:
            self.add(INDENT, f"period {h.period_text or _period_text(h.plan_period)}", S.line_of("PERIOD"))
        if h.basis is not None:
            self.add(INDENT, f"basis {S.quote(h.basis)}", S.line_of("BASIS"))
        if h.cite is not None:
            self.add(INDENT, f"cite {S.quote(h.cite)}", S.line_of("CITE"))

    def item(self, item) -> None:
        {
            ast.InputDecl: self.input_decl,
            ast.Definition: self.definition,
            ast.Table: self.table,
            ast.Schedule: self.schedule,
            ast.Summary: self.summary,
            ast.Example: self.example,
            ast.Removal: self.removal,
        }[type(item)](item)

    def _head(self, item, keyword: str, label: str | None) -> str:
        prefix = "override " if getattr(item, "override", False) else ""
        return f"{prefix}{keyword}" + (f" {self.S.quote(label)}" if label is not None else "")

    def meta(self, item) -> None:
        S = self.S
        if item.effective is not None:
            text = S.spelling(("effective", item.effective), _period_text(item.effective))
            self.add(INDENT, f"effective {text}", S.line_of("EFFECTIVE"))
        if item.cite is not None:
            self.add(INDENT, f"cite {S.quote(item.cite)}", S.line_of("CITE"))

    def open_block(self, head: str, item) -> None:
        """`head {` on one line, or with cite/effective clauses between the head and a `{` line."""
        if item.cite is None and item.effective is None:
            self.add(0, head + " {", self.S.first_line, row=True)
        else:
            self.add(0, head, self.S.first_line, row=True)
            self.meta(item)
            self.add(0, "{", self.S.line_of("LBRACE"))

    def close_block(self) -> None:
        self.add(0, "}", self.S.last_line_of("RBRACE"))

    def input_decl(self, d: ast.InputDecl) -> None:
        S = self.S
        self.add(0, self._head(d, f"input {d.scope} {d.name}", d.label) + f" : {d.unit}", S.first_line, row=True)
        if d.columns:
            words = [S.quote(c) for c in d.columns]
            i = S.first("COLUMNS")
            lines = None
            if i is not None:
                strings = [t.line for t in S.tokens[i + 1 : i + 1 + 2 * len(words)] if t.type == "STRING"]
                lines = strings if len(strings) == len(words) else None
            self.name_list(INDENT, "columns", words, lines, S.tokens[i].line if i is not None else None)
        self.meta(d)

    def definition(self, d: ast.Definition) -> None:
        S = self.S
        head = self._head(d, f"define {d.name}", d.label) + f" : {d.unit}"
        value = self.expr(d.expr)
        eq = S.first("EQUAL")
        eq_line = S.tokens[eq].line if eq is not None else None
        author_broke = eq_line is not None and d.span.line > 0 and eq_line > d.span.line
        too_long = width(f"{head} = {value}") > LONG_LINE
        e = d.expr
        multi_if = isinstance(e, ast.If) and (
            (e.span.line > 0 and e.span.end_line > e.span.line) or (not self.source and len(e.branches) > 1) or too_long
        )
        if multi_if:
            self.add(0, head, S.first_line, row=True)
            (c0, v0), *rest = e.branches
            self.add(INDENT, f"= if {self.expr(c0)} then {self.expr(v0)}", eq_line)
            for c, v in rest:
                self.add(INDENT + 2, f"elif {self.expr(c)} then {self.expr(v)}", _first_line(c))
            self.add(INDENT + 2, f"else {self.expr(e.otherwise)}", _first_line(e.otherwise))
        elif self._broken_terms(e) is not None:
            # The author put terms of a sum (product, and/or chain) on lines of their own: keep those breaks.
            self.add(0, head, S.first_line, row=True)
            for k, (text, line) in enumerate(self._broken_terms(e)):
                self.add(
                    INDENT if k == 0 else INDENT + 2, ("= " if k == 0 else "") + text, eq_line if k == 0 and eq_line is not None else line
                )
        elif author_broke or too_long:
            self.add(0, head, S.first_line, row=True)
            self.add(INDENT, f"= {value}", eq_line)
        else:
            self.add(0, f"{head} = {value}", S.first_line, row=True)
        if d.value_labels:
            words = [
                f"{S.quote(x.value) if isinstance(x.value, str) else str(x.value).lower()} = {S.quote(x.label)}" for x in d.value_labels
            ]
            lines = [x.span.line for x in d.value_labels]
            self.name_list(INDENT, "labels", words, lines if all(n > 0 for n in lines) else None, S.line_of("LABELS"))
        self.meta(d)

    def table(self, t: ast.Table) -> None:
        S = self.S
        head = self._head(t, f"table {t.name}", t.label) + f" : {t.unit} over {self.expr(t.key)}"
        self.open_block(head, t)
        cells = []
        for b in t.bands:
            interval = f"{'[' if b.lo_closed else '('}{b.lo.text}, {b.hi.text}{']' if b.hi_closed else ')'}"
            label = S.quote(b.label) if b.label is not None else ""
            result = self.expr(b.result)
            wording = S.quote(b.wording) if b.wording is not None else ""
            one_line = f"band {interval}  {label} => {result}  {wording}"
            broken = (b.span.line > 0 and b.span.end_line > b.span.line) or width(one_line) > LONG_LINE
            cells.append((b, interval, label, result, wording, broken))
        w_interval = max(width(c[1]) for c in cells)
        w_label = max(width(c[2]) for c in cells)
        w_result = max((width(c[3]) for c in cells if not c[5]), default=0)
        for b, interval, label, result, wording, broken in cells:
            text = "band " + _ljust(interval, w_interval)
            if w_label:
                text += "  " + _ljust(label, w_label)
            if not broken:
                text += " => " + _ljust(result, w_result) + "  " + wording
                self.add(INDENT, text.rstrip(), _line(b.span), row=True)
                continue
            self.add(INDENT, text.rstrip(), _line(b.span), row=True)
            inside = S.within(b.span)
            arrow = next((x.line for x in inside if x.text == "=>"), None)
            self.add(INDENT + 2, f"=> {result}", arrow)
            if wording:
                self.add(INDENT + 2, wording, inside[-1].line if inside else None)
        self.close_block()

    def schedule(self, s: ast.Schedule) -> None:
        head = self._head(s, f"schedule {s.name}", s.label) + f" : {s.unit}"
        self.open_block(head, s)
        cells = []
        for e in s.entries:
            key = (e.years_text or _period_text(e.years)) + ":"
            cells.append((e, key, self.expr(e.value), self.S.quote(e.wording) if e.wording is not None else ""))
        w_key = max(width(c[1]) for c in cells)
        w_value = max(width(c[2]) for c in cells)
        for e, key, value, wording in cells:
            self.add(INDENT, f"{_ljust(key, w_key)}  {_ljust(value, w_value)}  {wording}".rstrip(), _line(e.span), row=True)
        self.close_block()

    def summary(self, s: ast.Summary) -> None:
        S = self.S
        self.add(0, self._head(s, "summary", s.label) + " {", S.first_line, row=True)
        for line in s.lines:
            if line.kind == "bands":
                self.add(INDENT, f"bands {' '.join(line.names)}", _line(line.span), row=True)
                continue
            names = [t.line for t in S.within(line.span) if t.type == "NAME"]
            self.name_list(
                INDENT, line.kind, list(line.names), names if len(names) == len(line.names) else None, _line(line.span), row=True
            )
        self.close_block()

    def example(self, x: ast.Example) -> None:
        S = self.S
        year = S.spelling(("example-year", x.year), f"FY{x.year}")
        self.open_block(self._head(x, f"example {x.name}", x.label) + f" year {year}", x)
        for m in x.municipalities:
            opening = f"municipality {S.quote(m.code)} {S.quote(m.name)}"
            self.block_of_assignments(opening, m.values, _line(m.span), S.index_at(m.span))
        # The parser refuses a second prefecture block (duplicate-field), so there is at most one.
        blocks = [i for i, t in enumerate(S.tokens[:-1]) if t.type == "PREFECTURE" and S.tokens[i + 1].type == "LBRACE"]
        if x.prefecture or not (x.municipalities or x.expectations):
            at = blocks[-1] if blocks else None
            self.block_of_assignments("prefecture", x.prefecture, S.tokens[at].line if at is not None else None, at)
        for e in x.expectations:
            who = S.quote(e.code) if e.code is not None else "prefecture"
            self.add(INDENT, f"expect {who} {e.name} = {self.value(e.value)}", _line(e.span), row=True)
        self.close_block()

    def block_of_assignments(self, opening: str, values, src: int | None, start: int | None) -> None:
        """`opening { a = 1  b = 2 }` on one line as the author had it, else the author's lines of assignments."""
        S = self.S
        if not values:
            self.add(INDENT, opening + " {}", src, row=True)
            return
        texts = [self.assignment(a) for a in values]
        one_line = f"{opening} {{ {'  '.join(texts)} }}"
        end = S.matching_brace(start) if start is not None else None
        if end is not None:
            brace = S.first("LBRACE", start)
            fits = S.tokens[brace].line == S.tokens[end].line and INDENT + width(one_line) <= LONG_LINE
        else:
            fits = not self.source and INDENT + width(one_line) <= LIST_WIDTH
        if fits:
            self.add(INDENT, one_line, src, row=True)
            return
        self.add(INDENT, opening + " {", src, row=True)
        groups: list[tuple[int | None, list[str]]] = []
        for a, text in zip(values, texts):
            line = _line(a.span)
            if groups and line is not None and groups[-1][0] == line:
                groups[-1][1].append(text)
            else:
                groups.append((line, [text]))
        for line, group in groups:
            if INDENT * 2 + width("  ".join(group)) > LONG_LINE:
                for text in group:
                    self.add(INDENT * 2, text, line, row=True)
            else:
                self.add(INDENT * 2, "  ".join(group), line, row=True)
        self.add(INDENT, "}", S.tokens[end].line if end is not None else None)

    def assignment(self, a: ast.Assignment) -> str:
        year = f"[{self.S.spelling(('year', a.year), f'FY{a.year}')}]" if a.year is not None else ""
        return f"{a.name}{year} = {self.value(a.value)}"

    def value(self, v) -> str:
        """An input or expected value in an example."""
        return "undefined" if v is None else self.expr(v)

    def removal(self, r: ast.Removal) -> None:
        self.add(0, f"remove {r.name}", self.S.first_line, row=True)

    def name_list(
        self, indent: int, keyword: str, words: list[str], word_lines: list[int] | None, src: int | None, *, row: bool = False
    ) -> None:
        """`keyword a, b, c`, continued on lines indented two more: the author's lines, each filled to LIST_WIDTH."""
        if word_lines is None:
            groups = [(src, words)]
        else:
            groups = []
            for w, line in zip(words, word_lines):
                if groups and groups[-1][0] == line:
                    groups[-1][1].append(w)
                else:
                    groups.append((line, [w]))
        rows: list[tuple[int | None, list[str]]] = []
        for line, group in groups:
            current: list[str] = []
            for w in group:
                prefix = indent + len(keyword) + 1 if not rows and not current else indent + INDENT
                if current and prefix + width(", ".join(current + [w]) + ",") > LIST_WIDTH:
                    rows.append((line, current))
                    current = []
                current.append(w)
            rows.append((line, current))
        for i, (line, ws) in enumerate(rows):
            text = ", ".join(ws) + ("," if i < len(rows) - 1 else "")
            if i == 0:
                self.add(indent, f"{keyword} {text}", src if src is not None else line, row=row)
            else:
                self.add(indent + INDENT, text, line)

    # -- expressions --

    def _broken_terms(self, e) -> list[tuple[str, int | None]] | None:
        """A formula that is a chain of + -, * /, `and` or `or` whose terms the author wrote on several
        lines, as its lines: (text, source line), each line after the first starting with its operator.
        None when the formula is not such a chain or stands on one line."""
        if not (self.source and isinstance(e, ast.Binary)):
            return None
        ops = next((g for g in (("+", "-"), ("*", "/"), ("and",), ("or",)) if e.op in g), None)
        if ops is None:
            return None
        terms = []
        x = e
        while isinstance(x, ast.Binary) and x.op in ops:
            terms.append((x.op, x.right))
            x = x.left
        terms.append((None, x))
        terms.reverse()
        starts = [_first_line(t) for _, t in terms]
        ends = [_first_line(t, last=True) for _, t in terms]
        if None in starts or None in ends:
            return None
        # A term starts a line of its own when it starts below the line where the term before it ends.
        breaks = [k > 0 and starts[k] > ends[k - 1] for k in range(len(terms))]
        if not any(breaks):
            return None
        p = _prec(e)
        lines: list[tuple[str, int | None]] = []
        for k, (op, t) in enumerate(terms):
            text = self.expr(t, p if op is None else p + 1)
            if k > 0 and not breaks[k]:
                lines[-1] = (f"{lines[-1][0]} {op} {text}", lines[-1][1])
            else:
                lines.append((text if op is None else f"{op} {text}", starts[k]))
        return lines

    def expr(self, e, at_least: int = 1) -> str:
        """e printed where the grammar needs a binding strength of at least `at_least`."""
        text = self._expr(e)
        # `a - b with alpha = 1` parses as a - (b with alpha = 1); print the parentheses anyway,
        # so that readers do not have to know how tightly `with` binds.
        readable = isinstance(e, ast.With) and 1 < at_least < 10
        return f"({text})" if _prec(e) < at_least or readable else text

    def _expr(self, e) -> str:
        if isinstance(e, ast.Number):
            return e.text
        if isinstance(e, ast.Text):
            return self.S.quote(e.value)
        if isinstance(e, ast.Bool):
            return "true" if e.value else "false"
        if isinstance(e, ast.YearLiteral):
            return e.text or f"FY{e.value}"
        if isinstance(e, ast.ThisYear):
            return "year"
        if isinstance(e, ast.Ref):
            return e.name
        if isinstance(e, ast.AtYear):
            return f"{self.expr(e.target, 10)}[{self.expr(e.year)}]"
        if isinstance(e, ast.Call):
            return f"{e.function}({', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, ast.Unary):
            return f"not {self.expr(e.operand, 5)}" if e.op == "not" else f"-{self.expr(e.operand, 9)}"
        if isinstance(e, ast.Binary):
            if e.op in _COMPARISONS:  # one comparison at a time: both sides are sums
                return f"{self.expr(e.left, 7)} {e.op} {self.expr(e.right, 7)}"
            p = _prec(e)  # left-associative: the right side binds tighter
            return f"{self.expr(e.left, p)} {e.op} {self.expr(e.right, p + 1)}"
        if isinstance(e, ast.If):
            (c0, v0), *rest = e.branches
            text = f"if {self.expr(c0)} then {self.expr(v0)}"
            for c, v in rest:
                text += f" elif {self.expr(c)} then {self.expr(v)}"
            return text + f" else {self.expr(e.otherwise)}"
        if isinstance(e, ast.With):
            # Postfix, like name[...]: the body is a postfix expression, the value an atom.
            return f"{self.expr(e.body, 10)} with {e.name} = {self.expr(e.value, 11)}"
        raise TypeError(f"not an expression: {e!r}")  # pragma: no cover

    # -- comments, blank lines, text --

    def render(self) -> str:
        lines = self.lines
        before: list[list[_Comment]] = [[] for _ in lines]
        trailing: list[_Comment | None] = [None] * len(lines)
        after: list[list[_Comment]] = [[] for _ in lines]
        last = len(lines) - 1
        prev = (0, 0)
        for c in self.comments:
            if c.own_line:
                i = self._next_line(c.line)
                pos = (i, 0) if i is not None else (last, 2)
            else:
                pos = (self._this_line(c.line), 1)
            pos = max(pos, prev)
            if pos[1] == 1 and trailing[pos[0]] is not None:
                pos = (pos[0], 2)
            if pos[1] != 1 and not c.own_line:
                # an end-of-line comment that cannot end its line (another one took it, or the order of
                # comments forbids it) goes on a line of its own, with no blank line before it
                c = attrs.evolve(c, line=0)
            if pos[1] == 1:
                trailing[pos[0]] = c
            elif pos[1] == 0:
                before[pos[0]].append(c)
            else:
                after[pos[0]].append(c)
            prev = pos

        out: list[str] = []
        opened = [False]  # the last line emitted opens a block: no blank line after it

        def emit(text: str, blank: bool, opens: bool = False) -> None:
            if blank and out and out[-1] != "" and not opened[0]:
                out.append("")
            out.append(text)
            opened[0] = opens

        def indent_before(i: int) -> int:
            """A comment on a line of its own is indented like the line after it; before a lone brace, like a row."""
            if i >= len(lines):
                return 0
            return lines[i].indent + (INDENT if lines[i].text in ("}", "{") else 0)

        for i, line in enumerate(lines):
            for c in before[i]:
                emit(" " * indent_before(i) + c.text, c.line > 0 and self._blank_before(c.line))
            text = " " * line.indent + line.text
            c = trailing[i]
            if c is not None:
                # At the author's column (comments aligned by hand stay aligned) when the line still
                # starts where it did and leaves room; else two spaces after the code.
                kept = line.src == c.line and line.indent == c.code_column
                text += " " * (max(2, c.column - width(text)) if kept else 2) + c.text
            emit(text, line.blank, line.text.endswith("{") and not after[i])
            for c in after[i]:
                emit(" " * indent_before(i + 1) + c.text, c.line > 0 and self._blank_before(c.line))
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n"

    def _next_line(self, line: int) -> int | None:
        """The output line of the first construct after a comment on its own source line."""
        best = None
        for i, ln in enumerate(self.lines):
            if ln.src is not None and ln.src > line and (best is None or ln.src < self.lines[best].src):
                best = i
        return best

    def _this_line(self, line: int) -> int:
        """The output line of the construct that a comment at the end of a source line annotates."""
        best = 0
        for i, ln in enumerate(self.lines):
            if ln.src is not None and ln.src <= line and (self.lines[best].src is None or ln.src >= self.lines[best].src):
                best = i
        return best
