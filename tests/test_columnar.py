"""The columnar core (engine/columnar) against the reference evaluator (engine/evaluate.py): identical values.

Identical means equal Fractions (to the yen and the last decimal), equal booleans and texts,
and equal Undefined reasons, for every name of the version in every year around the data,
on random data with missing cells, zero rates, zero divisors and rates exactly on the band
boundaries. The property tests are bounded (examples, no deadline) to stay quick in CI.
"""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ast
from engine.columnar import ColumnData as FastData
from engine.columnar import ColumnEvaluator as FastEvaluator
from engine.columnar import evaluate_columns
from engine.data import Dataset, Municipality, load, sample_paths
from engine.errors import DataError
from engine.evaluate import Evaluator, Undefined
from engine.parse import parse_text
from engine.source import parse_file
from engine.versions import RuleSet, default_rules_dir

MUNICIPALITIES = [("131016", "千代田区"), ("131024", "中央区"), ("131032", "港区"), ("131041", "新宿区"), ("131059", "文京区")]
BOUNDARY_RATES = ["0.00", "84.99", "85.00", "89.99", "90.00", "94.99", "95.00", "96.99", "97.00", "98.99", "99.00", "100.00"]

# Constructs the shipped rules do not use, so that the property test reaches them too:
# negative values, ceil / down / half_even, min/max of inexact values, comparisons and
# conditions on divisions, count/mean/sum, `with`, fixed years, text and year conditions,
# a table over a computed ratio with a gap (values in no band), divisions of divisions.
CONSTRUCTS = """
ruleset FX extends R3
  title "fast-path constructs"

define d_neg : yen = 0円 - deficit_transfer
define d_abs : yen = abs(d_neg + advance_appropriation)
define r_ceil : yen = ceil(income / insured, 1円)
define r_down : yen = round(0円 - income / insured / 7, 1円, down)
define r_even : ratio = round(medical_index * 3 / 7, 0.001, half_even)
define r_neg : ratio = round(1 - medical_index * 13 / 7, 0.0001, half_up)
define r_floor_neg : ratio = floor(1 - medical_index * 13 / 7, 0.0001)
define mm : ratio = min(income / income_40_64, medical_index * 2, 2)
define mx : ratio = max(income / income_40_64, medical_index * 2)
define cmp1 : bool = income / insured > national_income_per_insured
define cmp2 : bool = income / insured = national_income_per_insured * 2
define cond : ratio = if income / insured > national_income_per_insured then medical_index elif collection_rate >= 95% then 1 else income / income_40_64
define cnt : count = count(achieved)
define avg : percent = mean(collection_rate)
define tot : yen = sum(income / 3)
define tot2 : ratio = sum(income / insured / national_income_per_insured)
define nested : ratio = (income_40_64 / insured_40_64) / (income / insured)
define wov : yen = levy_medical with alpha = 0.5
define prevy : percent = collection_rate[year - 2]
define lit : percent = collection_rate[FY2022]
define txt : bool = deficit_status = "none" or deficit_status = "overdue"
define nt : bool = not meets_national_average and defined(deficit_target_year)
define yr : bool = year <= deficit_target_year
define neg_share : ratio = 0 - income / sum(income) + insured / sum(insured)
define tiny : yen = (income / insured) / (insured * 1000000000000 + 1)
table t2 "比" : ratio over income / insured / national_income_per_insured
{
  band [0, 1)    => 1
  band [1, 2)    => medical_index
  band [2.5, 10] => income / income_40_64
}
define t2b : ratio = t2 * 2
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    r3 = parse_file(default_rules_dir() / "R3.rules")
    r6 = parse_file(default_rules_dir() / "R6.rules")
    return RuleSet([r3, r6, parse_text(CONSTRUCTS, "constructs.rules")])


def value_names(version) -> list[str]:
    return [n for n, i in version.items.items() if isinstance(i, (ast.InputDecl, ast.Definition, ast.Table, ast.Schedule))]


def assert_identical(version, data: Dataset, years) -> None:
    """Every name in every year: the fast value equals the reference value, reasons included."""
    ref, fast = Evaluator(version, data), FastEvaluator(version, data)
    for y in years:
        for name in value_names(version):
            expected, got = ref.value(name, y), fast.value(name, y)
            assert got == expected, (version.id, name, y, expected, got)
        for name, item in version.items.items():
            if isinstance(item, ast.Table):
                assert fast.band_choices(name, y) == ref.band_choices(name, y), (name, y)


# ---- random data ---------------------------------------------------------------------------


def maybe(strategy, missing_one_in: int = 8):
    """A value, missing (None) about once in `missing_one_in`."""
    return st.tuples(st.integers(0, missing_one_in - 1), strategy).map(lambda t: None if t[0] == 0 else t[1])


rates = st.one_of(st.sampled_from(BOUNDARY_RATES), st.integers(0, 10000).map(lambda h: f"{h // 100}.{h % 100:02d}")).map(
    lambda t: Fraction(t) / 100
)
counts = st.one_of(st.just(0), st.integers(1, 200_000)).map(Fraction)
yens = st.one_of(st.just(0), st.integers(1, 10**12)).map(Fraction)
indexes = st.integers(5000, 15000).map(lambda k: Fraction(k, 10000))
small_yens = st.one_of(st.just(0), st.integers(0, 10**8)).map(Fraction)


@st.composite
def datasets(draw):
    chosen = sorted(draw(st.sets(st.sampled_from(MUNICIPALITIES), min_size=1, max_size=5)))
    first = draw(st.integers(2019, 2024))
    years = tuple(range(first, first + draw(st.integers(1, 5))))
    fields = {
        "collection_rate": maybe(rates),
        "insured": maybe(counts, 30),
        "households": maybe(counts, 30),
        "income": maybe(yens, 30),
        "insured_40_64": maybe(counts, 30),
        "income_40_64": maybe(yens, 30),
        "medical_index": maybe(indexes, 30),
        "deficit_transfer": maybe(small_yens),
        "advance_appropriation": maybe(small_yens),
        "deficit_target_year": maybe(st.integers(2019, 2030), 2),
    }
    municipal = {f: {y: tuple(draw(s) for _ in chosen) for y in years} for f, s in fields.items()}
    pref_fields = {
        "total_medical": maybe(yens, 20),
        "total_support": maybe(yens, 20),
        "total_care": maybe(yens, 20),
        "national_income_per_insured": maybe(st.one_of(st.just(0), st.integers(1, 2_000_000)).map(Fraction), 20),
        "national_collection_rate": maybe(rates, 20),
    }
    prefecture = {f: {} for f in pref_fields}
    for f, s in pref_fields.items():
        for y in years:
            v = draw(s)
            if v is not None:
                prefecture[f][y] = v
    munis = tuple(Municipality(c, n) for c, n in chosen)
    return Dataset(munis, municipal, prefecture, {}, {}, years, ())


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(data=datasets())
def test_fast_equals_reference_on_random_data_r3_r6(rules, data):
    """The shipped R3 and R6 over random data: every value and every reason as the reference's."""
    years = range(data.years[0] - 1, data.years[-1] + 2)
    for vid in ("R3", "R6"):
        assert_identical(rules.version(vid), data, years)


