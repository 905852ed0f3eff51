"""Data files: encodings, Japanese headers, and every validation error with its row, column and exact message."""

from fractions import Fraction

import pytest

from engine.data import check_digit, load
from engine.errors import DataError, UsageError
from tests.conftest import MUNICIPAL_HEADER, PREFECTURE_HEADER, municipal_row, prefecture_row, write_csv

GOOD = "2024,131016,千代田区,92.00,1,1,1,1,1,1.0,0,0,"


@pytest.fixture
def r3(ruleset):
    return ruleset.version("R3")


@pytest.fixture
def prefecture(tmp_path):
    return write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, [prefecture_row(2024)])


def load_text(tmp_path, r3, prefecture, text, encoding="utf-8"):
    path = tmp_path / "m.csv"
    path.write_bytes(text.encode(encoding))
    return load(path, prefecture, r3.inputs())


def test_check_digits_of_real_codes():
    """JIS X 0402: 13101 -> 6 (千代田区), 13104 -> 1 (新宿区), 13421 -> 0 (小笠原村)."""
    assert [check_digit(c) for c in ("13101", "13104", "13421")] == [6, 1, 0]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_encodings_and_japanese_headers(tmp_path, r3, prefecture, encoding):
    header = (
        ",".join(MUNICIPAL_HEADER).replace("collection_rate", "現年分収納率").replace("code", "団体コード").replace("fiscal_year", "年度")
    )
    data = load_text(tmp_path, r3, prefecture, f"# a comment line\n{header}\n{GOOD}\n", encoding)
    assert [str(m) for m in data.municipalities] == ["131016 千代田区"]
    assert data.municipal["collection_rate"][2024] == (Fraction(92, 100),)


def test_yaml_rows(tmp_path, r3, prefecture):
    path = tmp_path / "m.yaml"
    path.write_text("- {fiscal_year: R6, code: '131016', name: 千代田区, collection_rate: 92.5, income: '1,000'}\n", encoding="utf-8")
    data = load(path, prefecture, r3.inputs())
    assert data.municipal["collection_rate"][2024] == (Fraction(925, 1000),)
    assert data.municipal["income"][2024] == (1000,)
    assert data.municipal["insured"][2024] == (None,)


