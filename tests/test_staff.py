"""What staff expect (issue 16), through the command line: outputs that open where they should, -m, names and labels,
one --headers, Japanese throughout, a screen-sized eval, workbooks as data, and sweep's scenario files.

Each test runs `kokuho` as staff do (cli.main in a scratch folder, or a real terminal where that matters) on the
bundled sample data, and states the exact lines it expects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff") and "\r\n" in text  # Excel's CSV: a BOM, CRLF
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- 1. the format follows --out's name; one line says what was written ----------------------------------------


def test_out_name_chooses_the_format_and_one_line_says_what_it_holds(here, capsys):
    """r.xlsx is a workbook, r.csv CSV (Japanese headers), r.md markdown, r.json JSON; each run prints one line on stderr."""
    code, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--out", "r.xlsx")
    assert (code, out, err) == (0, "", "wrote r.xlsx: R6, FY2025 (R7), 62 municipalities × 1 year, 20 columns, with the summary\n")
    from openpyxl import load_workbook

    assert load_workbook(here / "r.xlsx").sheetnames == ["集計", "団体別", "未定義の値"]
    code, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "--out", "r.csv")
    assert (code, out, err) == (0, "", "wrote r.csv: R6, FY2025 (R7), 62 municipalities × 1 year, 1 column\n")
    assert csv_rows((here / "r.csv").read_bytes().decode("utf-8"))[0] == ["年度", "団体コード", "団体名", "目標収納率", "未定義の理由"]
    run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "--out", "r.md")
    assert (here / "r.md").read_text(encoding="utf-8").startswith("# R6 東京都国民健康保険運営方針（改定案）\n\n| 年度")
    run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "--out", "r.json")
    assert len(json.loads((here / "r.json").read_text(encoding="utf-8"))["rows"]) == 62


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["eval", "--year", "R7", "--format", "csv", "--out", "r.xlsx"],
            "format-mismatch: --format csv does not match --out r.xlsx: a .xlsx file is an Excel workbook; drop --format, or name the file r.csv",
        ),
        (
            ["diff", "R3", "R6", "--year", "R7", "--format", "xlsx", "--out", "d.md"],
            "format-mismatch: --format xlsx does not match --out d.md: a .md file is markdown; drop --format, or name the file d.xlsx",
        ),
        (
            ["eval", "--year", "R7", "--out", "r.html"],
            "format-unsupported: kokuho eval cannot write a web page (HTML) (.html); it writes .txt, .csv, .json, .md, .xlsx, .parquet",
        ),
        (["report", "--out", "r.csv"], "format-unsupported: kokuho report cannot write CSV (.csv); it writes .html, .xlsx"),
        (["book", "--out", "r6.xlsx"], "format-unsupported: kokuho book cannot write an Excel workbook (.xlsx); it writes .html"),
        (["sweep", "--vary", "alpha.FY2025=0.6", "--format", "xlsx"], "xlsx-needs-out: --format xlsx writes a file: give --out FILE.xlsx"),
    ],
)
def test_a_format_that_contradicts_the_name_or_the_command_is_a_usage_error(here, capsys, argv, line):
    code, out, err = run(capsys, *argv)
    assert (code, out, err.splitlines()) == (2, "", [line])
    assert list(here.iterdir()) == []  # nothing written


def _on_a_terminal(*argv) -> tuple[int, str, str]:
    """Run kokuho with stdout on a pseudo-terminal, as in a staff member's shell."""
    leader, follower = pty.openpty()
    try:
        p = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *argv],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            env={**os.environ, "KOKUHO_CONFIG": "off"},
        )
        os.close(follower)
        follower = None
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        return p.returncode, shown.decode("utf-8", "replace"), p.stderr.decode("utf-8")
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)


@pytest.mark.parametrize("command", ["report", "book"])
def test_a_web_page_is_not_printed_on_a_terminal(command):
    """`kokuho report` on a terminal would print 859 KB of HTML: refused, with the way to write it."""
    code, shown, err = _on_a_terminal(command)
    assert (code, shown) == (2, "")
    assert err == (
        f"html-to-terminal: kokuho {command} writes a web page: give --out FILE.html (or redirect it: kokuho {command} ... > FILE.html), "
        "then open the file in a browser\n"
    )


