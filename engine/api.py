"""The library's entry points for the CLI and other tools: load rules and data once, then ask."""

from __future__ import annotations

from pathlib import Path

import attrs

from . import data as data_mod
from .ast import KEY_NAMES
from .columnar import ColumnData, ColumnEvaluator
from .errors import Finding, KokuhoError, UsageError, finding
from .loading import check_ruleset, load
from .render import eval_csv_chunks, render_eval
from .render import render_summary as _render_summary
from .results import EvalResult, evaluate
from .summary import summarise
from .versions import RuleSet, Version, default_rules_dir
from .years import FiscalYear, Period, YearFormatError, parse_period, parse_year

__all__ = ["Session", "check", "split_names", "years_asked", "render_eval", "render_summary", "eval_csv_chunks"]


@attrs.frozen
class CheckReport:
    findings: list[Finding]
    file_count: int
    versions: list[str]


def check(paths=None) -> CheckReport:
    """Parse and check rule files (engine/loading.py, keep_going): syntax errors and extends problems become findings too."""
    loaded = load(paths, keep_going=True)
    return CheckReport(loaded.findings, loaded.file_count, loaded.versions)


_check_all = check_ruleset  # the name tests have used for "every finding of a rule set"


def years_asked(year: str | None = None, period: str | None = None) -> FiscalYear | Period | None:
    """--year / --period text in any accepted form -> a FiscalYear, a Period, or None when neither is given.

    The one place a command's year text is read: the command line calls it once and passes the
    result down (Session.choose_version, Session.years); text that is neither is a bad-year error.
    """
    try:
        if year is not None:
            return parse_year(year)
        if period is not None:
            return parse_period(period)
    except YearFormatError as e:
        raise UsageError(finding("bad-year", str(e))) from None
    return None


def _year_list(asked: FiscalYear | Period) -> list[FiscalYear]:
    return [asked] if isinstance(asked, FiscalYear) else asked.years()


def versions(rules=None, *, year: str | None = None, version: str | None = None, names=None):
    """`kokuho versions`: the rule files' versions (every one resolved, so extends problems are errors) as a listing."""
    from .listing import list_versions

    ruleset = RuleSet.from_paths(rules or [default_rules_dir()])
    problems: list[Finding] = []
    for vid in ruleset.version_ids:
        try:
            ruleset.version(vid)
        except KokuhoError as e:
            problems.extend(x for x in e.findings if x not in problems)
    if problems:
        from .errors import RuleCheckError

        raise RuleCheckError(problems)
    if version is not None:
        ruleset.version(version)  # an unknown version is a usage error
    asked = years_asked(year)
    if names:
        from .lookup import resolve_names

        among = [ruleset.version(v) for v in ([version] if version else ruleset.version_ids)]
        names = resolve_names(names, among, code="unknown-column", message=lambda n: f"no version has an item '{n}'")
    return list_versions(ruleset, year=asked, version=version, names=names)


def split_names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [n.strip() for n in text.replace("、", ",").split(",") if n.strip()]


