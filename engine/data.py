"""Municipal and prefecture data files (CSV in UTF-8/BOM/CP932, or YAML) -> a validated Dataset.

The schema comes from the rules' `input` declarations: a column is accepted under any of
its declared headers. Every problem is reported with file, row and column; an empty cell is
a missing value, which later makes the results that depend on it undefined.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from fractions import Fraction
from pathlib import Path

import attrs

from . import ast
from .errors import DataError, Finding, did_you_mean, finding
from .source import MAX_DATA_BYTES, MAX_DIGITS, read_bytes
from .years import YearFormatError, parse_year

# The row keys are structure, not policy: every table of municipal data has them.
KEY_COLUMNS = {
    "fiscal_year": ("fiscal_year", "年度"),
    "code": ("code", "団体コード", "コード"),
    "name": ("name", "団体名", "区市町村名", "保険者名"),
}
PREFECTURE_KEYS = {"fiscal_year": KEY_COLUMNS["fiscal_year"]}
MAX_FINDINGS = 50  # past this a file is clearly the wrong file; stop listing
PARQUET_SUFFIXES = (".parquet", ".pq")


@attrs.frozen
class Municipality:
    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@attrs.frozen
class Dataset:
    """Validated inputs: municipal values by (field, year) as columns, prefecture values by (field, year).

    `municipal[field][year]` is a tuple aligned with `municipalities`, None where missing.
    `rows[(code, year)]` is the (file, line) the values came from, for explanations.
    """

    municipalities: tuple[Municipality, ...]
    municipal: dict
    prefecture: dict
    rows: dict
    prefecture_rows: dict
    years: tuple[int, ...]
    sources: tuple[str, ...]
    row_counts: dict = attrs.field(factory=dict)
    warnings: tuple = ()  # Findings of severity "warning" (data-missing-row): the CLI prints them

    def index_of(self, key: str) -> int | None:
        """A municipality by its code or its name."""
        for i, m in enumerate(self.municipalities):
            if key in (m.code, m.name):
                return i
        return None


def check_digit(code5: str) -> int:
    """JIS X 0402: weights 6,5,4,3,2; 11 minus the sum mod 11, last digit."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2)))
    return (11 - total % 11) % 10


def _decode(raw: bytes, path: str) -> str:
    if raw.startswith(b"PK\x03\x04"):  # a zip archive: an Excel workbook named as if it were CSV
        raise DataError(
            finding(
                "data-encoding",
                "the file is an Excel workbook (or another zip archive), not CSV: give it a name ending "
                ".xlsx (file.xlsx, or file.xlsx#sheet for another sheet than the first), or save it from Excel as 'CSV UTF-8'",
                ast.Span(path, 1, 1),
            )
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise DataError(
            finding(
                "data-encoding",
                "the file is neither UTF-8 nor CP932 (Shift_JIS): it looks like UTF-16 or a binary file; save it from Excel as 'CSV UTF-8'",
                ast.Span(path, 1, 1),
            )
        )
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        return raw[3:].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if bom:  # marked as UTF-8 but it is not, and a CP932 file has no such mark
            line = raw[: e.start + 3].count(b"\n") + 1
            raise DataError(
                finding(
                    "data-encoding",
                    f"the file is neither UTF-8 nor CP932 (Shift_JIS) (bad byte at offset {e.start + 3}); save it from Excel as 'CSV UTF-8'",
                    ast.Span(path, line, 1),
                )
            ) from None
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            finding(
                "data-encoding",
                f"the file is neither UTF-8 nor CP932 (Shift_JIS) (bad byte at offset {e.start}); save it from Excel as 'CSV UTF-8'",
                ast.Span(path, line, 1),
            )
        ) from None