def test_a_web_page_may_be_redirected(capsys):
    """Redirected (not a terminal), the book's HTML goes to stdout as before, and no 'wrote' line is printed."""
    code, out, err = run(capsys, "book", "--version", "R3")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and err == ""


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["diff", "R3", "R6", "--year", "R7", "--columns", "target_rate", "--out", "d.csv"],
            "wrote d.csv: outcome diff R3 → R6, FY2025 (R7), 62 municipalities, 4 rows",
        ),
        (["diff", "R3", "R6", "--year", "R7", "--rules-only", "--out", "d.md"], "wrote d.md: rule diff R3 → R6, FY2025 (R7)"),
        (
            ["diff", "R3", "R6", "--year", "R7", "--summary", "--out", "d.json"],
            "wrote d.json: diff summary R3 → R6, FY2025 (R7), 62 municipalities",
        ),
        (["diff", "R3", "R6", "--year", "R7", "--out", "d.xlsx"], "wrote d.xlsx: diff R3 → R6, FY2025 (R7)"),
        (
            ["explain", "target_rate", "--year", "R7", "-m", "131016", "--out", "x.md"],
            "wrote x.md: the derivation of target_rate for 131016 千代田区, FY2025, version R6",
        ),
        (["versions", "--out", "v.csv"], "wrote v.csv: 2 versions"),
        (["names", "--version", "R3", "--out", "n.csv"], "wrote n.csv: 46 names of R3 (46 pieces)"),
        (
            ["sweep", "--version", "R6", "--period", "R7", "--vary", "alpha.FY2025=0.6", "--jobs", "1", "--out", "s.xlsx"],
            "wrote s.xlsx: R6, FY2025 (R7), 2 scenarios",
        ),
        (["book", "--version", "R3", "--out", "r3.html"], "wrote r3.html: the rule book of R3"),
    ],
)
def test_every_command_that_writes_a_file_says_what_it_holds(here, capsys, argv, line):
    code, out, err = run(capsys, *argv)
    assert code == 0 and out == ""
    assert err.splitlines()[-1] == line
    assert (here / argv[argv.index("--out") + 1]).stat().st_size > 0


# ---- 2. -m / --municipality ----------------------------------------------------------------------------------


def test_eval_rows_of_the_municipalities_asked_for(capsys):
    """Codes and names, repeated or in a comma list (also 、): rows in code order, each once; the values are the
    whole prefecture's (the same cells as without -m); the table says what it shows."""
    argv = ["eval", "--version", "R6", "--year", "R7", "--columns", "target_rate,net_levy", "--format", "csv"]
    _, whole, _ = run(capsys, *argv)
    _, some, _ = run(capsys, *argv, "-m", "八王子市、町田市", "-m", "131016,八王子市")
    rows = csv_rows(some)
    assert [r[1] for r in rows[1:]] == ["131016", "132012", "132098"]
    assert rows[1:] == [r for r in csv_rows(whole)[1:] if r[1] in ("131016", "132012", "132098")]
    code, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "-m", "町田市")
    assert out.splitlines()[-1] == "62 団体中 1 団体を表示しています (-m)。合計・按分・集計は都全体 (62 団体) の値です。"


def test_eval_summary_under_m_is_the_prefectures_and_says_so(capsys):
    _, whole, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--summary")
    _, some, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--summary", "-m", "町田市")
    assert some == "集計は都全体 (62 団体) の値です (-m は団体別の行だけを選びます)。\n\n" + whole


