"""The evaluation contract, run against both evaluators: the per-row reference (engine/evaluate.py,
Evaluator) and the columnar core every command uses (engine/columnar, ColumnEvaluator).

For the same question both must give the same answer, exactly: equal numbers (Fraction or int,
never a float), equal booleans and texts, the same Undefined reasons to the letter, the same
shape (one prefecture value, or a tuple per municipality), the same band choices, and the same
errors (code, message and span) where evaluation stops. The questions asked:

- every name of several rule sets (the shipped R3 and R6, the tutorial's R9 over them, and K
  below, written to reach every construct of the language) in every year of the data and in the
  years at and past the edge of the ±60-year window, on hand-made and random data;
- the same under overrides in every form the commands pass them (a scalar, a Python tuple per
  municipality with undefined entries, a column the columnar evaluator made, several at once),
  and every sub-expression of K evaluated on its own under them, as the diff's cause walk does;
- random formulas over K's values (arithmetic, rounding, min/max, conditions, `with`);
- a B evaluator sharing values with an A evaluator (a diff's B, a sweep's scenario) gives what
  B alone gives;
- the limits (depth, size, steps, cycles, division by zero) stop both alike;
- the data loaders (Arrow's and the reference's) read the same files into the same data and
  refuse the same files with the same error, and the columnar CSV writers write the bytes the
  value-by-value writers write.

The property tests are bounded (few examples, small data, no deadline) so the file runs in
well under a minute; CONFORMANCE_EXAMPLES=500 runs more, with fresh random examples. A failure
prints the name, year, overrides and both values.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from fractions import Fraction

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ast, resolve
from engine.check import children, item_exprs
from engine.columnar import ColumnData, ColumnEvaluator
from engine.data import Dataset, Municipality, check_digit, load, sample_paths
from engine.errors import DataError, RuleCheckError
from engine.evaluate import Evaluator, with_override
from engine.parse import parse_text
from engine.source import parse_file
from engine.values import MAX_VALUE_DIGITS, MAX_YEAR_DEPTH, Undefined
from engine.versions import RuleSet, default_rules_dir

ROOT = default_rules_dir().parent.parent
# A few derandomized examples per property in the suite; CONFORMANCE_EXAMPLES=500 explores with fresh random ones.
EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "0"))
PROPERTY = settings(
    max_examples=EXAMPLES or 12,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- K: a rule set that reaches every construct ---------------------------------------------------
# Every operator on municipal and prefecture values, every function and rounding mode on negative
# and inexact values, min/max of quotients, divisions by zero (municipal and prefecture), if/elif
# with undefined conditions, and/or whose right side is undefined where the left decides, tables
# over municipal, prefecture and quotient keys with values in no band, a schedule with missing
# years, [year - 1] chains (to the window's edge and past it), a year per municipality, fixed
# years, `with` at several depths (over a table's key, inside an aggregate, with an undefined
# value), text and year values, defined(), and the aggregates over undefined terms.

K_TEXT = r"""
ruleset K
  title "conformance constructs"

input municipal rate "収納率" : percent
  columns "収納率", "現年分収納率"
input municipal amount "額" : yen
  columns "金額"
input municipal people "人数" : count
  columns "被保険者数"
input municipal index "指数" : ratio
input municipal target_year "目標年度" : year
  columns "赤字解消目標年度"
input municipal status "状況" : text
input municipal flag "フラグ" : bool
input prefecture total "総額" : yen
  columns "納付金総額"
input prefecture national_rate "全国収納率" : percent
input prefecture factor "係数" : ratio

define plus "和" : yen = amount + total
define minus "差" : yen = amount - total
define negated "負" : yen = -amount
define neg_quot "負の商" : yen = -(amount / people)
define times "積" : yen = amount * index
define per_person "一人当たり" : yen = amount / people
define share "割合" : ratio = amount / total
define pref_quot "都の商" : ratio = total / (factor * 1円)
define by_zero "ゼロ除算" : yen = amount / (people - people)
define by_zero_pref "都のゼロ除算" : ratio = factor / (factor - factor)
define quot_quot "商の商" : ratio = (amount / people) / (total / count())
define lt "未満" : bool = per_person < total / 1000
define le "以下" : bool = rate <= national_rate
define gt "超" : bool = per_person > 1000円
define ge "以上" : bool = index * 3 / 7 >= factor
define eq "等しい" : bool = amount / people = total / count()
define ne "異なる" : bool = status != "none"
define text_eq "文字の比較" : bool = status = "in plan" or status = "overdue"
define bool_eq "真偽の比較" : bool = flag = (rate > 90%)
define both "かつ" : bool = flag and per_person > 100円
define either "または" : bool = flag or by_zero > 0円
define short_and "短絡かつ" : bool = rate > 100% and by_zero > 0円
define short_or "短絡または" : bool = rate >= 0% or by_zero > 0円
define negation "否定" : bool = not flag and not (index > 1)

define signed "符号付き" : yen = (amount - total) / people
define r_half_up "四捨五入" : yen = round(signed, 1円, half_up)
define r_half_up_ja "四捨五入（和名）" : yen = round(signed * 1000, 1,000円, 四捨五入)
define r_half_even "偶数丸め" : yen = round(signed, 1円, half_even)
define r_floor "切り捨て" : yen = round(signed, 0.01円, floor)
define r_floor_ja "切り捨て（和名）" : yen = round(signed, 1円, 切り捨て)
define r_ceil "切り上げ" : yen = round(signed, 1円, ceil)
define r_ceil_ja "切り上げ（和名）" : yen = round(signed, 1円, 切り上げ)
define r_down "ゼロ方向" : yen = round(signed, 1円, down)
define f_floor "floor" : yen = floor(-amount / 7, 1円)
define f_ceil "ceil" : yen = ceil(-amount / 7, 10円)
define r_rate "率の丸め" : percent = round(rate * 2 / 3, 0.01%, half_up)
define r_ratio "比の丸め" : ratio = round(index * 2 / 3 - 1, decimals(4), half_even)
define r_exact_half "ちょうど半分" : yen = round(amount / 2 - 0.5円, 1円, half_even)
define r_neg_half "負のちょうど半分" : yen = round(0.5円 - amount / 2, 1円, half_up)
define tie_even "商のちょうど半分" : yen = round((amount * 2 + people * 1円) / (people * 2), 1円, half_even)
define tie_up "負の商のちょうど半分" : yen = round(-(amount * 2 + people * 1円) / (people * 2), 1円, half_up)
define whole_quot "割り切れる商" : yen = floor(amount * people / people, 1円)
define smallest "最小" : yen = min(per_person, total / count(), 1000円)
define largest "最大" : yen = max(per_person, signed, -total)
define magnitude "絶対値" : yen = abs(signed)
define as_percent "百分率" : percent = percent(index / 3)
define as_ratio "比率" : ratio = ratio(rate) * 2 / 3
define has_rate "収納率あり" : bool = defined(rate)
define has_quot "商あり" : bool = defined(by_zero) or defined(amount[year - 1])

define chain "条件の連鎖" : ratio
  = if rate[year - 1] > national_rate then 1
    elif per_person > 1000円 then 2
    elif defined(status) and status = "none" then index
    else factor
define pref_if "都の条件" : yen = if factor > 1 then total else amount
define undef_branch "未定義の枝" : yen = if flag then amount else total
define pref_ratio "都の比" : ratio = total / (total + 1円)
define undef_cond "未定義の条件" : yen = if by_zero > 0円 then amount else 0円

table muni_band "市町村の区分" : ratio over index {
  band (0.5, 1)    "0.5超1未満"  => index * 2
  band [1, 1.2)    "1以上1.2未満" => 1
  band [1.2, 1.5]  "1.2以上1.5以下" => amount / people / 1000円
}
table pref_band "都の区分" : ratio over factor {
  band [0, 1)    "1未満"  => index
  band [1, 2]    "1以上2以下"  => factor
}
table quot_band "商の区分" : text over per_person {
  band [0円, 1000円)       "低" => "low"
  band [1000円, 5000円]    "中" => status
}
define muni_band2 "区分の2倍" : ratio = muni_band * 2

# Names that need each other in the same year through [year + 0] (the checker cannot see it), reached through the
# branches of an `if` and the bands of a table: which branch is computed first decides which sees "depends on itself".
define cyc_pick "循環の選択" : yen = if flag then cyc_v[year + 0] else cyc_w[year + 0]
define cyc_v "循環v" : yen = if defined(cyc_w[year + 0]) then 1円 else 2円
define cyc_w "循環w" : yen = if defined(cyc_v[year + 0]) then 3円 else 4円
table cyc_band "循環の表" : yen over index {
  band [-10, 1)  "1未満" => cyc_v2[year + 0]
  band [1, 10]   "1以上" => cyc_w2[year + 0]
}
define cyc_v2 "循環v2" : yen = if defined(cyc_w2[year + 0]) then 1円 else 2円
define cyc_w2 "循環w2" : yen = if defined(cyc_v2[year + 0]) then 3円 else 4円

schedule sched "年度別" : ratio {
  ..FY2020:         1
  FY2022..FY2023:   0.5
  FY2025:           index / 3
  FY2027..:         0
}
define prev_amount "前年度の額" : yen = amount[year - 1]
define prev2 "前々年度の額" : yen = prev_amount[year - 1]
define growth "伸び" : ratio = amount / amount[year - 1]
define cumulative "累計" : yen = if defined(amount[year - 1]) then cumulative[year - 1] + amount else amount
define back "過去へ" : yen = back[year - 1] + 1円
define ahead "未来へ" : yen = ahead[year + 1]
define at_target "目標年度の額" : yen = amount[target_year]
define fixed1 "固定年度" : yen = amount[FY2023]
define fixed2 "固定年度（令和）" : percent = rate[R5]
define fixed3 "固定年度（数字）" : yen = amount[2024]

define w1 "with" : yen = times with index = 2
define w2 "with の入れ子" : yen = (w1 with total = 0円) with amount = amount * 2
define w3 "集計の with" : yen = sum(times) with index = (index[year - 1])
define w_key "表の鍵の with" : ratio = pref_band with factor = 1.5
define w_key2 "市町村の鍵の with" : ratio = muni_band with index = index * 2
define w_deep "深い with" : yen = ((w1 with factor = 0) with index = 0.5) with people = people + 1
define w_prev "前年度の with" : yen = prev_amount with amount = 1円
define w_sched "表の with" : ratio = sched with sched = 2
define w_undef "未定義の with" : yen = plus with total = by_zero
define w_table "表の値の with" : ratio = muni_band2 with muni_band = 3

