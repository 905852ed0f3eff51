"""The rule language's syntax tree: a closed set of frozen attrs nodes, each with its source span.

parse.py builds these from the Lark tree; nothing downstream ever sees a lark.Tree.
Numbers are exact `fractions.Fraction`s in the node, with their unit: a percent is kept as
a ratio (85% -> 17/20) and a percentage point likewise (1.50pp -> 3/200), so that unit
conversions never change a value.

The language's vocabulary lives here with its nodes: the key names, the built-in functions, the
rounding modes, each item's kind and keyword (`Definition.kind == "definition"`, `.keyword ==
"define"`), and the traversal (`children`, `walk`, `refs`, `item_exprs`) that check, explain,
format, resolve and versions share instead of walking the tree by hand.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from .years import Period

# ---- the vocabulary ----------------------------------------------------------------------------

KEY_NAMES = {"code", "name", "fiscal_year"}  # every municipality's row has them; not items of a version
ROUNDING_MODES = {
    "floor": "floor",
    "切り捨て": "floor",
    "ceil": "ceil",
    "切り上げ": "ceil",
    "half_up": "half_up",
    "四捨五入": "half_up",
    "half_even": "half_even",
    "down": "down",
}
AGGREGATES = {"sum", "mean", "count"}  # run over the municipalities
FUNCTIONS = {"min", "max", "abs", "sum", "mean", "count", "defined", "round", "floor", "ceil", "percent", "ratio", "decimals"}


@attrs.frozen
class Span:
    """Where a node stands in its file (1-based line and column)."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<none>", 0, 0)


def _span_field():
    # Spans never take part in equality: parse(format(f)) == parse(f) compares meaning.
    return attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)


# ---- expressions ----------------------------------------------------------------------


@attrs.frozen
class Number:
    """A literal with its unit: 'number' (bare), 'percent', 'pp' or 'yen'."""

    value: Fraction
    unit: str
    text: str = attrs.field(eq=False)
    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class Text:
    value: str
    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class Bool:
    value: bool
    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class YearLiteral:
    value: int
    text: str = attrs.field(eq=False)
    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class ThisYear:
    """`year`: the fiscal year being evaluated."""

    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class Ref:
    """A name: an input, a definition, a table or a schedule."""

    name: str
    span: Span = _span_field()

    def children(self) -> list:
        return []


@attrs.frozen
class AtYear:
    """`target[year - 1]`: a value taken in another fiscal year."""

    target: Expr
    year: Expr
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return [self.target, self.year]


@attrs.frozen
class Call:
    """A built-in function: min, max, abs, sum, mean, count, defined, round, floor, ceil, ..."""

    function: str
    args: tuple[Expr, ...]
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return list(self.args)


@attrs.frozen
class Unary:
    op: str  # '-' or 'not'
    operand: Expr
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return [self.operand]


@attrs.frozen
class Binary:
    op: str  # + - * / and or, and comparisons < <= > >= = !=
    left: Expr
    right: Expr
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return [self.left, self.right]


@attrs.frozen
class If:
    """`if c1 then v1 elif c2 then v2 else v3`."""

    branches: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return [x for pair in self.branches for x in pair] + [self.otherwise]


@attrs.frozen
class With:
    """`levy_medical with alpha = 1`: the expression evaluated with a parameter overridden."""

    body: Expr
    name: str
    value: Expr
    span: Span = _span_field()

    def children(self) -> list:
        """The direct sub-expressions, in source order."""
        return [self.body, self.value]


Expr = Number | Text | Bool | YearLiteral | ThisYear | Ref | AtYear | Call | Unary | Binary | If | With

# ---- items -------------------------------------------------------------------------------


@attrs.frozen
class Header:
    version: str
    extends: str | None
    title: str | None
    status: str | None
    plan_period: Period | None
    basis: str | None
    cite: str | None
    span: Span = _span_field()
    status_span: Span = _span_field()
    extends_span: Span = _span_field()
    period_text: str | None = attrs.field(default=None, eq=False)


@attrs.frozen
class InputDecl:
    """A data field: `input municipal collection_rate "現年分収納率" : percent columns ...`."""

    kind = "input"  # class attributes, not fields: what the item is, and the word that states it
    keyword = "input"

    name: str
    scope: str  # 'municipal' or 'prefecture'
    label: str | None
    unit: str
    columns: tuple[str, ...]
    cite: str | None
    effective: Period | None
    override: bool = False
    span: Span = _span_field()
    unit_span: Span = _span_field()


