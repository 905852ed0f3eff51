"""Parse rule-file text (engine/grammar.lark, LALR) into ast.RuleFile; lark trees never leave here."""

from __future__ import annotations

import functools
from pathlib import Path

import attrs
import lark
from lark import Token, Transformer, v_args

from . import ast
from .ast import number_from_text
from .errors import RuleSyntaxError, did_you_mean, finding
from .limits import MAX_DIGITS, MAX_SOURCE_CHARS
from .years import YearFormatError, parse_period, parse_year

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
MAX_NESTING = 200  # brackets deep: beyond this the parse stack or our recursion would blow
MAX_DEPTH = 100  # operators deep (not / - / + chains, else-if chains): the shipped rules reach 9


@functools.cache
def _parser() -> lark.Lark:
    from .cache import lark_parser  # built once, then loaded from the user cache by content hash

    return lark_parser(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )


# Friendly names for the terminals lark reports as expected.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "STRING": 'a "quoted text"',
    "NUMBER": "a number",
    "PERCENT": "a percent like 85%",
    "PP": "percentage points like 1.50pp",
    "YEN": "an amount like 1,000円",
    "YEARSPEC": "a fiscal year or period like FY2024 or R6-R8",
    "YEAR_LIT": "a fiscal year like FY2024",
    "VERSION": "a version id like R6",
    "COMP_OP": "a comparison",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "LBRACE": "{",
    "RBRACE": "}",
    "LPAR": "(",
    "RPAR": ")",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "COLON": ":",
    "EQUAL": "=",
    "MINUS": "-",
    "PLUS": "+",
    "STAR": "*",
    "SLASH": "/",
    "MORETHAN": ">",
    "LESSTHAN": "<",
}


def _describe_expected(expected: set[str]) -> str:
    names = []
    for term in sorted(expected):
        if term in _TERMINAL_NAMES:
            names.append(_TERMINAL_NAMES[term])
        elif term.startswith("__ANON"):
            names.append("=>")
        elif term.isupper() and term.isalpha() and not term.startswith("_"):
            names.append(f"'{term.lower()}'")
        else:
            names.append(term)
    names = sorted(set(names))
    if len(names) > 8:
        names = names[:8] + ["..."]
    return ", ".join(names)


def _keyword_hint(word: str, accepted: set[str]) -> str:
    keywords = [t.lower() for t in accepted if t.isalpha() and t.isupper() and t not in _TERMINAL_NAMES]
    return did_you_mean(word.lower(), keywords, 0.7, template=" (did you mean '{}'?)")


def _acceptable(e) -> set[str]:
    """The tokens the parser would really accept here (LALR's lookahead sets are wider)."""
    try:
        accepted = e.interactive_parser.accepts()
        return {t for t in accepted if t != "$END"} or set(e.expected)
    except Exception:  # pragma: no cover - accepts() is best effort
        return set(e.expected)


def parse_text(source: str, path: str = "<rules>") -> ast.RuleFile:
    """Parse one rule file's text; raise RuleSyntaxError with position and expectation."""
    if len(source) > MAX_SOURCE_CHARS:
        raise RuleSyntaxError(
            finding("file-too-large", f"rule file has {len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,}", ast.Span(path, 1, 1))
        )
    if "\r" in source:  # Windows (CR LF) and old Mac (CR alone) line ends: lines end with a line feed only
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    _check_nesting(source, path)
    try:
        tree = _parser().parse(source, on_error=None)
    except lark.exceptions.UnexpectedCharacters as e:
        span = ast.Span(path, e.line, e.column)
        ch = source[e.pos_in_stream] if e.pos_in_stream < len(source) else ""
        raise RuleSyntaxError(
            finding("syntax", f"unexpected character {ch!r}; expected {_describe_expected(set(e.allowed or ()))}", span, source)
        ) from None
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            lines = _lines(source)
            span = ast.Span(path, len(lines), len(lines[-1]) + 1)
            what = "end of file"
        else:
            span = ast.Span(path, tok.line, tok.column)
            what = repr(str(tok))
        accepted = _acceptable(e)
        hint = _keyword_hint(str(tok), accepted) if tok.type != "$END" else ""
        raise RuleSyntaxError(
            finding("syntax", f"unexpected {what}{hint}; expected {_describe_expected(accepted)}", span, source)
        ) from None
    except lark.exceptions.UnexpectedEOF as e:
        lines = _lines(source)
        span = ast.Span(path, len(lines), len(lines[-1]) + 1)
        raise RuleSyntaxError(
            finding("syntax", f"unexpected end of file; expected {_describe_expected(set(e.expected))}", span, source)
        ) from None
    _check_depth(tree, path, source)
    try:
        rule_file = _ToAst(path, source).transform(tree)
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, RuleSyntaxError):
            raise e.orig_exc from None
        raise
    return attrs.evolve(rule_file, source=source)


