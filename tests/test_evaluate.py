"""Evaluation against hand-computed values: bands at every boundary, levies, relief, rates, deficits."""

from fractions import Fraction

import pytest

from engine.evaluate import Evaluator, Undefined, is_undef
from tests.conftest import municipal_row, prefecture_row

A, B, C = ("131016", "千代田区"), ("131024", "中央区"), ("131032", "港区")


def rates(version, make_data, previous, before_previous=None, year=2024):
    """One municipality with the given rate in year-1 (and year-2): its target in `year`."""
    rows = [municipal_row(year - 1, *A, collection_rate=previous), municipal_row(year, *A, collection_rate="")]
    rows.append(municipal_row(year - 2, *A, collection_rate=before_previous if before_previous is not None else ""))
    data = make_data(version, rows, [prefecture_row(y) for y in (year - 2, year - 1, year)])
    return Evaluator(version, data).column("target_rate", year)[0]


# (previous rate, R3 target, R6 target): every band boundary of both tables.
BOUNDARIES = [
    ("84.99", "86.49", "86.49"),
    ("85.00", "86.00", "86.00"),
    ("89.99", "90.99", "90.99"),
    ("90.00", "90.50", "90.50"),
    ("94.99", "95.49", "95.49"),
    ("95.00", "95.10", "95.10"),
    ("96.99", "97.09", "97.09"),
    ("97.00", "97.00", "97.00"),
    ("98.99", "98.99", "98.99"),
    ("99.00", "99.00", "99.00"),
    ("99.50", "99.50", "99.00"),
    ("100.00", "100.00", "99.00"),
    ("0.00", "1.50", "1.50"),
]


@pytest.mark.parametrize("previous, r3, r6", BOUNDARIES)
def test_target_at_band_boundaries(ruleset, make_data, previous, r3, r6):
    """Half-open bands [lo, hi), the last closed; R6's 99% band maintains 99.00%."""
    assert rates(ruleset.version("R3"), make_data, previous) == Fraction(r3) / 100
    assert rates(ruleset.version("R6"), make_data, previous) == Fraction(r6) / 100


@pytest.mark.parametrize(
    "previous, before, expected",
    [
        ("98.40", "98.10", "98.10"),  # the year before last is lower: reaching it is enough
        ("98.10", "98.40", "98.10"),  # the year before last is higher: last year's rate
        ("97.50", None, "97.50"),  # no rate for the year before last: last year's rate
    ],
)
def test_r6_97_99_band_uses_lower_of_two_years(ruleset, make_data, previous, before, expected):
    """「前年度または前々年度実績以上」: min(r(y-1), r(y-2)), r(y-1) when r(y-2) is missing."""
    assert rates(ruleset.version("R6"), make_data, previous, before) == Fraction(expected) / 100
    assert rates(ruleset.version("R3"), make_data, previous, before) == Fraction(previous) / 100


def test_r6_target_undefined_outside_its_period(ruleset, make_data):
    """R6's table covers FY2024-FY2026 only; FY2027 is undefined with that reason, never 0."""
    got = rates(ruleset.version("R6"), make_data, "92.00", year=2027)
    assert got == Undefined(
        "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)"
    )
    assert rates(ruleset.version("R3"), make_data, "92.00", year=2027) == Fraction("92.50") / 100


def test_missing_previous_rate_is_undefined_with_reason(ruleset, make_data):
    version = ruleset.version("R3")
    data = make_data(version, [municipal_row(2021, *A, collection_rate="93.00")], [prefecture_row(2021)])
    ev = Evaluator(version, data)
    assert ev.column("target_rate", 2021)[0] == Undefined("no FY2020 collection rate for 131016 千代田区")
    assert ev.column("achieved", 2021)[0] == Undefined("no FY2020 collection rate for 131016 千代田区")


