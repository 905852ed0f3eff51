"""Static checks: each broken copy of the shipped rules gives its finding, at the right line, with the exact message."""

import shutil

import pytest

import cli
from engine.api import check
from engine.versions import default_rules_dir

R6 = (default_rules_dir() / "R6.rules").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def broken_copy(tmp_path, old: str, new: str):
    assert old in R6, old
    text = R6.replace(old, new, 1)
    shutil.copy(default_rules_dir() / "R3.rules", tmp_path / "R3.rules")
    (tmp_path / "R6.rules").write_text(text, encoding="utf-8")
    return text


CASES = [
    # (what protects, old, new, line marker in the broken text, code, message)
    (
        "deleting a band leaves a gap",
        '  band [90%, 95%)   "90%以上95%未満"  => previous_rate + 0.50pp  "前年度実績＋0.50pp"\n',
        "",
        "band [95%, 97%)",
        "band-gap",
        "bands [85%, 90%) and [95%, 97%) leave a gap: [90%, 95%) falls in no band",
    ),
    (
        "overlapping bands",
        "band [95%, 97%)",
        "band [94%, 97%)",
        "band [94%, 97%)",
        "band-overlap",
        "bands [90%, 95%) and [94%, 97%) overlap: a value of 94% would fall in both",
    ),
    (
        "a schedule missing a plan year",
        "  FY2026:    0.57\n",
        "",
        "override schedule alpha",
        "schedule-gap",
        "schedule 'alpha' has no value for FY2026 of the plan period FY2024-FY2029 (R6-R11)",
    ),
    (
        "a schedule naming a year twice",
        "  FY2026:    0.57\n",
        "  FY2026:    0.57\n  FY2026:    0.55\n",
        "0.55",
        "schedule-duplicate",
        "schedule 'alpha' gives FY2026 twice: in FY2026 (line 39) and in FY2026",
    ),
    ("yen added to a percent", "=> previous_rate + 1.00pp", "=> previous_rate + 1,000円", "1,000円", "unit", "cannot add yen to percent"),
    (
        "a percent table not reaching 100%",
        "band [99%, 100%]",
        "band [99%, 100%)",
        "band [99%, 100%)",
        "band-coverage",
        "the bands of 'target_table' end at 100% (open); a percent table must cover 0% to 100%",
    ),
    ("unsorted bands", '  band [0%, 85%)    "85%未満"         => previous_rate + 1.50pp  "前年度実績＋1.50pp"\n', "", None, None, None),
    (
        "an unknown name",
        "levy_total - relief",
        "levy_totl - relief",
        "levy_totl",
        "unknown-name",
        "unknown name 'levy_totl'; did you mean 'levy_total'?",
    ),
    (
        "a cycle",
        "= floor(levy_increase * relief_ratio, 1円)",
        "= floor(levy_increase * relief_ratio + net_levy * 0, 1円)",
        "define relief",
        "cycle",
        "definitions depend on each other in the same year: relief -> net_levy -> relief",
    ),
    (
        "an override of something the base lacks",
        "override schedule alpha",
        "override schedule alfa",
        "override schedule alfa",
        "override-unknown",
        "'alfa' overrides nothing: base version R3 has no item of that name; did you mean 'alpha'?",
    ),
    (
        "a base item redefined without override",
        "override schedule alpha",
        "schedule alpha",
        "schedule alpha",
        "missing-override",
        "'alpha' is already defined in version R3; write 'override' to replace it or choose another name",
    ),
    (
        "comparing a year with a rate",
        "= levy_total - relief",
        "= levy_total - relief\ndefine bad : bool = year > collection_rate",
        "define bad",
        "unit",
        "cannot compare year with percent",
    ),
    (
        "an unknown base version",
        "ruleset R6 extends R3",
        "ruleset R6 extends R2",
        "ruleset R6",
        "unknown-base",
        "version R6 extends unknown version 'R2'; the rules read define R3. Give the file of version R2 too (--rules FILE or a folder), or correct the name after 'extends'",
    ),
    (
        "a formula that does not match its declared unit",
        'define net_levy "経過措置後の納付金" : yen',
        'define net_levy "経過措置後の納付金" : percent',
        "define net_levy",
        "unit",
        "'net_levy' is declared percent but its formula gives yen",
    ),
    (
        "an unknown function",
        "max(0円, levy_medical",
        "maximum(0円, levy_medical",
        "maximum(",
        "unknown-function",
        "unknown function 'maximum'; did you mean 'max'?; functions are abs, ceil, count, decimals, defined, floor, max, mean, min, percent, ratio, round, sum",
    ),
    (
        "a rounding mode that does not exist",
        "floor(levy_increase * relief_ratio, 1円)",
        "round(levy_increase * relief_ratio, 1円, nearest)",
        "nearest",
        "rounding-mode",
        "round() needs a rounding mode as its third argument: floor, 切り捨て, ceil, 切り上げ, half_up, 四捨五入, half_even, down",
    ),
    (
        "labels on an amount",
        'define relief "経過措置額" : yen = floor(levy_increase * relief_ratio, 1円)',
        'define relief "経過措置額" : yen = floor(levy_increase * relief_ratio, 1円)\n  labels "0" = "なし"',
        'labels "0"',
        "labels",
        "'labels' names the values of a text or true/false definition; 'relief' is yen",
    ),
    (
        "a label for a text the formula never gives",
        "= levy_total - relief",
        '= levy_total - relief\ndefine s : text = if relief > 0円 then "relief" else "none"\n  labels "none" = "なし", "releif" = "あり"',
        'labels "none"',
        "labels",
        '\'s\' never gives "releif"; did you mean "relief"?',
    ),
    (
        "a value labelled twice",
        "= levy_total - relief",
        '= levy_total - relief\ndefine s : bool = relief > 0円\n  labels true = "あり", false = "なし", true = "有"',
        "labels true",
        "labels",
        "true is labelled twice in 's'",
    ),
    (
        "a screen line naming an unknown column",
        "  screen previous_rate,",
        "  screen previous_rat,",
        "screen previous_rat",
        "unknown-name",
        "summary names unknown 'previous_rat'; did you mean 'previous_rate'?",
    ),
]


