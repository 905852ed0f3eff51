"""Revisions that take over from their first year (issue 13): a version keeps each name's history of
pieces; an override with `effective P` is in force in P, the base's pieces before P, nothing after P's
last year; and every place that shows a rule shows the piece in force that year."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import cli
from engine import api, diff
from engine.errors import RuleCheckError
from engine.evaluate import Evaluator, Undefined
from engine.explain import explain_for, explanation_json, render_explanation
from engine.render import render_summary
from engine.summary import summarise
from engine.versions import NotInForce, Piece, RuleSet, default_rules_dir
from engine.years import Period
from tests.conftest import municipal_row, prefecture_row

ROOT = Path(__file__).resolve().parent.parent
R9 = ROOT / "docs" / "examples" / "R9.rules"


@pytest.fixture(scope="module")
def rs9() -> RuleSet:
    return RuleSet.from_paths([default_rules_dir(), R9])


def history(v, name):
    return [(p.version, p.years) for p in v.pieces(name)]


def rules(tmp_path, **files) -> RuleSet:
    for name, text in files.items():
        (tmp_path / f"{name}.rules").write_text(text, encoding="utf-8")
    return RuleSet.from_paths([tmp_path / f"{n}.rules" for n in files])


# ---- the history of a name ------------------------------------------------------------------------


def test_r6_keeps_r3s_table_before_its_own_years(rs9):
    """R6's table (effective R6-R8) takes over in FY2024; R3's table, with no end, stays in force before."""
    r6 = rs9.version("R6")
    assert history(r6, "target_table") == [("R3", Period(None, 2023)), ("R6", Period(2024, 2026))]
    assert r6.at(2021).piece("target_table").version == "R3"
    assert r6.at(2023).lookup("target_table") is rs9.version("R3").items["target_table"]
    assert r6.at(2024).piece("target_table").version == "R6"
    after = r6.at(2027).piece("target_table")
    assert isinstance(after, NotInForce) and after.version == "R6"
    assert after.reason == "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)"
    assert r6.items["target_table"].label == "目標収納率（検討案）"  # items: the newest piece, as before


def test_r9_keeps_r3s_then_r6s_table(rs9):
    """R9's table (effective R9-R11): R3's up to FY2023, R6's FY2024-FY2026, R9's FY2027-FY2029, none after."""
    r9 = rs9.version("R9")
    assert history(r9, "target_table") == [("R3", Period(None, 2023)), ("R6", Period(2024, 2026)), ("R9", Period(2027, 2029))]
    assert [r9.at(y).piece("target_table").version for y in (2021, 2023, 2024, 2026, 2027, 2029)] == ["R3", "R3", "R6", "R6", "R9", "R9"]
    assert r9.at(2030).lookup("target_table").reason == (
        "no target_table (目標収納率（令和9～11年度 試案）) in force for FY2030 (R12) in version R9; it covers FY2027-FY2029 (R9-R11)"
    )
    assert [p.years_text for p in r9.pieces("target_table")] == ["up to FY2023 (R5)", "FY2024-FY2026 (R6-R8)", "FY2027-FY2029 (R9-R11)"]


def test_a_schedule_override_lists_only_its_own_years(rs9):
    """R9's α (effective FY2027.., entries from FY2027 only): R6's schedule up to FY2026, R9's from FY2027.
    R6's α has no `effective`, so it replaced R3's in every year."""
    r6, r9 = rs9.version("R6"), rs9.version("R9")
    assert history(r6, "alpha") == [("R6", None)]
    assert history(r9, "alpha") == [("R6", Period(None, 2026)), ("R9", Period(2027, None))]
    ev = Evaluator(r9, api.Session.open([default_rules_dir(), R9]).data_for(r9))
    assert [ev.value("alpha", y) for y in range(2022, 2031)] == [
        1,
        1,
        Fraction(86, 100),
        Fraction(71, 100),
        Fraction(57, 100),
        Fraction(3, 10),
        Fraction(15, 100),
        0,
        0,
    ]


def test_pieces_of_definitions_and_inputs_and_a_gap(tmp_path):
    """The same rule for definitions and inputs: B's piece in FY2027-FY2029; before it A's (with A's own end,
    FY2025, so FY2026 has none and says whose piece ended); after FY2029 none."""
    rs = rules(
        tmp_path,
        A="""ruleset A
