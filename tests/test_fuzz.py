"""Property and fuzz tests (hypothesis, derandomized so CI runs the same cases every time).

- 2,000 mutated copies of the shipped rule files (lines deleted, duplicated, swapped; characters
  and tokens changed) and 500 mutated data files go through parse, check, load, evaluate and
  render: each gives a result or one of our errors (KokuhoError), never another exception.
- Formatting a mutated rule file that parses is idempotent.
- On random valid data: evaluation is deterministic and independent of row order, levies
  conserve the prefecture total up to the reported residual (0 <= residual < municipalities),
  and every input municipality appears in every output, every year.
- Hostile inputs (issue 14): rule files built to blow up the checks' cost check in bounded time;
  formula payloads in municipality names and rule labels never reach a CSV or a workbook as a
  live formula; odd line separators (U+2028, form feeds, CR alone) never move a finding's caret
  off the line the parser counts.
"""

from __future__ import annotations

import csv
import io
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import api
from engine import data as data_mod
from engine.api import _check_all
from engine.check import check_rules
from engine.errors import DataError, KokuhoError, UsageError
from engine.evaluate import Evaluator
from engine.parse import parse_text
from engine.render import render_eval, render_summary
from engine.results import evaluate
from engine.summary import summarise
from engine.values import is_undef
from engine.versions import RuleSet, default_rules_dir
from tests.conftest import MUNICIPAL_HEADER, PREFECTURE_HEADER, municipal_row, prefecture_row, write_csv

FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TEXT = {v: (default_rules_dir() / f"{v}.rules").read_text(encoding="utf-8") for v in ("R3", "R6")}
PARSED = {v: parse_text(t, f"{v}.rules") for v, t in TEXT.items()}
YEARS = (2022, 2023, 2024)
TOWNS = [("131016", "千代田区", "96.50"), ("131041", "新宿区", ""), ("134210", "小笠原村", "98.00")]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> tuple[Path, Path]:
    """3 municipalities × FY2022-FY2024 (新宿区 without a collection rate, so undefined paths run too)."""
    d = tmp_path_factory.mktemp("fuzz-data")
    m = write_csv(
        d / "m.csv",
        MUNICIPAL_HEADER,
        [municipal_row(y, c, n, collection_rate=r, insured=1000 + 7 * i) for y in YEARS for i, (c, n, r) in enumerate(TOWNS)],
    )
    p = write_csv(d / "p.csv", PREFECTURE_HEADER, [prefecture_row(y) for y in YEARS])
    return m, p


# ---- mutations ----------------------------------------------------------------------------------

# Characters and tokens that matter to the grammar, the years, the units and the encodings.
CHARS = list('[](){}"%,:=<>-+*/_.#0123456789aexyzR 　\t\n\\') + [
    "pp",
    "円",
    "％",
    "「",
    "」",
    "年度",
    "～",
    "..",
    "=>",
    "\x00",
    "\ufeff",
    "é",
]
TOKENS = sorted(set(re.findall(r"\w+|[^\w\s]+", TEXT["R3"] + TEXT["R6"]))) + [
    "0",
    "0%",
    "0円",
    "9" * 30,
    "year",
    "year + 1",
    "year - 100",
    "FY1900",
    "R99",
    "..FY2100",
    "1/0",
    "with",
    "alpha = 2",
    "decimals(30)",
    "not",
    "if",
    "then",
    "elif",
    "else",
    "remove",
    "override",
    "effective R6-R8",
    "undefined",
    "true",
    "false",
]
_index = st.integers(0, 10**6)
MUTATION = st.one_of(
    st.tuples(st.sampled_from(["delete line", "duplicate line", "delete char"]), _index, st.just(0), st.just("")),
    st.tuples(st.just("swap lines"), _index, _index, st.just("")),
    st.tuples(st.sampled_from(["replace char", "insert char"]), _index, st.just(0), st.sampled_from(CHARS)),
    st.tuples(st.just("replace token"), _index, st.just(0), st.sampled_from(TOKENS)),
    st.tuples(st.sampled_from(["swap tokens"]), _index, _index, st.just("")),
)
MUTATIONS = st.lists(MUTATION, min_size=1, max_size=3)


