"""Examples in rule files: parsing, their own datasets, inheritance, `kokuho test` and the pytest collection."""

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import cli
from engine import api, ast
from engine.examples import EXPECT_UNDEFINED, example_dataset, run_examples
from engine.parse import parse_text
from engine.versions import RuleSet, default_rules_dir
from tests.conftest import ROOT

CHANGED = 'expect "131016" target_rate = 98.10%               # min(98.40, 98.10)'


def test_shipped_examples_pass_under_every_version_that_has_them():
    """R6 runs R3's levy and deficit examples unchanged, its own overrides of R3's target examples, not the removed one."""
    runs = run_examples(RuleSet.from_paths([default_rules_dir()]))
    assert [(r.version.id, r.example.name, r.passed) for r in runs] == [
        ("R3", "target_below_85", True),
        ("R3", "target_85_90", True),
        ("R3", "target_90_95", True),
        ("R3", "target_95_97", True),
        ("R3", "target_97_100", True),
        ("R3", "levy_small_prefecture", True),
        ("R3", "deficit_statuses", True),
        ("R6", "target_below_85", True),
        ("R6", "target_85_90", True),
        ("R6", "target_90_95", True),
        ("R6", "target_95_97", True),
        ("R6", "levy_small_prefecture", True),
        ("R6", "deficit_statuses", True),
        ("R6", "target_97_99_lower", True),
        ("R6", "target_97_99_higher", True),
        ("R6", "target_97_99_no_year_before_last", True),
        ("R6", "target_99_100", True),
        ("R6", "target_after_plan", True),
        ("R6", "alpha_relief_R6", True),
        ("R6", "alpha_relief_R7", True),
    ]
    assert sum(len(r.outcomes) for r in runs) == 123
    inherited = [r for r in runs if r.version.id == "R6" and r.example.name == "levy_small_prefecture"][0]
    assert inherited.example.span.file.endswith("R3.rules")


@pytest.mark.parametrize(
    "text, value",
    [
        ("98.40%", ast.Number(Fraction(123, 125), "percent", "98.40%")),
        ("1,000円", ast.Number(Fraction(1000), "yen", "1,000円")),
        ("true", ast.Bool(True)),
        ("false", ast.Bool(False)),
        ('"in plan"', ast.Text("in plan")),
        ("FY2026", ast.YearLiteral(2026, "FY2026")),
        ("令和8年度", ast.YearLiteral(2026, "令和8年度")),
        ("undefined", None),
    ],
)
def test_expected_and_input_values_parse(text, value):
    """An example value is a number with its unit, true/false, a text, a fiscal year or undefined."""
    rf = parse_text(
        f'ruleset X\nexample e year R7 {{\n municipality "131016" "千代田区" {{ a = {text}  a[FY2024] = {text} }}\n'
        f' expect "131016" b = {text}\n expect prefecture c = {text}\n}}\n'
    )
    (ex,) = rf.items
    assert [(a.name, a.year, a.value) for a in ex.municipalities[0].values] == [("a", None, value), ("a", 2024, value)]
    assert [(x.code, x.name, x.value) for x in ex.expectations] == [("131016", "b", value), (None, "c", value)]


SMALL = """\
ruleset X
input municipal insured "被保険者数" : count
input municipal rate "収納率" : percent
input prefecture total "総額" : yen
define share "按分額" : yen = floor(total * insured / sum(insured), 1円)
define high "高い" : bool = rate >= 95%

# floor(100 × 1/3) = 33, floor(100 × 2/3) = 66: the sum runs over the example's two municipalities only.
example split "二団体で按分" year FY2024 {
  municipality "131016" "千代田区" { insured = 1  rate = 96.00% }
  municipality "131024" "中央区" { insured = 2  rate[FY2023] = 99.00% }
  prefecture { total = 100円 }
  expect "131016" share = 33円
  expect "131024" share = 66円
  expect "131016" high = true
  expect "131024" high = undefined
}
"""


