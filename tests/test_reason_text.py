"""Undefined reasons in Japanese (issue 16): every template of engine/templates/reason-text.json on
an exact example, every reason the evaluators make on the example data covered by one, and the
outputs that show them: Japanese in display tables, the evaluator's English in CSV, JSON and with
--headers en.

The Japanese texts below are written by hand from the English reasons (docs/language.md §16).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from engine import api
from engine.display import REASON_FILE, known_reason, reason_template, reason_text, version_labels
from engine.values import is_undef
from engine.years import FiscalYear, Period

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
DATA = ["--data", str(EXAMPLES / "data" / "municipal.csv"), "--prefecture-data", str(EXAMPLES / "data" / "prefecture.csv")]
LABELS = {
    "collection_rate": "現年分収納率",
    "total_medical": "納付金算定基礎額（医療分）",
    "target_table": "目標収納率（検討案）",
    "cost_level": "医療費水準",
    "transfer_change": "繰入額の変化率",
    "extra": "追加係数",
    "alpha": "医療費指数反映係数α",
}

# docs/language.md §16's revision, made to produce each kind of undefined value
R9_UNDEFINED = """ruleset R9 extends R6
  period 令和9～11年度
table cost_level "医療費水準" : text over medical_index {
  band [0.9, 0.95)   "0.95未満"         => "low"
  band [0.95, 1.05]  "0.95以上1.05以下" => "average"
}
define transfer_change "繰入額の変化率" : ratio = deficit_transfer / deficit_transfer[year - 1]
schedule extra "追加係数" : ratio {
  FY2027:    1
  FY2028..:  0
}
"""

# (English reason as the evaluators write it, its Japanese text): one or more per template.
CASES = [
    ("no FY2026 collection rate for 131016 千代田区", "131016 千代田区の令和8年度の現年分収納率がありません"),
    ("no FY2028 total medical in the prefecture data", "都のデータに令和10年度の納付金算定基礎額（医療分）がありません"),
    (
        "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)",
        "R6の目標収納率（検討案）は令和6～8年度の規則で、令和9年度には適用されません",
    ),
    (
        "no extra in force for FY2023 (R5) in version R9; it covers FY2030..",
        "R9の追加係数は令和12年度以降の規則で、令和5年度には適用されません",
    ),
    ("no x in force for FY2031 (R13) in version R9; it covers ..FY2018", "R9のxは平成30年度までの規則で、令和13年度には適用されません"),
    ("no x in force for FY2031 (R13) in version R9; it covers every year", "R9のxは全年度の規則で、令和13年度には適用されません"),
    ("schedule extra has no value for FY2026 (R8) in version R9", "R9の追加係数には令和8年度の値がありません"),
    (
        "0.8705 falls in no band of cost_level for 131016 千代田区 in FY2026 (R8)",
        "131016 千代田区の令和8年度の値 0.8705 は医療費水準のどの区分にも当たりません",
    ),
    ("85.00% falls in no band of target_table in FY2024 (R6)", "令和6年度の値 85.00% は目標収納率（検討案）のどの区分にも当たりません"),
    ("division by zero in a formula for 131016 千代田区 in FY2019 (R1)", "131016 千代田区の令和元年度の計算で0による割り算があります"),
    ("division by zero in a formula in FY2018 (H30)", "平成30年度の計算で0による割り算があります"),
    (
        "division by zero in transfer_change for 131024 中央区 in FY2026 (R8)",
        "131024 中央区の令和8年度の繰入額の変化率の計算で0による割り算があります",
    ),
    ("division by zero in transfer_change in FY2026 (R8)", "令和8年度の繰入額の変化率の計算で0による割り算があります"),
    ("mean over no municipalities", "平均をとる団体がありません"),
    ("alpha depends on itself in FY2026 (R8)", "令和8年度の医療費指数反映係数αが自分自身に依存しています（循環参照）"),
    ("alpha would need data before FY2018", "医療費指数反映係数αの計算には平成30年度より前のデータが必要です"),
    ("alpha would need data after FY2029", "医療費指数反映係数αの計算には令和11年度より後のデータが必要です"),
    ("'levy_x' is not defined in version R6", "R6には「levy_x」の定義がありません"),
    ("'target_table' is not a value", "「目標収納率（検討案）」は値ではありません"),
    ("use 'year'", "年度は 'year' で参照してください"),
    ("no table target_table", "区分表「目標収納率（検討案）」がありません"),
    ("version R3 has no band table 'target_table'", "R3には区分表「目標収納率（検討案）」がありません"),
    ("a value per municipality: give a municipality to see it", "団体ごとの値です（団体を指定すると表示されます）"),
    ("expected to be undefined", "未定義となるはずの値です"),
]


@pytest.mark.parametrize("english, japanese", CASES)
def test_each_reason_in_japanese(english, japanese):
    assert reason_text(english, "ja", LABELS) == japanese
    assert reason_text(english, "en", LABELS) == english


def test_every_template_has_a_case():
    templates = json.loads(REASON_FILE.read_text(encoding="utf-8"))["reasons"]
    from engine.display import _reason_patterns

    patterns = _reason_patterns()
    assert len(patterns) == len(templates)
    for (regex, _), t in zip(patterns, templates):
        assert any(regex.fullmatch(en) for en, _ in CASES), f"no case for the template {t['en']!r}"


def test_a_name_without_a_label_is_shown_by_its_name():
    assert reason_text("no FY2026 collection rate for 131016 千代田区", "ja") == "131016 千代田区の令和8年度のcollection rateがありません"


def test_a_rules_own_text_is_shown_as_written():
    assert not known_reason("データ未提出のため")
    assert reason_text("データ未提出のため", "ja", LABELS) == "データ未提出のため"


def test_a_reason_around_a_municipality():
    # the columnar core keeps such a reason as the text before and after the municipality
    assert reason_template("no FY2026 collection rate for ", "", "ja", LABELS) == ("", "の令和8年度の現年分収納率がありません")
    assert reason_template("division by zero in transfer_change for ", " in FY2026 (R8)", "ja", LABELS) == (
        "",
        "の令和8年度の繰入額の変化率の計算で0による割り算があります",
    )
    assert reason_template("my own ", " text", "ja", LABELS) == ("my own ", " text")
    assert reason_template("no FY2026 collection rate for ", "", "en", LABELS) == ("no FY2026 collection rate for ", "")


def test_japanese_years():
    assert [FiscalYear(y).japanese for y in (2024, 2019, 2018, 1989, 1988)] == [
        "令和6年度",
        "令和元年度",
        "平成30年度",
        "平成元年度",
        "1988年度",
    ]
    assert Period(2024, 2026).japanese == "令和6～8年度"
    assert Period(2019, 2020).japanese == "令和元～2年度"
    assert Period(2018, 2020).japanese == "平成30年度～令和2年度"
    assert Period(2024, 2024).japanese == "令和6年度"
    assert Period(None, 2023).japanese == "令和5年度まで"
    assert Period(2030, None).japanese == "令和12年度以降"
    assert Period(None, None).japanese == "全年度"


def test_every_reason_of_the_example_data_has_a_template(tmp_path):
    """Every name of docs/language.md §16's R9 (made to produce each kind of undefined value) and of the
    tutorial's R9 over the example data, and every name of the shipped R3 and R6 over the bundled
    sample from FY2018 to FY2031: each distinct reason is one the catalogue translates."""
    (tmp_path / "R9.rules").write_text(R9_UNDEFINED, encoding="utf-8")
    seen = set()
    for rules, version, data, period in (
        ([str(ROOT / "rules" / "tokyo"), str(tmp_path / "R9.rules")], "R9", DATA[1::2], "FY2024..FY2028"),
        ([str(ROOT / "rules" / "tokyo"), str(EXAMPLES / "R9.rules")], "R9", DATA[1::2], "FY2024..FY2028"),
        ([str(ROOT / "rules" / "tokyo")], "R6", None, "FY2018..FY2031"),
        ([str(ROOT / "rules" / "tokyo")], "R3", None, "FY2018..FY2031"),
    ):
        session = api.Session.open(rules=rules, data=data[0] if data else None, prefecture_data=data[1] if data else None)
        v = session.version(version)
        names = [n for n, item in v.items.items() if item.kind in ("input", "definition", "table", "schedule")]
        result = session.evaluate(v, session.years(v, api.years_asked(period=period)), names)
        for row in result.rows:
            seen.update(x.reason for x in row.values if is_undef(x))
    assert len(seen) > 20
    assert [r for r in sorted(seen) if not known_reason(r)] == []
    assert all(reason_text(r, "ja", LABELS) != r for r in seen)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def r9_eval(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "R9.rules").write_text(R9_UNDEFINED, encoding="utf-8")
    return ["eval", "--rules", "rules/tokyo", "--rules", str(tmp_path / "R9.rules"), "--version", "R9", "--year", "令和8年度", *DATA]


def test_eval_table_shows_reasons_in_japanese(capsys, r9_eval):
    code, out, _ = run(capsys, *r9_eval, "--columns", "cost_level,transfer_change,relief,extra")
    assert code == 0
    assert out.endswith(
        "未定義の値 (undefined values):\n"
        "  [1] 131016 千代田区の令和8年度の値 0.8705 は医療費水準のどの区分にも当たりません\n"
        "  [2] 131016 千代田区の令和8年度の繰入額の変化率の計算で0による割り算があります\n"
        "  [3] R9の追加係数には令和8年度の値がありません\n"
        "  [4] 131024 中央区の令和8年度の繰入額の変化率の計算で0による割り算があります\n"
        "  [5] 132012 八王子市の令和8年度の値 1.0745 は医療費水準のどの区分にも当たりません\n"
    )


def test_english_headers_keep_the_evaluators_text(capsys, r9_eval):
    code, out, _ = run(capsys, *r9_eval, "--columns", "cost_level,transfer_change,relief,extra", "--headers", "en")
    assert code == 0
    assert "  [2] division by zero in transfer_change for 131016 千代田区 in FY2026 (R8)\n" in out
    assert "  [3] schedule extra has no value for FY2026 (R8) in version R9\n" in out


def test_csv_and_json_keep_the_evaluators_text(capsys, r9_eval):
    code, out, _ = run(capsys, *r9_eval, "--columns", "transfer_change,extra", "--format", "csv")
    assert code == 0
    assert (
        "2026,131016,千代田区,,,transfer_change: division by zero in transfer_change for 131016 千代田区 in FY2026 (R8); "
        "extra: schedule extra has no value for FY2026 (R8) in version R9\r\n"
    ) in out
    code, out, _ = run(capsys, *r9_eval, "--columns", "extra", "--format", "json")
    assert json.loads(out)["rows"][0]["undefined"] == {"extra": "schedule extra has no value for FY2026 (R8) in version R9"}


def test_diff_table_shows_reasons_in_japanese(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R9", "-m", "千代田区", "--columns", "target_rate", "--all")
    assert code == 0
    assert out.endswith(
        "未定義の値 (undefined values):\n"
        "  [u1] 131016 千代田区の令和8年度の現年分収納率がありません\n"
        "  [u2] R6の目標収納率（検討案）は令和6～8年度の規則で、令和9年度には適用されません\n"
    ), out


def test_workbook_reasons_in_japanese(tmp_path, capsys, r9_eval):
    import openpyxl

    out = tmp_path / "r9.xlsx"
    code, _, _ = run(capsys, *r9_eval, "--columns", "transfer_change,extra", "--out", str(out))
    assert code == 0
    ws = openpyxl.load_workbook(out)["未定義の値"]
    rows = [tuple(c.value for c in r) for r in ws.iter_rows(min_row=2)]
    assert (
        "FY2026 (R8)",
        "131016",
        "千代田区",
        "繰入額の変化率",
        "transfer_change",
        "131016 千代田区の令和8年度の繰入額の変化率の計算で0による割り算があります",
    ) in rows
    assert ("FY2026 (R8)", "131016", "千代田区", "追加係数", "extra", "R9の追加係数には令和8年度の値がありません") in rows


def test_labels_of_a_version():
    v = api.Session.open().version("R6")
    labels = version_labels(v)
    assert labels["collection_rate"] == "現年分収納率"
    assert labels["target_table"] == "目標収納率（検討案）"
