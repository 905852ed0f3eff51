"""`kokuho diff`: per-municipality changes with their causes, the diff summary, the rule diff, the CLI.

Hand-made data for FY2025 (R7), three municipalities with equal income and insured, so that
each one's income and per-capita shares are both 1/3 and β cancels out of the weights:

    code    r(FY2023)  r(FY2024)  r(FY2025)  medical_index
    131016  98.10      98.40      98.20      1.2
    131024  98.00      99.50      99.20      0.8
    131032  91.00      92.00      93.00      1.0

levy_medical total T = 3,000,000円: w_i = (1 + α(m_i - 1)) / 3 and Σw = 1 because Σ(m_i - 1) = 0,
so levy_medical_i = floor(3,000,000 × (1 + α(m_i - 1)) / 3) = 1,000,000 × (1 + α(m_i - 1)).
"""

import csv
import io
import json
from fractions import Fraction

import pytest

import cli
from engine import diff
from engine.data import load, sample_paths
from engine.parse import parse_text
from engine.results import evaluate
from engine.values import is_undef
from engine.versions import RuleSet, default_rules_dir
from tests.conftest import MUNICIPAL_HEADER, PREFECTURE_HEADER, municipal_row, prefecture_row, write_csv

R3_TEXT = (default_rules_dir() / "R3.rules").read_text(encoding="utf-8")
R6_TEXT = (default_rules_dir() / "R6.rules").read_text(encoding="utf-8")
A, B, C = ("131016", "千代田区"), ("131024", "中央区"), ("131032", "港区")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# The lines the causes must point at, found in the shipped files so that editing comments does not break the tests.
R3_BAND_97_100 = f"R3.rules:{line_of(R3_TEXT, 'band [97%, 100%]')}"
R6_BAND_97_99 = f"R6.rules:{line_of(R6_TEXT, 'band [97%, 99%)')}"
R6_BAND_99_100 = f"R6.rules:{line_of(R6_TEXT, 'band [99%, 100%]')}"
R3_ALPHA = f"R3.rules:{line_of(R3_TEXT, '..:  1')}"
R6_ALPHA_2025 = f"R6.rules:{line_of(R6_TEXT, 'FY2025:    0.71')}"
R6_RELIEF = f"R6.rules:{line_of(R6_TEXT, 'define relief ')}"
R6_NET_LEVY = f"R6.rules:{line_of(R6_TEXT, 'define net_levy')}"

BAND_97_99 = (
    f'target_table band [97%, 99%) "97%以上99%未満" ({R6_BAND_97_99}) replaces [97%, 100%] "97%以上100%以下" ({R3_BAND_97_100}); '
    "result 前年度実績を維持 → 前年度または前々年度実績以上"
)
BAND_99_100 = (
    f'target_table band [99%, 100%] "99%以上100%以下" ({R6_BAND_99_100}) replaces [97%, 100%] "97%以上100%以下" ({R3_BAND_97_100}); '
    "result 前年度実績を維持 → 99%以上を維持"
)
ALPHA_2025 = f"alpha FY2025 (R7): 1 ({R3_ALPHA}) → 0.71 ({R6_ALPHA_2025})"
RELIEF_ADDED = f"relief (経過措置額): added in R6 ({R6_RELIEF})"
NET_LEVY_ADDED = f"net_levy (経過措置後の納付金): added in R6 ({R6_NET_LEVY})"


def hand_rows():
    rows = []
    for (code, name), rates, index in (
        (A, ("98.10", "98.40", "98.20"), "1.2000"),
        (B, ("98.00", "99.50", "99.20"), "0.8000"),
        (C, ("91.00", "92.00", "93.00"), "1.0000"),
    ):
        for year, rate in zip((2023, 2024, 2025), rates):
            rows.append(municipal_row(year, code, name, collection_rate=rate, medical_index=index))
    return rows


@pytest.fixture
def hand(ruleset, make_data):
    """R3, R6 and the hand-made data read for each."""
    r3, r6 = ruleset.version("R3"), ruleset.version("R6")
    prefecture = [prefecture_row(y, levy_medical=3000000) for y in (2023, 2024, 2025)]
    return r3, r6, make_data(r3, hand_rows(), prefecture), make_data(r6, hand_rows(), prefecture)


def rows_by(d, name):
    return {(r.municipality.code, r.year): r for r in d.rows if r.name == name}