define x "エックス" : ratio = 1
  effective R6-R7
input prefecture total "総額" : yen
  effective ..R7
""",
        B="""ruleset B extends A
override define x "エックス" : ratio = 2
  effective R9-R11
override input prefecture total "総額" : yen
  effective R9..
""",
    )
    b = rs.version("B")
    assert history(b, "x") == [("A", Period(2024, 2025)), ("B", Period(2027, 2029))]
    assert [b.at(y).piece("x").version if isinstance(b.at(y).piece("x"), Piece) else None for y in range(2023, 2031)] == [
        None,
        "A",
        "A",
        None,
        "B",
        "B",
        "B",
        None,
    ]
    assert b.at(2026).lookup("x").reason == "no x (エックス) in force for FY2026 (R8) in version B; it covers FY2024-FY2025 (R6-R7)"
    assert b.at(2023).lookup("x").reason == "no x (エックス) in force for FY2023 (R5) in version B; it covers FY2024-FY2025 (R6-R7)"
    assert history(b, "total") == [("A", Period(None, 2025)), ("B", Period(2027, None))]
    assert b.at(2026).lookup("total").reason == "no total (総額) in force for FY2026 (R8) in version B; it covers ..FY2025"


def test_one_file_may_state_several_pieces_of_an_item(tmp_path):
    """Two pieces in one version, with years that do not overlap: each in force in its own years."""
    rs = rules(
        tmp_path,
        A="""ruleset A
define x : ratio = 1
  effective ..R8
define x : ratio = 2
  effective R9..
