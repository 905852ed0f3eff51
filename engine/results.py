"""A version evaluated over data for some years: every municipality x year x chosen name, from the columnar core.

`evaluate` is the one way a command evaluates a version: it checks the names asked for and
returns an EvalResult whose values are computed by engine/columnar's evaluator, a year at
a time, as columns. Renderers take the columns whole (CSV, Parquet, summaries) or, for
the few readers that want Python values, `column()` and `rows`.
"""

from __future__ import annotations

import attrs

from . import ast
from .ast import KEY_NAMES
from .columnar import ColumnData, ColumnEvaluator
from .lookup import unknown_column
from .versions import Version
from .years import FiscalYear


@attrs.frozen
class ResultRow:
    year: FiscalYear
    municipality: object  # data.Municipality
    values: tuple  # aligned with EvalResult.columns


class EvalResult:
    """The chosen names of a version for every municipality in every year, exactly as computed.

    Its years are FiscalYears, which renderers show as they are (`year.both`); given plain ints (a
    library caller's), they become FiscalYears here. The evaluator takes them as the ints they are.
    """

    def __init__(self, version: Version, years, columns, evaluator: ColumnEvaluator):
        self.version = version
        self.years = tuple(FiscalYear(y) for y in years)
        self.columns = tuple(columns)
        self.evaluator = evaluator
        self.data: ColumnData = evaluator.data
        self._rows: tuple | None = None

    @property
    def municipalities(self) -> tuple:
        return self.data.municipalities

    def unit(self, name: str) -> str:
        item = self.version.items.get(name)
        return getattr(item, "unit", "text")

    def label(self, name: str) -> str:
        item = self.version.items.get(name)
        return getattr(item, "label", None) or name

    def values(self, year: int) -> dict:
        """name -> column value (a scalar for a prefecture value) for one year."""
        return {c: self.evaluator.fast(c, year) for c in self.columns}

    def release(self) -> None:
        """Drop the memoised intermediate values (a renderer done with a year calls it to bound memory)."""
        if self._rows is None:
            self.evaluator.forget(keep=())

    def column(self, name: str, year: int) -> tuple:
        """One name's values in one year, one Python value per municipality (engine/values.py's)."""
        return self.evaluator.column(name, year)

    @property
    def rows(self) -> tuple[ResultRow, ...]:
        """Every (year, municipality) with its values, in year then code order (for small tables)."""
        if self._rows is None:
            out = []
            for y in self.years:
                cols = [self.evaluator.column(c, y) for c in self.columns]
                for i, m in enumerate(self.municipalities):
                    out.append(ResultRow(y, m, tuple(col[i] for col in cols)))
            self._rows = tuple(out)
        return self._rows


def default_columns(version: Version) -> tuple[str, ...]:
    """The columns the version's summary lists, or else every definition."""
    summary = version.items.get("summary")
    if summary is not None:
        for line in summary.lines:
            if line.kind == "columns":
                return line.names
    return tuple(n for n, i in version.items.items() if isinstance(i, (ast.Definition, ast.Table)))


def check_columns(version: Version, columns) -> tuple[str, ...]:
    """The names asked for (default: the summary's columns), each a value of the version."""
    columns = tuple(columns) if columns else default_columns(version)
    for c in columns:
        item = version.items.get(c)
        if c not in KEY_NAMES and (item is None or isinstance(item, (ast.Summary, ast.Example))):
            raise unknown_column(version, c)
    return columns


def evaluate(version: Version, data: ColumnData, years, columns=None, evaluator: ColumnEvaluator | None = None) -> EvalResult:
    """Evaluate the chosen names for every municipality in every year (computed when a renderer asks)."""
    columns = check_columns(version, columns)
    ev = evaluator or ColumnEvaluator(version, data)  # a reference Dataset is made columns there
    return EvalResult(version, years, columns, ev)
