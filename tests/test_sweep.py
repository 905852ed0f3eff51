"""`kokuho sweep`: variations applied as AST edits, exact scenario rows, and the exact messages for bad input."""

from __future__ import annotations

from fractions import Fraction

import pytest

import cli
from engine import ast
from engine.data import load
from engine.evaluate import Evaluator, Undefined
from engine.parse import parse_text
from engine.source import parse_file
from engine.sweep import SweepError, apply, make_variation, parse_spec, plan, render, run
from engine.versions import RuleSet, default_rules_dir
from tests.conftest import MUNICIPAL_HEADER, PREFECTURE_HEADER, municipal_row, prefecture_row, write_csv

A, B = ("131016", "千代田区"), ("131024", "中央区")

# A constant definition to vary (the shipped rules have none).
WITH_CONSTANT = """
ruleset RX extends R6
  title "R6 with a constant"

define e "応益割指数" : ratio = 0.7
define e_share : ratio = e * 2
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    d = default_rules_dir()
    return RuleSet([parse_file(d / "R3.rules"), parse_file(d / "R6.rules"), parse_text(WITH_CONSTANT, "rx.rules")])


@pytest.fixture
def two_towns(tmp_path):
    """Two municipalities, FY2023-FY2024, built so that every levy is a round number.

    Equal insured (100) and income (1e8) each, national income per insured 1e6: β =
    (2e8 / 200) / 1e6 = 1, and both weights' second factor is (1·1/2 + 1/2) / 2 = 1/2.
    Medical index 1.2 (A) and 0.8 (B): medical weights (1 ± 0.2α) / 2, Σ = 1, γ = 1.
    FY2023 rates 92.00% (A) and 96.00% (B).
    """
    rows = []
    for year, rate_a, rate_b in ((2023, "92.00", "96.00"), (2024, "93.00", "96.50")):
        rows.append(
            municipal_row(
                year,
                *A,
                collection_rate=rate_a,
                insured=100,
                income=100000000,
                insured_40_64=30,
                income_40_64=40000000,
                medical_index="1.2000",
            )
        )
        rows.append(
            municipal_row(
                year,
                *B,
                collection_rate=rate_b,
                insured=100,
                income=100000000,
                insured_40_64=30,
                income_40_64=40000000,
                medical_index="0.8000",
            )
        )
    prefecture = [
        prefecture_row(y, levy_medical=1000000, levy_support=300000, levy_care=100000, national_income_per_insured=1000000)
        for y in (2023, 2024)
    ]
    m = write_csv(tmp_path / "m.csv", MUNICIPAL_HEADER, rows)
    p = write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, prefecture)
    return m, p


def test_two_alpha_scenarios_exact(rules, two_towns):
    """α(FY2024) = 0.86 (unvaried), 0.50, 1: totals, changed municipalities and movers by hand.

    levy_medical A = floor(1,000,000 (1 + 0.2α) / 2): 586,000 / 550,000 / 600,000; B the rest.
    With α = 1 the medical levies are 600,000 and 400,000, so the increase (relief at 1.00 in
    FY2024) is B's: 14,000 / 50,000 / 0. Support 150,000 and care 50,000 each.
    net_levy A = levy total (no relief): 786,000 / 750,000 / 800,000 -> A changes by
    −36,000 and +14,000; B's net levy is 600,000 in every scenario (the relief offsets it).
    Totals: levy_total 1,400,000 always; relief 14,000 / 50,000 / 0; net 1,386,000 /
    1,350,000 / 1,400,000. Targets do not depend on α: no municipality's target changes.
    """
    version = rules.version("R6")
    data = load(*two_towns, version.inputs())
    p = plan(version, [2024], [parse_spec("alpha.FY2024=0.50,1", version)])
    result = run(p, data, jobs=1)
    assert p.totals == ("levy_medical", "levy_support", "levy_care", "levy_total", "relief", "net_levy", "deficit")
    totals = [dict(zip(p.totals, r.totals)) for r in result.rows]
    assert [t["levy_total"] for t in totals] == [1400000, 1400000, 1400000]
    assert [t["relief"] for t in totals] == [14000, 50000, 0]
    assert [t["net_levy"] for t in totals] == [1386000, 1350000, 1400000]
    assert [t["deficit"] for t in totals] == [0, 0, 0]
    assert [(r.target_changed, r.levy_changed) for r in result.rows] == [(None, None), (0, 1), (0, 1)]
    assert [[(m.code, x) for m, x in r.movers] for r in result.rows] == [[], [("131016", -36000)], [("131016", 14000)]]
    assert render(result, "csv", headers="en") == (
        "\ufeffscenario,name,alpha.FY2024,levy_medical FY2024 (R6),levy_support FY2024 (R6),levy_care FY2024 (R6),"
        "levy_total FY2024 (R6),relief FY2024 (R6),net_levy FY2024 (R6),deficit FY2024 (R6),target_rate changed,"
        "net_levy changed,net_levy largest movers,undefined\r\n"
        "0,(unvaried),,1000000,300000,100000,1400000,14000,1386000,0,,,,\r\n"
        "1,,0.50,1000000,300000,100000,1400000,50000,1350000,0,0,1,131016 千代田区 −36000円,\r\n"
        "2,,1,1000000,300000,100000,1400000,0,1400000,0,0,1,131016 千代田区 +14000円,\r\n"
    )
    # For people (table, markdown) amounts have separators and 円, as in every other command's tables.
    table_rows = [line for line in render(result, "table", headers="en").splitlines()[2:] if line]
    assert [row.split()[:9] for row in table_rows] == [
        ["0", "(unvaried)", "1,000,000円", "300,000円", "100,000円", "1,400,000円", "14,000円", "1,386,000円", "0円"],
        ["1", "0.50", "1,000,000円", "300,000円", "100,000円", "1,400,000円", "50,000円", "1,350,000円", "0円"],
        ["2", "1", "1,000,000円", "300,000円", "100,000円", "1,400,000円", "0円", "1,400,000円", "0円"],
    ]
    assert table_rows[1].rstrip().endswith("131016 千代田区 −36,000円")


def test_band_increment_scenario_matches_reference(rules, two_towns):
    """+0.30pp instead of +0.50pp in [90%, 95%): A's FY2024 target 92.00 + 0.30 = 92.30%; B (96%) is in another band.

    The scenario version evaluated by the reference evaluator gives the same target.
    """
    version = rules.version("R6")
    data = load(*two_towns, version.inputs())
    var = parse_spec("target_table[90%,95%).increment=0.30pp", version)
    result = run(plan(version, [2024], [var]), data, jobs=1)
    assert result.rows[1].target_changed == 1
    varied = apply(version, ((var, 0),))
    assert Evaluator(varied, data).column("target_rate", 2024) == (Fraction(9230, 10000), Fraction(9610, 10000))
    band = varied.items["target_table"].bands[2]
    assert (band.result.op, band.result.right.value, band.result.right.text) == ("+", Fraction(3, 1000), "0.30pp")
    assert version.items["target_table"].bands[2].result.right.text == "0.50pp"  # the original is untouched


def test_band_bound_moves_the_neighbour_too(rules):
    """Moving the 95% boundary of [90%, 95%) to 96% gives [90%, 96%) and [96%, 97%): no gap, no overlap."""
    version = rules.version("R6")
    var = parse_spec("target_table[90%,95%).hi=96%", version)
    bands = apply(version, ((var, 0),)).items["target_table"].bands
    assert [b.interval for b in bands[2:4]] == ["[90%, 96%)", "[96%, 97%)"]


def test_schedule_entry_inside_a_range_splits_it(rules):
    """Setting FY2031 of α (entry FY2030..: 0) leaves FY2030 and FY2032.. at 0."""
    version = rules.version("R6")
    var = parse_spec("alpha[R13]=0.05", version)
    entries = apply(version, ((var, 0),)).items["alpha"].entries
    assert [(e.years_text, e.value.text) for e in entries[-3:]] == [("FY2030", "0"), ("FY2031", "0.05"), ("FY2032..", "0")]


def test_constant_definition_and_range(rules, two_towns):
    """e = 0.7 (unvaried), 0.5, 0.6 via the range 0.5..0.6:0.1: e_share = 2e, summed over 2 municipalities = 4e."""
    version = rules.version("RX")
    data = load(*two_towns, version.inputs())
    var = parse_spec("e=0.5..0.6:0.1", version)
    assert var.texts == ("0.5", "0.6")
    result = run(plan(version, [2024], [var], totals=("e_share",)), data, jobs=1)
    assert [r.totals for r in result.rows] == [(Fraction(28, 10),), (Fraction(2),), (Fraction(24, 10),)]


def test_parallel_and_serial_give_the_same_bytes(rules, two_towns):
    """Scenarios spread over processes come back in scenario order: the output does not depend on --jobs."""
    version = rules.version("R6")
    data = load(*two_towns, version.inputs())
    p = plan(version, [2024], [parse_spec("alpha.FY2024=0.40..0.90:0.05", version), parse_spec("relief_ratio.FY2024=0.5,1", version)])
    assert len(p.scenarios) == 23
    assert render(run(p, data, jobs=2), "csv") == render(run(p, data, jobs=1), "csv")


def test_per_year_rows_count_changes_in_that_year(rules, two_towns):
    """--per-year: FY2023 (α = 1 there, relief ratio 0) has net levies 600,000 + 200,000 and 400,000 + 200,000 =
    1,400,000 and no change; FY2024 shows A's −36,000 (see the exact test above)."""
    version = rules.version("R6")
    data = load(*two_towns, version.inputs())
    result = run(plan(version, [2023, 2024], [parse_spec("alpha.FY2024=0.50", version)], totals=("net_levy",)), data, jobs=1)
    assert render(result, "csv", per_year=True, headers="en").splitlines()[1:] == [
        "0,(unvaried),,FY2023 (R5),1400000,,,,",
        "0,(unvaried),,FY2024 (R6),1386000,,,,",
        "1,,0.50,FY2023 (R5),1400000,0,0,,",
        "1,,0.50,FY2024 (R6),1350000,0,1,131016 千代田区 −36000円,",
    ]