""",
    )
    a = rs.version("A")
    assert history(a, "x") == [("A", Period(None, 2026)), ("A", Period(2027, None))]
    ev = Evaluator(a, tiny_data(tmp_path, a))
    assert [ev.value("x", y) for y in (2026, 2027)] == [1, 2]


def tiny_data(tmp_path, version):
    """One municipality, FY2026-FY2027, no figures: enough for rules without inputs."""
    from engine.data import load

    (tmp_path / "m.csv").write_text("fiscal_year,code,name\n2026,131016,千代田区\n2027,131016,千代田区\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("fiscal_year\n2026\n2027\n", encoding="utf-8")
    return load(tmp_path / "m.csv", tmp_path / "p.csv", version.inputs())


def test_two_pieces_whose_years_overlap_are_an_error(tmp_path):
    """piece-overlap at the second piece, naming both periods and the shared years; without `effective` it
    stays duplicate-name."""
    with pytest.raises(RuleCheckError) as e:
        rules(tmp_path, A="ruleset A\ndefine x : ratio = 1\n  effective R6-R8\ndefine x : ratio = 2\n  effective R8..\n").version("A")
    (f,) = e.value.findings
    assert (f.code, f.message, f.span.line, f.span.column) == (
        "piece-overlap",
        "'x' is stated twice in version A for years that overlap: FY2024-FY2026 (R6-R8) (line 2) and FY2026.., "
        "both in force in FY2026 (R8); give each its own years",
        4,
        8,
    )
    with pytest.raises(RuleCheckError) as e:
        rules(tmp_path, B="ruleset B\ndefine x : ratio = 1\n  effective R6-R8\ndefine x : ratio = 2\n").version("B")
    assert [(f.code, f.message) for f in e.value.findings] == [("duplicate-name", "'x' is defined twice in version B (first at line 2)")]


def test_shared_values_need_the_whole_history(rs9):
    """A diff's B takes a value from A only when the name's whole history is the same in both."""
    r3, r6, r9 = (rs9.version(v) for v in ("R3", "R6", "R9"))
    assert r6.shares(r9, "beta") and r6.shares(r9, "relief_ratio")
    assert not r6.shares(r9, "target_table")  # R9 adds a piece
    assert not r6.shares(r9, "alpha")  # same item up to FY2026, but R9's takes over in FY2027
    assert not r3.shares(r6, "target_table")  # the same R3 piece, but in force up to FY2023 only under R6


# ---- values ----------------------------------------------------------------------------------------


def test_r6_gives_r3s_targets_for_r3s_years():
    """Under R6, FY2021 targets are R3's (every municipality), and achievers are the seed's 44 of 62."""
    session = api.Session.open()
    r3, r6 = session.version("R3"), session.version("R6")
    e3, e6 = session.evaluator(r3), session.evaluator(r6)
    for y in (2021, 2022, 2023):
        assert e6.column("target_rate", y) == e3.column("target_rate", y)
    assert e6.column("target_rate", 2021)[:2] == (Fraction(9083, 10000), Fraction(9143, 10000))
    assert sum(1 for x in e6.column("achieved", 2021) if x is True) == 44


def test_cli_eval_version_r6_year_r3_gives_r3s_targets(capsys):
    """`kokuho eval --version R6 --year R3` gives R3's targets: the same CSV rows as R3's, no note on stderr."""
    assert cli.main(["eval", "--version", "R6", "--year", "R3", "--columns", "target_rate", "--format", "csv"]) == 0
    r6, err = capsys.readouterr()
    assert err == ""
    assert cli.main(["eval", "--version", "R3", "--year", "R3", "--columns", "target_rate", "--format", "csv"]) == 0
    r3 = capsys.readouterr().out
    assert r6 == r3
    assert r6.splitlines()[1] == "2021,131016,千代田区,90.83,"


def test_r9_over_fy2024_fy2029_on_the_bundled_data(rs9):
    """R9: R6's targets FY2024-FY2026 (the same values), R9's table from FY2027; on the bundled data FY2026 has
    no rates yet, so FY2027's targets are undefined for that reason, not for want of a table."""
    session = api.Session.open([default_rules_dir(), R9])
    r6, r9 = session.version("R6"), session.version("R9")
    e6, e9 = session.evaluator(r6), session.evaluator(r9)
    for y in (2024, 2025, 2026):
        assert e9.column("target_rate", y) == e6.column("target_rate", y)
    assert e9.column("target_rate", 2026)[:2] == (Fraction(4567, 5000), Fraction(9277, 10000))
    assert e9.column("target_rate", 2027)[0] == Undefined("no FY2026 collection rate for 131016 千代田区")
    assert e6.column("target_rate", 2027)[0] == Undefined(
        "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)"
    )


def test_r9_targets_on_data_with_fy2026_rates(rs9, make_data):
    """With FY2026 rates, FY2026's targets are R6's (+0.10pp) and FY2027's R9's (+0.20pp) for the same band."""
    r9 = rs9.version("R9")
    rows = [municipal_row(y, "131016", "千代田区", collection_rate=rate) for y, rate in ((2025, "96.10"), (2026, "96.50"), (2027, None))]
    ev = Evaluator(r9, make_data(r9, rows, [prefecture_row(y) for y in (2025, 2026, 2027)]))
    assert ev.value("target_rate", 2026) == (Fraction(9620, 10000),)  # 96.10 + 0.10
    assert ev.value("target_rate", 2027) == (Fraction(9670, 10000),)  # 96.50 + 0.20


# ---- what shows a rule shows the piece in force that year ----------------------------------------------