def read_table(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    """A CSV, YAML, Parquet or Excel file -> (header, [(line number, cells)], header line number)."""
    p = str(path)
    if p.lower().endswith(PARQUET_SUFFIXES):
        return _parquet_rows(p)
    if split_sheet(p)[0].lower().endswith(XLSX_SUFFIXES):
        return _xlsx_rows(*split_sheet(p), p)
    raw = read_bytes(path, "data file", limit=MAX_DATA_BYTES)
    if p.lower().endswith((".yaml", ".yml")):
        return _read_yaml(raw, p)
    text = _decode(raw, p)
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (lines[start].lstrip().startswith("#") or not lines[start].strip()):
        start += 1
    if start == len(lines):
        raise DataError(finding("data-empty", "the file is empty: it has no header row", ast.Span(p, 1, 1)))
    sample = lines[start]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO("".join(lines[start:])), delimiter=delimiter)
    rows = []
    header = None
    try:
        for cells in reader:
            lineno = start + reader.line_num
            if header is None:
                header = [c.strip() for c in cells]
                header_line = lineno
                continue
            if not any(c.strip() for c in cells):
                continue
            rows.append((lineno, cells))
    except csv.Error as e:
        # Python's csv module reports a lone carriage return or a NUL inside an unquoted cell.
        what = "a line break (carriage return) inside a cell that is not in quotes" if "new-line" in str(e) else str(e)
        raise DataError(finding("data-csv", f"this line cannot be read as CSV: {what}", ast.Span(p, start + reader.line_num, 1))) from None
    return header, rows, header_line


def read_parquet(path: str):
    """A Parquet file as a pyarrow Table; a file that is not Parquet is a data-parquet error."""
    read_bytes(path, "data file", limit=MAX_DATA_BYTES)  # the usage errors of a missing, directory or unreadable path, as for CSV
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError):
        raise DataError(
            finding(
                "data-parquet",
                "the file cannot be read as Parquet: save it from pandas, polars or DuckDB as .parquet, or give a CSV file",
                ast.Span(path, 1, 1),
            )
        ) from None


