"""An evaluation, one municipality-year and a name -> a derivation tree (Node), rendered as text, markdown or json.

Every value in the tree comes from the same columnar evaluator that produced the result
being explained (a sub-expression is evaluated for all municipalities and the one asked
for is picked), so an explanation never disagrees with `kokuho eval`. Each node names the
rule that produced it (definition, table band or schedule entry, with file:line), its
Japanese label and citation; inputs name their data file and row; an undefined value gives
its reason. Aggregates show their value and what they sum; `full` lists every term.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from . import ast
from .ast import KEY_NAMES
from .check import Checker
from .columnar import ColumnData, ColumnEvaluator
from .columnar.columns import is_col
from .errors import UnitError, UsageError, finding
from .format import expression_text as expr_text
from .render import format_display, format_value, to_json
from .values import Undefined, is_undef
from .versions import NotInForce, Piece, Version
from .years import FiscalYear

__all__ = [
    "Node",
    "Source",
    "Explanation",
    "explain",
    "explain_for",
    "explain_versions",
    "render_explanation",
    "render_side_by_side",
    "expr_text",
    "show",
    "shown_path",
    "same_value",
]

ROUNDING_WORDS = {
    "floor": "rounded down (切り捨て)",
    "ceil": "rounded up (切り上げ)",
    "half_up": "rounded half up (四捨五入)",
    "half_even": "rounded half to even",
    "down": "truncated toward zero",
}
AGGREGATE_WORDS = {"sum": "sum", "mean": "mean", "count": "count"}


@attrs.frozen
class Source:
    """Where a step comes from: a rule (definition, band, schedule entry) or a data row."""

    file: str
    line: int
    text: str = ""

    def __str__(self) -> str:
        return f"{shown_path(self.file)}:{self.line}"


@attrs.frozen
class Node:
    """One step of a derivation: a named value or a sub-expression, with its value and sources."""

    title: str  # the name (with [FY..] when taken at another year) or the expression's text
    kind: str  # definition | table | schedule | input | key | override | expression | aggregate | literal | unknown
    value: object  # Fraction, int, bool, str or Undefined
    unit: str
    year: int
    label: str | None = None
    role: str | None = None  # 'key', 'if', 'elif', 'then', 'else', 'with'
    rules: tuple[Source, ...] = ()
    cite: str | None = None
    data: Source | None = None
    notes: tuple[str, ...] = ()
    children: tuple[Node, ...] = ()
    elided: str | None = None  # 'above': already explained in this tree; 'depth': below --depth
    piece: tuple | None = None  # (version that wrote the rule used, its years in force, how many pieces the name has)

    @property
    def display(self) -> str:
        return show(self.value, self.unit)

    @property
    def reason(self) -> str | None:
        return self.value.reason if is_undef(self.value) else None


@attrs.frozen
class Explanation:
    """The derivation of one name for one municipality (or the prefecture) in one fiscal year."""

    version: str
    version_title: str | None
    name: str
    year: FiscalYear
    municipality: object  # data.Municipality or None for a prefecture value
    root: Node
    depth: int | None
    full: bool


def shown_path(path: str) -> str:
    """A path as people type it: relative to the working directory when it lies under it, else
    the shipped rules and sample data as in the project (rules/tokyo/R6.rules, installed or not), else as given."""
    import os

    from .shipped import root

    project = str(root())
    for base in (os.getcwd(), project):
        try:
            rel = os.path.relpath(path, base)
        except ValueError:  # another drive on Windows
            continue
        if not rel.startswith(".."):
            return rel
    return path


def show(v, unit: str) -> str:
    """format_display, with '…' after a value that does not terminate in decimals."""
    if is_undef(v):
        return "undefined"
    text = format_display(v, unit)
    if isinstance(v, Fraction) and not isinstance(v, bool):
        scale = 100 if unit in ("percent", "pp") else 1
        if not _terminates(v * scale):
            text = text.replace(_suffix(unit), "") + "…" + _suffix(unit) if _suffix(unit) else text + "…"
    return text


def _suffix(unit: str) -> str:
    return {"percent": "%", "pp": "pp", "yen": "円"}.get(unit, "")


def _terminates(x: Fraction) -> bool:
    d = Fraction(x).denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


# ---- expressions as text -------------------------------------------------------------------


def _is_literal(e) -> bool:
    return isinstance(e, (ast.Number, ast.Text, ast.Bool, ast.YearLiteral, ast.ThisYear)) or (
        isinstance(e, ast.Call) and e.function == "decimals"
    )


def _chain(e, ops: tuple[str, str]) -> list[tuple[str, object]]:
    """A left-associated chain a * b / c as [('*', a), ('*', b), ('/', c)] (or + and -)."""
    if isinstance(e, ast.Binary) and e.op in ops:
        return _chain(e.left, ops) + [(e.op, e.right)]
    return [(ops[0], e)]


def _is_sum_of(e, x) -> bool:
    return isinstance(e, ast.Call) and e.function == "sum" and len(e.args) == 1 and e.args[0] == x


# ---- building the tree -----------------------------------------------------------------------


class _Explainer:
    def __init__(self, ev: ColumnEvaluator, index: int | None, depth: int | None, full: bool, root_year: int):
        self.ev = ev
        self.i = index
        self.max_depth = depth
        self.full = full
        self.root_year = root_year
        self.seen: set = set()
        self.checker = Checker(ev.version)
        self.data: ColumnData = ev.data
        self.current: list[str] = []  # the definition being explained, for the evaluator's messages

    # values: the evaluator's columns, and the one municipality's entry of them
    def pick(self, v):
        if is_col(v):
            if self.i is None:
                return Undefined("a value per municipality: give a municipality to see it")
            return self.ev.ops.entry(v, self.i)
        return v

    def eval(self, e, year: int, ov: tuple):
        # The evaluator names the definition in a division-by-zero reason: give it the same owner.
        return self.ev.run(e, self.current[-1] if self.current else "a formula", year, ov)

    def unit_of(self, e) -> str:
        try:
            return self.checker.infer(e)
        except UnitError:
            return "ratio"

    def too_deep(self, depth: int) -> bool:
        return self.max_depth is not None and depth > self.max_depth

    # named values
    def name(self, name: str, year: int, ov: tuple, depth: int, *, role: str | None = None, title: str | None = None) -> Node:
        node = self._name(name, year, ov, depth, role=role, title=title)
        if node.kind not in ("definition", "table", "schedule", "input") or node.elided == "above":
            return node
        piece = self.ev.at(year).piece(name)
        pieces = self.ev.version.pieces(name)
        if not isinstance(piece, Piece):
            return attrs.evolve(node, piece=(getattr(piece, "version", None), None, len(pieces)))
        node = attrs.evolve(node, piece=(piece.version, piece.years_text, len(pieces)))
        if len(pieces) > 1:  # which of the name's pieces is in force this year
            note = (
                f"the piece of {piece.version}, in force {piece.years_text}; version {self.ev.version.id} has {len(pieces)} pieces of {name}: "
                + ", ".join(f"{p.version} {p.years_text}" for p in pieces)
            )
            node = attrs.evolve(node, notes=(note,) + node.notes)
        return node

    def _name(self, name: str, year: int, ov: tuple, depth: int, *, role: str | None = None, title: str | None = None) -> Node:
        value = self.pick(self.ev.fast(name, year, ov))
        shown_title = title or (name if year == self.root_year else f"{name}[{FiscalYear(year)}]")
        for oname, _ in ov:
            if oname == name:
                item = self.ev.version.items.get(name)
                return Node(
                    shown_title,
                    "override",
                    value,
                    getattr(item, "unit", "ratio"),
                    year,
                    getattr(item, "label", None),
                    role,
                    notes=(f"set by 'with {name} = …' above",),
                )
        if name in KEY_NAMES:
            return Node(shown_title, "key", value, "text", year, role=role)
        lookup = self.ev.at(year).lookup(name)
        if lookup is None:
            return Node(shown_title, "unknown", value, "text", year, role=role)
        item = lookup.item if isinstance(lookup, NotInForce) else lookup
        label = getattr(item, "label", None)
        unit = getattr(item, "unit", "text")
        cite = getattr(item, "cite", None)
        key = (name, year, ov)
        if isinstance(lookup, NotInForce):
            return Node(shown_title, _kind(item), value, unit, year, label, role, (_decl_source(item),), cite)
        if isinstance(item, ast.InputDecl):
            if item.scope == "municipal" or year != self.root_year:
                shown_title = title or f"{name}[{FiscalYear(year)}]"
            data = self._data_source(item, year)
            if key in self.seen:
                return Node(shown_title, "input", value, unit, year, label, role, elided="above")
            self.seen.add(key)
            return Node(shown_title, "input", value, unit, year, label, role, cite=cite, data=data)
        if key in self.seen:
            return Node(shown_title, _kind(item), value, unit, year, label, role, elided="above")
        if self.too_deep(depth + 1):
            return Node(shown_title, _kind(item), value, unit, year, label, role, (_decl_source(item),), cite, elided="depth")
        self.seen.add(key)
        self.current.append(name)
        try:
            if isinstance(item, ast.Definition):
                src = Source(item.span.file, item.span.line, f"define {name} = {expr_text(item.expr)}")
                notes, children = self.parts(item.expr, year, ov, depth)
                return Node(shown_title, "definition", value, unit, year, label, role, (src,), cite, notes=notes, children=children)
            if isinstance(item, ast.Table):
                return self.table(item, shown_title, value, year, ov, depth, role)
            if isinstance(item, ast.Schedule):
                return self.schedule(item, shown_title, value, year, ov, depth, role)
        finally:
            self.current.pop()
        return Node(shown_title, "unknown", value, unit, year, label, role)

    def _data_source(self, item: ast.InputDecl, year: int) -> Source | None:
        if item.scope == "prefecture":
            row = self.data.prefecture_row_of(year)
            return Source(row[0], row[1], f"prefecture, {FiscalYear(year).both}") if row else None
        if self.i is None:
            return None
        m = self.data.municipalities[self.i]
        row = self.data.row_of(m.code, year)
        return Source(row[0], row[1], f"{m}, {FiscalYear(year).both}") if row else None

    def table(self, t: ast.Table, title, value, year, ov, depth, role) -> Node:
        decl = Source(t.span.file, t.span.line, f"table {t.name} over {expr_text(t.key)}")
        key = self.operand(t.key, year, ov, depth + 1, role="key")
        k = key.value
        if is_undef(k):
            return Node(
                title,
                "table",
                value,
                t.unit,
                year,
                t.label,
                role,
                (decl,),
                t.cite,
                notes=("no band: the key is undefined",),
                children=(key,),
            )
        idx = next((n for n, b in enumerate(t.bands) if b.contains(k)), None)
        if idx is None:
            return Node(
                title,
                "table",
                value,
                t.unit,
                year,
                t.label,
                role,
                (decl,),
                t.cite,
                notes=(f"{show(k, key.unit)} falls in no band",),
                children=(key,),
            )
        band = t.bands[idx]
        text = f"band {band.interval}" + (f' "{band.label}"' if band.label else "") + f" => {expr_text(band.result)}"
        if band.wording:
            text += f"  「{band.wording}」"
        chosen = Source(band.span.file, band.span.line, text)
        notes, children = self.parts(band.result, year, ov, depth)
        note = f"{show(k, key.unit)} is in band {band.interval}" + (f" {band.label}" if band.label else "")
        return Node(
            title, "table", value, t.unit, year, t.label, role, (decl, chosen), t.cite, notes=(note,) + notes, children=(key,) + children
        )

    def schedule(self, s: ast.Schedule, title, value, year, ov, depth, role) -> Node:
        decl = Source(s.span.file, s.span.line, f"schedule {s.name}")
        entry = next((e for e in s.entries if year in e.years), None)
        if entry is None:
            return Node(title, "schedule", value, s.unit, year, s.label, role, (decl,), s.cite)
        text = f"{entry.years_text}: {expr_text(entry.value)}" + (f"  「{entry.wording}」" if entry.wording else "")
        notes, children = self.parts(entry.value, year, ov, depth)
        return Node(
            title,
            "schedule",
            value,
            s.unit,
            year,
            s.label,
            role,
            (decl, Source(entry.span.file, entry.span.line, text)),
            s.cite,
            notes=(f"the entry for {FiscalYear(year).both}",) + notes,
            children=children,
        )

    # expressions
    def operand(self, e, year: int, ov: tuple, depth: int, *, role: str | None = None) -> Node:
        """The node for one operand: a named value, or a sub-expression with its own parts."""
        if isinstance(e, ast.Ref):
            return self.name(e.name, year, ov, depth, role=role)
        if isinstance(e, ast.AtYear) and isinstance(e.target, ast.Ref):
            y = self.pick(self.eval(e.year, year, ov))
            if not is_undef(y):
                return self.name(e.target.name, int(y), ov, depth, role=role, title=f"{e.target.name}[{FiscalYear(int(y))}]")
        value = self.pick(self.eval(e, year, ov))
        unit = self.unit_of(e)
        if _is_literal(e):
            return Node(expr_text(e), "literal", value, unit, year, role=role)
        kind = "aggregate" if isinstance(e, ast.Call) and e.function in AGGREGATE_WORDS else "expression"
        if kind == "aggregate":
            key = ("aggregate", expr_text(e), year, ov)
            if key in self.seen:
                return Node(expr_text(e), kind, value, unit, year, role=role, elided="above")
            self.seen.add(key)
        elif self.too_deep(depth + 1):
            return Node(expr_text(e), kind, value, unit, year, role=role, elided="depth")
        notes, children = self.parts(e, year, ov, depth)
        return Node(expr_text(e), kind, value, unit, year, role=role, notes=notes, children=children)

    def parts(self, e, year: int, ov: tuple, depth: int) -> tuple[tuple[str, ...], tuple[Node, ...]]:
        """The notes and the child nodes that explain an expression's value (children at depth + 1)."""
        d = depth + 1
        if self.too_deep(d) and not _is_literal(e):
            return (), ()
        if _is_literal(e):
            return (), ()
        if isinstance(e, (ast.Ref, ast.AtYear)):
            return (), (self.operand(e, year, ov, d),)
        if isinstance(e, ast.Binary) and e.op in ("*", "/"):
            return self.product(e, year, ov, d)
        if isinstance(e, ast.Binary) and e.op in ("+", "-"):
            return (), tuple(self.operand(x, year, ov, d) for _, x in _chain(e, ("+", "-")) if not _is_literal(x))
        if isinstance(e, ast.Binary):
            return (), tuple(self.operand(x, year, ov, d) for x in (e.left, e.right) if not _is_literal(x))
        if isinstance(e, ast.Unary):
            return (), ((self.operand(e.operand, year, ov, d),) if not _is_literal(e.operand) else ())
        if isinstance(e, ast.If):
            return self.conditional(e, year, ov, d)
        if isinstance(e, ast.With):
            return self.with_(e, year, ov, d)
        if isinstance(e, ast.Call):
            return self.call(e, year, ov, d)
        return (), ()

    def product(self, e, year, ov, d):
        chain = _chain(e, ("*", "/"))
        if len(chain) == 2 and chain[1][0] == "/" and _is_sum_of(chain[1][1], chain[0][1]):
            who = f" of {self.data.municipalities[self.i]}" if self.i is not None else ""
            share = f"the share{who} in the total over {len(self.data.municipalities)} municipalities"
            return (share,), tuple(self.operand(x, year, ov, d) for _, x in chain)
        out: list[Node] = []
        used: set[int] = set()
        for k, (op, x) in enumerate(chain):
            if k in used or _is_literal(x):
                continue
            # X ... / sum(X): shown as X's share of the total, the same exact number.
            partner = next(
                (j for j, (op2, y) in enumerate(chain) if j not in used and j != k and op == "*" and op2 == "/" and _is_sum_of(y, x)), None
            )
            if partner is not None and len(chain) > 2:
                used.update((k, partner))
                out.append(self.operand(ast.Binary("/", x, chain[partner][1]), year, ov, d))
                continue
            used.add(k)
            out.append(self.operand(x, year, ov, d))
        return (), tuple(out)

    def conditional(self, e: ast.If, year, ov, d):
        out: list[Node] = []
        for k, (cond, branch) in enumerate(e.branches):
            c = self.operand(cond, year, ov, d, role="if" if k == 0 else "elif")
            out.append(c)
            if is_undef(c.value):
                return ("no branch: the condition is undefined",), tuple(out)
            if c.value is True:
                out.append(self.operand(branch, year, ov, d, role="then"))
                return (), tuple(out)
        out.append(self.operand(e.otherwise, year, ov, d, role="else"))
        return (), tuple(out)

    def with_(self, e: ast.With, year, ov, d):
        setting = self.pick(self.eval(e.value, year, ov))
        new = tuple(sorted(tuple((n, v) for n, v in ov if n != e.name) + ((e.name, self.eval(e.value, year, ov)),), key=lambda p: p[0]))
        item = self.ev.version.items.get(e.name)
        set_node = Node(
            f"{e.name} = {expr_text(e.value)}",
            "override",
            setting,
            getattr(item, "unit", self.unit_of(e.value)),
            year,
            getattr(item, "label", None),
            "with",
            notes=(f"{expr_text(e.body)} evaluated as if {e.name} were {show(setting, getattr(item, 'unit', 'ratio'))}",),
        )
        body = self.operand(e.body, year, new, d)
        return (), (set_node, body)

    def call(self, e: ast.Call, year, ov, d):
        f = e.function
        if f in AGGREGATE_WORDS:
            return self.aggregate(e, year, ov, d)
        if f in ("round", "floor", "ceil"):
            mode = e.args[2].name if f == "round" else f
            mode = ast.ROUNDING_MODES.get(mode, mode)
            raw = self.pick(self.eval(e.args[0], year, ov))
            unit = self.unit_of(e.args[0])
            step = e.args[1]
            step_text = f"{step.args[0].value} decimal places" if isinstance(step, ast.Call) else f"a multiple of {step.text}"
            note = f"{ROUNDING_WORDS[mode]} to {step_text}" + ("" if is_undef(raw) else f" from {show(raw, unit)}")
            notes, children = self.parts(e.args[0], year, ov, d - 1)
            return (note,) + notes, children
        if f in ("percent", "ratio"):
            return self.parts(e.args[0], year, ov, d - 1)
        return (), tuple(self.operand(a, year, ov, d) for a in e.args if not _is_literal(a))

    def aggregate(self, e: ast.Call, year, ov, d):
        n = len(self.data.municipalities)
        fy = FiscalYear(year).both
        if not e.args:
            return (f"the number of municipalities in {fy}",), ()
        arg = e.args[0]
        what = {"sum": "the sum", "mean": "the mean", "count": "the number of municipalities where it is true"}[e.function]
        col = self.ev.to_python(self.eval(arg, year, ov))
        col = col if isinstance(col, tuple) else (col,) * n
        note = f"{what} of {expr_text(arg)} over {n} municipalities in {fy}"
        if not self.full:
            note += "; list the terms with --full"
            return (note,), ()
        unit = self.unit_of(arg)
        decl = self.ev.version.items.get(arg.name) if isinstance(arg, ast.Ref) else None
        children = []
        for j, m in enumerate(self.data.municipalities):
            data = None
            if isinstance(decl, ast.InputDecl) and decl.scope == "municipal":
                row = self.data.row_of(m.code, year)
                data = Source(row[0], row[1], f"{m}, {fy}") if row else None
            children.append(Node(str(m), "term", col[j], unit, year, data=data))
        return (note,), tuple(children)