BAD = [
    (
        "unknown column",
        lambda h: h.replace("income,", "incme,"),
        GOOD,
        "data-unknown-column",
        (1, 7),
        "column 'incme' matches no input of the rules; did you mean 'income'?",
    ),
    (
        "duplicate column",
        lambda h: h.replace("households", "被保険者数"),
        GOOD,
        "data-duplicate-column",
        (1, 6),
        "column '被保険者数' gives 'insured' again (already column 5)",
    ),
    (
        "check digit",
        None,
        GOOD.replace("131016", "131017"),
        "data-check-digit",
        (2, 2),
        "code 131017 has a wrong check digit: expected 131016",
    ),
    (
        "malformed code",
        None,
        GOOD.replace("131016", "13101"),
        "data-bad-code",
        (2, 2),
        "'13101' is not a 6-digit municipality code (団体コード)",
    ),
    ("text in a number column", None, GOOD.replace("92.00", "abc"), "data-bad-value", (2, 4), "collection_rate: 'abc' is not a number"),
    ("a rate of 105%", None, GOOD.replace("92.00", "105"), "data-bad-value", (2, 4), "collection_rate: a rate of 105% is outside 0-100"),
    ("a negative count", None, GOOD.replace("92.00,1,", "92.00,-1,"), "data-bad-value", (2, 5), "insured: a count cannot be negative: -1"),
    (
        "negative yen",
        None,
        GOOD.replace(",0,0,", ",-5,0,"),
        "data-bad-value",
        (2, 11),
        "deficit_transfer: an amount cannot be negative: -5",
    ),
    (
        "duplicate row",
        None,
        GOOD + "\n" + GOOD,
        "data-duplicate-row",
        (3, 1),
        "a second row for 131016 千代田区 in FY2024 (first on line 2)",
    ),
    (
        "bad year",
        None,
        GOOD.replace("2024,", "FY24,", 1),
        "data-bad-year",
        (2, 1),
        "'FY24' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
    ),
    # plausibility (issue 14): each was accepted and gave wrong figures with exit 0
    (
        "a negative index",
        None,
        GOOD.replace(",1.0,", ",-0.8712,"),
        "data-bad-value",
        (2, 10),
        "medical_index: a ratio or index cannot be negative: -0.8712",
    ),
    (
        "rates written as fractions",
        None,
        GOOD.replace("92.00", "0.961"),
        "data-rate-as-fraction",
        (2, 4),
        "collection_rate: every rate of the file is below 1.5 (0.961 here): they look like fractions (0.961 for 96.1%); write rates in percent "
        "(96.10), or with a % sign if they really are below 1.5% (0.961%)",
    ),
    (
        "a code in Arabic-Indic digits",
        None,
        GOOD.replace("131016", "١٣١٠١٦"),
        "data-bad-code",
        (2, 2),
        "'١٣١٠١٦' is not a 6-digit municipality code (団体コード): write its digits as 0-9",
    ),
    (
        "Arabic-Indic digits in a rate",
        None,
        GOOD.replace("92.00", "٩٢.٠٠"),
        "data-bad-value",
        (2, 4),
        "collection_rate: '٩٢.٠٠' is not a number: write its digits as 0-9",
    ),
    (
        "Heisei after its end",
        None,
        GOOD.replace("2024,", "H32,", 1),
        "data-bad-year",
        (2, 1),
        "'H32' is not a fiscal year: Heisei ended in H31 (FY2019); FY2020 is R2 (令和2年度)",
    ),
    (
        "Reiwa 0",
        None,
        GOOD.replace("2024,", "R0,", 1),
        "data-bad-year",
        (2, 1),
        "'R0' is not a fiscal year: the era's first year is R1 (令和元年度, FY2019); a fiscal year looks like FY2024, 2024, R6 or 令和6年度",
    ),
]


@pytest.mark.parametrize("what, edit_header, row, code, where, message", BAD, ids=[b[0] for b in BAD])
def test_validation_errors(tmp_path, r3, prefecture, what, edit_header, row, code, where, message):
    header = ",".join(MUNICIPAL_HEADER)
    if edit_header:
        header = edit_header(header)
    with pytest.raises(DataError) as e:
        load_text(tmp_path, r3, prefecture, f"{header}\n{row}\n")
    f = e.value.findings[0]
    assert (f.code, (f.span.line, f.span.column), f.message) == (code, where, message)
    assert f.span.file.endswith("m.csv")


def test_empty_and_header_only(tmp_path, r3, prefecture):
    with pytest.raises(DataError) as e:
        load_text(tmp_path, r3, prefecture, "")
    assert e.value.findings[0].message == "the file is empty: it has no header row"
    with pytest.raises(DataError) as e:
        load_text(tmp_path, r3, prefecture, ",".join(MUNICIPAL_HEADER) + "\n")
    assert e.value.findings[0].message == "the file has a header but no data rows"


def test_neither_utf8_nor_cp932(tmp_path, r3, prefecture):
    path = tmp_path / "m.csv"
    path.write_bytes(",".join(MUNICIPAL_HEADER).encode("utf-16"))
    with pytest.raises(DataError) as e:
        load(path, prefecture, r3.inputs())
    assert e.value.findings[0].code == "data-encoding"


def test_missing_file(tmp_path, r3, prefecture):
    with pytest.raises(UsageError) as e:
        load(tmp_path / "nope.csv", prefecture, r3.inputs())
    assert e.value.findings[0].message == f"data file not found: {tmp_path / 'nope.csv'}"


def test_empty_cell_is_missing_not_zero(tmp_path, r3, prefecture):
    rows = [municipal_row(2024, "131016", "千代田区", income="")]
    m = write_csv(tmp_path / "m.csv", MUNICIPAL_HEADER, rows)
    data = load(m, prefecture, r3.inputs())
    assert data.municipal["income"][2024] == (None,)