def test_target_change_names_the_97_99_band(hand):
    """131016: r(FY2024) = 98.40 falls in R3's [97, 100] (target 98.40) and in R6's [97, 99)
    (target min(98.40, 98.10) = 98.10): -0.30pp, caused by the 97-99% band replacing 97-100%.
    131024: 99.50 -> R3 99.50, R6 99.00 (99%以上を維持): -0.50pp, caused by the 99-100% band.
    131032: 92.00 -> 92.50 under both: unchanged, so not listed."""
    r3, r6, da, db = hand
    d = diff.compare(r3, r6, da, db, [2025], ["target_rate"])
    rows = rows_by(d, "target_rate")
    assert sorted(rows) == [(A[0], 2025), (B[0], 2025)]
    a = rows[(A[0], 2025)]
    assert (a.a, a.b, a.delta, a.status) == (Fraction(9840, 10000), Fraction(9810, 10000), Fraction(-30, 10000), "changed")
    assert [c.text for c in a.causes] == [BAND_97_99]
    b = rows[(B[0], 2025)]
    assert (b.a, b.b, b.delta) == (Fraction(9950, 10000), Fraction(99, 100), Fraction(-50, 10000))
    assert [c.text for c in b.causes] == [BAND_99_100]
    # largest change first
    assert [r.municipality.code for r in d.rows] == [B[0], A[0]]


def test_achievement_change_has_the_band_as_cause(hand):
    """131016 reaches 98.20 >= 98.10 (R6) but not 98.40 (R3); 131024 reaches 99.20 >= 99.00 but not 99.50."""
    r3, r6, da, db = hand
    d = diff.compare(r3, r6, da, db, [2025], ["achieved"])
    rows = rows_by(d, "achieved")
    assert {k: (r.a, r.b, r.delta, r.status) for k, r in rows.items()} == {
        (A[0], 2025): (False, True, None, "changed"),
        (B[0], 2025): (False, True, None, "changed"),
    }
    assert [c.text for c in rows[(A[0], 2025)].causes] == [BAND_97_99]


def test_levy_change_names_the_alpha_entry_and_relief(hand):
    """α for FY2025 goes from 1 (R3) to 0.71 (R6):
    131016: 1,000,000 × (1 + 0.2) = 1,200,000 -> 1,000,000 × (1 + 0.71 × 0.2) = 1,142,000: -58,000円;
    131024: 800,000 -> 1,000,000 × (1 - 0.142) = 858,000: +58,000円; 131032 (index 1.0) unchanged.
    net_levy exists in R6 only: 131024's relief = floor(max(0, 858,000 - 800,000) × 0.80) = 46,400;
    levy_total = 858,000 + 100,000 (support: 300,000 / 3) + 33,333 (care: floor(100,000 / 3)) = 991,333;
    net_levy = 991,333 - 46,400 = 944,933. Its causes: net_levy added, α's FY2025 entry, relief added."""
    r3, r6, da, db = hand
    d = diff.compare(r3, r6, da, db, [2025], ["levy_medical", "net_levy"])
    levy = rows_by(d, "levy_medical")
    assert {k: (r.a, r.b, r.delta) for k, r in levy.items()} == {
        (A[0], 2025): (1200000, 1142000, -58000),
        (B[0], 2025): (800000, 858000, 58000),
    }
    assert all([c.text for c in r.causes] == [ALPHA_2025] for r in levy.values())
    net = rows_by(d, "net_levy")
    assert len(net) == 3  # defined under R6 only: a change for every municipality
    r = net[(B[0], 2025)]
    assert is_undef(r.a) and r.a.reason == "'net_levy' is not defined in version R3"
    assert (r.b, r.delta, r.status) == (944933, None, "undefined-in-a")
    assert [c.text for c in r.causes] == [NET_LEVY_ADDED, ALPHA_2025, RELIEF_ADDED]


def test_unchanged_rows_with_all_and_filters(hand):
    """--all adds 131032's unchanged levy (1,000,000 both); --min-change 60000円 hides the ±58,000 changes
    but keeps counting them; --top 1 keeps the largest of each definition."""
    r3, r6, da, db = hand
    d = diff.compare(r3, r6, da, db, [2025], ["levy_medical"], show_all=True)
    assert [(r.municipality.code, r.status, r.delta) for r in d.rows] == [
        (A[0], "changed", -58000),
        (B[0], "changed", 58000),
        (C[0], "unchanged", 0),
    ]
    assert d.rows[2].causes == ()
    d = diff.compare(r3, r6, da, db, [2025], ["levy_medical", "target_rate"], min_change=["60000円"])
    assert [(r.name, r.municipality.code) for r in d.rows] == [("target_rate", B[0]), ("target_rate", A[0])]
    assert (d.changed, d.shown_changed) == (4, 2)
    d = diff.compare(r3, r6, da, db, [2025], ["levy_medical", "target_rate"], min_change=["0.40pp"], top=1)
    assert [(r.name, r.municipality.code) for r in d.rows] == [("levy_medical", A[0]), ("target_rate", B[0])]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.05pp", {"pp": Fraction(5, 10000)}),
        ("100000円", {"yen": 100000}),
        ("100,000yen", {"yen": 100000}),
        ("0.01", {"number": Fraction(1, 100)}),
    ],
)
def test_min_change_amounts(text, expected):
    """Amounts carry their unit; a percent is refused (a rate's change is in pp)."""
    assert diff.parse_min_change([text]) == expected