def _lines(source: str) -> list[str]:
    """The lines as lark counts them (a line feed ends a line; a form feed, U+2028 ... do not), without a last empty one."""
    lines = source.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def _check_nesting(source: str, path: str) -> None:
    depth = 0
    for lineno, line in enumerate(_lines(source), 1):
        for col, ch in enumerate(line.split("#", 1)[0], 1):
            if ch in "([":
                depth += 1
                if depth > MAX_NESTING:
                    raise RuleSyntaxError(
                        finding("too-deep", f"brackets nested more than {MAX_NESTING} deep", ast.Span(path, lineno, col), source)
                    )
            elif ch in ")]":
                depth = max(0, depth - 1)


def _check_depth(tree: lark.Tree, path: str, source: str) -> None:
    """Refuse trees deeper than MAX_DEPTH (iteratively: every later stage walks them recursively)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            span = ast.Span(path, meta.line, meta.column) if not getattr(meta, "empty", True) else ast.Span(path, 1, 1)
            raise RuleSyntaxError(
                finding(
                    "too-deep",
                    f"an expression is nested more than {MAX_DEPTH} levels deep; split it into smaller definitions",
                    span,
                    source,
                )
            )
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, lark.Tree))


@attrs.frozen
class SourceToken:
    """One token of a rule file as the parser lexed it (for the formatter): no lark type escapes."""

    type: str  # the grammar's terminal name: NAME, STRING, CITE, LBRACE, ...
    text: str
    line: int
    column: int
    start: int  # offsets into the source text
    end: int


def source_tokens(source: str) -> tuple[SourceToken, ...]:
    """The tokens of a rule file's text, in order, lexed in context; comments are not tokens.

    Call it on text that parse_text accepts (the lexer is driven by the parser's state).
    """
    interactive = _parser().parse_interactive(source)
    return tuple(SourceToken(t.type, str(t), t.line, t.column, t.start_pos, t.end_pos) for t in interactive.iter_parse())


# ---- lark tree -> ast ----------------------------------------------------------------------


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, path: str, source: str):
        super().__init__()
        self.path = path
        self.source = source

    def _span(self, meta) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(self.path, 0, 0)
        return ast.Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> ast.Span:
        return ast.Span(self.path, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column)

    def _fail(self, code: str, message: str, span: ast.Span):
        raise RuleSyntaxError(finding(code, message, span, self.source))

    def _period(self, tok: Token, *, allow_open: bool) -> ast.Period:
        try:
            return parse_period(str(tok), allow_open=allow_open)
        except YearFormatError as e:
            self._fail("bad-year", str(e), self._tspan(tok))

    @staticmethod
    def _text(tok) -> str:
        s = str(tok)
        if s.startswith("「"):
            return s[1:-1]
        return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")

    # header
    def start(self, meta, children):
        header, *items = children
        return ast.RuleFile(self.path, header, tuple(items))

    def header(self, meta, children):
        version = children[0]
        fields = {"extends": None, "title": None, "status": None, "plan_period": None, "basis": None, "cite": None}
        spans = {}
        period_text = None
        for kind, value, span in children[1:]:
            if fields.get(kind) is not None:
                self._fail("duplicate-field", f"'{kind}' is given twice in the ruleset header", span)
            fields[kind] = value
            spans[kind] = span
            if kind == "plan_period":
                period_text = value[1]
                fields[kind] = value[0]
        return ast.Header(
            str(version),
            fields["extends"],
            fields["title"],
            fields["status"],
            fields["plan_period"],
            fields["basis"],
            fields["cite"],
            span=self._tspan(version),
            status_span=spans.get("status", ast.NO_SPAN),
            extends_span=spans.get("extends", ast.NO_SPAN),
            period_text=period_text,
        )

    def extends(self, meta, children):
        return ("extends", str(children[0]), self._tspan(children[0]))

    def title(self, meta, children):
        return ("title", self._text(children[0]), self._span(meta))

    def status(self, meta, children):
        return ("status", str(children[0]), self._tspan(children[0]))

    def plan_period(self, meta, children):
        return ("plan_period", (self._period(children[0], allow_open=False), str(children[0])), self._span(meta))

    def basis(self, meta, children):
        return ("basis", self._text(children[0]), self._span(meta))

    def cite(self, meta, children):
        return ("cite", self._text(children[0]), self._span(meta))

    def effective(self, meta, children):
        return ("effective", self._period(children[0], allow_open=True), self._span(meta))

    def override(self, meta, children):
        return ("override", True, self._span(meta))

    def label(self, meta, children):
        return ("label", self._text(children[0]), self._span(meta))

    def wording(self, meta, children):
        return ("wording", self._text(children[0]), self._span(meta))

    def unit(self, meta, children):
        return ("unit", str(children[0]), self._tspan(children[0]))

    def columns(self, meta, children):
        return ("columns", tuple(self._text(c) for c in children), self._span(meta))

    def _parts(self, children, allowed: set[str]) -> dict:
        parts: dict = {}
        for c in children:
            if (
                isinstance(c, tuple)
                and len(c) == 3
                and isinstance(c[0], str)
                and c[0] in allowed | {"cite", "effective", "override", "label", "unit", "columns", "wording"}
            ):
                kind, value, span = c
                if kind in parts and kind in ("cite", "effective", "labels"):
                    self._fail("duplicate-field", f"'{kind}' is given twice for one item", span)
                parts[kind] = value
                parts[kind + "_span"] = span
            else:
                parts.setdefault("rest", []).append(c)
        return parts

    def input_decl(self, meta, children):
        names = [c for c in children if isinstance(c, Token) and c.type == "NAME"]
        scope_tok, name_tok = names
        p = self._parts(children, set())
        if str(scope_tok) not in ast.SCOPES:
            self._fail("bad-scope", f"an input is 'municipal' or 'prefecture', not '{scope_tok}'", self._tspan(scope_tok))
        return ast.InputDecl(
            str(name_tok),
            str(scope_tok),
            p.get("label"),
            p["unit"],
            p.get("columns", ()),
            p.get("cite"),
            p.get("effective"),
            override=p.get("override", False),
            span=self._tspan(name_tok),
            unit_span=p["unit_span"],
        )

    def definition(self, meta, children):
        name_tok = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        p = self._parts(children, {"labels"})
        expr = next(c for c in p["rest"] if not isinstance(c, Token))
        return ast.Definition(
            str(name_tok),
            p.get("label"),
            p["unit"],
            expr,
            p.get("cite"),
            p.get("effective"),
            override=p.get("override", False),
            span=self._tspan(name_tok),
            unit_span=p["unit_span"],
            value_labels=p.get("labels", ()),
        )

    def value_labels(self, meta, children):
        return ("labels", tuple(children), self._span(meta))

    def value_label(self, meta, children):
        key, text = children
        return ast.ValueLabel(key.value, self._text(text), span=self._span(meta))

    def table(self, meta, children):
        name_tok = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        p = self._parts(children, set())
        rest = [c for c in p["rest"] if not isinstance(c, Token)]
        key = rest[0]
        bands = tuple(c for c in rest[1:] if isinstance(c, ast.Band))
        return ast.Table(
            str(name_tok),
            p.get("label"),
            p["unit"],
            key,
            bands,
            p.get("cite"),
            p.get("effective"),
            override=p.get("override", False),
            span=self._tspan(name_tok),
            unit_span=p["unit_span"],
        )

    def closed_end(self, meta, children):
        return True

    def open_end(self, meta, children):
        return False

    def band(self, meta, children):
        lo_closed, lo, hi, hi_closed, *rest = children
        p = self._parts(rest, set())
        result = next(c for c in p["rest"])
        return ast.Band(lo, lo_closed, hi, hi_closed, p.get("label"), result, p.get("wording"), span=self._span(meta))

    def schedule(self, meta, children):
        name_tok = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        p = self._parts(children, set())
        entries = tuple(c for c in p.get("rest", []) if isinstance(c, ast.Entry))
        return ast.Schedule(
            str(name_tok),
            p.get("label"),
            p["unit"],
            entries,
            p.get("cite"),
            p.get("effective"),
            override=p.get("override", False),
            span=self._tspan(name_tok),
            unit_span=p["unit_span"],
        )

    def entry(self, meta, children):
        years_tok, value, *rest = children
        p = self._parts(rest, set())
        return ast.Entry(self._period(years_tok, allow_open=True), value, p.get("wording"), str(years_tok), span=self._tspan(years_tok))

    # summary
    def name_list(self, meta, children):
        return tuple(str(c) for c in children)

    def summary_bands(self, meta, children):
        return ast.SummaryLine("bands", (str(children[0]), str(children[1])), span=self._span(meta))

    def summary_total(self, meta, children):
        return ast.SummaryLine("total", children[0], span=self._span(meta))

    def summary_tally(self, meta, children):
        return ast.SummaryLine("tally", children[0], span=self._span(meta))

    def summary_show(self, meta, children):
        return ast.SummaryLine("show", children[0], span=self._span(meta))

    def summary_columns(self, meta, children):
        return ast.SummaryLine("columns", children[0], span=self._span(meta))

    def summary_screen(self, meta, children):
        return ast.SummaryLine("screen", children[0], span=self._span(meta))

    def summary(self, meta, children):
        p = self._parts(children, set())
        lines = tuple(c for c in p.get("rest", []) if isinstance(c, ast.SummaryLine))
        return ast.Summary("summary", p.get("label"), lines, override=p.get("override", False), span=self._span(meta))

    # examples
    def _value(self, v):
        if isinstance(v, Token) and v.type == "STRING":
            return ast.Text(self._text(v), span=self._tspan(v))
        return v

    def undefined_value(self, meta, children):
        return None

    def assignment(self, meta, children):
        name = children[0]
        year = None
        if len(children) == 3:
            year = self._year(children[1])
        return ast.Assignment(str(name), year, self._value(children[-1]), span=self._tspan(name))

    def _year(self, tok: Token) -> int:
        try:
            return int(parse_year(str(tok)))
        except YearFormatError as e:
            self._fail("bad-year", str(e), self._tspan(tok))

    def example_municipality(self, meta, children):
        code, name, *values = children
        return ast.ExampleMunicipality(self._text(code), self._text(name), tuple(values), span=self._tspan(code))

    def example_prefecture(self, meta, children):
        return ("prefecture", tuple(children), self._span(meta))

    def example_expect(self, meta, children):
        code, name, value = children
        return ast.Expectation(self._text(code), str(name), self._value(value), span=self._span(meta))

    def example_expect_prefecture(self, meta, children):
        name, value = children
        return ast.Expectation(None, str(name), self._value(value), span=self._span(meta))

    def example(self, meta, children):
        name_tok = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        year_tok = next(c for c in children if isinstance(c, Token) and c.type == "YEARSPEC")
        blocks = [c for c in children if isinstance(c, tuple) and len(c) == 3 and c[0] == "prefecture"]
        if len(blocks) > 1:
            self._fail(
                "duplicate-field", "'prefecture' is given twice for one example; put all prefecture values in one block", blocks[1][2]
            )
        p = self._parts(children, {"prefecture"})
        rest = p.get("rest", [])
        return ast.Example(
            str(name_tok),
            p.get("label"),
            self._year(year_tok),
            tuple(c for c in rest if isinstance(c, ast.ExampleMunicipality)),
            p.get("prefecture", ()),
            tuple(c for c in rest if isinstance(c, ast.Expectation)),
            p.get("cite"),
            p.get("effective"),
            override=p.get("override", False),
            span=self._tspan(name_tok),
        )

    def removal(self, meta, children):
        return ast.Removal(str(children[0]), span=self._tspan(children[0]))

    # expressions
    def literal(self, meta, children):
        (c,) = children
        digits = sum(ch.isdigit() for ch in str(c))
        if digits > MAX_DIGITS:
            self._fail("number-too-long", f"a number with {digits} digits; the limit is {MAX_DIGITS}", self._tspan(c))
        value, unit = number_from_text(str(c))
        return ast.Number(value, unit, str(c), span=self._tspan(c))

    def negative(self, meta, children):
        (n,) = children
        return ast.Number(-n.value, n.unit, "-" + n.text, span=self._span(meta))

    def text(self, meta, children):
        return ast.Text(self._text(children[0]), span=self._span(meta))

    def true(self, meta, children):
        return ast.Bool(True, span=self._span(meta))

    def false(self, meta, children):
        return ast.Bool(False, span=self._span(meta))

    def this_year(self, meta, children):
        return ast.ThisYear(span=self._span(meta))

    def year_literal(self, meta, children):
        tok = children[0]
        return ast.YearLiteral(self._year(tok), str(tok), span=self._tspan(tok))

    def ref(self, meta, children):
        return ast.Ref(str(children[0]), span=self._tspan(children[0]))

    def call(self, meta, children):
        name, *args = children
        return ast.Call(str(name), tuple(a for a in args if a is not None), span=self._tspan(name))

    def at_year(self, meta, children):
        target, year = children
        return ast.AtYear(target, year, span=self._span(meta))

    def neg(self, meta, children):
        (operand,) = children
        if isinstance(operand, ast.Number):
            return ast.Number(-operand.value, operand.unit, "-" + operand.text, span=self._span(meta))
        return ast.Unary("-", operand, span=self._span(meta))

    def not_(self, meta, children):
        return ast.Unary("not", children[0], span=self._span(meta))

    def binary(self, meta, children):
        left, op, right = children
        op = {"×": "*", "÷": "/"}.get(str(op), str(op))
        return ast.Binary(op, left, right, span=self._tspan(children[1]))

    def compare(self, meta, children):
        left, op, right = children
        op = {"==": "=", "≤": "<=", "≥": ">=", "≠": "!="}.get(str(op), str(op))
        return ast.Binary(op, left, right, span=self._tspan(children[1]))

    def and_(self, meta, children):
        return ast.Binary("and", children[0], children[1], span=self._span(meta))

    def or_(self, meta, children):
        return ast.Binary("or", children[0], children[1], span=self._span(meta))

    def if_expr(self, meta, children):
        *pairs, otherwise = children
        branches = tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))
        return ast.If(branches, otherwise, span=self._span(meta))

    def with_override(self, meta, children):
        body, name, value = children
        return ast.With(body, str(name), value, span=self._tspan(name))