def test_summary_bands_use_each_years_table():
    """R9's summary over FY2025-FY2027: R6's table (6 bands) for FY2025-FY2026, R9's for FY2027, each named."""
    session = api.Session.open([default_rules_dir(), R9])
    r9 = session.version("R9")
    result = session.evaluate(r9, [2025, 2026, 2027])
    sums = summarise(result)
    assert [(s.year, s.tables["target_table"].version) for s in sums] == [(2025, "R6"), (2026, "R6"), (2027, "R9")]
    assert [len(s.bands["target_table"]) for s in sums] == [6, 6, 6]
    assert [b.wording for b in sums[0].bands["target_table"]][3] == "前年度実績＋0.10pp"
    assert [b.wording for b in sums[2].bands["target_table"]][3] == "前年度実績＋0.20pp"
    text = render_summary(result, sums, "table")
    assert "\n目標収納率（検討案） (R6, 適用 FY2024-FY2026 (R6-R8))\n" in text
    assert "\n目標収納率（令和9～11年度 試案） (R9, 適用 FY2027-FY2029 (R9-R11))\n" in text
    rows = [line for line in render_summary(result, sums, "csv").splitlines() if ",in force," in line]
    assert rows == [
        "2025,bands,target_table,目標収納率（検討案）,in force,,R6,,,,,FY2024-FY2026 (R6-R8)",
        "2026,bands,target_table,目標収納率（検討案）,in force,,R6,,,,,FY2024-FY2026 (R6-R8)",
        "2027,bands,target_table,目標収納率（令和9～11年度 試案）,in force,,R9,,,,,FY2027-FY2029 (R9-R11)",
    ]


def test_rule_diff_per_year_names_whose_piece(rs9):
    """R3 → R9 over R6-R11: the target table is compared twice, with R6's piece (FY2024-FY2026) and with R9's
    (FY2027-FY2029); R6 → R9: only FY2027-FY2029 differ, where R6 has no table."""
    r3, r6, r9 = (rs9.version(v) for v in ("R3", "R6", "R9"))
    rd = diff.compare_rules(r3, r9, range(2024, 2030))
    assert [(t.years, t.a_from, t.b_from, t.change) for t in rd.tables] == [
        ((2024, 2025, 2026), "R3", "R6", "changed"),
        ((2027, 2028, 2029), "R3", "R9", "changed"),
    ]
    text = diff.render_rules(rd, "table")
    assert "(R3: R3.rules:59, R9: R6's table, R6.rules:13)" in text
    assert "(R3: R3.rules:59, R9: R9.rules:20)" in text
    alpha = [(s.year, diff.expr_text(s.b.value)) for s in rd.schedules if s.name == "alpha"]
    assert alpha == [(2024, "0.86"), (2025, "0.71"), (2026, "0.57"), (2027, "0.30"), (2028, "0.15"), (2029, "0")]
    rd = diff.compare_rules(r6, r9, range(2024, 2030))
    assert [(t.years, t.a_from, t.b_from, t.change) for t in rd.tables] == [((2027, 2028, 2029), "R6", "R9", "not in force in R6")]
    doc = json.loads(diff.render_rules(rd, "json"))
    assert (doc["tables"][0]["a"]["version"], doc["tables"][0]["b"]["version"]) == ("R6", "R9")


def test_explain_names_the_piece_used(rs9):
    """Under R9 in FY2025 the target comes from R6's piece: the tree says so, with R6's file and line."""
    session = api.Session.open([default_rules_dir(), R9])
    r9 = session.version("R9")
    x = explain_for(r9, session.data_for(r9), "target_rate", 2025, "131016")
    text = render_explanation(x)
    assert "│  rule  rules/tokyo/R6.rules:13  table target_table over previous_rate\n" in text
    assert (
        "note  the piece of R6, in force FY2024-FY2026 (R6-R8); version R9 has 3 pieces of target_table: "
        "R3 up to FY2023 (R5), R6 FY2024-FY2026 (R6-R8), R9 FY2027-FY2029 (R9-R11)"
    ) in text
    table = explanation_json(x)["derivation"]["children"][0]
    assert table["piece"] == {"version": "R6", "years": "FY2024-FY2026 (R6-R8)", "pieces": 3}