def three_municipalities(year=2024, **overrides):
    """The prefecture of the levy test: see test_levy_allocation_by_hand."""
    common = dict(insured_40_64=None)
    rows = [
        municipal_row(year - 1, *A, collection_rate="90.00"),
        municipal_row(year - 1, *B, collection_rate="95.00"),
        municipal_row(year - 1, *C, collection_rate="98.00"),
        municipal_row(year, *A, insured=100, income=100_000_000, medical_index="1.1", insured_40_64=50, income_40_64=40_000_000),
        municipal_row(year, *B, insured=200, income=100_000_000, medical_index="1.0", insured_40_64=50, income_40_64=40_000_000),
        municipal_row(year, *C, insured=700, income=300_000_000, medical_index="0.9", insured_40_64=100, income_40_64=120_000_000),
    ]
    del common
    pref = [
        prefecture_row(year - 1),
        prefecture_row(year, levy_medical=1_000_000, levy_support=300_000, levy_care=100_000, national_income_per_insured=250_000),
    ]
    return rows, pref


def test_levy_allocation_by_hand(ruleset, make_data):
    """Three municipalities, FY2024, current rules (α = 1).

    insured 100/200/700, income 1e8/1e8/3e8, national income per insured 250,000:
    β = (5e8 / 1000) / 250,000 = 2. S_inc = .2/.2/.6, S_n = .1/.2/.7, so
    (β S_inc + S_n) / (1 + β) = 1/6, 1/5, 19/30.
    Medical, α = 1: w = index × that = 11/60, 12/60, 34.2/60; Σw = 57.2/60, γ = 60/57.2.
    levy = floor(1,000,000 × w / Σw) = 192,307 / 209,790 / 597,902 (sum 999,999, residual 1).
    Support, α_k = 0: Σw = 1, γ = 1, levy = 300,000 × (1/6, 1/5, 19/30) = 50,000 / 60,000 / 190,000.
    Care: insured_40_64 50/50/100, income_40_64 4e7/4e7/1.2e8: (0.65, 0.65, 1.7)/3, Σ = 1;
    levy = floor(100,000 × ...) = 21,666 / 21,666 / 56,666 (residual 2).
    Standard rates of A: c = 90.00% → 0.9, b = (1e8/100)/250,000 = 4;
    income rate = 192,307 × 4/5 / 0.9 / 1e8 = 0.1709...% → 0.17%; per capita = 192,307/5/0.9/100 = 427.35 → 427円.
    """
    version = ruleset.version("R3")
    rows, pref = three_municipalities()
    ev = Evaluator(version, make_data(version, rows, pref))
    assert ev.value("beta", 2024) == 2
    assert ev.column("levy_medical", 2024) == (192307, 209790, 597902)
    assert ev.value("gamma_medical", 2024) == Fraction(60) / Fraction("57.2")
    assert ev.value("residual_medical", 2024) == 1
    assert ev.column("levy_support", 2024) == (50000, 60000, 190000)
    assert ev.value("gamma_support", 2024) == 1
    assert ev.value("residual_support", 2024) == 0
    assert ev.column("levy_care", 2024) == (21666, 21666, 56666)
    assert ev.value("residual_care", 2024) == 2
    assert ev.column("levy_total", 2024)[0] == 192307 + 50000 + 21666
    assert ev.column("income_rate_medical", 2024)[0] == Fraction("0.17") / 100
    assert ev.column("per_capita_medical", 2024)[0] == 427


def test_relief_with_alpha_one_by_hand(ruleset, make_data):
    """R6, FY2024, α = 0.86: w = (1 + 0.86 (index - 1)) × (1/6, 1/5, 19/30) = 0.181, 0.2, 0.57887;
    levy_medical = 188,567 / 208,362 / 603,069. With α = 1 (above): 192,307 / 209,790 / 597,902.
    Increase = max(0, difference) = 0 / 0 / 5,167; relief ratio FY2024 = 1.00 → relief 0 / 0 / 5,167."""
    version = ruleset.version("R6")
    rows, pref = three_municipalities()
    ev = Evaluator(version, make_data(version, rows, pref))
    assert ev.value("alpha", 2024) == Fraction("0.86")
    assert ev.column("levy_medical", 2024) == (188567, 208362, 603069)
    assert ev.value("residual_medical", 2024) == 2
    assert ev.column("relief", 2024) == (0, 0, 5167)
    levy_total = ev.column("levy_total", 2024)
    assert ev.column("net_levy", 2024) == (levy_total[0], levy_total[1], levy_total[2] - 5167)


