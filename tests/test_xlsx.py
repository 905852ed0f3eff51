"""Excel output (`--format xlsx`) of eval, diff and report, read back with openpyxl: sheets, Japanese
headers, number formats, frozen headers, filters, widths, and the same numbers as `eval --format csv`
and as the HTML report."""

from __future__ import annotations

import csv
import io
import re
from fractions import Fraction
from html.parser import HTMLParser

import openpyxl
import pytest

import cli
from engine import api
from engine.display import reason_text, version_labels
from engine.xlsx import text_width

PERIOD = ["--period", "R6-R8"]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def csv_table(capsys, *argv) -> list[list[str]]:
    code, out, _ = run(capsys, *argv, "--format", "csv", *([] if "--headers" in argv else ["--headers", "en"]))
    assert code == 0 and out.startswith("\ufeff")
    return list(csv.reader(io.StringIO(out[1:])))


@pytest.fixture(scope="module")
def r6_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "r6.xlsx"
    assert cli.main(["eval", "--version", "R6", *PERIOD, "--format", "xlsx", "--out", str(path)]) == 0
    return path


def same_number(cell_value, text: str, unit: str) -> bool:
    """A number read back from the workbook equals the CSV's exact decimal text (rates: the CSV shows percent)."""
    x = Fraction(repr(cell_value)) if isinstance(cell_value, float) else Fraction(cell_value)
    return x * 100 == Fraction(text) if unit == "percent" else x == Fraction(text)


def test_eval_sheets_headers_and_layout(r6_book, capsys):
    """Three sheets; the per-municipality header is the CSV's Japanese header; the header row is frozen with the
    three key columns, and the filter covers 62 municipalities x 3 years = 186 rows below the header."""
    wb = openpyxl.load_workbook(r6_book)
    assert wb.sheetnames == ["集計", "団体別", "未定義の値"]
    ws = wb["団体別"]
    header = [c.value for c in ws[1]]
    ja = csv_table(capsys, "eval", "--version", "R6", *PERIOD, "--headers", "ja")
    assert header == ja[0]
    assert header[:5] == ["年度", "団体コード", "団体名", "前年度の現年分収納率", "目標収納率"]
    assert ws.freeze_panes == "D2"
    assert ws.max_row == 187
    assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=len(header)).column_letter}187"
    assert [c.value for c in wb["集計"][1]] == ["年度", "種類", "項目", "範囲", "値", "達成自治体数", "自治体数", "未定義の理由"]
    assert wb["集計"].freeze_panes == "B2"


def test_eval_values_and_formats_match_csv(r6_book, capsys):
    """Every cell of 団体別 equals the CSV value: rates stored as ratios with 0.00%, yen as integers with #,##0,
    booleans as booleans, an undefined value as an empty cell whose reason is in 未定義の理由 as in the CSV, in Japanese."""
    wb = openpyxl.load_workbook(r6_book)
    labels = version_labels(api.Session.open().version("R6"))
    ws = wb["団体別"]
    table = csv_table(capsys, "eval", "--version", "R6", *PERIOD)
    names = table[0][3:-1]
    units = {
        "previous_rate": "percent",
        "target_rate": "percent",
        "achieved": "bool",
        "meets_national_average": "bool",
        "alpha": "ratio",
        "beta": "ratio",
        "levy_medical": "yen",
        "levy_total": "yen",
        "relief": "yen",
        "net_levy": "yen",
        "income_rate_medical": "percent",
        "per_capita_medical": "yen",
        "deficit": "yen",
        "deficit_status": "text",
    }
    formats = {"percent": "0.00%", "yen": "#,##0", "bool": "General", "text": "General"}
    checked = 0
    for row, values in zip(ws.iter_rows(min_row=2), table[1:]):
        year, code, name = values[:3]
        assert [row[0].value, row[1].value, row[2].value] == [
            {"2024": "FY2024 (R6)", "2025": "FY2025 (R7)", "2026": "FY2026 (R8)"}[year],
            code,
            name,
        ]
        for k, n in enumerate(names):
            cell, text = row[3 + k], values[3 + k]
            unit = units.get(n)
            if unit is None:
                continue
            if text == "":
                assert cell.value is None, (code, year, n)
            elif unit == "bool":
                assert cell.value is (text == "true"), (code, year, n)
            elif unit == "text":
                assert cell.value == text
            else:
                assert same_number(cell.value, text, unit), (code, year, n, cell.value, text)
                if unit in formats:
                    assert cell.number_format == formats[unit], (n, cell.number_format)
                checked += 1
        # the workbook is read by people: the CSV's reasons, each in Japanese (engine/display.reason_text)
        shown = [f"{n}: {reason_text(r, 'ja', labels)}" for n, r in (x.split(": ", 1) for x in re.split(r"; (?=\w+: )", values[-1]) if x)]
        assert (row[-1].value or "") == "; ".join(shown)
        assert values[-1] == "" or "がありません" in row[-1].value
    assert checked > 186 * 8


