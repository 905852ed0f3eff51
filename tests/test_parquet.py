"""Parquet in and out: a Parquet data file reads as its CSV does; `--format parquet` holds the CSV's figures, typed."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import cli
from engine.data import sample_paths

M, P = sample_paths()


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def csv_table(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def sample_as_parquet(path, *, floats: bool):
    """The bundled municipal CSV as Parquet: rates and indices as float64 (pandas' default) or as text."""
    body = "\n".join(line for line in M.read_text(encoding="utf-8-sig").splitlines() if not line.startswith("#"))
    types = {"code": pa.string(), "deficit_target_year": pa.string()}
    if not floats:
        types.update({"collection_rate": pa.string(), "medical_index": pa.string()})
    table = pcsv.read_csv(pa.py_buffer(body.encode("utf-8")), convert_options=pcsv.ConvertOptions(column_types=types))
    assert table.schema.field("collection_rate").type == (pa.float64() if floats else pa.string())
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("floats", [True, False], ids=["float64 rates", "text rates"])
def test_parquet_data_reads_as_its_csv(tmp_path, capsys, floats):
    """The same rows as Parquet (float64 cells read as the shortest decimal that gives them back) give the same CSV
    output, byte for byte, as the CSV file."""
    data = sample_as_parquet(tmp_path / "m.parquet", floats=floats)
    argv = ["eval", "--version", "R6", "--period", "R1-R11", "--format", "csv", "--headers", "en", "--prefecture-data", P]
    code, from_csv, _ = run(capsys, *argv, "--data", M)
    assert code == 0
    code, from_parquet, _ = run(capsys, *argv, "--data", data)
    assert code == 0 and from_parquet == from_csv


def test_parquet_data_errors_are_reported_by_row(tmp_path, capsys):
    """A wrong check digit in a Parquet file: data.py's message, the header counting as row 1."""
    table = pq.read_table(sample_as_parquet(tmp_path / "m.parquet", floats=False))
    codes = table.column("code").to_pylist()
    codes[4] = "131017"
    table = table.set_column(table.schema.get_field_index("code"), "code", pa.array(codes))
    pq.write_table(table, tmp_path / "bad.parquet")
    code, _, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--data", tmp_path / "bad.parquet", "--prefecture-data", P)
    assert code == 2
    assert err.splitlines()[0] == f"{tmp_path / 'bad.parquet'}:6:2: data-check-digit: code 131017 has a wrong check digit: expected 131016"


def test_eval_parquet_holds_the_csv_figures_typed(tmp_path, capsys):
    """Every cell of `--format parquet` is the CSV's cell: whole yen as int64, rates as decimal128 in percent,
    true/false as bool, texts as string, undefined as null with the same reasons."""
    argv = ["eval", "--version", "R6", "--period", "R1-R11"]
    code, text, _ = run(capsys, *argv, "--format", "csv", "--headers", "en")
    assert code == 0
    rows = csv_table(text)
    code, _, err = run(capsys, *argv, "--out", tmp_path / "r6.parquet")
    assert code == 0 and err.strip().endswith(
        "wrote " + str(tmp_path / "r6.parquet") + ": R6, FY2019-FY2029, 62 municipalities × 11 years, 20 columns"
    )
    table = pq.read_table(tmp_path / "r6.parquet")
    schema = table.schema
    assert (
        schema.field("fiscal_year").type,
        schema.field("levy_total").type,
        schema.field("target_rate").type,
        schema.field("beta").type,
        schema.field("achieved").type,
        schema.field("deficit_status").type,
    ) == (pa.int16(), pa.int64(), pa.decimal128(38, 2), pa.decimal128(38, 13), pa.bool_(), pa.string())
    assert schema.field("target_rate").metadata == {b"unit": b"percent", b"label": "目標収納率".encode()}
    assert schema.metadata[b"version"] == b"R6"
    got = table.to_pylist()
    assert len(got) == len(rows) == 62 * 11
    for want, have in zip(rows, got):
        for name, cell in want.items():
            value = have[name]
            if cell == "":
                assert value is None, (name, want["code"], want["fiscal_year"])
            elif isinstance(value, bool):
                assert cell == ("true" if value else "false")
            elif isinstance(value, Decimal):
                assert value == Decimal(cell), (name, cell, value)
            else:
                assert str(value) == cell, (name, cell, value)


def test_eval_parquet_with_municipalities(tmp_path, capsys):
    """-m lists the chosen municipalities only, every year."""
    code, _, _ = run(capsys, "eval", "--version", "R6", "--period", "R6-R8", "-m", "千代田区,131024", "--out", tmp_path / "two.parquet")
    assert code == 0
    table = pq.read_table(tmp_path / "two.parquet")
    assert [(r["fiscal_year"], r["code"]) for r in table.select(["fiscal_year", "code"]).to_pylist()] == [
        (y, c) for y in (2024, 2025, 2026) for c in ("131016", "131024")
    ]


def test_diff_parquet_is_the_csv_table(tmp_path, capsys):
    """The outcome diff as Parquet: the CSV's table, the year as int16, empty cells as null."""
    argv = ["diff", "R3", "R6", "--period", "R6-R8"]
    code, text, _ = run(capsys, *argv, "--format", "csv", "--headers", "en")
    assert code == 0
    code, _, _ = run(capsys, *argv, "--out", tmp_path / "d.parquet")
    assert code == 0
    table = pq.read_table(tmp_path / "d.parquet")
    rows = csv_table(text)
    assert table.schema.field("fiscal_year").type == pa.int16()
    assert [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in table.to_pylist()] == rows


@pytest.mark.parametrize(
    "argv, line",
    [
        (["eval", "--year", "R7", "--format", "parquet"], "parquet-needs-out: --format parquet writes a file: give --out FILE.parquet"),
        (
            ["eval", "--year", "R7", "--summary", "--out", "s.parquet"],
            "format-unsupported: kokuho eval --summary cannot write Parquet; it writes .csv, .json, .md, .txt",
        ),
        (
            ["diff", "R3", "R6", "--year", "R7", "--rules-only", "--out", "d.parquet"],
            "format-unsupported: kokuho diff writes Parquet for the outcome diff only, not with --summary, --rules-only or --explain",
        ),
    ],
)
def test_parquet_usage_errors(tmp_path, monkeypatch, capsys, argv, line):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.strip().splitlines()[-1] == line
