"""Two evaluations -> per-municipality changes with their causes; two versions -> a semantic rule diff.

The package, by product:

- `outcome`: the outcome diff (`compare`) and its outputs (`render_outcome`, `outcome_csv`);
- `causes`: the cause walk the outcome diff names for every changed value (`CauseFinder`);
- `summary`: the diff summary (`summarise`, `render_diff_summary`, `kokuho diff --summary`);
- `rules`: the rule diff (`compare_rules`, `render_rules`, `kokuho diff --rules-only`);
- `common`: what they share (`loc`, `item_kind`, `item_core`, band and schedule text);
- `command`: `kokuho diff A B` as one call (`run`), given the versions and years the command line resolved.

The names below are the package's public face; callers import them from `engine.diff`.
"""

from __future__ import annotations

from .causes import ALL, Cause, CauseFinder
from .command import diff_columns, run
from .common import expr_text, item_kind, loc
from .outcome import (
    OUTCOME_CSV_HEADER_JA,
    OUTCOME_WORDS,
    STATUS,
    Block,
    Change,
    Delta,
    OutcomeDiff,
    compare,
    outcome_csv,
    parse_min_change,
    render_outcome,
)
from .rules import BandRow, ItemDiff, MetaChange, RulesDiff, ScheduleRow, align_bands, compare_rules, render_rules
from .summary import CONVENTIONAL_NAMES, DEFAULT_MOVERS, BandMoves, PartShift, YearDiffSummary, render_diff_summary, summarise

__all__ = [
    "ALL",
    "BandMoves",
    "BandRow",
    "Block",
    "CONVENTIONAL_NAMES",
    "Cause",
    "CauseFinder",
    "Change",
    "DEFAULT_MOVERS",
    "Delta",
    "ItemDiff",
    "MetaChange",
    "OUTCOME_CSV_HEADER_JA",
    "OUTCOME_WORDS",
    "OutcomeDiff",
    "PartShift",
    "RulesDiff",
    "STATUS",
    "ScheduleRow",
    "YearDiffSummary",
    "align_bands",
    "compare",
    "compare_rules",
    "diff_columns",
    "expr_text",
    "item_kind",
    "loc",
    "outcome_csv",
    "parse_min_change",
    "render_diff_summary",
    "render_outcome",
    "render_rules",
    "run",
    "summarise",
]