def _kind(item) -> str:
    """A value's item kind (input, definition, table, schedule); anything else is an 'item'."""
    return item.kind if isinstance(item, ast.VALUE_KINDS) else "item"


def _decl_source(item) -> Source:
    word = item.keyword if isinstance(item, ast.VALUE_KINDS) else "item"
    return Source(item.span.file, item.span.line, f"{word} {item.name}")


# ---- entry points -----------------------------------------------------------------------------


def explain(
    ev: ColumnEvaluator, name: str, year: int, index: int | None = None, *, depth: int | None = None, full: bool = False
) -> Explanation:
    """The derivation of `name` in `year` for municipality number `index` (None: a prefecture value).

    The year may be a plain int (a library caller's); the Explanation's is a FiscalYear, as outputs show it."""
    ex = _Explainer(ev, index, depth, full, year)
    root = ex.name(name, year, (), 0)
    m = ev.data.municipalities[index] if index is not None else None
    return Explanation(ev.version.id, ev.version.header.title, name, FiscalYear(year), m, root, depth, full)


def explain_for(
    version: Version,
    data: ColumnData,
    name: str,
    year: int,
    municipality: str | None = None,
    *,
    depth: int | None = None,
    full: bool = False,
    evaluator: ColumnEvaluator | None = None,
) -> Explanation:
    """Resolve a name or its label, and a municipality (code or name), in a version and its data, then explain."""
    from .lookup import find_municipality, resolve_name

    name = resolve_name(
        name,
        [version],
        code="unknown-name",
        message=f"version {version.id} has no definition, table, schedule or input '{name}'",
        extra=KEY_NAMES,
    )
    item = version.items.get(name)
    if depth is not None and depth < 0:
        raise UsageError(finding("bad-depth", f"--depth is 0 or more, not {depth}"))
    ev = evaluator or ColumnEvaluator(version, data)
    index = None
    if municipality is not None:
        index = find_municipality(data, municipality)
    elif is_col(ev.fast(name, year)):
        label = f" ({item.label})" if getattr(item, "label", None) else ""
        raise UsageError(
            finding(
                "no-municipality",
                f"{name}{label} has a value per municipality; give --municipality, a code like 131016 or a name like 千代田区",
            )
        )
    return explain(ev, name, year, index, depth=depth, full=full)


