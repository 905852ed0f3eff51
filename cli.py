"""The `kokuho` command line: parses arguments, calls the engine, renders, maps errors to exit codes.

Exit codes: 0 success; 1 findings (check or test failures, a diff with changes under
--exit-code); 2 unusable input or usage; 130 interrupted (Ctrl-C). Messages go to stderr,
results to stdout or --out.
"""

from __future__ import annotations

import os
import sys

# The engine does no linear algebra, yet OpenBLAS (numpy's) starts a thread per core when numpy is imported, and
# they spin for about 0.1 s of CPU: on two cores that is taken from reading and writing. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    import argparse
    import contextlib
    import signal
    import threading

    from engine import api
    from engine.errors import KokuhoError, UsageError, finding
    from engine.output import write_output as _write_output
except KeyboardInterrupt:  # Ctrl-C while starting up: nothing done yet
    print("kokuho: interrupted; no output was written", file=sys.stderr)
    raise SystemExit(130) from None

FORMATS = ("table", "csv", "json", "markdown", "xlsx", "parquet")  # xlsx and parquet need --out
# The formats each command writes and its default; --out's name (r.csv, r.xlsx, r.md, ...) chooses among them (engine/formats.py).
OUTPUTS = {
    "eval": (FORMATS, "table"),
    "diff": (FORMATS, "table"),
    "explain": (("text", "markdown", "json"), "text"),
    "versions": (("table", "markdown", "csv", "json"), "table"),
    "names": (("table", "markdown", "csv", "json"), "table"),
    "report": (("html", "xlsx"), "html"),
    "book": (("html",), "html"),
    "sweep": (("table", "csv", "markdown", "json", "xlsx"), "table"),
}
FORMAT_HELP = "default: what --out's name ends in (.csv .xlsx .json .md ...), else %s"