def mutate(text: str, mutations) -> str:
    """Apply (operation, i, j, new text) mutations; indexes wrap around the text's lines, characters or tokens."""
    for op, i, j, new in mutations:
        if op.endswith("line"):
            lines = text.split("\n")
            k = i % len(lines)
            lines[k : k + 1] = [] if op == "delete line" else [lines[k], lines[k]]
            text = "\n".join(lines)
        elif op == "swap lines":
            lines = text.split("\n")
            a, b = i % len(lines), j % len(lines)
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif op.endswith("char"):
            k = i % (len(text) + 1)
            text = text[:k] + new + text[k + (op != "insert char") :] if op != "delete char" else text[:k] + text[k + 1 :]
        else:
            parts = re.split(r"(\w+|[^\w\s]+)", text)
            spots = [n for n, p in enumerate(parts) if p and not p.isspace()] or [0]
            a, b = spots[i % len(spots)], spots[j % len(spots)]
            if op == "replace token":
                parts[a] = new
            else:
                parts[a], parts[b] = parts[b], parts[a]
            text = "".join(parts)
    return text


def run_rules(files, m: Path, p: Path) -> None:
    """What `kokuho check` and `kokuho eval --year 2024 [--summary]` do with these files, for every version."""
    rs = RuleSet(files)
    errors = [f for f in _check_all(rs) if f.severity == "error"]
    if errors:
        raise KokuhoError(errors)
    session = api.Session(rs, (str(m), str(p)))  # as `kokuho eval` does, whatever path Session.evaluate takes
    for vid in rs.version_ids:
        version = rs.version(vid)
        result = session.evaluate(version, [2024])
        render_eval(result, "csv")
        render_summary(result, summarise(result), "table")


def mutated_rules_give_a_result_or_our_error(version: str, mutations, small_data) -> None:
    text = mutate(TEXT[version], mutations)
    try:
        files = [f for v, f in PARSED.items() if v != version] + [parse_text(text, f"{version}.rules")]
        run_rules(files, *small_data)
    except KokuhoError as e:  # one of ours: findings with a code and a message, already rendered into str(e)
        assert e.findings and all(f.code and f.message for f in e.findings) and str(e)


@settings(max_examples=1200, **FUZZ)
@given(mutations=MUTATIONS)
def test_mutated_r6_gives_a_result_or_our_error(small_data, mutations):
    """1,200 mutated copies of R6.rules (with R3 as shipped): parse, check, evaluate and render raise nothing but KokuhoError."""
    mutated_rules_give_a_result_or_our_error("R6", mutations, small_data)


@settings(max_examples=800, **FUZZ)
@given(mutations=MUTATIONS)
def test_mutated_r3_gives_a_result_or_our_error(small_data, mutations):
    """800 mutated copies of R3.rules (the base that R6 extends): same property, so 2,000 mutated rule files in all."""
    mutated_rules_give_a_result_or_our_error("R3", mutations, small_data)


try:
    from engine import format as format_mod
except ImportError:  # the formatter is another piece of work; its idempotence is tested once it exists
    format_mod = None


@pytest.mark.skipif(format_mod is None, reason="engine/format.py does not exist yet")
@settings(max_examples=100, **FUZZ)
@given(version=st.sampled_from(["R3", "R6"]), mutations=MUTATIONS)
def test_formatting_is_idempotent(version, mutations):
    """A mutated rule file that parses formats without error, and formatting the result changes nothing."""
    text = mutate(TEXT[version], mutations)
    try:
        parse_text(text, f"{version}.rules")
    except KokuhoError:
        return
    once = format_mod.format_text(text, f"{version}.rules")
    assert format_mod.format_text(once, f"{version}.rules") == once


# ---- mutated data files ------------------------------------------------------------------------------

BYTES = [c.encode() for c in ',"%-.+0123456789e/\n\r\t #x円％，ー１'] + [
    b"\xff",
    b"\x00",
    b"\x82\xa0",
    b"\xef\xbb\xbf",
    b"",
    b"9" * 40,
    b"1e999999999",
    b'"\n"',
    b"-1",
    b"105",
    b"R6",
    b"131017",
    b": ",
    b"- ",
    b"{",
    b"[",
    b"!!python/object/apply:os.system",
    b"&a",
    b"*a",
    b"~",
    b"null",
    b"2024-04-01",
]
DATA_MUTATION = st.one_of(
    st.tuples(st.sampled_from(["delete line", "duplicate line", "delete byte"]), _index, _index, st.just(b"")),
    st.tuples(st.just("swap lines"), _index, _index, st.just(b"")),
    st.tuples(st.sampled_from(["replace byte", "insert bytes", "replace cell"]), _index, _index, st.sampled_from(BYTES)),
)


