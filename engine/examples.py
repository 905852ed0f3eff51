"""Examples in rule files -> results: each example's own small Dataset, evaluated under every version that has it.

An example states a few municipalities' inputs and the prefecture's, for one fiscal year,
and the results expected. Its municipalities are the whole dataset, so aggregates (β, γ,
the levy allocation) run over them only. An assignment without `[year]` is for the
example's year; `undefined` leaves a value missing. Expected values are compared exactly;
`expect ... = undefined` expects an undefined value. A version runs every example it has,
inherited ones included, unless it overrides (`override example NAME`) or removes it.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from . import ast
from .check import example_problems, example_value, literal_text
from .columnar import ColumnData, ColumnEvaluator
from .data import Dataset, Municipality
from .values import Undefined, is_undef
from .versions import RuleSet, Version
from .years import FiscalYear

EXPECT_UNDEFINED = Undefined("expected to be undefined")


# ---- values ------------------------------------------------------------------------------------
# An example's values are checked statically with the rules (engine/check.py: example_value, example_problems).


def example_dataset(version: Version, ex: ast.Example) -> Dataset:
    """The example's municipalities and prefecture values as a Dataset (the whole dataset of the run)."""
    inputs = version.inputs()
    path = ex.span.file
    munis = tuple(Municipality(m.code, m.name) for m in ex.municipalities)
    years = {ex.year}
    values: dict = {}
    rows: dict = {}
    for m in ex.municipalities:
        for a in m.values:
            decl = inputs.get(a.name)
            if decl is None or decl.scope != "municipal":
                continue
            y = a.year or ex.year
            years.add(y)
            rows.setdefault((m.code, y), (path, a.span.line))
            values.setdefault((m.code, y), {}).setdefault(a.name, example_value(decl.unit, a.value))
    prefecture: dict = {n: {} for n, d in inputs.items() if d.scope == "prefecture"}
    prefecture_rows: dict = {}
    for a in ex.prefecture:
        decl = inputs.get(a.name)
        if decl is None or decl.scope != "prefecture":
            continue
        y = a.year or ex.year
        years.add(y)
        prefecture_rows.setdefault(y, (path, a.span.line))
        v = example_value(decl.unit, a.value)
        if v is not None:
            prefecture[a.name].setdefault(y, v)
    ys = tuple(sorted(years))
    municipal = {
        n: {y: tuple(values.get((m.code, y), {}).get(n) for m in munis) for y in ys} for n, d in inputs.items() if d.scope == "municipal"
    }
    return Dataset(munis, municipal, prefecture, rows, prefecture_rows, ys, (path,), {path: len(ex.municipalities)})


# ---- running -------------------------------------------------------------------------------------


@attrs.frozen
class Outcome:
    """One `expect` line checked: the value expected, the value computed, and whether they agree."""

    expectation: ast.Expectation
    unit: str
    expected: object  # a value, or EXPECT_UNDEFINED
    actual: object  # a value or Undefined(reason)
    passed: bool
    index: int | None  # the municipality's position in the example's dataset
    problem: str | None = None  # the expected value does not fit the definition's unit


@attrs.frozen
class ExampleRun:
    """One example run under one version."""

    version: Version
    example: ast.Example
    evaluator: ColumnEvaluator | None
    outcomes: tuple[Outcome, ...]
    problems: tuple[tuple[str, str, ast.Span], ...]  # the example cannot run as written

    @property
    def passed(self) -> bool:
        return not self.problems and all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)

    @property
    def where(self) -> str:
        from .explain import shown_path  # explain is for reporting runs: `kokuho check` does not load it

        return f"{shown_path(self.example.span.file)}:{self.example.span.line}"

    @property
    def title(self) -> str:
        label = f" 「{self.example.label}」" if self.example.label else ""
        return f"{self.version.id} {self.example.name}{label}"


def matches(expected, actual) -> bool:
    """Exact agreement: numbers as exact fractions, true/false and text as themselves, undefined with undefined."""
    if expected is EXPECT_UNDEFINED:
        return is_undef(actual)
    if is_undef(actual):
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, str) or isinstance(actual, str):
        return isinstance(expected, str) and isinstance(actual, str) and expected == actual
    return Fraction(expected) == Fraction(actual)


def run_example(version: Version, ex: ast.Example) -> ExampleRun:
    """Evaluate the version for the example's year over the example's own dataset and check each `expect`."""
    problems = example_problems(version, ex, names=True)
    if problems:
        return ExampleRun(version, ex, None, (), tuple(problems))
    data = ColumnData.from_dataset(example_dataset(version, ex), version.inputs())
    ev = ColumnEvaluator(version, data)
    codes = [m.code for m in data.municipalities]
    outcomes = []
    for x in ex.expectations:
        item = version.items[x.name]
        unit = item.unit
        problem = None
        try:
            expected = example_value(unit, x.value, what="expect")
        except ValueError as e:
            expected, problem = x.value, str(e)
        expected = EXPECT_UNDEFINED if expected is None else expected
        value = ev.value(x.name, ex.year)
        index = codes.index(x.code) if x.code is not None else None
        if isinstance(value, tuple):
            actual = (
                value[index]
                if index is not None
                else Undefined(
                    f'{x.name} has a value per municipality; expect it for one, as in expect "{codes[0] if codes else "131016"}" {x.name} = …'
                )
            )
        else:
            actual = value
        passed = problem is None and matches(expected, actual)
        outcomes.append(Outcome(x, unit, expected, actual, passed, index, problem))
    return ExampleRun(version, ex, ev, tuple(outcomes), ())