class _Interrupts:
    """What Ctrl-C (SIGINT) does, depending on how far the command has got.

    Outside a write it stops the command (KeyboardInterrupt: exit 130). While an output is being
    written it waits: the file is completed (and renamed into place), then the command exits 130
    saying so, so an output is never left half-written by an interrupt. After the command is done it
    changes nothing but the exit code. A second Ctrl-C adds nothing, so there is one line on stderr
    and no "Exception ignored" traceback from a KeyboardInterrupt raised while Python shuts down.
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.writing = self.written = self.done = self.pending = self.lost = False

    def __call__(self, signum, frame) -> None:
        if self.pending:
            return
        self.pending = True
        if not (self.writing or self.done):
            raise KeyboardInterrupt

    @property
    def interrupted(self) -> bool:
        return self.pending or self.lost

    def unraisable(self, info) -> None:
        """sys.unraisablehook: a KeyboardInterrupt raised where Python cannot pass it on (a weakref callback, a
        finaliser) is not printed as "Exception ignored"; the command then runs to its end and exits 130, and a
        second Ctrl-C stops it as the first would have."""
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            self.lost, self.pending = True, False
            return
        self._previous_hook(info)

    def listen(self):
        """Handle SIGINT from now on; returns what undoes it (nothing when already handling, or off the main thread)."""
        if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is self:
            return lambda: None
        previous = signal.signal(signal.SIGINT, self)
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self.unraisable

        def undo():
            signal.signal(signal.SIGINT, previous)
            sys.unraisablehook = self._previous_hook

        return undo

    def message(self) -> str:
        if self.written:
            return "kokuho: interrupted after writing the output; what was written is complete"
        return "kokuho: interrupted; no output was written"


_INTERRUPTS = _Interrupts()


@contextlib.contextmanager
def _writing():
    """The output being written: a Ctrl-C now waits until it is complete."""
    _INTERRUPTS.writing = True
    try:
        yield
    except BaseException:
        _INTERRUPTS.writing = False
        raise
    _INTERRUPTS.written = True
    _INTERRUPTS.writing = False


def write_output(content, out, *, inputs: tuple = ()) -> None:
    with _writing():
        _write_output(content, out, inputs=inputs)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with our one-line style, no traceback
        self.print_usage(sys.stderr)
        print(f"kokuho: error: {message}", file=sys.stderr)
        sys.exit(2)


def _rules_and_data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rules", action="append", metavar="PATH", help="rule directory or files (default: kokuho.toml's, else the shipped rules/tokyo)"
    )
    p.add_argument(
        "--data", metavar="FILE", help="municipal data, CSV (UTF-8, BOM or CP932) or YAML (default: kokuho.toml's, else bundled sample)"
    )
    p.add_argument("--prefecture-data", metavar="FILE", help="prefecture data (default: kokuho.toml's, else bundled sample)")


def _rules_data_years(p: argparse.ArgumentParser, *, period_help: str = "a period: R6-R8, FY2024..FY2026 or 令和6～8年度") -> None:
    _rules_and_data(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--year", metavar="YEAR", help="one fiscal year: FY2024, 2024, R6 or 令和6年度")
    when.add_argument("--period", metavar="PERIOD", help=period_help)


def _common_eval_options(p: argparse.ArgumentParser) -> None:
    _rules_data_years(p)
    p.add_argument(
        "--columns",
        metavar="NAMES",
        help="names or labels (目標収納率), comma-separated; all: every column of the version "
        "(default: the version's columns; on a terminal table its short screen set)",
    )
    p.add_argument("--format", choices=FORMATS, help=FORMAT_HELP % "table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout; its name chooses the format")
    p.add_argument(
        "--headers",
        choices=("ja", "en"),
        help="ja: Japanese labels and values as staff read them (○, 赤字なし); "
        "en: rule names and the values themselves (default: kokuho.toml's lang, else ja)",
    )


def _municipality(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--municipality",
        "-m",
        action="append",
        metavar="CODE|NAME",
        help=what + " (a code like 131016 or a name like 千代田区; repeat it, or give a comma list: -m 八王子市,町田市)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kokuho", description="Tokyo NHI operating-policy rules: check, evaluate, compare, explain.")
    parser.add_argument("--version", action=_ShowVersion)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check", help="static checks of rule files (exit 0 clean, 1 findings, 2 unusable)")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "versions", help="every version: status, plan period, base chain, files; with --year, which piece of each item is in force"
    )
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: the shipped rules/tokyo)")
    p.add_argument(
        "--year",
        metavar="YEAR",
        help="a fiscal year (FY2027, 2027, R9 or 令和9年度): the piece of each item in force then, and where it is written",
    )
    p.add_argument("--version", metavar="ID", help="only this version")
    p.add_argument("--names", metavar="NAMES", help="with --year: only these items (comma-separated names or labels)")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), help=FORMAT_HELP % "table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout; its name chooses the format")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser(
        "names", help="every name of a version: its label, unit, kind, the version its piece comes from, its years and citation"
    )
    p.add_argument("--version", metavar="ID", help="the version, e.g. R6 (default: kokuho.toml's, else the newest)")
    p.add_argument("--year", metavar="YEAR", help="only the pieces in force in this fiscal year (FY2027, R9, 令和9年度)")
    p.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rule directory or files (default: kokuho.toml's rules, else the shipped rules/tokyo)",
    )
    p.add_argument("--headers", choices=("ja", "en"), help="column headers: Japanese or English (default: kokuho.toml's lang, else ja)")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), help=FORMAT_HELP % "table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout; its name chooses the format")
    p.set_defaults(func=cmd_names)

    p = sub.add_parser("eval", help="evaluate a version for a fiscal year or a period")
    p.add_argument(
        "--version",
        metavar="ID",
        help="rule version, e.g. R6: a name, not a year (default: the newest whose plan period covers the years asked)",
    )
    _common_eval_options(p)
    _municipality(p, "only these municipalities' rows; sums, shares and the summary still cover the whole prefecture")
    p.add_argument("--summary", action="store_true", help="per-year summary: achievers per band, totals, coefficients")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("diff", help="compare two versions on the same data: changes with their causes, a summary, or the rules")
    p.add_argument("a", metavar="A", help="the version compared from, e.g. R3")
    p.add_argument("b", metavar="B", help="the version compared to, e.g. R6 (differences are B minus A)")
    _common_eval_options(p)
    p.add_argument("--all", action="store_true", dest="show_all", help="show unchanged rows too")
    p.add_argument(
        "--min-change", action="append", metavar="AMOUNT", help="hide smaller changes of that unit: 0.05pp, 100000円 (repeatable)"
    )
    p.add_argument("--top", type=int, metavar="N", help="the N largest changes of each definition")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--summary", action="store_true", help="per year: target rises/falls by band, achievement, totals, largest movers")
    mode.add_argument("--rules-only", action="store_true", help="compare the rules themselves as resolved for the year(s); no data")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes")
    p.add_argument(
        "--explain",
        metavar="NAME",
        help="the derivation of NAME (a name or label) under A and under B side by side (with --municipality, --year)",
    )
    _municipality(p, "only these municipalities' rows (with --explain: whose derivation); totals still cover the whole prefecture")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("explain", help="the derivation of one figure: each step, its rule (file:line), citation and input rows")
    p.add_argument("name", metavar="NAME", help="a definition, table, schedule or input, by name or label: target_rate or 目標収納率")
    _municipality(p, "whose figure (one derivation each); not needed for a prefecture value")
    p.add_argument("--year", required=True, metavar="YEAR", help="the fiscal year: FY2025, 2025, R7 or 令和7年度")
    p.add_argument(
        "--version", metavar="ID", help="rule version, e.g. R6: a name, not a year (default: the newest whose plan period covers --year)"
    )
    _rules_and_data(p)
    p.add_argument("--depth", type=int, metavar="N", help="show N levels of steps below the figure (default: all)")
    p.add_argument("--full", action="store_true", help="list every municipality's term of sums and means")
    p.add_argument("--format", choices=("text", "markdown", "json"), help=FORMAT_HELP % "text")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout; its name chooses the format")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("test", help="run the examples in rule files (exit 0 all pass, 1 failures, 2 unusable)")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)"
    )
    p.add_argument("--version", action="append", metavar="ID", help="only this version's examples (repeatable)")
    p.add_argument("--depth", type=int, metavar="N", help="levels of the derivation shown for a failure (default: all)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("fmt", help="rewrite rule files in the canonical layout, keeping every comment")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)"
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file would change (listing them)")
    p.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("report", help="one self-contained HTML report (or an Excel workbook) comparing two versions on the data")
    p.add_argument(
        "--version", metavar="ID", help="the version reported on, e.g. R6 (default: the newest whose plan period covers --period)"
    )
    p.add_argument("--base", metavar="ID", help="the version compared with, e.g. R3 (default: the one --version extends)")
    p.add_argument(
        "--period", metavar="PERIOD", help="R6-R8, FY2024..FY2026 or 令和6～8年度 (default: the version's target-table or plan period)"
    )
    _rules_and_data(p)
    p.add_argument(
        "--lang",
        choices=("ja", "en"),
        help="language of the page's own text, rule labels stay as written (default: kokuho.toml's lang, else ja)",
    )
    _municipality(p, "only these municipalities' rows and largest changes; summaries, totals, distributions and charts still cover all")
    p.add_argument("--format", choices=("html", "xlsx"), help=FORMAT_HELP % "html")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write here (atomically): report.html or report.xlsx (html may be redirected, never printed on a terminal)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("book", help="one self-contained HTML rule book of a version, for reviewers")
    p.add_argument("--version", metavar="ID", help="the version, e.g. R6 (default: the newest)")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: the shipped rules/tokyo)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically), e.g. r6.html (may be redirected, never printed on a terminal)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("lsp", help="a language server for editors, over stdin and stdout (see docs/editor.md)")
    p.set_defaults(func=cmd_lsp)

    p = sub.add_parser("sweep", help="evaluate every combination of parameter variations; one row per scenario")
    p.add_argument(
        "--version",
        metavar="ID",
        help="the version varied, e.g. R6 (default: the scenario file's, else the newest whose plan period covers the years)",
    )
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="TARGET=VALUES",
        help="alpha.FY2025=0.60,0.65 | alpha.R7=0.50..0.80:0.05 | CONSTANT=0.7 | "
        "TABLE[90%%,95%%).increment=0.30pp (or .lo / .hi / .result); repeat for every combination",
    )
    p.add_argument(
        "--scenarios", metavar="FILE", help="a YAML file with version:, period:, vary: and named scenarios: (see docs/tutorial.md §7)"
    )
    p.add_argument(
        "--totals", metavar="NAMES", help="definitions (names or labels) summed per scenario (default: the summary's total line)"
    )
    p.add_argument("--target", metavar="NAME", help="the definition whose changed municipalities are counted (default: target_rate)")
    p.add_argument("--levy", metavar="NAME", help="the levy compared per municipality, with the largest movers (default: net_levy)")
    p.add_argument("--movers", type=int, default=3, metavar="K", help="how many largest movers to list (default 3)")
    p.add_argument("--per-year", action="store_true", help="one row per scenario and fiscal year")
    p.add_argument("--jobs", type=int, metavar="N", help="processes (default: the machine's cores)")
    p.add_argument(
        "--headers", choices=("ja", "en"), help="column headers: Japanese labels or rule names (default: kokuho.toml's lang, else ja)"
    )
    _rules_data_years(p, period_help="a period (default: the scenario file's, else the version's plan period)")
    p.add_argument("--format", choices=("table", "csv", "markdown", "json", "xlsx"), help=FORMAT_HELP % "table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout; its name chooses the format")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("init", help="make a workspace: kokuho.toml, the shipped rules to extend, a starter revision, sample data")
    p.add_argument("dir", metavar="DIR", help="the new folder (it must not exist, or be empty)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("config", help="the settings in effect here (kokuho.toml, flags, defaults) and where each came from")
    _rules_and_data(p)
    p.add_argument("--version", metavar="ID", help="see the effect of this --version")
    p.add_argument("--lang", choices=("ja", "en"), help="see the effect of this --lang")
    p.set_defaults(func=cmd_config)
    return parser


# What kokuho.toml fills in (engine/workspace.fill), per command: key -> (the option's name in args, its
# built-in default). A new command that takes rules, data, a version or a language adds its line here.
_DATA = {"rules": ("rules", None), "data": ("data", None), "prefecture-data": ("prefecture_data", None)}
WORKSPACE_OPTIONS = {
    "check": {"rules": ("paths", [])},
    "test": {"rules": ("paths", [])},
    "fmt": {"rules": ("paths", [])},
    "eval": {**_DATA, "version": ("version", None), "lang": ("headers", "ja")},
    "diff": {**_DATA, "lang": ("headers", "ja")},
    "names": {"rules": ("rules", None), "version": ("version", None), "lang": ("headers", "ja")},
    "explain": {**_DATA, "version": ("version", None)},
    "report": {**_DATA, "version": ("version", None), "lang": ("lang", "ja")},
    "sweep": {**_DATA, "version": ("version", None), "lang": ("headers", "ja")},
}


class _ShowVersion(argparse.Action):
    """kokuho --version: the package version and the versions of the rules it ships."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show kokuho's version and the shipped rules' versions, then exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from engine.listing import version_text
        from engine.shipped import package_version

        try:
            sys.stdout.write(version_text())
        except KokuhoError as e:  # the shipped rules cannot be read: say so, with the package version
            print(f"kokuho-rules {package_version()}", file=sys.stderr)
            parser.exit(2, "\n".join(f.render() for f in e.findings) + "\n")
        parser.exit(0)


