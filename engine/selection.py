"""-m / --municipality: a result's rows for some municipalities only; sums, shares and totals still cover the whole prefecture.

The evaluation is never narrowed: β, γ, every levy and every summary are computed over all the
municipalities of the data, and only the rows a table lists are chosen. Outputs say so.
"""

from __future__ import annotations

from .results import EvalResult, ResultRow


class SelectedResult(EvalResult):
    """An EvalResult whose `rows` are those of the chosen municipalities (indices into the data, in code order)."""

    def __init__(self, result: EvalResult, only: tuple[int, ...]):
        super().__init__(result.version, result.years, result.columns, result.evaluator)
        self.only = tuple(only)

    @property
    def rows(self) -> tuple[ResultRow, ...]:
        if self._rows is None:
            ms = self.municipalities
            out = []
            for y in self.years:
                cols = [self.evaluator.column(c, y) for c in self.columns]
                out.extend(ResultRow(y, ms[i], tuple(col[i] for col in cols)) for i in self.only)
            self._rows = tuple(out)
        return self._rows


def selected_count(result) -> int | None:
    """How many municipalities a result lists, when -m chose some (None: all of them)."""
    only = getattr(result, "only", None)
    return None if only is None else len(only)


def note(selected: int, total: int, lang: str = "ja") -> str:
    """The line under a table of chosen municipalities."""
    if lang == "ja":
        return f"{total} 団体中 {selected} 団体を表示しています (-m)。合計・按分・集計は都全体 ({total} 団体) の値です。"
    return (
        f"{selected} of {total} municipalities shown (-m); sums, shares and summaries cover the whole prefecture ({total} municipalities)."
    )


def whole_note(total: int, lang: str = "ja") -> str:
    """The line over a summary asked for with -m: it is the prefecture's, not the chosen municipalities'."""
    if lang == "ja":
        return f"集計は都全体 ({total} 団体) の値です (-m は団体別の行だけを選びます)。"
    return f"The summary covers the whole prefecture ({total} municipalities); -m chooses only the rows of per-municipality tables."
