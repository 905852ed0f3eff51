"""The formatter (engine/format.py) and `kokuho fmt`: canonical layout, the same AST, every comment kept."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from engine import ast
from engine import format as rule_format
from engine.errors import RuleSyntaxError
from engine.format import comment_texts, format_rule_file, format_text
from engine.parse import parse_text, source_tokens
from engine.years import Period
from tests import strategies as S

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "rules" / "tokyo").glob("*.rules"))
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fmt(text: str) -> str:
    return format_text(text, "t.rules")


# ---- expressions: fewest parentheses, same tree ------------------------------------------------

EXPRESSIONS = [
    # (as written, as formatted)
    ("(a + b) + c", "a + b + c"),
    ("a + (b + c)", "a + (b + c)"),  # + is associative, but the tree is kept as written
    ("(a - b) - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a / b) / c", "a / b / c"),
    ("a / (b / c)", "a / (b / c)"),
    ("a / (b * c)", "a / (b * c)"),
    ("(a * b) + c", "a * b + c"),
    ("a * (b + c)", "a * (b + c)"),
    ("a×b÷c", "a * b / c"),
    ("-(a + b)", "-(a + b)"),
    ("-(a)", "-a"),
    ("- -a", "--a"),
    ("- 5%", "-5%"),
    ("(-5%)[year]", "(-5%)[year]"),  # a name[...] binds tighter than the minus
    ("-x[year-1]", "-x[year - 1]"),
    ("a - -1.50pp", "a - -1.50pp"),
    ("x[(year - 1)]", "x[year - 1]"),
    ("(a + b)[year]", "(a + b)[year]"),
    ("not (a and b)", "not (a and b)"),
    ("(not a) and b", "not a and b"),
    ("a or (b and c)", "a or b and c"),
    ("(a or b) and c", "(a or b) and c"),
    ("not a = b", "not a = b"),
    ("(a < b) = true", "(a < b) = true"),  # one comparison at a time
    ("a == b", "a = b"),
    ("a ≤ b", "a <= b"),
    ("a ≥ b", "a >= b"),
    ("a ≠ b", "a != b"),
    ("(if a then b else c) + 1", "(if a then b else c) + 1"),
    ("f((if a then b else c), (d))", "f(if a then b else c, d)"),
    ("if (if a then b else c) then (d) else (if e then f else g)", "if if a then b else c then d else if e then f else g"),
    ("(if a then b else c) with x = 1", "(if a then b else c) with x = 1"),  # else the with would belong to c
    ("if a then b else (c with x = 1)", "if a then b else c with x = 1"),
    ("a with x = (b + c)", "a with x = (b + c)"),  # the value of a with is an atom
    ("a with x = (b = c)", "a with x = (b = c)"),
    ("a - (b with x = 1)", "a - (b with x = 1)"),  # kept for readers, though `with` binds to b
    ("a - b with x = 1", "a - (b with x = 1)"),
    ("a with x = (b with y = 1)", "a with x = (b with y = 1)"),
    ("(a with x = 1) with y = 2", "a with x = 1 with y = 2"),
    ("(a with x = 1) + b", "(a with x = 1) + b"),
    ("max(0円, (levy_medical - (levy_medical with alpha = 1)))", "max(0円, levy_medical - (levy_medical with alpha = 1))"),
    ("f()", "f()"),
    ("round((sum(income) / sum(insured)) / n, decimals(13), half_up)", "round(sum(income) / sum(insured) / n, decimals(13), half_up)"),
]


@pytest.mark.parametrize("written, formatted", EXPRESSIONS)
def test_expressions_get_the_fewest_parentheses_that_keep_the_tree(written, formatted):
    """Precedence, left-associativity of - and /, non-associative comparisons, the postfix `with` and the weak `if`
    are respected: the output has exactly the parentheses the tree needs (and around a `with` operand)."""
    source = f"ruleset T\ndefine d : ratio = {written}\n"
    out = fmt(source)
    assert out == f"ruleset T\ndefine d : ratio = {formatted}\n"
    assert parse_text(out, "t.rules") == parse_text(source, "t.rules")


LITERALS = [
    "462,100,000,000円",
    "462_100_000_000 yen",
    "1000 JPY",
    "0.5円",
    "1.50pp",
    "85％",
    "99.00%",
    "1_000",
    "0.9765625",
    "R6",
    "令和6年度",
    "FY2024",
    "ＦＹ2025",
    '"text with \\"quotes\\" and # hash"',
    '「かぎ括弧の"文字"」',
    "true",
]


@pytest.mark.parametrize("literal", LITERALS)
def test_literals_keep_their_spelling(literal):
    """Numbers, years and strings are written back exactly as the author spelled them."""
    assert fmt(f"ruleset T\ndefine d : ratio = f({literal})\n") == f"ruleset T\ndefine d : ratio = f({literal})\n"


# ---- the layout of every construct ---------------------------------------------------------------

LAYOUT_IN = """\
ruleset  T9  extends R6
  cite "c"   basis "b"
    period 令和6～8年度 status proposed   title  "題"