def cmd_init(args) -> int:
    from engine import workspace

    made = workspace.init(args.dir)
    print(workspace.init_summary(args.dir, made), end="", file=sys.stderr)
    return 0


def cmd_config(args) -> int:
    from engine import workspace

    config = workspace.current()
    effective = workspace.fill(vars(args), {**_DATA, "version": ("version", None), "lang": ("lang", None)}, config)
    langs = {cmd: f"--{attr} {default}" for cmd, o in WORKSPACE_OPTIONS.items() if "lang" in o for attr, default in [o["lang"]]}
    write_output(workspace.describe(effective, config, langs), None)
    return 0


def cmd_sweep(args) -> int:
    from engine import sweep

    if args.format == "xlsx":
        _need_out(args)
    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    scenarios = sweep.read_scenario_file(session, args.version, args.scenarios) if args.scenarios is not None else None
    vid, period = scenarios.defaults(args.version, args.year, args.period) if scenarios is not None else (args.version, args.period)
    version, asked = _version_and_years_asked(session, vid, args.year, period)
    result = sweep.sweep(
        session,
        version,
        session.years(version, asked),
        vary=args.vary,
        scenarios=scenarios,
        totals=api.split_names(args.totals),
        target=args.target,
        levy=args.levy,
        movers=args.movers,
        jobs=args.jobs,
    )
    _print_warnings(session)
    inputs = session.input_paths + ((args.scenarios,) if args.scenarios else ())  # the scenario file is an input too
    write_output(sweep.render(result, args.format, per_year=args.per_year, headers=args.headers), args.out, inputs=inputs)
    from engine.formats import years_text

    n = len(result.rows)
    _wrote(args, f"{result.plan.version.id}, {years_text(result.plan.years)}, {n} scenario{'s' if n != 1 else ''}")
    return 0