@pytest.mark.parametrize("what, old, new, marker, code, message", [c for c in CASES if c[4]], ids=[c[0] for c in CASES if c[4]])
def test_broken_copy_of_r6(tmp_path, what, old, new, marker, code, message):
    text = broken_copy(tmp_path, old, new)
    findings = check([tmp_path]).findings
    assert [(f.code, f.message) for f in findings] == [(code, message)]
    assert findings[0].span.line == line_of(text, marker)
    assert findings[0].span.file.endswith("R6.rules")


@pytest.mark.parametrize(
    "old, new, marker, code, message",
    [
        (
            "=> previous_rate + 1.00pp",
            "=> previous_rate + 1",
            "previous_rate + 1 ",
            "bare-number",
            "the plain number 1 stands beside percent; write 1% (a plain number is a ratio: 1 = 100%)",
        ),
        (
            "band [85%, 90%)",
            "band [85, 90%)",
            "band [85, 90%)",
            "bare-number",
            "the plain number 85 stands beside percent; write 85% (a plain number is a ratio: 1 = 100%)",
        ),
        (
            "= levy_total - relief",
            "= levy_total - relief\ndefine b : ratio = sum(beta)",
            "sum(beta)",
            "aggregate-scope",
            "sum() runs over the municipalities, but its argument has one value for the whole prefecture",
        ),
        (
            "= levy_total - relief",
            "= levy_total - relief\ndefine t : text = abs(deficit_status)",
            "abs(",
            "unit",
            "abs() needs a number, not text",
        ),
        (
            "schedule relief_ratio",
            "remove income_coefficient_care\nschedule relief_ratio",
            "remove income_coefficient_care",
            "remove-in-use",
            "cannot remove 'income_coefficient_care': 'income_rate_care', 'per_capita_care' still use it",
        ),
    ],
)
def test_checks_that_protect_against_silent_mistakes(tmp_path, old, new, marker, code, message):
    """Each of these once passed the check and gave a wrong number or a crash at evaluation."""
    text = broken_copy(tmp_path, old, new)
    findings = [f for f in check([tmp_path]).findings if not f.code.startswith("example")]
    assert [(f.code, f.message) for f in findings] == [(code, message)]
    assert findings[0].span.line == line_of(text, marker)


def test_deleting_the_first_band_breaks_coverage(tmp_path):
    broken_copy(tmp_path, '  band [0%, 85%)    "85%未満"         => previous_rate + 1.50pp  "前年度実績＋1.50pp"\n', "")
    (f,) = check([tmp_path]).findings
    assert (f.code, f.message) == ("band-coverage", "the bands of 'target_table' start at 85%; a percent table must cover 0% to 100%")


