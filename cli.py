"""The `kokuho` command line: parses arguments, calls the engine, renders, maps errors to exit codes.

Exit codes: 0 success; 1 findings (check or test failures, a diff with changes under
--exit-code); 2 unusable input or usage. Messages go to stderr, results to stdout or --out.
"""

from __future__ import annotations

import argparse
import sys

from engine import api
from engine.errors import KokuhoError, UsageError, finding
from engine.output import write_output

FORMATS = ("table", "csv", "json", "markdown", "xlsx")  # xlsx needs --out


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with our one-line style, no traceback
        self.print_usage(sys.stderr)
        print(f"kokuho: error: {message}", file=sys.stderr)
        sys.exit(2)


def _rules_and_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: kokuho.toml's, else the shipped rules/tokyo)")
    p.add_argument("--data", metavar="FILE", help="municipal data, CSV (UTF-8, BOM or CP932) or YAML (default: kokuho.toml's, else bundled sample)")
    p.add_argument("--prefecture-data", metavar="FILE", help="prefecture data (default: kokuho.toml's, else bundled sample)")


def _rules_data_years(p: argparse.ArgumentParser, *, period_help: str = "a period: R6-R8, FY2024..FY2026 or 令和6～8年度") -> None:
    _rules_and_data(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--year", metavar="YEAR", help="one fiscal year: FY2024, 2024, R6 or 令和6年度")
    when.add_argument("--period", metavar="PERIOD", help=period_help)


def _common_eval_options(p: argparse.ArgumentParser) -> None:
    _rules_data_years(p)
    p.add_argument("--columns", metavar="NAMES", help="comma-separated definitions to show (default: the version's summary columns)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kokuho", description="Tokyo NHI operating-policy rules: check, evaluate, compare, explain.")
    parser.add_argument("--version", action=_ShowVersion)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check", help="static checks of rule files (exit 0 clean, 1 findings, 2 unusable)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("versions", help="every version: status, plan period, base chain, files; with --year, which piece of each item is in force")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: the shipped rules/tokyo)")
    p.add_argument("--year", metavar="YEAR", help="a fiscal year (FY2027, 2027, R9 or 令和9年度): the piece of each item in force then, and where it is written")
    p.add_argument("--version", metavar="ID", help="only this version")
    p.add_argument("--names", metavar="NAMES", help="with --year: only these items (comma-separated rule names)")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("eval", help="evaluate a version for a fiscal year or a period")
    p.add_argument("--version", metavar="ID", help="rule version, e.g. R6: a name, not a year (default: the newest whose plan period covers the years asked)")
    _common_eval_options(p)
    p.add_argument("--headers", choices=("en", "ja"), help="CSV headers: rule names or Japanese labels (default: kokuho.toml's lang, else en)")
    p.add_argument("--summary", action="store_true", help="per-year summary: achievers per band, totals, coefficients")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("diff", help="compare two versions on the same data: changes with their causes, a summary, or the rules")
    p.add_argument("a", metavar="A", help="the version compared from, e.g. R3")
    p.add_argument("b", metavar="B", help="the version compared to, e.g. R6 (differences are B minus A)")
    _common_eval_options(p)
    p.add_argument("--all", action="store_true", dest="show_all", help="show unchanged rows too")
    p.add_argument("--min-change", action="append", metavar="AMOUNT", help="hide smaller changes of that unit: 0.05pp, 100000円 (repeatable)")
    p.add_argument("--top", type=int, metavar="N", help="the N largest changes of each definition")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--summary", action="store_true", help="per year: target rises/falls by band, achievement, totals, largest movers")
    mode.add_argument("--rules-only", action="store_true", help="compare the rules themselves as resolved for the year(s); no data")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes")
    p.add_argument("--explain", metavar="NAME", help="the derivation of NAME under A and under B side by side (with --municipality, --year)")
    p.add_argument("--municipality", "-m", metavar="CODE|NAME", help="with --explain: a municipality code or name")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("explain", help="the derivation of one figure: each step, its rule (file:line), citation and input rows")
    p.add_argument("name", metavar="NAME", help="a definition, table, schedule or input, e.g. target_rate")
    p.add_argument("--municipality", "-m", metavar="CODE|NAME", help="a municipality code (131016) or name (千代田区); not needed for a prefecture value")
    p.add_argument("--year", required=True, metavar="YEAR", help="the fiscal year: FY2025, 2025, R7 or 令和7年度")
    p.add_argument("--version", metavar="ID", help="rule version, e.g. R6: a name, not a year (default: the newest whose plan period covers --year)")
    _rules_and_data(p)
    p.add_argument("--depth", type=int, metavar="N", help="show N levels of steps below the figure (default: all)")
    p.add_argument("--full", action="store_true", help="list every municipality's term of sums and means")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("test", help="run the examples in rule files (exit 0 all pass, 1 failures, 2 unusable)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)")
    p.add_argument("--version", action="append", metavar="ID", help="only this version's examples (repeatable)")
    p.add_argument("--depth", type=int, metavar="N", help="levels of the derivation shown for a failure (default: all)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("fmt", help="rewrite rule files in the canonical layout, keeping every comment")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories (default: kokuho.toml's rules, else the shipped rules/tokyo)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file would change (listing them)")
    p.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("report", help="one self-contained HTML report (or an Excel workbook) comparing two versions on the data")
    p.add_argument("--version", metavar="ID", help="the version reported on, e.g. R6 (default: the newest whose plan period covers --period)")
    p.add_argument("--base", metavar="ID", help="the version compared with, e.g. R3 (default: the one --version extends)")
    p.add_argument("--period", metavar="PERIOD", help="R6-R8, FY2024..FY2026 or 令和6～8年度 (default: the version's target-table or plan period)")
    _rules_and_data(p)
    p.add_argument("--lang", choices=("ja", "en"), help="language of the page's own text, rule labels stay as written (default: kokuho.toml's lang, else ja)")
    p.add_argument("--format", choices=("html", "xlsx"), default="html")
    p.add_argument("--out", metavar="FILE", help="write here (atomically); html may go to stdout, xlsx needs a file")
    p.add_argument("--municipality", "-m", action="append", metavar="CODE|NAME",
                   help="show only these municipalities' rows and movers (code or name; repeatable or comma-separated); totals still cover all")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("book", help="one self-contained HTML rule book of a version, for reviewers")
    p.add_argument("--version", metavar="ID", help="the version, e.g. R6 (default: the newest)")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: the shipped rules/tokyo)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("lsp", help="a language server for editors, over stdin and stdout (see docs/editor.md)")
    p.set_defaults(func=cmd_lsp)

    p = sub.add_parser("sweep", help="evaluate every combination of parameter variations; one row per scenario")
    p.add_argument("--version", metavar="ID", help="the version varied, e.g. R6 (default: the scenario file's, else the newest whose plan period covers the years)")
    p.add_argument("--vary", action="append", default=[], metavar="TARGET=VALUES",
                   help="alpha.FY2025=0.60,0.65 | alpha.R7=0.50..0.80:0.05 | CONSTANT=0.7 | "
                        "TABLE[90%%,95%%).increment=0.30pp (or .lo / .hi / .result); repeat for every combination")
    p.add_argument("--scenarios", metavar="FILE", help="a YAML file with vary: and named scenarios: (see engine/sweep.py)")
    p.add_argument("--totals", metavar="NAMES", help="definitions summed per scenario (default: the summary's total line)")
    p.add_argument("--target", metavar="NAME", help="the definition whose changed municipalities are counted (default: target_rate)")
    p.add_argument("--levy", metavar="NAME", help="the levy compared per municipality, with the largest movers (default: net_levy)")
    p.add_argument("--movers", type=int, default=3, metavar="K", help="how many largest movers to list (default 3)")
    p.add_argument("--per-year", action="store_true", help="one row per scenario and fiscal year")
    p.add_argument("--jobs", type=int, metavar="N", help="processes (default: the machine's cores)")
    p.add_argument("--headers", choices=("ja", "en"), help="column headers: Japanese labels or rule names (default: kokuho.toml's lang, else ja)")
    _rules_data_years(p, period_help="a period (default: the scenario file's, else the version's plan period)")
    p.add_argument("--format", choices=("table", "csv", "markdown", "json"), default="table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
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
    "check": {"rules": ("paths", [])}, "test": {"rules": ("paths", [])}, "fmt": {"rules": ("paths", [])},
    "eval": {**_DATA, "version": ("version", None), "lang": ("headers", "en")},
    "diff": _DATA,
    "explain": {**_DATA, "version": ("version", None)},
    "report": {**_DATA, "version": ("version", None), "lang": ("lang", "ja")},
    "sweep": {**_DATA, "version": ("version", None), "lang": ("headers", "ja")},
}