@PROPERTY
@given(data=datasets())
def test_fast_equals_reference_on_random_data_other_constructs(rules, data):
    """Constructs beyond the shipped rules (see CONSTRUCTS) give the reference's values too."""
    assert_identical(rules.version("FX"), data, data.years)


# ---- the bundled data, all of it -----------------------------------------------------------


@pytest.mark.parametrize("vid", ["R3", "R6"])
def test_fast_equals_reference_on_sample_data(rules, vid):
    """All names, FY2017-FY2030, on the bundled 62 municipalities: identical to the reference."""
    version = rules.version(vid)
    data = load(*sample_paths(), version.inputs())
    assert_identical(version, data, range(2017, 2031))


# ---- hand-checked values -------------------------------------------------------------------


def test_levy_floor_exact_where_float_rounds_the_wrong_way(rules):
    """A levy that is exactly an integer, and one a hair below, stay exact.

    Two municipalities, equal everything, T = 3 yen: each weight is 1/2, levy = floor(3/2) = 1
    yen each, residual 1 yen. With T = 2 the share is exactly 1 yen each (no residual).
    Float arithmetic gives 1.5 and 1.0 here exactly; the proved rounding must agree with
    the Fraction result and not with a float that lands on the boundary.
    """
    version = rules.version("R3")
    ms = (Municipality("131016", "千代田区"), Municipality("131024", "中央区"))
    one = lambda v: (Fraction(v), Fraction(v))  # noqa: E731
    municipal = {
        "collection_rate": {2021: one(Fraction(9) / 10)},
        "insured": {2021: one(100)},
        "households": {2021: one(60)},
        "income": {2021: one(10**8)},
        "insured_40_64": {2021: one(30)},
        "income_40_64": {2021: one(4 * 10**7)},
        "medical_index": {2021: one(1)},
        "deficit_transfer": {2021: one(0)},
        "advance_appropriation": {2021: one(0)},
        "deficit_target_year": {2021: (None, None)},
    }
    for total, levy, residual in ((3, 1, 1), (2, 1, 0)):
        prefecture = {
            "total_medical": {2021: Fraction(total)},
            "total_support": {2021: Fraction(0)},
            "total_care": {2021: Fraction(0)},
            "national_income_per_insured": {2021: Fraction(10**6)},
            "national_collection_rate": {2021: Fraction(9, 10)},
        }
        data = Dataset(ms, municipal, prefecture, {}, {}, (2021,), ())
        ev = FastEvaluator(version, data)
        assert ev.value("levy_medical", 2021) == (Fraction(levy), Fraction(levy))
        assert ev.value("residual_medical", 2021) == Fraction(residual)