def _parquet_rows(path: str):
    """A Parquet file as read_table gives a CSV: every cell as text (a float as the shortest decimal that
    gives it back), rows numbered from 2 below the header's row 1, as a spreadsheet shows them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = read_parquet(path)
    header = [str(n) for n in table.column_names]
    cols = []
    for i in range(table.num_columns):
        c = table.column(i).combine_chunks()
        if pa.types.is_dictionary(c.type):
            c = c.dictionary_decode()
        cols.append(pc.fill_null(pc.cast(c, pa.string()), "").to_pylist())
    return header, [(r + 2, [col[r] for col in cols]) for r in range(table.num_rows)], 1


XLSX_SUFFIXES = (".xlsx", ".xlsm")


def split_sheet(path: str) -> tuple[str, str | None]:
    """'data.xlsx#令和6年度' -> ('data.xlsx', '令和6年度'); any other path -> (path, None)."""
    p = str(path)
    file, hash_, sheet = p.rpartition("#")
    if hash_ and file.lower().endswith(XLSX_SUFFIXES) and sheet:
        return file, sheet
    return p, None


def _xlsx_text(cell) -> str:
    """A workbook cell as the text a CSV export would hold: a number exactly as Excel keeps it (the shortest
    decimal of its float), a percent-formatted number as a percent (0.9812 shown 98.12% -> '98.12%')."""
    from decimal import Decimal

    v = cell.value
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        percent = "%" in (getattr(cell, "number_format", None) or "")
        if percent:
            d *= 100
        text = format(d.normalize(), "f") if d != d.to_integral_value() else str(int(d))
        return text + ("%" if percent else "")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _xlsx_rows(file: str, sheet: str | None, shown: str):
    """The first sheet (or the one named after '#') of an .xlsx workbook, as read_table gives a CSV: rows numbered
    as Excel numbers them, comment ('#') and empty rows before the header skipped, empty rows skipped."""
    import zipfile

    raw = read_bytes(file, "data file", limit=MAX_DATA_BYTES)  # the usage errors of a missing, directory or unreadable path, as for CSV
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise DataError(
            finding(
                "data-xlsx",
                "the file cannot be read as an Excel workbook (.xlsx): save it from Excel as .xlsx (not .xls), or as 'CSV UTF-8'",
                ast.Span(shown, 1, 1),
            )
        ) from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            names = ", ".join(wb.sheetnames)
            raise DataError(finding("data-xlsx", f"the workbook has no sheet '{sheet}'; its sheets are: {names}", ast.Span(shown, 1, 1)))
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        if ws.max_row is None or ws.max_column is None:
            ws.reset_dimensions()
        header = None
        header_line = 0
        rows = []
        for cells in ws.iter_rows():
            texts = [_xlsx_text(c) for c in cells]
            while texts and not texts[-1].strip():
                texts.pop()
            if not texts:
                continue
            line = next(c.row for c in cells if getattr(c, "row", None) is not None)
            if header is None:
                if texts[0].lstrip().startswith("#"):
                    continue
                header, header_line = [t.strip() for t in texts], line
                continue
            rows.append((line, texts + [""] * (len(header) - len(texts))))
    finally:
        wb.close()
    if header is None:
        raise DataError(finding("data-empty", "the sheet is empty: it has no header row", ast.Span(shown, 1, 1)))
    return header, rows, header_line


def _read_yaml(raw: bytes, path: str):
    import yaml  # only YAML data needs it

    try:
        doc = yaml.safe_load(_decode(raw, path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        span = ast.Span(path, mark.line + 1, mark.column + 1) if mark else ast.Span(path, 1, 1)
        problem = str(getattr(e, "problem", e))
        if isinstance(e, yaml.constructor.ConstructorError) and "tag:yaml.org,2002:" in problem:
            # safe_load refuses !!python/... tags: a data file cannot make the tool run code
            tag = "!!" + problem.split("tag:yaml.org,2002:", 1)[1].rstrip("'")
            raise DataError(finding("data-yaml", f"the YAML tag {tag} is not allowed: a data file holds only plain values", span)) from None
        raise DataError(finding("data-yaml", f"not valid YAML: {problem}", span)) from None
    if isinstance(doc, dict) and len(doc) == 1 and isinstance(next(iter(doc.values())), list):
        doc = next(iter(doc.values()))
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise DataError(finding("data-yaml", "a YAML data file is a list of rows, each a mapping of column: value", ast.Span(path, 1, 1)))
    if not doc:
        raise DataError(finding("data-empty", "the file has no rows", ast.Span(path, 1, 1)))
    header: list[str] = []
    for r in doc:
        for k in r:
            if str(k) not in header:
                header.append(str(k))
    rows = []
    for i, r in enumerate(doc, 1):
        cells = ["" if r.get(h) is None else str(r.get(h)) for h in header]
        rows.append((i, cells))
    return header, rows, 0


def column_map(header, line, inputs: dict[str, ast.InputDecl], keys: dict, path: str, findings: list):
    """Header cells -> field names, by the aliases declared in the rules."""
    aliases: dict[str, str] = {}
    for field, names in keys.items():
        for n in names:
            aliases[_norm(n)] = field
    for name, decl in inputs.items():
        aliases[_norm(name)] = name
        for n in decl.columns:
            aliases[_norm(n)] = name
    mapping: list[str | None] = []
    seen: dict[str, int] = {}
    for col, h in enumerate(header, 1):
        field = aliases.get(_norm(h))
        if field is None:
            hint = did_you_mean(h, aliases, 0.7)
            findings.append(finding("data-unknown-column", f"column '{h}' matches no input of the rules{hint}", ast.Span(path, line, col)))
        elif field in seen:
            findings.append(
                finding(
                    "data-duplicate-column", f"column '{h}' gives '{field}' again (already column {seen[field]})", ast.Span(path, line, col)
                )
            )
            field = None
        else:
            seen[field] = col
        mapping.append(field)
    for field in keys:
        if field not in seen:
            findings.append(
                finding("data-missing-column", f"the file has no '{field}' column ({' / '.join(keys[field])})", ast.Span(path, line, 1))
            )
    return mapping


def _norm(h: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", h).strip().lower()


NEGATIVE = {"yen": "an amount", "count": "a count", "ratio": "a ratio or index"}


def normalise_code(text: str) -> str:
    """A municipality code as written -> its canonical form: full-width digits as ASCII (NFKC), spaces stripped.

    '１３１０１６' is 131016, the same municipality; a code in another script's digits stays non-ASCII and is
    refused by the caller (data-bad-code)."""
    t = text.strip()
    return t if t.isascii() else unicodedata.normalize("NFKC", t).strip()


# ---- plausibility: whole columns ------------------------------------------------------------------------
#
# Cell by cell a value can be valid and still the column be wrong as a whole. Each rule here looks at one
# column of one file, already parsed, so that any loader (this one, row by row, or a columnar one) can call it.

RATE_AS_FRACTION_BELOW = Fraction(3, 2)  # percent: a column whose rates are all below 1.5 was written as fractions


def check_plausible(
    field: str, unit: str, values, lines, *, path: str, column: int, header: str | None = None, percent_sign: bool = False
) -> list[Finding]:
    """Findings for one column of a data file: `values` parsed (None where empty; a percent as its ratio, 96.10% as
    0.961), `lines` the line of each value, `column` the column's number (from 1), `percent_sign` whether any cell of
    the column was written with a % sign.

    data-rate-as-fraction: every non-zero rate of a percent column below 1.5% and none written with %: the
    rates were written as fractions (0.961 for 96.10%), which would read as 0.961% each. A 0 is 0 either way.
    """
    name = header or field
    if unit == "percent" and not percent_sign:
        nonzero = [(v, line) for v, line in zip(values, lines) if v]
        if nonzero and all(v * 100 < RATE_AS_FRACTION_BELOW for v, _ in nonzero):
            v, line = nonzero[0]
            shown = _decimal(v * 100)
            return [
                finding(
                    "data-rate-as-fraction",
                    f"{name}: every rate of the file is below 1.5 ({shown} here): they look like fractions "
                    f"({shown} for {_decimal(v * 10000)}%); write rates in percent (96.10), or with a % sign if "
                    f"they really are below 1.5% ({shown}%)",
                    ast.Span(path, line, column),
                )
            ]
    return []


def _decimal(x) -> str:
    """An exact decimal of the data as written: 0.961, 96.1 (no float)."""
    x = Fraction(x)
    places = 0
    while (x * 10**places).denominator != 1 and places < 30:
        places += 1
    n = x * 10**places
    text = str(abs(n.numerator)).rjust(places + 1, "0")
    text = text if places == 0 else f"{text[:-places]}.{text[-places:]}"
    return ("-" if x < 0 else "") + text


def parse_value(text: str, unit: str) -> Fraction | int | str:
    """One cell -> a value of the declared unit; ValueError with a user-facing message.

    Full-width characters are read as their ASCII forms (NFKC: ９６．１０％ is 96.10%); digits of other scripts
    (٩٦) are refused.
    """
    t = text.strip().replace("，", ",")
    if unit == "text":
        return t
    if not t.isascii():
        t = unicodedata.normalize("NFKC", t)
    if unit == "year":
        try:
            return int(parse_year(t))
        except YearFormatError as e:
            raise ValueError(str(e)) from None
    if unit == "bool":
        if t.lower() in ("true", "1", "yes", "はい"):
            return True
        if t.lower() in ("false", "0", "no", "いいえ"):
            return False
        raise ValueError(f"'{text}' is not true or false")
    if unit == "percent":
        t = t.rstrip("%％").strip()
    if unit == "yen":
        t = t.rstrip("円").strip().replace(",", "")
    if unit == "count":
        t = t.replace(",", "")
    if t.isdigit() and t.isascii() and len(t) <= MAX_DIGITS and unit in ("yen", "count", "ratio"):
        return int(t)  # the common case, a plain whole number: skip Fraction's parser
    digits = sum(ch.isdigit() for ch in t)
    if digits > MAX_DIGITS:
        raise ValueError(f"a number with {digits} digits; the limit is {MAX_DIGITS}")
    if not t.isascii() and any(ch.isdigit() for ch in t):
        raise ValueError(f"'{text}' is not a number: write its digits as 0-9")
    if "/" in t or "e" in t.lower():
        # Refused before Fraction() sees it: Fraction('1e999999999') would compute 10**999999999.
        num, _, den = t.partition("/")
        try:
            float(num), float(den or "1")
        except ValueError:
            raise ValueError(f"'{text}' is not a number") from None
        raise ValueError(f"'{text}' is not a plain decimal number")
    whole, dot, decimals = t.partition(".")
    if dot and whole.isdigit() and decimals.isdigit() and t.isascii():  # 92.35: skip Fraction's parser too
        x = Fraction(int(whole + decimals), 10 ** len(decimals))
    else:
        try:
            x = Fraction(t)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"'{text}' is not a number") from None
    if unit == "percent":
        if not 0 <= x <= 100:
            raise ValueError(f"a rate of {t}% is outside 0-100")
        return x / 100
    if unit in ("yen", "count", "ratio") and x < 0:
        # Amounts, counts and ratios (indices such as medical_index, coefficients) of the data are never negative.
        raise ValueError(f"{NEGATIVE[unit]} cannot be negative: {t}")
    if unit == "count" and x.denominator != 1:
        raise ValueError(f"a count is a whole number, not {t}")
    # Whole amounts stay ints: exact, and much cheaper to add than Fractions. The evaluator
    # divides through Fraction, so an int never meets Python's float division.
    return x.numerator if x.denominator == 1 else x


def load(municipal_path, prefecture_path, inputs: dict[str, ast.InputDecl]) -> Dataset:
    """Read and validate both data files against the version's input declarations."""
    findings: list[Finding] = []
    m_inputs = {n: d for n, d in inputs.items() if d.scope == "municipal"}
    p_inputs = {n: d for n, d in inputs.items() if d.scope == "prefecture"}
    mpath, ppath = str(municipal_path), str(prefecture_path)

    header, rows, hline = read_table(municipal_path)
    mapping = column_map(header, hline, m_inputs, KEY_COLUMNS, mpath, findings)
    if findings:
        raise DataError(findings)
    if not rows:
        raise DataError(finding("data-no-rows", "the file has a header but no data rows", ast.Span(mpath, hline, 1)))
    col_of = {f: i for i, f in enumerate(mapping) if f is not None}
    munis: dict[str, str] = {}
    signed: set[str] = set()  # percent columns with a cell written with a % sign
    values: dict[tuple[str, int], dict] = {}
    row_of: dict[tuple[str, int], tuple[str, int]] = {}
    for lineno, cells in rows:
        if len(findings) >= MAX_FINDINGS:
            break
        if len(cells) != len(header):
            findings.append(
                finding(
                    "data-row-length",
                    f"row has {len(cells)} cells but the header has {len(header)}{separator_hint(cells, len(header))}",
                    ast.Span(mpath, lineno, 1),
                )
            )
            continue
        code = normalise_code(cells[col_of["code"]])
        name = cells[col_of["name"]].strip()
        ccol = col_of["code"] + 1
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            hint = ": write its digits as 0-9" if any(ch.isdigit() for ch in code) and not code.isascii() else ""
            findings.append(
                finding("data-bad-code", f"'{code}' is not a 6-digit municipality code (団体コード){hint}", ast.Span(mpath, lineno, ccol))
            )
            continue
        if check_digit(code[:5]) != int(code[5]):
            findings.append(
                finding(
                    "data-check-digit",
                    f"code {code} has a wrong check digit: expected {code[:5]}{check_digit(code[:5])}",
                    ast.Span(mpath, lineno, ccol),
                )
            )
            continue
        ytext = cells[col_of["fiscal_year"]]
        try:
            year = int(parse_year(ytext))
        except YearFormatError as e:
            findings.append(finding("data-bad-year", str(e), ast.Span(mpath, lineno, col_of["fiscal_year"] + 1)))
            continue
        if code in munis and munis[code] != name and name:
            findings.append(
                finding(
                    "data-name-mismatch",
                    f"code {code} is '{munis[code]}' on an earlier row but '{name}' here",
                    ast.Span(mpath, lineno, col_of["name"] + 1),
                )
            )
            continue
        munis.setdefault(code, name)
        if (code, year) in values:
            first = row_of[(code, year)][1]
            findings.append(
                finding(
                    "data-duplicate-row", f"a second row for {code} {name} in FY{year} (first on line {first})", ast.Span(mpath, lineno, 1)
                )
            )
            continue
        row: dict = {}
        for field, decl in m_inputs.items():
            if field not in col_of:
                continue
            cell = cells[col_of[field]]
            if not cell.strip():
                continue
            try:
                row[field] = parse_value(cell, decl.unit)
            except ValueError as e:
                findings.append(finding("data-bad-value", f"{header[col_of[field]]}: {e}", ast.Span(mpath, lineno, col_of[field] + 1)))
            if decl.unit == "percent" and cell.rstrip().endswith(("%", "％")):
                signed.add(field)
        values[(code, year)] = row
        row_of[(code, year)] = (mpath, lineno)
    for field, decl in m_inputs.items():
        if field in col_of and not findings:
            keys = list(values)
            findings.extend(
                check_plausible(
                    field,
                    decl.unit,
                    [values[k].get(field) for k in keys],
                    [row_of[k][1] for k in keys],
                    path=mpath,
                    column=col_of[field] + 1,
                    header=header[col_of[field]],
                    percent_sign=field in signed,
                )
            )

    pheader, prows, phline = read_table(prefecture_path)
    pmapping = column_map(pheader, phline, p_inputs, PREFECTURE_KEYS, ppath, findings)
    if findings:
        raise DataError(findings)
    pcol = {f: i for i, f in enumerate(pmapping) if f is not None}
    prefecture: dict = {n: {} for n in p_inputs}
    psigned: set[str] = set()
    prow_of: dict[int, tuple[str, int]] = {}
    for lineno, cells in prows:
        if len(findings) >= MAX_FINDINGS:
            break
        if len(cells) != len(pheader):
            findings.append(
                finding(
                    "data-row-length",
                    f"row has {len(cells)} cells but the header has {len(pheader)}{separator_hint(cells, len(pheader))}",
                    ast.Span(ppath, lineno, 1),
                )
            )
            continue
        try:
            year = int(parse_year(cells[pcol["fiscal_year"]]))
        except YearFormatError as e:
            findings.append(finding("data-bad-year", str(e), ast.Span(ppath, lineno, pcol["fiscal_year"] + 1)))
            continue
        if year in prow_of:
            findings.append(
                finding("data-duplicate-row", f"a second row for FY{year} (first on line {prow_of[year][1]})", ast.Span(ppath, lineno, 1))
            )
            continue
        prow_of[year] = (ppath, lineno)
        for field, decl in p_inputs.items():
            if field not in pcol or not cells[pcol[field]].strip():
                continue
            try:
                prefecture[field][year] = parse_value(cells[pcol[field]], decl.unit)
            except ValueError as e:
                findings.append(finding("data-bad-value", f"{pheader[pcol[field]]}: {e}", ast.Span(ppath, lineno, pcol[field] + 1)))
            if decl.unit == "percent" and cells[pcol[field]].rstrip().endswith(("%", "％")):
                psigned.add(field)
    for field, decl in p_inputs.items():
        if field in pcol and not findings:
            years_ = list(prefecture[field])
            findings.extend(
                check_plausible(
                    field,
                    decl.unit,
                    [prefecture[field][y] for y in years_],
                    [prow_of[y][1] for y in years_],
                    path=ppath,
                    column=pcol[field] + 1,
                    header=pheader[pcol[field]],
                    percent_sign=field in psigned,
                )
            )
    if findings:
        raise DataError(findings)

    municipalities = tuple(Municipality(c, munis[c]) for c in sorted(munis))
    years = tuple(sorted({y for (_, y) in values} | set(prow_of)))
    municipal: dict = {}
    for field in m_inputs:
        per_year = {}
        for y in years:
            per_year[y] = tuple(values.get((m.code, y), {}).get(field) for m in municipalities)
        municipal[field] = per_year
    return Dataset(
        municipalities,
        municipal,
        prefecture,
        row_of,
        prow_of,
        years,
        (mpath, ppath),
        {mpath: len(rows), ppath: len(prows)},
        _missing_rows(municipalities, row_of, mpath),
    )