def test_undefined_totals_carry_their_reason(rules, two_towns):
    """FY2023 has no FY2022 data: the deficit total is undefined and the row says why."""
    version = rules.version("R6")
    data = load(*two_towns, version.inputs())
    result = run(plan(version, [2023], [parse_spec("alpha.FY2023=0.9", version)]), data, jobs=1)
    deficit = dict(zip(result.plan.totals, result.rows[0].totals))["deficit"]
    assert deficit == Undefined("no FY2022 advance appropriation for 131016 千代田区")


BAD_VARIATIONS = [
    ("alpha=0.5", "--vary 'alpha=0.5': 'alpha' is a schedule: give the fiscal year, e.g. alpha.FY2025"),
    (
        "alpha.FY2025",
        "--vary 'alpha.FY2025': a variation is TARGET=VALUES, e.g. alpha.FY2025=0.60,0.65 or target_table[90%,95%).increment=0.30pp",
    ),
    ("alhpa.FY2025=0.5", "--vary 'alhpa.FY2025=0.5': version R6 has no rule item 'alhpa'; did you mean 'alpha'?"),
    ("alpha.FY20x=0.5", "--vary 'alpha.FY20x=0.5': 'FY20x' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度"),
    ("beta.FY2024=1", "--vary 'beta.FY2024=1': 'beta' is a definition, not a schedule: only a schedule has a value per fiscal year"),
    (
        "levy_total=5",
        "--vary 'levy_total=5': 'levy_total' is not a constant: its formula is not a single number; vary a schedule entry, a band, or a constant definition",
    ),
    (
        "target_table=1",
        "--vary 'target_table=1': 'target_table' is a band table: name a band and a part, e.g. target_table[90%,95%).increment",
    ),
    (
        "target_table[90%,96%).increment=0.3pp",
        "--vary 'target_table[90%,96%).increment=0.3pp': target_table has no band [90%,96%); its bands are "
        "[0%, 85%), [85%, 90%), [90%, 95%), [95%, 97%), [97%, 99%), [99%, 100%]",
    ),
    (
        "target_table[97%,99%).increment=0.3pp",
        "--vary 'target_table[97%,99%).increment=0.3pp': band [97%, 99%) of target_table has no increment "
        "to vary: its result is not '… + a number'; vary its .result instead",
    ),
    ("alpha.FY2025=0.6,,0.7", "--vary 'alpha.FY2025=0.6,,0.7': an empty value in the list"),
    ("alpha.FY2025=abc", "--vary 'alpha.FY2025=abc': 'abc' is not a value like 0.60, 60%, 0.30pp or 1000円"),
    ("alpha.FY2025=0.9..0.5:0.1", "--vary 'alpha.FY2025=0.9..0.5:0.1': a range ends (0.5) before it starts (0.9)"),
    (
        "alpha.FY2025=0.5..0.7:0.1pp",
        "--vary 'alpha.FY2025=0.5..0.7:0.1pp': a range's start, end and step must have the same unit, not 0.5, 0.7 and 0.1pp",
    ),
    (
        "target_table[90%,95%).result=previous_rate +",
        "--vary 'target_table[90%,95%).result=previous_rate +': 'previous_rate +' is not an expression",
    ),
]


