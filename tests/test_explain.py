"""`kokuho explain`: derivation trees that name the band, the rule line, the citation and the data row."""

import json
from fractions import Fraction
from pathlib import Path

import pytest

import cli
from engine.columnar import ColumnEvaluator
from engine.evaluate import Evaluator, Undefined
from engine.explain import explain, explain_for, render_explanation, shown_path
from tests.conftest import ROOT, municipal_row, prefecture_row

A, B, C = ("131016", "千代田区"), ("131024", "中央区"), ("131032", "港区")
R3 = ROOT / "rules" / "tokyo" / "R3.rules"
R6 = ROOT / "rules" / "tokyo" / "R6.rules"


def line_of(path: Path, text: str) -> int:
    """The line of a rule file that starts with `text` (so the tests survive edits above it)."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip().startswith(text)]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def nodes(node, title):
    """Every node of a tree with this title, depth first."""
    out = [node] if node.title == title else []
    for c in node.children:
        out += nodes(c, title)
    return out


@pytest.fixture
def in_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # rule paths print relative to the working directory


def band_data(ruleset, make_data):
    """千代田区: FY2023 98.10%, FY2024 98.40%, FY2025 not yet known (lines 2, 3, 4 of m.csv)."""
    version = ruleset.version("R6")
    rows = [
        municipal_row(2023, *A, collection_rate="98.10"),
        municipal_row(2024, *A, collection_rate="98.40"),
        municipal_row(2025, *A, collection_rate=""),
    ]
    return version, make_data(version, rows, [prefecture_row(y) for y in (2023, 2024, 2025)])


def test_target_in_97_99_band_names_band_rates_min_rule_line_and_chapter(ruleset, make_data, tmp_path, in_root):
    """R6, FY2025: r(FY2024) = 98.40% is in [97%, 99%), so the target is min(98.40%, r(FY2023) = 98.10%) = 98.10%.

    The tree names the band with its rule line and wording, both years' rates with their data
    rows, the min rule, and the chapter (第5章) of every step; and, as R6 keeps R3's table before
    FY2024, which of target_table's two pieces it used.
    """
    version, data = band_data(ruleset, make_data)
    text = render_explanation(explain_for(version, data, "target_rate", 2025, "131016")).replace(str(tmp_path), "<tmp>")
    assert (
        text
        == f"""\
target_rate for 131016 千代田区, FY2025 (R7), version R6
target_rate 「目標収納率」 = 98.10%
│  rule  rules/tokyo/R3.rules:{line_of(R3, "define target_rate ")}  define target_rate = target_table
│  cite  第5章 目標収納率
└─ target_table 「目標収納率（検討案）」 = 98.10%
   │  rule  rules/tokyo/R6.rules:{line_of(R6, "override table target_table ")}  table target_table over previous_rate
   │  rule  rules/tokyo/R6.rules:{line_of(R6, "band [97%, 99%)")}  band [97%, 99%) "97%以上99%未満" => if defined(collection_rate[year - 2]) then min(previous_rate, collection_rate[year - 2]) else previous_rate  「前年度または前々年度実績以上」
   │  cite  第5章 目標収納率（令和６～８年度）
   │  note  the piece of R6, in force FY2024-FY2026 (R6-R8); version R6 has 2 pieces of target_table: R3 up to FY2023 (R5), R6 FY2024-FY2026 (R6-R8)
   │  note  98.40% is in band [97%, 99%) 97%以上99%未満
   ├─ key: previous_rate 「前年度の現年分収納率」 = 98.40%
   │  │  rule  rules/tokyo/R3.rules:{line_of(R3, "define previous_rate ")}  define previous_rate = collection_rate[year - 1]
   │  │  cite  第5章 目標収納率
   │  └─ collection_rate[FY2024] 「現年分収納率」 = 98.40%
   │        cite  第5章 現年分収納率
   │        data  <tmp>/m.csv:3  131016 千代田区, FY2024 (R6)
   ├─ if: defined(collection_rate[year - 2]) = true
   │  └─ collection_rate[FY2023] 「現年分収納率」 = 98.10%
   │        cite  第5章 現年分収納率
   │        data  <tmp>/m.csv:2  131016 千代田区, FY2023 (R5)
   └─ then: min(previous_rate, collection_rate[year - 2]) = 98.10%
      ├─ previous_rate 「前年度の現年分収納率」 = 98.40%  (explained above)
      └─ collection_rate[FY2023] 「現年分収納率」 = 98.10%  (explained above)