# ---- checks ----------------------------------------------------------------------------------------------


def test_remove_in_use_sees_a_base_piece_still_in_force(tmp_path):
    """B overrides y from FY2027 only, so A's y (which uses z) is still in force before: removing z is refused."""
    rs = rules(
        tmp_path,
        A="ruleset A\ndefine z : ratio = 1\ndefine y : ratio = z\n",
        B="ruleset B extends A\noverride define y : ratio = 2\n  effective R9..\nremove z\n",
    )
    from engine.check import check_rules

    assert [(f.code, f.message, f.span.line) for f in check_rules(rs)] == [("remove-in-use", "cannot remove 'z': 'y' still uses it", 4)]


def test_cycles_are_checked_with_the_pieces_in_force_together(tmp_path):
    """A cycle that exists only from FY2027 is reported; two pieces that never meet in one year are not a cycle."""
    from engine.check import check_rules

    rs = rules(
        tmp_path,
        A="ruleset A\ndefine x : ratio = y\ndefine y : ratio = 1\n",
        B="ruleset B extends A\noverride define y : ratio = x\n  effective R9..\n",
    )
    assert [(f.code, f.message) for f in check_rules(rs)] == [("cycle", "definitions depend on each other in the same year: x -> y -> x")]
    (tmp_path / "c").mkdir()
    rs = rules(
        tmp_path / "c",
        C="ruleset C\ndefine x : ratio = y\n  effective ..R8\ndefine x : ratio = 1\n  effective R9..\n"
        "define y : ratio = 2\n  effective ..R8\ndefine y : ratio = x\n  effective R9..\n",
    )
    assert check_rules(rs) == []


PLAN_GAP_R9 = """ruleset R9 extends R6
  period 令和9～11年度
"""


def test_plan_gap_warns_of_a_summary_item_with_no_piece_in_the_plan_period(tmp_path, capsys):
    """An R9 that keeps R6's table has none in force in its own plan period: a warning (exit 0). R6's own table
    ending in FY2026 of R6's plan R6-R11 is R6's choice and not warned about."""
    (tmp_path / "R9.rules").write_text(PLAN_GAP_R9, encoding="utf-8")
    assert cli.main(["check", str(default_rules_dir()), str(tmp_path / "R9.rules")]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"{tmp_path / 'R9.rules'}:1:9: warning: plan-gap: version R9's summary uses target_table (目標収納率（検討案）), but no piece of it "
        "is in force in FY2027-FY2029 (R9-R11) of the plan period FY2027-FY2029 (R9-R11); state one for those years or end the plan period earlier"
    )
    assert err.splitlines()[-1] == "3 rule files checked: no errors, 1 warning (R3, R6, R9)"
    assert cli.main(["check"]) == 0
    assert capsys.readouterr().err == "2 rule files checked: no findings (R3, R6)\n"


