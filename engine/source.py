"""Rule files on disk -> ast.RuleFile: read, decode, and reuse an earlier parse of the same text.

The parser (parse.py) needs lark, which is a good part of a command's start-up time; it is
imported only when a file's text was not parsed before (engine/cache.py, by content hash).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from . import ast
from .ast import number_from_text  # noqa: F401 - re-exported: a literal's text -> (value, unit)
from .errors import RuleSyntaxError, UsageError, finding
from .limits import MAX_DATA_BYTES, MAX_DIGITS, MAX_RULE_BYTES, MAX_SCENARIO_BYTES, MAX_SOURCE_CHARS  # noqa: F401 - re-exported


def read_bytes(path: str | Path, what: str, *, limit: int | None = None, limit_text: str | None = None) -> bytes:
    """A rule, data or scenario file's bytes; a missing, directory or unreadable path is a usage error naming `what`.

    With a limit, a file larger than `limit` bytes is refused (file-too-large) before it is read: a regular file by
    its size, anything else (/dev/zero, a pipe) after limit bytes. `limit_text` says the limit in the message.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            if limit is None:
                return f.read()
            size = os.fstat(f.fileno()).st_size
            if size > limit and stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _too_large(p, what, f"has {size:,} bytes", limit, limit_text)
            data = f.read(limit + 1)
            if len(data) > limit:
                raise _too_large(p, what, f"has more than {limit:,} bytes", limit, limit_text)
            return data
    except FileNotFoundError:
        raise UsageError(finding("no-such-file", f"{what} not found: {p}")) from None
    except IsADirectoryError:
        raise UsageError(finding("not-a-file", f"{p} is a directory, not a {what}")) from None
    except OSError as e:
        raise UsageError(finding("unreadable", f"cannot read {what} {p}: {e.strerror}")) from None
    except MemoryError:
        raise _too_large(p, what, "does not fit in memory", limit or 0, limit_text) from None


def _too_large(p: Path, what: str, size: str, limit: int, limit_text: str | None) -> UsageError:
    return UsageError(finding("file-too-large", f"{what} {size}; the limit is {limit_text or f'{limit:,} bytes'}", ast.Span(str(p), 1, 1)))


def parse_file(path: str | Path) -> ast.RuleFile:
    """Read and parse one rule file (UTF-8, with or without BOM)."""
    p = Path(path)
    try:
        raw = read_bytes(p, "rule file", limit=MAX_RULE_BYTES, limit_text=f"{MAX_SOURCE_CHARS:,} characters")
    except UsageError as e:
        if e.findings[0].code == "file-too-large":  # a finding of the file, as when it has too many characters
            raise RuleSyntaxError(e.findings) from None
        raise
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1  # as the parser counts lines
        raise RuleSyntaxError(
            finding("encoding", f"rule file is not UTF-8 (byte {e.start}); save it as UTF-8", ast.Span(str(p), line, 1))
        ) from None
    from .cache import load_rules, store_rules  # the same text at the same path parses to the same RuleFile

    hit = load_rules(text, str(p))
    if hit is not None:
        return hit
    from . import parse  # a miss: now the parser is needed

    result = parse.parse_text(text, str(p))
    store_rules(text, str(p), result)
    return result
