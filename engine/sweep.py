"""Parameter variations of a version -> scenario versions -> evaluated in parallel -> one row per scenario.

A variation names one rule item part and the values to try:

    alpha.FY2025=0.60,0.65,0.70               a schedule's value for one fiscal year
    alpha[R7]=0.50..0.80:0.10                 the same, as a range START..END:STEP (both ends included)
    e=0.7,0.6                                 a constant definition (`define e : ratio = 0.7`)
    target_table[90%,95%).increment=0.30pp    the literal a band adds (`previous_rate + 0.50pp`)
    target_table[90%,95%).hi=94%,96%          a band's bound; the neighbouring band's shared bound moves with it
    target_table[97%,99%).lo=96%
    target_table[99%,100%].result=99.50%,previous_rate   a band's whole result, as a rule expression

Values are written as in the rule files (0.60, 60%, 0.30pp, 1000円); a list is split at
commas outside brackets. Several variations give every combination (the first varies
slowest). A YAML file (--scenarios) can add named scenarios, each a set of assignments,
crossed with the variations:

    version: R6
    period: R6-R11
    vary:
      alpha.FY2025: [0.60, 0.65, 0.70]
      "target_table[90%,95%).increment": 0.30pp..0.50pp:0.10pp
    scenarios:
      - name: 緩やか
        set: {alpha.FY2025: 0.80, alpha.FY2026: 0.70}

Each scenario is the version with the named items replaced (attrs.evolve on the AST items:
no number lives in Python) and checked like any rule file. Scenario 0 is the unvaried
version. Every scenario is evaluated by the columnar core (engine/columnar) over the whole period, reusing the
unvaried version's values that no varied item reaches; scenarios are spread over the
machine's cores (multiprocessing) and come back in scenario order, so the output is the
same bytes whatever the number of processes.
"""

from __future__ import annotations

import itertools
import os
import re
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from . import ast
from .errors import Finding, UsageError, finding
from .years import FiscalYear, Period, YearFormatError, parse_year

if TYPE_CHECKING:
    from .versions import Version

MAX_SCENARIOS = 100_000
MAX_RANGE_VALUES = 10_000
DEFAULT_MOVERS = 3
# The definitions compared against the unvaried version when the command line names none.
# These are rule names, not policy: a version without them just shows no such column.
DEFAULT_TARGET = "target_rate"
DEFAULT_LEVIES = ("net_levy", "levy_total")


class SweepError(UsageError):
    """A variation or a scenario file that cannot be applied."""


# ---- variations ------------------------------------------------------------------------------


@attrs.frozen
class Variation:
    """One item part and the values tried for it (each an AST expression, with its text)."""

    spec: str  # the target as written, e.g. 'alpha.FY2025'
    kind: str  # 'schedule' | 'constant' | 'increment' | 'lo' | 'hi' | 'result'
    name: str
    year: int | None = None
    band: int | None = None
    values: tuple = ()  # ast expressions
    texts: tuple = ()  # the values as written

    @property
    def changed(self) -> str:
        return self.name


_TARGET = re.compile(
    r"""^\s*(?P<name>[^\W\d][^\s.=\[\]()]*)\s*
        (?:
            (?P<band>[\[(]\s*[^,\]\)]+?\s*,\s*[^,\]\)]+?\s*[\])])\s*\.\s*(?P<part>increment|lo|hi|result)
          | \.\s*(?P<year1>[^\s.=][^=]*?)
          | \[\s*(?P<year2>[^\]]+?)\s*\]
        )?\s*$""",
    re.X,
)


def parse_spec(text: str, version, *, where: str = "--vary") -> Variation:
    """'alpha.FY2025=0.60,0.65' -> a Variation checked against the version's items."""
    target, eq, values = text.partition("=")
    if not eq or not target.strip() or not values.strip():
        raise _error(where, text, "a variation is TARGET=VALUES, e.g. alpha.FY2025=0.60,0.65 or target_table[90%,95%).increment=0.30pp")
    return make_variation(target.strip(), _split_values(values), version, where=where, whole=text)


