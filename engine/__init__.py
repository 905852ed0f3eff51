"""kokuho-rules: a declarative rules engine for the Tokyo NHI operating policy (国民健康保険運営方針)."""

from .api import Session as Session
from .api import check as check
from .columnar import ColumnData as ColumnData
from .columnar import ColumnEvaluator as ColumnEvaluator
from .errors import KokuhoError as KokuhoError
from .evaluate import Evaluator as Evaluator
from .results import evaluate as evaluate
from .source import parse_file as parse_file
from .values import Undefined as Undefined
from .versions import NotInForce as NotInForce
from .versions import Piece as Piece
from .versions import RuleSet as RuleSet
from .versions import Version as Version
from .years import parse_period as parse_period
from .years import parse_year as parse_year

__all__ = [
    "Session",
    "check",
    "KokuhoError",
    "ColumnData",
    "ColumnEvaluator",
    "Evaluator",
    "Undefined",
    "evaluate",
    "parse_file",
    "parse_text",
    "NotInForce",
    "Piece",
    "RuleSet",
    "Version",
    "parse_period",
    "parse_year",
]


def __getattr__(name: str):
    if name == "parse_text":  # the parser imports lark: only on first use, so a cache hit never pays for it
        from .parse import parse_text

        return parse_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
