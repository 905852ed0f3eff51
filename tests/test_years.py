"""Fiscal years and periods are accepted in every form of domain.md, and bad ones are refused clearly."""

import pytest

from engine.years import Period, YearFormatError, parse_period, parse_year


@pytest.mark.parametrize(
    "text, year",
    [
        ("FY2024", 2024),
        ("2024", 2024),
        ("R6", 2024),
        ("令和6年度", 2024),
        ("令和6", 2024),
        ("Ｒ６", 2024),
        ("令和元年度", 2019),
        ("H30", 2018),
        ("平成30年度", 2018),
        ("fy2030", 2030),
        ("R12", 2030),
    ],
)
def test_year_forms(text, year):
    assert int(parse_year(text)) == year


@pytest.mark.parametrize(
    "text, first, last",
    [
        ("R6-R8", 2024, 2026),
        ("FY2024..FY2026", 2024, 2026),
        ("令和6～8年度", 2024, 2026),
        ("2024-2026", 2024, 2026),
        ("令和6年度～令和8年度", 2024, 2026),
        ("R6-8", 2024, 2026),
        ("R7", 2025, 2025),
    ],
)
def test_period_forms(text, first, last):
    assert parse_period(text) == Period(first, last)


def test_both_forms_in_output():
    assert parse_year("R6").both == "FY2024 (R6)"
    assert parse_period("R6-R8").both == "FY2024-FY2026 (R6-R8)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("FY24", "'FY24' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度"),
        ("next year", "'next year' is not a fiscal year; a fiscal year looks like FY2024, 2024, R6 or 令和6年度"),
    ],
)
def test_bad_year(text, message):
    with pytest.raises(YearFormatError) as e:
        parse_year(text)
    assert str(e.value) == message


def test_bad_period():
    with pytest.raises(YearFormatError) as e:
        parse_period("R8-R6")
    assert str(e.value) == "period ends before it starts: FY2026..FY2024"
    with pytest.raises(YearFormatError) as e:
        parse_period("R6-")
    assert str(e.value) == "'R6-' is not a closed period; a period looks like R6-R8, FY2024..FY2026, 2024-2026 or 令和6～8年度"
