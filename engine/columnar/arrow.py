"""The Arrow compute functions the columnar reader and writers use, called by name.

`import pyarrow.compute` wraps each of Arrow's ~300 functions in a Python function when it is
first imported, which costs a small command a tenth of its time; pyarrow.compute's own
wrappers call `call_function` (from pyarrow._compute, where pyarrow keeps it), and so do these.
Array methods such as `arr.take()` or `arr.cast()` import pyarrow.compute too: the engine
calls the functions here instead.
"""

from __future__ import annotations

import pyarrow as pa

try:
    from pyarrow._compute import CastOptions, JoinOptions, MatchSubstringOptions, PadOptions, ReplaceSubstringOptions, SliceOptions
    from pyarrow._compute import call_function as _call
except ImportError:  # pragma: no cover - a pyarrow that moved them: the public module has them all
    from pyarrow.compute import CastOptions, JoinOptions, MatchSubstringOptions, PadOptions, ReplaceSubstringOptions, SliceOptions
    from pyarrow.compute import call_function as _call


def _datum(x):
    return x if isinstance(x, (pa.Array, pa.ChunkedArray, pa.Scalar)) else pa.scalar(x)


def call(name: str, *args, options=None):
    return _call(name, [_datum(a) for a in args], options)


def any_(x) -> bool:
    return bool(call("any", x).as_py())


def all_(x) -> bool:
    return bool(call("all", x).as_py())


def take(x, indices):
    return call("take", x, indices)


def cast(x, to):
    return call("cast", x, options=CastOptions.safe(to))


def fill_null(x, value):
    return call("coalesce", x, value)


def if_else(cond, a, b):
    return call("if_else", cond, a, b)


def join(*parts, sep: str = ""):
    """Strings joined element-wise with sep (arrays and scalars mixed; a null anywhere gives null)."""
    return call("binary_join_element_wise", *parts, sep, options=JoinOptions())


def matches(x, pattern: str):
    """Whether each string matches a regular expression (RE2 syntax) anywhere."""
    return call("match_substring_regex", x, options=MatchSubstringOptions(pattern))


def replace(x, old: str, new: str):
    return call("replace_substring", x, options=ReplaceSubstringOptions(old, new))


def replace_regex(x, pattern: str, new: str):
    return call("replace_substring_regex", x, options=ReplaceSubstringOptions(pattern, new))


def lpad(x, width: int, padding: str):
    return call("utf8_lpad", x, options=PadOptions(width, padding))


def slice_from(x, start: int):
    return call("utf8_slice_codeunits", x, options=SliceOptions(start))


def trim(x):
    return call("utf8_trim_whitespace", x)


def unique(x):
    return call("unique", x)


def index_in(x, values):
    from pyarrow._compute import SetLookupOptions

    return call("index_in", x, options=SetLookupOptions(values))
