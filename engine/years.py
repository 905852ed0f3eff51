"""Fiscal years and periods: text in any accepted form -> FiscalYear / Period, and back.

Accepted year forms (domain.md): FY2024, 2024, R6, 令和6年度, H30, 平成30年度 (full-width digits too).
Accepted period forms: R6-R8, FY2024..FY2026, 2024-2026, 令和6～8年度, 令和6年度～令和8年度,
and open ends (..FY2023, FY2030..) in rule files.
"""

from __future__ import annotations

import re
import unicodedata

import attrs

REIWA_BASE = 2018  # R n = FY(2018 + n)
HEISEI_BASE = 1988  # H n = FY(1988 + n)
HEISEI_LAST = 31  # Heisei ended on 30 April 2019: 平成31年度 (FY2019, also 令和元年度) is its last fiscal year


class YearFormatError(ValueError):
    """Text that is not a fiscal year or period in any accepted form."""


class FiscalYear(int):
    """A Japanese fiscal year: FY y runs from 1 April y to 31 March y+1.

    An int, as bool is: it hashes, compares and indexes as its number, and arithmetic on it gives a
    plain int. The years a command evaluates are FiscalYears from the command line (api.Session.years)
    to what shows them (`year.both`); results given plain ints by a library caller (EvalResult, the
    diffs, sweep's plan, the report) make them FiscalYears. The evaluators (engine/columnar, resolve.py,
    evaluate.py, diff/causes.py, explain's walk) are the boundary: they take these as the ints they are
    and compute others (`year - 1`), so a year they show, like one read from data or a rule's text, is a
    plain int shown through FiscalYear(y).
    str() and f"{year}" give 'FY2024': an output of the bare number (CSV, an HTML id) writes f"{year:d}".
    """

    __slots__ = ()

    def __str__(self) -> str:
        return f"FY{int(self)}"

    def __repr__(self) -> str:
        return f"FiscalYear({int(self)})"

    @property
    def wareki(self) -> str:
        if self > REIWA_BASE:
            return f"R{self - REIWA_BASE}"
        if self > HEISEI_BASE:
            return f"H{self - HEISEI_BASE}"
        return str(self)

    @property
    def both(self) -> str:
        """Both forms, as outputs show them: 'FY2024 (R6)'."""
        return f"{self} ({self.wareki})"

    @property
    def japanese(self) -> str:
        """The year as Japanese text reads it: 令和6年度, 令和元年度, 平成30年度 (2018年度 before Heisei)."""
        era, n = _era(self)
        return f"{era}{'元' if n == 1 else n}年度" if era else f"{self:d}年度"


@attrs.frozen
class Period:
    """An inclusive range of fiscal years; either end may be open (None)."""

    # Plain ints even when given FiscalYears (Period(years[0], years[-1])): str() writes them as FY{first}.
    first: int | None = attrs.field(converter=attrs.converters.optional(int))
    last: int | None = attrs.field(converter=attrs.converters.optional(int))

    def __attrs_post_init__(self):
        if self.first is not None and self.last is not None and self.first > self.last:
            raise YearFormatError(f"period ends before it starts: FY{self.first}..FY{self.last}")

    def __contains__(self, year: int) -> bool:
        return (self.first is None or year >= self.first) and (self.last is None or year <= self.last)

    def years(self) -> list[FiscalYear]:
        if self.first is None or self.last is None:
            raise YearFormatError(f"open period {self} has no finite list of years")
        return [FiscalYear(y) for y in range(self.first, self.last + 1)]

    @property
    def is_bounded(self) -> bool:
        return self.first is not None and self.last is not None

    def overlaps(self, other: Period) -> bool:
        lo = max(x for x in (self.first, other.first, -(10**9)) if x is not None)
        hi = min(x for x in (self.last, other.last, 10**9) if x is not None)
        return lo <= hi

    def __str__(self) -> str:
        if self.first is not None and self.first == self.last:
            return f"FY{self.first}"
        a = f"FY{self.first}" if self.first is not None else ""
        b = f"FY{self.last}" if self.last is not None else ""
        return f"{a}-{b}" if a and b else f"{a}..{b}"

    @property
    def both(self) -> str:
        if self.is_bounded:
            if self.first == self.last:
                return FiscalYear(self.first).both
            return f"FY{self.first}-FY{self.last} ({FiscalYear(self.first).wareki}-{FiscalYear(self.last).wareki})"
        return str(self)

    @property
    def japanese(self) -> str:
        """令和6～8年度 (one era), 平成30年度～令和2年度, 令和12年度以降, 令和5年度まで, 全年度."""
        if self.first is None and self.last is None:
            return "全年度"
        if self.first is None:
            return f"{FiscalYear(self.last).japanese}まで"
        if self.last is None:
            return f"{FiscalYear(self.first).japanese}以降"
        a, b = FiscalYear(self.first).japanese, FiscalYear(self.last).japanese
        if self.first == self.last:
            return a
        (era_a, _), (era_b, n) = _era(self.first), _era(self.last)
        if era_a and era_a == era_b:
            return f"{a[:-2]}～{'元' if n == 1 else n}年度"
        return f"{a}～{b}"


