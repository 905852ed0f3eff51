"""Rendering: exact decimal text, and the plain table layout drawn without tabulate stays tabulate's."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from engine.render import decimal_text, format_display, format_value, to_table


@pytest.mark.parametrize(
    "x, places, text",
    [
        (Fraction(1847, 20), 2, "92.35"),  # a rate of 92.35% as percent points
        (Fraction(5), 0, "5"),
        (Fraction(5), 2, "5.00"),
        (Fraction(-1, 8), 2, "-0.125"),  # more places when the exact value has them
        (Fraction(1, 3), 0, "0.333333333333333"),  # not terminating: 15 places, half-even
        (Fraction(200, 3), 2, "66.666666666666667"),
        (Fraction(-1, 10**20), 0, "0"),  # rounds to zero: no minus sign
        (Fraction(12345678901234567, 1000), 0, "12345678901234.567"),
    ],
)
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
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(CELLS, min_size=n, max_size=n),
            st.lists(st.lists(CELLS, min_size=n, max_size=n), max_size=5),
            st.lists(st.sampled_from(["left", "right"]), min_size=n, max_size=n),
        )
    )
)
def test_to_table_matches_tabulate_simple(table):
    """to_table draws tabulate's "simple" layout itself (for speed); it must stay byte-identical."""
    header, rows, align = table
    expected = tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True, colalign=align) + "\n"
    assert to_table(header, rows, align) == expected


def _places_to_terminate(x: Fraction) -> int | None:
    for k in range(40):
        if (x * 10**k).denominator == 1:
            return k
    return None


@settings(max_examples=500, deadline=None)
@given(st.fractions(max_denominator=10**6), st.integers(0, 3))
def test_decimal_text_is_the_exact_value(x, places):
    """decimal_text works on numerator and denominator directly: the text is x itself with max(places, x's own)
    decimals, or x to 15 places when it does not end by then; never a minus sign on zero."""
    text = decimal_text(x, places)
    decimals = len(text.partition(".")[2])
    k = _places_to_terminate(x)
    if k is not None and k <= 15:
        assert Fraction(text) == x and decimals == max(places, k)
    else:
        assert abs(Fraction(text) - x) <= Fraction(1, 2 * 10**15) and decimals <= 15
    assert not (text.startswith("-") and Fraction(text) == 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**15), 10**15))
def test_whole_yen_fast_path_matches_the_fraction_path(n):
    """An int and the equal Fraction print the same, with separators: 1,234,567円 and -1,234円."""
    assert format_display(n, "yen") == format_display(Fraction(n, 1) + Fraction(1, 2) - Fraction(1, 2), "yen") == f"{n:,}円"
    assert format_display(n, "count") == f"{n:,}"
    assert format_value(n, "yen") == str(n)


@settings(max_examples=300, deadline=None)
@given(st.fractions(max_denominator=10**5))
def test_percent_is_the_value_times_100(x):
    assert format_value(x, "percent") == decimal_text(x * 100, 2)


def test_percent_examples():
    assert format_value(Fraction(981, 1000), "percent") == "98.10"
    assert format_value(Fraction(9815, 10000), "percent") == "98.15"
    assert format_value(Fraction(1, 3), "percent") == "33.333333333333333"
    assert format_value(Fraction(-1, 2000), "pp") == "-0.05"


# Every kind of character a table cell holds, and the ones wcswidth reads together with a
# neighbour (joiners, variation selectors, combining marks, Indic virama, flags, skin tones).
WIDTH_CHARS = st.sampled_from(
    [chr(c) for c in range(0x20, 0x7F)]
    + list("円％（）〜～・ー—→−…①ｱｶﾞ日本語東京都千代田区αβγΩͰ")
    + [
        "\u200d",
        "\ufe0f",
        "\ufe0e",
        "\u3099",
        "\u0301",
        "\u0915",
        "\u094d",
        "\U0001f600",
        "\U0001f3fb",
        "\U0001f1ef",
        "\U0001f1f5",
        "\t",
        "\u00ad",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.text(WIDTH_CHARS, min_size=1, max_size=8))
def test_cell_width_is_wcswidth(text):
    """The per-character sum is only used where it equals wcwidth.wcswidth (else that is called)."""
    from wcwidth import wcswidth

    from engine.render import _cell_width

    w = wcswidth(text)
    assert _cell_width(text) == (w if w >= 0 else len(text))


def test_known_widths_are_wcwidth_s():
    """The table that spares importing wcwidth gives wcwidth's width for every code point in it."""
    import unicodedata

    from wcwidth import wcwidth

    from engine.render import KNOWN_WIDTHS, _char_width

    checked = 0
    for lo, hi, width in KNOWN_WIDTHS:
        for code in range(lo, hi + 1):
            ch = chr(code)
            if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
                assert _char_width(ch) is None
                continue
            assert wcwidth(ch) == width == _char_width(ch), hex(code)
            checked += 1
    assert checked > 20000


def test_the_table_format_is_linear_in_its_undefined_cells(capsys):
    """`kokuho eval --period R1-R36` on the bundled data (2,232 rows, thousands of undefined cells): the table format
    numbered each footnote by rebuilding the list of every note so far (11 s against 0.5 s for csv); now twice the
    years take about twice the time (within 3x: quadratic would be 4x), and the notes keep their numbers in order
    of first use."""
    import time

    import cli

    times = {"R1-R18": [], "R1-R36": []}
    for period in ("R1-R18", "R1-R36") * 3:  # the best of three each: the first run of all warms the caches
        start = time.perf_counter()
        assert cli.main(["eval", "--version", "R6", "--period", period, "--format", "table"]) == 0
        times[period].append(time.perf_counter() - start)
        out = capsys.readouterr().out
    assert min(times["R1-R36"]) < 3 * min(times["R1-R18"])
    notes = out[out.index("未定義の値 (undefined values):") :].splitlines()[1:]
    assert [line.split("]")[0].strip() for line in notes] == [f"[{i}" for i in range(1, len(notes) + 1)]
    assert len(notes) > 100 and out.count("—[1]") >= 1