# ---- rendering --------------------------------------------------------------------------------


def heading(x: Explanation) -> str:
    who = str(x.municipality) if x.municipality is not None else "the prefecture"
    return f"{x.name} for {who}, {x.year.both}, version {x.version}"


def _headline(n: Node, *, md: bool = False) -> str:
    role = f"{n.role}: " if n.role else ""
    title = (
        f"**{n.title}**"
        if md and n.kind not in ("expression", "literal", "aggregate", "term")
        else (f"`{n.title}`" if md and n.kind != "term" else n.title)
    )
    label = f" 「{n.label}」" if n.label else ""
    value = f"**{n.display}**" if md else n.display
    tail = ""
    if n.elided == "above":
        tail = "  (explained above)"
    elif n.elided == "depth":
        tail = "  (… deeper steps omitted; raise --depth)"
    return f"{role}{title}{label} = {value}{tail}"


def _details(n: Node) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if n.elided == "above":
        return out
    for r in n.rules:
        out.append(("rule", f"{r}  {r.text}" if r.text else str(r)))
    if n.cite:
        out.append(("cite", n.cite))
    if n.data is not None:
        out.append(("data", f"{n.data}  {n.data.text}"))
    if n.reason:
        out.append(("why", n.reason))
    for note in n.notes:
        out.append(("note", note))
    return out