def cmd_book(args) -> int:
    from engine import book

    session = api.Session.open(args.rules)
    b = book.build_book(session.ruleset, args.version)
    content = book.render_html(b)
    write_output(content, args.out, inputs=session.input_paths)
    _wrote(args, f"the rule book of {b.version.id}")
    return 0


def cmd_lsp(args) -> int:
    from engine import lsp

    lsp.serve()
    return 0


def cmd_check(args) -> int:
    report = api.check(args.paths or None)
    for f in report.findings:
        print(f.render(), file=sys.stderr)
    errors = [f for f in report.findings if f.severity == "error"]
    warned = len(report.findings) - len(errors)
    files = f"{report.file_count} file{'s' if report.file_count != 1 else ''}"
    if errors:  # warnings alone do not fail a check (docs/errors.md, exit codes)
        print(
            f"{len(errors)} finding{'s' if len(errors) != 1 else ''}"
            + (f" and {warned} warning{'s' if warned != 1 else ''}" if warned else "")
            + f" in {files}",
            file=sys.stderr,
        )
        return 1
    if warned:
        print(
            f"{report.file_count} rule file{'s' if report.file_count != 1 else ''} checked: no errors, {warned} warning{'s' if warned != 1 else ''} ({', '.join(report.versions)})",
            file=sys.stderr,
        )
        return 0
    print(
        f"{report.file_count} rule file{'s' if report.file_count != 1 else ''} checked: no findings ({', '.join(report.versions)})",
        file=sys.stderr,
    )
    return 0