input municipal rate "収納率":percent columns "rate","収納率"
  effective R6..   cite "第5章"
override input prefecture total : yen
define prev "前年度" : percent=rate[year-1]   cite 「第5章」
table t "目標" : percent over prev  effective 令和6～8年度
  cite "表"
{
band [0%,85%) "85%未満" => prev+1.50pp "＋1.50pp"
band [85%, 100%] "85%以上100%以下" => prev "維持"
band (-1.5pp,0pp] => -prev
}
schedule alpha "α" : ratio { ..FY2023 : 1 "現状" FY2024: 0.86  R7-R8 : 0.5  FY2027.. : 0 "０" }
summary "集計" { bands t achieved total a, b tally c show d columns e, f }
remove old
example e1 "例" year R6 { municipality "131016" "千代田区" { rate[R5]=97.50%  rate=undefined }
prefecture { total = 1,000円 } expect "131016" prev = 97.50% expect prefecture total = 1,000 円 }
"""

LAYOUT_OUT = """\
ruleset T9 extends R6
  title "題"
  status proposed
  period 令和6～8年度
  basis "b"
  cite "c"
input municipal rate "収納率" : percent
  columns "rate", "収納率"
  effective R6..
  cite "第5章"
override input prefecture total : yen
define prev "前年度" : percent = rate[year - 1]
  cite 「第5章」
table t "目標" : percent over prev
  effective 令和6～8年度
  cite "表"
{
  band [0%, 85%)      "85%未満"         => prev + 1.50pp  "＋1.50pp"
  band [85%, 100%]    "85%以上100%以下" => prev           "維持"
  band (-1.5pp, 0pp]                    => -prev
}
schedule alpha "α" : ratio {
  ..FY2023:  1     "現状"
  FY2024:    0.86
  R7-R8:     0.5
  FY2027..:  0     "０"
}
summary "集計" {
  bands t achieved
  total a, b
  tally c
  show d
  columns e, f
}
remove old
example e1 "例" year R6 {
  municipality "131016" "千代田区" { rate[R5] = 97.50%  rate = undefined }
  prefecture { total = 1,000円 }
  expect "131016" prev = 97.50%
  expect prefecture total = 1,000 円
}
"""


def test_every_construct_gets_the_canonical_layout():
    """Header fields in the order title, status, period, basis, cite; clauses indented two spaces,
    effective before cite; `{` on its own line after clauses, else on the head line; band columns
    aligned by display width (a Japanese character is two columns: "85%未満" is 9 wide, so 9 spaces
    pad it to the 17 of "85%以上100%以下" plus one); schedule keys and values aligned; one summary
    line per row; example blocks keep the author's one-line `{ ... }`."""
    assert fmt(LAYOUT_IN) == LAYOUT_OUT