def run_version(version: Version) -> list[ExampleRun]:
    return [run_example(version, ex) for ex in version.examples()]


def run_examples(ruleset: RuleSet, versions: list[str] | None = None) -> list[ExampleRun]:
    """Every example of every version (inherited ones run again under the extending version)."""
    runs: list[ExampleRun] = []
    for vid in versions or ruleset.version_ids:
        runs.extend(run_version(ruleset.version(vid)))
    return runs


# ---- reporting -----------------------------------------------------------------------------------


def _expected_text(o: Outcome) -> str:
    if o.problem is not None:
        return f"{literal_text(o.expected)} ({o.problem})"
    from .explain import show

    return "undefined" if o.expected is EXPECT_UNDEFINED else show(o.expected, o.unit)


def _actual_text(o: Outcome) -> str:
    from .explain import show

    return f"undefined ({o.actual.reason})" if is_undef(o.actual) else show(o.actual, o.unit)


def _subject(run: ExampleRun, o: Outcome) -> str:
    x = o.expectation
    if x.code is None:
        return f"expect prefecture {x.name}"
    m = run.evaluator.data.municipalities[o.index] if run.evaluator is not None and o.index is not None else None
    return f'expect "{x.code}" {x.name}' + (f" ({m.name})" if m else "")


def failure_text(run: ExampleRun, *, derivation: bool = True, depth: int | None = None) -> str:
    """Why one example failed: each failing `expect` as file:line, expected, actual, and the actual value's derivation."""
    lines = [f"{run.where}: example {run.title} failed under version {run.version.id}, {FiscalYear(run.example.year).both}"]
    from .errors import finding
    from .explain import explain, render_explanation, shown_path

    for code, message, span in run.problems:
        lines.append(
            "  "
            + finding(code, message, span, run.version.file.source if span.file == run.version.file.path else None)
            .render()
            .replace("\n", "\n  ")
        )
    for o in run.failures:
        x = o.expectation
        lines.append(f"  {shown_path(x.span.file)}:{x.span.line}: {_subject(run, o)}")
        lines.append(f"    expected: {_expected_text(o)}")
        lines.append(f"    actual:   {_actual_text(o)}")
        if (
            derivation
            and run.evaluator is not None
            and not (x.code is None and isinstance(run.evaluator.value(x.name, run.example.year), tuple))
        ):
            tree = render_explanation(explain(run.evaluator, x.name, run.example.year, o.index, depth=depth))
            body = tree.splitlines()[1:]  # the heading repeats what the lines above say
            lines.append("    derivation of the actual value:")
            lines.extend("      " + line for line in body)
    return "\n".join(lines) + "\n"


def render_report(runs: list[ExampleRun], *, derivation: bool = True, depth: int | None = None) -> str:
    """One line per example run, then each failure in full, then a count."""
    lines = []
    for r in runs:
        lines.append(f"{'ok  ' if r.passed else 'FAIL'} {r.title}  ({r.where}, {FiscalYear(r.example.year).both})")
    failed = [r for r in runs if not r.passed]
    for r in failed:
        lines.append("")
        lines.append(failure_text(r, derivation=derivation, depth=depth).rstrip("\n"))
    versions = sorted({r.version.id for r in runs})
    checks = sum(len(r.outcomes) for r in runs)
    lines.append("")
    lines.append(
        f"{len(runs)} example run{'s' if len(runs) != 1 else ''} ({checks} expectations) in "
        f"{len(versions)} version{'s' if len(versions) != 1 else ''}: {len(runs) - len(failed)} passed, {len(failed)} failed"
    )
    return "\n".join(lines) + "\n"


def report_json(runs: list[ExampleRun]) -> dict:
    from .explain import explain, explanation_json, shown_path

    out = []
    for r in runs:
        out.append(
            {
                "version": r.version.id,
                "example": r.example.name,
                "label": r.example.label,
                "file": shown_path(r.example.span.file),
                "line": r.example.span.line,
                "fiscal_year": FiscalYear(r.example.year).both,
                "passed": r.passed,
                "problems": [{"code": c, "message": m, "file": shown_path(s.file), "line": s.line} for c, m, s in r.problems],
                "expectations": [
                    {
                        "line": o.expectation.span.line,
                        "code": o.expectation.code,
                        "name": o.expectation.name,
                        "expected": _expected_text(o),
                        "actual": _actual_text(o),
                        "passed": o.passed,
                        **(
                            {
                                "derivation": explanation_json(explain(r.evaluator, o.expectation.name, r.example.year, o.index))[
                                    "derivation"
                                ]
                            }
                            if not o.passed
                            and not (o.index is None and isinstance(r.evaluator.value(o.expectation.name, r.example.year), tuple))
                            else {}
                        ),
                    }
                    for o in r.outcomes
                ],
            }
        )
    return {"runs": out, "passed": sum(1 for r in runs if r.passed), "failed": sum(1 for r in runs if not r.passed)}


# ---- loading rule files for a test run -----------------------------------------------------------


def load_for_test(paths=None) -> tuple[RuleSet, list[str]]:
    """Rule files or directories -> the rule set and the versions whose examples to run.

    A directory runs every version in it. A file runs its own version; the version it extends,
    if not given too, is loaded from a file beside it (engine/loading.py, bases_beside). The rules must
    pass their checks first (else RuleCheckError: the examples cannot run).
    """
    from .loading import load

    loaded = load(paths, bases_beside=True)
    return loaded.ruleset, loaded.versions