def test_eval_undefined_sheet_lists_every_undefined_value(r6_book):
    """The sample data has no FY2026 collection rate, so achieved and meets_national_average are undefined for all
    62 municipalities in FY2026: 62 x 2 = 124 rows, each with its reason; nothing else is undefined over R6-R8."""
    ws = openpyxl.load_workbook(r6_book)["未定義の値"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert len(rows) == 124
    assert rows[0] == [
        "FY2026 (R8)",
        "131016",
        "千代田区",
        "目標収納率の達成",
        "achieved",
        "131016 千代田区の令和8年度の現年分収納率がありません",
    ]
    assert {r[4] for r in rows} == {"achieved", "meets_national_average"}


def test_eval_summary_sheet_reproduces_the_seed_table(tmp_path):
    """FY2021 under R3: achievers per band 1/1, 7/9, 17/28, 10/13, 9/11 (the seed's table), stored as numbers."""
    path = tmp_path / "r3.xlsx"
    assert cli.main(["eval", "--version", "R3", "--year", "2021", "--format", "xlsx", "--out", str(path)]) == 0
    ws = openpyxl.load_workbook(path)["集計"]
    bands = [(r[2].value, r[3].value, r[5].value, r[6].value) for r in ws.iter_rows(min_row=2) if r[1].value == "区分別の目標収納率の達成"]
    assert bands == [
        ("85%未満", "[0%, 85%)", 1, 1),
        ("85%以上90%未満", "[85%, 90%)", 7, 9),
        ("90%以上95%未満", "[90%, 95%)", 17, 28),
        ("95%以上97%未満", "[95%, 97%)", 10, 13),
        ("97%以上100%以下", "[97%, 100%]", 9, 11),
    ]
    totals = {r[2].value: r[4] for r in ws.iter_rows(min_row=2) if r[1].value == "合計"}
    assert totals["納付金（合計）"].number_format == "#,##0" and isinstance(totals["納付金（合計）"].value, int)


def test_column_widths_count_wide_characters_twice(r6_book):
    """納付金（後期高齢者支援金等分） is 15 wide characters = 30 columns, wider than its values (1,543,141,274: 13);
    the column is 30 + 2 wide. The code column fits its header 団体コード (5 wide = 10) + 2."""
    assert text_width("納付金（後期高齢者支援金等分）") == 30
    assert text_width("1,543,141,274") == 13
    ws = openpyxl.load_workbook(r6_book)["団体別"]
    header = [c.value for c in ws[1]]
    col = ws.cell(row=1, column=header.index("納付金（後期高齢者支援金等分）") + 1).column_letter
    assert ws.column_dimensions[col].width == 32
    assert ws.column_dimensions["B"].width == 12


def test_same_inputs_same_bytes(tmp_path, r6_book):
    """No clock in the file: fixed document times and zip entry times, so a second run gives the same bytes."""
    again = tmp_path / "again.xlsx"
    assert cli.main(["eval", "--version", "R6", *PERIOD, "--format", "xlsx", "--out", str(again)]) == 0
    assert again.read_bytes() == r6_book.read_bytes()
    props = openpyxl.load_workbook(again).properties
    assert (props.created.year, props.modified.year) == (2000, 2000)


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--format", "xlsx"],
        ["diff", "R3", "R6", "--format", "xlsx"],
        ["report", "--format", "xlsx"],
        ["eval", "--format", "xlsx", "--out", "-"],
    ],
)
def test_xlsx_needs_out(capsys, argv):
    """A workbook is never written to the terminal: exit 2 and say what to do."""
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == "xlsx-needs-out: --format xlsx writes a file: give --out FILE.xlsx\n"


