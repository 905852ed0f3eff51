"""`kokuho eval` on the bundled sample data: the seed's FY2021 table, formats, exit codes, atomic output."""

import csv
import io
import json

import pytest

import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_fy2021_band_table(capsys):
    """The synthetic data reproduces the seed's FY2021 achievers per band: 1/1, 7/9, 17/28, 10/13, 9/11 (44/62)."""
    code, out, err = run(capsys, "eval", "--version", "R3", "--year", "2021", "--summary")
    assert code == 0
    lines = [words.split() for words in out.splitlines()]
    bands = [(words[0] + " " + words[1], " ".join(words[-3:])) for words in lines if words and words[0].startswith("[")]
    assert bands == [
        ("[0%, 85%)", "1 / 1"),
        ("[85%, 90%)", "7 / 9"),
        ("[90%, 95%)", "17 / 28"),
        ("[95%, 97%)", "10 / 13"),
        ("[97%, 100%]", "9 / 11"),
    ]
    assert any(words[:1] == ["計"] and words[-3:] == ["44", "/", "62"] for words in lines)


def csv_rows(text):
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_r6_over_r6_r11_targets_only_in_plan(capsys):
    """Levies for every year; targets for FY2024-FY2026 only, with the reason for the rest; nothing dropped."""
    code, out, _ = run(
        capsys, "eval", "--version", "R6", "--period", "R6-R11", "--format", "csv", "--headers", "en", "--columns", "target_rate,levy_total"
    )
    assert code == 0
    rows = csv_rows(out)
    assert len(rows) == 62 * 6
    for r in rows:
        assert r["levy_total"].isdigit()
        if int(r["fiscal_year"]) <= 2026:
            assert r["target_rate"] != "" and r["undefined"] == ""
        else:
            assert r["target_rate"] == ""
            y = int(r["fiscal_year"])
            assert (
                r["undefined"]
                == f"target_rate: no target_table (目標収納率（検討案）) in force for FY{y} (R{y - 2018}) in version R6; it covers FY2024-FY2026 (R6-R8)"
            )


@pytest.mark.parametrize("version", ["R3", "R6"])
def test_levies_conserve_the_prefecture_total(capsys, version):
    """Σ levy_k = T_k - residual_k, and 0 <= residual_k < number of municipalities, every year."""
    from engine.api import Session

    session = Session.open()
    v = session.version(version)
    ev = session.evaluator(v)
    data = session.data_for(v)
    for y in range(2018, 2030):
        for part, total in (("medical", "total_medical"), ("support", "total_support"), ("care", "total_care")):
            levies = ev.column(f"levy_{part}", y)
            residual = ev.value(f"residual_{part}", y)
            assert sum(levies) + residual == data.prefecture[total][y]
            assert 0 <= residual < len(data.municipalities)


def test_formats_and_headers(capsys):
    _, out, _ = run(
        capsys, "eval", "--version", "R6", "--year", "令和7年度", "--format", "csv", "--headers", "ja", "--columns", "target_rate,achieved"
    )
    header = out[1:].splitlines()[0]
    assert header == "年度,団体コード,団体名,目標収納率,目標収納率の達成,未定義の理由"
    _, out, _ = run(capsys, "eval", "--version", "R6", "--year", "FY2025", "--format", "json", "--columns", "target_rate")
    doc = json.loads(out)
    assert doc["years"] == ["FY2025 (R7)"] and len(doc["rows"]) == 62
    _, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--format", "markdown", "--columns", "target_rate")
    assert "| 年度" in out and "FY2025 (R7)" in out


def test_values_print_exactly(capsys):
    """Rates with 2 decimals, yen as integers, booleans as true/false, undefined as an empty cell."""
    _, out, _ = run(
        capsys,
        "eval",
        "--version",
        "R6",
        "--year",
        "R9",
        "--format",
        "csv",
        "--headers",
        "en",
        "--columns",
        "target_rate,achieved,levy_total,beta",
    )
    row = csv_rows(out)[0]
    assert row["target_rate"] == "" and row["achieved"] == ""
    assert row["levy_total"].isdigit()
    assert len(row["beta"].split(".")[1]) <= 13


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--version", "R9", "--year", "R7"], "unknown-version: unknown version 'R9'; the rules define: R3, R6"),
        (
            ["--version", "R6", "--year", "20x"],
            "bad-year: '20x' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
        ),
        (["--version", "R6", "--year", "FY1990"], "year-outside-data: no data for FY1990; the data covers FY2018-FY2029"),
        (
            ["--version", "R6", "--year", "R7", "--columns", "target_rat"],
            "unknown-column: version R6 has no definition 'target_rat'; did you mean 'target_rate'?",
        ),
        (
            ["--version", "R6", "--year", "R7", "--data", "x.csv"],
            "data-pair: give both --data and --prefecture-data, or neither for the bundled sample",
        ),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "eval", *argv)
    assert code == 2 and out == ""
    assert err.strip() == message


def test_out_is_atomic_and_refuses_directories_and_inputs(capsys, tmp_path):
    target = tmp_path / "r.csv"
    target.write_text("previous", encoding="utf-8")
    code, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R7", "--format", "csv", "--out", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8-sig").startswith("年度,団体コード,団体名,")
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
    code, _, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err
    from engine.data import sample_paths

    code, _, err = run(capsys, "eval", "--version", "R6", "--year", "R7", "--out", str(sample_paths()[0]))
    assert code == 2 and "is one of the input files; refusing to overwrite it" in err


def test_deterministic_bytes(capsys):
    a = run(capsys, "eval", "--version", "R6", "--period", "R6-R8", "--format", "csv")[1]
    b = run(capsys, "eval", "--version", "R6", "--period", "R6-R8", "--format", "csv")[1]
    assert a == b