def mutate_bytes(raw: bytes, mutations) -> bytes:
    for op, i, j, new in mutations:
        lines = raw.split(b"\n")
        k = i % len(lines)
        if op == "delete line":
            del lines[k]
        elif op == "duplicate line":
            lines.insert(k, lines[k])
        elif op == "swap lines":
            b = j % len(lines)
            lines[k], lines[b] = lines[b], lines[k]
        elif op == "replace cell":
            cells = lines[k].split(b",")
            cells[j % len(cells)] = new
            lines[k] = b",".join(cells)
        else:
            raw = b"\n".join(lines)
            n = i % (len(raw) + 1)
            raw = raw[:n] + new + raw[n + (op == "replace byte") :] if op != "delete byte" else raw[:n] + raw[n + 1 :]
            continue
        raw = b"\n".join(lines)
    return raw


@pytest.fixture(scope="module")
def data_inputs(small_data, tmp_path_factory):
    m, p = small_data
    rows = list(csv.DictReader(io.StringIO(m.read_text(encoding="utf-8-sig"))))
    yaml_rows = "".join("- {" + ", ".join(f"{k}: '{v}'" for k, v in r.items() if v) + "}\n" for r in rows)
    originals = {"m.csv": m.read_bytes(), "p.csv": p.read_bytes(), "m.yaml": yaml_rows.encode("utf-8")}
    rules = RuleSet.from_paths([default_rules_dir()])
    return originals, tmp_path_factory.mktemp("fuzz-mutated"), rules, rules.version("R6")


@settings(max_examples=500, **FUZZ)
@given(which=st.sampled_from(["m.csv", "m.csv", "m.yaml", "p.csv"]), mutations=st.lists(DATA_MUTATION, min_size=1, max_size=3))
def test_mutated_data_gives_a_result_or_a_data_error(data_inputs, which, mutations):
    """500 mutated data files (CSV and YAML, municipal and prefecture): a result, or DataError / UsageError."""
    originals, d, r6_rules, r6 = data_inputs
    m_name = "m.yaml" if which == "m.yaml" else "m.csv"
    (d / m_name).write_bytes(mutate_bytes(originals[m_name], mutations) if which != "p.csv" else originals[m_name])
    (d / "p.csv").write_bytes(mutate_bytes(originals["p.csv"], mutations) if which == "p.csv" else originals["p.csv"])
    session = api.Session(r6_rules, (str(d / m_name), str(d / "p.csv")))
    try:
        data = session.data_for(r6)
    except (DataError, UsageError):
        return
    result = session.evaluate(r6, list(data.years) or [2024])
    render_eval(result, "csv")
    render_summary(result, summarise(result), "table")
    assert len(result.rows) == len(data.municipalities) * len(result.years)


# ---- properties on random valid data ---------------------------------------------------------------


def code_of(n: int) -> str:
    c5 = f"13{n:03d}"
    return c5 + str(data_mod.check_digit(c5))


@st.composite
def datasets(draw, *, holes: bool = False):
    """1-8 municipalities × FY2022-FY2024 with random positive figures; with holes, empty cells and missing rows."""
    ns = draw(st.lists(st.integers(100, 999), min_size=1, max_size=8, unique=True))
    amount = st.integers(0, 10**12)
    rows = []
    for n in ns:
        for y in YEARS:
            if holes and draw(st.integers(0, 9)) == 0:
                continue  # no row for this municipality-year
            row = municipal_row(
                y,
                code_of(n),
                f"市{n}",
                # 0 or at least 1.50: a file whose rates are all below 1.5 is refused as fractions (data-rate-as-fraction)
                collection_rate=f"{draw(st.just(0) | st.integers(150, 10000)) / 100:.2f}",
                insured=draw(st.integers(1, 10**6)),
                households=draw(st.integers(1, 10**6)),
                income=draw(amount),
                insured_40_64=draw(st.integers(1, 10**6)),
                income_40_64=draw(amount),
                medical_index=f"{draw(st.integers(5000, 15000)) / 10000:.4f}",
                deficit_transfer=draw(st.integers(0, 10**9)),
                advance_appropriation=draw(st.integers(0, 10**9)),
            )
            if holes:
                for field in ("collection_rate", "income", "insured", "medical_index"):
                    if draw(st.integers(0, 9)) == 0:
                        row[field] = ""
            rows.append(row)
    if not rows:
        rows.append(municipal_row(2024, code_of(ns[0]), f"市{ns[0]}"))
    pref = [
        prefecture_row(
            y,
            levy_medical=draw(amount),
            levy_support=draw(amount),
            levy_care=draw(amount),
            national_income_per_insured=draw(st.integers(1, 10**7)),
        )
        for y in YEARS
    ]
    return rows, pref