class Session:
    """Rules and data loaded once for one command."""

    def __init__(self, ruleset: RuleSet, data_paths: tuple[str, str]):
        self.ruleset = ruleset
        self.data_paths = data_paths
        self._data: dict = {}
        self.notes: list[str] = []  # what the session chose for the user (the default version), for the CLI to print

    @classmethod
    def open(cls, rules=None, data=None, prefecture_data=None) -> Session:
        ruleset = load(rules).ruleset  # raises for a file that does not parse, a version that does not resolve or check
        sample_m, sample_p = data_mod.sample_paths()
        if (data is None) != (prefecture_data is None):
            raise UsageError(finding("data-pair", "give both --data and --prefecture-data, or neither for the bundled sample"))
        paths = (str(data or sample_m), str(prefecture_data or sample_p))
        return cls(ruleset, paths)

    @property
    def input_paths(self) -> tuple:
        return tuple(data_mod.split_sheet(p)[0] for p in self.data_paths) + tuple(str(f.path) for f in self.ruleset.files.values())

    @property
    def warnings(self) -> list[Finding]:
        """Warnings of the data loaded so far (data-missing-row), each once, for the CLI to print."""
        out: list[Finding] = []
        for d in self._data.values():
            out.extend(w for w in d.warnings if w not in out)
        return out

    def version(self, vid: str | None) -> Version:
        if vid is None:
            vid = self.ruleset.newest_first()[0]
        return self.ruleset.version(vid)

    def choose_version(self, vid: str | None, asked: FiscalYear | Period | None = None) -> Version:
        """--version, or without it the newest version whose plan period covers the years asked (years_asked; else
        the newest); the choice is noted (self.notes) when the rules define more than one version."""
        if vid is not None:
            return self.ruleset.version(vid)
        vid, why = self.ruleset.default_version(_year_list(asked) if asked is not None else None)
        if len(self.ruleset.files) > 1:
            self.notes.append(f"using version {vid}: {why}; give --version to choose another")
        return self.ruleset.version(vid)

    def data_for(self, version: Version) -> ColumnData:
        """The data files read for a version's input declarations, as columns (read once per set of declarations)."""
        key = tuple(sorted((n, d.unit, d.scope, d.columns) for n, d in version.inputs().items()))
        if key not in self._data:
            self._data[key] = ColumnData.load(self.data_paths[0], self.data_paths[1], version.inputs())
        return self._data[key]

    def years(self, version: Version, asked: FiscalYear | Period | None = None) -> list[FiscalYear]:
        """The fiscal years asked (years_asked: --year or --period), by default the version's plan period, as a list
        of FiscalYears, which the command passes on to what it evaluates and shows; an error when the data covers
        none of them."""
        try:
            if asked is not None:
                years = _year_list(asked)
            elif version.header.plan_period is not None:
                years = version.header.plan_period.years()
            else:
                raise UsageError(finding("no-year", f"version {version.id} has no plan period; give --year or --period"))
        except YearFormatError as e:
            raise UsageError(finding("bad-year", str(e))) from None
        covered = self.data_for(version).years
        if covered and not any(covered[0] <= y <= covered[-1] for y in years):
            asked = f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}"
            raise UsageError(finding("year-outside-data", f"no data for {asked}; the data covers FY{covered[0]}-FY{covered[-1]}"))
        return years

    def evaluate(self, version: Version, years, columns=None, *, donor: ColumnEvaluator | None = None) -> EvalResult:
        """donor: an evaluator of another version over the same data, whose shared values are reused."""
        data = self.data_for(version)
        ev = ColumnEvaluator.sharing_with(donor, version) if donor is not None and donor.data is data else None
        return evaluate(version, data, years, columns, ev)

    def select(self, version: Version, municipalities) -> tuple[int, ...] | None:
        """-m / --municipality (codes or names, repeated or comma lists) -> indices in the version's data; None: all."""
        from .lookup import find_municipalities, split_list

        if not split_list(municipalities):
            return None
        return find_municipalities(self.data_for(version), municipalities)

    def evaluator(self, version: Version, *, donor: ColumnEvaluator | None = None) -> ColumnEvaluator:
        data = self.data_for(version)
        if donor is not None and donor.data is data:
            return ColumnEvaluator.sharing_with(donor, version)
        return ColumnEvaluator(version, data)


def render_summary(result: EvalResult, fmt: str, *, headers: str = "ja") -> str:
    return _render_summary(result, summarise(result, lang="en" if headers == "en" else "ja"), fmt, headers=headers)


def eval_csv(result: EvalResult, *, headers: str = "ja"):
    """An evaluation's CSV as byte chunks: every municipality a year at a time, or the rows -m chose."""
    from .render import eval_csv_rows
    from .selection import selected_count

    if selected_count(result) is not None:
        return [eval_csv_rows(result, headers=headers)]
    return eval_csv_chunks(result, headers=headers)


ALL_COLUMNS = ("all", "すべて", "全部")


def screen_columns(version: Version) -> tuple[str, ...] | None:
    """The short set of columns the version's summary names for a terminal (`screen`), if it names one."""
    summary = version.items.get("summary")
    for line in summary.lines if summary is not None else ():
        if line.kind == "screen":
            return line.names
    return None


def eval_columns(version: Version, text: str | None, *, screen: bool = False) -> tuple[tuple[str, ...], str | None]:
    """--columns -> (rule names, a note for the terminal or None).

    Names or labels, comma-separated (',' or '、'); `all`: the version's full column list (its
    summary's `columns`); none given: that list, or on a terminal (screen) the version's short
    `screen` set, with a note saying how to see the rest.
    """
    from .lookup import resolve_columns, split_list
    from .results import default_columns

    texts = split_list(text)
    full = default_columns(version)
    if len(texts) == 1 and texts[0].lower() in ALL_COLUMNS:
        return full, None
    if texts:
        return tuple(resolve_columns(texts, version, extra=KEY_NAMES)), None
    short = screen_columns(version) if screen else None
    if short and len(short) < len(full):
        return short, (
            f"showing {len(short)} of {len(full)} columns ({version.id}'s screen set); --columns all shows every one, "
            "--columns NAME,... the ones you name (kokuho names lists them)"
        )
    return full, None


def default_data_paths() -> tuple[Path, Path]:
    return data_mod.sample_paths()
