"""Values and their exact operations: the contract both evaluators keep.

A value is a Fraction or int (numbers, exact), a bool, a str (text), an int fiscal year, or
Undefined(reason); a municipal value is one such value per municipality. Nothing is rounded
unless a rule says so (round_to, with the mode named), a value that cannot be computed is
Undefined with its reason and never 0, and no exact value may grow past MAX_VALUE_DIGITS
(a rule that squares last year's value would otherwise run for ever): TooManyDigits.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from fractions import Fraction

import attrs

from .errors import KokuhoError, finding

MAX_YEAR_DEPTH = 60  # how far before (or after) the data a chain of [year - 1] references may reach
MAX_VALUE_DIGITS = 4000  # digits of an exact value's numerator or denominator (Python prints ints up to 4,300)
MAX_VALUE_BITS = int(MAX_VALUE_DIGITS * math.log2(10)) + 1


@attrs.frozen
class Undefined:
    """A value that cannot be computed, and why (shown to staff as is)."""

    reason: str

    def __str__(self) -> str:
        return f"undefined: {self.reason}"


def is_undef(x) -> bool:
    return type(x) is Undefined


def has_undefined(v) -> bool:
    """Whether a value, or any municipality's entry of a municipal value, is undefined."""
    if type(v) is tuple:
        return any(type(x) is Undefined for x in v)
    return type(v) is Undefined


class TooManyDigits(Exception):
    """An exact value grew past MAX_VALUE_DIGITS digits; the evaluator reports it (value-too-large) for the name it was computing."""


def too_large(x) -> bool:
    """Whether a number's numerator or denominator has more than MAX_VALUE_DIGITS digits (by bit length: no printing)."""
    t = type(x)
    if t is int:
        return x.bit_length() > MAX_VALUE_BITS
    if t is Fraction:
        return x.numerator.bit_length() > MAX_VALUE_BITS or x.denominator.bit_length() > MAX_VALUE_BITS
    return False


def check_size(v) -> None:
    """Raise TooManyDigits when a value (or an entry of a municipal value) is too large to keep exactly."""
    if type(v) is tuple:
        for x in v:
            if too_large(x):
                raise TooManyDigits
    elif too_large(v):
        raise TooManyDigits


def same(x, y) -> bool:
    """Equal values: exact numbers equal, True never equal to 1, two undefined values equal."""
    if isinstance(x, tuple) or isinstance(y, tuple):
        n = len(x) if isinstance(x, tuple) else len(y)
        xs = x if isinstance(x, tuple) else (x,) * n
        ys = y if isinstance(y, tuple) else (y,) * n
        return len(xs) == len(ys) and all(same(a, b) for a, b in zip(xs, ys))
    ux, uy = is_undef(x), is_undef(y)
    if ux or uy:
        return ux and uy
    if isinstance(x, bool) != isinstance(y, bool) or isinstance(x, str) != isinstance(y, str):
        return False
    return x == y