def separator_hint(cells: list[str], width: int) -> str:
    """When a row's extra cells are exactly the pieces of numbers written with an unquoted thousands separator
    (10,800 read as 10 and 800), say so: '; 10,800 (column 5) looks like ...'."""
    import re

    extra = len(cells) - width
    if extra <= 0:
        return ""
    runs, i = [], 0
    while i < len(cells):
        j = i + 1
        if re.fullmatch(r"[-+]?\d{1,3}", cells[i].strip()):
            while j < len(cells) and re.fullmatch(r"\d{3}", cells[j].strip()):
                j += 1
            if j < len(cells) and j > i + 1 and re.fullmatch(r"\d{3}\.\d+", cells[j].strip()):
                j += 1
        if j > i + 1:
            runs.append((i, j))
        i = j
    if not runs or sum(j - i - 1 for i, j in runs) != extra:
        return ""
    i, j = runs[0]
    number = ",".join(c.strip() for c in cells[i:j])
    return (
        f"; {number} (from column {i + 1}) looks like a number with a thousands separator that is not in quotes: "
        f'write it as "{number}" or as {number.replace(",", "")}' + (f" ({len(runs)} such numbers in this row)" if len(runs) > 1 else "")
    )


def _missing_rows(municipalities, row_of: dict, path: str) -> tuple[Finding, ...]:
    """Warnings for municipality-years with no row within the years the municipal file covers.

    Nothing is lost: such values stay missing and the results that need them are undefined
    with a reason; the warning only says so up front.
    """
    years = sorted({y for (_, y) in row_of})
    if not years:
        return ()
    lo, hi = years[0], years[-1]
    first_line: dict[str, int] = {}
    for (code, _), (_, line) in row_of.items():
        first_line[code] = min(line, first_line.get(code, line))
    short = [(m, [y for y in range(lo, hi + 1) if (m.code, y) not in row_of]) for m in municipalities]
    short = [(m, missing) for m, missing in short if missing]
    return missing_row_findings([(m, missing, first_line[m.code]) for m, missing in short[:MAX_FINDINGS]], len(short), path, lo, hi)