def test_diff_rows_of_the_municipalities_asked_for(capsys):
    """diff -m shows only those rows (--top counts within them) and gives both counts: theirs and the prefecture's."""
    code, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "-m", "八王子市", "--columns", "levy_total,net_levy,target_rate")
    lines = out.splitlines()
    assert lines[5] == "3 件中 2 件の値が異なります (-m で選んだ 1 団体; 都全体 62 団体では 186 件中 128 件)。"
    body = [line for line in lines if line.startswith("FY2025")]
    assert len(body) == 2 and all("132012        八王子市" in line for line in body)
    argv = ["diff", "R3", "R6", "--year", "R7", "-m", "八王子市,町田市", "--columns", "levy_total", "--format", "csv"]
    _, both, _ = run(capsys, *argv)
    _, top, _ = run(capsys, *argv, "--top", "1")
    assert [r[1] for r in csv_rows(both)[1:]] == ["132098", "132012"]  # largest change first
    assert csv_rows(top)[1:] == csv_rows(both)[1:2]  # the larger change of the two, not of the prefecture


def test_explain_one_derivation_per_municipality(capsys):
    code, out, _ = run(capsys, "explain", "目標収納率", "--version", "R6", "--year", "R7", "-m", "131016,町田市", "--depth", "0")
    heads = [line for line in out.splitlines() if line.startswith("target_rate for")]
    assert heads == ["target_rate for 131016 千代田区, FY2025 (R7), version R6", "target_rate for 132098 町田市, FY2025 (R7), version R6"]


def test_report_tables_of_the_municipalities_asked_for(here, capsys):
    """The workbook's 団体別 sheet lists the municipalities asked for; its summary still covers the prefecture."""
    from openpyxl import load_workbook

    assert cli.main(["report", "--period", "R7", "-m", "八王子市,町田市", "--out", "r.xlsx"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == "wrote r.xlsx: R6 against R3, FY2025 (R7), 2 of 62 municipalities"
    wb = load_workbook(here / "r.xlsx")
    assert [r[1] for r in wb["団体別"].iter_rows(min_row=2, values_only=True)] == ["132012", "132098"]
    achievers = [r for r in wb["集計"].iter_rows(min_row=2, values_only=True) if r[0] == "R6" and r[2].startswith("区分別")]
    assert sum(r[7] for r in achievers) == 62


@pytest.mark.parametrize(
    "argv", [["eval", "--year", "R7"], ["diff", "R3", "R6", "--year", "R7"], ["report", "--period", "R7", "--out", "r.html"]]
)
def test_an_unknown_municipality_is_a_usage_error_with_the_closest_name(here, capsys, argv):
    code, out, err = run(capsys, *argv, "-m", "八王子")
    assert (code, out, err.splitlines()[-1]) == (
        2,
        "",
        "unknown-municipality: no municipality '八王子' in the data; did you mean '八王子市'?",
    )


# ---- 3. labels wherever a name is; kokuho names ---------------------------------------------------------------


def test_labels_are_names(capsys):
    """--columns, explain's NAME, diff --explain, sweep's targets and totals, versions --names take the labels headers show."""
    _, by_name, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate,achieved", "--format", "csv")
    _, by_label, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "目標収納率、目標収納率の達成", "--format", "csv")
    assert by_label == by_name
    _, a, _ = run(capsys, "explain", "目標収納率", "--year", "R7", "-m", "131016", "--version", "R6")
    _, b, _ = run(capsys, "explain", "target_rate", "--year", "R7", "-m", "131016", "--version", "R6")
    assert a == b
    _, a, _ = run(
        capsys,
        "sweep",
        "--version",
        "R6",
        "--period",
        "R7",
        "--vary",
        "医療費指数反映係数α.R7=0.6",
        "--totals",
        "納付金（合計）",
        "--jobs",
        "1",
        "--format",
        "csv",
    )
    _, b, _ = run(
        capsys,
        "sweep",
        "--version",
        "R6",
        "--period",
        "R7",
        "--vary",
        "alpha.R7=0.6",
        "--totals",
        "levy_total",
        "--jobs",
        "1",
        "--format",
        "csv",
    )
    assert a.replace("医療費指数反映係数α.R7", "alpha.R7") == b
    _, a, _ = run(capsys, "versions", "--year", "R9", "--names", "目標収納率（検討案）")
    assert "target_table" in a and "alpha" not in a


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["eval", "--year", "R7", "--columns", "目標収納"],
            "unknown-column: version R6 has no definition '目標収納'; did you mean '目標収納率' (target_rate)?",
        ),
        (
            ["explain", "経過措置", "--year", "R7", "-m", "131016"],
            "unknown-name: version R6 has no definition, table, schedule or input '経過措置'; did you mean '経過措置額' (relief)?",
        ),
        (
            ["diff", "R3", "R6", "--year", "R7", "--columns", "納付金(合計"],
            "unknown-column: neither R3 nor R6 has a definition '納付金(合計'; did you mean '納付金（合計）' (levy_total)?",
        ),
        (
            ["sweep", "--vary", "医療費指数反映係数.R7=0.6"],
            "sweep-variation: --vary '医療費指数反映係数.R7=0.6': version R6 has no rule item '医療費指数反映係数'; did you mean '医療費指数反映係数α' (alpha)?",
        ),
    ],
)
def test_did_you_mean_over_names_and_labels(capsys, argv, line):
    code, out, err = run(capsys, *argv)
    assert (code, out, err.splitlines()[-1]) == (2, "", line)