define code_text "コード" : text = code
define name_text "名称" : text = name
define label "表示" : text = if flag then "yes" elif defined(status) then status else "—"
define next_year "翌年度" : year = target_year + 1
define in_plan "計画内" : bool = year <= target_year
define years_left "残り年数" : ratio = FY2030 - year
define this_year "年度" : year = year
define year_lit "年度の値" : year = R6

define total_amount "額の合計" : yen = sum(amount)
define mean_rate "平均収納率" : percent = mean(rate)
define flagged "フラグ数" : count = count(flag)
define all_count "全数" : count = count()
define sum_quot "商の合計" : ratio = sum(amount / people / 1000円)
define mean_quot "商の平均" : ratio = mean(index * 3 / 7)
define beta_like "β" : ratio = round((sum(amount) / sum(people)) / total, decimals(13), half_up)
define above_mean "平均以上" : count = count(rate >= mean(rate))
"""

# More bands and branches than the columnar core chooses among with its vectorised choice (31): its general path.
K_TEXT += (
    'table many_bands "多くの区分" : ratio over index {\n'
    + "".join(f'  band [{(k - 16) / 8}, {(k - 15) / 8})  "b{k}" => {f"index * {k}" if k % 3 else f"{k} / 7"}\n' for k in range(36))
    + "}\n"
)
K_TEXT += (
    'define many_branches "多くの枝" : ratio = ' + " el".join(f"if index < {k / 8} then index * {k}" for k in range(-15, 20)) + " else 0\n"
)

# K2 revises K: a schedule and a table replaced from FY2024 (K's before), a definition changed, an input that
# ends in FY2024, a definition added, one removed; its undefined reasons name version K2 where K's name K.
K2_TEXT = r"""
ruleset K2 extends K
override schedule sched "年度別" : ratio
  effective FY2024..
{
  FY2024:    3
  FY2026..:  index * 2
}
override table pref_band "都の区分" : ratio over factor
  effective FY2024..FY2024
{
  band [0, 2)    "2未満"  => index / 3
  band [2, 6]    "2以上6以下"  => factor
}
override define per_person "一人当たり" : yen = amount / (people + 1)
override input municipal status "状況" : text
  effective ..FY2024
define extra "追加" : yen = per_person * 2 + sched * 1円
remove fixed3
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    """The shipped R3 and R6, the tutorial's R9 over them, K and K2."""
    files = [parse_file(default_rules_dir() / f) for f in ("R3.rules", "R6.rules")]
    files.append(parse_file(ROOT / "docs" / "examples" / "R9.rules"))
    files += [parse_text(K_TEXT, "K.rules"), parse_text(K2_TEXT, "K2.rules")]
    return RuleSet(files)


def test_the_rule_sets_check_clean(rules):
    """K and K2 are valid rules (what a user could evaluate), not only what the evaluators happen to take."""
    from engine.check import check_rules

    assert [f for f in check_rules(rules) if f.severity == "error"] == []


# ---- comparing values -----------------------------------------------------------------------------


def entry(x):
    """One value as comparable data: its kind and exact value. A float, a numpy scalar or None is a kind of its own (a bug)."""
    t = type(x)
    if t is Undefined:
        return ("undefined", x.reason)
    if t is bool:
        return ("bool", x)
    if t is str:
        return ("text", x)
    if t is int or t is Fraction:
        return ("number", Fraction(x))
    return ("unexpected " + t.__name__, repr(x))


@attrs.frozen
class Stopped:
    """Evaluation stopped with an error: its findings (code, message, span)."""

    findings: tuple


def comparable(v):
    """A value in the reference's form (one prefecture value, or a tuple per municipality), or where evaluation stopped."""
    if type(v) is Stopped:
        return ("stopped", v.findings)
    if isinstance(v, tuple):
        return ("municipal", tuple(entry(x) for x in v))
    return ("prefecture", entry(v))


def assert_same(ref, col, what) -> None:
    a, b = comparable(ref), comparable(col)
    if a == b:
        return
    if a[0] == b[0] == "municipal" and len(a[1]) == len(b[1]):
        i = next(i for i, (x, y) in enumerate(zip(a[1], b[1])) if x != y)
        raise AssertionError(f"{what}: municipality {i}: reference {a[1][i]!r}, columnar {b[1][i]!r}")
    raise AssertionError(f"{what}: reference {a!r}, columnar {b!r}")


def value_names(version) -> list[str]:
    return [n for n, i in version.items.items() if isinstance(i, (ast.InputDecl, ast.Definition, ast.Table, ast.Schedule))]


def table_names(version) -> list[str]:
    return [n for n, i in version.items.items() if isinstance(i, ast.Table)]


def reach_years(data) -> list[int]:
    """Every year of the data, the years either side, and the edges of the window: the first and last years that can
    be computed (data ± MAX_YEAR_DEPTH) and the first ones past them ("would need data before FY...")."""
    lo, hi = min(data.years), max(data.years)
    return sorted({lo - MAX_YEAR_DEPTH - 1, lo - MAX_YEAR_DEPTH, lo - 1, *data.years, hi + 1, hi + MAX_YEAR_DEPTH, hi + MAX_YEAR_DEPTH + 1})


def outcome(fn):
    """A value, or the error that stopped evaluation (Stopped), so that both sides can be compared."""
    try:
        return fn()
    except RuleCheckError as e:
        return Stopped(tuple((f.code, f.message, f.span) for f in e.findings))


def assert_conform(version, data, years, overrides=((), ()), names=None, ref=None, col=None) -> tuple:
    """Every name in every year under the overrides (reference form, columnar form): same value, same band choices."""
    ref = ref or Evaluator(version, data)
    col = col or ColumnEvaluator(version, data)
    ov_ref, ov_col = overrides
    names = names or value_names(version)
    for y in years:
        for n in names:
            a = outcome(lambda: ref.value(n, y, ov_ref))  # noqa: B023 (called within this iteration)
            b = outcome(lambda: col.value(n, y, ov_col))  # noqa: B023 (called within this iteration)
            assert_same(a, b, f"{version.id} {n} FY{y} overrides {[k for k, _ in ov_ref]}")
        for t in table_names(version):
            if t in names:
                assert ref.band_choices(t, y, ov_ref) == col.band_choices(t, y, ov_col), (version.id, t, y, ov_ref)
    return ref, col


# ---- data ------------------------------------------------------------------------------------------------

M4 = (
    Municipality("131016", "千代田区"),
    Municipality("131024", "中央区"),
    Municipality("131032", "港区"),
    Municipality("132012", "八王子市"),
)
YEARS4 = (2022, 2023, 2024, 2025)


def k_hand_data() -> Dataset:
    """Four municipalities, FY2022-FY2025: zero people (divisions by zero), missing cells, a negative index, rates
    of 0% and 100%, a key exactly on a band's open end (0.5), quotients in no band, a year without prefecture data."""
    F = Fraction
    municipal = {
        "rate": {
            2022: (F(9, 100), F(95, 100), None, F(1)),
            2023: (F(90, 100), F(9999, 10000), F(0), None),
            2024: (F(97, 100), None, F(85, 100), F(1, 2)),
            2025: (None,) * 4,
        },
        "amount": {2022: (100, 0, 7, None), 2023: (1000, 3, 0, 12345), 2024: (F(5, 2), 10**12, 3, 1), 2025: (0, None, 5, 10)},
        "people": {y: (3, 0, 7, None) if y % 2 else (1, 7, 0, 13) for y in YEARS4},
        "index": {y: (F(-1, 3), F(6, 5), F(3, 2), F(1, 2)) if y < 2024 else (F(1), None, F(11, 10), F(7, 5)) for y in YEARS4},
        "target_year": {y: (2023, None, 2026, 2020) for y in YEARS4},
        "status": {y: ("none", "in plan", None, "overdue") for y in YEARS4},
        "flag": {y: (True, False, None, True) for y in YEARS4},
    }
    prefecture = {
        "total": {2022: 100, 2023: 0, 2024: 7},
        "national_rate": {2022: F(9, 10), 2023: F(95, 100)},
        "factor": {2022: F(0), 2023: F(3, 2), 2024: F(5), 2025: F(-1, 3)},
    }
    return Dataset(M4, municipal, prefecture, {}, {}, YEARS4, ())


def code_of(prefix: int) -> str:
    """A municipality code with its JIS X 0402 check digit."""
    c5 = f"{prefix:05d}"
    return c5 + str(check_digit(c5))


def maybe(strategy, missing_one_in: int = 6):
    return st.one_of(st.just(None), *([strategy] * (missing_one_in - 1)))


def decimals(lo: int, hi: int, places: int):
    return st.integers(lo, hi).map(lambda k: Fraction(k, 10**places))


RATES = st.one_of(st.sampled_from([Fraction(0), Fraction(1), Fraction(9, 10), Fraction(97, 100)]), decimals(0, 10000, 4))
AMOUNTS = st.one_of(st.just(0), st.integers(1, 60), st.integers(1, 10**12), decimals(1, 10**6, 2))
PEOPLE = st.one_of(st.just(0), st.integers(1, 12), st.integers(1, 200_000))  # few people: quotients on rounding ties
INDEXES = st.one_of(st.sampled_from([Fraction(1, 2), Fraction(1), Fraction(6, 5), Fraction(3, 2), Fraction(0)]), decimals(-20000, 20000, 4))
STATUSES = st.sampled_from(["none", "in plan", "overdue", "no plan", 'a "quoted", text', "two\nlines"])
NAMES = st.sampled_from(["千代田区", "中央区", "港区", "八王子市", '"quoted" 区', "a, b 市", "line\nbreak 町", "x"])


