"""Limits and safety: deep, long and huge inputs give our error (never a RecursionError or a hang);
rule and data files cannot run code or reach other files; outputs are written atomically and never
over an input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from engine.api import check
from engine.data import check_digit, sample_paths
from tests.conftest import MUNICIPAL_HEADER, PREFECTURE_HEADER, ROOT, municipal_row, prefecture_row, write_csv

HEAD = 'ruleset X\ninput municipal a "a" : yen\n'


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny(tmp_path):
    """Data for the rule files of these tests: one municipality with a = 5円 in FY2024, an empty prefecture file."""
    m = write_csv(
        tmp_path / "m.csv", ["fiscal_year", "code", "name", "a"], [{"fiscal_year": 2024, "code": "131016", "name": "千代田区", "a": 5}]
    )
    p = write_csv(tmp_path / "p.csv", ["fiscal_year"], [{"fiscal_year": 2024}])

    def eval_(rules_text: str, *extra):
        (tmp_path / "X.rules").write_text(rules_text, encoding="utf-8")
        return ["eval", "--rules", tmp_path / "X.rules", "--data", m, "--prefecture-data", p, "--year", "FY2024", "--format", "csv", *extra]

    return eval_


# ---- deep nesting ----------------------------------------------------------------------------------

DEEP = "an expression is nested more than 100 levels deep; split it into smaller definitions"
DEEP_CASES = [
    # (what, the definition's right-hand side, column of the finding). The file's own levels are start (1) and
    # definition (2), so the k-th operator from the top is at depth k + 2 and its operands at k + 3; the finding
    # points at the first node found at depth 101. The right-hand side starts at column 18 (19 after `: bool = `).
    ("150 × not", "not " * 150 + "true", 19 + 4 * 98),  # the 99th `not`
    ("150 × unary minus", "-" * 150 + "a", 18 + 98),  # the 99th `-`
    ("a sum of 5,001 terms", "a" + " + a" * 5000, 18 + 4 * 4903),  # the right operand of the 98th `+` from the top: term 4,904
    ("150 × else if", "if true then a else " * 150 + "a", 18 + 20 * 98),  # the 99th `if`
    ("150 × with", "a" + " with a = 1円" * 150, 18 + 1 + 12 * 52 + 10),  # the value of the 98th `with` from the top: the 53rd
]


@pytest.mark.parametrize("what, rhs, column", DEEP_CASES, ids=[c[0] for c in DEEP_CASES])
def test_deep_expressions_are_refused(tmp_path, what, rhs, column):
    """Chains without brackets used to blow Python's stack in the parser (RecursionError); now a too-deep finding at the spot where depth 101 is reached."""
    unit = "bool" if rhs.startswith("not") else "yen"
    (tmp_path / "X.rules").write_text(HEAD + f"define b : {unit} = {rhs}\n", encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert (f.code, f.message, f.span.line) == ("too-deep", DEEP, 3)
    assert f.span.column == column


def test_brackets_nested_too_deep(tmp_path):
    """250 brackets: refused before parsing, at the 201st bracket."""
    (tmp_path / "X.rules").write_text(HEAD + "define b : yen = " + "(" * 250 + "a" + ")" * 250 + "\n", encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert (f.code, f.message, f.span.line, f.span.column) == ("too-deep", "brackets nested more than 200 deep", 3, 18 + 200)


def test_depth_just_under_the_limit_evaluates(capsys, tiny):
    """A sum of 98 terms (depth 100 with the file's own levels) checks, evaluates and renders: 98 × 5円 = 490円."""
    code, out, err = run(capsys, *tiny(HEAD + "define b : yen = a" + " + a" * 97 + "\n", "--columns", "b"))
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "2024,131016,千代田区,490,"


def test_long_chain_of_definitions(capsys, tiny):
    """d0 = a, d_i = d_(i-1) + 1円: 100 links evaluate exactly (5 + 100 = 105); 3,000 links check clean
    (the cycle check walks iteratively) and evaluation stops with eval-too-deep, exit 2, no traceback."""
    chain = lambda n: HEAD + "define d0 : yen = a\n" + "".join(f"define d{i} : yen = d{i - 1} + 1円\n" for i in range(1, n + 1))
    code, out, err = run(capsys, *tiny(chain(100), "--columns", "d100"))
    assert (code, out.splitlines()[1], err) == (0, "2024,131016,千代田区,105,", "")
    argv = tiny(chain(3000), "--columns", "d3000")
    assert run(capsys, "check", argv[2]) == (0, "", "1 rule file checked: no findings (X)\n")
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == (
        f"{argv[2]}:3003:8: eval-too-deep: the rules are nested too deeply to evaluate d3000 for FY2024 (R6): "
        "a chain of definitions that use other definitions (or earlier years) is too long"
    )


def test_reversed_long_chain_is_checked_without_recursion(tmp_path):
    """d_i = d_(i+1) + 1円 listed top-down: the cycle check used to recurse 3,000 deep (RecursionError)."""
    src = HEAD + "".join(f"define d{i} : yen = d{i + 1} + 1円\n" for i in range(3000)) + "define d3000 : yen = a\n"
    (tmp_path / "X.rules").write_text(src, encoding="utf-8")
    assert check([tmp_path / "X.rules"]).findings == []


@pytest.mark.parametrize(
    "rhs, reason",
    [
        ("x[year + 1]", "x would need data after FY2084"),
        ("x[year - 1] + 1円", "x would need data before FY1964"),
    ],
)
def test_a_definition_reaching_every_year_stops(capsys, tiny, rhs, reason):
    """x defined from itself in the next (previous) year: without a data bound this recursed forever; now undefined
    with the reason, 60 years beyond the data (FY2024 ± 60)."""
    code, out, err = run(capsys, *tiny(HEAD + f"define x : yen = {rhs}\n", "--columns", "x"))
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == f"2024,131016,千代田区,,x: {reason}"


# ---- long files, huge numbers ------------------------------------------------------------------------


def test_very_long_rule_file(tmp_path):
    """Over 2,000,000 characters: refused up front; 5,000 definitions (about 270 kB) check clean."""
    (tmp_path / "X.rules").write_text(HEAD + "# " + "x" * 2_000_000 + "\n", encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert (f.code, f.message) == ("file-too-large", "rule file has 2,000,041 characters; the limit is 2,000,000")  # 38 + 2 + 2,000,000 + 1
    many = HEAD + "".join(f'define d{i} "d{i}" : yen = a * 2 + {i}円\n  cite "x"\n' for i in range(5000))
    (tmp_path / "X.rules").write_text(many, encoding="utf-8")
    assert check([tmp_path / "X.rules"]).findings == []


@pytest.mark.parametrize(
    "rhs, code, message",
    [
        ("1" + "0" * 30 + "円", "number-too-long", "a number with 31 digits; the limit is 30"),
        ("1" + "0" * 10000 + "円", "number-too-long", "a number with 10001 digits; the limit is 30"),
        ("0." + "0" * 29 + "1円", "number-too-long", "a number with 31 digits; the limit is 30"),
        (
            "10**10000円",
            "syntax",
            "unexpected '*'; expected 'false', 'true', 'year', (, -, a \"quoted text\", a fiscal year like FY2024, a name, ...",
        ),
    ],
)
def test_huge_numbers_in_rules(tmp_path, rhs, code, message):
    """Exact fractions of 10,000-digit literals make every later step slow; the parser caps a literal at 30 digits."""
    (tmp_path / "X.rules").write_text(HEAD + f"define b : yen = a + {rhs}\n", encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert (f.code, f.message, f.span.line) == (code, message, 3)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("9" * 10000, "a: a number with 10000 digits; the limit is 30"),
        ("1e999999999", "a: '1e999999999' is not a plain decimal number"),
        ("1/3", "a: '1/3' is not a plain decimal number"),
    ],
)
def test_huge_numbers_in_data(capsys, tmp_path, cell, message):
    """'1e999999999' used to reach Fraction(), which computes 10**999999999 (a hang); it is refused first, in no time."""
    m = tmp_path / "m.csv"
    m.write_text(f"fiscal_year,code,name,a\n2024,131016,千代田区,{cell}\n", encoding="utf-8")
    p = write_csv(tmp_path / "p.csv", ["fiscal_year"], [{"fiscal_year": 2024}])
    (tmp_path / "X.rules").write_text(HEAD, encoding="utf-8")
    start = time.monotonic()
    code, out, err = run(capsys, "eval", "--rules", tmp_path / "X.rules", "--data", m, "--prefecture-data", p, "--year", "R6")
    assert time.monotonic() - start < 5
    assert (code, out, err) == (2, "", f"{m}:2:4: data-bad-value: {message}\n")


# ---- extends ---------------------------------------------------------------------------------------------


def test_long_chain_of_extends(capsys, tmp_path):
    """V0 <- V1 <- ... <- V59: the 50-version chain V0..V49 is fine; V50..V59 each get one finding at their own header."""
    for i in range(60):
        (tmp_path / f"V{i}.rules").write_text(f"ruleset V{i}" + (f" extends V{i - 1}" if i else "") + "\n", encoding="utf-8")
    code, out, err = run(capsys, "check", tmp_path)
    assert code == 1
    lines = err.splitlines()
    assert (
        lines[0]
        == f"{tmp_path / 'V50.rules'}:1:21: extends-too-deep: version V50 extends a chain of more than 50 versions (V50 -> V49 -> ... -> V0)"
    )
    assert lines[-1] == "10 findings in 60 files"
    for i in range(50, 60):
        (tmp_path / f"V{i}.rules").unlink()
    assert run(capsys, "check", tmp_path)[0] == 0


# ---- rule and data files only compute ----------------------------------------------------------------


@pytest.mark.parametrize(
    "line, code, message",
    [
        (
            "import os",
            "syntax",
            "unexpected 'import'; expected 'basis', 'cite', 'define', 'example', 'extends', 'input', 'override', 'period', ...",
        ),
        (
            'exec("import os")',
            "syntax",
            "unexpected 'exec'; expected 'basis', 'cite', 'define', 'example', 'extends', 'input', 'override', 'period', ...",
        ),
        (
            'include "/etc/passwd"',
            "syntax",
            "unexpected 'include'; expected 'basis', 'cite', 'define', 'example', 'extends', 'input', 'override', 'period', ...",
        ),
        (
            'define b : text = __import__("os")',
            "unknown-function",
            "unknown function '__import__'; functions are abs, ceil, count, decimals, defined, floor, max, mean, min, percent, ratio, round, sum",
        ),
        (
            'define b : text = open("/etc/passwd")',
            "unknown-function",
            "unknown function 'open'; functions are abs, ceil, count, decimals, defined, floor, max, mean, min, percent, ratio, round, sum",
        ),
    ],
)
def test_rule_files_cannot_run_python(tmp_path, line, code, message):
    """The language has no import, include, exec or file access; its functions are a fixed list of arithmetic."""
    (tmp_path / "X.rules").write_text(f"ruleset X\n{line}\n", encoding="utf-8")
    (f,) = check([tmp_path / "X.rules"]).findings
    assert (f.code, f.message, f.span.line) == (code, message, 2)


def test_evaluation_opens_only_its_inputs(capsys, tmp_path, tiny):
    """An audit hook records every file opened and every process or socket started during `kokuho eval`: only the
    given rule and data files (and Python's own modules and caches) are opened, even when the rules name other files."""
    argv = tiny(
        HEAD + 'input municipal b "/etc/passwd" : text\n  columns "/etc/hostname"\ndefine c : text = "/etc/shadow"\n', "--columns", "c"
    )
    events: list[tuple[str, str]] = []
    active = [True]

    def hook(event, args):
        if not active[0]:
            return
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            events.append(("open", os.fsdecode(args[0])))
        elif event in ("os.system", "os.exec", "os.posix_spawn", "subprocess.Popen", "socket.connect", "os.fork"):
            events.append((event, str(args[:1])))

    sys.addaudithook(hook)  # cannot be removed: the flag turns it off after this test
    try:
        code, out, err = run(capsys, *argv)
    finally:
        active[0] = False
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "2024,131016,千代田区,/etc/shadow,"
    try:  # the parse cache of engine/cache.py, when there is one
        from engine.cache import cache_dir

        caches = (str(cache_dir()),) if cache_dir() else ()
    except ImportError:
        caches = ()
    allowed = (str(tmp_path), sys.prefix, sys.base_prefix, str(ROOT / "engine"), "/dev/") + caches
    opened = [p for kind, p in events if kind == "open" and not os.path.abspath(p).startswith(allowed)]
    assert opened == []
    assert [e for e in events if e[0] != "open"] == []
    assert {str(tmp_path / n) for n in ("X.rules", "m.csv", "p.csv")} <= {os.path.abspath(p) for _, p in events}


def test_yaml_python_tags_are_refused(capsys, tmp_path):
    """YAML is read with safe_load: a !!python tag is refused with our error and runs nothing."""
    m = tmp_path / "m.yaml"
    m.write_text(f'- !!python/object/apply:os.system ["touch {tmp_path / "pwned"}"]\n', encoding="utf-8")
    code, out, err = run(capsys, "eval", "--data", m, "--prefecture-data", sample_paths()[1], "--year", "R6")
    assert (code, out) == (2, "")
    assert err == f"{m}:1:3: data-yaml: the YAML tag !!python/object/apply:os.system is not allowed: a data file holds only plain values\n"
    assert not (tmp_path / "pwned").exists()


# ---- outputs ---------------------------------------------------------------------------------------------


def big_data(tmp_path, n: int) -> tuple[Path, Path]:
    """n municipalities × FY2022-FY2024."""
    rows = []
    for y in (2022, 2023, 2024):
        for i in range(n):
            c5 = f"{10000 + i:05d}"
            rows.append(
                municipal_row(y, c5 + str(check_digit(c5)), f"市{i}", collection_rate=f"{80 + i % 20}.{i % 100:02d}", insured=1000 + i)
            )
    m = write_csv(tmp_path / "m.csv", MUNICIPAL_HEADER, rows)
    p = write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, [prefecture_row(y, levy_medical=10**11) for y in (2022, 2023, 2024)])
    return m, p


KILLED = [
    # (command, municipalities, its arguments, kill moments: None = as soon as the temporary file appears)
    (
        "eval",
        3000,
        ["--period", "R4-R6", "--columns", "previous_rate,target_rate,achieved,deficit_status", "--format", "csv"],
        [None, None, 0.3, 1.0],
    ),
    ("report", 200, ["--period", "R5-R6"], [None, 1.0]),
]


@pytest.mark.parametrize("command, n, options, moments", KILLED, ids=[k[0] for k in KILLED])
def test_killed_run_leaves_the_previous_output(tmp_path, command, n, options, moments):
    """SIGKILL (no handler can run) `kokuho eval --out` (about 2 MB of CSV) and `kokuho report --out` (about 1.3 MB of
    HTML) the moment the temporary file appears and at fixed delays: the target then holds the previous bytes or
    the complete new output (the outputs are deterministic), never a part of it."""
    m, p = big_data(tmp_path, n)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "result.out"
    argv = [sys.executable, str(ROOT / "cli.py"), command, "--data", str(m), "--prefecture-data", str(p), *options, "--out", str(target)]
    subprocess.run(argv, check=True, timeout=300)
    complete = target.read_bytes()
    assert len(complete) > 1_000_000 if command == "eval" else len(complete) > 500_000
    killed_mid_write = 0
    for attempt, delay in enumerate(moments):
        previous = f"previous {attempt}\n".encode()
        target.write_bytes(previous)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen_tmp = False
        if delay is None:  # the moment the temporary file exists (or, were writes not atomic, the target changes)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if any(n.endswith(".tmp") for n in os.listdir(out_dir)) or target.stat().st_size != len(previous):
                    seen_tmp = True
                    break
        else:
            time.sleep(delay)
        alive = proc.poll() is None
        if alive:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
        killed_mid_write += alive and seen_tmp
        assert target.read_bytes() in (previous, complete), f"attempt {attempt}: a partial file"
        for name in os.listdir(out_dir):  # a killed run may leave its hidden temporary file behind; it is never the target
            if name != target.name:
                assert name.startswith(".result.out.") and name.endswith(".tmp")
                (out_dir / name).unlink()
    assert killed_mid_write >= 1


def test_never_writes_over_its_inputs(capsys, tmp_path):
    """--out naming a data file, a rule file, or the same file by a hard link or another spelling: exit 2 and the input is unchanged."""
    m, p = big_data(tmp_path, 3)
    rules = tmp_path / "rules"
    rules.mkdir()
    for v in ("R3", "R6"):
        (rules / f"{v}.rules").write_bytes((ROOT / "rules" / "tokyo" / f"{v}.rules").read_bytes())
    os.link(m, tmp_path / "hard-link.csv")
    targets = [m, p, rules / "R6.rules", tmp_path / "rules" / ".." / "m.csv", tmp_path / "hard-link.csv"]
    before = {t: Path(t).read_bytes() for t in targets}
    for t in targets:
        code, out, err = run(
            capsys, "eval", "--rules", rules, "--data", m, "--prefecture-data", p, "--version", "R6", "--year", "R6", "--out", t
        )
        assert (code, out, err) == (2, "", f"out-is-input: --out {t} is one of the input files; refusing to overwrite it\n")
    assert {t: Path(t).read_bytes() for t in targets} == before


def test_output_keeps_the_mode_of_the_file_it_replaces(capsys, tmp_path):
    """The temporary file is private (0600) until renamed; the result gets the replaced file's mode, or 0666 less the umask."""
    target = tmp_path / "r.csv"
    assert run(capsys, "eval", "--year", "R6", "--format", "csv", "--out", target)[0] == 0
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    assert run(capsys, "eval", "--year", "R6", "--format", "csv", "--out", target)[0] == 0
    assert target.stat().st_mode & 0o777 == 0o640


# ---- exact values that grow without bound --------------------------------------------------------------------

GROWING = [
    # (what, the definition) from FY1965 (the data's FY2024 less 60 years) to FY2024
    (
        "a squaring recurrence (digits double every year)",
        "define sq : count = if year <= FY1965 then 10 else sq[year - 1] * sq[year - 1]\n",
    ),
    (
        "a fraction recurrence (numerator and denominator double every year)",
        "define f : ratio = if year <= FY1965 then 2 else f[year - 1] + 1 / f[year - 1]\n",
    ),
]


@pytest.mark.parametrize("what, definition", GROWING, ids=[g[0] for g in GROWING])
def test_values_growing_without_bound_stop(tmp_path, what, definition):
    """Rules that pass `check` but whose exact values double their digits every year (2^59 digits by FY2024) ran for
    minutes: evaluation stops with value-too-large, exit 2, within 5 s (process start included)."""
    m = write_csv(
        tmp_path / "m.csv", ["fiscal_year", "code", "name", "a"], [{"fiscal_year": 2024, "code": "131016", "name": "千代田区", "a": 5}]
    )
    p = write_csv(tmp_path / "p.csv", ["fiscal_year"], [{"fiscal_year": 2024}])
    (tmp_path / "X.rules").write_text(HEAD + definition, encoding="utf-8")
    name = definition.split()[1]
    assert run_check(tmp_path / "X.rules") == []
    argv = [
        sys.executable,
        str(ROOT / "cli.py"),
        "eval",
        "--rules",
        str(tmp_path / "X.rules"),
        "--data",
        str(m),
        "--prefecture-data",
        str(p),
        "--year",
        "R6",
        "--columns",
        name,
        "--format",
        "csv",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("still running after 5 s")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert " value-too-large: " in proc.stderr.splitlines()[0] or proc.stderr.startswith("value-too-large: ")


def run_check(path) -> list:
    return [(f.code, f.message) for f in check([path]).findings]


def test_a_value_past_the_int_to_text_limit(capsys, tiny):
    """A value of more than 4,300 digits (87 more digits each year from FY1965) was Python's ValueError, exit 3, in every
    output: the evaluation now stops at 4,000 digits with value-too-large naming the definition and the year, exit 2,
    in every command and format, and nothing is written."""
    rules = (
        HEAD
        + 'define g "増加" : yen = if year <= FY1965 then 5円 else g[year - 1] * '
        + " * ".join(["100000000000000000000000000000"] * 3)
        + "\n"
    )
    argv = tiny(rules, "--columns", "g")
    where = f"{argv[2]}:3:8: value-too-large: "
    expected = (
        where
        + "g for FY2011 (H23) has more than 4,000 digits as an exact number; round it (or what it adds up) with round(), floor() or ceil()\n"
    )
    for fmt in ("csv", "table", "json", "markdown"):
        assert run(capsys, *argv, "--format", fmt) == (2, "", expected)
    out = argv[2].parent / "g.xlsx"
    code, _, err = run(capsys, *argv, "--format", "xlsx", "--out", out)
    assert (code, err, out.exists()) == (2, expected, False)
    code, _, err = run(capsys, "explain", "g", "-m", "131016", *argv[1:7], "--year", "R6")
    assert (code, err) == (2, expected)


def test_a_version_id_of_4400_digits(tmp_path):
    """The versions are sorted by their number: int() of a 4,400-digit id was past Python's limit (exit 3)."""
    vid = "R" + "9" * 4400
    (tmp_path / "X.rules").write_text(f"ruleset {vid}\n", encoding="utf-8")
    (tmp_path / "Y.rules").write_text("ruleset R10\n", encoding="utf-8")
    report = check([tmp_path])
    assert (report.findings, report.versions) == ([], ["R10", vid])


@pytest.mark.parametrize("what, path_of", [("a regular file over the limit", None), ("/dev/zero", "/dev/zero")])
def test_data_and_rule_file_sizes_are_checked_before_reading(capsys, tmp_path, what, path_of):
    """A data file over 200 MB is refused by its size without being read; /dev/zero (no size) after 200 MB, not
    when memory runs out. A rule file over 8,000,003 bytes has more than 2,000,000 characters whatever they are."""
    from engine import source

    if path_of is None:
        big = tmp_path / "m.csv"
        with open(big, "wb") as f:
            f.truncate(source.MAX_DATA_BYTES + 1)  # a sparse file: its size, without writing 200 MB
        path_of = str(big)
    p = write_csv(tmp_path / "p.csv", ["fiscal_year"], [{"fiscal_year": 2024}])
    code, out, err = run(capsys, "eval", "--data", path_of, "--prefecture-data", p, "--year", "R6")
    size = f"has {source.MAX_DATA_BYTES + 1:,} bytes" if path_of != "/dev/zero" else f"has more than {source.MAX_DATA_BYTES:,} bytes"
    assert (code, out, err) == (2, "", f"{path_of}:1:1: file-too-large: data file {size}; the limit is 200,000,000 bytes\n")
    rules = tmp_path / "X.rules"
    with open(rules, "wb") as f:
        f.truncate(source.MAX_RULE_BYTES + 1)
    (finding,) = check([rules]).findings
    assert finding.render() == f"{rules}:1:1: file-too-large: rule file has 8,000,004 bytes; the limit is 2,000,000 characters"