def cmd_versions(args) -> int:
    from engine.listing import render_listing

    listing = api.versions(args.rules, year=args.year, version=args.version, names=api.split_names(args.names))
    write_output(render_listing(listing, args.format), args.out)
    _wrote(
        args,
        f"{len(listing.versions)} version{'s' if len(listing.versions) != 1 else ''}" + (f" in {listing.year}" if listing.year else ""),
    )
    return 0


def cmd_names(args) -> int:
    from engine import names
    from engine.versions import RuleSet, default_rules_dir

    ruleset = RuleSet.from_paths(args.rules or [default_rules_dir()])  # read before --year, as ever
    listing = names.list_names(ruleset, version=args.version, year=api.years_asked(args.year))
    write_output(names.render_names(listing, args.format, headers=args.headers), args.out)
    _wrote(args, names.describe(listing))
    return 0


def cmd_eval(args) -> int:
    from engine.formats import count, municipalities_text, years_text
    from engine.selection import SelectedResult

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    version, asked = _version_and_years_asked(session, args.version, args.year, args.period)
    years = session.years(version, asked)
    columns, hint = api.eval_columns(version, args.columns, screen=args.format == "table" and not args.summary and not _is_file(args.out))
    result = session.evaluate(version, years, columns)
    only = session.select(version, args.municipality)
    if only is not None:
        result = SelectedResult(result, only)
    total = len(result.municipalities)
    what = f"{version.id}, {years_text(years)}, {municipalities_text(None if only is None else len(only), total)} × {len(years)} year{'s' if len(years) != 1 else ''}"
    if args.format == "xlsx":
        from engine import xlsx

        _need_out(args)
        _print_warnings(session)
        write_output(xlsx.eval_workbook(result), args.out, inputs=session.input_paths)
        _wrote(args, what + f", {count(len(result.columns), 'column')}, with the summary")
        return 0
    if args.format == "parquet":
        from engine.columnar.parquet import eval_parquet

        _need_out(args, "parquet")
        if args.summary:
            raise UsageError(finding("format-unsupported", "kokuho eval --summary cannot write Parquet; it writes .csv, .json, .md, .txt"))
        _print_warnings(session)
        write_output(eval_parquet(result, only), args.out, inputs=session.input_paths)
        _wrote(args, what + f", {count(len(result.columns), 'column')}")
        return 0
    if args.summary:
        text = api.render_summary(result, args.format, headers=args.headers)
        what = f"{version.id} summary, {years_text(years)}, {municipalities_text(None, total)}"
    elif args.format == "csv":
        text = api.eval_csv(result, headers=args.headers)  # written a year at a time
        what += f", {count(len(result.columns), 'column')}"
    else:
        text = api.render_eval(result, args.format, headers=args.headers)
        what += f", {count(len(result.columns), 'column')}"
    _print_warnings(session)
    if hint:
        print(hint, file=sys.stderr)
    write_output(text, args.out, inputs=session.input_paths)
    _wrote(args, what)
    return 0