def test_min_change_refuses_percent():
    """'5%' is ambiguous for a change of a rate; the message says to write pp."""
    with pytest.raises(Exception) as e:
        diff.parse_min_change(["5%"])
    assert (
        e.value.findings[0].message
        == "--min-change '5%' is not an amount like 0.05pp, 100000円 or 0.01; a change of a rate is in percentage points, as in 0.05pp"
    )


def assert_differences_are_b_minus_a(a, b, da, db, years):
    d = diff.compare(a, b, da, db, years, show_all=True)
    ea = evaluate(a, da, years, d.columns if all(c in a.items for c in d.columns) else [c for c in d.columns if c in a.items])
    eb = evaluate(b, db, years, [c for c in d.columns if c in b.items])
    va = {(r.year, r.municipality.code, c): v for r in ea.rows for c, v in zip(ea.columns, r.values)}
    vb = {(r.year, r.municipality.code, c): v for r in eb.rows for c, v in zip(eb.columns, r.values)}
    checked = 0
    assert len(d.rows) == len(years) * len(da.municipalities) * len(d.columns)  # nothing dropped
    for r in d.rows:
        key = (r.year, r.municipality.code, r.name)
        if key in va and key in vb and r.delta is not None:
            assert r.delta == Fraction(vb[key]) - Fraction(va[key])
            checked += 1
    return d, checked


def test_differences_equal_b_minus_a_on_hand_data(hand):
    """Every numeric difference equals R6 minus R3 from two separate evaluations."""
    d, checked = assert_differences_are_b_minus_a(*hand, [2024, 2025])
    assert checked > 0 and d.changed > 0


def test_differences_equal_b_minus_a_on_bundled_data(ruleset):
    """The same on the bundled sample over R6-R8 (the issue's acceptance run), every row compared."""
    m, p = sample_paths()
    r3, r6 = ruleset.version("R3"), ruleset.version("R6")
    data = load(m, p, r6.inputs())
    d, checked = assert_differences_are_b_minus_a(r3, r6, data, data, [2024, 2025, 2026])
    assert checked > 1000
    targets = [r for r in d.rows if r.name == "target_rate" and r.changed]
    assert targets and all(r.causes and r.causes[0].kind == "band" and r.causes[0].name == "target_table" for r in targets)
    levies = [r for r in d.rows if r.name == "levy_medical" and r.changed]
    assert levies and all([c.name for c in r.causes] == ["alpha"] for r in levies)


@pytest.mark.parametrize("vid", ["R3", "R6"])
def test_version_against_itself_reports_nothing(ruleset, hand, vid):
    """A version compared with itself: no change in any value, no rule difference."""
    _, _, da, _ = hand
    v = ruleset.version(vid)
    d = diff.compare(v, v, da, da, [2024, 2025])
    assert (d.changed, d.rows) == (0, ())
    assert diff.compare_rules(v, v, [2024, 2025, 2026]).empty