def test_one_missing_income_makes_every_levy_undefined(ruleset, make_data):
    """A sum over municipalities is undefined when any term is; the reason names the municipality."""
    version = ruleset.version("R3")
    rows, pref = three_municipalities()
    rows[4]["income"] = ""
    ev = Evaluator(version, make_data(version, rows, pref))
    reason = Undefined("no FY2024 income for 131024 中央区")
    assert ev.column("levy_medical", 2024) == (reason, reason, reason)
    assert ev.value("beta", 2024) == reason
    assert ev.column("levy_care", 2024) == (reason, reason, reason)  # through β


def test_division_by_zero_is_undefined(ruleset, make_data):
    """A 0.00% collection rate used as the standard collection rate: undefined, with the reason."""
    version = ruleset.version("R3")
    rows, pref = three_municipalities()
    rows[0]["collection_rate"] = "0.00"
    ev = Evaluator(version, make_data(version, rows, pref))
    got = ev.column("per_capita_medical", 2024)[0]
    assert got == Undefined("division by zero in per_capita_medical for 131016 千代田区 in FY2024 (R6)")
    assert not is_undef(ev.column("per_capita_medical", 2024)[1])


@pytest.mark.parametrize(
    "transfer, advance_before, advance_now, target, deficit, status",
    [
        (0, 0, 0, None, 0, "none"),
        (5_000_000, 0, 0, None, 5_000_000, "no plan"),
        (5_000_000, 1_000_000, 3_000_000, 2026, 7_000_000, "in plan"),  # advance rises by 2,000,000
        (5_000_000, 3_000_000, 1_000_000, 2024, 5_000_000, "in plan"),  # a decrease gives no credit; y = target year
        (1, 0, 0, 2023, 1, "overdue"),
        (0, 3_000_000, 1_000_000, 2020, 0, "none"),
    ],
)
def test_deficit_and_status(ruleset, make_data, transfer, advance_before, advance_now, target, deficit, status):
    version = ruleset.version("R3")
    rows = [
        municipal_row(2023, *A, advance_appropriation=advance_before),
        municipal_row(2024, *A, deficit_transfer=transfer, advance_appropriation=advance_now, deficit_target_year=target),
    ]
    ev = Evaluator(version, make_data(version, rows, [prefecture_row(2023), prefecture_row(2024)]))
    assert ev.column("deficit", 2024) == (deficit,)
    assert ev.column("deficit_status", 2024) == (status,)


def test_deficit_undefined_without_previous_year(ruleset, make_data):
    version = ruleset.version("R3")
    rows = [municipal_row(2024, *A, deficit_transfer=100)]
    ev = Evaluator(version, make_data(version, rows, [prefecture_row(2024)]))
    assert ev.column("deficit", 2024) == (Undefined("no FY2023 advance appropriation for 131016 千代田区"),)
    assert ev.column("deficit_status", 2024) == (Undefined("no FY2023 advance appropriation for 131016 千代田区"),)


def test_alpha_schedules(ruleset, make_data):
    """R3: α = 1 every year. R6: 1 until FY2023, then 0.86 ... 0.14, and 0 from FY2030."""
    expected = {2023: "1", 2024: "0.86", 2025: "0.71", 2026: "0.57", 2027: "0.43", 2028: "0.29", 2029: "0.14", 2030: "0", 2035: "0"}
    rows, pref = three_municipalities()
    for vid in ("R3", "R6"):
        version = ruleset.version(vid)
        ev = Evaluator(version, make_data(version, rows, pref))
        for y, a in expected.items():
            assert ev.value("alpha", y) == (1 if vid == "R3" else Fraction(a))