COMMENTS_IN = """\
# File comment.


# Header comment, after two blank lines (kept as one).
ruleset C1  # on the ruleset line
  # before status
  status proposed   # after status

# ---- section ----

input municipal rate : percent  # the rate
  columns "rate",   # first alias
    "率"
define a : ratio
  # between head and formula
  = max(1,   # inside the formula
    2)
  cite "x"  # on the cite
table t : percent over a {  # on the head

  # before the first band (the blank above goes: a block starts here)
  band [0%, 50%) => a  # first band
  # between bands

  band [50%, 100%] => a
  # before the closing brace
}  # after the brace
summary {
  total a,  # after a
    b
}
# at the end
"""

COMMENTS_OUT = """\
# File comment.

# Header comment, after two blank lines (kept as one).
ruleset C1  # on the ruleset line
  # before status
  status proposed   # after status

# ---- section ----

input municipal rate : percent  # the rate
  columns "rate",   # first alias
    "率"
define a : ratio
  # between head and formula
  = max(1, 2)  # inside the formula
  cite "x"  # on the cite
table t : percent over a {  # on the head
  # before the first band (the blank above goes: a block starts here)
  band [0%, 50%)   => a  # first band
  # between bands

  band [50%, 100%] => a
  # before the closing brace
}  # after the brace
summary {
  total a,  # after a
    b
}
# at the end
"""


def test_comments_stay_next_to_what_they_annotate():
    """A comment on its own line goes before the construct after it, indented like it (inside a
    block before `}`: like the rows); a comment ending a line stays at the end of that construct's
    line, at the author's column when there is room; blank lines are kept (one at most), except
    right after a `{`."""
    out = fmt(COMMENTS_IN)
    assert out == COMMENTS_OUT
    assert comment_texts(out) == comment_texts(COMMENTS_IN)


def test_a_comment_in_a_string_is_text_and_a_comment_after_it_is_kept():
    """'#' inside "..." or 「...」 is not a comment; the real comment after such a string survives."""
    source = 'ruleset T\n  cite "a#b"  # real\n  title 「c#d」\n'
    assert fmt(source) == 'ruleset T\n  title 「c#d」\n  cite "a#b"  # real\n'


def test_two_comments_that_end_joined_lines_keep_their_order():
    """Lines joined into one can bring two end-of-line comments together: the second goes on its own
    line, after the first and before what followed it."""
    source = 'ruleset T\ndefine a : ratio = max(1,  # one\n  # two\n  2)  # three\n  cite "x"\n'
    assert fmt(source) == 'ruleset T\ndefine a : ratio = max(1, 2)  # one\n  # two\n  # three\n  cite "x"\n'


def test_terms_on_lines_of_their_own_keep_their_comments():
    """A sum whose terms the author wrote on lines of their own keeps one line per term, each with its comment."""
    source = 'ruleset T\ndefine a : ratio = 1  # one\n  # two\n  + 2  # three\n  cite "x"\n'
    assert fmt(source) == 'ruleset T\ndefine a : ratio\n  = 1  # one\n    # two\n    + 2  # three\n  cite "x"\n'