@st.composite
def k_datasets(draw, min_size: int = 1):
    """Random K data: 1-5 municipalities (random valid codes), 1-4 years not always consecutive, missing cells."""
    prefixes = draw(st.lists(st.integers(10000, 47999), min_size=min_size, max_size=5, unique=True))
    ms = tuple(sorted((Municipality(code_of(p), draw(NAMES)) for p in prefixes), key=lambda m: m.code))
    first = draw(st.integers(2019, 2024))
    years = tuple(sorted(set(first + k for k in draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))))
    fields = {
        "rate": RATES,
        "amount": AMOUNTS,
        "people": PEOPLE,
        "index": INDEXES,
        "target_year": st.integers(2015, 2035),
        "status": STATUSES,
        "flag": st.booleans(),
    }
    municipal = {f: {y: tuple(draw(maybe(s)) for _ in ms) for y in years} for f, s in fields.items()}
    pref = {
        "total": st.one_of(st.just(0), st.integers(1, 10**9)),
        "national_rate": RATES,
        "factor": st.one_of(st.sampled_from([Fraction(0), Fraction(1), Fraction(2), Fraction(3, 2)]), decimals(-30000, 70000, 4)),
    }
    prefecture = {f: {y: v for y in years if (v := draw(maybe(s, 4))) is not None} for f, s in pref.items()}
    return Dataset(ms, municipal, prefecture, {}, {}, years, ())


def empty_data() -> Dataset:
    """No municipalities at all (the prefecture values remain): aggregates over nothing."""
    municipal = {f: {2024: ()} for f in ("rate", "amount", "people", "index", "target_year", "status", "flag")}
    prefecture = {"total": {2024: 5}, "national_rate": {2024: Fraction(9, 10)}, "factor": {2024: Fraction(3, 2)}}
    return Dataset((), municipal, prefecture, {}, {}, (2024,), ())


def docs_data(version) -> Dataset:
    return load(
        ROOT / "docs" / "examples" / "data" / "municipal.csv", ROOT / "docs" / "examples" / "data" / "prefecture.csv", version.inputs()
    )


# ---- every name, every year ------------------------------------------------------------------------------


@pytest.mark.parametrize("vid", ["R3", "R6", "R9"])
def test_shipped_and_tutorial_rules_on_the_example_data(rules, vid):
    """R3, R6 and the tutorial's R9 over docs/examples/data (an undefined rate, FY2025-FY2027): every name in every
    year of the data and at the edges of the 60-year window gives the same value and reason in both evaluators."""
    version = rules.version(vid)
    data = docs_data(version)
    assert_conform(version, data, reach_years(data))


@pytest.mark.parametrize("vid", ["R3", "R6", "R9"])
def test_shipped_rules_on_the_bundled_data(rules, vid):
    """The bundled 62 municipalities, every year of the data and the years either side."""
    version = rules.version(vid)
    data = load(*sample_paths(), version.inputs())
    assert_conform(version, data, range(min(data.years) - 1, max(data.years) + 2))


def test_constructs_on_hand_data(rules):
    """K over the hand-made data, every year incl. the window's edges; spot checks that the data reach what K is for."""
    version = rules.version("K")
    data = k_hand_data()
    ref, _ = assert_conform(version, data, reach_years(data))
    assert ref.value("back", 2024) == Undefined(f"back would need data before FY{2022 - MAX_YEAR_DEPTH}")
    assert ref.value("ahead", 2024) == Undefined(f"ahead would need data after FY{2025 + MAX_YEAR_DEPTH}")
    assert ref.value("by_zero_pref", 2024) == Undefined("division by zero in by_zero_pref in FY2024 (R6)")
    assert ref.value("short_and", 2024)[0] is False and ref.value("either", 2024)[0] is True
    assert ref.value("pref_band", 2024) == Undefined("5 falls in no band of pref_band in FY2024 (R6)")
    assert ref.value("quot_band", 2024)[1] == Undefined(
        "142857142857.142857142857143 falls in no band of quot_band for 131024 中央区 in FY2024 (R6)"
    )
    assert ref.value("muni_band", 2022)[3] == Undefined("0.5 falls in no band of muni_band for 132012 八王子市 in FY2022 (R4)")
    assert ref.value("sched", 2024) == Undefined("schedule sched has no value for FY2024 (R6) in version K")
    assert ref.value("r_half_up", 2024)[0] == -5 and ref.value("r_down", 2024)[0] == -4 and ref.value("r_floor_ja", 2024)[0] == -5


def test_a_rules_year_is_a_plain_int_when_a_command_gives_a_fiscal_year(rules):
    """Commands pass their years as FiscalYears (an int subclass, engine/years.py); the value of `year` in a rule is
    still the plain int values.py promises, in both evaluators: the column operations take only a plain int as a
    scalar, and anything else sent every comparison with `year` down the per-row path."""
    from engine.years import FiscalYear

    version, data = rules.version("K"), k_hand_data()
    for ev in (Evaluator(version, data), ColumnEvaluator(version, data)):
        v = ev.eval(ast.ThisYear(), FiscalYear(2024))
        assert type(v) is int and v == 2024, type(ev).__name__
    assert_conform(version, data, [FiscalYear(y) for y in YEARS4])


@PROPERTY
@given(data=k_datasets())
def test_constructs_on_random_data(rules, data):
    """K over random data (random codes, gaps between years, zeros, negative indexes, missing cells everywhere)."""
    assert_conform(rules.version("K"), data, reach_years(data))


def test_constructs_on_no_municipalities(rules):
    """Data with no municipality: sums are 0, counts 0, a mean is undefined ("mean over no municipalities")."""
    version = rules.version("K")
    data = empty_data()
    ref, _ = assert_conform(version, data, [2023, 2024])
    assert ref.value("mean_rate", 2024) == Undefined("mean over no municipalities")
    assert ref.value("total_amount", 2024) == 0 and ref.value("all_count", 2024) == 0


# ---- overrides in every form ------------------------------------------------------------------------------

K_UNITS = {
    "rate": "percent",
    "amount": "yen",
    "people": "count",
    "index": "ratio",
    "target_year": "year",
    "status": "text",
    "flag": "bool",
    "total": "yen",
    "national_rate": "percent",
    "factor": "ratio",
    "sched": "ratio",
    "per_person": "yen",
    "muni_band": "ratio",
    "pref_band": "ratio",
    "prev_amount": "yen",
    "label": "text",
}
GIVEN = Undefined("given as undefined")


def entries_of(unit: str):
    """Values an override of a name of this unit may hold (negative and inexact numbers, the given undefined value)."""
    if unit == "bool":
        values = st.booleans()
    elif unit == "text":
        values = STATUSES
    elif unit == "year":
        values = st.integers(2015, 2035)
    else:
        values = st.one_of(
            st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(3, 2), Fraction(-7, 3)]),
            st.integers(-(10**6), 10**6),
            st.fractions(min_value=-(10**4), max_value=10**4, max_denominator=1000),
        )
    return st.one_of(st.just(GIVEN), values, values, values)


# (overridden name, the name or expression whose column gives its value): what the cause walk passes.
COLUMN_SOURCES = [
    ("index", "as_ratio"),
    ("amount", "signed"),
    ("people", "people + 1"),
    ("flag", "gt"),
    ("status", "label"),
    ("target_year", "next_year"),
    ("total", "total_amount"),
    ("rate", "r_rate"),
    ("sched", "muni_band"),
    ("prev_amount", "per_person"),
    ("pref_band", "share"),
]


def expression(text: str):
    """An expression as the parser makes it (the right side of a definition in a file of its own)."""
    rf = parse_text(f"ruleset E\ndefine e : ratio = {text}\n", "E.rules")
    return rf.items[0].expr


@st.composite
def override_sets(draw, col: ColumnEvaluator, year: int):
    """(reference form, columnar form) of 1-3 overrides: scalars, tuples per municipality, columns made by `col`."""
    ov_ref, ov_col = (), ()
    n = col.n
    for _ in range(draw(st.integers(1, 3))):
        form = draw(st.sampled_from(["scalar", "tuple", "column"]))
        if form == "column":
            name, source = draw(st.sampled_from(COLUMN_SOURCES))
            value = col.run(expression(source), "a formula", year, ()) if " " in source else col.fast(source, year)
            py = col.to_python(value)
        else:
            name = draw(st.sampled_from(sorted(K_UNITS)))
            values = entries_of(K_UNITS[name])
            py = value = draw(values) if form == "scalar" else tuple(draw(values) for _ in range(n))
        ov_ref, ov_col = with_override(ov_ref, name, py), with_override(ov_col, name, value)
    return ov_ref, ov_col


@PROPERTY
@given(data=k_datasets(), choice=st.data())
def test_values_under_overrides_in_every_form(rules, data, choice):
    """Every name of K in every year under 1-3 overrides (a scalar, a tuple with undefined entries, a column the
    columnar evaluator made itself, in any mix): the reference, given the same values as tuples, agrees; so does the
    columnar evaluator given the tuples instead of its columns."""
    version = rules.version("K")
    ref, col = Evaluator(version, data), ColumnEvaluator(version, data)
    year = choice.draw(st.sampled_from(data.years))
    ov_ref, ov_col = choice.draw(override_sets(col, year))
    years = [min(data.years) - 1, *data.years]
    assert_conform(version, data, years, (ov_ref, ov_col), ref=ref, col=col)
    assert_conform(version, data, years, (ov_ref, ov_ref), ref=ref, col=col)


def test_overrides_on_hand_data(rules):
    """The forms of the property test, fixed: an override of a table's key, of a schedule, of a name used at another
    year, a column with undefined entries for a municipal input, and all of them nested."""
    version = rules.version("K")
    data = k_hand_data()
    ref, col = Evaluator(version, data), ColumnEvaluator(version, data)
    signed = col.fast("signed", 2024)  # inexact (a quotient per municipality) with a division by zero
    sets = [
        (("factor", Fraction(3, 2)),),
        (("index", (Fraction(1, 2), GIVEN, Fraction(-7, 3), Fraction(6, 5))),),
        (("sched", Fraction(2)),),
        (("amount", signed),),
        (("prev_amount", Fraction(-1, 3)), ("total", GIVEN)),
    ]
    nested = ()
    for ov in sets:
        for name, value in ov:
            nested = with_override(nested, name, value)
    for ov in sets + [nested]:
        ov_ref = tuple((n, col.to_python(v)) for n, v in ov)
        assert_conform(version, data, YEARS4, (ov_ref, ov), ref=ref, col=col)
        assert_conform(version, data, YEARS4, (ov_ref, ov_ref), ref=ref, col=col)
    assert ref.value("w_key", 2024, (("factor", Fraction(3, 2)),)) == Fraction(3, 2)
    assert ref.band_choices("muni_band", 2024, sets[1]) == (None, None, None, 2)  # 0.5 is on the open end of (0.5, 1)


def sub_expressions(version):
    """Every expression node of every item of the version (each once)."""
    seen, out = set(), []
    todo = [e for item in version.items.values() for e in item_exprs(item)]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo.extend(children(e))
    return out


