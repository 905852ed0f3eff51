"""Rendering: exact decimal text, and the plain table layout drawn without tabulate stays tabulate's."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from engine.render import decimal_text, format_display, format_value, to_table


@pytest.mark.parametrize("x, places, text", [
    (Fraction(1847, 20), 2, "92.35"),       # a rate of 92.35% as percent points
    (Fraction(5), 0, "5"),
    (Fraction(5), 2, "5.00"),
    (Fraction(-1, 8), 2, "-0.125"),         # more places when the exact value has them
    (Fraction(1, 3), 0, "0.333333333333333"),  # not terminating: 15 places, half-even
    (Fraction(200, 3), 2, "66.666666666666667"),
    (Fraction(-1, 10**20), 0, "0"),         # rounds to zero: no minus sign
    (Fraction(12345678901234567, 1000), 0, "12345678901234.567"),
])
def test_decimal_text_is_exact(x, places, text):
    assert decimal_text(x, places) == text


def test_value_formats():
    """Rates with 2 decimals, yen as integers with separators for people, booleans as true/false."""
    assert format_value(Fraction(981, 1000), "percent") == "98.10"
    assert format_display(Fraction(981, 1000), "percent") == "98.10%"
    assert format_display(Fraction(-3, 1000), "pp") == "-0.30pp"
    assert format_display(Fraction(1234567), "yen") == "1,234,567円"
    assert format_value(True, "bool") == "true"


CELLS = st.sampled_from(["千代田区", "abc", "", "98.10%", "1,234円", "—[1]", "true", "FY2024 (R6)", "目標収納率（検討案）", "x", "a b"])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(CELLS, min_size=n, max_size=n),
    st.lists(st.lists(CELLS, min_size=n, max_size=n), max_size=5),
    st.lists(st.sampled_from(["left", "right"]), min_size=n, max_size=n),
)))
def test_to_table_matches_tabulate_simple(table):
    """to_table draws tabulate's "simple" layout itself (for speed); it must stay byte-identical."""
    header, rows, align = table
    expected = tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True, colalign=align) + "\n"
    assert to_table(header, rows, align) == expected