def missing_row_findings(listed, total: int, path: str, lo: int, hi: int) -> tuple[Finding, ...]:
    """data-missing-row warnings: listed is [(municipality, missing years, its first line)], total the count of all such."""
    out: list[Finding] = []
    for m, missing, line in listed:
        those = "that year" if len(missing) == 1 else "those years"
        f = finding(
            "data-missing-row",
            f"{m} has no row for {_year_list(missing)} (the file covers FY{lo}-FY{hi}); "
            f"its values for {those} are missing and the results that need them are undefined",
            ast.Span(path, line, 1),
        )
        out.append(attrs.evolve(f, severity="warning"))
    if total > MAX_FINDINGS:
        f = finding("data-missing-row", f"and {total - MAX_FINDINGS} more municipalities with missing years", ast.Span(path, 0, 0))
        out.append(attrs.evolve(f, severity="warning"))
    return tuple(out)


def _year_list(years: list[int]) -> str:
    """[2019, 2020, 2021, 2023] -> 'FY2019-FY2021, FY2023'."""
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"FY{r[0]}" if len(r) == 1 else f"FY{r[0]}-FY{r[-1]}" for r in runs)


def sample_paths() -> tuple[Path, Path]:
    """The bundled synthetic Tokyo data (in the checkout or inside the installed package)."""
    from .shipped import sample_dir

    root = sample_dir()
    return root / "tokyo-municipal.csv", root / "tokyo-prefecture.csv"