def test_kokuho_names(capsys):
    """Every name with its label, unit, kind, the version its piece comes from, its years and citation; a piece per row."""
    code, out, _ = run(capsys, "names", "--version", "R6", "--format", "csv", "--headers", "en")
    rows = csv_rows(out)
    assert rows[0] == ["name", "label", "unit", "kind", "version", "years", "written_at", "cite"]
    by = {}
    for r in rows[1:]:
        by.setdefault(r[0], []).append(r)
    assert by["target_table"] == [
        [
            "target_table",
            "目標収納率（現行）",
            "percent",
            "table",
            "R3",
            "up to FY2023 (R5)",
            "rules/tokyo/R3.rules:59",
            "第5章 目標収納率（令和３～５年度）",
        ],
        [
            "target_table",
            "目標収納率（検討案）",
            "percent",
            "table",
            "R6",
            "FY2024-FY2026 (R6-R8)",
            "rules/tokyo/R6.rules:13",
            "第5章 目標収納率（令和６～８年度）",
        ],
    ]
    assert by["collection_rate"] == [
        [
            "collection_rate",
            "現年分収納率",
            "percent",
            "municipal input",
            "R3",
            "every year",
            "rules/tokyo/R3.rules:13",
            "第5章 現年分収納率",
        ]
    ]
    assert by["standard_collection_rate"][0][2] == "percent"
    _, out, _ = run(capsys, "names", "--version", "R6", "--year", "R9")
    line = next(line for line in out.splitlines() if line.startswith("target_table"))
    assert "区分表" in line and "適用外 (R6 の規定は FY2024-FY2026 (R6-R8))" in line
    _, out, _ = run(capsys, "names", "--version", "R6", "--format", "json")
    assert json.loads(out)["names"][0] == {
        "name": "collection_rate",
        "label": "現年分収納率",
        "unit": "percent",
        "kind": "municipal input",
        "version": "R3",
        "years": "every year",
        "cite": "第5章 現年分収納率",
        "file": "rules/tokyo/R3.rules",
        "line": 13,
    }
    _, out, _ = run(capsys, "names", "--version", "R3", "--format", "markdown")
    assert out.startswith("# R3 東京都国民健康保険運営方針（令和3～5年度） — 名前の一覧: 46 件\n\n| 名前")


# ---- 4. one --headers, Japanese by default; a machine-readable summary ------------------------------------------


def test_headers_are_japanese_by_default_everywhere(capsys):
    _, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "--format", "csv")
    assert csv_rows(out)[0] == ["年度", "団体コード", "団体名", "目標収納率", "未定義の理由"]
    _, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "target_rate", "--format", "csv", "--headers", "en")
    assert csv_rows(out)[0] == ["fiscal_year", "code", "name", "target_rate", "undefined"]
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--columns", "target_rate", "--format", "csv")
    assert csv_rows(out)[0] == [
        "年度",
        "団体コード",
        "団体名",
        "名前",
        "名称",
        "単位",
        "R3",
        "R6",
        "差",
        "差の単位",
        "状態",
        "原因",
        "未定義の理由",
    ]
    _, en, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--columns", "target_rate", "--format", "csv", "--headers", "en")
    assert csv_rows(en)[0][:4] == ["fiscal_year", "code", "name", "definition"] and csv_rows(en)[1:] == csv_rows(out)[1:]
    _, out, _ = run(
        capsys,
        "sweep",
        "--version",
        "R6",
        "--period",
        "R7",
        "--vary",
        "alpha.R7=0.6",
        "--totals",
        "levy_total",
        "--jobs",
        "1",
        "--format",
        "csv",
    )
    assert csv_rows(out)[0][:3] == ["シナリオ", "名前", "alpha.R7"]