AUTHOR_CHOICES = [
    # a formula the author put on a line of its own stays there, even when short
    ("define a : ratio\n  = b\n", "define a : ratio\n  = b\n"),
    # ... and one the author wrote on the head line stays there while it fits in 140 columns
    ("define a : ratio = " + " + ".join(["bb"] * 24) + "\n", "define a : ratio = " + " + ".join(["bb"] * 24) + "\n"),
    # longer than 140 columns: the formula moves to a line of its own
    ("define a : ratio = " + " + ".join(["bb"] * 26) + "\n", "define a : ratio\n  = " + " + ".join(["bb"] * 26) + "\n"),
    # an `if` spread over lines gets one branch per line, aligned under `if`
    (
        'define s : text = if a then "x"\n elif b then "y" else "z"\n',
        'define s : text\n  = if a then "x"\n    elif b then "y"\n    else "z"\n',
    ),
    # ... and one written on one line stays on one line
    ('define s : text = if a then "x" elif b then "y" else "z"\n', 'define s : text = if a then "x" elif b then "y" else "z"\n'),
    # the terms of a sum (a product, an and/or chain) the author wrote on several lines keep those lines,
    # each after the first led by its operator
    ("define a : ratio = b\n  - c\n  + d * e\n", "define a : ratio\n  = b\n    - c\n    + d * e\n"),
    ("define a : ratio\n  = b - c +\n  d\n", "define a : ratio\n  = b - c\n    + d\n"),
    ("define a : bool = b and\n  c and d\n", "define a : bool\n  = b\n    and c and d\n"),
    # ... but a break inside parentheses or a function's arguments is not kept
    ("define a : ratio = max(b,\n  c) + d\n", "define a : ratio = max(b, c) + d\n"),
    # a band the author broke keeps its result and wording on lines of their own
    (
        'table t : percent over a {\n  band [0%, 1%) "l" => a  "w"\n  band [1%, 2%) "m"\n => a "v"\n}\n',
        'table t : percent over a {\n  band [0%, 1%)  "l" => a  "w"\n  band [1%, 2%)  "m"\n    => a\n    "v"\n}\n',
    ),
    # a list of names keeps the author's line breaks
    ("summary {\n  show a, b,\n  c\n}\n", "summary {\n  show a, b,\n    c\n}\n"),
    # a line of names longer than 100 columns is wrapped
    (
        "summary {\n  show " + ", ".join(f"name_{i:02d}" for i in range(12)) + "\n}\n",
        "summary {\n  show " + ", ".join(f"name_{i:02d}" for i in range(10)) + ",\n    name_10, name_11\n}\n",
    ),
    # example assignments keep the author's lines, two spaces apart
    (
        'example e year R6 {\n  municipality "1" "x" {\n  a = 1 b = 2\n c = 3 }\n}\n',
        'example e year R6 {\n  municipality "1" "x" {\n    a = 1  b = 2\n    c = 3\n  }\n}\n',
    ),
]


@pytest.mark.parametrize("written, formatted", AUTHOR_CHOICES)
def test_the_authors_line_breaks_are_kept_where_the_ast_cannot_decide(written, formatted):
    """Breaks before a formula, inside an `if`, in a band, a list or an example stay the author's;
    only over-long lines are broken (140 columns for a formula, 100 for a list of names)."""
    out = fmt("ruleset T\n" + written)
    assert out == "ruleset T\n" + formatted
    assert fmt(out) == out


def test_a_file_built_without_source_gets_the_default_layout():
    """An AST with no source text (no comments, no author's choices): a blank line between groups of
    items, an `if` with `elif` one branch per line, periods as FY ranges, text in double quotes."""
    number = lambda text, value, unit: ast.Number(Fraction(value), unit, text)  # noqa: E731
    rule_file = ast.RuleFile(
        "a.rules",
        ast.Header("A1", None, "題", "proposed", Period(2024, 2026), None, None),
        (
            ast.InputDecl("rate", "municipal", "収納率", "percent", ("rate", "率"), None, None),
            ast.InputDecl("n", "municipal", None, "count", (), None, None),
            ast.Definition(
                "d",
                None,
                "text",
                ast.If(
                    (
                        (ast.Binary(">", ast.Ref("rate"), number("90%", Fraction(9, 10), "percent")), ast.Text("高")),
                        (ast.Bool(True), ast.Text('"q"')),
                    ),
                    ast.Text("低"),
                ),
                "第1章",
                Period(2024, None),
            ),
            ast.Schedule(
                "s",
                None,
                "ratio",
                (
                    ast.Entry(Period(None, 2023), number("1", 1, "number"), None),
                    ast.Entry(Period(2024, 2026), number("0.5", Fraction(1, 2), "number"), "半分"),
                    ast.Entry(Period(2027, 2027), number("0", 0, "number"), None),
                ),
                None,
                None,
            ),
            ast.Removal("x"),
        ),
    )
    out = format_rule_file(rule_file)
    assert (
        out
        == """\
ruleset A1
  title "題"
  status proposed
  period FY2024-FY2026

input municipal rate "収納率" : percent
  columns "rate", "率"
input municipal n : count

define d : text
  = if rate > 90% then "高"
    elif true then "\\"q\\""
    else "低"
  effective FY2024..
  cite "第1章"

schedule s : ratio {
  ..FY2023:       1
  FY2024-FY2026:  0.5  "半分"
  FY2027:         0
}

remove x
"""
    )
    assert parse_text(out, "a.rules") == rule_file