def cmd_diff(args) -> int:
    from engine import diff

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    if args.format == "parquet":
        _need_out(args, "parquet")
        if args.summary or args.rules_only or args.explain:
            raise UsageError(
                finding(
                    "format-unsupported",
                    "kokuho diff writes Parquet for the outcome diff only, not with --summary, --rules-only or --explain",
                )
            )
    if args.format == "xlsx":
        from engine import xlsx
        from engine.formats import years_text

        _need_out(args)
        if args.explain:
            raise UsageError(finding("xlsx-explain", "--explain has no xlsx output; use --format text, markdown or json"))
        a, b = session.version(args.a), session.version(args.b)
        columns = diff.diff_columns(a, b, args.columns)
        only = None if args.rules_only else session.select(b, args.municipality)
        years = session.years(b, api.years_asked(args.year, args.period))
        data, changed = xlsx.diff_workbook(
            session,
            a,
            b,
            years,
            columns=columns,
            show_all=args.show_all,
            min_change=args.min_change,
            top=args.top,
            rules_only=args.rules_only,
            only=only,
        )
        _print_warnings(session)
        write_output(data, args.out, inputs=session.input_paths)
        _wrote(args, f"{'rule diff' if args.rules_only else 'diff'} {a.id} → {b.id}, {years_text(years)}")
        return 1 if args.exit_code and changed else 0
    if args.explain:
        return _diff_explain(session, args)
    a, b = session.version(args.a), session.version(args.b)
    years = session.years(b, api.years_asked(args.year, args.period))
    text, changed, what = diff.run(
        session,
        a,
        b,
        years,
        columns=args.columns,
        show_all=args.show_all,
        min_change=args.min_change,
        top=args.top,
        summary=args.summary,
        rules_only=args.rules_only,
        fmt="csv" if args.format == "parquet" else args.format,
        headers="en" if args.format == "parquet" else args.headers,
        municipalities=args.municipality,
    )
    if args.format == "parquet":
        from engine.columnar.parquet import diff_parquet

        text = diff_parquet(text.encode("utf-8") if isinstance(text, str) else b"".join(text))
    _print_warnings(session)
    write_output(text, args.out, inputs=session.input_paths)
    _wrote(args, what)
    return 1 if args.exit_code and changed else 0


