"""The error catalogue (docs/errors.md) and the exit codes.

Every code the engine can report has an entry in docs/errors.md; every entry has a test here (or in
tests/test_check.py, tests/test_data.py, tests/test_sweep.py, whose tables are reused) with a bad file and the exact
message; the example message of each entry is one of those tested messages. So the catalogue, the
code and the tests cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

import cli
from tests import test_check, test_data, test_sweep

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "docs" / "errors.md"

# A small rule file: lines 1-8; a case appends its own lines from line 9 on.
X = """ruleset X
  title "テスト用のルール"
  period R6-R8
input municipal rate "収納率" : percent
  columns "collection_rate"
input municipal income "所得" : yen
input prefecture total "総額" : yen
define share "按分" : ratio = income / sum(income)
"""


def x(*lines: str, name: str = "X.rules") -> dict:
    """X.rules with the given lines appended (the first at line 9)."""
    return {name: X + "".join(line + "\n" for line in lines)}


# Data for the shipped rules (the inputs of R3 and R6): few columns, FY2023-FY2024.
M_HEADER = "fiscal_year,code,name,collection_rate,insured,income"
M_ROWS = [
    "2023,131016,千代田区,96.50,1000,1000000",
    "2024,131016,千代田区,96.80,1000,1000000",
    "2023,131024,中央区,90.00,2000,3000000",
    "2024,131024,中央区,91.00,2000,3000000",
]
P_CSV = "fiscal_year,levy_medical,levy_support,levy_care,national_income_per_insured\n2023,1000000,300000,100000,1000\n2024,1000000,300000,100000,1000\n"


def data(*rows: str, header: str = M_HEADER, m: str | bytes | None = None, name: str = "m.csv") -> dict:
    """m.csv (the given rows, or M_ROWS) and p.csv; `m` replaces m.csv's whole content."""
    text = m if m is not None else header + "\n" + "\n".join(rows or M_ROWS) + "\n"
    return {name: text, "p.csv": P_CSV}


# X's data: the municipal column collection_rate and income, prefecture total (by its name).
X_DATA = {
    "xm.csv": "fiscal_year,code,name,collection_rate,income\n2024,131016,千代田区,96.50,1000\n",
    "xp.csv": "fiscal_year,total\n2024,5000\n",
}

CHECK = ["check", "X.rules"]
EVAL_X = ["eval", "--rules", "X.rules", "--data", "xm.csv", "--prefecture-data", "xp.csv", "--year", "R6"]
EVAL = ["eval", "--data", "m.csv", "--prefecture-data", "p.csv", "--version", "R6", "--year", "R6"]  # --version: no note on stderr
FUNCTIONS = "abs, ceil, count, decimals, defined, floor, max, mean, min, percent, ratio, round, sum"


class Case(NamedTuple):
    code: str
    what: str  # what the case protects
    files: dict  # name -> text (UTF-8) or bytes, written in a scratch folder that is the working directory
    argv: list
    exit: int
    line: str  # the exact first line on stderr: [file:line:col: ]code: message