@PROPERTY
@given(data=k_datasets(), choice=st.data())
def test_every_sub_expression_and_with_as_the_cause_walk_evaluates_them(rules, data, choice):
    """Every sub-expression of K evaluated on its own (Evaluator.eval, ColumnEvaluator.eval) under overrides; and each
    `with` split as the diff's cause walk splits it: its value made a column by ColumnEvaluator.run, its body run
    under that column, against the reference's value and body, and against ColumnEvaluator.eval given tuples."""
    version = rules.version("K")
    ref, col = Evaluator(version, data), ColumnEvaluator(version, data)
    year = choice.draw(st.sampled_from(data.years))
    ov_ref, ov_col = choice.draw(st.one_of(st.just(((), ())), override_sets(col, year)))
    ov_run = tuple((n, col.ops.wrap(v)) for n, v in ov_col)  # run() takes columns only, as the walk passes them
    for e in sub_expressions(version):
        assert_same(ref.eval(e, year, ov_ref), col.eval(e, year, ov_col), f"{e} in FY{year}")
        if isinstance(e, ast.With):
            v_ref = ref.eval(e.value, year, ov_ref)
            v_col = col.run(e.value, "a formula", year, ov_run)
            assert_same(v_ref, col.to_python(v_col), f"value of {e}")
            body_ref = ref.eval(e.body, year, with_override(ov_ref, e.name, v_ref))
            assert_same(body_ref, col.to_python(col.run(e.body, "a formula", year, with_override(ov_run, e.name, v_col))), f"body of {e}")
            assert_same(body_ref, col.eval(e.body, year, with_override(ov_ref, e.name, v_ref)), f"body of {e}, tuples")


# ---- random formulas --------------------------------------------------------------------------------------------------
# Formulas K does not state: random trees of arithmetic, rounding, min/max, comparisons, conditions and `with` over
# K's numbers (exact, per-municipality quotients, prefecture values, negative literals, other years), so that the
# columnar core's float bounds meet values close to every decision (a tie, an equality, a band end).

NUMBER_LEAVES = st.one_of(
    st.sampled_from(["amount", "people", "index", "rate", "total", "factor", "per_person", "signed", "share", "tie_even"]).map(ast.Ref),
    st.sampled_from(
        [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(3), Fraction(7, 100), Fraction(-25, 10), Fraction(1000)]
    ).map(lambda v: ast.Number(v, "", str(v))),
    st.sampled_from(["amount", "index", "rate"]).map(
        lambda n: ast.AtYear(ast.Ref(n), ast.Binary("-", ast.ThisYear(), ast.Number(Fraction(1), "", "1")))
    ),
)
STEPS = [Fraction(1), Fraction(1, 100), Fraction(1000), Fraction(1, 2), Fraction(1, 8)]
MODES = ["half_up", "half_even", "floor", "ceil", "down"]


def conditions(numbers):
    comparison = st.builds(ast.Binary, st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), numbers, numbers)
    base = st.one_of(comparison, numbers.map(lambda x: ast.Call("defined", (x,))))
    return st.one_of(base, st.builds(ast.Binary, st.sampled_from(["and", "or"]), base, base), base.map(lambda c: ast.Unary("not", c)))


def _number_nodes(inner):
    step = st.sampled_from(STEPS).map(lambda v: ast.Number(v, "", str(v)))
    return st.one_of(
        st.builds(ast.Binary, st.sampled_from(["+", "-", "*", "/"]), inner, inner),
        inner.map(lambda x: ast.Unary("-", x)),
        inner.map(lambda x: ast.Call("abs", (x,))),
        st.builds(lambda f, xs: ast.Call(f, tuple(xs)), st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda x, s, m: ast.Call("round", (x, s, ast.Ref(m))), inner, step, st.sampled_from(MODES)),
        st.builds(lambda f, x, s: ast.Call(f, (x, s)), st.sampled_from(["floor", "ceil"]), inner, step),
        st.builds(lambda f, x: ast.Call(f, (x,)), st.sampled_from(["sum", "mean"]), inner),
        st.builds(lambda c, a, b: ast.If(((c, a),), b), conditions(inner), inner, inner),
        st.builds(ast.With, inner, st.sampled_from(["index", "total", "people", "amount"]), inner),
    )


NUMBER_EXPRESSIONS = st.recursive(NUMBER_LEAVES, _number_nodes, max_leaves=10)


@settings(PROPERTY, max_examples=EXAMPLES or 40)
@given(data=k_datasets(), e=NUMBER_EXPRESSIONS, choice=st.data())
def test_random_formulas(rules, data, e, choice):
    """A random formula over K's values, evaluated on its own in a year of the data by both evaluators, and every
    sub-formula of it: the same value, reason and shape."""
    version = rules.version("K")
    ref, col = Evaluator(version, data), ColumnEvaluator(version, data)
    year = choice.draw(st.sampled_from(data.years))
    todo = [e]
    while todo:
        x = todo.pop()
        assert_same(ref.eval(x, year), col.eval(x, year), f"{x} in FY{year}")
        todo.extend(c for c in children(x) if not (isinstance(x, ast.Call) and x.function == "round" and c is x.args[2]))


# ---- sharing values between evaluators ------------------------------------------------------------------------


def b_reasons(values) -> list[str]:
    out = []
    for v in values:
        for x in v if isinstance(v, tuple) else (v,):
            if type(x) is Undefined:
                out.append(x.reason)
    return out


def assert_sharing_changes_nothing(rules, a_id, b_id, data, years, override_sets_ref) -> list:
    """B alone (the reference) against B sharing with a cold A and with a warm A (every value of A computed first, as a
    diff does), in both evaluators: every name, year and set of overrides. Returns B's values."""
    a, b = rules.version(a_id), rules.version(b_id)
    names = value_names(b) + [n for n in value_names(a) if n not in b.items] + ["code", "no_such_name"]
    alone = Evaluator(b, data)
    col_a_warm = ColumnEvaluator(a, data)
    ref_a_warm = Evaluator(a, data)
    for y in years:
        for n in value_names(a):
            col_a_warm.fast(n, y)
            ref_a_warm.value(n, y)
    others = {
        "reference sharing with a cold A": Evaluator(b, data, donor=Evaluator(a, data)),
        "reference sharing with a warm A": Evaluator(b, data, donor=ref_a_warm),
        "columnar alone": ColumnEvaluator(b, data),
        "columnar sharing with a cold A": ColumnEvaluator.sharing_with(ColumnEvaluator(a, data), b),
        "columnar sharing with a warm A": ColumnEvaluator.sharing_with(col_a_warm, b),
    }
    seen = []
    for ov in [()] + list(override_sets_ref):
        for y in years:
            for n in names:
                expected = outcome(lambda: alone.value(n, y, ov))  # noqa: B023 (called within this iteration)
                seen.append(expected)
                for what, ev in others.items():
                    assert_same(expected, outcome(lambda: ev.value(n, y, ov)), f"{b_id} {n} FY{y} {[k for k, _ in ov]}: {what}")  # noqa: B023 (called within this iteration)
            for t in table_names(b):
                for what, ev in others.items():
                    assert alone.band_choices(t, y, ov) == ev.band_choices(t, y, ov), (t, y, what)
    shared = others["columnar sharing with a warm A"]
    assert any(shared.fast(n, y) is col_a_warm.fast(n, y) for n in names for y in years)  # values were taken, not recomputed
    return seen


def test_sharing_k2_with_k(rules):
    """K2 sharing with K (a schedule and a table replaced from FY2024, a definition changed, one added, one removed):
    what B alone gives, values and reasons, with and without overrides; B's reasons name K2, never K."""
    data = k_hand_data()
    ov = [
        (("factor", Fraction(3, 2)),),
        (("index", (Fraction(1, 2), GIVEN, Fraction(-7, 3), Fraction(6, 5))),),
        (("people", Fraction(0)), ("sched", GIVEN)),
    ]
    seen = assert_sharing_changes_nothing(rules, "K", "K2", data, [2021, *YEARS4, 2026], ov)
    reasons = b_reasons(seen)
    assert "schedule sched has no value for FY2025 (R7) in version K2" in reasons
    assert "no pref_band (都の区分) in force for FY2025 (R7) in version K2; it covers FY2024 (R6)" in reasons
    assert "'fixed3' is not defined in version K2" in reasons
    assert "no status (状況) in force for FY2025 (R7) in version K2; it covers ..FY2024" in reasons
    assert not [r for r in reasons if "version K " in r + " " or "version K;" in r]


@settings(PROPERTY, max_examples=EXAMPLES or 5)
@given(data=k_datasets())
def test_sharing_k2_with_k_on_random_data(rules, data):
    """The same on random data, in every year of the data and the years either side."""
    years = [min(data.years) - 1, *data.years, max(data.years) + 1]
    assert_sharing_changes_nothing(rules, "K", "K2", data, years, [(("total", Fraction(-5, 2)),)])


@pytest.mark.parametrize("a_id, b_id", [("R3", "R6"), ("R6", "R9"), ("R3", "R9")])
def test_sharing_between_shipped_versions(rules, a_id, b_id):
    """R6 sharing with R3, R9 with R6 and with R3, over docs/examples/data, in every year of the window's edges, with
    α and a collection rate overridden: B's values and reasons as B alone gives them."""
    data = docs_data(rules.version(b_id))
    n = len(data.municipalities)
    ov = [(("alpha", Fraction(1)),), (("collection_rate", (Fraction(9, 10),) + (GIVEN,) * (n - 1)),)]
    seen = assert_sharing_changes_nothing(rules, a_id, b_id, data, reach_years(data), ov)
    assert any(f"version {b_id}" in r for r in b_reasons(seen))