def test_summary_counts_add_up(hand):
    """FY2025: targets fall for 131016 and 131024, stay for 131032 (2 + 0 + 1 = 3); by R3's bands
    [97, 100] holds both fallers and [90, 95) the stayer; by R6's bands [97, 99) and [99, 100] one
    faller each. Achievement: gained 2, both 1. levy_medical: +58,000 and -58,000, net 0, no
    change in the residual (both 0). Relief: R6 total 46,400円, R3 undefined."""
    r3, r6, da, db = hand
    d = diff.compare(r3, r6, da, db, [2024, 2025])
    sums = diff.summarise(d)
    for s in sums:
        assert sum(s.moves) == 3
        assert all(sum(row[2] for row in bm.rows) == 3 and sum(sum(row[3:]) for row in bm.rows) == 3 for bm in s.by_band)
        assert sum(s.achievement) == 3
        assert all(p.raised + p.lowered + p.stays + p.undefined == 3 for p in s.parts)
    s = sums[1]
    assert s.year == 2025 and s.moves == (0, 2, 1, 0)
    r3_bands, r6_bands = s.by_band
    assert [(row[0], row[2:]) for row in r3_bands.rows if row[2]] == [("[90%, 95%)", (1, 0, 0, 1, 0)), ("[97%, 100%]", (2, 0, 2, 0, 0))]
    assert [(row[0], row[2:]) for row in r6_bands.rows if row[2]] == [
        ("[90%, 95%)", (1, 0, 0, 1, 0)),
        ("[97%, 99%)", (1, 0, 1, 0, 0)),
        ("[99%, 100%]", (1, 0, 1, 0, 0)),
    ]
    assert s.achievement == (1, 2, 0, 0, 0)
    parts = {p.name: p for p in s.parts}
    medical = parts["levy_medical"]
    assert (medical.raised, medical.raised_sum, medical.lowered, medical.lowered_sum, medical.net, medical.residual_delta) == (
        1,
        58000,
        1,
        -58000,
        0,
        0,
    )
    relief = parts["relief"]
    assert is_undef(relief.total_a) and relief.total_b == 46400
    assert [name for name, _ in s.movers] == ["target_rate", "levy_total"]


def test_rules_only_r3_against_r6():
    """--rules-only --year R6: five current bands against six proposed, aligned by lower end, in the
    seed's wording; α for FY2024 1 -> 0.86; relief_ratio, levy_increase, relief and net_levy added."""
    rs = RuleSet.from_paths([default_rules_dir()])
    rd = diff.compare_rules(rs.version("R3"), rs.version("R6"), [2024])
    (t,) = rd.tables
    assert (t.name, t.years, t.change) == ("target_table", (2024,), "changed")

    def side(band):
        return (band.label, band.interval, band.wording) if band else None

    assert [(side(r.a), side(r.b), r.change) for r in t.rows] == [
        (("85%未満", "[0%, 85%)", "前年度実績＋1.50pp"), ("85%未満", "[0%, 85%)", "前年度実績＋1.50pp"), ""),
        (("85%以上90%未満", "[85%, 90%)", "前年度実績＋1.00pp"), ("85%以上90%未満", "[85%, 90%)", "前年度実績＋1.00pp"), ""),
        (("90%以上95%未満", "[90%, 95%)", "前年度実績＋0.50pp"), ("90%以上95%未満", "[90%, 95%)", "前年度実績＋0.50pp"), ""),
        (("95%以上97%未満", "[95%, 97%)", "前年度実績＋0.10pp"), ("95%以上97%未満", "[95%, 97%)", "前年度実績＋0.10pp"), ""),
        (
            ("97%以上100%以下", "[97%, 100%]", "前年度実績を維持"),
            ("97%以上99%未満", "[97%, 99%)", "前年度または前々年度実績以上"),
            "bounds, result",
        ),
        (None, ("99%以上100%以下", "[99%, 100%]", "99%以上を維持"), "added"),
    ]
    assert [(s.name, s.year, diff.expr_text(s.a.value) if s.a else None, diff.expr_text(s.b.value)) for s in rd.schedules] == [
        ("alpha", 2024, "1", "0.86"),
        ("relief_ratio", 2024, None, "1.00"),
    ]
    assert [(x.name, x.change) for x in rd.definitions] == [
        ("relief_ratio", "added"),
        ("levy_increase", "added"),
        ("relief", "added"),
        ("net_levy", "added"),
    ]
    assert diff.expr_text(rd.definitions[1].b.expr) == "max(0円, levy_medical - (levy_medical with alpha = 1))"
    assert ("target_table", "effective", "always", "FY2024-FY2026 (R6-R8)") in [(m.name, m.field, m.a, m.b) for m in rd.meta]