@pytest.mark.parametrize("spec, message", BAD_VARIATIONS)
def test_bad_variations_say_what_is_wrong(rules, spec, message):
    """Each malformed --vary is a usage error (exit 2) naming the variation and what was expected."""
    with pytest.raises(SweepError) as e:
        parse_spec(spec, rules.version("R6"))
    (f,) = e.value.findings
    assert (f.code, f.message) == ("sweep-variation", message)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("alpha.FY2025=60%", "scenario 1 (alpha.FY2025=60%) does not check: schedule 'alpha' is ratio but the value for FY2025 is percent"),
        (
            "target_table[90%,95%).hi=98%",
            "scenario 1 (target_table[90%,95%).hi=98%) does not check: band [98%, 97%) is empty: its lower end is not below its upper end",
        ),
    ],
)
def test_scenarios_that_break_the_rules_are_refused(rules, spec, message):
    """A varied version is checked like a rule file: a unit error or an empty band stops the sweep."""
    version = rules.version("R6")
    with pytest.raises(SweepError) as e:
        plan(version, [2024], [parse_spec(spec, version)])
    (f,) = e.value.findings
    assert (f.code, f.message) == ("sweep-invalid", message)


def test_scenario_file_named_scenarios_and_vary(rules, two_towns, tmp_path, capsys):
    """A YAML file: its version and period, one named scenario crossed with a 2-value variation -> rows 0..2."""
    f = tmp_path / "s.yaml"
    f.write_text(
        "version: R6\nperiod: R6\nvary:\n  relief_ratio.FY2024: [1.00, 0.50]\nscenarios:\n"
        "  - name: 緩やか\n    set:\n      alpha.FY2024: 0.50\n",
        encoding="utf-8",
    )
    m, p = two_towns
    rc = cli.main(
        [
            "sweep",
            "--scenarios",
            str(f),
            "--data",
            str(m),
            "--prefecture-data",
            str(p),
            "--format",
            "csv",
            "--headers",
            "en",
            "--totals",
            "relief,net_levy",
            "--movers",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    # relief = floor(50,000 * ratio): 1.00 -> 50,000, 0.50 -> 25,000; net = 1,400,000 - relief.
    assert out == (
        "\ufeffscenario,name,relief_ratio.FY2024,relief FY2024 (R6),net_levy FY2024 (R6),target_rate changed,net_levy changed,"
        "net_levy largest movers,undefined\r\n"
        "0,(unvaried),,14000,1386000,,,,\r\n"
        "1,緩やか,1.00,50000,1350000,0,1,,\r\n"
        "2,緩やか,0.50,25000,1375000,0,2,,\r\n"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "vary:\n  alpha.FY2024: [0.5]\nscenario: []\n",
            "s.yaml:3:11: sweep-file: unknown key 'scenario'; a scenario file has period, scenarios, vary, version",
        ),
        ("scenarios:\n  - set: {alpha.FY2024: 0.5}\n", "s.yaml:2:5: sweep-file: a scenario needs a name"),
        ("scenarios:\n  - name: x\n    set: {alpha.FY2024: [0.5, 0.6]}\n", "s.yaml:3:25: sweep-file: alpha.FY2024 must be a single value"),
        (
            "vary:\n  alpha: [0.5]\n",
            "s.yaml:2:10: sweep-variation: vary 'alpha': 'alpha' is a schedule: give the fiscal year, e.g. alpha.FY2025",
        ),
        ("vary: [1, 2\n", "s.yaml:2:1: sweep-file: not a readable YAML scenario file: expected ',' or ']', but got '<stream end>'"),
    ],
)
def test_bad_scenario_files(rules, tmp_path, capsys, text, message):
    """A scenario file's mistakes point at file:line:col with what was expected; exit code 2."""
    f = tmp_path / "s.yaml"
    f.write_text(text, encoding="utf-8")
    assert cli.main(["sweep", "--scenarios", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(message) and err.startswith(str(tmp_path))


def test_too_many_scenarios(rules):
    """100 x 100 x 100 values would be 1,000,000 scenarios: refused before anything is built."""
    version = rules.version("R6")
    vs = [parse_spec(f"alpha.{y}=0.01..1.00:0.01", version) for y in ("R6", "R7", "R8")]
    with pytest.raises(SweepError) as e:
        plan(version, [2024], vs)
    (f,) = e.value.findings
    assert (f.code, f.message) == ("sweep-too-many", "1,000,000 scenarios; the limit is 100,000: vary fewer values")


def test_nothing_to_vary(capsys):
    """No --vary and no --scenarios is a usage error, not an empty table."""
    assert cli.main(["sweep"]) == 2
    assert capsys.readouterr().err.strip() == "sweep-nothing: nothing to vary: give --vary TARGET=VALUES or --scenarios FILE"


def test_variation_values_are_ast_numbers_not_floats(rules):
    """Values keep their text and exact value: 0.65 stays 13/20 with the text '0.65' (never 0.65000000000000002)."""
    var = make_variation("alpha.FY2025", ["0.65", "65%"], rules.version("R6"), where="--vary")
    assert [(type(v), v.value, v.unit, v.text) for v in var.values] == [
        (ast.Number, Fraction(13, 20), "number", "0.65"),
        (ast.Number, Fraction(13, 20), "percent", "65%"),
    ]


# The exact messages asserted above, one per code, for the error catalogue (docs/errors.md, tests/test_errors.py).
TESTED_MESSAGES = [
    ("sweep-variation", BAD_VARIATIONS[2][1]),
    ("sweep-invalid", "scenario 1 (alpha.FY2025=60%) does not check: schedule 'alpha' is ratio but the value for FY2025 is percent"),
    ("sweep-file", "a scenario needs a name"),
    ("sweep-too-many", "1,000,000 scenarios; the limit is 100,000: vary fewer values"),
    ("sweep-nothing", "nothing to vary: give --vary TARGET=VALUES or --scenarios FILE"),
]
