"""Rule files on disk -> ast.RuleFile: read, decode, and reuse an earlier parse of the same text.

The parser (parse.py) needs lark, which is a good part of a command's start-up time; it is
imported only when a file's text was not parsed before (engine/cache.py, by content hash).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from . import ast
from .errors import RuleSyntaxError, UsageError, finding

MAX_DIGITS = 30  # digits in one number, in rules and in data: yen amounts have at most 16, coefficients 13 decimals


def read_bytes(path: str | Path, what: str) -> bytes:
    """A rule or data file's bytes; a missing, directory or unreadable path is a usage error naming `what`."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise UsageError(finding("no-such-file", f"{what} not found: {p}")) from None
    except IsADirectoryError:
        raise UsageError(finding("not-a-file", f"{p} is a directory, not a {what}")) from None
    except OSError as e:
        raise UsageError(finding("unreadable", f"cannot read {what} {p}: {e.strerror}")) from None


def parse_file(path: str | Path) -> ast.RuleFile:
    """Read and parse one rule file (UTF-8, with or without BOM)."""
    p = Path(path)
    raw = read_bytes(p, "rule file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1  # as the parser counts lines
        raise RuleSyntaxError(finding("encoding", f"rule file is not UTF-8 (byte {e.start}); save it as UTF-8", ast.Span(str(p), line, 1))) from None
    from .cache import load_rules, store_rules  # the same text at the same path parses to the same RuleFile

    hit = load_rules(text, str(p))
    if hit is not None:
        return hit
    from . import parse  # a miss: now the parser is needed

    result = parse.parse_text(text, str(p))
    store_rules(text, str(p), result)
    return result


def _fraction(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("_", ""))


def number_from_text(text: str) -> tuple[Fraction, str]:
    """'85%' -> (17/20, 'percent'); '1.50pp' -> (3/200, 'pp'); '1,000円' -> (1000, 'yen')."""
    t = text.strip()
    if t.endswith(("%", "％")):
        return _fraction(t[:-1]) / 100, "percent"
    if t.endswith("pp"):
        return _fraction(t[:-2]) / 100, "pp"
    for suffix in ("円", "yen", "JPY"):
        if t.endswith(suffix):
            return _fraction(t[: -len(suffix)].strip()), "yen"
    return _fraction(t), "number"