def test_an_empty_example_keeps_a_line():
    """`prefecture { }` is the only line of this example: the AST has nothing, the output must still parse."""
    assert fmt("ruleset T\nexample e year FY2025 { prefecture { } }\n") == "ruleset T\nexample e year FY2025 {\n  prefecture {}\n}\n"


def test_two_prefecture_blocks_are_refused_rather_than_merged_away():
    """Two `prefecture { }` blocks in one example are a syntax finding, so no block is ever lost."""
    source = "ruleset T\nexample e year R6 {\n  prefecture { a = 1 }\n  prefecture { b = 2 }\n}\n"
    with pytest.raises(RuleSyntaxError) as e:
        fmt(source)
    assert str(e.value) == (
        "t.rules:4:3: duplicate-field: 'prefecture' is given twice for one example; put all prefecture values in one block\n"
        "      prefecture { b = 2 }\n"
        "      ^"
    )


# ---- idempotency and meaning, on fixtures and the shipped files ----------------------------------

FIXTURES = [LAYOUT_IN, LAYOUT_OUT, COMMENTS_IN] + [f"ruleset T\n{w}" for w, _ in AUTHOR_CHOICES]


@pytest.mark.parametrize("source", FIXTURES + [p.read_text(encoding="utf-8") for p in SHIPPED], ids=lambda s: s.split("\n", 1)[0][:30])
def test_formatting_is_idempotent_keeps_the_meaning_and_every_comment(source):
    """format(format(x)) == format(x); parse(format(x)) == parse(x) (spans aside); every comment of x
    is in format(x), in the same order."""
    once = fmt(source)
    assert fmt(once) == once
    assert parse_text(once, "t.rules") == parse_text(source, "t.rules")
    assert comment_texts(once) == comment_texts(source)


@settings(PROPERTY, max_examples=150)
@given(S.rule_files)
def test_property_random_files_round_trip(rule_file):
    """Any AST the parser can produce is formatted to text that parses back to it, and that text is
    already canonical."""
    text = format_rule_file(rule_file)
    assert parse_text(text, rule_file.path) == rule_file
    assert format_text(text, rule_file.path) == text


@settings(PROPERTY, max_examples=300)
@given(S.expressions)
def test_property_random_expressions_round_trip(expr):
    """Expressions alone, many more of them: the printed text parses back to the same tree."""
    rule_file = ast.RuleFile(
        "<e>", ast.Header("T", None, None, None, None, None, None), (ast.Definition("d", None, "ratio", expr, None, None),)
    )
    text = format_rule_file(rule_file)
    assert parse_text(text, "<e>") == rule_file
    assert format_text(text, "<e>") == text


@st.composite
def _commented(draw, sources):
    """A source with comments added at random: on lines of their own and at the ends of lines."""
    source = draw(sources)
    lines = source.rstrip("\n").split("\n")
    spots = draw(st.lists(st.tuples(st.integers(0, len(lines)), st.booleans()), max_size=8))
    out = []
    for i, line in enumerate(lines + [None]):
        out += [f"  # own {k}" for k, (at, own) in enumerate(spots) if at == i and own]
        ends = [f"# end {k}" for k, (at, own) in enumerate(spots) if at == i and not own]
        if line is not None:
            out.append(line + ("  " + " ".join(ends) if ends else ""))
        elif ends:
            out.append(" ".join(ends))
    return source, "\n".join(out) + "\n"