def test_rules_only_markdown_table_reads_like_the_seed():
    """The markdown table: one row per interval, current on the left, proposed on the right."""
    rs = RuleSet.from_paths([default_rules_dir()])
    text = diff.render_rules(diff.compare_rules(rs.version("R3"), rs.version("R6"), [2024]), "markdown")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ") and "%" in line]
    assert rows[4:6] == [
        [
            "97%以上100%以下",
            "[97%, 100%]",
            "前年度実績を維持",
            "97%以上99%未満",
            "[97%, 99%)",
            "前年度または前々年度実績以上",
            "範囲・結果",
        ],
        ["", "", "", "99%以上100%以下", "[99%, 100%]", "99%以上を維持", "追加"],
    ]
    header = next([c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if "範囲" in line)
    assert header == ["前年度の現年分収納率", "範囲", "目標収納率（現行）", "前年度の現年分収納率", "範囲", "目標収納率（検討案）", "変更"]


@pytest.mark.parametrize(
    "expr",
    [
        "a + b * c",
        "(a + b) * c",
        "a - (b - c)",
        "-a[year - 1]",
        "if defined(x[year - 2]) then min(p, x[year - 2]) else p",
        "max(0円, l - (l with alpha = 1))",
        "not a and b or c",
        "round(x / y, decimals(13), half_up)",
    ],
)
def test_expr_text_round_trips(expr):
    """The expression printer gives back text that parses to the same expression."""
    src = f"ruleset T\ndefine d : ratio = {expr}\n"
    e = parse_text(src, "T.rules").items[0].expr
    assert diff.expr_text(e) == expr
    assert parse_text(f"ruleset T\ndefine d : ratio = {diff.expr_text(e)}\n", "T.rules").items[0].expr == e


SMALL_BASE = """ruleset T1
input municipal rate "収納率" : percent
  columns "collection_rate"
schedule k "係数" : ratio
{
  ..: 1
}
define scaled "調整後" : percent = rate[year - 1] * k
define fixed "固定" : percent = scaled with k = 2
define lagged "前年度" : percent = scaled[year - 1]
table grade "等級" : ratio over k
{
  band [0, 2)   => 1
  band [2, 10]  => 5
}
define graded "等級付き" : percent = rate * grade
"""
SMALL_NEXT = """ruleset T2 extends T1
override schedule k "係数" : ratio
{
  ..FY2024: 1
  FY2025..: 3
}
"""


def small_data(tmp_path, version):
    """131016 with rates 90.00, 91.00, 92.00 in FY2023-FY2025, 131024 with 80.00, 81.00, 82.00; no other column."""
    rows = [
        {"fiscal_year": y, "code": code, "name": name, "collection_rate": r}
        for code, name, rates in ((*A, ("90.00", "91.00", "92.00")), (*B, ("80.00", "81.00", "82.00")))
        for y, r in zip((2023, 2024, 2025), rates)
    ]
    m = write_csv(tmp_path / "m.csv", ["fiscal_year", "code", "name", "collection_rate"], rows)
    p = write_csv(tmp_path / "p.csv", ["fiscal_year"], [{"fiscal_year": y} for y in (2023, 2024, 2025)])
    return load(m, p, version.inputs())


def test_causes_follow_years_and_with(tmp_path):
    """k goes from 1 to 3 from FY2025 on. scaled = rate[year - 1] × k: FY2025 0.91 -> 2.73 and
    0.81 -> 2.43, naming k's FY2025 entry; FY2026 0.92 -> 2.76 and 0.82 -> 2.46, naming its FY2026
    value (the same line). lagged = scaled[year - 1]: in FY2026 it reads scaled in FY2025 and names
    k's FY2025 entry; in FY2025 it reads FY2024 (k = 1 both) and is unchanged. fixed sets k = 2
    itself, so it never changes. graded = rate × grade, grade a band table over k (a prefecture
    value): k = 3 moves every municipality from band [0, 2) (1) to [2, 10] (5), bands that both
    versions share, so the cause is k alone: 0.92 -> 4.60 and 0.82 -> 4.10 in FY2025 (FY2026 has
    no rate: undefined under both, unchanged)."""
    rs = RuleSet([parse_text(SMALL_BASE, "T1.rules"), parse_text(SMALL_NEXT, "T2.rules")])
    t1, t2 = rs.version("T1"), rs.version("T2")
    data = small_data(tmp_path, t1)
    d = diff.compare(t1, t2, data, data, [2025, 2026], ["scaled", "fixed", "lagged", "graded"])
    got = {(r.name, r.municipality.code, r.year): (r.a, r.b, [c.text for c in r.causes]) for r in d.rows}
    k2025 = ["k FY2025 (R7): 1 (T1.rules:6) → 3 (T2.rules:5)"]
    k2026 = ["k FY2026 (R8): 1 (T1.rules:6) → 3 (T2.rules:5)"]
    assert got == {
        ("scaled", A[0], 2025): (Fraction(91, 100), Fraction(273, 100), k2025),
        ("scaled", B[0], 2025): (Fraction(81, 100), Fraction(243, 100), k2025),
        ("scaled", A[0], 2026): (Fraction(92, 100), Fraction(276, 100), k2026),
        ("scaled", B[0], 2026): (Fraction(82, 100), Fraction(246, 100), k2026),
        ("lagged", A[0], 2026): (Fraction(91, 100), Fraction(273, 100), k2025),
        ("lagged", B[0], 2026): (Fraction(81, 100), Fraction(243, 100), k2025),
        ("graded", A[0], 2025): (Fraction(92, 100), Fraction(460, 100), k2025),
        ("graded", B[0], 2025): (Fraction(82, 100), Fraction(410, 100), k2025),
    }


def test_changed_formula_is_a_cause(tmp_path):
    """A definition whose formula changes names both formulas with their lines."""
    nxt = 'ruleset T2 extends T1\noverride define scaled "調整後" : percent = rate[year - 2] * k\n'
    rs = RuleSet([parse_text(SMALL_BASE, "T1.rules"), parse_text(nxt, "T2.rules")])
    t1, t2 = rs.version("T1"), rs.version("T2")
    data = small_data(tmp_path, t1)
    d = diff.compare(t1, t2, data, data, [2025], ["scaled"])
    cause = ["scaled (調整後): formula changed: rate[year - 1] * k (T1.rules:8) → rate[year - 2] * k (T2.rules:2)"]
    assert [(r.municipality.code, r.a, r.b, r.delta, [c.text for c in r.causes]) for r in d.rows] == [
        (A[0], Fraction(91, 100), Fraction(90, 100), Fraction(-1, 100), cause),
        (B[0], Fraction(81, 100), Fraction(80, 100), Fraction(-1, 100), cause),
    ]


def test_band_result_changed_where_the_key_moved(tmp_path):
    """k goes to 3 and band [2, 10] now gives 6 instead of 5: both municipalities move from [0, 2)
    to [2, 10] (a table over a prefecture value, one band choice for all). graded = rate × grade:
    0.92 -> 5.52 and 0.82 -> 4.92; the causes are k's FY2025 entry and the band's result, not a
    band "replacing" [0, 2), which both versions keep."""
    nxt = SMALL_NEXT + 'override table grade "等級" : ratio over k\n{\n  band [0, 2)   => 1\n  band [2, 10]  => 6\n}\n'
    rs = RuleSet([parse_text(SMALL_BASE, "T1.rules"), parse_text(nxt, "T2.rules")])
    t1, t2 = rs.version("T1"), rs.version("T2")
    data = small_data(tmp_path, t1)
    d = diff.compare(t1, t2, data, data, [2025], ["graded"])
    causes = ["k FY2025 (R7): 1 (T1.rules:6) → 3 (T2.rules:5)", "grade band [2, 10]: result 5 (T1.rules:14) → 6 (T2.rules:10)"]
    assert [(r.municipality.code, r.a, r.b, [c.text for c in r.causes]) for r in d.rows] == [
        (A[0], Fraction(92, 100), Fraction(552, 100), causes),
        (B[0], Fraction(82, 100), Fraction(492, 100), causes),
    ]


# ---- the command line ---------------------------------------------------------------------


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def hand_files(tmp_path):
    m = write_csv(tmp_path / "m.csv", MUNICIPAL_HEADER, hand_rows())
    p = write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, [prefecture_row(y, levy_medical=3000000) for y in (2023, 2024, 2025)])
    return ["--data", str(m), "--prefecture-data", str(p)]


