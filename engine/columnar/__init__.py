"""The columnar exact core: every command evaluates through it, over whole columns.

columns.py (column types and error bounds) -> ops.py (exact operations on columns) ->
data.py (data files read into columns) -> evaluator.py (names, compiled expressions).
"""

from .data import ColumnData as ColumnData
from .evaluator import ColumnEvaluator as ColumnEvaluator
from .evaluator import evaluate_columns as evaluate_columns

__all__ = ["ColumnData", "ColumnEvaluator", "evaluate_columns"]