def test_a_sweep_scenario_sharing_with_its_base_changes_nothing(rules):
    """A sweep's scenario (engine/sweep.py): K with one schedule entry and one band end changed, as sweep.apply changes
    them, evaluated by ColumnEvaluator.for_scenario from a warm evaluator of K: every value, reason and band choice as
    the reference gives them for the changed version."""
    version = rules.version("K")
    data = k_hand_data()
    sched, band = version.items["sched"], version.items["muni_band"]
    entries = (attrs.evolve(sched.entries[1], value=ast.Number(Fraction(7, 10), "", "0.7")),)
    lo = attrs.evolve(band.bands[0].lo, value=Fraction(4, 10), text="0.4")
    variant = version.with_item(sched, attrs.evolve(sched, entries=sched.entries[:1] + entries + sched.entries[2:]))
    variant = variant.with_item(band, attrs.evolve(band, bands=(attrs.evolve(band.bands[0], lo=lo),) + band.bands[1:]))
    base = ColumnEvaluator(version, data)
    for y in reach_years(data):
        for n in value_names(version):
            base.fast(n, y)
    scenario = ColumnEvaluator.for_scenario(base, variant, {"sched", "muni_band"})
    ref, _ = assert_conform(variant, data, reach_years(data), col=scenario)
    assert ref.value("sched", 2022) == Fraction(7, 10) and ref.value("muni_band", 2022)[3] == 1  # 0.5 is in (0.4, 1) now
    assert scenario.fast("plus", 2024) is base.fast("plus", 2024)  # taken from the base, not recomputed


# ---- limits -------------------------------------------------------------------------------------------------------

ONE = (Municipality("131016", "千代田区"),)


def both_outcomes(version, data, name, year, ov=()):
    """(reference, columnar) outcome of one value, each from a fresh evaluator."""
    return (
        outcome(lambda: Evaluator(version, data).value(name, year, ov)),
        outcome(lambda: ColumnEvaluator(version, data).value(name, year, ov)),
    )


def one_version(text: str, vid: str = "L"):
    return RuleSet([parse_text(f"ruleset {vid}\n" + text, f"{vid}.rules")]).version(vid)


def chain(n: int) -> str:
    """d0 = a, d1 = d0 + 1円, ..., d{n}: evaluating d{k} computes k + 2 names inside one another (the input a too)."""
    return 'define d0 "d0" : yen = a\n' + "".join(f'define d{i} "d{i}" : yen = d{i - 1} + 1円\n' for i in range(1, n + 1))


LIMITS_HEAD = 'input municipal a "a" : yen\ninput municipal q "q" : count\ninput prefecture p "p" : yen\n'


def span_of(version, name: str, line: int) -> ast.Span:
    """The span errors give for a name: its definition's (checked to be on the line the test expects)."""
    span = version.items[name].span
    assert (span.file, span.line, span.column) == (f"{version.id}.rules", line, 8)
    return span


def too_deep(version, name: str, year: int, line: int) -> Stopped:
    return Stopped(
        (
            (
                "eval-too-deep",
                f"the rules are nested too deeply to evaluate {name} for FY{year} (R{year - 2018}): "
                "a chain of definitions that use other definitions (or earlier years) is too long",
                span_of(version, name, line),
            ),
        )
    )