CASES = [
    # ---- rule files: reading -----------------------------------------------------------------
    Case(
        "syntax",
        "a misspelt keyword, with what was expected",
        x("defne z : yen = 1円"),
        CHECK,
        1,
        "X.rules:9:1: syntax: unexpected 'defne' (did you mean 'define'?); expected 'and', 'cite', 'define', 'effective', 'example', 'input', 'labels', 'or', ...",
    ),
    Case(
        "encoding",
        "a rule file saved in Shift_JIS",
        {"X.rules": X.encode("cp932")},
        CHECK,
        1,
        "X.rules:2:1: encoding: rule file is not UTF-8 (byte 19); save it as UTF-8",
    ),
    Case(
        "bad-year",
        "a year outside 1900-2200 in a rule",
        x("define z : year = FY1850"),
        CHECK,
        1,
        "X.rules:9:19: bad-year: 'FY1850' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
    ),
    Case(
        "bad-year",
        "a Heisei year after Heisei ended",
        {},
        ["eval", "--year", "H32"],
        2,
        "bad-year: 'H32' is not a fiscal year: Heisei ended in H31 (FY2019); FY2020 is R2 (令和2年度)",
    ),
    Case(
        "bad-year",
        "Reiwa 0, which never was",
        {},
        ["eval", "--year", "R0"],
        2,
        "bad-year: 'R0' is not a fiscal year: the era's first year is R1 (令和元年度, FY2019); a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
    ),
    Case(
        "bad-scope",
        "an input that is neither municipal nor prefecture",
        x('input city z "z" : yen'),
        CHECK,
        1,
        "X.rules:9:7: bad-scope: an input is 'municipal' or 'prefecture', not 'city'",
    ),
    Case(
        "duplicate-field",
        "a header field given twice",
        {"X.rules": X.replace("  period R6-R8\n", '  period R6-R8\n  title "二つ目"\n')},
        CHECK,
        1,
        "X.rules:4:3: duplicate-field: 'title' is given twice in the ruleset header",
    ),
    Case(
        "number-too-long",
        "a literal of 31 digits",
        x("define z : yen = 1000000000000000000000000000000円"),
        CHECK,
        1,
        "X.rules:9:18: number-too-long: a number with 31 digits; the limit is 30",
    ),
    Case(
        "too-deep",
        "an expression 150 operators deep",
        x("define z : bool = " + "not " * 150 + "true"),
        CHECK,
        1,
        f"X.rules:9:{19 + 4 * 98}: too-deep: an expression is nested more than 100 levels deep; split it into smaller definitions",
    ),
    Case(
        "too-deep",
        "250 brackets inside one another",
        x("define z : yen = " + "(" * 250 + "income" + ")" * 250),
        CHECK,
        1,
        "X.rules:9:218: too-deep: brackets nested more than 200 deep",
    ),
    Case(
        "file-too-large",
        "a rule file over 2,000,000 characters",
        {"X.rules": X + "#" * 2_000_000 + "\n"},
        CHECK,
        1,
        "X.rules:1:1: file-too-large: rule file has 2,000,227 characters; the limit is 2,000,000",
    ),
    Case(
        "no-such-file",
        "a rule file that does not exist",
        {},
        ["check", "nope.rules"],
        2,
        "no-such-file: rule file or directory not found: nope.rules",
    ),
    Case(
        "no-rules",
        "a folder without .rules files",
        {"empty/readme.txt": "x"},
        ["check", "empty"],
        2,
        "no-rules: no .rules files in directory empty",
    ),
    # ---- rule files: extends -----------------------------------------------------------------
    Case(
        "duplicate-version",
        "two files defining the same version",
        {**x(), **x(name="Y.rules")},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:1:9: duplicate-version: version X is defined in 2 files: X.rules, Y.rules",
    ),
    Case(
        "cyclic-extends",
        "versions extending each other",
        {"A.rules": "ruleset A extends B\n", "B.rules": "ruleset B extends A\n"},
        ["check", "A.rules", "B.rules"],
        1,
        "A.rules:1:19: cyclic-extends: versions extend each other in a cycle: A -> B -> A",
    ),
    Case(
        "extends-too-deep",
        "a chain of 52 versions",
        {f"V{i}.rules": f"ruleset V{i}" + (f" extends V{i - 1}" if i else "") + "\n" for i in range(52)},
        ["check", "."],
        1,
        "V50.rules:1:21: extends-too-deep: version V50 extends a chain of more than 50 versions (V50 -> V49 -> ... -> V0)",
    ),
    Case(
        "duplicate-name",
        "one name defined twice",
        x('define share "按分" : ratio = 1'),
        CHECK,
        1,
        "X.rules:9:8: duplicate-name: 'share' is defined twice in version X (first at line 8)",
    ),
    Case(
        "piece-overlap",
        "two pieces of one item whose years overlap",
        x("define z : yen = 1円", "  effective R6-R8", "define z : yen = 2円", "  effective R8.."),
        CHECK,
        1,
        "X.rules:11:8: piece-overlap: 'z' is stated twice in version X for years that overlap: FY2024-FY2026 (R6-R8) (line 9) "
        "and FY2026.., both in force in FY2026 (R8); give each its own years",
    ),
    Case(
        "unknown-base",
        "extends naming a version no file read defines",
        {**x(), "Y.rules": "ruleset Y extends W\n"},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:1:19: unknown-base: version Y extends unknown version 'W'; the rules read define X. "
        "Give the file of version W too (--rules FILE or a folder), or correct the name after 'extends'",
    ),
    Case(
        "remove-unknown",
        "removing what the base does not have",
        {**x(), "Y.rules": "ruleset Y extends X\nremove shares\n"},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:2:8: remove-unknown: cannot remove 'shares': base version X has no item of that name",
    ),
    Case(
        "override-kind",
        "a definition overridden by an input",
        {**x(), "Y.rules": 'ruleset Y extends X\noverride input municipal share "按分" : ratio\n'},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:2:26: override-kind: 'share' is a definition in version X; it cannot be overridden by an input",
    ),
    Case(
        "unknown-version",
        "--version naming no version",
        {},
        ["eval", "--version", "R9", "--year", "R7"],
        2,
        "unknown-version: unknown version 'R9'; the rules define: R3, R6",
    ),
    # ---- rule files: checks --------------------------------------------------------------------
    Case(
        "unknown-unit",
        "a misspelt unit",
        x("define z : yenn = 1円"),
        CHECK,
        1,
        "X.rules:9:12: unknown-unit: unknown unit 'yenn'; units are percent, pp, yen, ratio, count, year, bool, text",
    ),
    Case(
        "arity",
        "max() of one value",
        x("define z : yen = max(income)"),
        CHECK,
        1,
        "X.rules:9:18: arity: max() takes at least 2 arguments, not 1",
    ),
    Case(
        "bad-year-index",
        "a formula, not a name, taken at another year",
        x("define z : yen = (income + income)[year - 1]"),
        CHECK,
        1,
        "X.rules:9:18: bad-year-index: only a name can be taken at another year, as in collection_rate[year - 1]",
    ),
    Case(
        "bad-year-index",
        "a fraction of a year (it was rounded down silently)",
        x("define z : percent = rate[year - 1/3]"),
        CHECK,
        1,
        "X.rules:9:35: bad-year-index: a year index counts whole years, like [year - 1]; a division may fall between two fiscal years",
    ),
    Case(
        "rounding-step",
        "rounding to a step of zero",
        x("define z : yen = floor(income, 0円)"),
        CHECK,
        1,
        "X.rules:9:18: rounding-step: the step of floor() must be positive",
    ),
    Case(
        "empty-band",
        "a band whose lower end is above its upper end",
        x("table z : ratio over rate {", "  band [0%, 50%) => 1", "  band [50%, 40%) => 2", "  band [40%, 100%] => 3", "}"),
        CHECK,
        1,
        "X.rules:11:3: empty-band: band [50%, 40%) is empty: its lower end is not below its upper end",
    ),
    Case(
        "band-order",
        "bands listed from the top down",
        x("table z : ratio over rate {", "  band [50%, 100%] => 1", "  band [0%, 50%) => 0", "}"),
        CHECK,
        1,
        "X.rules:11:3: band-order: band [0%, 50%) comes after [50%, 100%]; list bands from the lowest up",
    ),
    Case(
        "schedule-order",
        "schedule years out of order",
        x("schedule z : ratio {", "  FY2025..: 1", "  FY2024: 0", "}"),
        CHECK,
        1,
        "X.rules:11:3: schedule-order: schedule 'z': FY2024 comes after FY2025..; list years in order",
    ),
    Case(
        "summary",
        "'bands' naming a definition, not a table",
        x("summary {", "  bands share share", "}"),
        CHECK,
        1,
        "X.rules:10:3: summary: 'bands' needs a band table first, and 'share' is not one",
    ),
    Case(
        "plan-gap",
        "a summary item with no piece in force in a year of the plan period (a warning: exit 0)",
        x("define z : yen = 1円", "  effective R7..", "summary {", "  show z", "}"),
        CHECK,
        0,
        "X.rules:1:9: warning: plan-gap: version X's summary uses z, but no piece of it is in force in FY2024 (R6) of the plan period "
        "FY2024-FY2026 (R6-R8); state one for those years or end the plan period earlier",
    ),
    Case(
        "bad-status",
        "a status that does not exist",
        {"X.rules": X.replace("  period R6-R8\n", "  period R6-R8\n  status draft\n")},
        CHECK,
        1,
        "X.rules:4:10: bad-status: status is one of current, proposed, adopted, not 'draft'",
    ),
    Case(
        "aggregate-scope",
        "sum() of a prefecture value",
        x("define z : yen = sum(total)"),
        CHECK,
        1,
        "X.rules:9:18: aggregate-scope: sum() runs over the municipalities, but its argument has one value for the whole prefecture",
    ),
    Case(
        "bare-number",
        "a plain number beside a percent",
        x("define z : bool = rate >= 90"),
        CHECK,
        1,
        "X.rules:9:27: bare-number: the plain number 90 stands beside percent; write 90% (a plain number is a ratio: 1 = 100%)",
    ),
    Case(
        "remove-in-use",
        "removing an item another still uses",
        {**x(), "Y.rules": "ruleset Y extends X\nremove income\n"},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:2:8: remove-in-use: cannot remove 'income': 'share' still uses it",
    ),
    Case(
        "override-unit",
        "re-typing an item inherited definitions still use",
        {**x(), "Y.rules": 'ruleset Y extends X\noverride input municipal income "所得" : count\n'},
        ["check", "X.rules", "Y.rules"],
        1,
        "Y.rules:2:26: override-unit: 'income' was yen and is now count, but inherited 'share' still uses it as before",
    ),
    Case(
        "example",
        "an expectation for a municipality the example does not give",
        x("example z year R6 {", '  municipality "131016" "千代田区" { income = 100円 }', '  expect "131024" share = 1', "}"),
        CHECK,
        1,
        "X.rules:11:3: example: example expects a value for municipality 131024, which the example does not give",
    ),
    Case(
        "example-unit",
        "an example value in the wrong unit",
        x("example z year R6 {", '  municipality "131016" "千代田区" { income = 50% }', '  expect "131016" share = 1', "}"),
        CHECK,
        1,
        "X.rules:10:34: example-unit: income: 50% does not fit yen: write an amount like 1,000円 or 1000",
    ),
    Case(
        "eval-too-deep",
        "a chain of 3,000 definitions",
        {**x("define d0 : yen = income", *(f"define d{i} : yen = d{i - 1} + 1円" for i in range(1, 3001))), **X_DATA},
        EVAL_X + ["--columns", "d3000"],
        2,
        "X.rules:3009:8: eval-too-deep: the rules are nested too deeply to evaluate d3000 for FY2024 (R6): "
        "a chain of definitions that use other definitions (or earlier years) is too long",
    ),
    Case(
        "value-too-large",
        "a definition that squares last year's value (its digits double every year)",
        {**x("define sq : ratio = if year < FY2010 then 2 else sq[year - 1] * sq[year - 1]"), **X_DATA},
        EVAL_X + ["--columns", "sq"],
        2,
        "X.rules:9:8: value-too-large: sq for FY2023 (R5) has more than 4,000 digits as an exact number; "
        "round it (or what it adds up) with round(), floor() or ceil()",
    ),
    Case(
        "eval-too-long",
        "'with' inside 'with' twenty deep: a million sets of overrides",
        {
            **x(
                "define d0 : yen = income",
                *(
                    line
                    for i in range(1, 21)
                    for line in (f"define p{i} : yen = 0円", f"define d{i} : yen = (d{i - 1} with p{i} = 1円) + (d{i - 1} with p{i} = 2円)")
                ),
            ),
            **X_DATA,
        },
        EVAL_X + ["--columns", "d20"],
        2,
        "X.rules:49:8: eval-too-long: evaluating d20 for FY2024 (R6) needs more than 20,000 computations of a name: "
        "'with' inside 'with' multiplies them",
    ),
    # ---- data files ------------------------------------------------------------------------------
    Case(
        "data-parquet",
        "a file named .parquet that is not Parquet",
        {"m.parquet": "fiscal_year,code\n", "p.csv": P_CSV},
        ["eval", "--data", "m.parquet", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "m.parquet:1:1: data-parquet: the file cannot be read as Parquet: save it from pandas, polars or DuckDB as .parquet, or give a CSV file",
    ),
    Case(
        "data-encoding",
        "a file saved as UTF-16 (Excel's Unicode text)",
        data(m=(M_HEADER + "\n").encode("utf-16")),
        EVAL,
        2,
        "m.csv:1:1: data-encoding: the file is neither UTF-8 nor CP932 (Shift_JIS): it looks like UTF-16 or a binary file; save it from Excel as 'CSV UTF-8'",
    ),
    Case("data-empty", "an empty file", data(m=""), EVAL, 2, "m.csv:1:1: data-empty: the file is empty: it has no header row"),
    Case(
        "data-no-rows",
        "a file of only a header",
        data(m=M_HEADER + "\n"),
        EVAL,
        2,
        "m.csv:1:1: data-no-rows: the file has a header but no data rows",
    ),
    Case(
        "data-csv",
        "a carriage return inside a cell",
        data(m=(M_HEADER + "\n2024,131016,千代\r田区,96.50,1,1\n")),
        EVAL,
        2,
        "m.csv:2:1: data-csv: this line cannot be read as CSV: a line break (carriage return) inside a cell that is not in quotes",
    ),
    Case(
        "data-yaml",
        "a YAML file that is not a list of rows",
        data(m="fiscal_year: 2024\ncode: 131016\n", name="m.yaml"),
        ["eval", "--data", "m.yaml", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "m.yaml:1:1: data-yaml: a YAML data file is a list of rows, each a mapping of column: value",
    ),
    Case(
        "data-yaml",
        "a YAML tag that would run Python",
        data(m='- !!python/object/apply:os.system ["echo hi"]\n', name="m.yaml"),
        ["eval", "--data", "m.yaml", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "m.yaml:1:3: data-yaml: the YAML tag !!python/object/apply:os.system is not allowed: a data file holds only plain values",
    ),
    Case(
        "data-missing-column",
        "no name column",
        data("2024,131016,96.50,1,1", header="fiscal_year,code,collection_rate,insured,income"),
        EVAL,
        2,
        "m.csv:1:1: data-missing-column: the file has no 'name' column (name / 団体名 / 区市町村名 / 保険者名)",
    ),
    Case(
        "data-row-length",
        "a row with a cell too many",
        data("2024,131016,千代田区,96.50,1,1,9"),
        EVAL,
        2,
        "m.csv:2:1: data-row-length: row has 7 cells but the header has 6",
    ),
    Case(
        "data-name-mismatch",
        "one code with two names",
        data("2023,131016,千代田区,96.50,1,1", "2024,131016,中央区,96.50,1,1"),
        EVAL,
        2,
        "m.csv:3:3: data-name-mismatch: code 131016 is '千代田区' on an earlier row but '中央区' here",
    ),
    Case(
        "data-missing-row",
        "a municipality-year without a row (a warning: exit 0)",
        data(*M_ROWS[:3]),
        EVAL + ["--format", "csv"],
        0,
        "m.csv:4:1: warning: data-missing-row: 131024 中央区 has no row for FY2024 (the file covers FY2023-FY2024); "
        "its values for that year are missing and the results that need them are undefined",
    ),
    Case(
        "data-pair",
        "--data without --prefecture-data",
        {},
        ["eval", "--data", "m.csv", "--year", "R6"],
        2,
        "data-pair: give both --data and --prefecture-data, or neither for the bundled sample",
    ),
    Case(
        "no-such-file",
        "a data file that does not exist",
        data(),
        ["eval", "--data", "nope.csv", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "no-such-file: data file not found: nope.csv",
    ),
    Case(
        "not-a-file",
        "a folder given as a data file",
        {**data(), "folder/x": ""},
        ["eval", "--data", "folder", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "not-a-file: folder is a directory, not a data file",
    ),
    Case(
        "unreadable",
        "a data file that cannot be read",
        data(),
        ["eval", "--data", "m.csv/x", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "unreadable: cannot read data file m.csv/x: Not a directory",
    ),
    # ---- the command line ------------------------------------------------------------------------
    Case(
        "bad-year",
        "--year that is not a year",
        {},
        ["eval", "--year", "20x"],
        2,
        "bad-year: '20x' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
    ),
    Case(
        "year-outside-data",
        "a year outside the data of every version",
        {},
        ["eval", "--version", "R6", "--year", "R20"],
        2,
        "year-outside-data: no data for FY2038; the data covers FY2018-FY2029",
    ),
    Case(
        "no-year",
        "no --year for a version without a plan period",
        {"X.rules": X.replace("  period R6-R8\n", ""), **X_DATA},
        ["eval", "--rules", "X.rules", "--data", "xm.csv", "--prefecture-data", "xp.csv"],
        2,
        "no-year: version X has no plan period; give --year or --period",
    ),
    Case(
        "unknown-column",
        "--columns naming no definition",
        {},
        ["eval", "--year", "R7", "--columns", "target_rat"],
        2,
        "unknown-column: version R6 has no definition 'target_rat'; did you mean 'target_rate'?",
    ),
    Case(
        "out-is-directory",
        "--out naming a folder",
        {"folder/x": ""},
        ["eval", "--version", "R6", "--year", "R7", "--out", "folder"],
        2,
        "out-is-directory: --out folder is a directory; give a file name",
    ),
    Case(
        "no-such-directory",
        "--out in a folder that does not exist",
        {},
        ["eval", "--version", "R6", "--year", "R7", "--out", "nowhere/r.csv"],
        2,
        "no-such-directory: cannot write nowhere/r.csv: directory nowhere does not exist",
    ),
    Case(
        "out-is-input",
        "--out naming the data file",
        data(),
        EVAL + ["--out", "m.csv"],
        2,
        "out-is-input: --out m.csv is one of the input files; refusing to overwrite it",
    ),
    Case(
        "out-is-input",
        "sweep --out naming its own scenario file",
        {"s.yaml": "vary:\n  alpha.R7: [0.70]\n"},
        ["sweep", "--version", "R6", "--year", "R7", "--scenarios", "s.yaml", "--jobs", "1", "--out", "s.yaml"],
        2,
        "out-is-input: --out s.yaml is one of the input files; refusing to overwrite it",
    ),
    Case(
        "unwritable",
        "a full disk (/dev/full)",
        {},
        ["eval", "--version", "R6", "--year", "R7", "--out", "/dev/full"],
        2,
        "unwritable: cannot write /dev/full: No space left on device (the disk is full; make room or choose another disk)",
    ),
    Case(
        "unwritable",
        "an --out name of 260 characters (the temporary name used to pass the limit: exit 3)",
        {},
        ["eval", "--version", "R6", "--year", "R7", "--out", "r" * 256 + ".csv"],
        2,
        f"unwritable: cannot write {'r' * 256}.csv: File name too long (the file name is too long; choose a shorter one)",
    ),
    Case(
        "file-too-large",
        "/dev/zero as a data file (it was read until memory ran out)",
        data(),
        ["eval", "--data", "/dev/zero", "--prefecture-data", "p.csv", "--year", "R6"],
        2,
        "/dev/zero:1:1: file-too-large: data file has more than 200,000,000 bytes; the limit is 200,000,000 bytes",
    ),
    Case(
        "value-too-large",
        "a value of more than 4,300 digits (was Python's int-to-text limit: exit 3)",
        {
            **x(
                'define g "増加" : yen = if year <= FY1965 then 5円 else g[year - 1] * '
                + " * ".join(["100000000000000000000000000000"] * 3)
            ),
            **X_DATA,
        },
        EVAL_X + ["--columns", "g", "--format", "csv"],
        2,
        "X.rules:9:8: value-too-large: g for FY2011 (H23) has more than 4,000 digits as an exact number; round it (or what it adds up) with round(), floor() or ceil()",
    ),
]


CASES += [
    # ---- diff, explain, report ---------------------------------------------------------------------
    Case(
        "unknown-column",
        "diff --columns naming no definition of either version",
        {},
        ["diff", "R3", "R6", "--year", "R7", "--columns", "target_rat"],
        2,
        "unknown-column: neither R3 nor R6 has a definition 'target_rat'; did you mean 'target_rate'?",
    ),
    Case(
        "bad-min-change",
        "--min-change that is not an amount",
        {},
        ["diff", "R3", "R6", "--year", "R7", "--min-change", "abc"],
        2,
        "bad-min-change: --min-change 'abc' is not an amount like 0.05pp, 100000円 or 0.01",
    ),
    Case(
        "bad-top",
        "--top 0",
        {},
        ["diff", "R3", "R6", "--year", "R7", "--top", "0"],
        2,
        "bad-top: --top takes a positive number of rows, not 0",
    ),
    Case(
        "xlsx-explain",
        "diff --explain asked for as a workbook",
        {},
        ["diff", "R3", "R6", "--year", "R7", "--explain", "target_rate", "-m", "131016", "--format", "xlsx", "--out", "x.xlsx"],
        2,
        "xlsx-explain: --explain has no xlsx output; use --format text, markdown or json",
    ),
    Case(
        "unknown-municipality",
        "explain for a municipality not in the data",
        {},
        ["explain", "target_rate", "--year", "R7", "-m", "999999"],
        2,
        "unknown-municipality: no municipality '999999' in the data; give a 6-digit code like 131016 or a name like 千代田区",
    ),
    Case(
        "no-municipality",
        "explain of a municipal value without --municipality",
        {},
        ["explain", "target_rate", "--year", "R7"],
        2,
        "no-municipality: target_rate (目標収納率) has a value per municipality; give --municipality, a code like 131016 or a name like 千代田区",
    ),
    Case(
        "bad-depth",
        "explain --depth -1",
        {},
        ["explain", "target_rate", "--year", "R7", "-m", "131016", "--depth", "-1"],
        2,
        "bad-depth: --depth is 0 or more, not -1",
    ),
    Case(
        "same-version",
        "a report comparing a version with itself",
        {},
        ["report", "--version", "R6", "--base", "R6"],
        2,
        "same-version: --base and --version are both R6; a report compares two versions",
    ),
    Case(
        "no-base",
        "a report on a version that extends none, without --base",
        {},
        ["report", "--version", "R3"],
        2,
        "no-base: version R3 extends no version: give --base, the version to compare it with (the rules define: R6)",
    ),
    Case(
        "xlsx-needs-out",
        "a workbook asked for on the terminal",
        {},
        ["report", "--format", "xlsx"],
        2,
        "xlsx-needs-out: --format xlsx writes a file: give --out FILE.xlsx",
    ),
    # ---- outputs: the format follows --out's name ---------------------------------------------------------
    Case(
        "format-mismatch",
        "--format csv with --out r.xlsx",
        {},
        ["eval", "--year", "R7", "--format", "csv", "--out", "r.xlsx"],
        2,
        "format-mismatch: --format csv does not match --out r.xlsx: a .xlsx file is an Excel workbook; drop --format, or name the file r.csv",
    ),
    Case(
        "format-unsupported",
        "a report named .csv",
        {},
        ["report", "--out", "r.csv"],
        2,
        "format-unsupported: kokuho report cannot write CSV (.csv); it writes .html, .xlsx",
    ),
    Case(
        "parquet-needs-out",
        "Parquet asked for the terminal",
        {},
        ["eval", "--year", "R7", "--format", "parquet"],
        2,
        "parquet-needs-out: --format parquet writes a file: give --out FILE.parquet",
    ),
    Case(
        "ambiguous-name",
        "a label two definitions share",
        {**x('define also "按分" : ratio = 1'), **X_DATA},
        EVAL_X + ["--columns", "按分"],
        2,
        "ambiguous-name: '按分' is the label of 'share', 'also'; give the name",
    ),
    Case(
        "data-xlsx",
        "a file named .xlsx that is no workbook",
        {"m.xlsx": "fiscal_year,code,name\n", "p.csv": P_CSV},
        ["eval", "--data", "m.xlsx", "--prefecture-data", "p.csv", "--version", "R6", "--year", "R6"],
        2,
        "m.xlsx:1:1: data-xlsx: the file cannot be read as an Excel workbook (.xlsx): save it from Excel as .xlsx (not .xls), or as 'CSV UTF-8'",
    ),
    Case(
        "data-row-length",
        "an unquoted thousands separator",
        data("2024,131016,千代田区,96.80,1,000,1000000"),
        EVAL,
        2,
        "m.csv:2:1: data-row-length: row has 7 cells but the header has 6; 1,000 (from column 5) looks like a number with a thousands separator "
        'that is not in quotes: write it as "1,000" or as 1000',
    ),
]


CASES += [
    # ---- workspaces: kokuho.toml and kokuho init (the case's kokuho.toml is found from the working directory) -------
    Case(
        "config-syntax",
        "something after a value on the same line",
        {"kokuho.toml": 'version = "R6" x\n'},
        ["check"],
        2,
        "kokuho.toml:1:16: config-syntax: kokuho.toml is not valid TOML: Expected newline or end of document after a statement",
    ),
    Case(
        "config-syntax",
        "a version without its quotes",
        {"kokuho.toml": "version = R9\n"},
        ["check"],
        2,
        'kokuho.toml:1:11: config-syntax: kokuho.toml is not valid TOML: Invalid value (text and paths are written in double quotes, like "R9"; lists in brackets, like ["rules"])',
    ),
    Case(
        "config-unknown-key",
        "prefecture_data for prefecture-data",
        {"kokuho.toml": 'prefecture_data = "p.csv"\n'},
        ["check"],
        2,
        "kokuho.toml:1:1: config-unknown-key: unknown key 'prefecture_data' in kokuho.toml; did you mean 'prefecture-data'?",
    ),
    Case(
        "config-value",
        "a language kokuho does not have",
        {"kokuho.toml": 'lang = "fr"\n'},
        ["check"],
        2,
        'kokuho.toml:1:8: config-value: \'lang\' is "ja" or "en", not "fr"',
    ),
    Case(
        "config-value",
        "one data file only",
        {"kokuho.toml": 'data = "m.csv"\n', **data()},
        ["eval", "--year", "R6"],
        2,
        "kokuho.toml:1:1: config-value: 'data' needs 'prefecture-data' beside it: give both data files, or neither for the bundled sample",
    ),
    Case(
        "config-path",
        "a data file that is not there",
        {"kokuho.toml": 'data = "m.csv"\nprefecture-data = "data/nope.csv"\n', **data()},
        ["eval", "--year", "R6"],
        2,
        "kokuho.toml:2:19: config-path: 'prefecture-data' names data/nope.csv, which does not exist (paths are relative to the folder of kokuho.toml)",
    ),
    Case(
        "init-exists",
        "init into a folder that holds files",
        {"ws/notes.txt": "mine"},
        ["init", "ws"],
        2,
        "init-exists: ws already exists and is not empty; kokuho init makes a new folder: give another name",
    ),
]


def write_files(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}: {c.what}" for c in CASES])
def test_catalogue_entry(case, tmp_path, monkeypatch, capsys):
    """Each case: a bad file (or command line) gives its code with the exact message, position and exit code;
    nothing but the results goes to stdout."""
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, case.files)
    if "kokuho.toml" in case.files:
        monkeypatch.delenv("KOKUHO_CONFIG")  # tests/conftest.py turns the search off; this case has its own file
    code = cli.main(list(case.argv))
    out, err = capsys.readouterr()
    assert (code, err.splitlines()[0]) == (case.exit, case.line)
    if case.exit:
        assert out == ""


# ---- codes the command line cannot reach: the library, or a bug of ours -------------------------------------


def _data_mismatch(tmp_path, monkeypatch):
    """diff.compare with data sets that list different municipalities (the CLI reads one file for both)."""
    from engine import data as data_mod
    from engine import diff
    from engine.versions import RuleSet, default_rules_dir

    rs = RuleSet.from_paths([default_rules_dir()])
    write_files(tmp_path, {**data(), "m2.csv": M_HEADER + "\n" + "\n".join(M_ROWS[:2]) + "\n"})
    one = data_mod.load(tmp_path / "m.csv", tmp_path / "p.csv", rs.version("R3").inputs())
    two = data_mod.load(tmp_path / "m2.csv", tmp_path / "p.csv", rs.version("R6").inputs())
    diff.compare(rs.version("R3"), rs.version("R6"), one, two, [2024])


def _bad_lang(tmp_path, monkeypatch):
    """The report's text in a language it does not have (the CLI offers only --lang ja / en)."""
    from engine import report

    report.ui_text("fr")


def _format_internal(tmp_path, monkeypatch):
    """A formatter bug simulated: its output parses to another file; `kokuho fmt` refuses to write it."""
    from engine import format as format_mod

    write_files(tmp_path, x())
    monkeypatch.setattr(format_mod._Formatter, "run", lambda self: X + "define extra : yen = 1円\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fmt", "X.rules"]) == 2
    assert (tmp_path / "X.rules").read_text(encoding="utf-8") == X  # nothing written
    raise SystemExit("format-internal")


def _html_to_terminal(tmp_path, monkeypatch):
    """`kokuho report` with stdout on a terminal (tests/test_staff.py runs it on a real pseudo-terminal)."""
    monkeypatch.setattr(cli, "_to_terminal", lambda: True)
    assert cli.main(["report"]) == 2
    raise SystemExit("html-to-terminal")


def _unwritable_stdout(tmp_path, monkeypatch):
    """The screen's output redirected to a full disk (`kokuho eval > /dev/full`): stdout's write fails."""
    import errno
    import io

    from engine.output import write_output

    class Full(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sys.stdout", Full())
    write_output("x", None)


def _value_too_large_to_write(tmp_path, monkeypatch):
    """A value made outside an evaluation (which stops at 4,000 digits) written as text: the second guard."""
    from fractions import Fraction

    from engine.render import format_value

    format_value(Fraction(10**4400), "yen")


LIBRARY = [
    (
        "html-to-terminal",
        _html_to_terminal,
        "html-to-terminal: kokuho report writes a web page: give --out FILE.html (or redirect it: kokuho report ... > FILE.html), then open the file in a browser",
    ),
    (
        "value-too-large",
        _value_too_large_to_write,
        "value-too-large: a result is a number of more than 4,300 digits: too large to write; "
        "a rule that multiplies a value by itself or by large numbers year after year grows it without bound",
    ),
    (
        "unwritable",
        _unwritable_stdout,
        "unwritable: cannot write the output: No space left on device (the disk is full; make room or choose another disk)",
    ),
    (
        "data-mismatch",
        _data_mismatch,
        "data-mismatch: the data read for R3 and for R6 list different municipalities; their input declarations must read the same rows",
    ),
    ("bad-lang", _bad_lang, "bad-lang: --lang fr: the report is in ja or en"),
    (
        "format-internal",
        _format_internal,
        "X.rules: format-internal: formatting would change the meaning of this file; nothing was written (a bug in kokuho fmt: please report it)",
    ),
]


@pytest.mark.parametrize("code, run, line", LIBRARY, ids=[c[0] for c in LIBRARY])
def test_library_only_codes(tmp_path, monkeypatch, capsys, code, run, line):
    """Codes raised by the library where the command line cannot get them (or only through a bug): same exact message."""
    from engine.errors import KokuhoError

    try:
        run(tmp_path, monkeypatch)
    except KokuhoError as e:
        assert e.findings[0].render().splitlines()[0] == line
    except SystemExit:  # ran through cli.main, which printed the finding
        assert capsys.readouterr().err.splitlines()[0] == line
    else:
        pytest.fail("no error")


# ---- exit codes -------------------------------------------------------------------------------------------


FAILING_EXAMPLE = x("example z year R6 {", '  municipality "131016" "千代田区" { income = 100円 }', '  expect "131016" share = 0.5', "}")

EXIT_CODES = [
    # (what, files, argv, exit code, stdout has results, the last line on stderr)
    ("check, no findings", {}, ["check"], 0, False, "2 rule files checked: no findings (R3, R6)"),
    ("eval to stdout", {}, ["eval", "--year", "R7", "--format", "csv", "--columns", "target_rate"], 0, True, None),
    ("eval to --out: nothing on stdout", {}, ["eval", "--year", "R7", "--format", "csv", "--out", "r.csv"], 0, False, None),
    ("diff with changes, no --exit-code", {}, ["diff", "R3", "R6", "--year", "R7", "--format", "csv"], 0, True, None),
    ("a warning does not change the exit code", data(*M_ROWS[:3]), EVAL + ["--format", "csv"], 0, True, None),
    ("check with a finding", x("define z : yen = incme"), CHECK, 1, False, "1 finding in 1 file"),
    ("a failing example", FAILING_EXAMPLE, ["test", "X.rules"], 1, True, None),
    ("diff with changes under --exit-code", {}, ["diff", "R3", "R6", "--year", "R7", "--format", "csv", "--exit-code"], 1, True, None),
    (
        "fmt --check with a file to reformat",
        {"F.rules": "ruleset F\ndefine   a : yen = 1円\n"},
        ["fmt", "--check", "F.rules"],
        1,
        False,
        "1 of 1 rule file would be reformatted",
    ),
    ("eval of rules with a finding", x("define z : yen = incme"), EVAL_X, 2, False, None),
    ("unusable data", data(m=""), EVAL, 2, False, "m.csv:1:1: data-empty: the file is empty: it has no header row"),
    ("a path that does not exist", {}, ["check", "nope.rules"], 2, False, "no-such-file: rule file or directory not found: nope.rules"),
]


@pytest.mark.parametrize("what, files, argv, exit_code, results, last", EXIT_CODES, ids=[e[0] for e in EXIT_CODES])
def test_exit_codes(tmp_path, monkeypatch, capsys, what, files, argv, exit_code, results, last):
    """0 success (warnings included), 1 findings (check, test, diff --exit-code, fmt --check), 2 unusable input;
    results on stdout (or in --out), messages on stderr."""
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, files)
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == exit_code
    assert bool(out) == results
    if last is not None:
        assert err.splitlines()[-1] == last
    if "--out" in argv:
        assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").startswith("年度,団体コード,団体名,")


def test_usage_errors_exit_2(capsys):
    """argparse misuse: our one-line message after the usage, exit 2, no traceback."""
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "kokuho: error: unrecognized arguments: --bogus"


def test_internal_error_exits_3_without_traceback(monkeypatch, capsys):
    """A bug of ours (any exception not a KokuhoError): one line asking for a report, exit 3, nothing on stdout."""
    from engine import api

    def boom(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(api.Session, "evaluate", boom)
    assert cli.main(["eval", "--year", "R7"]) == 3
    out, err = capsys.readouterr()
    assert (out, err) == ("", "kokuho: internal error: ValueError: boom; please report this with the command you ran\n")


def test_interrupted_exits_130(monkeypatch, capsys):
    """Ctrl-C: no traceback, no output written, exit 130 (the shell's code for SIGINT)."""
    from engine import api

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api.Session, "evaluate", interrupt)
    assert cli.main(["eval", "--year", "R7"]) == 130
    assert capsys.readouterr() == ("", "kokuho: interrupted; no output was written\n")


def test_exit_codes_of_the_process(tmp_path):
    """The same codes from a real process (console script entry `cli.run`): 2 with one line; 3 without a traceback."""
    import subprocess
    import sys

    def run(code: str):
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)

    p = run("import sys, cli; sys.argv = ['kokuho', 'eval', '--year', 'R20']; cli.run()")
    assert (p.returncode, p.stdout, p.stderr) == (2, "", "year-outside-data: no data for FY2038; the data covers FY2018-FY2029\n")
    p = run(
        "import sys, cli\nfrom engine import api\ndef boom(*a, **k): raise KeyError('x')\napi.Session.evaluate = boom\n"
        "sys.argv = ['kokuho', 'eval', '--year', 'R7']; cli.run()"
    )
    assert (p.returncode, p.stdout, p.stderr) == (
        3,
        "",
        "kokuho: internal error: KeyError: 'x'; please report this with the command you ran\n",
    )


# ---- the catalogue cannot drift ------------------------------------------------------------------------------

_CODE = r'"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"'
# How the engine states a code: finding("code", ...), Finding("code", ...), self._fail("code", ...) in the parser,
# self.add("code", ...) in the checker, UnitError(..., "code") (default "unit"), and the ("code", message, span)
# tuples of the example checks.
CODE_PATTERNS = [
    re.compile(r"\b(?:finding|Finding|self\._fail|self\.add)\(\s*" + _CODE),
    re.compile(r"\(\(\s*" + _CODE + r",\s*f?\"[^\n]*,\s*[\w.]*span\s*\)\)"),
]
# Finding("error", ...) is only the fallback of KokuhoError("some text"), which no code path uses.
NOT_CODES = {"error"}


def unit_error_codes(src: str) -> set[str]:
    """The codes of UnitError(message, span, "code") calls, however the call is laid out over lines."""
    import ast as pyast

    return {
        node.args[-1].value
        for node in pyast.walk(pyast.parse(src))
        if isinstance(node, pyast.Call)
        and getattr(node.func, "id", None) == "UnitError"
        and len(node.args) == 3
        and isinstance(node.args[-1], pyast.Constant)
        and isinstance(node.args[-1].value, str)
    }


def engine_codes() -> dict[str, list[str]]:
    """Every code the engine and the CLI can report -> the files that report it."""
    codes: dict[str, list[str]] = {}
    for path in sorted((ROOT / "engine").rglob("*.py")) + [ROOT / "cli.py"]:
        src = path.read_text(encoding="utf-8")
        found = {m.group(1) for pattern in CODE_PATTERNS for m in pattern.finditer(src)} | unit_error_codes(src)
        if "class UnitError" in src:
            found.add("unit")
        for c in found - NOT_CODES:
            codes.setdefault(c, []).append(path.name)
    return codes


def catalogue() -> dict[str, dict]:
    """docs/errors.md: `### \\`code\\`` -> its example messages (`**Message:**` lines) and whether it has a cause and a fix."""
    text = CATALOGUE.read_text(encoding="utf-8")
    entries: dict[str, dict] = {}
    for section in re.split(r"^(?=### )", text, flags=re.M)[1:]:
        heading = section.splitlines()[0]
        m = re.fullmatch(r"### `([a-z0-9-]+)`( \(a warning\))?", heading)
        assert m, f"a catalogue heading is ### `code`: {heading!r}"
        assert m.group(1) not in entries, f"{m.group(1)} has two entries"
        messages = [line[line.index("`") + 1 : line.rindex("`")] for line in section.splitlines() if line.startswith("**Message:**")]
        entries[m.group(1)] = {"messages": messages, "cause": "**Cause:**" in section, "fix": "**Fix:**" in section}
    return entries


def messages_under_test() -> dict[str, set[str]]:
    """code -> the exact messages asserted by a test: the cases above and the tables of test_check, test_data and test_sweep."""
    out: dict[str, set[str]] = {}
    lines = [c.line for c in CASES] + [line for _, _, line in LIBRARY]
    for line in lines:
        m = re.search(r"(?:^|: )(?:warning: )?([a-z][a-z0-9-]*): (.*)$", line)
        out.setdefault(m.group(1), set()).add(m.group(2))
    for c in test_check.CASES:
        if c[4]:
            out.setdefault(c[4], set()).add(c[5])
    for code, message in test_sweep.TESTED_MESSAGES:
        out.setdefault(code, set()).add(message)
    for b in test_data.BAD:
        out.setdefault(b[3], set()).add(b[5])
    return out


def test_every_engine_code_is_in_the_catalogue():
    """A code added to the engine without an entry in docs/errors.md fails here."""
    missing = {c: files for c, files in engine_codes().items() if c not in catalogue()}
    assert missing == {}


def test_every_catalogue_code_is_used_by_the_engine():
    """An entry whose code the engine no longer reports fails here."""
    assert sorted(set(catalogue()) - set(engine_codes())) == []


def test_every_entry_is_tested_with_its_exact_message():
    """Each entry has a cause, a fix and at least one example message, and each example message is the exact message
    of a test (here, in tests/test_check.py, tests/test_data.py or tests/test_sweep.py)."""
    tested = messages_under_test()
    problems = []
    for code, entry in catalogue().items():
        if not (entry["cause"] and entry["fix"] and entry["messages"]):
            problems.append(f"{code}: needs **Message:**, **Cause:** and **Fix:**")
        if code not in tested:
            problems.append(f"{code}: no test")
        for message in entry["messages"]:
            if message not in tested.get(code, ()):
                problems.append(f"{code}: the example message is not a tested message: {message}")
    assert problems == []


def test_the_brief_list_is_covered():
    """The problems staff will meet first (issue 7) each have a tested entry."""
    required = {
        "syntax",
        "unit",
        "unknown-name",
        "band-gap",
        "band-overlap",
        "schedule-gap",
        "cycle",  # rule syntax and semantics
        "data-encoding",
        "data-unknown-column",
        "data-duplicate-column",
        "data-duplicate-row",
        "data-missing-row",
        "data-check-digit",
        "data-bad-value",
        "data-empty",
        "data-no-rows",  # data files
        "unknown-version",
        "year-outside-data",
        "unreadable",
        "no-such-file",
        "out-is-directory",  # the command line
        "unknown-base",
        "cyclic-extends",
        "extends-too-deep",
        "override-unknown",
        "missing-override",  # extends
    }
    assert sorted(required - set(catalogue())) == []
    assert sorted(required - set(messages_under_test())) == []
    bad_values = messages_under_test()["data-bad-value"]
    assert {
        "collection_rate: 'abc' is not a number",
        "collection_rate: a rate of 105% is outside 0-100",
        "insured: a count cannot be negative: -1",
    } <= bad_values


def test_missing_rows_are_a_warning_and_lose_nothing(tmp_path, monkeypatch, capsys):
    """data-missing-row lists each municipality's missing years within the years of the file (FY2019-FY2023), runs of
    years joined (FY2020-FY2021, FY2023); the evaluation still lists every municipality, the missing values undefined
    with their reason, and exits 0."""
    monkeypatch.chdir(tmp_path)
    rows = [f"{y},131016,千代田区,96.50,1000,1000000" for y in (2019, 2022)] + [
        f"{y},131024,中央区,90.00,2000,3000000" for y in range(2019, 2024)
    ]
    write_files(tmp_path, data(*rows))
    code = cli.main(
        [
            "eval",
            "--data",
            "m.csv",
            "--prefecture-data",
            "p.csv",
            "--version",
            "R6",
            "--year",
            "FY2021",
            "--format",
            "csv",
            "--columns",
            "previous_rate",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert err == (
        "m.csv:2:1: warning: data-missing-row: 131016 千代田区 has no row for FY2020-FY2021, FY2023 (the file covers FY2019-FY2023); "
        "its values for those years are missing and the results that need them are undefined\n"
    )
    assert out.lstrip("\ufeff").splitlines()[1:] == [
        "2021,131016,千代田区,,previous_rate: no FY2020 collection rate for 131016 千代田区",
        "2021,131024,中央区,90.00,",
    ]


def test_missing_row_warnings_are_capped(tmp_path):
    """55 municipalities (13100-13154), all but the first missing FY2024: 50 warnings, then one saying how many more
    (54 - 50 = 4), so that a wrong file does not print 1,700 lines."""
    from engine.data import check_digit, load
    from engine.versions import RuleSet, default_rules_dir

    codes = [f"13{n:03d}" for n in range(100, 155)]
    rows = [f"2023,{c}{check_digit(c)},市{c},96.50,1,1" for c in codes] + [f"2024,{codes[0]}{check_digit(codes[0])},市{codes[0]},96.50,1,1"]
    write_files(tmp_path, data(*rows))
    warnings = load(tmp_path / "m.csv", tmp_path / "p.csv", RuleSet.from_paths([default_rules_dir()]).version("R6").inputs()).warnings
    assert len(warnings) == 51 and {w.severity for w in warnings} == {"warning"}
    assert warnings[0].message.startswith("131016 市13101 has no row for FY2024 (the file covers FY2023-FY2024)")
    assert warnings[-1].render() == f"{tmp_path / 'm.csv'}: warning: data-missing-row: and 4 more municipalities with missing years"