@pytest.mark.parametrize(
    "text, unit, value",
    [
        ("92.35", "percent", Fraction(9235, 10000)),
        ("100.00", "percent", Fraction(1)),
        ("1.0234", "ratio", Fraction(10234, 10000)),
        ("5.00", "yen", 5),  # a whole amount stays an int
        ("12,345.5", "yen", Fraction(24691, 2)),
        ("007.50", "ratio", Fraction(15, 2)),
    ],
)
def test_decimal_cells(text, unit, value):
    from engine.data import parse_value

    v = parse_value(text, unit)
    assert v == value and type(v) is type(value)


def test_decimal_cells_parse_as_fraction_does():
    """Plain decimals skip Fraction's parser; the value and its type are what Fraction gives."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from engine.data import parse_value

    @settings(max_examples=500, deadline=None)
    @given(st.integers(0, 10**12), st.text("0123456789", min_size=1, max_size=8), st.sampled_from(["ratio", "yen", "percent"]))
    def check(whole, decimals, unit):
        text = f"{whole}.{decimals}"
        x = Fraction(text)
        if unit == "percent":
            if x > 100:
                return
            x = x / 100
            assert parse_value(text, unit) == x and type(parse_value(text, unit)) is Fraction
        else:
            expected = x.numerator if x.denominator == 1 else x
            got = parse_value(text, unit)
            assert got == expected and type(got) is type(expected)

    check()


def test_a_full_width_code_is_the_same_municipality(tmp_path, r3, prefecture):
    """１３１０１６ (full-width, as a Japanese input method types it) is 131016: the same municipality, not a 63rd one
    beside a 'missing' 千代田区 (NFKC before the check digit); the same year written twice that way is a duplicate row."""
    header = ",".join(MUNICIPAL_HEADER)
    data = load_text(tmp_path, r3, prefecture, f"{header}\n{GOOD}\n{GOOD.replace('2024,131016', '2025,１３１０１６')}\n")
    assert [str(m) for m in data.municipalities] == ["131016 千代田区"]
    assert data.years == (2024, 2025)
    with pytest.raises(DataError) as e:
        load_text(tmp_path, r3, prefecture, f"{header}\n{GOOD}\n{GOOD.replace('131016', '１３１０１６')}\n")
    (f,) = e.value.findings
    assert (f.code, f.message, f.span.line) == ("data-duplicate-row", "a second row for 131016 千代田区 in FY2024 (first on line 2)", 3)


@pytest.mark.parametrize(
    "rates, value",
    [
        (["0.96%", "0.50%"], Fraction(96, 10000)),  # written with %: really below 1.5%
        (["0", "0.00"], Fraction(0)),  # zero is zero, as a fraction or a percent
        (["0.96", "96.50"], Fraction(96, 10000)),  # not every rate below 1.5: percentages
        (["９６．１０％", "96.50"], Fraction(961, 1000)),  # full-width digits and sign
    ],
)
def test_plausible_rates_are_accepted(tmp_path, r3, prefecture, rates, value):
    """The fraction check refuses a whole column only when it cannot be percentages: a % sign, zeros, or one rate of
    1.5 or more say the rates are percentages."""
    header = ",".join(MUNICIPAL_HEADER)
    rows = "\n".join(GOOD.replace("92.00", r).replace("2024,", f"{2024 + i},", 1) for i, r in enumerate(rates))
    data = load_text(tmp_path, r3, prefecture, f"{header}\n{rows}\n")
    assert data.municipal["collection_rate"][2024] == (value,)


def test_check_plausible_is_callable_on_a_column():
    """The plausibility rule works on a parsed column (for a columnar loader): the finding names the first row."""
    from engine.data import check_plausible

    rates = [None, Fraction(961, 100000), Fraction(0), Fraction(982, 100000)]
    (f,) = check_plausible("collection_rate", "percent", rates, [3, 4, 5, 6], path="m.csv", column=4)
    assert (f.code, f.span.line, f.span.column) == ("data-rate-as-fraction", 4, 4)
    assert check_plausible("collection_rate", "percent", rates, [3, 4, 5, 6], path="m.csv", column=4, percent_sign=True) == []
    assert check_plausible("income", "yen", [1, 2], [3, 4], path="m.csv", column=5) == []