def write_rules(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_example_dataset_is_the_examples_own_rows():
    """Inputs without [year] are for the example's year; the rows point at the example's lines in the rule file."""
    rf = parse_text(SMALL, "small.rules")
    version = RuleSet([rf]).version("X")
    (ex,) = version.examples()
    data = example_dataset(version, ex)
    assert [str(m) for m in data.municipalities] == ["131016 千代田区", "131024 中央区"]
    assert data.years == (2023, 2024)
    assert data.municipal["insured"][2024] == (1, 2)
    assert data.municipal["rate"][2024] == (Fraction(24, 25), None)
    assert data.municipal["rate"][2023] == (None, Fraction(99, 100))
    assert data.prefecture["total"] == {2024: 100}
    assert data.rows[("131024", 2023)] == ("small.rules", 11)
    assert data.prefecture_rows[2024] == ("small.rules", 12)


def test_base_examples_run_under_extending_versions_unless_overridden_or_removed(tmp_path):
    """Y changes the rounding and inherits the example: it fails there (33 -> 30) at the base file's line.
    Z changes it too but overrides the example; W removes it, so W runs none."""
    change = 'override define share "按分額" : yen = floor(total * insured / sum(insured), 10円)\n'
    d = write_rules(
        tmp_path / "r",
        {
            "X.rules": SMALL,
            "Y.rules": "ruleset Y extends X\n" + change,
            "Z.rules": "ruleset Z extends X\n"
            + change
            + """
override example split "十円単位" year FY2024 {
  municipality "131016" "千代田区" { insured = 1 }
  municipality "131024" "中央区" { insured = 2 }
  prefecture { total = 100円 }
  expect "131016" share = 30円
  expect "131024" share = 60円
}
""",
            "W.rules": "ruleset W extends X\n" + change + "remove split\n",
        },
    )
    runs = run_examples(RuleSet.from_paths([d]))
    assert [(r.version.id, r.example.name, r.passed) for r in runs] == [("X", "split", True), ("Y", "split", False), ("Z", "split", True)]
    y = runs[1]
    assert [(o.expectation.span.file, o.expectation.span.line, o.expected, o.actual) for o in y.failures] == [
        (str(d / "X.rules"), 13, 33, 30),
        (str(d / "X.rules"), 14, 66, 60),
    ]
    assert runs[0].outcomes[3].expected is EXPECT_UNDEFINED


def test_kokuho_test_reports_file_line_expected_actual_and_derivation(tmp_path, capsys, monkeypatch):
    """One changed expected value in a copy of rules/tokyo: exit 1, the expect line, 98.20% vs 98.10%, the band that gave it."""
    d = tmp_path / "tokyo"
    shutil.copytree(ROOT / "rules" / "tokyo", d)
    text = (d / "R6.rules").read_text(encoding="utf-8")
    assert text.count(CHANGED) == 1
    (d / "R6.rules").write_text(text.replace(CHANGED, CHANGED.replace("98.10%", "98.20%")), encoding="utf-8")
    line = text[: text.index(CHANGED)].count("\n") + 1
    example_line = text[: text.index("example target_97_99_lower ")].count("\n") + 1
    monkeypatch.chdir(tmp_path)
    assert cli.main(["test", "tokyo"]) == 1
    out = capsys.readouterr().out
    assert (
        f"FAIL R6 target_97_99_lower 「97%以上99%未満：前々年度が低い」  (tokyo/R6.rules:{example_line}, FY2025 (R7))" in out.splitlines()
    )
    failure = out[out.index("\ntokyo/R6.rules:") :]
    assert failure.splitlines()[1:5] == [
        f"tokyo/R6.rules:{example_line}: example R6 target_97_99_lower 「97%以上99%未満：前々年度が低い」 failed under version R6, FY2025 (R7)",
        f'  tokyo/R6.rules:{line}: expect "131016" target_rate (千代田区)',
        "    expected: 98.20%",
        "    actual:   98.10%",
    ]
    assert "    derivation of the actual value:\n      target_rate 「目標収納率」 = 98.10%\n" in failure
    assert '"97%以上99%未満" => if defined(collection_rate[year - 2]) then min(previous_rate, collection_rate[year - 2])' in failure
    assert out.splitlines()[-1] == "20 example runs (123 expectations) in 2 versions: 19 passed, 1 failed"
    # A file runs its own version (its base is read from beside it).
    assert cli.main(["test", "tokyo/R3.rules"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "7 example runs (44 expectations) in 1 version: 7 passed, 0 failed"
    assert cli.main(["test", "tokyo", "--version", "R6", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (bad,) = [r for r in doc["runs"] if not r["passed"]]
    (x,) = [x for x in bad["expectations"] if not x["passed"]]
    assert (bad["line"], x["line"], x["expected"], x["actual"], x["derivation"]["value"]) == (
        example_line,
        line,
        "98.20%",
        "98.10%",
        "98.10",
    )


def _pytest(cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "rules"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pytest_collects_examples_and_fails_on_a_changed_value(tmp_path):
    """The root conftest.py makes pytest run every example; one changed value fails with the example's line."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    ok = _pytest(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "20 passed" in ok.stdout
    r6 = tmp_path / "rules" / "tokyo" / "R6.rules"
    text = r6.read_text(encoding="utf-8")
    r6.write_text(text.replace(CHANGED, CHANGED.replace("98.10%", "98.20%")), encoding="utf-8")
    line = text[: text.index(CHANGED)].count("\n") + 1
    bad = _pytest(tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAILED rules/tokyo/R6.rules::target_97_99_lower[R6]" in bad.stdout
    assert (
        f'rules/tokyo/R6.rules:{line}: expect "131016" target_rate (千代田区)\n    expected: 98.20%\n    actual:   98.10%\n' in bad.stdout
    )
    assert "1 failed, 19 passed" in bad.stdout


BAD = """\
ruleset X
input municipal insured "被保険者数" : count
input municipal rate "収納率" : percent
define high "高い" : bool = rate >= 95%
example e year R6 {
  municipality "131016" "千代田区" { rate = 98.40  insured = 1.5 }
  municipality "131024" "中央区" { rate = 101%  rate[R6] = 90% }
  municipality "131016" "千代田区" { insured = 1 }
  expect "131016" rate = 98.40
  expect "131016" high = "yes"
  expect "131016" insured = R6
}
"""


def test_example_values_must_fit_their_units():
    """`kokuho check` reports example values that do not fit the declared unit, and repeated rows."""
    rf = parse_text(BAD, "bad.rules")
    from engine.check import Checker

    found = [(f.code, f.span.line, f.message) for f in Checker(RuleSet([rf]).version("X")).run()]
    assert found == [
        ("example-unit", 6, "rate: 98.40 does not fit percent: write a percent like 98.40%"),
        ("example-unit", 6, "insured: a count is a whole number, not 1.5"),
        ("example-unit", 7, "rate: a rate of 101% is outside 0-100%"),
        ("example", 7, "rate for FY2024 is given twice (first at line 7)"),
        ("example", 8, "municipality 131016 is given twice in example e (first at line 6)"),
    ]


def test_expected_values_that_do_not_fit_fail_their_expectation(tmp_path, capsys):
    """An expected value of the wrong unit is a failed expectation (not a check finding): a unit changed
    in the rules then fails each example once instead of burying the real finding."""
    rules = SMALL.replace("share = 33円", "share = 33").replace("high = true", 'high = "yes"').replace("share = 66円", "share = 66%")
    d = write_rules(tmp_path / "x", {"X.rules": rules})
    assert cli.main(["test", str(d)]) == 1
    out = capsys.readouterr().out
    assert (
        ':14: expect "131024" share (中央区)\n    expected: 66% (66% does not fit yen: write an amount like 1,000円 or 1000)\n    actual:   66円\n'
        in out
    )
    assert (
        ':15: expect "131016" high (千代田区)\n    expected: "yes" ("yes" does not fit bool: write true or false)\n'.replace('\\"', '"')
        in out
    )
    assert ':13: expect "131016" share' not in out  # a bare number fits yen: 33 = 33円


def test_kokuho_test_exit_codes(tmp_path, capsys):
    """2 when the rules cannot run (a finding or a missing path), 1 on a failure, 0 when all pass."""
    d = write_rules(tmp_path / "bad", {"X.rules": BAD})
    assert cli.main(["test", str(d)]) == 2
    err = capsys.readouterr().err
    assert f"{d / 'X.rules'}:6:34: example-unit: rate: 98.40 does not fit percent: write a percent like 98.40%" in err
    assert cli.main(["test", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == f"no-such-file: rule file or directory not found: {tmp_path / 'missing'}"
    d = write_rules(tmp_path / "small", {"X.rules": SMALL})
    assert cli.main(["test", str(d)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 example run (4 expectations) in 1 version: 1 passed, 0 failed"
    wrong = SMALL.replace('expect "131024" high = undefined', 'expect "131024" high = false').replace(
        'expect "131016" share = 33円', "expect prefecture share = 33円"
    )
    d = write_rules(tmp_path / "wrong", {"X.rules": wrong})
    assert cli.main(["test", str(d)]) == 1
    out = capsys.readouterr().out
    assert (
        ":13: expect prefecture share\n    expected: 33円\n    actual:   undefined (share has a value per municipality; "
        'expect it for one, as in expect "131016" share = …)\n'
    ) in out
    assert (':16: expect "131024" high (中央区)\n    expected: false\n    actual:   undefined (no FY2024 rate for 131024 中央区)\n') in out
    assert cli.main(["test", str(d), "--version", "Q"]) == 2
    assert capsys.readouterr().err.strip() == "unknown-version: unknown version 'Q'; the rules define: X"


def test_shipped_rules_check_clean_with_examples():
    """The examples appended to rules/tokyo pass `kokuho check` too (units, names, municipalities)."""
    assert api.check([default_rules_dir()]).findings == []
