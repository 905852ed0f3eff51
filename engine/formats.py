"""--format and --out -> the format written; and the one line that says what a written file holds.

The name given to --out decides the format (r.xlsx is a workbook, r.csv a CSV file, r.md markdown,
r.json JSON, r.html a web page, r.parquet Parquet); --format may say the same, but a format that
contradicts the file name is a usage error, as is a format the command cannot write. A web page or a
binary file is never printed on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import UsageError, finding
from .years import FiscalYear

# File name endings -> format. ".txt" is the command's plain display (table or text).
EXTENSIONS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "display",
}
SUFFIX = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "json": ".json",
    "markdown": ".md",
    "html": ".html",
    "parquet": ".parquet",
    "table": ".txt",
    "text": ".txt",
}
WHAT = {
    "csv": "CSV",
    "xlsx": "an Excel workbook",
    "json": "JSON",
    "markdown": "markdown",
    "html": "a web page (HTML)",
    "parquet": "Parquet",
    "table": "a plain table",
    "text": "plain text",
    "display": "plain text",
}
BINARY = ("xlsx", "parquet")


def _is_file(out: str | None) -> bool:
    return out is not None and out != "-"


def choose(command: str, explicit: str | None, out: str | None, supported, default: str, *, to_terminal: bool = False) -> str:
    """The format to write: --format, else the one --out's name ends in, else the command's default.

    Usage errors: `format-mismatch` (--format contradicts --out's name), `format-unsupported` (--out's
    name asks for a format the command does not write), `html-to-terminal` (a web page on a terminal).
    """
    known = None
    ext = Path(out).suffix.lower() if _is_file(out) else ""
    if ext in EXTENSIONS:
        known = EXTENSIONS[ext]
        if known == "display":
            known = next((f for f in ("table", "text", "html") if f in supported), default)
    if explicit is not None and known is not None and explicit != known:
        stem = Path(out).with_suffix("").name
        raise UsageError(
            finding(
                "format-mismatch",
                f"--format {explicit} does not match --out {out}: a {ext} file is {WHAT[known]}; "
                f"drop --format, or name the file {stem}{SUFFIX.get(explicit, '')}",
            )
        )
    if explicit is None and known is not None and known not in supported:
        exts = ", ".join(dict.fromkeys(SUFFIX[f] for f in supported if f in SUFFIX))
        raise UsageError(finding("format-unsupported", f"kokuho {command} cannot write {WHAT[known]} ({ext}); it writes {exts}"))
    fmt = explicit or known or default
    if fmt == "html" and not _is_file(out) and to_terminal:
        raise UsageError(
            finding(
                "html-to-terminal",
                f"kokuho {command} writes a web page: give --out FILE.html "
                f"(or redirect it: kokuho {command} ... > FILE.html), then open the file in a browser",
            )
        )
    return fmt


# ---- what a written file holds -----------------------------------------------------------------


def years_text(years: Iterable[FiscalYear]) -> str:
    """A command's years in its 'wrote' line: 'FY2024 (R6)', 'FY2024-FY2026', 'FY2024, FY2026'."""
    years = sorted(years)
    if not years:
        return "no years"
    if len(years) == 1:
        return years[0].both
    return f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1)) else ", ".join(str(y) for y in years)


def count(n: int, one: str, many: str | None = None) -> str:
    """'1 column', '20 columns', '62 municipalities'."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def municipalities_text(selected: int | None, total: int) -> str:
    """'62 municipalities', or '3 of 62 municipalities' under -m."""
    if selected is None or selected == total:
        return count(total, "municipality", "municipalities")
    return f"{selected:,} of {total:,} municipalities"


def wrote(out: str, what: str) -> str:
    """The line the command line prints on stderr after writing --out."""
    return f"wrote {out}: {what}"