def _era(year: int) -> tuple[str, int]:
    """(era, its year) of a fiscal year: ('令和', 6) for FY2024; ('', 0) before Heisei."""
    if year > REIWA_BASE:
        return "令和", year - REIWA_BASE
    if year > HEISEI_BASE:
        return "平成", year - HEISEI_BASE
    return "", 0


# Digits are ASCII after NFKC (full-width ２０２４ becomes 2024); other scripts' digits (٢٠٢٤) are refused.
_YEAR_PATTERNS = [
    (re.compile(r"^FY\s*([0-9]{4})$", re.I), None),
    (re.compile(r"^([0-9]{4})(?:年度)?$"), None),
    (re.compile(r"^R\s*([0-9]{1,2})$", re.I), "R"),
    (re.compile(r"^令和\s*([0-9]{1,2}|元)\s*(?:年度?)?$"), "R"),
    (re.compile(r"^H\s*([0-9]{1,2})$", re.I), "H"),
    (re.compile(r"^平成\s*([0-9]{1,2}|元)\s*(?:年度?)?$"), "H"),
]
# Era-less short forms inside a Japanese period: the '8' of 令和6～8年度.
_ERA_PREFIX = re.compile(r"^(令和|平成|R|H|FY)", re.I)
_RANGE_SEPARATORS = re.compile(r"\.\.|～|〜|~|－|—|-")

HINT = "a fiscal year looks like FY2024, 2024, R6 or 令和6年度"
PERIOD_HINT = "a period looks like R6-R8, FY2024..FY2026, 2024-2026 or 令和6～8年度"


def _normalise(text: str) -> str:
    # NFKC turns full-width digits and letters (Ｒ６) into ASCII; keep ～ distinct from ~.
    return unicodedata.normalize("NFKC", text.replace("～", "\x00")).replace("\x00", "～").strip()


def parse_year(text: str) -> FiscalYear:
    """'FY2024' | '2024' | 'R6' | '令和6年度' | 'H30' -> FiscalYear(2024)."""
    raw = _normalise(str(text))
    for pattern, era in _YEAR_PATTERNS:
        m = pattern.match(raw)
        if m:
            digits = m.group(1)
            n = 1 if digits == "元" else int(digits)
            if era is not None:
                _check_era(text, era, n)
            year = n + {None: 0, "R": REIWA_BASE, "H": HEISEI_BASE}[era]
            if not 1900 <= year <= 2200:
                break
            return FiscalYear(year)
    if any(ch.isdigit() and not ch.isascii() for ch in raw):
        raise YearFormatError(f"'{text}' is not a fiscal year: write its digits as 0-9; {HINT}")
    raise YearFormatError(f"'{text}' is not a fiscal year; {HINT}")


def _check_era(text: str, era: str, n: int) -> None:
    """Only years that existed: Reiwa from R1 (令和元年度, FY2019); Heisei H1 (FY1989) to H31 (FY2019)."""
    if n == 0:
        first = "R1 (令和元年度, FY2019)" if era == "R" else "H1 (平成元年度, FY1989)"
        raise YearFormatError(f"'{text}' is not a fiscal year: the era's first year is {first}; {HINT}")
    if era == "H" and n > HEISEI_LAST:
        raise YearFormatError(
            f"'{text}' is not a fiscal year: Heisei ended in H{HEISEI_LAST} (FY2019); FY{HEISEI_BASE + n} is "
            f"R{HEISEI_BASE + n - REIWA_BASE} (令和{HEISEI_BASE + n - REIWA_BASE}年度)"
        )


def parse_period(text: str, *, allow_open: bool = False) -> Period:
    """'R6-R8' | 'FY2024..FY2026' | '令和6～8年度' | 'FY2024' -> Period(2024, 2026)."""
    raw = _normalise(str(text))
    parts = _RANGE_SEPARATORS.split(raw, maxsplit=1)
    if len(parts) == 1:
        y = parse_year(raw)
        return Period(y, y)
    a, b = (p.strip() for p in parts)
    if not allow_open and (not a or not b):
        raise YearFormatError(f"'{text}' is not a closed period; {PERIOD_HINT}")
    try:
        first = parse_year(a) if a else None
        if b and not _ERA_PREFIX.match(b) and a:
            # 令和6～8年度 / R6-8: the second year borrows the first one's era.
            era = _ERA_PREFIX.match(a)
            if era and not (b.isdigit() and len(b) == 4):
                b = era.group(1) + b
        last = parse_year(b) if b else None
    except YearFormatError:
        raise YearFormatError(f"'{text}' is not a period; {PERIOD_HINT}") from None
    return Period(first, last)