@settings(PROPERTY, max_examples=100)
@given(_commented(S.rule_files.map(format_rule_file)))
def test_property_comments_anywhere_are_kept_in_order(pair):
    """Comments added anywhere in a formatted random file: all kept, in order, the AST unchanged, and
    formatting twice gives the same text."""
    plain, commented = pair
    out = format_text(commented, "<c>")
    assert comment_texts(out) == comment_texts(commented)
    assert parse_text(out, "<c>") == parse_text(plain, "<c>")
    assert format_text(out, "<c>") == out


@st.composite
def _relaid(draw):
    """A random file's tokens joined by random whitespace, line breaks and comments."""
    rule_file = draw(S.rule_files)
    out = []
    for k, token in enumerate(source_tokens(format_rule_file(rule_file))):
        gap = draw(st.sampled_from([" ", " ", "\n", "\n\n   ", "\t", " # end {k}\n", "\n# own {k}\n  "]))
        out += [token.text, gap.format(k=k)]
    return rule_file, "".join(out)


@settings(PROPERTY, max_examples=100)
@given(_relaid())
def test_property_any_layout_of_the_tokens_formats_to_the_same_ast_with_every_comment(pair):
    """However the tokens are spread over lines, with comments between any two of them: the AST is
    unchanged, every comment kept in order, and the result is canonical (formatting it again is a no-op)."""
    rule_file, text = pair
    out = format_text(text, rule_file.path)
    assert parse_text(out, rule_file.path) == rule_file
    assert comment_texts(out) == comment_texts(text)
    assert format_text(out, rule_file.path) == out


@settings(PROPERTY, max_examples=8)
@given(_commented(st.sampled_from([p.read_text(encoding="utf-8") for p in SHIPPED])))
def test_property_comments_added_to_the_shipped_files_are_kept(pair):
    """The same on the shipped rules (few examples: each file takes a while to format)."""
    plain, commented = pair
    out = format_text(commented, "<s>")
    assert comment_texts(out) == comment_texts(commented)
    assert parse_text(out, "<s>") == parse_text(plain, "<s>")
    assert format_text(out, "<s>") == out


# ---- the command: kokuho fmt ---------------------------------------------------------------------

UGLY = "ruleset T\ndefine a : ratio=1  # one\n"
PRETTY = "ruleset T\ndefine a : ratio = 1  # one\n"


@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "rules"
    d.mkdir()
    (d / "a.rules").write_text(PRETTY, encoding="utf-8")
    (d / "b.rules").write_text(UGLY, encoding="utf-8")
    return d


def test_fmt_check_exits_1_listing_the_files_that_would_change_and_writes_nothing(rules_dir, capsys):
    """--check: exit 1 when a file would change, naming it; no file is touched."""
    assert cli.main(["fmt", "--check", "rules"]) == 1
    assert capsys.readouterr().err == "would reformat rules/b.rules\n1 of 2 rule files would be reformatted\n"
    assert (rules_dir / "b.rules").read_text(encoding="utf-8") == UGLY


def test_fmt_check_exits_0_when_everything_is_formatted(rules_dir, capsys):
    """--check on canonical files: exit 0, nothing listed."""
    assert cli.main(["fmt", "--check", "rules/a.rules"]) == 0
    assert capsys.readouterr().err == "0 of 1 rule file would be reformatted\n"