def cmd_report(args) -> int:
    from engine import report

    if args.format == "xlsx":
        _need_out(args)
    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    if args.version is not None:  # a named version and its base are checked before --period is read
        a, b = report.default_versions(session, session.choose_version(args.version), args.base)
        asked = api.years_asked(None, args.period)
    else:  # the newest version covering --period
        asked = api.years_asked(None, args.period)
        a, b = report.default_versions(session, session.choose_version(None, asked), args.base)
    rep = report.build_report(session, a, b, report.report_years(session, b, asked), municipalities=args.municipality)
    if args.format == "xlsx":
        from engine import xlsx

        content = xlsx.report_workbook(rep)
    else:
        content = report.render_html(rep, lang=args.lang)
    _print_warnings(session)
    write_output(content, args.out, inputs=session.input_paths)
    from engine.formats import municipalities_text, years_text

    total = len(rep.result_b.municipalities)
    _wrote(
        args,
        f"{rep.b.id} against {rep.a.id}, {years_text(rep.years)}, {municipalities_text(None if rep.selected is None else len(rep.selected), total)}",
    )
    return 0


def _version_and_years_asked(session, vid: str | None, year: str | None = None, period: str | None = None):
    """--version with --year / --period, each read once: (Version, FiscalYear | Period | None for Session.years).

    A named version is looked up before the year text is read (api.years_asked); without --version the
    newest version whose plan period covers the years asked is chosen (Session.choose_version).
    """
    if vid is not None:
        return session.choose_version(vid), api.years_asked(year, period)
    asked = api.years_asked(year, period)
    return session.choose_version(None, asked), asked


def _need_out(args, fmt: str = "xlsx") -> None:
    """A workbook or a Parquet file is a binary file: it goes to --out, never to the terminal."""
    if not args.out or args.out == "-":
        if fmt == "parquet":
            raise UsageError(finding("parquet-needs-out", "--format parquet writes a file: give --out FILE.parquet"))
        raise UsageError(finding("xlsx-needs-out", "--format xlsx writes a file: give --out FILE.xlsx"))


def _is_file(out) -> bool:
    return out is not None and out != "-"


def _wrote(args, what: str) -> None:
    """One line on stderr after writing --out: the path and what it holds."""
    if _is_file(getattr(args, "out", None)):
        from engine.formats import wrote

        print(wrote(args.out, what), file=sys.stderr)


def _diff_explain(session, args) -> int:
    from engine import explain
    from engine.errors import UsageError, finding
    from engine.lookup import split_list

    if args.year is None:
        raise UsageError(finding("no-year", "--explain needs one fiscal year: give --year, e.g. --year R7"))
    (year,) = session.years(session.version(args.b), api.years_asked(args.year))
    fmt = {"table": "text", "csv": "text", "parquet": "text"}.get(args.format, args.format)
    pairs = [explain.explain_versions(session, args.a, args.b, args.explain, year, m) for m in split_list(args.municipality) or [None]]
    texts = [explain.render_side_by_side(xa, xb, fmt) for xa, xb in pairs]
    if fmt == "json" and len(texts) > 1:
        import json

        from engine.render import to_json

        text = to_json([json.loads(t) for t in texts])
    else:
        text = "\n".join(texts)
    write_output(text, args.out, inputs=session.input_paths)
    _wrote(args, f"{args.explain} under {args.a} and {args.b}, {year}, {len(pairs)} derivation{'s' if len(pairs) != 1 else ''}")
    return 1 if args.exit_code and any(not explain.same_value(xa.root.value, xb.root.value) for xa, xb in pairs) else 0


def cmd_explain(args) -> int:
    from engine import explain
    from engine.lookup import split_list

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    version, asked = _version_and_years_asked(session, args.version, args.year)
    (year,) = session.years(version, asked)
    data = session.data_for(version)
    xs = [
        explain.explain_for(version, data, args.name, year, m, depth=args.depth, full=args.full)
        for m in split_list(args.municipality) or [None]
    ]
    _print_warnings(session)
    write_output(explain.render_explanations(xs, args.format), args.out, inputs=session.input_paths)
    who = ", ".join(str(x.municipality) for x in xs if x.municipality is not None) or "the prefecture"
    _wrote(args, f"the derivation of {xs[0].name} for {who}, {year}, version {version.id}")
    return 0


