"""What the report computes: two versions evaluated over the same data for a list of fiscal years.

`build_report` evaluates a base version A and a version B (one outcome diff of every column, the
rule diff, the band counts of the summary's table, the data files' notes) into a `Report`; the
helpers here read it by column (`report_columns`, `column_label`, `column_unit`, `result_blocks`)
for the page, its charts and the workbook (xlsx.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import attrs
import numpy as np

from ..columnar.columns import is_col
from ..errors import UsageError, finding
from ..results import EvalResult, default_columns
from ..summary import summarise
from ..values import Undefined, is_undef
from ..versions import Version
from ..years import FiscalYear, Period

# The rule names the charts and the per-municipality tables look for. The rules are data, so
# these are a convention, not policy: a version without one of them just loses that chart
# or column group (the other columns still appear, in the last group).
REPORT_NAMES = {
    "alpha": "alpha",  # α by fiscal year
    "target": "target_rate",  # each municipality's target change
    "levy": "levy_total",  # levy change per insured person
    "net_levy": "net_levy",  # the same after transition relief, where a version has it
    "insured": "insured",  # the divisor of "per insured person"
    "deficit_status": "deficit_status",  # deficit status by year
}
COLUMN_GROUPS = (
    ("target", ("previous_rate", "target_rate", "achieved", "meets_national_average")),
    ("levy", ("levy_medical", "levy_support", "levy_care", "levy_total", "relief", "net_levy")),
    (
        "rates",
        ("income_rate_medical", "per_capita_medical", "income_rate_support", "per_capita_support", "income_rate_care", "per_capita_care"),
    ),
    ("other", ()),  # every other municipal column
)

# Above this many municipalities shown, the page gives distributions, the largest movers and the
# undefined values grouped by reason instead of a row per municipality (the workbook keeps every row).
FULL_TABLES_MAX = 300


# ---- what the report shows --------------------------------------------------------------


@attrs.frozen
class DataFile:
    """One input data file: where it is, how many data rows it has, and its leading '#' notes."""

    role: str  # municipal | prefecture
    path: str  # as shown: relative to the working directory when below it
    rows: int
    sha256: str
    notes: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        return any("SYNTHETIC" in n.upper() or "合成" in n for n in self.notes)


@attrs.frozen
class Report:
    """Two versions evaluated over the same data for the same fiscal years."""

    a: Version
    b: Version
    years: tuple[FiscalYear, ...]
    span: tuple[FiscalYear, ...]  # the years of the overview charts: both plan periods and `years`
    result_a: EvalResult
    result_b: EvalResult
    rules: object  # diff.RulesDiff
    files: tuple[DataFile, ...]
    seed_rows: dict  # version id -> (FiscalYear, tuple[BandCount]) for the side-by-side band table
    outcome: object = None  # diff.OutcomeDiff of the columns over the years: blocks with B - A, movers
    selected: tuple[int, ...] | None = None  # -m: the municipalities whose rows are shown (indices, code order)

    @property
    def synthetic(self) -> bool:
        return any(f.synthetic for f in self.files)

    @property
    def n(self) -> int:
        return self.result_b.evaluator.n

    @property
    def shown(self):
        """The indices of the municipalities whose rows the page shows (numpy array, code order)."""
        return np.arange(self.n) if self.selected is None else np.array(self.selected, dtype=np.int64)

    @property
    def full_tables(self) -> bool:
        """Whether the page lists every shown municipality's row (few enough of them)."""
        return len(self.shown) <= FULL_TABLES_MAX


def default_versions(session, b: Version, base: str | None) -> tuple[Version, Version]:
    """(A, B): B as the command line chose it (--version, or the newest whose plan period covers the years asked);
    A the given base or the version B extends."""
    if base is None:
        if b.header.extends is None:
            others = ", ".join(v for v in session.ruleset.version_ids if v != b.id) or "none"
            raise UsageError(
                finding(
                    "no-base",
                    f"version {b.id} extends no version: give --base, the version to compare it with (the rules define: {others})",
                )
            )
        base = b.header.extends
    a = session.version(base)
    if a.id == b.id:
        raise UsageError(finding("same-version", f"--base and --version are both {b.id}; a report compares two versions"))
    return a, b


def target_period(version: Version) -> Period | None:
    """The period of the band table the summary counts, if it has one, else the plan period."""
    table = bands_line(version)
    item = version.items.get(table[0]) if table else None
    eff = getattr(item, "effective", None)
    if eff is not None and eff.is_bounded:
        return eff
    return version.header.plan_period


def report_years(session, b: Version, asked: FiscalYear | Period | None) -> tuple[FiscalYear, ...]:
    """The fiscal years reported on: those asked (api.years_asked of --period), by default B's target or plan period."""
    if asked is None:
        asked = target_period(b)
        if asked is None:
            raise UsageError(finding("no-year", f"version {b.id} has no plan period; give --period"))
    return tuple(session.years(b, asked))