def test_cli_csv_and_exit_code(capsys, hand_files):
    """CSV with BOM, one row per change, exact differences in pp; --exit-code gives 1 on changes, 0 without."""
    code, out, _ = run(
        capsys,
        "diff",
        "R3",
        "R6",
        "--year",
        "R7",
        "--columns",
        "target_rate",
        "--format",
        "csv",
        "--headers",
        "en",
        "--exit-code",
        *hand_files,
    )
    assert code == 1
    assert out.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(out[1:])))
    assert [(r["code"], r["R3"], r["R6"], r["difference"], r["difference_unit"], r["causes"]) for r in rows] == [
        (B[0], "99.50", "99.00", "-0.50", "pp", BAND_99_100),
        (A[0], "98.40", "98.10", "-0.30", "pp", BAND_97_99),
    ]
    code, out, _ = run(capsys, "diff", "R6", "R6", "--year", "令和7年度", "--exit-code", *hand_files)
    assert code == 0 and "60 件中 0 件の値が異なります。" in out  # 20 summary columns x 3 municipalities


def test_cli_table_footnotes_and_json(capsys, hand_files):
    """The table lists each cause once as a footnote; JSON carries causes with both lines."""
    code, out, _ = run(capsys, "diff", "R3", "R6", "--year", "FY2025", "--columns", "levy_medical,net_levy", *hand_files)
    assert code == 0
    assert f"  [1] {ALPHA_2025}\n" in out and f"  [2] {NET_LEVY_ADDED}\n" in out and f"  [3] {RELIEF_ADDED}\n" in out
    assert "(R3 に規則なし)" in out and "[u1]" not in out  # a rule R3 does not have is shown as such, not as an undefined value
    code, out, _ = run(capsys, "diff", "R3", "R6", "--year", "2025", "--columns", "levy_medical", "--format", "json", *hand_files)
    doc = json.loads(out)
    assert [(r["code"], r["a"], r["b"], r["difference"]) for r in doc["rows"]] == [
        (A[0], "1200000", "1142000", "-58000"),
        (B[0], "800000", "858000", "58000"),
    ]
    assert doc["rows"][0]["causes"] == [
        {"kind": "schedule", "name": "alpha", "fiscal_year": 2025, "text": ALPHA_2025, "a": R3_ALPHA, "b": R6_ALPHA_2025}
    ]


