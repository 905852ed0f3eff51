"""Hypothesis strategies: random rule-language ASTs (expressions, items, whole files) for property tests.

Every generated node is one the parser can produce: names are never keywords or year
literals, literal texts are spelled as the grammar lexes them and carry the value the parser
gives them, and a leading minus on a literal is part of the literal (the parser folds it).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

from engine import ast
from engine.source import number_from_text
from engine.years import Period, parse_year

GRAMMAR = (Path(__file__).resolve().parent.parent / "engine" / "grammar.lark").read_text(encoding="utf-8")
# Every quoted word of the grammar is a keyword: none of them can be a name.
KEYWORDS = frozenset(re.findall(r'"([a-z]+)"', GRAMMAR))
_YEAR_LIKE = re.compile(r"^(FY\d{4}|R\d{1,2}|H\d{1,2})$")

names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True),
    st.sampled_from(["収納率差", "α係数", "levy_medical", "R_rate", "fy2024"]),
).filter(lambda n: n not in KEYWORDS and not _YEAR_LIKE.match(n))

# Text of a label, cite or string literal: any single line, quotes and backslashes included.
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    max_size=12,
)

_digits = st.integers(0, 10**9).map(str)
_decimals = st.one_of(st.just(""), st.integers(0, 9999).map(lambda n: f".{n:02d}"))


@st.composite
def _literal_text(draw) -> str:
    kind = draw(st.sampled_from(["number", "grouped", "percent", "fullwidth_percent", "pp", "yen", "yen_ascii", "jpy"]))
    whole, frac = draw(_digits), draw(_decimals)
    if kind == "number":
        return whole + frac
    if kind == "grouped":
        return "_".join([whole, f"{draw(st.integers(0, 999)):03d}"]) + frac
    if kind == "percent":
        return whole + frac + "%"
    if kind == "fullwidth_percent":
        return whole + frac + "％"
    if kind == "pp":
        return whole + frac + "pp"
    if kind == "yen":
        return f"{int(whole):,}" + frac + "円"
    if kind == "yen_ascii":
        return whole + frac + draw(st.sampled_from([" yen", "yen"]))
    return whole + draw(st.sampled_from([" JPY", "JPY"]))


def number_from(text: str) -> ast.Number:
    value, unit = number_from_text(text.lstrip("-"))
    return ast.Number(-value if text.startswith("-") else value, unit, text)


numbers = _literal_text().map(number_from)
signed_numbers = st.tuples(st.booleans(), _literal_text()).map(lambda p: number_from(("-" if p[0] else "") + p[1]))

_YEAR_TEXTS = ["FY2024", "FY1999", "R6", "R12", "H30", "令和6年度", "令和元年", "平成31年度", "令和3", "ＦＹ2025"]
year_literals = st.sampled_from(_YEAR_TEXTS).map(lambda t: ast.YearLiteral(int(parse_year(t)), t))

leaves = st.one_of(
    signed_numbers,
    texts.map(ast.Text),
    st.booleans().map(ast.Bool),
    year_literals,
    st.just(ast.ThisYear()),
    names.map(ast.Ref),
)

_BINARY_OPS = ["+", "-", "*", "/", "<", "<=", ">", ">=", "=", "!=", "and", "or"]


def _extend(children):
    return st.one_of(
        st.builds(ast.AtYear, children, children),
        st.builds(ast.Call, names, st.lists(children, max_size=3).map(tuple)),
        st.builds(ast.Unary, st.just("not"), children),
        # The parser turns a minus before a literal into a negative literal.
        st.builds(ast.Unary, st.just("-"), children.filter(lambda e: not isinstance(e, ast.Number))),
        st.builds(ast.Binary, st.sampled_from(_BINARY_OPS), children, children),
        st.builds(ast.If, st.lists(st.tuples(children, children), min_size=1, max_size=3).map(tuple), children),
        st.builds(ast.With, children, names, children),
    )


expressions = st.recursive(leaves, _extend, max_leaves=10)

# ---- items --------------------------------------------------------------------------------------

labels = st.none() | texts
cites = st.none() | texts
units = st.sampled_from(ast.UNITS)
_years = st.integers(1990, 2100)
closed_periods = st.tuples(_years, _years).map(lambda p: Period(min(p), max(p)))
periods = st.one_of(
    closed_periods,
    _years.map(lambda y: Period(None, y)),
    _years.map(lambda y: Period(y, None)),
    st.just(Period(None, None)),
)
effectives = st.none() | periods

headers = st.builds(
    ast.Header,
    version=st.from_regex(r"[A-Z][A-Za-z0-9_]{0,3}", fullmatch=True),
    extends=st.none() | st.from_regex(r"[A-Z][A-Za-z0-9_]{0,3}", fullmatch=True),
    title=cites,
    status=st.none() | st.sampled_from(ast.STATUSES),
    plan_period=st.none() | closed_periods,
    basis=cites,
    cite=cites,
)

inputs = st.builds(
    ast.InputDecl,
    names,
    st.sampled_from(ast.SCOPES),
    labels,
    units,
    st.lists(texts, max_size=4).map(tuple),
    cites,
    effectives,
    override=st.booleans(),
)

definitions = st.builds(ast.Definition, names, labels, units, expressions, cites, effectives, override=st.booleans())

bands = st.builds(ast.Band, signed_numbers, st.booleans(), signed_numbers, st.booleans(), labels, expressions, st.none() | texts)
tables = st.builds(
    ast.Table,
    names,
    labels,
    units,
    expressions,
    st.lists(bands, min_size=1, max_size=4).map(tuple),
    cites,
    effectives,
    override=st.booleans(),
)

entries = st.builds(ast.Entry, periods, expressions, st.none() | texts)
schedules = st.builds(
    ast.Schedule,
    names,
    labels,
    units,
    st.lists(entries, min_size=1, max_size=4).map(tuple),
    cites,
    effectives,
    override=st.booleans(),
)

summary_lines = st.one_of(
    st.builds(ast.SummaryLine, st.just("bands"), st.tuples(names, names)),
    st.builds(ast.SummaryLine, st.sampled_from(["total", "tally", "show", "columns"]), st.lists(names, min_size=1, max_size=12).map(tuple)),
)
summaries = st.builds(
    ast.Summary, st.just("summary"), labels, st.lists(summary_lines, min_size=1, max_size=4).map(tuple), override=st.booleans()
)

example_values = st.one_of(st.none(), signed_numbers, texts.map(ast.Text), st.booleans().map(ast.Bool), year_literals)
assignments = st.builds(ast.Assignment, names, st.none() | _years, example_values)
municipalities = st.builds(ast.ExampleMunicipality, texts, texts, st.lists(assignments, max_size=4).map(tuple))
expectations = st.builds(ast.Expectation, st.none() | texts, names, example_values)
examples = st.builds(
    ast.Example,
    names,
    labels,
    _years,
    st.lists(municipalities, max_size=3).map(tuple),
    st.lists(assignments, max_size=3).map(tuple),
    st.lists(expectations, max_size=4).map(tuple),
    cites,
    effectives,
    override=st.booleans(),
)

removals = st.builds(ast.Removal, names)

items = st.one_of(inputs, definitions, tables, schedules, summaries, examples, removals)
rule_files = st.builds(ast.RuleFile, st.just("<generated>"), headers, st.lists(items, max_size=6).map(tuple))