def make_variation(target: str, value_texts: list[str], version, *, where: str, whole: str | None = None) -> Variation:
    whole = whole if whole is not None else target
    m = _TARGET.match(target)
    if not m:
        raise _error(
            where,
            whole,
            f"'{target}' is not a variation target; write NAME.YEAR (a schedule entry), NAME (a constant), "
            "or TABLE[LO,HI).increment / .lo / .hi / .result (a band)",
        )
    from .lookup import find_name, suggestion

    kinds = (ast.Definition, ast.Table, ast.Schedule)
    name = find_name(m.group("name"), [version], kinds)  # a name, or a label: 医療費指数反映係数α.FY2025
    item = version.items.get(name) if name is not None else None
    if item is None:
        raise _error(
            where, whole, f"version {version.id} has no rule item '{m.group('name')}'" + suggestion(m.group("name"), [version], kinds)
        )
    year_text = m.group("year1") or m.group("year2")
    if m.group("band"):
        if not isinstance(item, ast.Table):
            raise _error(where, whole, f"'{name}' is a {_kind(item)}, not a band table")
        band = _find_band(item, m.group("band"), where, whole)
        part = m.group("part")
        values, texts = _values(value_texts, where, whole, expression=(part == "result"))
        if part == "increment" and _increment_of(item.bands[band].result) is None:
            raise _error(
                where,
                whole,
                f"band {item.bands[band].interval} of {name} has no increment to vary: its result is not "
                "'… + a number'; vary its .result instead",
            )
        return Variation(target, part, name, band=band, values=values, texts=texts)
    if year_text is not None:
        if not isinstance(item, ast.Schedule):
            raise _error(where, whole, f"'{name}' is a {_kind(item)}, not a schedule: only a schedule has a value per fiscal year")
        try:
            year = int(parse_year(year_text))
        except YearFormatError as e:
            raise _error(where, whole, str(e)) from None
        values, texts = _values(value_texts, where, whole)
        return Variation(target, "schedule", name, year=year, values=values, texts=texts)
    if isinstance(item, ast.Schedule):
        raise _error(where, whole, f"'{name}' is a schedule: give the fiscal year, e.g. {name}.FY2025")
    if isinstance(item, ast.Table):
        raise _error(where, whole, f"'{name}' is a band table: name a band and a part, e.g. {name}[90%,95%).increment")
    if not isinstance(item, ast.Definition) or not isinstance(item.expr, ast.Number):
        raise _error(
            where,
            whole,
            f"'{name}' is not a constant: its formula is not a single number; vary a schedule entry, a band, or a constant definition",
        )
    values, texts = _values(value_texts, where, whole)
    return Variation(target, "constant", name, values=values, texts=texts)


def _kind(item) -> str:
    """The item's kind as a sweep's messages say it: a table is a 'band table'."""
    if not isinstance(item, ast.VALUE_KINDS):
        return "item"
    return "band table" if item.kind == "table" else item.kind


def _error(where: str, spec: str, message: str) -> SweepError:
    return SweepError(finding("sweep-variation", f"{where} '{spec}': {message}"))