def load_rows(tmp_path_factory, version, rows, pref, *, shuffle_seed: int | None = None):
    d = tmp_path_factory.mktemp("prop", numbered=True)
    if shuffle_seed is not None:
        rows = rows[:]
        random.Random(shuffle_seed).shuffle(rows)
    m = write_csv(d / "m.csv", MUNICIPAL_HEADER, rows)
    p = write_csv(d / "p.csv", PREFECTURE_HEADER, pref)
    return data_mod.load(m, p, version.inputs())


@pytest.fixture(scope="module")
def versions():
    rs = RuleSet.from_paths([default_rules_dir()])
    return {v: rs.version(v) for v in ("R3", "R6")}


PARTS = (
    ("levy_medical", "residual_medical", "total_medical"),
    ("levy_support", "residual_support", "total_support"),
    ("levy_care", "residual_care", "total_care"),
)


@settings(max_examples=100, **FUZZ)
@given(version=st.sampled_from(["R3", "R6"]), sample=datasets())
def test_levies_conserve_the_prefecture_total(tmp_path_factory, versions, version, sample):
    """Σ_i levy_k,i + residual_k = T_k and 0 <= residual_k < n (each of n floors loses less than 1円), or, when a
    share cannot be computed (Σ income = 0 divides by zero), every levy of that part is undefined with a reason."""
    rows, pref = sample
    v = versions[version]
    data = load_rows(tmp_path_factory, v, rows, pref)
    ev = Evaluator(v, data)
    n = len(data.municipalities)
    for levy, residual, total in PARTS:
        levies, rest = ev.column(levy, 2024), ev.value(residual, 2024)
        if any(is_undef(x) for x in levies):
            assert all(is_undef(x) and x.reason for x in levies) and is_undef(rest)
            continue
        assert sum(levies) + rest == data.prefecture[total][2024]
        assert 0 <= rest < n
        assert all(x >= 0 and Fraction(x).denominator == 1 for x in levies)


@settings(max_examples=60, **FUZZ)
@given(sample=datasets(holes=True))
def test_every_municipality_in_every_output(tmp_path_factory, versions, sample):
    """Missing cells and missing municipality-years never drop a row: each year of the evaluation lists every input
    municipality once, in the result, the CSV and the summary's count; an empty value always has its reason."""
    rows, pref = sample
    v = versions["R6"]
    data = load_rows(tmp_path_factory, v, rows, pref)
    codes = sorted({r["code"] for r in rows})
    assert [m.code for m in data.municipalities] == codes
    result = evaluate(v, data, list(YEARS))
    for y in YEARS:
        assert [r.municipality.code for r in result.rows if r.year == y] == codes
    table = list(csv.DictReader(io.StringIO(render_eval(result, "csv", headers="en").lstrip("\ufeff"))))
    assert [(int(r["fiscal_year"]), r["code"]) for r in table] == [(y, c) for y in YEARS for c in codes]
    for r in table:
        blanks = [c for c in result.columns if r[c] == ""]
        assert all(f"{c}: " in r["undefined"] for c in blanks)


@settings(max_examples=30, **FUZZ)
@given(sample=datasets(holes=True), seed=st.integers(0, 2**16))
def test_evaluation_is_deterministic(tmp_path_factory, versions, sample, seed):
    """The same inputs give the same bytes, twice over and with the data rows in another order."""
    rows, pref = sample
    v = versions["R6"]
    outputs = []
    for shuffle in (None, None, seed):
        data = load_rows(tmp_path_factory, v, rows, pref, shuffle_seed=shuffle)
        result = evaluate(v, data, list(YEARS))
        outputs.append((render_eval(result, "csv"), render_eval(result, "json"), render_summary(result, summarise(result), "table")))
    assert outputs[0] == outputs[1] == outputs[2]