def test_unsorted_bands(tmp_path):
    text = R6.replace('  band [95%, 97%)   "95%以上97%未満"  => previous_rate + 0.10pp  "前年度実績＋0.10pp"\n', "")
    text = text.replace(
        "  band [0%, 85%)", '  band [95%, 97%)   "95%以上97%未満"  => previous_rate + 0.10pp  "前年度実績＋0.10pp"\n  band [0%, 85%)'
    )
    shutil.copy(default_rules_dir() / "R3.rules", tmp_path / "R3.rules")
    (tmp_path / "R6.rules").write_text(text, encoding="utf-8")
    (f,) = check([tmp_path]).findings
    assert (f.code, f.message) == ("band-order", "band [0%, 85%) comes after [95%, 97%); list bands from the lowest up")


def test_shipped_rules_are_clean():
    report = check(None)
    assert report.findings == []
    assert report.versions == ["R3", "R6"]


def test_finding_rendering_has_caret(tmp_path):
    """file:line:col: code: message, then the source line and a caret under the spot."""
    broken_copy(tmp_path, "levy_total - relief", "levy_totl - relief")
    (f,) = check([tmp_path]).findings
    lines = f.render().splitlines()
    assert lines[0].endswith(":37: unknown-name: unknown name 'levy_totl'; did you mean 'levy_total'?")
    assert lines[1] == '    define net_levy "経過措置後の納付金" : yen = levy_totl - relief'
    assert lines[2].endswith("^") and lines[2].count("\u3000") == 9


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "ruleset X\ndefne a : yen = 1円\n",
            "unexpected 'defne' (did you mean 'define'?); expected 'basis', 'cite', 'define', 'example', 'extends', 'input', 'override', 'period', ...",
        ),
        ("ruleset X\ndefine a : yen = (1円 + 2円\ndefine b : yen = 2円\n", "unexpected 'define'; expected )"),
        ("ruleset X\ninput municipal x : percent\n  columns\n", 'unexpected end of file; expected a "quoted text"'),
    ],
)
def test_syntax_errors_say_what_was_expected(tmp_path, source, message):
    (tmp_path / "X.rules").write_text(source, encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert f.code == "syntax"
    assert f.message == message


def test_check_exit_codes(tmp_path, capsys):
    assert cli.main(["check", str(default_rules_dir())]) == 0
    broken_copy(tmp_path, "levy_total - relief", "levy_totl - relief")
    assert cli.main(["check", str(tmp_path)]) == 1
    assert cli.main(["check", str(tmp_path / "nope.rules")]) == 2
    err = capsys.readouterr().err
    assert "rule file or directory not found: " in err


# ---- the checks' own cost: linear in the file -----------------------------------------------------------------

HEAD = 'ruleset X\ninput municipal a "a" : percent\n'


@pytest.mark.parametrize(
    "extra, findings",
    [
        ("", []),
        (", 5", [("bare-number", "the plain number 5 stands beside percent; write 5% (a plain number is a ratio: 1 = 100%)", 3, 48026)]),
    ],
)
def test_min_of_16000_arguments(tmp_path, extra, findings):
    """max() of 16,000 arguments: the bare-number check compared every argument with every other (50 s); now each
    argument once with the first rate among them. Clean, or the one finding on the bare number, in well under 5 s."""
    import time

    (tmp_path / "X.rules").write_text(HEAD + "define b : percent = max(" + ", ".join(["a"] * 16000) + extra + ")\n", encoding="utf-8")
    start = time.monotonic()
    report = check([tmp_path / "X.rules"])
    assert time.monotonic() - start < 5
    assert [(f.code, f.message, f.span.line, f.span.column) for f in report.findings] == findings


def _many_unknown_names(n):
    return HEAD + "".join(f"define d{i} : percent = zz{i}\n" for i in range(n)), {"unknown-name": n}


def _many_schedule_lines(n):
    return "ruleset X\nschedule s : ratio {\n" + "".join(f"  ..: {i}\n" for i in range(n)) + "}\n", {"schedule-duplicate": n - 1}


def _sums_in_a_chain(n):
    return HEAD + "define d0 : percent = a\n" + "".join(f"define d{i} : percent = d{i - 1} + mean(d{i - 1})\n" for i in range(1, n)), {}


@pytest.mark.parametrize(
    "make, n",
    [(_many_unknown_names, 5000), (_many_schedule_lines, 5000), (_sums_in_a_chain, 3000)],
    ids=["unknown names", "schedule lines that all overlap", "a sum in each of a chain of definitions"],
)
def test_checks_are_linear(tmp_path, make, n):
    """Checks that were quadratic: a did-you-mean search over every item for each unknown name, every pair of schedule
    lines, a walk down the whole chain for each mean(). Checking n and then 2n of them: the time at most about
    doubles (3x allows for noise), with one finding per bad line (the suggestions stop after a budget of comparisons)."""
    import time

    times = []
    for k in (n, 2 * n):
        text, expected = make(k)
        (tmp_path / "X.rules").write_text(text, encoding="utf-8")
        check([tmp_path / "X.rules"])  # parsed (and cached) first: lark's parsing is linear, and not what is measured here
        start = time.monotonic()
        findings = check([tmp_path / "X.rules"]).findings
        times.append(time.monotonic() - start)
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.code] = counts.get(f.code, 0) + 1
        assert counts == expected
    assert times[1] < 3 * times[0] + 0.5