@attrs.frozen
class ValueLabel:
    """One entry of a definition's `labels` clause: a value the rule produces ("none", true) and how tables show it."""

    value: str | bool
    label: str
    span: Span = _span_field()


@attrs.frozen
class Definition:
    kind = "definition"
    keyword = "define"

    name: str
    label: str | None
    unit: str
    expr: Expr
    cite: str | None
    effective: Period | None
    override: bool = False
    span: Span = _span_field()
    unit_span: Span = _span_field()
    value_labels: tuple[ValueLabel, ...] = attrs.field(default=(), kw_only=True)  # `labels "none" = "赤字なし", ...`

    @property
    def labels(self) -> tuple[tuple[str | bool, str], ...]:
        """(value, label) pairs for display (engine/display.py)."""
        return tuple((x.value, x.label) for x in self.value_labels)


@attrs.frozen
class Band:
    """One row of a band table: an interval of the table's key, and the result there."""

    lo: Number
    lo_closed: bool
    hi: Number
    hi_closed: bool
    label: str | None
    result: Expr
    wording: str | None
    span: Span = _span_field()

    def contains(self, x: Fraction) -> bool:
        above = x >= self.lo.value if self.lo_closed else x > self.lo.value
        below = x <= self.hi.value if self.hi_closed else x < self.hi.value
        return above and below

    @property
    def interval(self) -> str:
        return f"{'[' if self.lo_closed else '('}{self.lo.text}, {self.hi.text}{']' if self.hi_closed else ')'}"


@attrs.frozen
class Table:
    kind = "table"
    keyword = "table"

    name: str
    label: str | None
    unit: str
    key: Expr
    bands: tuple[Band, ...]
    cite: str | None
    effective: Period | None
    override: bool = False
    span: Span = _span_field()
    unit_span: Span = _span_field()


@attrs.frozen
class Entry:
    """One line of a schedule: the years it covers and the value for them."""

    years: Period
    value: Expr
    wording: str | None
    years_text: str = attrs.field(eq=False, default="")
    span: Span = _span_field()


@attrs.frozen
class Schedule:
    kind = "schedule"
    keyword = "schedule"

    name: str
    label: str | None
    unit: str
    entries: tuple[Entry, ...]
    cite: str | None
    effective: Period | None
    override: bool = False
    span: Span = _span_field()
    unit_span: Span = _span_field()


@attrs.frozen
class SummaryLine:
    """`bands TABLE FLAG` | `total NAMES` | `tally NAMES` | `show NAMES` | `columns NAMES` | `screen NAMES`."""

    kind: str
    names: tuple[str, ...]
    span: Span = _span_field()


@attrs.frozen
class Summary:
    kind = "summary"
    keyword = "summary"

    name: str  # always 'summary': one per version
    label: str | None
    lines: tuple[SummaryLine, ...]
    override: bool = False
    cite: str | None = None
    effective: Period | None = None
    span: Span = _span_field()


@attrs.frozen
class Assignment:
    """An input value in an example: `collection_rate[FY2023] = 97.50%`; no year: the example's year."""

    name: str
    year: int | None
    value: Number | Text | Bool | YearLiteral | None  # None: explicitly missing (`undefined`)
    span: Span = _span_field()


@attrs.frozen
class ExampleMunicipality:
    code: str
    name: str
    values: tuple[Assignment, ...]
    span: Span = _span_field()


@attrs.frozen
class Expectation:
    """`expect "131016" target_rate = 97.50%`; code None for a prefecture value; value None: `undefined`."""

    code: str | None
    name: str
    value: Number | Text | Bool | YearLiteral | None
    span: Span = _span_field()


@attrs.frozen
class Example:
    """Known results pinned next to the rules, run by `kokuho test` and by pytest."""

    kind = "example"
    keyword = "example"

    name: str
    label: str | None
    year: int
    municipalities: tuple[ExampleMunicipality, ...]
    prefecture: tuple[Assignment, ...]
    expectations: tuple[Expectation, ...]
    cite: str | None
    effective: Period | None = None
    override: bool = False
    span: Span = _span_field()


@attrs.frozen
class Removal:
    """`remove NAME`: an item of the base version that this version drops."""

    kind = "remove"
    keyword = "remove"

    name: str
    span: Span = _span_field()