def test_eval_summary_csv_has_numbers_in_columns_of_their_own(capsys):
    """Achievers and municipalities per band are numbers Excel can add up, under Japanese or English headers."""
    _, out, _ = run(capsys, "eval", "--version", "R3", "--year", "2021", "--summary", "--format", "csv")
    rows = csv_rows(out)
    assert rows[0] == [
        "年度",
        "種類",
        "名前",
        "名称",
        "項目",
        "項目の名称",
        "値",
        "単位",
        "達成自治体数",
        "自治体数",
        "未定義の自治体数",
        "注",
    ]
    bands = [r for r in rows[1:] if r[1] == "bands" and r[4].startswith("[")]
    assert [(r[4], int(r[8]), int(r[9])) for r in bands] == [
        ("[0%, 85%)", 1, 1),
        ("[85%, 90%)", 7, 9),
        ("[90%, 95%)", 17, 28),
        ("[95%, 97%)", 10, 13),
        ("[97%, 100%]", 9, 11),
    ]
    tally = [r for r in rows if r[1] == "tally" and r[2] == "deficit_status"]
    assert [(r[4], r[5], r[7]) for r in tally][:1] == [("none", "赤字なし", "count")]
    _, en, _ = run(capsys, "eval", "--version", "R3", "--year", "2021", "--summary", "--format", "csv", "--headers", "en")
    assert csv_rows(en)[0][8:10] == ["achieved", "municipalities"] and csv_rows(en)[1:] == rows[1:]


def test_kokuho_toml_lang_en_gives_english_headers(here, capsys, monkeypatch):
    monkeypatch.delenv("KOKUHO_CONFIG")
    (here / "kokuho.toml").write_text('lang = "en"\n', encoding="utf-8")
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--columns", "target_rate", "--format", "csv")
    assert csv_rows(out)[0][0] == "fiscal_year"


# ---- 5. Japanese output is Japanese throughout -----------------------------------------------------------------


def test_values_are_shown_in_japanese_and_kept_as_they_are_in_csv(capsys):
    """Statuses as R3 labels them, 達成/未達成 (achieved's labels), ○/× for a true/false without labels,
    the standard collection rate as a percent; CSV and --headers en keep the values the rules produce."""
    argv = [
        "eval",
        "--version",
        "R6",
        "--year",
        "R7",
        "--columns",
        "standard_collection_rate,achieved,meets_national_average,deficit_status",
        "-m",
        "131016",
    ]
    _, out, _ = run(capsys, *argv)
    assert out.splitlines()[4].split() == ["FY2025", "(R7)", "131016", "千代田区", "90.93%", "未達成", "×", "赤字なし"]
    _, out, _ = run(capsys, *argv, "--headers", "en")
    assert out.splitlines()[2].split() == [
        "fiscal_year",
        "code",
        "name",
        "standard_collection_rate",
        "achieved",
        "meets_national_average",
        "deficit_status",
    ]
    assert out.splitlines()[4].split() == ["FY2025", "(R7)", "131016", "千代田区", "90.93%", "false", "false", "none"]
    _, out, _ = run(capsys, *argv, "--format", "csv")
    assert csv_rows(out)[1] == ["2025", "131016", "千代田区", "90.93", "false", "false", "none", ""]
    _, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--summary")
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("赤字解消の状況")] == ["50", "3", "6", "3"]
    assert [line.split(":")[1].split()[0] for line in out.splitlines() if line.startswith("赤字解消の状況")] == [
        "赤字なし",
        "目標年次なし",
        "目標年次内",
        "目標年次超過",
    ]


