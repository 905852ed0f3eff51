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


_SCALAR_TYPES = {str: pa.string(), bool: pa.bool_(), int: pa.int64()}


def _datum(x):
    # A scalar made with its type named: pa.scalar(x) alone imports dateutil to guess it.
    return x if isinstance(x, (pa.Array, pa.ChunkedArray, pa.Scalar)) else pa.scalar(x, type=_SCALAR_TYPES[type(x)])


def array(values):
    """A numpy array (int64, int32, int8 or bool) as an Arrow array, its buffer shared: pa.array(numpy) imports numpy.ma."""
    import numpy as np

    values = np.ascontiguousarray(values)
    n = len(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bits)])
    kind = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(), np.dtype(np.int8): pa.int8()}[values.dtype]
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(values)])


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