def cmd_test(args) -> int:
    from engine import examples
    from engine.render import to_json

    ruleset, versions = examples.load_for_test(args.paths or None)
    if args.version:
        for vid in args.version:
            ruleset.version(vid)  # an unknown version is a usage error
        versions = [v for v in ruleset.version_ids if v in args.version]
    runs = examples.run_examples(ruleset, versions)
    text = to_json(examples.report_json(runs)) if args.format == "json" else examples.render_report(runs, depth=args.depth)
    write_output(text, None)
    return 0 if all(r.passed for r in runs) else 1


def _print_warnings(session) -> None:
    """The version chosen by default, then warnings (data-missing-row), go to stderr; they do not change the exit code."""
    for note in session.notes:
        print(note, file=sys.stderr)
    for w in session.warnings:
        print(w.render(), file=sys.stderr)


def cmd_fmt(args) -> int:
    from engine import format as rule_format

    results = rule_format.format_paths(args.paths or None)
    changed = [r for r in results if r.changed]
    if args.diff:
        write_output("".join(r.diff() for r in changed), None)
    for r in changed:
        if args.check or args.diff:
            print(f"would reformat {r.shown}", file=sys.stderr)
        else:
            with _writing():
                rule_format.write_formatted(r)
            print(f"reformatted {r.shown}", file=sys.stderr)
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    print(f"{len(changed)} of {len(results)} rule file{'s' if len(results) != 1 else ''} {verb}", file=sys.stderr)
    return 1 if args.check and changed else 0


def _to_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    _INTERRUPTS.reset()
    stop_listening = _INTERRUPTS.listen()
    try:
        code = _command(argv)
        if _INTERRUPTS.interrupted and code != 130:  # Ctrl-C while the output was written: it is complete
            print(_INTERRUPTS.message(), file=sys.stderr)
            code = 130
        return code
    finally:
        _INTERRUPTS.done = True
        stop_listening()


def _command(argv: list[str] | None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command in WORKSPACE_OPTIONS:
            from engine import workspace

            workspace.fill(vars(args), WORKSPACE_OPTIONS[args.command])
        if args.command in OUTPUTS:
            from engine import formats

            args.format = formats.choose(
                args.command, getattr(args, "format", None), args.out, *OUTPUTS[args.command], to_terminal=_to_terminal()
            )
        return args.func(args)
    except KokuhoError as e:
        for f in e.findings:
            print(f.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(_INTERRUPTS.message(), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        print("kokuho: error: the rules are nested too deeply to evaluate", file=sys.stderr)
        return 2
    except ValueError as e:
        if "integer string conversion" not in str(e):
            return _internal_error(e)
        # Python's int-to-text limit met outside the renderers, which name the value themselves
        from engine.render import ValueTooLarge

        for f in ValueTooLarge().findings:
            print(f.render(), file=sys.stderr)
        return 2
    except Exception as e:  # last resort: a bug of ours, never a traceback in front of staff
        return _internal_error(e)


def _internal_error(e: Exception) -> int:
    if _INTERRUPTS.pending:  # the interrupt's own doing: a KeyboardInterrupt that C code (an import) turned into another error
        print(_INTERRUPTS.message(), file=sys.stderr)
        return 130
    print(f"kokuho: internal error: {type(e).__name__}: {e}; please report this with the command you ran", file=sys.stderr)
    return 3


def run() -> None:
    _INTERRUPTS.listen()  # for good: a Ctrl-C after main() returns must not raise while Python exits
    try:
        code = main()
    except KeyboardInterrupt:  # in the instant before main() took over
        print(_INTERRUPTS.message(), file=sys.stderr)
        code = 130
    # Ignored from here on, at the system's level: Python resets a handler of its own to the default while it
    # shuts down, and a Ctrl-C then would kill the process (exit -2, nothing said) after its work is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _INTERRUPTS.interrupted and code != 130:  # in the instant after main(): the output is complete
        print(_INTERRUPTS.message(), file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    run()
