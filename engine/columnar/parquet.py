"""Evaluation results and outcome diffs -> Apache Parquet, typed, written from whole columns.

An evaluation is one row per municipality and year, one column per name, typed by its unit:
whole numbers as int64, other numbers as decimal128 holding exactly the decimal the CSV writes
(a rate in percent, 91.23; a value that does not terminate, such as 1/3, to the CSV's 15
places), true/false as bool, texts as string, fiscal years as int16; an undefined value is null
and its reason is in the `undefined` column, as in the CSV. Columns are named by the rules' names
(the labels and units are in each field's metadata), so pandas, polars, DuckDB and Spark read
them as they are. An outcome diff is the CSV's table, typed where a column has one type.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pyarrow as pa

from ..values import MAX_DECIMALS, Undefined, terminating_places
from . import arrow as A
from . import text
from .columns import BoolCol, Num, ObjCol, is_col

ROW_GROUP_ROWS = 200_000  # rows of a large evaluation made and written at once


def eval_parquet(result, only=None) -> bytes:
    """An EvalResult as Parquet bytes (see the module's docstring); only: the indices of the municipalities to list (-m)."""
    import pyarrow.parquet as pq

    cols, ms, ev = result.columns, result.municipalities, result.evaluator
    n = len(ms)
    units = [result.unit(c) for c in cols]
    kinds = _kinds(result, cols, units)  # a first pass: the type of each column over every year
    fields = [pa.field("fiscal_year", pa.int16()), pa.field("code", pa.string()), pa.field("name", pa.string())]
    for c, unit, kind in zip(cols, units, kinds):
        meta = {"unit": unit, "label": result.label(c)}
        fields.append(pa.field(c, kind, metadata={k: v.encode("utf-8") for k, v in meta.items()}))
    fields.append(pa.field("undefined", pa.string()))
    schema = pa.schema(
        fields, metadata={"version": result.version.id.encode("utf-8"), "title": (result.version.header.title or "").encode("utf-8")}
    )
    sink = pa.BufferOutputStream()
    codes = pa.array([m.code for m in ms], type=pa.string())
    names = pa.array([m.name for m in ms], type=pa.string())
    who = pa.array([str(m) for m in ms], type=pa.string())
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        per = max(1, ROW_GROUP_ROWS // max(n, 1))
        for start in range(0, len(result.years), per):
            years = result.years[start : start + per]
            per_year = [result.values(y) for y in years]
            every = A.array(np.tile(np.arange(n), len(years)))
            arrays = [
                A.cast(A.array(np.repeat(np.array(years, dtype=np.int64), n)), pa.int16()),
                A.take(codes, every),
                A.take(names, every),
            ]
            reasons = []
            for c, unit, kind in zip(cols, units, kinds):
                values = [v[c] for v in per_year]
                arrays.append(_typed(values, unit, kind, n, ev))
                reasons.append((c, text.rid_column(values, n, ev.reasons)))
            undefined, _ = text.undefined_texts(reasons, ev.reasons, A.take(who, every), n * len(years))
            arrays.append(A.if_else(A.call("equal", undefined, ""), pa.scalar(None, pa.string()), undefined))
            table = pa.Table.from_arrays(arrays, schema=schema)
            if only is not None:
                table = table.take(A.array(np.concatenate([np.asarray(only, dtype=np.int64) + k * n for k in range(len(years))])))
            writer.write_table(table)
            result.release()
    return sink.getvalue().to_pybytes()


def _kinds(result, cols, units) -> list:
    """The Arrow type of each column: int64, decimal128(38, places) with the most places any year needs, bool, string, int16."""
    places = {c: 0 for c in cols}
    whole = {c: True for c in cols}
    other = {}
    for y in result.years:
        values = result.values(y)
        for c, unit in zip(cols, units):
            v = values[c]
            if unit == "year":
                other[c] = pa.int16()
                continue
            if type(v) is BoolCol or type(v) is bool or unit == "bool":
                other[c] = pa.bool_()
                continue
            if type(v) is ObjCol or type(v) is str or unit == "text":
                other[c] = pa.string()
                continue
            if type(v) is Undefined:
                continue
            k = _places(v, unit)
            places[c] = max(places[c], k)
            whole[c] = whole[c] and k == 0 and unit not in ("percent", "pp")
        result.release()
    out = []
    for c in cols:
        if c in other:
            out.append(other[c])
        elif whole[c]:
            out.append(pa.int64())
        else:
            out.append(pa.decimal128(38, places[c]))
    return out


def _places(v, unit: str) -> int:
    """Decimal places of a number as the CSV writes it (percent: of the percentage, at least 2; at most 15)."""
    scale = 100 if unit in ("percent", "pp") else 1
    low = 2 if scale == 100 else 0
    if is_col(v):
        lin = v.lin if type(v) is Num else None
        if lin is None or lin.small() is None:
            return MAX_DECIMALS
        den = lin.den
    else:
        den = Fraction(v).denominator
    d = den // math.gcd(den, scale)
    k = terminating_places(d)
    return max(low, MAX_DECIMALS if k is None or k > MAX_DECIMALS else k)


def _typed(values: list, unit: str, kind, n: int, ev):
    """One column's values over several years as an Arrow array of its kind (null where undefined)."""
    texts = text.column_texts(values, unit, n, ev)
    if pa.types.is_string(kind):
        return A.if_else(A.call("equal", texts, ""), pa.scalar(None, pa.string()), texts) if pa.types.is_string(texts.type) else texts
    if pa.types.is_boolean(kind):
        return A.call("if_else", A.call("equal", texts, ""), pa.scalar(None, pa.bool_()), A.call("equal", texts, "true"))
    if pa.types.is_int16(kind):  # years: FY2028
        digits = A.slice_from(texts, 2)
        return A.cast(A.if_else(A.call("equal", texts, ""), pa.scalar(None, pa.string()), digits), pa.int16())
    if not pa.types.is_string(texts.type):  # whole numbers already
        return A.cast(texts, kind)
    return A.cast(A.if_else(A.call("equal", texts, ""), pa.scalar(None, pa.string()), texts), kind)


def diff_parquet(csv: bytes) -> bytes:
    """An outcome diff's CSV (as render_outcome writes it) as Parquet: the year as int16, every other cell as text, null where empty."""
    import csv as csv_module

    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    body = csv[3:] if csv.startswith(b"\xef\xbb\xbf") else csv
    header = next(csv_module.reader([body.split(b"\r\n", 1)[0].decode("utf-8")]))
    names = [f"c{k}" for k in range(len(header))]
    table = pcsv.read_csv(
        pa.py_buffer(body),
        read_options=pcsv.ReadOptions(skip_rows=1, column_names=names),
        convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=True),
    )
    arrays = [A.cast(table.column(0), pa.int16())] + [table.column(k) for k in range(1, len(names))]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_arrays(arrays, names=header), sink, compression="zstd")
    return sink.getvalue().to_pybytes()