def test_undefined_reasons_name_the_municipality(rules):
    """A missing rate and a 0.00% rate: the reasons are the reference's texts, word for word."""
    version = rules.version("R6")
    ms = (Municipality("131016", "千代田区"), Municipality("131024", "中央区"))
    municipal = {
        f: {2023: (Fraction(1), Fraction(1)), 2024: (Fraction(1), Fraction(1))}
        for f in (
            "insured",
            "households",
            "income",
            "insured_40_64",
            "income_40_64",
            "medical_index",
            "deficit_transfer",
            "advance_appropriation",
        )
    }
    municipal["collection_rate"] = {2023: (None, Fraction(0)), 2024: (Fraction(9, 10), Fraction(9, 10))}
    municipal["deficit_target_year"] = {2023: (None, None), 2024: (None, None)}
    prefecture = {
        "total_medical": {2024: Fraction(1000)},
        "total_support": {2024: Fraction(100)},
        "total_care": {2024: Fraction(10)},
        "national_income_per_insured": {2024: Fraction(1)},
        "national_collection_rate": {2024: Fraction(9, 10)},
    }
    data = Dataset(ms, municipal, prefecture, {}, {}, (2023, 2024), ())
    got = FastEvaluator(version, data).value("income_rate_medical", 2024)
    assert got == (
        Undefined("no FY2023 collection rate for 131016 千代田区"),
        Undefined("division by zero in income_rate_medical for 131024 中央区 in FY2024 (R6)"),
    )


# ---- the columnar reader -------------------------------------------------------------------


def test_fastdata_load_equals_data_load_on_sample(rules):
    """Reading the bundled CSV straight into columns gives the same values as data.load."""
    version = rules.version("R6")
    m, p = sample_paths()
    direct = FastData.load(m, p, version.inputs())
    via = FastData.from_dataset(load(m, p, version.inputs()), version.inputs())
    assert direct.municipalities == via.municipalities and direct.years == via.years
    assert direct.dataset().municipal == via.dataset().municipal
    assert direct.prefecture == via.prefecture


def test_fastdata_load_reads_unusual_cells_like_data_load(rules, tmp_path):
    """Cells outside the plain-decimal fast path ('1,234', '91.5%', spaces) are parsed by data.parse_value."""
    version = rules.version("R6")
    m, p = sample_paths()
    text = m.read_text(encoding="utf-8-sig").replace(",12137,7707,", ',"12,137", 7707 ,', 1).replace(",90.29,", ",90.29%,", 1)
    (tmp_path / "m.csv").write_text(text, encoding="utf-8-sig")
    shutil.copy(p, tmp_path / "p.csv")
    direct = FastData.load(tmp_path / "m.csv", tmp_path / "p.csv", version.inputs())
    reference = load(tmp_path / "m.csv", tmp_path / "p.csv", version.inputs())
    assert direct.dataset().municipal == reference.municipal
    assert reference.municipal["insured"][2018][0] == 12137


def test_fastdata_load_reports_data_load_errors(rules, tmp_path):
    """A wrong check digit: the error is data.load's own, word for word."""
    version = rules.version("R6")
    m, p = sample_paths()
    (tmp_path / "m.csv").write_text(m.read_text(encoding="utf-8-sig").replace("131016", "131017", 1), encoding="utf-8-sig")
    shutil.copy(p, tmp_path / "p.csv")
    with pytest.raises(DataError) as fast_err:
        FastData.load(tmp_path / "m.csv", tmp_path / "p.csv", version.inputs())
    with pytest.raises(DataError) as ref_err:
        load(tmp_path / "m.csv", tmp_path / "p.csv", version.inputs())
    assert str(fast_err.value) == str(ref_err.value)
    assert "code 131017 has a wrong check digit: expected 131016" in str(fast_err.value)


def test_evaluate_columns_matches_reference_columns(rules):
    """evaluate_columns (the benchmark's entry point) gives the reference's summary columns."""
    version = rules.version("R6")
    data = load(*sample_paths(), version.inputs())
    ev = FastEvaluator(version, data)
    out = evaluate_columns(ev, [2024, 2025], ["levy_total", "net_levy", "target_rate", "deficit_status"])
    ref = Evaluator(version, data)
    for (name, year), v in out.items():
        assert ev.to_python(v) == ref.value(name, year)