def test_diff_workbook(tmp_path):
    """diff R3 R6: four sheets; 御蔵島村 (FY2023 rate 100.00%) has target 100.00% under R3 and 99.00% under R6
    in FY2024, a difference of -1.00pp stored as -1 points with a pp format; --rules-only gives the rule sheet alone."""
    path = tmp_path / "d.xlsx"
    assert cli.main(["diff", "R3", "R6", "--year", "R6", "--format", "xlsx", "--out", str(path)]) == 0
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["集計", "団体別", "規則の比較", "未定義の値"]
    ws = wb["団体別"]
    assert [c.value for c in ws[1]] == [
        "年度",
        "団体コード",
        "団体名",
        "項目",
        "名前",
        "R3",
        "R6",
        "差 (R6−R3)",
        "状態",
        "原因",
        "未定義の理由",
    ]
    row = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "133825" and r[4].value == "target_rate")
    assert [row[5].value, row[6].value, row[7].value, row[8].value] == [1, 0.99, -1, "changed"]
    assert (row[5].number_format, row[7].number_format) == ("0.00%", '+0.00"pp";-0.00"pp";0.00"pp"')
    assert "99%以上100%以下" in row[9].value
    rules = tmp_path / "rules.xlsx"
    assert cli.main(["diff", "R3", "R6", "--rules-only", "--year", "R6", "--format", "xlsx", "--out", str(rules)]) == 0
    wr = openpyxl.load_workbook(rules)
    assert wr.sheetnames == ["規則の比較"]
    assert [c.value for c in wr["規則の比較"][1]] == ["区分", "名前", "年度", "項目", "変更", "R3", "R6", "R3 の行", "R6 の行"]


class _Cells(HTMLParser):
    """(year, code, column) -> (B's raw value, A's raw value or None, the text shown) from the report's municipal tables."""

    def __init__(self):
        super().__init__()
        self.cells: dict = {}
        self.year = self.code = None
        self.cur = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("data-year"):
            self.year = a["data-year"]
        elif tag == "tr" and "data-code" in a:
            self.code = a["data-code"]
        elif tag == "td" and "data-col" in a and self.year:
            self.cur = [(self.year, self.code, a["data-col"]), a.get("data-b"), a.get("data-a"), ""]
            self.depth = 0
        elif self.cur is not None and tag in ("span", "sup"):
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "td" and self.cur is not None:
            key, b, a, text = self.cur
            self.cells[key] = (b, a, text)
            self.cur = None
        elif tag == "table":
            self.year = None
        elif self.cur is not None and tag in ("span", "sup"):
            self.depth -= 1

    def handle_data(self, data):
        if self.cur is not None and self.depth == 0:
            self.cur[3] += data


def test_report_workbook_and_csv_agree(tmp_path, capsys):
    """The numbers of the HTML report, of the report's workbook and of `eval --format csv` are the same: for every
    municipality, year and column, B's value (R6) and A's value (R3) in the page's data attributes equal each
    version's CSV, the text shown equals the CSV's number (with its %, 円 and commas), and the workbook's
    'label (R6)' column holds the same number."""
    html, book = tmp_path / "report.html", tmp_path / "report.xlsx"
    assert cli.main(["report", "--out", str(html)]) == 0
    assert cli.main(["report", "--format", "xlsx", "--out", str(book)]) == 0
    parser = _Cells()
    parser.feed(html.read_text(encoding="utf-8"))
    cells = parser.cells
    r6, r3 = csv_table(capsys, "eval", "--version", "R6", *PERIOD), csv_table(capsys, "eval", "--version", "R3", *PERIOD)
    ws = openpyxl.load_workbook(book)["団体別"]
    header = [c.value for c in ws[1]]
    wb_rows = {(r[0].value[2:6], r[1].value): r for r in ws.iter_rows(min_row=2)}
    ja = csv_table(capsys, "eval", "--version", "R6", *PERIOD, "--headers", "ja")[0]
    label_of = dict(zip(r6[0], ja))
    unit_of = {n: getattr(item, "unit", "text") for n, item in api.Session.open().version("R6").items.items()}
    compared = 0
    for table, side in ((r6, 1), (r3, 2)):
        names = table[0]
        for values in table[1:]:
            year, code = values[0], values[1]
            for n, text in zip(names[3:-1], values[3:-1]):
                key = (year, code, n)
                if n in ("alpha", "beta"):
                    assert key not in cells  # prefecture values: in the summary, not the municipal tables
                    continue
                b, a, shown = cells[key]
                if side == 1:
                    assert b == text, key
                    if text and text not in ("true", "false"):
                        plain = shown.replace(",", "").replace("円", "").replace("%", "")
                        assert plain == text, (key, shown, text)
                    col = header.index(f"{label_of[n]} (R6)")
                    v = wb_rows[(year, code)][col].value
                    if text == "":
                        assert v is None
                    elif text in ("true", "false"):
                        assert v is (text == "true")
                    elif n == "deficit_status":
                        assert v == text
                    else:
                        assert same_number(v, text, unit_of[n]), (key, v, text)
                    compared += 1
                else:
                    assert (a if a is not None else b) == text, key
    assert compared == 186 * 18  # R6's 20 summary columns less alpha and beta (prefecture values)