def render_text(x: Explanation) -> str:
    lines = [heading(x)]

    def walk(n: Node, first: str, rest: str):
        lines.append(first + _headline(n))
        bar = "│  " if n.children else "   "
        for kind, text in _details(n):
            lines.append(f"{rest}{bar}{kind:<5} {text}")
        for k, c in enumerate(n.children):
            last = k == len(n.children) - 1
            walk(c, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))

    walk(x.root, "", "")
    return "\n".join(lines) + "\n"


def render_markdown(x: Explanation) -> str:
    lines = [f"## {heading(x)}", ""]
    if x.version_title:
        lines += [f"{x.version} {x.version_title}", ""]

    def walk(n: Node, indent: str):
        lines.append(f"{indent}- {_headline(n, md=True)}")
        for kind, text in _details(n):
            lines.append(f"{indent}  {kind}: " + (f"`{text}`" if kind == "rule" or kind == "data" else text) + "  ")
        for c in n.children:
            walk(c, indent + "  ")

    walk(x.root, "")
    return "\n".join(lines) + "\n"


def node_json(n: Node) -> dict:
    return {
        "title": n.title,
        "kind": n.kind,
        "role": n.role,
        "label": n.label,
        "fiscal_year": FiscalYear(n.year).both,
        "value": None if is_undef(n.value) else format_value(n.value, n.unit),
        "display": n.display,
        "unit": n.unit,
        "undefined": n.reason,
        "rules": [{"file": shown_path(r.file), "line": r.line, "text": r.text} for r in n.rules],
        "cite": n.cite,
        "data": None if n.data is None else {"file": shown_path(n.data.file), "line": n.data.line},
        "notes": list(n.notes),
        "elided": n.elided,
        "piece": None if n.piece is None else {"version": n.piece[0], "years": n.piece[1], "pieces": n.piece[2]},
        "children": [node_json(c) for c in n.children],
    }