Item = InputDecl | Definition | Table | Schedule | Summary | Example | Removal
VALUE_KINDS = (InputDecl, Definition, Table, Schedule)  # the items with a value: what a column or an explanation shows


@attrs.frozen
class RuleFile:
    """One parsed rule file: a version's header and the items it states."""

    path: str
    header: Header
    items: tuple[Item, ...]
    source: str = attrs.field(eq=False, repr=False, default="")


UNITS = ("percent", "pp", "yen", "ratio", "count", "year", "bool", "text")
STATUSES = ("current", "proposed", "adopted")
SCOPES = ("municipal", "prefecture")


# ---- traversal -----------------------------------------------------------------------------------


_EXPRESSIONS = (Number, Text, Bool, YearLiteral, ThisYear, Ref, AtYear, Call, Unary, Binary, If, With)
_CHILDREN = {cls: cls.children for cls in _EXPRESSIONS}


def children(e) -> list:
    """The direct sub-expressions of an expression node, in source order (none for anything else)."""
    method = _CHILDREN.get(type(e))
    return method(e) if method is not None else []


def walk(e):
    """Every node of an expression, itself first, then depth first (an explicit stack: chains may be deep)."""
    todo = [e]
    while todo:
        x = todo.pop()
        yield x
        todo.extend(reversed(children(x)))


def item_exprs(item) -> list:
    """The formulas an item states: a definition's, a table's key and band results, a schedule's values."""
    if isinstance(item, Definition):
        return [item.expr]
    if isinstance(item, Table):
        return [item.key] + [b.result for b in item.bands]
    if isinstance(item, Schedule):
        return [e.value for e in item.entries]
    return []


def refs(e, *, skip_year=None) -> set[str]:
    """Names an expression refers to; with skip_year, not the x of an x[Y] whose Y it accepts."""
    out: set[str] = set()

    def visit(x):
        if isinstance(x, Ref):
            out.add(x.name)
        elif isinstance(x, AtYear) and skip_year is not None and skip_year(x.year):
            visit(x.year)
            return
        elif isinstance(x, Call) and x.function == "round" and len(x.args) == 3:
            visit(x.args[0])
            visit(x.args[1])
            return
        elif isinstance(x, With):
            out.add(x.name)
        for c in children(x):
            visit(c)

    visit(e)
    return out


def another_year(e) -> bool:
    """Y in x[Y] is not written as `year` itself."""
    return not isinstance(e, ThisYear)


def earlier_year(e) -> bool:
    """Y in x[Y] is `year - k` with k > 0: certainly not the year being evaluated."""
    return isinstance(e, Binary) and e.op == "-" and isinstance(e.left, ThisYear) and isinstance(e.right, Number) and e.right.value > 0


def same_year_refs(item) -> set[str]:
    """The names an item's formulas use in the year they are evaluated for (not x[year - 1])."""
    out: set[str] = set()
    for e in item_exprs(item):
        out |= refs(e, skip_year=another_year)
    return out


def all_refs(item) -> set[str]:
    """Every name an item uses: in its formulas, in any year, and the names of a summary's lines."""
    out: set[str] = set()
    for e in item_exprs(item):
        out |= refs(e)
    if isinstance(item, Summary):
        for line in item.lines:
            out |= set(line.names)
    return out


def scope_refs(item) -> set[str]:
    """The names an item's formulas use outside sum/mean/count (what makes it municipal when they are)."""
    out: set[str] = set()
    todo = list(item_exprs(item))
    while todo:
        x = todo.pop()
        if isinstance(x, Ref):
            out.add(x.name)
        elif not (isinstance(x, Call) and x.function in AGGREGATES):
            todo.extend(children(x))
    return out


# ---- literals ------------------------------------------------------------------------------------


def _fraction(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("_", ""))


def number_from_text(text: str) -> tuple[Fraction, str]:
    """'85%' -> (17/20, 'percent'); '1.50pp' -> (3/200, 'pp'); '1,000円' -> (1000, 'yen')."""
    t = text.strip()
    if t.endswith(("%", "％")):
        return _fraction(t[:-1]) / 100, "percent"
    if t.endswith("pp"):
        return _fraction(t[:-2]) / 100, "pp"
    for suffix in ("円", "yen", "JPY"):
        if t.endswith(suffix):
            return _fraction(t[: -len(suffix)].strip()), "yen"
    return _fraction(t), "number"