# ---- crashes the fuzzing found, each now our error -------------------------------------------------------


def test_two_open_ended_schedule_entries(tmp_path):
    """`..: 1` twice in one schedule: the schedule-duplicate message took min() of no years (ValueError)."""
    text = TEXT["R3"].replace('  ..:  1  "α＝１"\n', '  ..:  1  "α＝１"\n  ..: 1\n', 1)
    line = text.splitlines().index('  ..:  1  "α＝１"') + 1
    rs = RuleSet([parse_text(text, "R3.rules"), PARSED["R6"]])
    assert [(f.code, f.message) for f in check_rules(rs)] == [
        ("schedule-duplicate", f"schedule 'alpha' gives every year twice: in .. (line {line}) and in ..")
    ]


@pytest.mark.parametrize(
    "raw, code, message",
    [
        # A UTF-8 byte order mark, then a CP932 byte (0x82 0xa0 is あ): strict UTF-8 decoding raised UnicodeDecodeError.
        (
            b"\xef\xbb\xbffiscal_year,code,name\n2024,131016,\x82\xa0\n",
            "data-encoding",
            "the file is neither UTF-8 nor CP932 (Shift_JIS) (bad byte at offset 37); save it from Excel as 'CSV UTF-8'",
        ),
        # A carriage return alone inside an unquoted cell: Python's csv module raised _csv.Error.
        (
            b"fiscal_year,code,name\n2024,131016,a\rb,x\n",
            "data-csv",
            "this line cannot be read as CSV: a line break (carriage return) inside a cell that is not in quotes",
        ),
    ],
)
def test_data_crashes_found_by_fuzzing(tmp_path, versions, raw, code, message):
    (tmp_path / "m.csv").write_bytes(raw)
    p = write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, [prefecture_row(2024)])
    with pytest.raises(DataError) as e:
        data_mod.load(tmp_path / "m.csv", p, versions["R6"].inputs())
    (f,) = e.value.findings
    assert (f.code, f.message, f.span.line) == (code, message, 2)


# ---- hostile inputs (issue 14) -------------------------------------------------------------------------------

# Resource blow-up in check: files with thousands of arguments, lines, names or links, in random mixes. The check
# must stay linear: each file (up to ~8,000 constructs) checks in a few seconds and gives findings or none.
BLOWUPS = {
    "max() of n arguments, a bare number among them": lambda n: "define b : percent = max(" + ", ".join(["r"] * n) + ", 5)\n",
    "n unknown names": lambda n: "".join(f"define d{i} : percent = zz{i}\n" for i in range(n)),
    "n overlapping schedule lines": lambda n: "schedule s : ratio {\n" + "".join(f"  ..: {i}\n" for i in range(n)) + "}\n",
    "a chain of n definitions, each with a mean()": lambda n: (
        "define c0 : percent = r\n" + "".join(f"define c{i} : percent = c{i - 1} + mean(c{i - 1})\n" for i in range(1, n))
    ),
    "n overrides of nothing": lambda n: "".join(f"override define o{i} : percent = r\n" for i in range(n)),
    "n definitions with a fractional year index": lambda n: "".join(f"define f{i} : percent = r[year - {i}/3]\n" for i in range(1, n)),
}


@settings(max_examples=12, **FUZZ)
@given(
    parts=st.lists(st.tuples(st.sampled_from(sorted(BLOWUPS)), st.integers(500, 4000)), min_size=1, max_size=3, unique_by=lambda t: t[0])
)
def test_check_cost_stays_bounded(tmp_path_factory, parts):
    """Rule files built to make the checks quadratic (pairwise argument checks, did-you-mean searches, overlap
    tests, scope walks): each checks within 10 s, with our findings only."""
    import time

    from engine.api import check

    d = tmp_path_factory.mktemp("blowup", numbered=True)
    text = 'ruleset X\ninput municipal r "r" : percent\n' + "".join(BLOWUPS[k](n) for k, n in parts)
    (d / "X.rules").write_text(text, encoding="utf-8")
    start = time.monotonic()
    report = check([d / "X.rules"])
    assert time.monotonic() - start < 10
    assert all(f.code and f.message for f in report.findings)


PAYLOADS = [
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "'",
    '=HYPERLINK("http://example.invalid","x")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "+1",
    "=1",
    "'=1",
    "-",
    "<script>",
    "#N/A",
    "\x07",
]