def explanation_json(x: Explanation) -> dict:
    m = x.municipality
    return {
        "version": x.version,
        "name": x.name,
        "fiscal_year": x.year.both,
        "municipality": None if m is None else {"code": m.code, "name": m.name},
        "depth": x.depth,
        "full": x.full,
        "derivation": node_json(x.root),
    }


def render_explanations(xs: list[Explanation], fmt: str = "text") -> str:
    """One explanation as render_explanation gives it; several (-m A,B) one after the other, or a JSON list."""
    if len(xs) == 1:
        return render_explanation(xs[0], fmt)
    if fmt == "json":
        return to_json([explanation_json(x) for x in xs])
    return "\n".join(render_explanation(x, fmt) for x in xs)


def render_explanation(x: Explanation, fmt: str = "text") -> str:
    """An explanation as text (an indented tree), markdown (nested list) or json."""
    from .render import ValueTooLarge

    try:
        if fmt == "json":
            return to_json(explanation_json(x))
        if fmt == "markdown":
            return render_markdown(x)
        return render_text(x)
    except ValueTooLarge:
        where = f" for {x.municipality}" if x.municipality is not None else ""
        raise ValueTooLarge(f"a step of the derivation of {x.name}{where} in {x.year.both}") from None


# ---- two versions side by side (kokuho diff A B --explain NAME) --------------------------------