def test_unknown_base_names_the_versions_read_and_where_the_base_is(tmp_path, monkeypatch, capsys):
    """`kokuho check R9.rules` alone: the base R6 is not among the files read; the message says which versions
    were read and where R6's file is, and how to give it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "R9.rules").write_text(PLAN_GAP_R9, encoding="utf-8")
    (tmp_path / "tokyo").mkdir()
    for v in ("R3", "R6"):
        (tmp_path / "tokyo" / f"{v}.rules").write_bytes((default_rules_dir() / f"{v}.rules").read_bytes())
    monkeypatch.setattr("engine.versions.default_rules_dir", lambda: tmp_path / "tokyo")
    assert cli.main(["check", "R9.rules"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "R9.rules:1:20: unknown-base: version R9 extends unknown version 'R6'; the rules read define only R9. "
        "R6 is defined in tokyo/R6.rules: give its folder too, e.g. --rules tokyo --rules R9.rules (kokuho check tokyo R9.rules)"
    )


# ---- kokuho versions, and the default version ------------------------------------------------------------


def test_kokuho_versions_lists_every_version(capsys):
    """Status, plan period, base chain and file of each shipped version, and the default without --version."""
    assert cli.main(["versions"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "版 (versions): without --version, commands use R6 (the newest version)"
    rows = [line.split()[:6] for line in out.splitlines() if line.startswith("R")]
    assert rows == [
        ["R3", "施行中", "FY2021-FY2023", "(R3-R5)", "—", "rules/tokyo/R3.rules"],
        ["R6", "改定案", "FY2024-FY2029", "(R6-R11)", "R3", "rules/tokyo/R6.rules"],
    ]


def test_kokuho_versions_for_a_year_with_the_tutorials_r9(capsys):
    """`kokuho versions --year R9`: R9 is the default for FY2027; its target table and α are its own, its
    target_rate R3's; under R6 the target table is not in force."""
    assert cli.main(["versions", "--rules", str(default_rules_dir()), "--rules", str(R9), "--year", "R9", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fiscal_year"] == "FY2027 (R9)"
    assert doc["default_version"] == {"id": "R9", "why": "the newest version whose plan period (FY2027-FY2029 (R9-R11)) covers FY2027 (R9)"}
    v = {x["id"]: x for x in doc["versions"]}
    assert [(x["id"], x["covers_year"], x["extends"]) for x in doc["versions"]] == [
        ("R3", False, []),
        ("R6", True, ["R3"]),
        ("R9", True, ["R6", "R3"]),
    ]
    items9 = {i["name"]: i for i in v["R9"]["items"]}
    assert {k: items9["target_table"][k] for k in ("version", "years", "line", "pieces")} == {
        "version": "R9",
        "years": "FY2027-FY2029 (R9-R11)",
        "line": 20,
        "pieces": 3,
    }
    assert (items9["alpha"]["version"], items9["alpha"]["years"]) == ("R9", "from FY2027 (R9)")
    assert (items9["target_rate"]["version"], items9["target_rate"]["years"], items9["target_rate"]["file"]) == (
        "R3",
        "every year",
        "rules/tokyo/R3.rules",
    )
    items6 = {i["name"]: i for i in v["R6"]["items"]}
    assert items6["target_table"]["in_force"] is False
    assert items6["target_table"]["years"] == "not in force; R6's piece covers FY2024-FY2026 (R6-R8)"
    assert "summary" not in items9 and "in_force_R9" not in items9
    assert cli.main(["versions", "--year", "R9", "--version", "R6"]) == 0
    text = capsys.readouterr().out
    assert (
        "target_table                 table       目標収納率（検討案）" in text
        and "not in force; R6's piece covers FY2024-FY2026 (R6-R8)" in text
    )


@pytest.mark.parametrize(
    "argv, note",
    [
        (
            ["--year", "R3"],
            "using version R3: the newest version whose plan period (FY2021-FY2023 (R3-R5)) covers FY2021 (R3); give --version to choose another",
        ),
        (
            ["--year", "R7"],
            "using version R6: the newest version whose plan period (FY2024-FY2029 (R6-R11)) covers FY2025 (R7); give --version to choose another",
        ),
        (
            ["--year", "R9"],
            "using version R9: the newest version whose plan period (FY2027-FY2029 (R9-R11)) covers FY2027 (R9); give --version to choose another",
        ),
        (
            ["--period", "R6-R11"],
            "using version R6: the newest version whose plan period (FY2024-FY2029 (R6-R11)) covers FY2024-FY2029 (R6-R11); give --version to choose another",
        ),
        (
            ["--period", "H30-R2"],
            "using version R9: the newest version; no version's plan period covers FY2018-FY2020 (H30-R2); give --version to choose another",
        ),
        ([], "using version R9: the newest version; give --version to choose another"),
        (["--version", "R6", "--year", "R9"], None),
    ],
)
def test_the_default_version_follows_the_plan_periods(capsys, argv, note):
    """Without --version: the newest version whose plan period covers the years asked, else the newest; named on stderr."""
    assert cli.main(["eval", "--rules", str(default_rules_dir()), "--rules", str(R9), "--columns", "alpha", "--format", "csv"] + argv) == 0
    err = capsys.readouterr().err
    assert err == ("" if note is None else note + "\n")


def test_one_version_needs_no_note(tmp_path, capsys):
    """A rule set of one version has nothing to choose: no note."""
    (tmp_path / "A.rules").write_text("ruleset A\ndefine x : ratio = 1\n", encoding="utf-8")
    rs = RuleSet.from_paths([tmp_path / "A.rules"])
    tiny_data(tmp_path, rs.version("A"))
    assert (
        cli.main(
            [
                "eval",
                "--rules",
                str(tmp_path / "A.rules"),
                "--data",
                str(tmp_path / "m.csv"),
                "--prefecture-data",
                str(tmp_path / "p.csv"),
                "--year",
                "R8",
                "--columns",
                "x",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().err == ""


def test_a_sweep_varies_the_piece_in_force_in_its_year(rs9):
    """Under R9, alpha.FY2025 varies R6's piece (in force then) and alpha.FY2028 R9's; the other piece is untouched."""
    from engine import sweep

    r9 = rs9.version("R9")
    early = sweep.make_variation("alpha.FY2025", ["0.50"], r9, where="--vary")
    late = sweep.make_variation("alpha.FY2028", ["0.10"], r9, where="--vary")
    varied = sweep.apply(r9, ((early, 0), (late, 0)))
    data = api.Session.open([default_rules_dir(), R9]).data_for(r9)
    ev = Evaluator(varied, data)
    assert [ev.value("alpha", y) for y in (2024, 2025, 2027, 2028)] == [Fraction(86, 100), Fraction(1, 2), Fraction(3, 10), Fraction(1, 10)]
    assert [p.version for p in varied.pieces("alpha")] == ["R9", "R9"]  # both varied pieces are now the scenario's
    assert sweep.check_scenario(r9, ((early, 0), (late, 0))) == []


def test_plan_gap_spares_an_item_that_ends_inside_the_plan_period_and_warns_of_gaps_between_pieces(tmp_path):
    """A variant of R6 with R6's plan period inherits R6's table, which ends in FY2026: intended, no warning.
    A table stated for FY2027 and from FY2029 leaves FY2028 without one: warned. A version with errors gets no
    plan-gap warning (some findings hide others)."""
    from engine.check import check_rules

    table = (ROOT / "docs" / "examples" / "R9.rules").read_text(encoding="utf-8")
    body = table[table.index("override table target_table") : table.index("# ---- 2.")]
    rs = rules(
        tmp_path,
        R3=(default_rules_dir() / "R3.rules").read_text(encoding="utf-8"),
        R6=(default_rules_dir() / "R6.rules").read_text(encoding="utf-8"),
        T6="ruleset T6 extends R6\n  period 令和6～11年度\n",
        R9="ruleset R9 extends R6\n  period 令和9～11年度\n"
        + body.replace("effective 令和9～11年度", "effective 令和9年度")
        + body.replace("effective 令和9～11年度", "effective 令和11年度.."),
    )
    assert [(f.code, f.severity, f.span.file.endswith("R9.rules"), f.message) for f in check_rules(rs)] == [
        (
            "plan-gap",
            "warning",
            True,
            "version R9's summary uses target_table (目標収納率（令和9～11年度 試案）), but no piece of it is in force "
            "in FY2028 (R10) of the plan period FY2027-FY2029 (R9-R11); state one for those years or end the plan period earlier",
        )
    ]
    (tmp_path / "x").mkdir()
    rs = rules(
        tmp_path / "x",
        X="ruleset X extends R6\n  period 令和9～11年度\ndefine bad : yen = nothing\n",
        R3=(default_rules_dir() / "R3.rules").read_text(encoding="utf-8"),
        R6=(default_rules_dir() / "R6.rules").read_text(encoding="utf-8"),
    )
    assert [f.code for f in check_rules(rs)] == ["unknown-name"]


def test_versions_names_must_exist(capsys):
    """`kokuho versions --names` with a name no version has: a usage error with a hint."""
    assert cli.main(["versions", "--year", "R7", "--names", "target_tabel"]) == 2
    assert capsys.readouterr().err == "unknown-column: no version has an item 'target_tabel'; did you mean 'target_table'?\n"


def test_rule_diff_skips_years_in_which_neither_side_has_the_item_in_force(tmp_path):
    """A table added by B but not in force in some years is compared only in its own years: no empty table
    with a stray '()' for the years where neither version has it (issue 13's workaround found one)."""
    rs = rules(
        tmp_path,
        R3=(default_rules_dir() / "R3.rules").read_text(encoding="utf-8"),
        R6=(default_rules_dir() / "R6.rules").read_text(encoding="utf-8"),
        R9w='ruleset R9w extends R6\ntable t9 "目標収納率（令和9～11年度）" : percent over previous_rate\n  effective 令和9～11年度\n'
        '{\n  band [0%, 100%] "全" => previous_rate + 0.20pp\n}\n',
    )
    rd = diff.compare_rules(rs.version("R6"), rs.version("R9w"), range(2024, 2030))
    assert [(t.name, t.years, t.change) for t in rd.tables] == [("t9", (2027, 2028, 2029), "added")]
    assert "()" not in diff.render_rules(rd, "table")


def test_cli_summary_and_rule_diff_of_r9_per_year(capsys):
    """Through the command line: R9's summary over 令和8～9年度 counts FY2026 by R6's table and FY2027 by R9's;
    the rule diff R6 → R9 over R6-R11 has one table section, FY2027-FY2029, with R9's table against none."""
    base = ["--rules", str(default_rules_dir()), "--rules", str(R9)]
    assert cli.main(["eval", *base, "--version", "R9", "--period", "令和8～9年度", "--summary", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.lstrip("\ufeff").splitlines()
    assert [
        x
        for x in lines
        if ",in force," in x
        or x.startswith(
            ('2026,bands,target_table,目標収納率（検討案）,"[95%', '2027,bands,target_table,目標収納率（令和9～11年度 試案）,"[95%')
        )
    ] == [
        "2026,bands,target_table,目標収納率（検討案）,in force,,R6,,,,,FY2024-FY2026 (R6-R8)",
        '2026,bands,target_table,目標収納率（検討案）,"[95%, 97%)",95%以上97%未満,,,0,17,17,前年度実績＋0.10pp',
        "2027,bands,target_table,目標収納率（令和9～11年度 試案）,in force,,R9,,,,,FY2027-FY2029 (R9-R11)",
        '2027,bands,target_table,目標収納率（令和9～11年度 試案）,"[95%, 97%)",95%以上97%未満,,,0,0,0,前年度実績＋0.20pp',
    ]
    assert cli.main(["diff", "R6", "R9", *base, "--rules-only", "--period", "R6-R11", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["years"], t["change"], t["a"]["version"], t["b"]["version"]) for t in doc["tables"]] == [
        ("target_table", "FY2027-FY2029 (R9-R11)", "not in force in R6", "R6", "R9")
    ]
    assert [(s["fiscal_year"], s["a"]["value"], s["b"]["value"]) for s in doc["schedules"]] == [
        (2027, "0.43", "0.30"),
        (2028, "0.29", "0.15"),
        (2029, "0.14", "0"),
    ]
