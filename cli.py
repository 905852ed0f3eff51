"""The `kokuho` command line: parses arguments, calls the engine, renders, maps errors to exit codes.

Exit codes: 0 success; 1 findings (check or test failures, a diff with changes under
--exit-code); 2 unusable input or usage. Messages go to stderr, results to stdout or --out.
"""

from __future__ import annotations

import argparse
import sys

from engine import api
from engine.errors import KokuhoError
from engine.output import write_output

FORMATS = ("table", "csv", "json", "markdown")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with our one-line style, no traceback
        self.print_usage(sys.stderr)
        print(f"kokuho: error: {message}", file=sys.stderr)
        sys.exit(2)


def _common_eval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", action="append", metavar="PATH", help="rule directory or files (default: the shipped rules/tokyo)")
    p.add_argument("--data", metavar="FILE", help="municipal data, CSV (UTF-8, BOM or CP932) or YAML (default: bundled sample)")
    p.add_argument("--prefecture-data", metavar="FILE", help="prefecture data (default: bundled sample)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--year", metavar="YEAR", help="one fiscal year: FY2024, 2024, R6 or 令和6年度")
    when.add_argument("--period", metavar="PERIOD", help="a period: R6-R8, FY2024..FY2026 or 令和6～8年度")
    p.add_argument("--columns", metavar="NAMES", help="comma-separated definitions to show (default: the version's summary columns)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kokuho", description="Tokyo NHI operating-policy rules: check, evaluate, compare, explain.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check", help="static checks of rule files (exit 0 clean, 1 findings, 2 unusable)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories (default: rules/tokyo)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="evaluate a version for a fiscal year or a period")
    p.add_argument("--version", metavar="ID", help="rule version, e.g. R6 (default: the newest)")
    _common_eval_options(p)
    p.add_argument("--headers", choices=("en", "ja"), default="en", help="CSV headers: rule names or Japanese labels")
    p.add_argument("--summary", action="store_true", help="per-year summary: achievers per band, totals, coefficients")
    p.set_defaults(func=cmd_eval)
    return parser


def cmd_check(args) -> int:
    report = api.check(args.paths or None)
    for f in report.findings:
        print(f.render(), file=sys.stderr)
    if report.findings:
        print(f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''} in {report.file_count} file{'s' if report.file_count != 1 else ''}", file=sys.stderr)
        return 1
    print(f"{report.file_count} rule file{'s' if report.file_count != 1 else ''} checked: no findings ({', '.join(report.versions)})", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    session = api.Session.open(args.rules, args.data, args.prefecture_data)
    version = session.version(args.version)
    years = session.years(version, args.year, args.period)
    result = session.evaluate(version, years, api.split_names(args.columns))
    if args.summary:
        text = api.render_summary(result, args.format)
    else:
        text = api.render_eval(result, args.format, headers=args.headers)
    write_output(text, args.out, inputs=session.input_paths)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