def test_version_status_and_a_missing_rule_in_japanese(capsys):
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--columns", "relief", "-m", "131016")
    lines = out.splitlines()
    assert lines[2:4] == [
        "A: R3 東京都国民健康保険運営方針（令和3～5年度） (施行中, FY2021-FY2023 (R3-R5))",
        "B: R6 東京都国民健康保険運営方針（改定案） (改定案, FY2024-FY2029 (R6-R11))",
    ]
    assert lines[9].split() == [
        "FY2025",
        "(R7)",
        "131016",
        "千代田区",
        "経過措置額",
        "(R3",
        "に規則なし)",
        "72,699,134円",
        "R6",
        "のみ",
        "[1][2][3]",
    ]
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--columns", "relief", "-m", "131016", "--headers", "en")
    assert "(no rule in R3)" in out and "(current, FY2021-FY2023 (R3-R5))" in out
    _, out, _ = run(capsys, "versions")
    assert [line.split()[1] for line in out.splitlines()[4:6]] == ["施行中", "改定案"]


def test_rule_comparison_in_japanese(capsys):
    """The rule diff's words: 区分表, 区分1, 変更なし, 範囲・結果 in Japanese outputs; table, band 1, same with --headers en."""
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--rules-only", "--format", "csv")
    rows = csv_rows(out)
    assert rows[0] == ["区分", "名前", "年度", "項目", "変更", "R3", "R6", "R3 の行", "R6 の行"]
    assert rows[1][:5] == ["区分表", "target_table", "FY2025 (R7)", "区分1", "変更なし"]
    assert [r[4] for r in rows[1:7]] == ["変更なし", "変更なし", "変更なし", "変更なし", "範囲・結果", "追加"]
    _, en, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--rules-only", "--format", "csv", "--headers", "en")
    assert csv_rows(en)[1][:5] == ["table", "target_table", "FY2025 (R7)", "band 1", "same"]
    _, out, _ = run(capsys, "diff", "R3", "R6", "--year", "R7", "--rules-only")
    assert "■ 区分表 target_table — FY2025 (R7) (変更)" in out


# ---- 6. an eval that fits a screen -----------------------------------------------------------------------------


def test_eval_on_a_terminal_shows_the_versions_screen_set(capsys):
    code, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7")
    assert out.splitlines()[2].split() == [
        "年度",
        "団体コード",
        "団体名",
        "前年度の現年分収納率",
        "目標収納率",
        "目標収納率の達成",
        "納付金（合計）",
        "経過措置後の納付金",
    ]
    assert err == (
        "showing 5 of 20 columns (R6's screen set); --columns all shows every one, --columns NAME,... the ones you name "
        "(kokuho names lists them)\n"
    )
    from engine.render import _cell_width

    assert max(_cell_width(line) for line in out.splitlines()) <= 140
    _, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--columns", "all")
    assert len(out.splitlines()[2].split()) == 3 + 20 and err == ""
    _, out, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--format", "csv")
    assert len(csv_rows(out)[0]) == 3 + 20 + 1 and err == ""  # a file for Excel has every column


# ---- 7. workbooks as data ----------------------------------------------------------------------------------------


def _workbook(path: Path, rows, *, sheet="データ", other=None, percent_col=None):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    if percent_col is not None:
        for row in ws.iter_rows(min_row=2):
            if isinstance(row[percent_col].value, float):
                row[percent_col].number_format = "0.00%"
    if other:
        wb.create_sheet(other)
    wb.save(path)


def _sample_rows(name: str):
    out = []
    for r in csv.reader(io.StringIO((ROOT / "data" / "sample" / name).read_text(encoding="utf-8-sig"))):
        cells = []
        for c in r:
            try:
                cells.append(int(c))
            except ValueError:
                try:
                    cells.append(float(c))
                except ValueError:
                    cells.append(c)
        out.append(cells)
    return out