def explain_versions(
    session, a_id: str, b_id: str, name: str, year: int, municipality: str | None, *, depth: int | None = None, full: bool = False
) -> tuple[Explanation, Explanation]:
    """The derivations of one name, one municipality and one year under two versions of the rules."""
    a, b = session.version(a_id), session.version(b_id)
    return (
        explain_for(a, session.data_for(a), name, year, municipality, depth=depth, full=full),
        explain_for(b, session.data_for(b), name, year, municipality, depth=depth, full=full),
    )


def _cells(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def _wrap(line: str, width: int) -> list[str]:
    """Cut a line into pieces of at most `width` cells; continuations keep the tree's indentation."""
    if _cells(line) <= width:
        return [line]
    lead = len(line) - len(line.lstrip(" │├└─"))
    indent = "".join("│" if ch == "│" else " " for ch in line[:lead]) + "    "
    out, cur = [], ""
    for ch in line:
        if _cells(cur) + _cells(ch) > width:
            out.append(cur)
            cur = indent
        cur += ch
    out.append(cur)
    return out


def render_side_by_side(xa: Explanation, xb: Explanation, fmt: str = "text", *, width: int = 78) -> str:
    """Two explanations of the same figure: text in two columns, markdown one after the other, json both."""
    if fmt == "json":
        return to_json({"a": explanation_json(xa), "b": explanation_json(xb)})
    delta = ""
    va, vb, unit = xa.root.value, xb.root.value, xb.root.unit
    if not is_undef(va) and not is_undef(vb) and isinstance(va, Fraction) and isinstance(vb, Fraction) and not isinstance(va, bool):
        d = vb - va
        delta = f"; {xb.version} - {xa.version} = {'+' if d > 0 else ''}{show(d, 'pp' if unit == 'percent' else unit)}"
    head = (
        f"{xa.name} for {xa.municipality or 'the prefecture'}, {xa.year.both}: "
        f"{xa.version} {show(va, xa.root.unit)} → {xb.version} {show(vb, unit)}{delta}"
    )
    if fmt == "markdown":
        return f"## {head}\n\n" + render_markdown(xa).replace("## ", "### ", 1) + "\n" + render_markdown(xb).replace("## ", "### ", 1)
    left = [w for line in render_text(xa).splitlines() for w in _wrap(line, width)]
    right = [w for line in render_text(xb).splitlines() for w in _wrap(line, width)]
    rows = max(len(left), len(right))
    left += [""] * (rows - len(left))
    right += [""] * (rows - len(right))
    lines = [head, ""] + [f"{l_}{' ' * (width - _cells(l_))} ┃ {r}".rstrip() for l_, r in zip(left, right)]
    return "\n".join(lines) + "\n"


def same_value(a, b) -> bool:
    """Equal values (undefined equal to undefined with the same reason), for `diff --explain --exit-code`."""
    if is_undef(a) or is_undef(b):
        return a == b
    return type(a) is type(b) and a == b if isinstance(a, (bool, str)) or isinstance(b, (bool, str)) else Fraction(a) == Fraction(b)