def test_overlapping_schedule_lines_name_the_first_they_overlap(tmp_path):
    """Each schedule line that repeats a year is reported once, against the first earlier line that covers one of its
    years (found in linear time, not by comparing every pair)."""
    (tmp_path / "X.rules").write_text(
        "ruleset X\nschedule s : ratio {\n  FY2024: 1\n  FY2025: 2\n  FY2024..FY2025: 3\n  FY2025..: 4\n}\n", encoding="utf-8"
    )
    assert [(f.message, f.span.line) for f in check([tmp_path / "X.rules"]).findings] == [
        ("schedule 's' gives FY2024 twice: in FY2024 (line 3) and in FY2024..FY2025", 5),
        ("schedule 's' gives FY2025 twice: in FY2025 (line 4) and in FY2025..", 6),
        ("schedule 's': FY2024..FY2025 comes after FY2025; list years in order", 5),
    ]


# ---- positions: lines counted as the parser counts them ---------------------------------------------------------


@pytest.mark.parametrize(
    "what, text",
    [
        ("a U+2028 in a comment", 'ruleset X\n# a\u2028b\u2029c\ninput municipal a "a" : yen\ndefine b : yen = aa\n'),
        (
            "a form feed and a vertical tab in a comment",
            'ruleset X\n# a\x0cb\x0bc\x1cd\x85e\ninput municipal a "a" : yen\ndefine b : yen = aa\n',
        ),
        ("a form feed between lines (whitespace to the parser)", 'ruleset X\n\x0c\ninput municipal a "a" : yen\ndefine b : yen = aa\n'),
        ("CR LF line ends", 'ruleset X\r\n# c\r\ninput municipal a "a" : yen\r\ndefine b : yen = aa\r\n'),
        ("CR-only line ends (old Mac)", 'ruleset X\r# c\rinput municipal a "a" : yen\rdefine b : yen = aa\r'),
    ],
)
def test_positions_follow_the_parser(tmp_path, what, text):
    """The finding's line, and the source line shown above the caret, are the parser's: Python's splitlines() broke
    lines at U+2028, form feeds and vertical tabs too, so the caret showed another line; a file with CR-only line ends
    was one long line whose first comment swallowed the rest ("unexpected end of file")."""
    (tmp_path / "X.rules").write_text(text, encoding="utf-8", newline="")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert f.render().splitlines() == [
        f"{tmp_path / 'X.rules'}:4:18: unknown-name: unknown name 'aa'",
        "    define b : yen = aa",
        "                     ^",
    ]


def test_a_line_with_odd_breaks_is_shown_on_one_line(tmp_path):
    """A source line holding a U+2028 or a form feed is shown with spaces there, so the terminal shows one line with
    the caret under the spot."""
    (tmp_path / "X.rules").write_text('ruleset X\ninput municipal a "a" : yen\ndefine b : yen = a # x\u2028y\x0cz\nq\n', encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert f.span.line == 4
    (tmp_path / "X.rules").write_text('ruleset X\ninput municipal a "a" : yen\ndefine b\x0c: yen = aa\n', encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert f.render().splitlines()[1:] == ["    define b : yen = aa", "                     ^"]