def test_depth_limit_is_max_name_depth_in_both():
    """MAX_NAME_DEPTH names inside one another evaluate; one more is eval-too-deep, in both evaluators alike, reported
    for the name asked for at its definition. (Each evaluator used to stop where Python's recursion limit met its own
    frames per name: a chain of about 110 names stopped the reference while the columnar core went on to about 120.)"""
    depth = resolve.MAX_NAME_DEPTH
    version = one_version(LIMITS_HEAD + chain(depth - 1))
    data = Dataset(ONE, {"a": {2024: (5,)}, "q": {2024: (1,)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    assert both_outcomes(version, data, f"d{depth - 2}", 2024) == (((5 + depth - 2,),) * 2)  # depth names
    expected = too_deep(version, f"d{depth - 1}", 2024, 4 + depth)
    assert both_outcomes(version, data, f"d{depth - 1}", 2024) == (expected, expected)
    for k in (110, 130, 250):  # between the old limits and MAX_NAME_DEPTH: values, in both
        assert both_outcomes(version, data, f"d{k}", 2024) == (((5 + k,),) * 2)


def test_year_chains_over_the_whole_window_evaluate():
    """Two names per year reaching back to the window's edge (122 names deep) evaluate to the edge's reason in both:
    [year - 1] chains count towards MAX_NAME_DEPTH like any other, and nothing else stops them first."""
    version = one_version(LIMITS_HEAD + 'define s1 "s1" : yen = s2[year - 1] + a\ndefine s2 "s2" : yen = s1 * 1\n')
    data = Dataset(ONE, {"a": {2024: (5,)}, "q": {2024: (1,)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    expected = (Undefined(f"s2 would need data before FY{2024 - MAX_YEAR_DEPTH}"),)
    assert both_outcomes(version, data, "s1", 2024) == (expected, expected)


def test_depth_limit_across_a_donor():
    """B's name on top of a chain it shares with A: MAX_NAME_DEPTH counts the names of both evaluators (one stack), so
    B sharing with a cold A stops where B alone stops, at B's name; a warm A's memo is used alike by both evaluators."""
    depth = resolve.MAX_NAME_DEPTH
    rs = RuleSet(
        [
            parse_text("ruleset A\n" + LIMITS_HEAD + chain(depth - 2) + 'define top "top" : yen = 0円\n', "A.rules"),
            parse_text("ruleset B\n" + LIMITS_HEAD + chain(depth - 2) + f'define top "top" : yen = d{depth - 2} + 1円\n', "B.rules"),
        ]
    )
    a, b = rs.version("A"), rs.version("B")
    data = Dataset(ONE, {"a": {2024: (5,)}, "q": {2024: (1,)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    expected = too_deep(b, "top", 2024, 4 + depth)
    outcomes = [
        outcome(lambda: Evaluator(b, data).value("top", 2024)),
        outcome(lambda: Evaluator(b, data, donor=Evaluator(a, data)).value("top", 2024)),
        outcome(lambda: ColumnEvaluator(b, data).value("top", 2024)),
        outcome(lambda: ColumnEvaluator.sharing_with(ColumnEvaluator(a, data), b).value("top", 2024)),
    ]
    assert outcomes == [expected] * 4
    warm_ref, warm_col = Evaluator(a, data), ColumnEvaluator(a, data)
    assert warm_ref.value(f"d{depth - 2}", 2024) == warm_col.value(f"d{depth - 2}", 2024) == (5 + depth - 2,)
    assert (
        Evaluator(b, data, donor=warm_ref).value("top", 2024)
        == ColumnEvaluator.sharing_with(warm_col, b).value("top", 2024)
        == (5 + depth - 1,)
    )


def too_large(version, name: str, year: int, line: int) -> Stopped:
    return Stopped(
        (
            (
                "value-too-large",
                f"{name} for FY{year} (R{year - 2018}) has more than {MAX_VALUE_DIGITS:,} digits as an exact "
                "number; round it (or what it adds up) with round(), floor() or ceil()",
                span_of(version, name, line),
            ),
        )
    )


@pytest.mark.parametrize(
    "what, formula",
    [
        ("prefecture", "p / 3円"),
        ("municipal, exact", "a / 3円"),
        ("municipal, a quotient per municipality", "a / (q * 3円)"),
    ],
)
def test_value_too_large_squaring(what, formula):
    """g = (5/3)^(2^k) from FY2010: its numerator passes MAX_VALUE_DIGITS at k = 13 (5^8192 has 5,726 digits), so g
    stops in FY2023, reported for g in FY2023 whichever year was asked, in both evaluators; FY2022 is exact."""
    version = one_version(LIMITS_HEAD + f'define g "g" : ratio = if year <= FY2010 then {formula} else g[year - 1] * g[year - 1]\n')
    data = Dataset(ONE, {"a": {2010: (5,), 2024: (5,)}, "q": {2010: (1,), 2024: (1,)}}, {"p": {2010: 5}}, {}, {}, (2010, 2024), ())
    ref, col = both_outcomes(version, data, "g", 2022)
    x = Fraction(5, 3) ** 4096
    assert (ref, col) == ((x,), (x,)) if what != "prefecture" else (x, x)
    expected = too_large(version, "g", 2023, 5)
    assert both_outcomes(version, data, "g", 2024) == (expected, expected)


def many_quotients(n: int, cancel: bool):
    """n municipalities with q = 10^25 + i (nearly pairwise coprime: their common denominator passes MAX_VALUE_DIGITS
    past about 160 of them); with cancel, each a / q comes twice, once negated, so the sum is 0."""
    ms = tuple(Municipality(code_of(10000 + i), f"市{i}") for i in range(n))
    q = tuple(10**25 + (i // 2 if cancel else i) for i in range(n))
    flag = tuple(i % 2 == 0 for i in range(n))
    return Dataset(ms, {"a": {2024: (1,) * n}, "q": {2024: q}, "f": {2024: flag}}, {"p": {2024: 7}}, {}, {}, (2024,), ())


@pytest.mark.parametrize("cancel", [False, True], ids=["distinct", "cancelling"])
def test_value_too_large_in_a_sum_of_quotients(cancel):
    """sum(a / q) over 200 distinct q with no common factor: values.exact_sum's common denominator passes
    MAX_VALUE_DIGITS, so the sum is value-too-large in both evaluators; also when the terms cancel to 0 (the limit is on
    the common denominator as the reference adds, not on the reduced total); 100 municipalities are exact."""
    version = one_version(
        LIMITS_HEAD + 'input municipal f "f" : bool\n'
        'define s "s" : ratio = sum((if f then a else -a) / (q * 1円))\ndefine m "m" : ratio = mean(a / (q * 1円))\n'
    )
    expected = too_large(version, "s", 2024, 6)
    assert both_outcomes(version, many_quotients(400 if cancel else 200, cancel), "s", 2024) == (expected, expected)
    if not cancel:
        assert both_outcomes(version, many_quotients(200, cancel), "m", 2024) == (too_large(version, "m", 2024, 7),) * 2
    small = many_quotients(100, cancel)
    ref, col = both_outcomes(version, small, "s", 2024)
    assert_same(ref, col, "s over 100 municipalities")
    assert (ref == 0) == cancel


def test_eval_too_long():
    """t15 = (t14 with v15 = 1円) + (t14 with v15 = 2円), and so on down to t0 = p + v1 + ... + v15 (prefecture values,
    quick to compute): 2^15 sets of overrides, past MAX_STEPS
    computations; eval-too-long for t15 in both evaluators. t9 (17 names under each of 2^9 sets) evaluates."""
    text = (
        LIMITS_HEAD
        + "".join(f'define v{i} "v{i}" : yen = 0円\n' for i in range(1, 16))
        + 'define t0 "t0" : yen = p + '
        + " + ".join(f"v{i}" for i in range(1, 16))
        + "\n"
    )
    text += "".join(f'define t{i} "t{i}" : yen = (t{i - 1} with v{i} = 1円) + (t{i - 1} with v{i} = 2円)\n' for i in range(1, 16))
    version = one_version(text)
    data = Dataset(ONE, {"a": {2024: (5,)}, "q": {2024: (1,)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    expected = Stopped(
        (
            (
                "eval-too-long",
                f"evaluating t15 for FY2024 (R6) needs more than {resolve.MAX_STEPS:,} computations of a name: "
                "'with' inside 'with' multiplies them",
                span_of(version, "t15", 35),
            ),
        )
    )
    assert both_outcomes(version, data, "t15", 2024) == (expected, expected)
    # t9: the sum over the 2^9 choices of v1..v9 in {1円, 2円} of 7円 + v1 + ... + v9
    assert both_outcomes(version, data, "t9", 2024) == ((2**9 * 7 + 9 * 3 * 2**8,) * 2)


def test_same_year_cycle_through_year_plus_0():
    """u needs v[year + 0] and v needs u: the checker cannot see it; evaluation gives "u depends on itself in FY2024"
    when u is asked first (and "v ..." when v is), the same in both evaluators, for both names."""
    version = one_version(LIMITS_HEAD + 'define u "u" : yen = v[year + 0] + 1円\ndefine v "v" : yen = u\n')
    data = Dataset(ONE, {"a": {2024: (5,)}, "q": {2024: (1,)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    for first, second in (("u", "v"), ("v", "u")):
        expected = Undefined(f"{first} depends on itself in FY2024 (R6)")
        for ev in (Evaluator(version, data), ColumnEvaluator(version, data)):
            assert (ev.value(first, 2024), ev.value(second, 2024)) == (expected, expected)


ZERO_TEXT = (
    LIMITS_HEAD
    + """define per "per" : yen = a / q
table tz "tz" : yen over a {
  band [0円, 100円] "0-100" => a / q
}
schedule sz "sz" : ratio {
  ..:  a / (q * 1円)
}
define wz "wz" : yen = per with q = 0
define pz "pz" : ratio = p / (p - p)
define sum_z "sum_z" : yen = sum(a / q)
define in_if "in_if" : yen = if a > 0円 then a / (q - q) else 0円
"""
)


def test_division_by_zero_reasons_name_the_definition_and_the_municipality():
    """Where the division is written decides the name in the reason: a definition, a table's band, a schedule's entry,
    the definition a `with` reaches, an aggregate's argument, a branch; a municipal division names the municipality,
    a prefecture one does not. The same texts in both evaluators."""
    version = one_version(ZERO_TEXT)
    ms = (Municipality("131016", "千代田区"), Municipality("131024", "中央区"))
    data = Dataset(ms, {"a": {2024: (5, 7)}, "q": {2024: (0, 2)}}, {"p": {2024: 7}}, {}, {}, (2024,), ())
    z = "division by zero in {} for 131016 千代田区 in FY2024 (R6)"
    expected = {
        "per": (Undefined(z.format("per")), Fraction(7, 2)),
        "tz": (Undefined(z.format("tz")), Fraction(7, 2)),
        "sz": (Undefined(z.format("sz")), Fraction(7, 2)),
        "wz": (Undefined(z.format("per")), Undefined("division by zero in per for 131024 中央区 in FY2024 (R6)")),
        "pz": Undefined("division by zero in pz in FY2024 (R6)"),
        "sum_z": Undefined(z.format("sum_z")),
        "in_if": (Undefined(z.format("in_if")), Undefined("division by zero in in_if for 131024 中央区 in FY2024 (R6)")),
    }
    for name, value in expected.items():
        ref, col = both_outcomes(version, data, name, 2024)
        assert_same(ref, value, name)
        assert_same(ref, col, name)


# ---- the data loaders ----------------------------------------------------------------------------------------------
# A municipal file for K's inputs, written as staff's files come: any header alias (Japanese or not, any case or
# width), any column order, some input columns absent, rows in any order, missing rows and cells, numbers with
# decimals of varying places, thousands separators (quoted), %, 円 and spaces, years as FY2024 / R6 / 令和6年度,
# texts with commas and quotes, comment and blank lines before the header, blank lines between rows, CRLF or LF,
# comma or tab, UTF-8, UTF-8 with BOM or CP932.

KEY_HEADERS = {
    "fiscal_year": ["fiscal_year", "年度", "Fiscal_Year"],
    "code": ["code", "団体コード", "コード"],
    "name": ["name", "団体名", "区市町村名", "保険者名"],
}
INPUT_HEADERS = {
    "rate": ["rate", "収納率", "現年分収納率", "ＲＡＴＥ"],
    "amount": ["amount", "金額", "AMOUNT"],
    "people": ["people", "被保険者数"],
    "index": ["index", "Index"],
    "target_year": ["target_year", "赤字解消目標年度"],
    "status": ["status"],
    "flag": ["flag"],
}
PREFECTURE_HEADERS = {"total": ["total", "納付金総額"], "national_rate": ["national_rate"], "factor": ["factor"]}
CP932_NAMES = ["千代田区", "中央区", "港区", "八王子市", "a, b 市", '"引用" 区', "檜原村"]


def year_text(y: int):
    forms = [str(y), f"FY{y}", f" {y} "]
    if y >= 2019:
        forms += [f"R{y - 2018}", f"令和{y - 2018}年度"]
    return st.sampled_from(forms)


def decimal_cell(lo: int, hi: int, max_places: int):
    """A plain decimal between lo and hi with 0 to max_places places, written with exactly that many."""
    return st.integers(0, max_places).flatmap(
        lambda k: st.integers(lo * 10**k, hi * 10**k).map(
            lambda n: f"{'-' if n < 0 else ''}{abs(n) // 10**k}" + (f".{abs(n) % 10**k:0{k}d}" if k else "")
        )
    )


def grouped(n: int) -> str:
    return f"{n:,}"


CELLS = {
    # Rates 0 or from 2: a column whose rates are all below 1.5 without a % sign is refused (data-rate-as-fraction).
    "rate": st.one_of(
        decimal_cell(2, 100, 4),
        st.sampled_from(["0", "100", "100.00", "99.99"]),
        decimal_cell(0, 99, 2).map(lambda t: t + "%"),
        decimal_cell(2, 99, 2).map(lambda t: f" {t} "),
    ),
    "amount": st.one_of(
        st.integers(0, 10**13).map(str),
        st.integers(1000, 10**12).map(grouped),
        decimal_cell(0, 10**6, 3),
        st.integers(0, 10**6).map(lambda n: f"{n}円"),
    ),
    "people": st.one_of(st.integers(0, 10**6).map(str), st.integers(1000, 10**6).map(grouped)),
    "index": st.one_of(decimal_cell(0, 5, 6), st.sampled_from(["1", "0.5", "0.25"])),  # a ratio of the data is never negative
    "target_year": st.integers(2015, 2035).flatmap(year_text),
    "status": st.sampled_from(["none", "in plan", "overdue", "a, b", 'say "x"', "計画内", " spaced "]),
    "flag": st.sampled_from(["true", "false", "1", "0", "はい", "いいえ", "TRUE", "False"]),
    "total": st.one_of(st.integers(0, 10**13).map(str), st.integers(1000, 10**12).map(grouped)),
    "national_rate": st.one_of(decimal_cell(2, 100, 2), st.just("0")),
    "factor": decimal_cell(0, 3, 4),
}


def write_rows(header, rows, delimiter, newline) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
    return buf.getvalue()


@st.composite
def data_files(draw):
    """(municipal text, prefecture text, encoding): valid files for K's inputs."""
    prefixes = draw(st.lists(st.integers(10000, 47999), min_size=1, max_size=6, unique=True))
    ms = [(code_of(p), draw(st.sampled_from(CP932_NAMES))) for p in prefixes]
    first = draw(st.integers(2017, 2025))
    years = sorted(set(first + k for k in draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))))
    fields = ["fiscal_year", "code", "name"] + [f for f in INPUT_HEADERS if draw(st.integers(0, 9))]
    fields = draw(st.permutations(fields))
    header = [draw(st.sampled_from(KEY_HEADERS.get(f) or INPUT_HEADERS[f])) for f in fields]
    rows = []
    for code, name in ms:
        for y in years:
            if rows and not draw(st.integers(0, 7)):
                continue  # no row for this municipality and year
            cells = {"fiscal_year": draw(year_text(y)), "code": code, "name": name}
            row = [cells[f] if f in cells else ("" if not draw(st.integers(0, 6)) else draw(CELLS[f])) for f in fields]
            rows.append(row)
    rows = draw(st.permutations(rows))
    named = set()
    for row in rows:  # a name may be left blank on a municipality's rows after its first
        code = row[fields.index("code")]
        if code in named and not draw(st.integers(0, 4)):
            row[fields.index("name")] = ""
        named.add(code)
    delimiter = draw(st.sampled_from([",", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = write_rows(header, rows, delimiter, newline)
    lines = text.splitlines(keepends=True)
    out = [draw(st.sampled_from(["", f"# 区市町村別データ{newline}", f"# a comment{newline}{newline}", newline]))] + lines[:1]
    for line in lines[1:]:
        out.append(newline * draw(st.sampled_from([0, 0, 0, 1, 2])) + line)
    p_fields = ["fiscal_year"] + [f for f in PREFECTURE_HEADERS if draw(st.integers(0, 5))]
    p_header = [draw(st.sampled_from(KEY_HEADERS.get(f) or PREFECTURE_HEADERS[f])) for f in p_fields]
    p_rows = [
        [str(y) if f == "fiscal_year" else ("" if not draw(st.integers(0, 4)) else draw(CELLS[f])) for f in p_fields]
        for y in sorted(set(years) | {years[-1] + 1})
    ]
    return "".join(out), write_rows(p_header, p_rows, ",", "\r\n"), draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))


def load_both(version, m_bytes: bytes, p_bytes: bytes, suffix: str = ".csv"):
    """The files read by data.load (the reference) and by ColumnData.load with Arrow on however small a file: each a
    Dataset and a ColumnData, or the DataError's findings."""
    import engine.columnar.data

    with tempfile.TemporaryDirectory() as tmp:
        m, p = os.path.join(tmp, "m" + suffix), os.path.join(tmp, "p.csv")
        with open(m, "wb") as f:
            f.write(m_bytes)
        with open(p, "wb") as f:
            f.write(p_bytes)
        try:
            ref = load(m, p, version.inputs())
        except DataError as e:
            ref = ("error", e.findings, str(e).replace(tmp, "<tmp>"))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(engine.columnar.data, "ARROW_MIN_BYTES", 0)
            try:
                direct = ColumnData.load(m, p, version.inputs())
            except DataError as e:
                direct = ("error", e.findings, str(e).replace(tmp, "<tmp>"))
            if isinstance(direct, ColumnData):
                direct.row_of(direct.municipalities[0].code, direct.years[0])  # provenance read while the files exist
        return ref, direct


def assert_same_data(ref: Dataset, direct: ColumnData) -> None:
    """Municipalities, years, every value (kind and exact value; None where missing), prefecture values, warnings,
    row counts and the (file, line) of every row: the same."""
    assert direct.municipalities == ref.municipalities and direct.years == ref.years
    got = direct.dataset().municipal
    assert sorted(got) == sorted(ref.municipal)
    for field, per_year in ref.municipal.items():
        assert sorted(got[field]) == sorted(per_year), field
        for y, col in per_year.items():
            assert [None if v is None else entry(v) for v in got[field][y]] == [None if v is None else entry(v) for v in col], (field, y)
    assert {f: {y: entry(v) for y, v in d.items()} for f, d in direct.prefecture.items()} == {
        f: {y: entry(v) for y, v in d.items()} for f, d in ref.prefecture.items()
    }
    assert direct.warnings == ref.warnings
    assert direct.row_counts == ref.row_counts and direct.sources == ref.sources
    for m in ref.municipalities + (Municipality("999992", "none"),):
        for y in ref.years + (min(ref.years) - 1,):
            assert direct.row_of(m.code, y) == ref.rows.get((m.code, y)), (m.code, y)
    for y in ref.years + (min(ref.years) - 1,):
        assert direct.prefecture_row_of(y) == ref.prefecture_rows.get(y), y


@PROPERTY
@given(files=data_files())
def test_arrow_loader_reads_what_data_load_reads(rules, files):
    """Random valid files through Arrow (ColumnData.load, forced on small files) and through data.load: the same data,
    warnings and row provenance; read by Arrow itself, not handed over; and K evaluates alike over the two."""
    version = rules.version("K")
    m_text, p_text, encoding = files
    ref, direct = load_both(version, m_text.encode(encoding), p_text.encode(encoding))
    assert isinstance(ref, Dataset), ref
    assert direct._provenance is not None  # Arrow read it (a file handed to data.load has no provenance of its own)
    assert_same_data(ref, direct)
    assert_conform(version, ref, [ref.years[-1]], ref=Evaluator(version, ref), col=ColumnEvaluator(version, direct))


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_arrow_loader_reads_the_bundled_data_as_data_load(rules, tmp_path, form):
    """The bundled 62 municipalities (CSV, and the same table as Parquet with typed columns) through Arrow, forced, and
    through data.load: the same data, warnings and provenance for R6's inputs, and R6's values alike over the two."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    import engine.columnar.data

    version = rules.version("R6")
    m, p = sample_paths()
    if form == "parquet":
        comments = sum(1 for line in m.read_text(encoding="utf-8-sig").splitlines() if line.startswith("#"))
        table = pcsv.read_csv(m, read_options=pcsv.ReadOptions(skip_rows=comments))
        m = tmp_path / "m.parquet"
        pq.write_table(table, m)
    ref = load(m, p, version.inputs())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine.columnar.data, "ARROW_MIN_BYTES", 0)
        direct = ColumnData.load(m, p, version.inputs())
    assert direct._provenance is not None
    assert_same_data(ref, direct)
    assert_conform(version, ref, [2024], ref=Evaluator(version, ref), col=ColumnEvaluator(version, direct))


def _mutate(draw, m_text: str, p_text: str):
    m = m_text.splitlines(keepends=True)
    p = p_text.splitlines(keepends=True)
    head = next(i for i, line in enumerate(m) if line.strip() and not line.startswith("#"))
    rows = [i for i in range(head + 1, len(m)) if m[i].strip()]
    delim = "\t" if m[head].count("\t") > m[head].count(",") else ","
    header = next(csv.reader([m[head].rstrip("\r\n")], delimiter=delim))
    newline = m[head][len(m[head].rstrip("\r\n")) :] or "\n"

    def cells(i):
        return next(csv.reader([m[i].rstrip("\r\n")], delimiter=delim))

    def put(i, row):
        m[i] = write_rows(row, [], delim, newline)

    def col_of(names):
        return next((k for k, h in enumerate(header) if h in names), None)

    kind = draw(
        st.sampled_from(
            [
                "check digit",
                "short code",
                "bad year",
                "duplicate row",
                "other name",
                "bad value",
                "long row",
                "short row",
                "unknown column",
                "duplicate column",
                "no code column",
                "empty",
                "header only",
                "utf-16",
                "bad utf-8 after bom",
                "nul",
                "carriage return",
                "prefecture bad year",
                "prefecture duplicate year",
                "prefecture bad value",
            ]
        )
    )
    i = draw(st.sampled_from(rows))
    row = cells(i)
    code_col = col_of(KEY_HEADERS["code"])
    if kind == "check digit":
        c = row[code_col]
        row[code_col] = c[:5] + str((int(c[5]) + 1) % 10)
        put(i, row)
    elif kind == "short code":
        row[code_col] = draw(st.sampled_from(["13101", "13101a", "1310166", " ", "１３１０１６"]))
        put(i, row)
    elif kind == "bad year":
        row[col_of(KEY_HEADERS["fiscal_year"])] = draw(st.sampled_from(["20x4", "FY24", "令和", "R0", "", "19999"]))
        put(i, row)
    elif kind == "duplicate row":
        m.insert(draw(st.sampled_from(rows)) + 1, m[i] if m[i].endswith(("\n", "\r")) else m[i] + newline)
    elif kind == "other name":
        row[col_of(KEY_HEADERS["name"])] = "別の名前"
        others = [j for j in rows if j != i and cells(j)[code_col] == row[code_col]]
        put(i, row)
        if not others:
            m.append(write_rows(row[:], [], delim, newline))
    elif kind == "bad value":
        fields = {k: f for k, h in enumerate(header) for f, names in INPUT_HEADERS.items() if h in names}
        if not fields:
            kind = "long row"
        else:
            k = draw(st.sampled_from(sorted(fields)))
            bad = {
                "rate": ["101", "-1", "abc", "1e2", "9" * 31],
                "amount": ["-5", "1/3", "1e999999999", "x円"],
                "people": ["1.5", "-1", "1e3"],
                "index": ["abc", "1.2.3", "0x10", "-0.25"],
                "target_year": ["20245", "next year"],
                "status": None,
                "flag": ["maybe", "2"],
            }[fields[k]]
            if bad is None:
                kind = "long row"
            else:
                row[k] = draw(st.sampled_from(bad))
                put(i, row)
    if kind == "long row":
        put(i, row + ["extra"])
    elif kind == "short row":
        put(i, row[:-1])
    elif kind == "unknown column":
        m[head] = write_rows(header + ["unknown"], [], delim, newline)
        for j in rows:
            put(j, cells(j) + ["1"])
    elif kind == "duplicate column":
        k = draw(st.integers(0, len(header) - 1))
        m[head] = write_rows(header + [header[k]], [], delim, newline)
        for j in rows:
            put(j, cells(j) + [cells(j)[k]])
    elif kind == "no code column":
        m[head] = write_rows([h if k != code_col else "団体" for k, h in enumerate(header)], [], delim, newline)
    elif kind == "empty":
        m = [draw(st.sampled_from(["", "# only a comment\n", "\n\n"]))]
    elif kind == "header only":
        m = m[: head + 1]
    elif kind == "carriage return":
        row[col_of(KEY_HEADERS["name"])] += "\r"
        m[i] = delim.join(row) + newline
    text_m, text_p = "".join(m), "".join(p)
    if kind == "prefecture bad year":
        text_p = text_p.replace("\n", "\nFY20x4,,\n" if "," in p[0] else "\nFY20x4\n", 1)
    elif kind == "prefecture duplicate year":
        text_p = text_p + p[-1]
    elif kind == "prefecture bad value":
        text_p = "fiscal_year,national_rate\r\n2024,120\r\n"
    return kind, text_m, text_p


@PROPERTY
@given(files=data_files(), choice=st.data())
def test_arrow_loader_refuses_what_data_load_refuses(rules, files, choice):
    """Valid files made invalid one way (a wrong check digit, a bad code or year, a duplicate row, another name for a
    code, a bad cell, a row too long or short, an unknown, duplicate or missing column, an empty file, UTF-16, bad
    UTF-8 after a BOM, a NUL, a lone carriage return, a bad prefecture row): Arrow hands such files to data.load, and
    the error is its own, word for word (file, line, column, code, message); a file that stays valid reads alike."""
    version = rules.version("K")
    m_text, p_text, encoding = files
    kind, m_text, p_text = _mutate(choice.draw, m_text, p_text)
    m_bytes, p_bytes = m_text.encode(encoding), p_text.encode(encoding)
    if kind == "utf-16":
        m_bytes = m_text.encode("utf-16")
    elif kind == "bad utf-8 after bom":
        m_bytes = b"\xef\xbb\xbf" + m_text.encode("utf-8").replace(b"\n", b"\n\xff\xfe", 1)
    elif kind == "nul":
        m_bytes = m_bytes.replace(b"\n", b"\n\x00", 1)
    ref, direct = load_both(version, m_bytes, p_bytes)
    if isinstance(ref, Dataset):
        assert isinstance(direct, ColumnData), (kind, direct)
        assert_same_data(ref, direct)
    else:
        assert ref == direct, kind


# ---- the columnar CSV writers ----------------------------------------------------------------------------------------

WRITTEN = [
    "rate",
    "amount",
    "status",
    "flag",
    "target_year",
    "minus",
    "signed",
    "per_person",
    "share",
    "as_ratio",
    "r_rate",
    "as_percent",
    "by_zero",
    "label",
    "gt",
    "next_year",
    "this_year",
    "total",
    "beta_like",
    "pref_quot",
    "sched",
    "quot_band",
    "code_text",
    "name_text",
    "tie_even",
    "years_left",
]
LABELS = st.text(alphabet=st.sampled_from(list('ab,"\n\r 率額（）;:')), min_size=1, max_size=8)


def relabelled(text: str, vid: str, labels: dict):
    """A rule file with some items' labels replaced (labels with commas, quotes and line breaks: no file can say so)."""
    rf = parse_text(text, f"{vid}.rules")
    return attrs.evolve(
        rf, items=tuple(attrs.evolve(i, label=labels[i.name]) if getattr(i, "name", None) in labels else i for i in rf.items)
    )


def written(fn, module, name: str, columnar: bool) -> bytes:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, name, 0 if columnar else 10**12)
        return fn()


@PROPERTY
@given(data=k_datasets(), choice=st.data())
def test_eval_csv_columnar_writer_writes_the_same_bytes(data, choice):
    """render.eval_csv_chunks written from columns (ARROW_MIN_CELLS = 0) and value by value: identical bytes, with
    English and Japanese headers, over random data: negative and non-terminating values, undefined values with their
    reasons, texts, booleans and years, municipality names and labels holding commas, quotes and line breaks."""
    import engine.render
    from engine.results import evaluate

    columns = choice.draw(st.lists(st.sampled_from(WRITTEN), min_size=1, max_size=8, unique=True))
    labels = {c: choice.draw(LABELS) for c in columns if choice.draw(st.booleans())}
    version = RuleSet([relabelled(K_TEXT, "K", labels)]).version("K")
    years = [min(data.years) - 1, *data.years]
    headers = choice.draw(st.sampled_from(["en", "ja"]))
    out = [
        written(
            lambda: b"".join(engine.render.eval_csv_chunks(evaluate(version, data, years, columns), headers=headers)),
            engine.render,
            "ARROW_MIN_CELLS",
            columnar,
        )
        for columnar in (True, False)
    ]
    assert out[0] == out[1]
    assert out[1].startswith("\ufeff".encode()) and out[1].count(b"\r\n") >= len(data.municipalities) * len(years) + 1


def test_eval_csv_text_column_undefined_throughout():
    """Found by the property above: a text value undefined in every row and year stacked as a number column (int64,
    all empty), which the formula guard and the quoting test took for strings (ArrowNotImplementedError)."""
    import engine.render
    from engine.results import evaluate

    municipal = {f: {2019: (None,)} for f in ("rate", "amount", "people", "index", "target_year", "status", "flag")}
    data = Dataset((Municipality("100005", "千代田区"),), municipal, {"total": {}, "national_rate": {}, "factor": {}}, {}, {}, (2019,), ())
    version = RuleSet([parse_text(K_TEXT, "K.rules")]).version("K")
    out = [
        written(
            lambda: b"".join(engine.render.eval_csv_chunks(evaluate(version, data, [2018, 2019], ["label"]), headers="en")),
            engine.render,
            "ARROW_MIN_CELLS",
            columnar,
        )
        for columnar in (True, False)
    ]
    assert out[0] == out[1]
    lines = out[0].decode("utf-8-sig").split("\r\n")
    assert lines[0] == "fiscal_year,code,name,label,undefined"
    assert [line.split(",")[:4] for line in lines[1:3]] == [["2018", "100005", "千代田区", ""], ["2019", "100005", "千代田区", ""]]


@PROPERTY
@given(data=k_datasets(), choice=st.data())
def test_outcome_csv_columnar_writer_writes_the_same_bytes(data, choice):
    """diff.outcome_csv written from the blocks' columns (ARROW_MIN_CELLS = 0) and row by row: identical bytes, for K
    against K2 over random data, changed rows only or all, with causes, differences (negative, non-terminating),
    values undefined on one side, and labels and names with commas, quotes and line breaks."""
    import engine.diff

    columns = choice.draw(
        st.lists(st.sampled_from(WRITTEN + ["extra", "sched", "muni_band", "pref_band"]), min_size=1, max_size=8, unique=True)
    )
    labels = {c: choice.draw(LABELS) for c in columns if choice.draw(st.booleans())}
    rs = RuleSet([relabelled(K_TEXT, "K", labels), relabelled(K2_TEXT, "K2", labels)])
    a, b = rs.version("K"), rs.version("K2")
    years = [min(data.years) - 1, *data.years]
    show_all = choice.draw(st.booleans())
    d = engine.diff.compare(a, b, data, data, years, [c for c in columns if c in a.items or c in b.items], show_all=show_all)
    out = [written(lambda: engine.diff.outcome_csv(d), engine.diff.outcome, "ARROW_MIN_CELLS", columnar) for columnar in (True, False)]
    assert out[0] == out[1]
    assert out[1].count(b"\r\n") >= len(d.order) + 1


# ---- disagreements this test found, each fixed in the engine: the smallest cases ---------------------------------------


def test_a_division_of_two_whole_prefecture_values_is_exact():
    """p / q with p = 1円 and q = 3円 (data gives whole amounts as ints): 1/3 exactly. The columnar core divided
    the two ints with Python's `/` and gave the float 0.3333333333333333."""
    version = one_version('input prefecture p "p" : yen\ninput prefecture q "q" : yen\ndefine r "r" : ratio = p / q\n')
    data = Dataset(ONE, {}, {"p": {2024: 1}, "q": {2024: 3}}, {}, {}, (2024,), ())
    ref, col = both_outcomes(version, data, "r", 2024)
    assert_same(ref, col, "r")
    assert type(col) is Fraction and col == Fraction(1, 3)


def test_a_branch_or_band_whose_value_is_an_undefined_prefecture_value():
    """`if f then a else p` and a band => p, where p has no value this year and some municipality takes that branch:
    undefined there with p's reason. The columnar core stopped with "ValueError: invalid entry in choice array"
    (an internal error in every command) when the undefined branch was not the last one chosen."""
    version = one_version(
        'input municipal f "f" : bool\ninput municipal a "a" : yen\ninput prefecture p "p" : yen\n'
        'define x "x" : yen = if f then a else p\n'
        'table t "t" : yen over a {\n  band [0円, 10円) "lo" => p\n  band [10円, 20円] "hi" => a\n}\n'
    )
    ms = (Municipality("131016", "千代田区"), Municipality("131024", "中央区"))
    data = Dataset(ms, {"f": {2024: (False, True)}, "a": {2024: (5, 15)}}, {"p": {}}, {}, {}, (2024,), ())
    missing = Undefined("no FY2024 p in the prefecture data")
    assert both_outcomes(version, data, "x", 2024) == ((missing, 15),) * 2
    assert both_outcomes(version, data, "t", 2024) == ((missing, 15),) * 2


def test_band_choices_of_a_table_b_computes_itself_are_not_a_s():
    """B's table is in force in FY2024 only; in FY2025 B has no band choices (its table is not in force), whatever A,
    whose table is, chose. B sharing with a warm A answered band_choices with A's choices for any table whose value
    it held, though it had computed that value itself."""
    text = 'input prefecture p "p" : ratio\ntable t "t" : ratio over p {\n  band [0, 10] "all" => p\n}\n'
    rs = RuleSet(
        [
            parse_text("ruleset A\n" + text, "A.rules"),
            parse_text(
                'ruleset B extends A\noverride table t "t" : ratio over p\n  effective FY2024..FY2024\n'
                '{\n  band [0, 10] "all" => p * 2\n}\n',
                "B.rules",
            ),
        ]
    )
    a, b = rs.version("A"), rs.version("B")
    data = Dataset(ONE, {}, {"p": {2024: 1, 2025: 1}}, {}, {}, (2024, 2025), ())
    for warm_a, shared in ((Evaluator(a, data), None), (ColumnEvaluator(a, data), None)):
        warm_a.value("t", 2025)
        shared = Evaluator(b, data, donor=warm_a) if isinstance(warm_a, Evaluator) else ColumnEvaluator.sharing_with(warm_a, b)
        assert shared.value("t", 2025) == Undefined("no t (t) in force for FY2025 (R7) in version B; it covers FY2024 (R6)")
        assert warm_a.band_choices("t", 2025) == (0,) and shared.band_choices("t", 2025) is None
        assert shared.value("t", 2024) == 2 and shared.band_choices("t", 2024) == (0,)


def test_names_needing_each_other_through_branches_are_computed_in_the_reference_s_order():
    """u = if f then v[year + 0] else w[year + 0], with v and w each testing whether the other is defined: the branch
    the first municipality takes (w) is computed first, so v sees "w depends on itself": u = (3円, 2円), the same
    through a table's bands. The columnar core computed the branches lowest first and gave (4円, 1円)."""
    version = one_version(
        'input municipal f "f" : bool\ninput municipal x "x" : ratio\n'
        'define u "u" : yen = if f then v[year + 0] else w[year + 0]\n'
        'define v "v" : yen = if defined(w[year + 0]) then 1円 else 2円\n'
        'define w "w" : yen = if defined(v[year + 0]) then 3円 else 4円\n'
        'table t "t" : yen over x {\n  band [0, 1) "lo" => v[year + 0]\n  band [1, 2] "hi" => w[year + 0]\n}\n'
    )
    ms = (Municipality("131016", "千代田区"), Municipality("131024", "中央区"))
    data = Dataset(ms, {"f": {2024: (False, True)}, "x": {2024: (1, 0)}}, {}, {}, {}, (2024,), ())
    assert both_outcomes(version, data, "u", 2024) == ((3, 2),) * 2
    assert both_outcomes(version, data, "t", 2024) == ((3, 2),) * 2


def test_outcome_csv_quotes_municipality_names_once():
    """A municipality named '"quoted", 区' in a diff's CSV: one pair of quotes, quotes doubled, as csv.writer writes
    it. The columnar writer quoted codes and names twice ('\"\"\"quoted\"\"...'); with no rows shown it stopped on an
    empty concatenation."""
    import engine.diff

    rs = RuleSet([parse_text(K_TEXT, "K.rules"), parse_text(K2_TEXT, "K2.rules")])
    a, b = rs.version("K"), rs.version("K2")
    data = k_hand_data()
    data = attrs.evolve(data, municipalities=(Municipality("131016", '"quoted", 区'),) + data.municipalities[1:])
    for columns, show_all in ((["per_person", "extra"], True), (["plus"], False)):
        d = engine.diff.compare(a, b, data, data, YEARS4, columns, show_all=show_all)
        out = [written(lambda: engine.diff.outcome_csv(d), engine.diff.outcome, "ARROW_MIN_CELLS", columnar) for columnar in (True, False)]  # noqa: B023 (called within this iteration)
        assert out[0] == out[1]
        assert (b'131016,"""quoted"", \xe5\x8c\xba",' in out[0]) == show_all  # "quoted", 区 in UTF-8, quoted once