def test_workbooks_as_data_give_the_same_results_as_csv(here, capsys):
    """The sample data saved as workbooks (the municipal one on its second sheet, collection rates formatted as
    percents, as Excel keeps them: 0.9093 shown 90.93%) evaluate to the same bytes as the CSV files."""
    from openpyxl import Workbook

    rows = _sample_rows("tokyo-municipal.csv")
    header = next(r for r in rows if not str(r[0]).startswith("#"))
    k = header.index("collection_rate")
    wb = Workbook()
    wb.active.title = "表紙"
    wb.active.append(["東京都国保 区市町村別データ（合成）"])
    ws = wb.create_sheet("市町村別")
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=2):
        if len(row) > k and isinstance(row[k].value, float):
            row[k].value = float(f"{row[k].value / 100:.6f}")
            row[k].number_format = "0.00%"
    wb.save(here / "m.xlsx")
    _workbook(here / "p.xlsx", _sample_rows("tokyo-prefecture.csv"))
    argv = ["eval", "--version", "R6", "--period", "R6-R8", "--format", "csv", "--columns", "all"]
    _, from_csv, _ = run(capsys, *argv)
    code, from_xlsx, err = run(capsys, *argv, "--data", "m.xlsx#市町村別", "--prefecture-data", "p.xlsx")
    assert (code, err) == (0, "")
    assert from_xlsx == from_csv


def test_a_large_workbook_is_handed_from_the_arrow_reader_to_the_reference(here, capsys, monkeypatch):
    """The columnar reader takes CSV and Parquet; a workbook past its size threshold is passed to data.read_table."""
    import engine.columnar.data as columnar_data

    _workbook(here / "m.xlsx", _sample_rows("tokyo-municipal.csv"))
    monkeypatch.setattr(columnar_data, "ARROW_MIN_BYTES", 0)  # as if the workbook were large
    argv = ["eval", "--version", "R6", "--year", "R7", "--format", "csv", "--columns", "all"]
    _, from_csv, _ = run(capsys, *argv)
    code, from_xlsx, err = run(
        capsys, *argv, "--data", "m.xlsx", "--prefecture-data", str(ROOT / "data" / "sample" / "tokyo-prefecture.csv")
    )
    assert (code, err, from_xlsx) == (0, "", from_csv)


@pytest.mark.parametrize(
    "rows, line",
    [
        (
            [["fiscal_year", "code", "name", "collection_rate"], [2024, "131016", "千代田区", "abc"]],
            "m.xlsx:2:4: data-bad-value: collection_rate: 'abc' is not a number",
        ),
        (
            [
                ["# 注記"],
                [],
                ["fiscal_year", "code", "name", "collection_rate"],
                [2024, 131016, "千代田区", 96.5],
                [],
                [2024, 131017, "千代田区", 96.5],
            ],
            "m.xlsx:6:2: data-check-digit: code 131017 has a wrong check digit: expected 131016",
        ),
    ],
)
def test_workbook_errors_name_the_rows_excel_shows(here, capsys, rows, line):
    _workbook(here / "m.xlsx", rows)
    (here / "p.csv").write_text(
        "fiscal_year,levy_medical,levy_support,levy_care,national_income_per_insured\n2024,1,1,1,1\n", encoding="utf-8"
    )
    code, out, err = run(capsys, "eval", "--version", "R6", "--year", "R6", "--data", "m.xlsx", "--prefecture-data", "p.csv")
    assert (code, err.splitlines()[0]) == (2, line)


def test_a_workbook_named_csv_and_a_sheet_that_is_not_there(here, capsys):
    _workbook(here / "m.xlsx", [["fiscal_year", "code", "name"]], other="二枚目")
    (here / "m.csv").write_bytes((here / "m.xlsx").read_bytes())
    (here / "p.csv").write_text("fiscal_year\n2024\n", encoding="utf-8")
    _, _, err = run(capsys, "eval", "--version", "R6", "--year", "R6", "--data", "m.xlsx#三枚目", "--prefecture-data", "p.csv")
    assert err.splitlines()[0] == "m.xlsx#三枚目:1:1: data-xlsx: the workbook has no sheet '三枚目'; its sheets are: データ, 二枚目"
    _, _, err = run(capsys, "eval", "--version", "R6", "--year", "R6", "--data", "m.csv", "--prefecture-data", "p.csv")
    assert err.splitlines()[0] == (
        "m.csv:1:1: data-encoding: the file is an Excel workbook (or another zip archive), not CSV: give it a name "
        "ending .xlsx (file.xlsx, or file.xlsx#sheet for another sheet than the first), or save it from Excel as 'CSV UTF-8'"
    )