def test_cli_rules_only_and_summary(capsys, hand_files):
    """--rules-only needs no data; --summary counts add up in JSON too."""
    code, out, _ = run(capsys, "diff", "R3", "R6", "--rules-only", "--year", "R6", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert [r["change"] for r in doc["tables"][0]["rows"]] == ["", "", "", "", "bounds, result", "added"]
    code, out, _ = run(capsys, "diff", "R3", "R6", "--summary", "--year", "R7", "--format", "json", *hand_files)
    (s,) = json.loads(out)["summary"]
    assert (s["target"]["rises"], s["target"]["falls"], s["target"]["stays"], s["target"]["undefined"]) == (0, 2, 1, 0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--columns", "target_rat"], "unknown-column: neither R3 nor R6 has a definition 'target_rat'; did you mean 'target_rate'?"),
        (["--top", "0"], "bad-top: --top takes a positive number of rows, not 0"),
        (["--year", "R99x"], "bad-year: 'R99x' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度"),
    ],
)
def test_cli_usage_errors(capsys, hand_files, argv, message):
    """Bad options: exit 2 with our message, no traceback."""
    code, out, err = run(capsys, "diff", "R3", "R6", *argv, *hand_files)
    assert code == 2 and out == "" and err.strip() == message


def test_rules_only_input_change_and_removal():
    """An input read under one more header and a removed definition are listed with both sides."""
    nxt = 'ruleset T2 extends T1\noverride input municipal rate "収納率" : percent\n  columns "collection_rate", "収納率"\nremove fixed\n'
    rs = RuleSet([parse_text(SMALL_BASE, "T1.rules"), parse_text(nxt, "T2.rules")])
    rd = diff.compare_rules(rs.version("T1"), rs.version("T2"), [2025])
    assert [(x.name, x.change, x.a.columns, x.b.columns) for x in rd.inputs] == [
        ("rate", "changed", ("collection_rate",), ("collection_rate", "収納率"))
    ]
    assert [(x.name, x.change, diff.expr_text(x.a.expr), x.b) for x in rd.definitions] == [("fixed", "removed", "scaled with k = 2", None)]
    assert (rd.tables, rd.schedules) == ((), ())


def oracle_causes(d, *, plain: bool, monkeypatch):
    """The causes of d's shown rows as the per-row walk of tests/cause_oracle.py finds them, one municipality at a
    time; plain: without its shortcuts (listed references, rows skipped when equal, one walk per prefecture value)."""
    import tests.cause_oracle as oracle

    if plain:
        monkeypatch.setattr(oracle, "ref_plan", lambda e, inside_aggregate=False: None)
        monkeypatch.setattr(oracle.RowCauseFinder, "_differing_rows", lambda self, *key: frozenset(range(self.n)))
    finder = oracle.RowCauseFinder(d.ev_a, d.ev_b)
    index = {m.code: i for i, m in enumerate(d.municipalities)}
    return [finder.causes(r.name, r.year, index[r.municipality.code]) if r.changed else () for r in d.rows]


@pytest.mark.parametrize("plain", [False, True], ids=["per-row walk", "plain per-row walk"])
def test_causes_are_those_of_the_per_row_walk(ruleset, monkeypatch, plain):
    """The columnar cause walk (rows grouped by band, branch and year) finds exactly the causes the walk for one
    municipality at a time finds, row for row, on the bundled data over R3-R11."""
    m, p = sample_paths()
    r3, r6 = ruleset.version("R3"), ruleset.version("R6")
    data = load(m, p, r6.inputs())
    d = diff.compare(r3, r6, data, data, list(range(2021, 2030)))
    assert [r.causes for r in d.rows] == oracle_causes(d, plain=plain, monkeypatch=monkeypatch)
    assert sum(len(r.causes) for r in d.rows) > 2000