def test_names_b_shares_with_a(ruleset):
    """R6 restates the target table and α and adds relief: everything built on those is computed again,
    the support and care parts, β and the deficit are shared."""
    from engine.resolve import unshared_names

    r3, r6 = ruleset.version("R3"), ruleset.version("R6")
    unshared = unshared_names(r3, r6)
    for name in (
        "target_table",
        "target_rate",
        "achieved",
        "alpha",
        "weight_medical",
        "gamma_medical",
        "levy_medical",
        "residual_medical",
        "levy_total",
        "income_rate_medical",
        "per_capita_medical",
        "relief",
        "net_levy",
    ):
        assert name in unshared, name
    for name in (
        "previous_rate",
        "beta",
        "levy_support",
        "levy_care",
        "income_rate_support",
        "per_capita_care",
        "deficit",
        "deficit_status",
        "meets_national_average",
        "income",
        "total_medical",
    ):
        assert name not in unshared, name
    assert unshared_names(r6, r6) == frozenset()


def test_a_donor_changes_no_value_and_no_reason(ruleset):
    """B evaluated with A as donor equals B evaluated alone: every name, every year of the data and
    beyond it, undefined values with B's own reasons (which name version R6)."""
    from engine.data import load, sample_paths

    r3, r6 = ruleset.version("R3"), ruleset.version("R6")
    data = load(*sample_paths(), r6.inputs())
    alone, helped = Evaluator(r6, data), Evaluator(r6, data, donor=Evaluator(r3, data))
    names = [n for n, i in r6.items.items() if hasattr(i, "unit")] + ["code", "no_such_name"]
    reasons = 0
    for year in range(2017, 2031):
        for n in names:
            a, b = alone.value(n, year), helped.value(n, year)
            assert a == b, (n, year)
            reasons += sum(1 for x in (a if isinstance(a, tuple) else (a,)) if is_undef(x) and "R6" in x.reason)
        assert alone.band_choices("target_table", year) == helped.band_choices("target_table", year)
    assert reasons > 0  # the comparison covered values whose reason names the version
    assert helped.value("levy_support", 2024) is helped.share.other.value("levy_support", 2024)  # shared, not recomputed


def test_table_over_a_prefecture_value_can_yield_municipal_values(tmp_path):
    """One band for the whole prefecture (the key is p), but the band's result k is per municipality:
    each municipality gets its own k (115円 and 200円), not the first one's for all; fast.py agrees."""
    from pathlib import Path

    from engine.columnar import ColumnEvaluator as FastEvaluator
    from engine.data import load
    from engine.parse import parse_text
    from engine.versions import RuleSet

    rules = (
        'ruleset A\ninput municipal x "x" : yen\ninput municipal y "y" : yen\ninput prefecture p "p" : yen\n'
        'define k "k" : yen = x + y\ntable t "t" : yen over p\n{\n  band [0円, 10000円) "lo" => k "d"\n}\n'
        'define u "u" : yen = t + 1円\n'
    )
    version = RuleSet([parse_text(rules, "A.rules")]).version("A")
    m, p = Path(tmp_path / "m.csv"), Path(tmp_path / "p.csv")
    m.write_text("fiscal_year,code,name,x,y\n2025,131016,千代田区,110,5\n2025,131024,中央区,200,0\n", encoding="utf-8")
    p.write_text("fiscal_year,p\n2025,2000\n", encoding="utf-8")
    data = load(m, p, version.inputs())
    ev = Evaluator(version, data)
    assert ev.value("t", 2025) == (115, 200) and ev.value("u", 2025) == (116, 201)
    assert ev.band_choices("t", 2025) == (0,)
    assert FastEvaluator(version, data).value("u", 2025) == (116, 201)