def build_report(session, a: Version, b: Version, years: tuple[FiscalYear, ...], *, municipalities=None) -> Report:
    """Evaluate A and B over the session's data for the fiscal years (report_years; the command line resolves
    the versions, default_versions, and the years once).

    municipalities: codes or names (each may be a comma list) whose rows the page shows; the
    summaries and totals still cover every municipality.
    """
    from .. import diff

    years = tuple(FiscalYear(y) for y in years)  # a library caller's may be plain ints
    data_a, data_b = session.data_for(a), session.data_for(b)
    selected = session.select(b, municipalities)  # -m, as every command reads it (lookup.py)
    cols_a, cols_b = default_columns(a), default_columns(b)
    # One comparison of every column (B - A per municipality, exact); its evaluators are the report's
    # (B takes what it shares with A from A's, over the same data).
    outcome = diff.compare(a, b, data_a, data_b, years, list(cols_b) + [c for c in cols_a if c not in cols_b], causes=False)
    result_a = EvalResult(a, years, cols_a, outcome.ev_a)
    result_b = EvalResult(b, years, cols_b, outcome.ev_b)
    spans = [years[0], years[-1]]
    for v in (a, b):
        pp = v.header.plan_period
        if pp is not None and pp.is_bounded:
            spans += [pp.first, pp.last]
    span = tuple(FiscalYear(y) for y in range(min(spans), max(spans) + 1))
    rules = diff.compare_rules(a, b, years)
    files = tuple(_data_file(role, path, session.data_for(b)) for role, path in zip(("municipal", "prefecture"), session.data_paths))
    seed_rows = {}
    for v, y in ((a, _first_plan_year(a, years)), (b, years[0])):
        seed_rows[v.id] = _band_counts(session, v, y)
    return Report(a, b, years, span, result_a, result_b, rules, files, seed_rows, outcome, selected)


def _first_plan_year(v: Version, years) -> FiscalYear:
    p = target_period(v)
    return FiscalYear(p.first) if p is not None and p.first is not None else years[0]


def bands_line(v: Version):
    s = v.items.get("summary")
    for line in s.lines if s else ():
        if line.kind == "bands":
            return line.names
    return None


def _band_counts(session, v: Version, year: FiscalYear):
    """(year, bands of the summary's band table with achievers) or None when there is no data for it."""
    line = bands_line(v)
    if line is None:
        return None
    data = session.data_for(v)
    if not data.years or not data.years[0] <= year <= data.years[-1]:
        return None
    result = session.evaluate(v, [year], [line[1]])
    counts = summarise(result)[0].bands.get(line[0])
    return None if counts is None or is_undef(counts) else (year, counts)


def _data_file(role: str, path: str, data) -> DataFile:
    from ..data import split_sheet
    from ..source import MAX_DATA_BYTES, read_bytes

    p = Path(split_sheet(path)[0])  # a workbook's sheet (data.xlsx#sheet): the workbook
    raw = read_bytes(p, "data file", limit=MAX_DATA_BYTES)
    notes = []
    text = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = text.decode("cp932", errors="replace")
    for line in decoded.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("#"):
            break
        notes.append(line.lstrip().lstrip("#").strip())
    rows = data.row_counts.get(str(path), 0)
    return DataFile(role, _shown_path(p), rows, hashlib.sha256(raw).hexdigest(), tuple(notes))


def _shown_path(p: Path) -> str:
    """A path relative to the working directory when below it (the same in every checkout); the shipped
    sample as data/sample/... wherever kokuho is installed; else as given."""
    from ..shipped import root

    try:
        for base in (Path.cwd().resolve(), root()):
            if p.resolve().is_relative_to(base):
                return Path(os.path.relpath(p.resolve(), base)).as_posix()
        return str(p)
    except (OSError, ValueError):
        return str(p)


def report_columns(rep: Report) -> list[str]:
    """Municipal columns of both versions, B's order first, then A's extras."""
    cols = list(rep.result_b.columns) + [c for c in rep.result_a.columns if c not in rep.result_b.columns]
    out = []
    y = rep.years[0]
    for c in cols:
        ev = rep.result_b.evaluator if c in rep.result_b.columns else rep.result_a.evaluator
        v = ev.fast(c, y)
        if is_col(v) or (type(v) is Undefined and _is_municipal(ev, c, y)):
            out.append(c)
    return out


def _is_municipal(ev, name: str, year: int) -> bool:
    """Whether an undefined name has a value per municipality (its reference form is a tuple)."""
    return isinstance(ev.value(name, year), tuple)


def column_label(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "label", None) or name


def column_unit(rep: Report, name: str) -> str:
    item = rep.b.items.get(name) or rep.a.items.get(name)
    return getattr(item, "unit", "text")


def column_groups(cols: list[str]) -> list[tuple[str, list[str]]]:
    placed: set = set()
    out = []
    for key, names in COLUMN_GROUPS:
        if names:
            members = [c for c in names if c in cols]
        else:
            members = [c for c in cols if c not in placed]
        placed.update(members)
        if members:
            out.append((key, members))
    return out


def result_blocks(rep: Report) -> dict:
    return {(blk.year, blk.name): blk for blk in rep.outcome.blocks}


def undefined_count(v, n: int) -> int:
    if is_col(v):
        return 0 if v.rid is None else int(np.count_nonzero(v.rid >= 0))
    return n if type(v) is Undefined else 0