# Rules over small inputs x, y (municipal) and p, q (prefecture), for the shortcuts' edge cases.
EDGE_HEAD = """ruleset {v}
input municipal x "x" : yen
input municipal y "y" : yen
input prefecture p "p" : yen
input prefecture q "q" : yen
"""


def edge_versions(tmp_path, a_body: str, b_body: str):
    rs = RuleSet([parse_text(EDGE_HEAD.format(v="A") + a_body, "A.rules"), parse_text(EDGE_HEAD.format(v="B") + b_body, "B.rules")])
    m, p = tmp_path / "m.csv", tmp_path / "p.csv"
    m.write_text("fiscal_year,code,name,x,y\n2025,131016,千代田区,110,5\n2025,131024,中央区,200,0\n", encoding="utf-8")
    p.write_text("fiscal_year,p,q\n2025,2000,5\n", encoding="utf-8")
    a, b = rs.version("A"), rs.version("B")
    return a, b, load(m, p, b.inputs())


EDGE_CASES = {
    # a prefecture value whose `with` sets a municipal value: walked row by row
    "with inside a prefecture value": (
        'define adj "adj" : yen = x\ndefine g "g" : yen = sum(x) with x = adj\n',
        'define adj "adj" : yen = x + y\ndefine g "g" : yen = sum(x) with x = adj\n',
    ),
    "with over a prefecture value": (
        'define k "k" : yen = x\ndefine b "b" : yen = p\ndefine a "a" : yen = b with x = k\n',
        'define k "k" : yen = x + y\ndefine b "b" : yen = p + q\ndefine a "a" : yen = b with x = k\n',
    ),
    # a table over a prefecture value whose band yields a municipal value
    "table over a prefecture value": (
        'define k "k" : yen = x\ntable t "t" : yen over p\n{\n  band [0円, 10000円) "lo" => k "d"\n}\n',
        'define k "k" : yen = x + y\ntable t "t" : yen over p\n{\n  band [0円, 10000円) "lo" => k "d"\n}\n',
    ),
}


@pytest.mark.parametrize("plain", [False, True], ids=["per-row walk", "plain per-row walk"])
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_columnar_causes_in_edge_cases(tmp_path, monkeypatch, case, plain):
    a, b, data = edge_versions(tmp_path, *EDGE_CASES[case])
    names = [n for n, i in b.items.items() if hasattr(i, "unit") and n not in b.inputs()]
    d = diff.compare(a, b, data, data, [2025], names, show_all=True)
    assert [r.causes for r in d.rows] == oracle_causes(d, plain=plain, monkeypatch=monkeypatch)
    assert d.changed > 0


def test_a_possible_same_year_cycle_is_not_shared(tmp_path):
    """u and v need each other in the same year through [year + 0]: their values depend on which is asked
    for first, so B evaluates them in its own order, as it did without a donor (u 1円 -> 2円, v 4円 -> 3円)."""
    from engine.resolve import unshared_names

    common = (
        'define u "u" : yen = if defined(v[year + 0]) then 1円 else 2円\ndefine v "v" : yen = if defined(u[year + 0]) then 3円 else 4円\n'
    )
    a, b, data = edge_versions(tmp_path, 'define w "w" : yen = 3円\n' + common, 'define w "w" : yen = v\n' + common)
    assert {"u", "v"} <= unshared_names(a, b)
    d = diff.compare(a, b, data, data, [2025], ["w", "u", "v"])
    assert [(r.name, r.a, r.b) for r in d.rows if r.municipality.code == "131016"] == [("u", 1, 2), ("v", 4, 3)]


def test_too_deep_names_b_s_item_with_a_donor(tmp_path):
    """A chain too deep to evaluate is reported at B's own outermost name, as without a donor."""
    from engine.errors import RuleCheckError

    chain = 'define d0 "d0" : yen = x\n' + "".join(f'define d{i} "d{i}" : yen = d{i - 1} + 1円\n' for i in range(1, 400))
    a, b, data = edge_versions(tmp_path, chain + 'define top "top" : yen = 0円\n', chain + 'define top "top" : yen = d399 + 1円\n')
    with pytest.raises(RuleCheckError) as e:
        diff.compare(a, b, data, data, [2025], ["top"])
    f = e.value.findings[0]
    assert f.code == "eval-too-deep" and "evaluate top for FY2025" in f.message and f.span.file == "B.rules"