def exact_sum(col) -> Fraction:
    """sum(col) as a Fraction, over a common denominator: adding Fractions one by one reduces every partial sum.

    The common denominator of many unrelated denominators grows quickly (the sum of income /
    insured over a prefecture): past MAX_VALUE_DIGITS it is TooManyDigits, before any addition.
    """
    den = 1
    for v in col:
        if type(v) is not int:
            d = v.denominator
            if den % d:
                den = den // math.gcd(den, d) * d
                if den.bit_length() > MAX_VALUE_BITS:
                    raise TooManyDigits
    if den == 1:
        return Fraction(sum(v if type(v) is int else v.numerator for v in col))
    return Fraction(sum(v * den if type(v) is int else v.numerator * (den // v.denominator) for v in col), den)


def as_year(v) -> int:
    """A fiscal year given by a number (FY2024, or year - 1 computed exactly)."""
    return int(v)


def round_to(x: Fraction, step: Fraction, mode: str) -> Fraction:
    """x rounded to a multiple of step with the named mode: floor, ceil, half_up, half_even, down."""
    q = x if step == 1 else Fraction(x) / step
    if mode == "floor":
        n = math.floor(q)
    elif mode == "ceil":
        n = math.ceil(q)
    elif mode == "down":
        n = math.trunc(q)
    elif mode == "half_up":
        # Half away from zero, as the rounding of published figures (四捨五入).
        n = math.floor(abs(q) + Fraction(1, 2)) * (1 if q >= 0 else -1)
    elif mode == "half_even":
        n = round(q)
    else:  # pragma: no cover - the checker allows only the modes above
        raise ValueError(mode)
    return n * step


def map1(fn, x, undefined=None):
    """fn over a value or each entry of a municipal value; undefined entries stay (or go through `undefined`)."""
    if isinstance(x, tuple):
        if undefined is None:
            return tuple(v if is_undef(v) else fn(v) for v in x)
        return tuple(undefined(v) if is_undef(v) else fn(v) for v in x)
    if is_undef(x):
        return x if undefined is None else undefined(x)
    return fn(x)


def map2(fn, a, b, short=None):
    """fn over two values entry by entry; the first operand's undefined entry wins, then the second's.

    short(x): where the left entry alone decides (False and ..., True or ...), the right one is not consulted.
    """
    if not isinstance(a, tuple) and not isinstance(b, tuple):
        if short is not None and not is_undef(a) and short(a):
            return a
        if is_undef(a):
            return a
        if is_undef(b):
            return b
        return fn(a, b)
    n = len(a) if isinstance(a, tuple) else len(b)
    aa = a if isinstance(a, tuple) else (a,) * n
    bb = b if isinstance(b, tuple) else (b,) * n
    U = Undefined
    if short is None:
        return tuple([x if type(x) is U else y if type(y) is U else fn(x, y) for x, y in zip(aa, bb)])
    out = []
    for x, y in zip(aa, bb):
        if type(x) is not U and short(x):
            out.append(x)
        elif type(x) is U:
            out.append(x)
        elif type(y) is U:
            out.append(y)
        else:
            out.append(fn(x, y))
    return tuple(out)


BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


# ---- how a value is written ------------------------------------------------------------------


class ValueTooLarge(KokuhoError):
    """A value with more digits than can be written (Python's int-to-text limit, 4,300 digits by default).

    Evaluation keeps exact values under MAX_VALUE_DIGITS, so this is a second guard, for numbers
    made otherwise (a rule file's own literals multiplied, say)."""

    def __init__(self, where: str = ""):
        limit = sys.get_int_max_str_digits()
        super().__init__(
            finding(
                "value-too-large",
                f"{where or 'a result'} is a number of more than {limit:,} digits: too large to write; "
                "a rule that multiplies a value by itself or by large numbers year after year grows it without bound",
            )
        )
        self.where = where


def int_text(n: int) -> str:
    """str(n), or ValueTooLarge instead of Python's ValueError past the int-to-text limit."""
    try:
        return str(n)
    except ValueError:
        raise ValueTooLarge() from None


def check_printable(n: int) -> None:
    """Raise ValueTooLarge for an int that could not be written as text (cheap for ordinary ints)."""
    if n.bit_length() > 14_000:  # 4,214 digits or fewer are always within the default limit
        int_text(n)


def grouped(n: int) -> str:
    """1234567 -> '1,234,567' (ValueTooLarge past the int-to-text limit)."""
    try:
        return f"{n:,}"
    except ValueError:
        raise ValueTooLarge() from None


MAX_DECIMALS = 15  # a value that does not terminate (1/3) is shown to this many places


@functools.lru_cache(maxsize=1024)
def terminating_places(d: int) -> int | None:
    """Decimal places of 1/d when it terminates (d = 2^a 5^b: max(a, b)), else None."""
    twos = (d & -d).bit_length() - 1
    d >>= twos
    fives = 0
    while d % 5 == 0:
        d //= 5
        fives += 1
    return max(twos, fives) if d == 1 else None


def _num_den(x) -> tuple[int, int]:
    t = type(x)
    if t is int:
        return x, 1
    if t is Fraction:
        return x.numerator, x.denominator
    f = Fraction(x)
    return f.numerator, f.denominator


def decimal_text(x: Fraction, min_places: int = 0) -> str:
    """An exact decimal rendering when x terminates, else rounded half-even to MAX_DECIMALS."""
    return _decimal(*_num_den(x), min_places)


def _decimal(num: int, den: int, min_places: int) -> str:
    """decimal_text of num/den in lowest terms (den > 0), without building a Fraction: a diff prints thousands."""
    negative = num < 0
    num = -num if negative else num
    exact = 0 if den == 1 else terminating_places(den)
    if exact is not None and exact <= MAX_DECIMALS:
        places = max(min_places, exact)
        scaled = num * 10**places // den  # exact: den divides num * 10**places
    else:
        places = MAX_DECIMALS
        scaled = round(Fraction(num * 10**places, den))
    digits = int_text(scaled).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    if exact is None or exact > MAX_DECIMALS:
        text = text.rstrip("0").rstrip(".") if "." in text else text
    if negative and scaled != 0:
        text = "-" + text
    return text


def _percent_text(v) -> str:
    """A rate as a percentage with at least 2 places: 981/1000 -> 98.10."""
    num, den = _num_den(v)
    num *= 100
    g = math.gcd(num, den)
    return _decimal(num // g, den // g, 2)


def format_value(v, unit: str, *, undefined: str = "") -> str:
    if v is None or type(v) is Undefined:
        return undefined
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if unit == "year":
        return f"FY{int(v)}"
    if unit in ("percent", "pp"):
        return _percent_text(v)
    return decimal_text(v, 0)