class _ShowVersion(argparse.Action):
    """kokuho --version: the package version and the versions of the rules it ships."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show kokuho's version and the shipped rules' versions, then exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from engine.shipped import package_version, version_text

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

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    result = sweep.sweep(session, version_id=args.version, year=args.year, period=args.period, vary=args.vary,
                         scenario_file=args.scenarios, totals=api.split_names(args.totals), target=args.target,
                         levy=args.levy, movers=args.movers, jobs=args.jobs)
    _print_warnings(session)
    write_output(sweep.render(result, args.format, per_year=args.per_year, headers=args.headers), args.out, inputs=session.input_paths)
    return 0


def cmd_book(args) -> int:
    from engine import book

    session = api.Session.open(args.rules)
    content = book.render_html(book.build_book(session.ruleset, args.version))
    write_output(content, args.out, inputs=session.input_paths)
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
        print(f"{len(errors)} finding{'s' if len(errors) != 1 else ''}" + (f" and {warned} warning{'s' if warned != 1 else ''}" if warned else "") + f" in {files}", file=sys.stderr)
        return 1
    if warned:
        print(f"{report.file_count} rule file{'s' if report.file_count != 1 else ''} checked: no errors, {warned} warning{'s' if warned != 1 else ''} ({', '.join(report.versions)})", file=sys.stderr)
        return 0
    print(f"{report.file_count} rule file{'s' if report.file_count != 1 else ''} checked: no findings ({', '.join(report.versions)})", file=sys.stderr)
    return 0


def cmd_versions(args) -> int:
    from engine.listing import render_listing

    listing = api.versions(args.rules, year=args.year, version=args.version, names=api.split_names(args.names))
    write_output(render_listing(listing, args.format), args.out)
    return 0


def cmd_eval(args) -> int:
    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    version = session.choose_version(args.version, args.year, args.period)
    years = session.years(version, args.year, args.period)
    result = session.evaluate(version, years, api.split_names(args.columns))
    if args.format == "xlsx":
        from engine import xlsx

        _need_out(args)
        _print_warnings(session)
        write_output(xlsx.eval_workbook(result), args.out, inputs=session.input_paths)
        return 0
    if args.summary:
        text = api.render_summary(result, args.format)
    elif args.format == "csv":
        text = api.eval_csv_chunks(result, headers=args.headers)  # written a year at a time
    else:
        text = api.render_eval(result, args.format, headers=args.headers)
    _print_warnings(session)
    write_output(text, args.out, inputs=session.input_paths)
    return 0


def cmd_diff(args) -> int:
    from engine import diff

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    if args.format == "xlsx":
        from engine import xlsx

        _need_out(args)
        if args.explain:
            raise UsageError(finding("xlsx-explain", "--explain has no xlsx output; use --format text, markdown or json"))
        data, changed = xlsx.diff_workbook(session, args.a, args.b, year=args.year, period=args.period, columns=api.split_names(args.columns),
                                           show_all=args.show_all, min_change=args.min_change, top=args.top, rules_only=args.rules_only)
        _print_warnings(session)
        write_output(data, args.out, inputs=session.input_paths)
        return 1 if args.exit_code and changed else 0
    if args.explain:
        return _diff_explain(session, args)
    text, changed = diff.run(session, args.a, args.b, year=args.year, period=args.period, columns=api.split_names(args.columns),
                             show_all=args.show_all, min_change=args.min_change, top=args.top, summary=args.summary,
                             rules_only=args.rules_only, fmt=args.format)
    _print_warnings(session)
    write_output(text, args.out, inputs=session.input_paths)
    return 1 if args.exit_code and changed else 0


def cmd_report(args) -> int:
    from engine import report

    if args.format == "xlsx":
        _need_out(args)
    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    rep = report.build_report(session, version=args.version, base=args.base, period=args.period, municipalities=args.municipality)
    if args.format == "xlsx":
        from engine import xlsx

        content = xlsx.report_workbook(rep)
    else:
        content = report.render_html(rep, lang=args.lang)
    _print_warnings(session)
    write_output(content, args.out, inputs=session.input_paths)
    return 0


def _need_out(args) -> None:
    """A workbook is a binary file: it goes to --out, never to the terminal."""
    if not args.out or args.out == "-":
        raise UsageError(finding("xlsx-needs-out", "--format xlsx writes a file: give --out FILE.xlsx"))


def _diff_explain(session, args) -> int:
    from engine import explain
    from engine.errors import UsageError, finding

    if args.year is None:
        raise UsageError(finding("no-year", "--explain needs one fiscal year: give --year, e.g. --year R7"))
    (year,) = session.years(session.version(args.b), args.year, None)
    xa, xb = explain.explain_versions(session, args.a, args.b, args.explain, year, args.municipality)
    fmt = {"table": "text", "csv": "text"}.get(args.format, args.format)
    write_output(explain.render_side_by_side(xa, xb, fmt), args.out, inputs=session.input_paths)
    return 1 if args.exit_code and not explain.same_value(xa.root.value, xb.root.value) else 0


def cmd_explain(args) -> int:
    from engine import explain

    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    version = session.choose_version(args.version, args.year)
    (year,) = session.years(version, args.year, None)
    x = explain.explain_for(version, session.data_for(version), args.name, year, args.municipality, depth=args.depth, full=args.full)
    _print_warnings(session)
    write_output(explain.render_explanation(x, args.format), args.out, inputs=session.input_paths)
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
            rule_format.write_formatted(r)
            print(f"reformatted {r.shown}", file=sys.stderr)
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    print(f"{len(changed)} of {len(results)} rule file{'s' if len(results) != 1 else ''} {verb}", file=sys.stderr)
    return 1 if args.check and changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in WORKSPACE_OPTIONS:
            from engine import workspace

            workspace.fill(vars(args), WORKSPACE_OPTIONS[args.command])
        return args.func(args)
    except KokuhoError as e:
        for f in e.findings:
            print(f.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kokuho: interrupted; no output was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        print("kokuho: error: the rules are nested too deeply to evaluate", file=sys.stderr)
        return 2
    except Exception as e:  # last resort: a bug of ours, never a traceback in front of staff
        print(f"kokuho: internal error: {type(e).__name__}: {e}; please report this with the command you ran", file=sys.stderr)
        return 3


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