def _split_values(text: str) -> list[str]:
    """Split at commas outside brackets and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in '"「':
            quote = '"' if ch == '"' else "」"
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


_RANGE = re.compile(r"^(?P<a>[^.]\S*?)\s*\.\.\s*(?P<b>\S+?)\s*:\s*(?P<s>\S+)$")


def _values(texts: list[str], where: str, whole: str, *, expression: bool = False):
    """Value texts (with ranges expanded) -> (ast expressions, texts)."""
    out, shown = [], []
    for t in texts:
        if not t:
            raise _error(where, whole, "an empty value in the list")
        m = _RANGE.match(t) if not expression else None
        if m:
            for x, xt in _expand_range(m, where, whole):
                out.append(x)
                shown.append(xt)
            continue
        out.append(_parse_value(t, where, whole, expression=expression))
        shown.append(t)
    if len(out) > MAX_RANGE_VALUES:
        raise _error(where, whole, f"{len(out)} values; the limit is {MAX_RANGE_VALUES}")
    return tuple(out), tuple(shown)


def _expand_range(m, where, whole):
    a = _parse_value(m.group("a"), where, whole)
    b = _parse_value(m.group("b"), where, whole)
    s = _parse_value(m.group("s"), where, whole)
    units = {a.unit, b.unit, s.unit}
    if len(units) != 1:
        raise _error(where, whole, f"a range's start, end and step must have the same unit, not {a.text}, {b.text} and {s.text}")
    if s.value <= 0:
        raise _error(where, whole, f"a range's step must be positive, not {s.text}")
    if b.value < a.value:
        raise _error(where, whole, f"a range ends ({b.text}) before it starts ({a.text})")
    count = int((b.value - a.value) / s.value) + 1
    if count > MAX_RANGE_VALUES:
        raise _error(where, whole, f"the range gives {count} values; the limit is {MAX_RANGE_VALUES}")
    places = max(_places(x.text) for x in (a, b, s))
    scale = {"percent": 100, "pp": 100}.get(a.unit, 1)
    suffix = {"percent": "%", "pp": "pp", "yen": "円"}.get(a.unit, "")
    out = []
    for k in range(count):
        v = a.value + k * s.value
        text = _decimal(v * scale, places) + suffix
        out.append((ast.Number(v, a.unit, text), text))
    return out


def _places(text: str) -> int:
    digits = re.sub(r"[^0-9.]", "", text)
    return len(digits.partition(".")[2])


def _decimal(x: Fraction, places: int) -> str:
    from .render import decimal_text

    return decimal_text(x, places)


def _parse_value(text: str, where: str, whole: str, *, expression: bool = False):
    """A value as in the rule files: a literal (or, for .result, any expression)."""
    from .errors import RuleSyntaxError
    from .parse import parse_text

    try:
        rf = parse_text(f"ruleset SWEEP\ndefine sweep_value : ratio = {text}\n", where)
    except RuleSyntaxError:
        what = "an expression" if expression else "a value like 0.60, 60%, 0.30pp or 1000円"
        raise _error(where, whole, f"'{text}' is not {what}") from None
    (item,) = rf.items
    if not expression and not isinstance(item.expr, ast.Number):
        raise _error(where, whole, f"'{text}' is not a value like 0.60, 60%, 0.30pp or 1000円")
    return item.expr


def _find_band(table: ast.Table, text: str, where: str, whole: str) -> int:
    t = text.strip()
    lo_text, _, hi_text = t[1:-1].partition(",")
    try:
        lo = _parse_value(lo_text.strip(), where, whole)
        hi = _parse_value(hi_text.strip(), where, whole)
    except SweepError:
        raise _error(where, whole, f"'{t}' is not a band like [90%,95%)") from None
    lo_closed, hi_closed = t[0] == "[", t[-1] == "]"
    for i, b in enumerate(table.bands):
        if (b.lo.value, b.lo_closed, b.hi.value, b.hi_closed) == (lo.value, lo_closed, hi.value, hi_closed):
            return i
    bands = ", ".join(b.interval for b in table.bands)
    raise _error(where, whole, f"{table.name} has no band {t}; its bands are {bands}")


def _increment_of(e):
    """The literal of a band result `X + literal` / `X - literal`, or None."""
    if isinstance(e, ast.Binary) and e.op in ("+", "-") and isinstance(e.right, ast.Number):
        return e.right
    return None


# ---- applying a scenario ----------------------------------------------------------------------


def apply(version, assignments: tuple) -> object:
    """The version with each (Variation, value index) applied to its item: a new resolved Version."""
    for var, k in assignments:
        item = varied_item(version, var)
        version = version.with_item(item, _applied(item, var, var.values[k]))
    return version


def varied_item(version, var: Variation):
    """The piece a variation changes: a schedule's piece in force in its year, else the item's newest piece."""
    if var.kind == "schedule":
        looked = version.at(var.year).lookup(var.name)
        if isinstance(looked, ast.Schedule):
            return looked
    return version.items[var.name]


def _applied(item, var: Variation, value):
    if var.kind == "constant":
        return attrs.evolve(item, expr=value)
    if var.kind == "schedule":
        return attrs.evolve(item, entries=_set_entry(item.entries, var.year, value))
    bands = list(item.bands)
    b = bands[var.band]
    if var.kind == "result":
        bands[var.band] = attrs.evolve(b, result=value)
    elif var.kind == "increment":
        inc = _increment_of(b.result)
        lit = value if value.value >= 0 else attrs.evolve(value, value=-value.value, text=value.text.lstrip("-"))
        op = "+" if value.value >= 0 else "-"
        bands[var.band] = attrs.evolve(b, result=attrs.evolve(b.result, op=op, right=attrs.evolve(lit, span=inc.span)))
    elif var.kind == "hi":
        old = b.hi
        bands[var.band] = attrs.evolve(b, hi=value)
        if var.band + 1 < len(bands) and bands[var.band + 1].lo.value == old.value:
            bands[var.band + 1] = attrs.evolve(bands[var.band + 1], lo=value)
    elif var.kind == "lo":
        old = b.lo
        bands[var.band] = attrs.evolve(b, lo=value)
        if var.band > 0 and bands[var.band - 1].hi.value == old.value:
            bands[var.band - 1] = attrs.evolve(bands[var.band - 1], hi=value)
    return attrs.evolve(item, bands=tuple(bands))


def _set_entry(entries: tuple, year: int, value) -> tuple:
    """The schedule's entries with FY year's value set; a range entry is split around it."""
    out = []
    done = False
    for e in entries:
        if not done and year in e.years:
            p = e.years
            if p.first is None or p.first < year:
                before = Period(p.first, year - 1)
                out.append(attrs.evolve(e, years=before, years_text=str(before)))
            out.append(ast.Entry(Period(year, year), value, None, f"FY{year}"))
            if p.last is None or p.last > year:
                after = Period(year + 1, p.last)
                out.append(attrs.evolve(e, years=after, years_text=str(after)))
            done = True
        else:
            out.append(e)
    if not done:
        new = ast.Entry(Period(year, year), value, None, f"FY{year}")
        at = next((i for i, e in enumerate(out) if e.years.first is not None and e.years.first > year), len(out))
        out.insert(at, new)
    return tuple(out)


def check_scenario(version, assignments: tuple) -> list[Finding]:
    """Static check of the varied items (units, band gaps and overlaps, schedule years; cycles when a
    band's result was replaced), as `kokuho check` checks a version's own items."""
    from .check import Checker
    from .errors import UnitError

    varied = apply(version, assignments)
    names = {var.name for var, _ in assignments}
    checker = Checker(varied)
    for var in sorted({var for var, _ in assignments}, key=lambda v: (v.name, v.spec)):
        try:
            checker.check_item(varied_item(varied, var))
        except UnitError as err:
            checker.add(err.code, err.message, err.span)
    if any(var.kind == "result" for var, _ in assignments):
        checker.check_cycles(names)
    return [f for f in checker.findings if f.severity == "error"]


def _check_all(version, scs) -> None:
    """Check each varied item once per combination of the values that touch it (not per scenario)."""
    by_item: dict = {}
    for sc in scs[1:]:
        groups: dict = {}
        for var, k in sc.assignments:
            groups.setdefault(var.name, []).append((var, k))
        for name, assignments in groups.items():
            key = (name, tuple((var.spec, k) for var, k in assignments))
            if key not in by_item:
                by_item[key] = (sc, tuple(assignments))
    for sc, assignments in by_item.values():
        problems = check_scenario(version, assignments)
        if problems:
            f = problems[0]
            raise SweepError(finding("sweep-invalid", f"scenario {sc.number} ({sc.label()}) does not check: {f.message}", f.span))


# ---- scenarios ---------------------------------------------------------------------------------


@attrs.frozen
class Scenario:
    number: int
    name: str  # a named scenario's name, or ''
    assignments: tuple  # ((Variation, value index), ...)

    def label(self) -> str:
        parts = [f"{var.spec}={var.texts[k]}" for var, k in self.assignments]
        return "; ".join(([self.name] if self.name else []) + parts) or "(unvaried)"


def scenarios(variations: list[Variation], named: list[tuple[str, tuple]] | None = None) -> list[Scenario]:
    """Scenario 0 (unvaried), then each named scenario (or none) crossed with every combination of the variations."""
    out = [Scenario(0, "", ())]
    grid = list(itertools.product(*[range(len(v.values)) for v in variations])) if variations else [()]
    heads = named or [("", ())]
    total = len(heads) * len(grid)
    if total > MAX_SCENARIOS:
        raise SweepError(finding("sweep-too-many", f"{total:,} scenarios; the limit is {MAX_SCENARIOS:,}: vary fewer values"))
    for name, fixed in heads:
        for combo in grid:
            assignments = tuple(fixed) + tuple(zip(variations, combo))
            if assignments or name:
                out.append(Scenario(len(out), name, assignments))
    return out


def load_scenario_file(path: str, version, *, where: str | None = None):
    """A YAML scenario file -> (version id or None, period text or None, [Variation], [(name, assignments)])."""
    import yaml

    from .source import MAX_SCENARIO_BYTES, read_bytes

    where = where or str(path)
    raw = read_bytes(path, "scenario file", limit=MAX_SCENARIO_BYTES)
    try:
        text = raw.decode("utf-8-sig")
        root = yaml.compose(text, Loader=yaml.BaseLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        span = ast.Span(where, mark.line + 1, mark.column + 1) if mark else ast.Span(where, 1, 1)
        raise SweepError(finding("sweep-file", f"not a readable YAML scenario file: {getattr(e, 'problem', None) or e}", span)) from None
    if root is None:
        raise SweepError(finding("sweep-file", "the scenario file is empty", ast.Span(where, 1, 1)))
    top = _mapping(root, where, "the scenario file")
    allowed = {"version", "period", "vary", "scenarios"}
    for key, node in top.items():
        if key not in allowed:
            raise SweepError(
                finding("sweep-file", f"unknown key '{key}'; a scenario file has {', '.join(sorted(allowed))}", _span(node, where))
            )
    vid = _scalar(top["version"], where, "version") if "version" in top else None
    period = _scalar(top["period"], where, "period") if "period" in top else None
    return vid, period, top, where


def scenario_file_parts(top: dict, where: str, version):
    variations: list[Variation] = []
    if "vary" in top:
        for target, node in _mapping(top["vary"], where, "'vary'").items():
            texts = _value_list(node, where, target)
            variations.append(_at(node, where, lambda: make_variation(target, texts, version, where="vary", whole=target)))  # noqa: B023 (called within this iteration)
    named: list[tuple[str, tuple]] = []
    if "scenarios" in top:
        seq = top["scenarios"]
        import yaml

        if not isinstance(seq, yaml.SequenceNode):
            raise SweepError(finding("sweep-file", "'scenarios' is a list of {name: ..., set: {TARGET: VALUE, ...}}", _span(seq, where)))
        for node in seq.value:
            entry = _mapping(node, where, "a scenario")
            for key in entry:
                if key not in ("name", "set"):
                    raise SweepError(
                        finding("sweep-file", f"unknown key '{key}' in a scenario; a scenario has name and set", _span(entry[key], where))
                    )
            if "name" not in entry:
                raise SweepError(finding("sweep-file", "a scenario needs a name", _span(node, where)))
            name = _scalar(entry["name"], where, "name")
            fixed = []
            for target, vnode in _mapping(entry.get("set"), where, f"the 'set' of scenario '{name}'").items():
                value = _scalar(vnode, where, target)
                var = _at(vnode, where, lambda: make_variation(target, [value], version, where=f"scenario '{name}'", whole=target))  # noqa: B023 (called within this iteration)
                if len(var.values) != 1:
                    raise SweepError(
                        finding(
                            "sweep-file",
                            f"scenario '{name}' sets {target} to {len(var.values)} values; a scenario sets one",
                            _span(vnode, where),
                        )
                    )
                clash = next((v for v in variations if same_target(v, var)), None)
                if clash is not None:
                    raise SweepError(
                        finding(
                            "sweep-file",
                            f"scenario '{name}' sets {target}, which vary: varies too ({clash.spec}); "
                            "a key is either set by a scenario or varied, not both",
                            _span(vnode, where),
                        )
                    )
                fixed.append((var, 0))
            named.append((name, tuple(fixed)))
    return variations, named


def same_target(a: Variation, b: Variation) -> bool:
    """Whether two variations change the same part of the same item (alpha.R7 and alpha.FY2025 do)."""
    return (a.name, a.kind, a.year, a.band) == (b.name, b.kind, b.year, b.band)


def _at(node, where, make):
    try:
        return make()
    except SweepError as e:
        f = e.findings[0]
        raise SweepError(attrs.evolve(f, span=_span(node, where))) from None


def _span(node, where) -> ast.Span:
    m = getattr(node, "start_mark", None)
    return ast.Span(where, m.line + 1, m.column + 1) if m else ast.Span(where, 1, 1)


def _mapping(node, where, what) -> dict:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise SweepError(finding("sweep-file", f"{what} must be a mapping of names to values", _span(node, where)))
    out = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            raise SweepError(finding("sweep-file", "keys must be plain text", _span(k, where)))
        if k.value in out:
            raise SweepError(finding("sweep-file", f"'{k.value}' is given twice", _span(k, where)))
        out[k.value] = v
    return out


def _scalar(node, where, what) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
        raise SweepError(finding("sweep-file", f"{what} must be a single value", _span(node, where)))
    return node.value.strip()


def _value_list(node, where, target) -> list[str]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return [_scalar(x, where, target) for x in node.value]
    return _split_values(_scalar(node, where, target))


# ---- evaluating ---------------------------------------------------------------------------------


@attrs.frozen
class SweepPlan:
    """What to evaluate: the version, the years, the scenarios and the measured names."""

    version: object
    years: tuple[FiscalYear, ...]
    variations: tuple
    scenarios: tuple
    totals: tuple  # names summed over municipalities (and years)
    target: str | None  # compared per municipality: how many change
    levy: str | None  # compared per municipality: how many change, and the largest movers
    movers: int = DEFAULT_MOVERS


@attrs.frozen
class ScenarioRow:
    scenario: Scenario
    totals: tuple  # per total name: exact sum over municipalities and years, or Undefined
    per_year: tuple  # per year: tuple of per-name totals
    target_changed: int | None  # municipalities whose value differs in any year of the period
    levy_changed: int | None
    movers: tuple  # ((Municipality, exact change summed over the period), ...), largest first
    by_year: tuple = ()  # per year: (target_changed, levy_changed, movers) of that year alone


@attrs.frozen
class SweepResult:
    plan: SweepPlan
    rows: tuple
    municipalities: tuple


def plan(version, years, variations, named=None, *, totals=None, target=None, levy=None, movers=DEFAULT_MOVERS) -> SweepPlan:
    """Check every scenario statically, then fix what is measured (defaults from the version's summary)."""
    scs = scenarios(variations, named)
    _check_all(version, scs)
    items = version.items
    if totals is None:
        summary = items.get("summary")
        totals = tuple(n for line in (summary.lines if summary else ()) if line.kind == "total" for n in line.names)
    from .lookup import resolve_columns

    def known(n):  # a name or a label
        return resolve_columns([n], version)[0]

    totals = tuple(known(n) for n in totals)
    target = known(target) if target else target
    levy = known(levy) if levy else levy
    if target is None:
        target = DEFAULT_TARGET if DEFAULT_TARGET in items else None
    if levy is None:
        levy = next((n for n in DEFAULT_LEVIES if n in items), None)
    return SweepPlan(version, tuple(FiscalYear(y) for y in years), tuple(variations), tuple(scs), tuple(totals), target, levy, movers)


def run(plan: SweepPlan, data, *, jobs: int | None = None) -> SweepResult:
    """Evaluate every scenario (in parallel when there are several and jobs allows); rows in scenario order."""
    from .columnar import ColumnData

    if not isinstance(data, ColumnData):
        data = ColumnData.from_dataset(data, plan.version.inputs())
    jobs = jobs or os.cpu_count() or 1
    numbers = [sc.number for sc in plan.scenarios]
    global _WORK
    _WORK = (plan, data)
    try:
        base_row = _evaluate_scenario(0)
        rest = numbers[1:]
        if jobs > 1 and len(rest) >= 2 * jobs and _fork_available():
            import multiprocessing

            chunk = max(1, min(64, len(rest) // (jobs * 4)))
            chunks = [rest[i : i + chunk] for i in range(0, len(rest), chunk)]
            import signal

            # Workers leave Ctrl-C to the parent (which stops them): no traceback from each worker.
            with multiprocessing.get_context("fork").Pool(
                jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)
            ) as pool:
                parts = pool.map(_evaluate_chunk, chunks)
            rows = [r for part in parts for r in part]
        else:
            rows = _evaluate_chunk(rest)
    finally:
        _WORK = None
        _WORKER.clear()  # the unvaried evaluator belongs to this run only
    return SweepResult(plan, (base_row,) + tuple(rows), data.municipalities)


_WORK = None  # (plan, data): set before the worker processes fork, so they inherit it
_WORKER: dict = {}  # per process: the unvaried version's evaluator


def _fork_available() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _evaluate_chunk(numbers) -> list:
    return [_evaluate_scenario(n) for n in numbers]


def _base_evaluator():
    from .columnar import ColumnEvaluator

    plan, data = _WORK[0], _WORK[1]
    key = (id(plan), id(data))  # a forked worker inherits the parent's, values included
    ev = _WORKER.get(key)
    if ev is None:
        _WORKER.clear()
        ev = _WORKER[key] = ColumnEvaluator(plan.version, data)
    return ev


def _evaluate_scenario(number: int):
    from .columnar import ColumnEvaluator

    plan, data = _WORK[0], _WORK[1]
    sc = plan.scenarios[number]
    base = _base_evaluator()
    if number == 0:
        ev = base
    else:
        version = apply(plan.version, sc.assignments)
        ev = ColumnEvaluator.for_scenario(base, version, {var.name for var, _ in sc.assignments})
    per_year = []
    for y in plan.years:
        per_year.append(tuple(ev.total(name, y) for name in plan.totals))
    totals = tuple(_sum_years([py[i] for py in per_year]) for i in range(len(plan.totals)))
    if number == 0:
        return ScenarioRow(sc, totals, tuple(per_year), None, None, (), tuple((None, None, ()) for _ in plan.years))
    by_year = []
    t_any = l_any = None
    levy_total = None
    for y in plan.years:
        t_mask = ev.differs(base.fast(plan.target, y), ev.fast(plan.target, y)) if plan.target else None
        l_mask = ev.differs(base.fast(plan.levy, y), ev.fast(plan.levy, y)) if plan.levy else None
        d = ev.difference(ev.fast(plan.levy, y), base.fast(plan.levy, y)) if plan.levy else None
        t_any = t_mask if t_any is None else (t_any | t_mask if t_mask is not None else t_any)
        l_any = l_mask if l_any is None else (l_any | l_mask if l_mask is not None else l_any)
        if d is not None:
            levy_total = d if levy_total is None else [_add_known(a, b) for a, b in zip(levy_total, d)]
        by_year.append(
            (
                None if t_mask is None else int(t_mask.sum()),
                None if l_mask is None else int(l_mask.sum()),
                _largest(d, plan.movers, data.municipalities),
            )
        )
    return ScenarioRow(
        sc,
        totals,
        tuple(per_year),
        None if t_any is None else int(t_any.sum()),
        None if l_any is None else int(l_any.sum()),
        _largest(levy_total, plan.movers, data.municipalities),
        tuple(by_year),
    )


def _sum_years(values):
    from .values import is_undef

    total = Fraction(0)
    for v in values:
        if is_undef(v):
            return v
        total += v
    return total


def _add_known(a, b):
    """Sum of changes over years, a year where the value is undefined adding nothing."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _largest(changes, k, municipalities) -> tuple:
    """The k largest changes by size (ties: by code), as ((Municipality, change), ...)."""
    if k <= 0 or changes is None:
        return ()
    moved = [(abs(x), i, x) for i, x in enumerate(changes) if x is not None and x != 0]
    moved.sort(key=lambda t: (-t[0], municipalities[t[1]].code))
    return tuple((municipalities[i], x) for _, i, x in moved[:k])


# ---- rendering -------------------------------------------------------------------------------------


def table(
    result: SweepResult, *, per_year: bool = False, headers: str = "ja", display: bool = False, readers: bool | None = None
) -> tuple[list[str], list[list[str]]]:
    """The result as a header and rows of text: plain figures (1400000) for csv and json, figures
    for people (1,400,000円) with display, as the table and markdown formats show them. Undefined
    reasons are in the headers' language where people read them (readers; by default with display)."""
    from .display import version_labels
    from .render import format_display, format_value

    show = (lambda x, u: format_display(x, u, undefined="")) if display else format_value

    plan = result.plan
    v = plan.version
    label = (lambda n: getattr(v.items.get(n), "label", None) or n) if headers == "ja" else (lambda n: n)
    readers = display if readers is None else readers
    lang, labels = ("ja" if headers == "ja" and readers else "en"), version_labels(v)
    unit = lambda n: getattr(v.items.get(n), "unit", "ratio")  # noqa: E731
    years = plan.years
    span = Period(years[0], years[-1]).both if years else ""
    head = (["シナリオ", "名前"] if headers == "ja" else ["scenario", "name"]) + [var.spec for var in plan.variations]
    if per_year:
        head.append("年度" if headers == "ja" else "fiscal_year")
        head += [label(n) for n in plan.totals]
    else:
        head += [f"{label(n)} {span}" for n in plan.totals]
    if plan.target:
        head.append(f"{label(plan.target)} 変更団体数" if headers == "ja" else f"{plan.target} changed")
    if plan.levy:
        head.append(f"{label(plan.levy)} 変更団体数" if headers == "ja" else f"{plan.levy} changed")
        head.append(
            f"{label(plan.levy)} 最大変動" + ("" if per_year else f" ({span})") if headers == "ja" else f"{plan.levy} largest movers"
        )
    head.append("未定義の理由" if headers == "ja" else "undefined")
    rows = []
    for r in result.rows:
        sc = r.scenario
        chosen = {var.spec: var.texts[k] for var, k in sc.assignments}
        lead = [str(sc.number), sc.name if sc.number else "(unvaried)"] + [chosen.get(var.spec, "") for var in plan.variations]

        def tail_of(target_changed, levy_changed, movers):
            tail = []
            if plan.target:
                tail.append("" if target_changed is None else str(target_changed))
            if plan.levy:
                tail.append("" if levy_changed is None else str(levy_changed))
                tail.append("; ".join(f"{m.code} {m.name} {_signed(x, unit(plan.levy), display)}" for m, x in movers))
            return tail

        tail = tail_of(r.target_changed, r.levy_changed, r.movers)
        if per_year:
            for y, vals, yearly in zip(years, r.per_year, r.by_year):
                cells = [show(x, unit(n)) for n, x in zip(plan.totals, vals)]
                rows.append(lead + [y.both] + cells + tail_of(*yearly) + [_reasons(vals, lang, labels)])
        else:
            cells = [show(x, unit(n)) for n, x in zip(plan.totals, r.totals)]
            rows.append(lead + cells + tail + [_reasons(r.totals, lang, labels)])
    return head, rows


def _reasons(values, lang: str, labels: dict) -> str:
    from .display import reason_text
    from .values import is_undef

    seen = []
    for x in values:
        if is_undef(x) and x.reason not in seen:
            seen.append(x.reason)
    return "; ".join(reason_text(r, lang, labels) for r in seen)


def _signed(x, unit: str, display: bool = False) -> str:
    from .render import format_display, format_value, unit_suffix

    text = format_display(abs(x), unit) if display else format_value(abs(x), unit) + unit_suffix(unit)
    return ("+" if x > 0 else "−") + text


def render(result: SweepResult, fmt: str, *, per_year: bool = False, headers: str = "ja") -> str:
    """csv (UTF-8 with BOM) / markdown / table / json. xlsx and an HTML chart plug in through RENDERERS."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:  # the command line offers only the registered formats
        raise ValueError(f"sweep output cannot be {fmt}; formats are {', '.join(sorted(RENDERERS))}")
    return renderer(result, per_year=per_year, headers=headers)


def _render_text(fmt):
    def render_fmt(result, *, per_year=False, headers="ja"):
        from .render import to_csv, to_markdown, to_table

        head, rows = table(result, per_year=per_year, headers=headers, display=fmt != "csv")
        return {"csv": to_csv, "markdown": to_markdown, "table": to_table}[fmt](head, rows) + ("" if fmt == "csv" else "\n")

    return render_fmt


def _render_json(result, *, per_year=False, headers="ja"):
    from .render import to_json

    head, rows = table(result, per_year=per_year, headers=headers)
    return to_json({"version": result.plan.version.id, "years": list(result.plan.years), "columns": head, "rows": rows})


def sweep_workbook(result, *, per_year: bool = False, headers: str = "ja") -> bytes:
    """`kokuho sweep --format xlsx`: the sweep's table (`table`) on one sheet, totals and counts as numbers."""
    from .xlsx import Sheet, V, workbook

    plan = result.plan
    head, rows = table(result, per_year=per_year, headers=headers, readers=True)
    first = 2 + len(plan.variations) + (1 if per_year else 0)
    units = [getattr(plan.version.items.get(n), "unit", "ratio") for n in plan.totals]
    raw = [vals for r in result.rows for vals in (r.per_year if per_year else (r.totals,))]
    out = []
    for cells, vals in zip(rows, raw):
        cells = [c if c != "" else None for c in cells]
        cells[0] = V(int(cells[0]), "count")
        for k, (x, u) in enumerate(zip(vals, units)):
            cells[first + k] = V(x, u)
        for k in range(first + len(units), len(cells)):
            if isinstance(cells[k], str) and cells[k].isdigit():
                cells[k] = V(int(cells[k]), "count")
        out.append(tuple(cells))
    return workbook([Sheet("感度分析" if headers != "en" else "sweep", tuple(head), tuple(out), 2)])


def _render_xlsx(result, *, per_year=False, headers="ja"):
    return sweep_workbook(result, per_year=per_year, headers=headers)


# Each renderer takes the SweepResult ("html", a chart, may plug in here too).
RENDERERS = {
    "csv": _render_text("csv"),
    "markdown": _render_text("markdown"),
    "table": _render_text("table"),
    "json": _render_json,
    "xlsx": _render_xlsx,
}


# ---- the library entry point for `kokuho sweep` ---------------------------------------------------


@attrs.frozen
class ScenarioFile:
    """A scenario file read (load_scenario_file): its `version:` and `period:` as written, and the rest for scenario_file_parts."""

    version: str | None
    period: str | None  # text: the command line reads it as it reads --period (api.years_asked)
    top: object
    where: str

    def defaults(self, version_id: str | None, year: str | None, period: str | None) -> tuple[str | None, str | None]:
        """(version id, period text): --version, else the file's; --period, else the file's when no --year is given."""
        return version_id or self.version, (self.period if period is None and year is None else period)


def read_scenario_file(session, version_id: str | None, path: str) -> ScenarioFile:
    """--scenarios FILE, read before the version is chosen (the file may name it); --version, when given, is checked first."""
    base_version = session.version(version_id) if version_id else None
    return ScenarioFile(*load_scenario_file(path, base_version))


def sweep(
    session,
    version: Version,
    years,
    *,
    vary=(),
    scenarios: ScenarioFile | None = None,
    totals=None,
    target=None,
    levy=None,
    movers=DEFAULT_MOVERS,
    jobs=None,
) -> SweepResult:
    """Parse the variations (command line and file), check every scenario, evaluate them all.

    The version and the fiscal years (a list) are the command line's, resolved once with the scenario
    file's defaults (ScenarioFile.defaults, api.years_asked, Session.years).
    """
    file_parts = (scenarios.top, scenarios.where) if scenarios is not None else None
    variations = [parse_spec(s, version) for s in vary]
    named = None
    if file_parts is not None:
        file_vars, named = scenario_file_parts(file_parts[0], file_parts[1], version)
        for scenario_name, fixed in named:
            for var, _ in fixed:
                clash = next((v for v in variations if same_target(v, var)), None)
                if clash is not None:
                    raise SweepError(
                        finding(
                            "sweep-variation",
                            f"--vary '{clash.spec}': scenario '{scenario_name}' of {file_parts[1]} sets {var.spec}; "
                            "a key is either set by a scenario or varied, not both",
                        )
                    )
        variations = file_vars + variations
    if not variations and not named:
        raise SweepError(finding("sweep-nothing", "nothing to vary: give --vary TARGET=VALUES or --scenarios FILE"))
    dupes = sorted({v.spec for k, v in enumerate(variations) if any(same_target(v, w) for w in variations[:k] + variations[k + 1 :])})
    if dupes:
        raise SweepError(finding("sweep-variation", f"'{dupes[0]}' is varied twice; give all its values in one --vary"))
    p = plan(version, years, variations, named, totals=totals, target=target, levy=levy, movers=movers)
    return run(p, session.data_for(version), jobs=jobs)