@settings(max_examples=30, **FUZZ)
@given(
    names=st.lists(st.tuples(st.sampled_from(PAYLOADS), st.text(alphabet="abc=+-@'\"(),;千代田 ", max_size=8)), min_size=3, max_size=3),
    label=st.tuples(st.sampled_from(PAYLOADS), st.text(alphabet="abc=+-@'(),;目標 ", max_size=8)),
)
def test_formula_payloads_never_reach_a_spreadsheet(small_data, tmp_path_factory, names, label):
    """Random formula payloads as the three municipalities' names and as a rule label: every CSV cell that a
    spreadsheet would read as a formula is neutralised and restore() gives the text back; no workbook cell is a
    formula."""
    import zipfile

    from engine import xlsx
    from engine.render import needs_neutralising, restore

    d = tmp_path_factory.mktemp("payload", numbered=True)
    m, p = small_data
    rows = list(csv.reader(io.StringIO(m.read_text(encoding="utf-8-sig"))))
    towns = {}
    for r in rows[1:]:
        towns.setdefault(r[2], "".join(names[len(towns) % 3]) + f" {len(towns)}")
        r[2] = towns[r[2]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # as Excel: a CR in a name is then in quotes
    (d / "m.csv").write_bytes(buf.getvalue().encode("utf-8"))
    hostile = "".join(label).replace("\\", "").replace("\n", "").replace("\r", "")
    text = TEXT["R3"].replace('"目標収納率"', "「" + hostile.replace("」", "") + "」", 1)
    rs = RuleSet([parse_text(text, "R3.rules")])
    session = api.Session(rs, (str(d / "m.csv"), str(p)))
    version = rs.version("R3")
    result = session.evaluate(version, [2024], ["target_rate", "achieved"])
    for out in (render_eval(result, "csv"), render_eval(result, "csv", headers="ja")):
        cells = [c for row in csv.reader(io.StringIO(out.lstrip("\ufeff"))) for c in row]
        assert not [c for c in cells if needs_neutralising(c) and not c.startswith("'")]
        assert {t.strip() for t in towns.values()} <= {restore(c) for c in cells}  # names as the data file gives them: stripped
    book = zipfile.ZipFile(io.BytesIO(xlsx.eval_workbook(result)))
    assert not [n for n in book.namelist() if n.startswith("xl/worksheets/") and b"<f>" in book.read(n)]


SEPARATORS = ["\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c", "\r", "\r\n"]


@settings(max_examples=100, **FUZZ)
@given(spots=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(SEPARATORS)), min_size=1, max_size=4), cr_only=st.booleans())
def test_odd_line_separators_keep_positions(spots, cr_only):
    """R6.rules with odd separators put into its comments (or every line end turned into a CR), and a name misspelt
    in a formula: the finding's line is the one the parser counts (only a line feed, or a CR of a CR-only file, ends
    a line), and the line shown above the caret holds the misspelt name at the caret's column."""
    lines = TEXT["R6"].split("\n")
    (k,) = [i for i, line in enumerate(lines) if "levy_total" in line and line.startswith("define")]
    lines[k] = lines[k].replace("levy_total", "levy_totl", 1)
    comments = [i for i, line in enumerate(lines) if "#" in line]
    for at, sep in spots:
        i = comments[at % len(comments)]
        cut = lines[i].index("#") + 1 + at % max(1, len(lines[i]) - lines[i].index("#"))
        if sep in ("\r", "\r\n", "\x0b", "\x0c"):
            sep = sep if sep != "\r" else " \r"  # a CR alone inside a comment ends the line (as in a CR-only file)
        lines[i] = lines[i][:cut] + sep + lines[i][cut:]
    text = ("\r" if cr_only else "\n").join(lines)
    try:
        rs = RuleSet([PARSED["R3"], parse_text(text, "R6.rules")])
        findings = [f for f in _check_all(rs) if f.code == "unknown-name"]
    except KokuhoError as e:  # a separator that is not whitespace to the parser (\x0b outside a comment cannot happen here)
        findings = [f for f in e.findings if f.code == "unknown-name"]
        assert findings or e.findings
        return
    (f,) = findings
    shown = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert f.source_line == shown[f.span.line - 1]
    assert f.source_line[f.span.column - 1 :].startswith("levy_totl")