def test_fmt_rewrites_changed_files_in_place_keeping_their_permissions(rules_dir, capsys):
    """Plain fmt: the changed file is rewritten (atomically, same mode), the unchanged one is left
    alone, and a second run has nothing to do."""
    os.chmod(rules_dir / "b.rules", 0o640)
    before_a = (rules_dir / "a.rules").stat().st_mtime_ns
    assert cli.main(["fmt", "rules"]) == 0
    assert capsys.readouterr().err == "reformatted rules/b.rules\n1 of 2 rule files reformatted\n"
    assert (rules_dir / "b.rules").read_text(encoding="utf-8") == PRETTY
    assert (rules_dir / "b.rules").stat().st_mode & 0o777 == 0o640
    assert (rules_dir / "a.rules").stat().st_mtime_ns == before_a
    assert cli.main(["fmt", "--check", "rules"]) == 0


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(rules_dir, capsys):
    """--diff: the changes as a unified diff on stdout; exit 0 unless --check is given too."""
    assert cli.main(["fmt", "--diff", "rules"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "--- rules/b.rules\n"
        "+++ rules/b.rules (formatted)\n"
        "@@ -1,2 +1,2 @@\n"
        " ruleset T\n"
        "-define a : ratio=1  # one\n"
        "+define a : ratio = 1  # one\n"
    )
    assert (rules_dir / "b.rules").read_text(encoding="utf-8") == UGLY
    assert cli.main(["fmt", "--diff", "--check", "rules"]) == 1


def test_fmt_removes_a_byte_order_mark(rules_dir, capsys):
    """A BOM is read and dropped: the canonical file is plain UTF-8."""
    (rules_dir / "a.rules").write_bytes(b"\xef\xbb\xbf" + PRETTY.encode("utf-8"))
    assert cli.main(["fmt", "--check", "rules/a.rules"]) == 1
    assert cli.main(["fmt", "rules/a.rules"]) == 0
    assert (rules_dir / "a.rules").read_bytes() == PRETTY.encode("utf-8")


def test_fmt_on_a_syntax_error_exits_2_with_the_finding_and_writes_nothing(rules_dir, capsys):
    """A file that does not parse stops the run before anything is written, even the files that would change."""
    (rules_dir / "c.rules").write_text("ruleset T\ndefine a : ratio = \n", encoding="utf-8")
    assert cli.main(["fmt", "rules"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "rules/c.rules:2:20: syntax: unexpected end of file; expected 'false', 'if', 'not', 'true', 'year', (, -, a \"quoted text\", ...\n"
        "    define a : ratio = \n"
        "                       ^\n"
    )
    assert (rules_dir / "b.rules").read_text(encoding="utf-8") == UGLY


def test_fmt_of_a_missing_path_exits_2(rules_dir, capsys):
    """A path that does not exist is a usage error."""
    assert cli.main(["fmt", "nowhere.rules"]) == 2
    assert capsys.readouterr().err == "no-such-file: rule file or directory not found: nowhere.rules\n"


def test_a_formatter_bug_that_would_change_the_meaning_writes_nothing(rules_dir, capsys, monkeypatch):
    """Every result is parsed again and compared: were the printer to drop needed parentheses, fmt
    refuses (exit 2) and leaves the file as it was."""
    (rules_dir / "b.rules").write_text("ruleset T\ndefine a : ratio = (1 + 2) * 3\n", encoding="utf-8")
    monkeypatch.setattr(rule_format, "_prec", lambda e: 11)
    assert cli.main(["fmt", "rules/b.rules"]) == 2
    assert capsys.readouterr().err == (
        "rules/b.rules: format-internal: formatting would change the meaning of this file; "
        "nothing was written (a bug in kokuho fmt: please report it)\n"
    )
    assert (rules_dir / "b.rules").read_text(encoding="utf-8") == "ruleset T\ndefine a : ratio = (1 + 2) * 3\n"


def test_shipped_rules_are_canonical():
    """`kokuho fmt --check rules/tokyo` passes: the shipped files are in the layout fmt produces."""
    results = rule_format.format_paths(None)
    assert [r.path for r in results if r.changed] == []