"""
    )


def test_cli_explain_by_name_matches_library_and_json(ruleset, make_data, tmp_path, in_root, capsys):
    """`kokuho explain target_rate --municipality 千代田区 --year R7 --version R6`: the same tree; json carries the rule lines."""
    version, data = band_data(ruleset, make_data)
    argv = [
        "explain",
        "target_rate",
        "--municipality",
        "千代田区",
        "--year",
        "R7",
        "--version",
        "R6",
        "--data",
        str(tmp_path / "m.csv"),
        "--prefecture-data",
        str(tmp_path / "p.csv"),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out == render_explanation(explain_for(version, data, "target_rate", 2025, "131016"))
    assert cli.main(argv + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    table = doc["derivation"]["children"][0]
    assert (doc["municipality"], doc["fiscal_year"], doc["derivation"]["value"]) == (
        {"code": "131016", "name": "千代田区"},
        "FY2025 (R7)",
        "98.10",
    )
    assert [(r["file"], r["line"]) for r in table["rules"]] == [
        ("rules/tokyo/R6.rules", line_of(R6, "override table target_table ")),
        ("rules/tokyo/R6.rules", line_of(R6, "band [97%, 99%)")),
    ]
    assert [c["role"] for c in table["children"]] == ["key", "if", "then"]
    assert table["children"][2]["children"][1]["value"] == "98.10"


def three_municipalities(make_data, version, year=2024, **pref):
    """The small prefecture of the levy examples in rules/tokyo (lines 2-4 of m.csv are FY2024)."""
    rows = [
        municipal_row(year, *A, insured=100, income=100_000_000, medical_index="1.2000", insured_40_64=50, income_40_64=50_000_000),
        municipal_row(year, *B, insured=300, income=200_000_000, medical_index="1.0000", insured_40_64=150, income_40_64=50_000_000),
        municipal_row(year, *C, insured=600, income=200_000_000, medical_index="0.9880", insured_40_64=200, income_40_64=100_000_000),
    ]
    p = dict(levy_medical=1_000_000, levy_support=300_000, levy_care=100_001, national_income_per_insured=500_000)
    p.update(pref)
    return make_data(version, rows, [prefecture_row(year, **p)])


def test_levy_medical_shows_alpha_index_shares_gamma_and_floor(ruleset, make_data, in_root):
    """R6, FY2024, 千代田区 (by hand, as in R6.rules' alpha_relief_R6):

    β = (500,000,000 / 1,000) / 500,000 = 1; S_inc = 100,000,000 / 500,000,000 = 0.2, S_n = 100 / 1,000 = 0.1;
    α(FY2024) = 0.86 (schedule entry FY2024), index 1.2: w = 1.172 × (0.2 + 0.1) / 2 = 0.1758;
    Σw = 0.1758 + 0.35 + 0.49484 = 1.02064, γ = 1 / 1.02064 = 6250/6379 = 0.979777394575952…;
    levy = floor(1,000,000 × 0.1758 / 1.02064) = floor(172,244.86596645242201…) = 172,244 円.
    """
    version = ruleset.version("R6")
    x = explain_for(version, three_municipalities(make_data, version), "levy_medical", 2024, "131016")
    root = x.root
    assert root.value == 172244
    assert root.notes == ("rounded down (切り捨て) to a multiple of 1円 from 172,244.86596645242201…円",)
    (alpha,) = nodes(root, "alpha")
    assert alpha.value == Fraction("0.86")
    assert [(shown_path(r.file), r.line, r.text) for r in alpha.rules] == [
        ("rules/tokyo/R6.rules", line_of(R6, "override schedule alpha "), "schedule alpha"),
        ("rules/tokyo/R6.rules", line_of(R6, "FY2024:    0.86"), "FY2024: 0.86"),
    ]
    (index,) = nodes(root, "medical_index[FY2024]")
    assert (index.value, index.data.line) == (Fraction("1.2"), 2)
    (s_inc,) = nodes(root, "income / sum(income)")
    (s_n,) = nodes(root, "insured / sum(insured)")
    assert (s_inc.value, s_n.value) == (Fraction(1, 5), Fraction(1, 10))
    assert s_inc.notes == ("the share of 131016 千代田区 in the total over 3 municipalities",)
    (weight,) = nodes(root, "weight_medical")
    assert weight.value == Fraction("0.1758")
    (gamma,) = nodes(root, "gamma_medical")
    assert (gamma.value, gamma.display) == (Fraction(6250, 6379), "0.979777394575952…")
    assert nodes(root, "beta")[0].value == 1
    text = render_explanation(x)
    assert "├─ alpha 「医療費指数反映係数α」 = 0.86" in text
    assert "└─ gamma_medical 「調整係数γ（医療分）」 = 0.979777394575952…" in text
    assert (
        f"rule  rules/tokyo/R3.rules:{line_of(R3, 'define levy_medical ')}  define levy_medical = floor(total_medical * weight_medical * gamma_medical, 1円)"
        in text
    )


def test_depth_and_full(ruleset, make_data):
    """--depth 1 stops below the figure's direct steps; sums list their terms (with data rows) only with --full."""
    version = ruleset.version("R6")
    data = three_municipalities(make_data, version)
    shallow = explain_for(version, data, "levy_medical", 2024, "131016", depth=1).root
    assert [(c.title, c.elided, len(c.children)) for c in shallow.children] == [
        ("total_medical", None, 0),
        ("weight_medical", "depth", 0),
        ("gamma_medical", "depth", 0),
    ]
    brief = explain_for(version, data, "beta", 2024).root
    (total,) = nodes(brief, "sum(income)")
    assert (total.value, total.children) == (500_000_000, ())
    assert total.notes == ("the sum of income over 3 municipalities in FY2024 (R6); list the terms with --full",)
    full = explain_for(version, data, "beta", 2024, full=True).root
    (total,) = nodes(full, "sum(income)")
    assert [(c.title, c.value, c.data.line) for c in total.children] == [
        ("131016 千代田区", 100_000_000, 2),
        ("131024 中央区", 200_000_000, 3),
        ("131032 港区", 200_000_000, 4),
    ]


def test_relief_shows_the_with_alpha_one_derivation(ruleset, make_data):
    """港区, FY2024: levy_medical 484,833 under α = 0.86 and 482,421 with α = 1 (R3.rules' levy example):
    increase 2,412, relief ratio 1.00, relief 2,412. The `with alpha = 1` step is derived in full."""
    version = ruleset.version("R6")
    root = explain_for(version, three_municipalities(make_data, version), "relief", 2024, "港区").root
    assert root.value == 2412
    (w,) = nodes(root, "levy_medical with alpha = 1")
    assert w.value == 482421
    setting, body = w.children
    assert (setting.role, setting.title, setting.kind, setting.value) == ("with", "alpha = 1", "override", 1)
    assert (body.title, body.value, body.kind) == ("levy_medical", 482421, "definition")
    (inner_alpha,) = nodes(body, "alpha")
    assert (inner_alpha.kind, inner_alpha.value) == ("override", 1)
    outer = [n for n in nodes(root, "alpha") if n.kind == "schedule"]
    assert [n.value for n in outer] == [Fraction("0.86")]


def test_undefined_values_explain_their_reason(ruleset, make_data):
    """R6 has no target table for FY2027; a 0.00% rate makes the standard rate a division by zero — same reason at each step."""
    version = ruleset.version("R6")
    rows = [municipal_row(2026, *A, collection_rate="92.00"), municipal_row(2027, *A)]
    data = make_data(version, rows, [prefecture_row(2026), prefecture_row(2027)])
    root = explain_for(version, data, "target_rate", 2027, "131016").root
    reason = "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)"
    assert root.value == Undefined(reason)
    assert [(c.title, c.reason) for c in root.children] == [("target_table", reason)]

    version = ruleset.version("R3")
    rows = [municipal_row(2023, *A, collection_rate="0.00"), municipal_row(2024, *A)]
    data = make_data(version, rows, [prefecture_row(2023), prefecture_row(2024)])
    root = explain_for(version, data, "per_capita_medical", 2024, "131016").root
    assert root.reason == "division by zero in per_capita_medical for 131016 千代田区 in FY2024 (R6)"
    (c,) = nodes(root, "standard_collection_rate")
    assert c.value == 0  # the zero that caused it, shown with its data row

    # No insured at all: a sub-expression reports the division as the evaluator does, inside weight_medical.
    rows = [municipal_row(2024, *A, insured=0)]
    data = make_data(version, rows, [prefecture_row(2024)])
    root = explain_for(version, data, "weight_medical", 2024, "131016").root
    assert root.reason == "division by zero in beta in FY2024 (R6)"
    (share,) = nodes(root, "insured / sum(insured)")
    assert share.reason == "division by zero in weight_medical for 131016 千代田区 in FY2024 (R6)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["levy_medical", "--year", "R6"],
            "no-municipality: levy_medical (納付金（医療分）) has a value per municipality; give --municipality, a code like 131016 or a name like 千代田区",
        ),
        (
            ["levy_medical", "--year", "R6", "-m", "千代田"],
            "unknown-municipality: no municipality '千代田' in the data; did you mean '千代田区'?",
        ),
        (
            ["levy_medcal", "--year", "R6", "-m", "131016"],
            "unknown-name: version R6 has no definition, table, schedule or input 'levy_medcal'; did you mean 'levy_medical'?",
        ),
        (["summary", "--year", "R6"], "unknown-name: version R6 has no definition, table, schedule or input 'summary'"),
        (["beta", "--year", "R6", "--depth", "-1"], "bad-depth: --depth is 0 or more, not -1"),
    ],
)
def test_explain_usage_errors(capsys, argv, message):
    """Bad names, municipalities and options: exit 2 with one line saying what to give instead."""
    assert cli.main(["explain", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_diff_explain_side_by_side(ruleset, make_data, tmp_path, capsys):
    """`kokuho diff R3 R6 --explain target_rate`: R3 keeps 98.40% (97-100% band), R6 takes min(98.40, 98.10) = 98.10%."""
    band_data(ruleset, make_data)
    argv = [
        "diff",
        "R3",
        "R6",
        "--explain",
        "target_rate",
        "-m",
        "131016",
        "--year",
        "R7",
        "--data",
        str(tmp_path / "m.csv"),
        "--prefecture-data",
        str(tmp_path / "p.csv"),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "target_rate for 131016 千代田区, FY2025 (R7): R3 98.40% → R6 98.10%; R6 - R3 = -0.30pp"
    assert out[2].startswith("target_rate for 131016 千代田区, FY2025 (R7), version R3 ")
    assert out[2].endswith(" ┃ target_rate for 131016 千代田区, FY2025 (R7), version R6")
    assert cli.main(argv + ["--exit-code"]) == 1
    capsys.readouterr()
    period = [("--period" if a == "--year" else "R6-R7" if a == "R7" else a) for a in argv]
    assert cli.main(period) == 2
    assert capsys.readouterr().err.strip() == "no-year: --explain needs one fiscal year: give --year, e.g. --year R7"


def test_explanation_uses_the_evaluators_numbers(ruleset, make_data):
    """Every node of a levy explanation shows the value computed for that name: the columnar core's, which is
    the reference evaluator's (no second arithmetic)."""
    version = ruleset.version("R6")
    data = three_municipalities(make_data, version)
    ev = Evaluator(version, data)
    x = explain(ColumnEvaluator(version, data), "net_levy", 2024, 2)

    def walk(n):
        if " with " in n.title:
            return  # evaluated with other parameters: see test_relief_shows_the_with_alpha_one_derivation
        if n.kind in ("definition", "table", "schedule", "input") and "[" not in n.title and n.year == 2024:
            v = ev.value(n.title, 2024)
            assert n.value == (v[2] if isinstance(v, tuple) else v), n.title
        for c in n.children:
            walk(c)

    walk(x.root)
    assert x.root.value == 682421  # 484,833 + 150,000 + 50,000 - 2,412 (R6.rules, alpha_relief_R6)