def test_an_unquoted_thousands_separator_is_named(here, capsys):
    (here / "m.csv").write_text(
        "fiscal_year,code,name,collection_rate,insured,income\n2024,131016,千代田区,96.50,10,800,1000000\n", encoding="utf-8"
    )
    (here / "p.csv").write_text("fiscal_year,levy_medical\n2024,1\n", encoding="utf-8")
    _, _, err = run(capsys, "eval", "--version", "R6", "--year", "R6", "--data", "m.csv", "--prefecture-data", "p.csv")
    assert err.splitlines()[0] == (
        "m.csv:2:1: data-row-length: row has 7 cells but the header has 6; 10,800 (from column 5) looks like a number "
        'with a thousands separator that is not in quotes: write it as "10,800" or as 10800'
    )
    (here / "m.csv").write_text(
        "fiscal_year,code,name,collection_rate,insured,income\n2024,131016,千代田区,96.50,10,800\n", encoding="utf-8"
    )
    _, _, err = run(capsys, "eval", "--version", "R6", "--year", "R6", "--data", "m.csv", "--prefecture-data", "p.csv")
    assert "thousands" not in err  # 10 and 800 in their own columns: nothing to explain


# ---- 8. sweep's scenario files ---------------------------------------------------------------------------------


SCENARIOS = """version: R6
period: R7
vary:
  alpha.FY2025: [0.60, 0.70]
scenarios:
  - name: 緩やか
    set: {alpha.R7: 0.80}
"""


def test_a_key_both_set_and_varied_is_an_error(here, capsys):
    (here / "s.yaml").write_text(SCENARIOS, encoding="utf-8")
    code, out, err = run(capsys, "sweep", "--scenarios", "s.yaml")
    assert (code, out, err) == (
        2,
        "",
        "s.yaml:7:21: sweep-file: scenario '緩やか' sets alpha.R7, which vary: varies too (alpha.FY2025); "
        "a key is either set by a scenario or varied, not both\n",
    )
    (here / "s.yaml").write_text(SCENARIOS.replace("vary:\n  alpha.FY2025: [0.60, 0.70]\n", ""), encoding="utf-8")
    code, out, err = run(capsys, "sweep", "--scenarios", "s.yaml", "--vary", "alpha[令和7年度]=0.5")
    assert (code, err) == (
        2,
        "sweep-variation: --vary 'alpha[令和7年度]': scenario '緩やか' of s.yaml sets alpha.R7; "
        "a key is either set by a scenario or varied, not both\n",
    )
    code, out, err = run(capsys, "sweep", "--version", "R6", "--vary", "alpha.R7=0.5", "--vary", "alpha.FY2025=0.6")
    assert (code, err) == (2, "sweep-variation: 'alpha.FY2025' is varied twice; give all its values in one --vary\n")


def test_sweep_writes_a_workbook(here, capsys):
    from openpyxl import load_workbook

    (here / "s.yaml").write_text(SCENARIOS.replace("alpha.R7", "relief_ratio.R7"), encoding="utf-8")
    assert cli.main(["sweep", "--scenarios", "s.yaml", "--totals", "net_levy", "--jobs", "1", "--out", "s.xlsx"]) == 0
    ws = load_workbook(here / "s.xlsx")["感度分析"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:4] == ("シナリオ", "名前", "alpha.FY2025", "経過措置後の納付金 FY2025 (R7)")
    assert [r[:3] for r in rows[1:]] == [(0, "(unvaried)", None), (1, "緩やか", "0.60"), (2, "緩やか", "0.70")]
    assert all(isinstance(r[3], int) for r in rows[1:])  # yen as numbers, not text


def test_the_scenario_file_format_is_documented():
    """docs/tutorial.md shows a scenario file with every key sweep reads."""
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    for key in ("version:", "period:", "vary:", "scenarios:", "name:", "set:"):
        assert key in text
