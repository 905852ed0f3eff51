"""The staff docs stay true to the tool: docs/examples/R9.rules (written from docs/language.md alone)
checks clean, evaluates and passes `kokuho test`; every complete rule file shown in the docs parses; every `$ kokuho ...`
output pasted in the docs is what the tool prints today; every finding code has its section.

Conventions in docs/*.md (see the top of docs/language.md):
- a fenced block whose first line is `# file: NAME` is a complete file called NAME; a rules file
  marked `# file: NAME (does not parse)` must fail to parse;
- a fenced block whose first line is `$ kokuho ...` is a command and, below it, its exact output
  (stderr and stdout in the order written; `| head -n N` / `| tail -n N` cut stdout only). It runs in a scratch folder
  holding copies of rules/ and docs/examples/ and every `# file:` block shown above it in the
  same document (a later block of the same name replaces an earlier one).

When a message changes on purpose, refresh the pasted outputs with
    python tests/test_docs.py --update
and read the diff before committing it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # when run as a script for --update
    sys.path.insert(0, str(ROOT))

import cli  # noqa: E402
from engine import api  # noqa: E402
from engine.errors import RuleSyntaxError  # noqa: E402
from engine.evaluate import Evaluator, Undefined  # noqa: E402
from engine.parse import parse_text  # noqa: E402
from engine.versions import RuleSet, default_rules_dir  # noqa: E402

DOCS = ROOT / "docs"
R9 = DOCS / "examples" / "R9.rules"
DOC_FILES = ("language.md", "data.md", "tutorial.md", "editor.md")
FENCE = re.compile(r"^(```+)([\w-]*)[ \t]*\n(.*?)^\1[ \t]*$", re.S | re.M)
FILE_MARK = re.compile(r"^# file: (\S+)(.*)$")
PIPE = re.compile(r"\s*\|\s*(head|tail)\s+-n\s*(\d+)\s*$")


# ---- reading the docs ----------------------------------------------------------------------------


class Block:
    """One fenced block of a markdown file: its language, body, and where the body starts."""

    def __init__(self, doc: str, lang: str, body: str, start: int, end: int, line: int):
        self.doc, self.lang, self.body, self.start, self.end, self.line = doc, lang, body, start, end, line

    @property
    def first(self) -> str:
        return self.body.split("\n", 1)[0]


def blocks(doc: str) -> list[Block]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start(3)) + 1
        out.append(Block(doc, m.group(2), m.group(3), m.start(3), m.end(3), line))
    return out


def doc_files(doc: str) -> list[tuple[Block, str, str]]:
    """The complete files shown in a document: (block, file name, the rest of the marker line)."""
    out = []
    for b in blocks(doc):
        m = FILE_MARK.match(b.first)
        if m:
            out.append((b, m.group(1), m.group(2).strip()))
    return out


def commands(doc: str) -> list[tuple[Block, str, dict[str, str]]]:
    """Each `$ kokuho` block with the command line and the files shown above it."""
    files: dict[str, str] = {}
    out = []
    for b in blocks(doc):
        m = FILE_MARK.match(b.first)
        if m:
            files[m.group(1)] = b.body
        elif b.first.startswith("$ kokuho "):
            out.append((b, b.first[2:], dict(files)))
    return out


# ---- running a command as the docs show it -------------------------------------------------------


@contextlib.contextmanager
def scratch(files: dict[str, str]):
    """A folder like the repository root: rules/ and docs/examples/ copied, the shown files written."""
    with tempfile.TemporaryDirectory(prefix="kokuho-docs-") as d:
        root = Path(d)
        shutil.copytree(ROOT / "rules", root / "rules")
        shutil.copytree(DOCS / "examples", root / "docs" / "examples")
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        old = os.getcwd()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old)


class _Terminal:
    """Records what a command writes to stdout and to stderr, and in which order."""

    def __init__(self):
        self.stdout, self.err_before, self.err_after = [], [], []

    def stream(self, which: str):
        term = self

        class _Stream(io.StringIO):
            def write(self, s):
                if which == "out":
                    term.stdout.append(s)
                else:
                    (term.err_after if term.stdout else term.err_before).append(s)
                return len(s)

        return _Stream()


def run_command(command: str, files: dict[str, str]) -> str:
    """What a terminal shows: stderr and stdout in the order written, stdout cut by a trailing
    `| head -n N` or `| tail -n N` (stderr is not piped, as in a shell)."""
    pipe = PIPE.search(command)
    if pipe:
        command = command[: pipe.start()]
    argv = shlex.split(command)
    assert argv[0] == "kokuho", command
    term = _Terminal()
    with scratch(files), contextlib.redirect_stdout(term.stream("out")), contextlib.redirect_stderr(term.stream("err")):
        try:
            cli.main(argv[1:])
        except SystemExit:  # argparse usage errors
            pass
    stdout = "".join(term.stdout).lstrip("\ufeff").replace("\r\n", "\n")
    lines = stdout.splitlines()
    if pipe:
        n = int(pipe.group(2))
        lines = lines[:n] if pipe.group(1) == "head" else lines[-n:]
    text = "\n".join("".join(term.err_before).splitlines() + lines + "".join(term.err_after).splitlines())
    return normalise(text)


def normalise(text: str) -> str:
    """Trailing spaces and blank lines at the end do not count (editors strip them)."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def expected_output(block: Block) -> str:
    return normalise(block.body.split("\n", 1)[1] if "\n" in block.body else "")


# ---- (a) a new revision written from the docs alone --------------------------------------------


def test_r9_example_checks_clean_with_the_shipped_rules():
    """docs/examples/R9.rules, written from docs/language.md only, has no findings next to rules/tokyo."""
    report = api.check([default_rules_dir(), R9])
    assert [f.render() for f in report.findings] == []
    assert report.versions == ["R3", "R6", "R9"]


def test_r9_gives_fy2027_targets_where_r6_has_none(make_data):
    """R9's new table makes FY2027 (令和9年度) targets defined where a FY2026 rate exists.

    131016: r(2026) = 96.50% is in [95%, 97%): 96.50% + 0.20pp = 96.70%.
    131024: r(2026) = 97.80% is in [97%, 99%), r(2025) = 98.20%: min(97.80%, 98.20%) = 97.80%.
    132012: no FY2026 rate, so no target, and the reason says so.
    Under R6 the same year has no table in force at all.
    """
    from tests.conftest import municipal_row, prefecture_row

    rs = RuleSet.from_paths([default_rules_dir(), R9])
    rows = [
        municipal_row(2025, "131016", "千代田区", collection_rate="96.10"),
        municipal_row(2026, "131016", "千代田区", collection_rate="96.50"),
        municipal_row(2027, "131016", "千代田区", collection_rate=None),
        municipal_row(2025, "131024", "中央区", collection_rate="98.20"),
        municipal_row(2026, "131024", "中央区", collection_rate="97.80"),
        municipal_row(2027, "131024", "中央区", collection_rate=None),
        municipal_row(2025, "132012", "八王子市", collection_rate="93.40"),
        municipal_row(2026, "132012", "八王子市", collection_rate=None),
        municipal_row(2027, "132012", "八王子市", collection_rate=None),
    ]
    prefecture = [prefecture_row(y) for y in (2025, 2026, 2027)]
    r9 = rs.version("R9")
    targets = Evaluator(r9, make_data(r9, rows, prefecture)).value("target_rate", 2027)
    assert targets == (Fraction(9670, 10000), Fraction(9780, 10000), Undefined("no FY2026 collection rate for 132012 八王子市"))
    r6 = rs.version("R6")
    (first, *_) = Evaluator(r6, make_data(r6, rows, prefecture)).column("target_rate", 2027)
    assert first == Undefined(
        "no target_table (目標収納率（検討案）) in force for FY2027 (R9) in version R6; it covers FY2024-FY2026 (R6-R8)"
    )


def test_tutorial_shows_the_shipped_r9():
    """The R9.rules the tutorial walks through is exactly docs/examples/R9.rules."""
    shown = [b.body for b, name, rest in doc_files("tutorial.md") if name == "R9.rules"]
    assert shown == [R9.read_text(encoding="utf-8")]


def test_shown_example_files_are_the_shipped_ones():
    """A docs block named `# file: docs/examples/...` shows that file exactly (else the docs' runs would use a stale copy)."""
    shown = [
        (name, b.body) for doc in DOC_FILES if (DOCS / doc).exists() for b, name, _ in doc_files(doc) if name.startswith("docs/examples/")
    ]
    assert len(shown) >= 2
    for name, body in shown:
        assert body == (ROOT / name).read_text(encoding="utf-8"), name


def test_kokuho_test_passes_on_the_shipped_rules_and_r9(capsys):
    """`kokuho test rules/tokyo docs/examples/R9.rules` exits 0. R9 takes over from FY2027, so R6's FY2025
    target examples pass under R9 as they are (R6's table is still in force then); R9 restates only
    target_after_plan for FY2027 with a figure worked out by hand (92.00% + 0.50pp = 92.50%), and pins which
    table and α are in force in each year FY2024-FY2030.

    The counts, from the files: R3 runs its 7 examples (44 expectations: 3 + 2 + 2 + 2 + 5 for the
    bands, 20 for the levy, 10 for the deficits); R6 runs 13 (79: R3's levy and deficit 30, its
    4 restated bands 8, then 2 + 2 + 1 + 6 + 1 for its new bands, 15 + 14 for α and relief);
    R9 runs 20 (93: R6's 13 with its own target_after_plan, 79, then 7 × 2 for FY2024-FY2030).
    """
    code = cli.main(["test", str(ROOT / "rules" / "tokyo"), str(R9)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "40 example runs (216 expectations) in 3 versions: 40 passed, 0 failed"
    r9_runs = [line.split()[2] for line in lines if line.startswith("ok   R9 ")]
    assert r9_runs == [
        "target_below_85",
        "target_85_90",
        "target_90_95",
        "target_95_97",
        "levy_small_prefecture",
        "deficit_statuses",
        "target_97_99_lower",
        "target_97_99_higher",
        "target_97_99_no_year_before_last",
        "target_99_100",
        "target_after_plan",
        "alpha_relief_R6",
        "alpha_relief_R7",
        "in_force_R6",
        "in_force_R7",
        "in_force_R8",
        "in_force_R9",
        "in_force_R10",
        "in_force_R11",
        "after_plan_R12",
    ]
    assert "ok   R9 target_after_plan 「令和9年度の目標（90%以上95%未満）」" in out  # R9's own, not R6's


# ---- (b) complete rule files in the docs parse ---------------------------------------------------

RULE_FILES = [(b, name, rest) for doc in DOC_FILES if (DOCS / doc).exists() for b, name, rest in doc_files(doc) if b.lang == "rules"]


@pytest.mark.parametrize("block, name, rest", RULE_FILES, ids=[f"{b.doc}:{b.line}:{n}" for b, n, _ in RULE_FILES])
def test_complete_rule_files_in_the_docs_parse(block, name, rest):
    """A `# file:` rules block parses with today's grammar; one marked `(does not parse)` does not."""
    if "(does not parse)" in rest:
        with pytest.raises(RuleSyntaxError):
            parse_text(block.body, name)
    else:
        parse_text(block.body, name)


def test_language_reference_has_complete_files():
    """The convention is in use: the reference shows complete files (a typo in the marker would skip them)."""
    names = [name for b, name, rest in doc_files("language.md") if b.lang == "rules"]
    assert len(names) >= 30


# ---- (c) pasted outputs are real -----------------------------------------------------------------

COMMANDS = [(b, cmd, files) for doc in DOC_FILES if (DOCS / doc).exists() for b, cmd, files in commands(doc)]


@pytest.mark.parametrize("block, command, files", COMMANDS, ids=[f"{b.doc}:{b.line}" for b, _, _ in COMMANDS])
def test_pasted_output_is_what_kokuho_prints(block, command, files):
    """The output under `$ kokuho ...` in the docs is exactly today's output (refresh: python tests/test_docs.py --update)."""
    assert run_command(command, files) == expected_output(block)


# ---- every finding code is documented ------------------------------------------------------------


def codes_in(*modules: str) -> set[str]:
    codes = set()
    for m in modules:
        src = (ROOT / "engine" / m).read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:finding|_fail|self\.add)\(\s*"([a-z]+(?:-[a-z]+)*)"', src))
        codes |= set(re.findall(r'UnitError\([^\n]*?,\s*"([a-z]+(?:-[a-z]+)*)"\)', src))
        if "class UnitError" in src:
            codes |= {"unit", "arity"}
    return codes


def documented(doc: str) -> set[str]:
    """The codes named in the headings of a document, e.g. `#### a, b` with each code in backticks."""
    headings = re.findall(r"^#{3,4} (.*)$", (DOCS / doc).read_text(encoding="utf-8"), re.M)
    return {code for h in headings for code in re.findall(r"`([a-z]+(?:-[a-z]+)*)`", h)}


def test_every_rule_finding_code_has_a_section():
    """Each code the parser, the version resolver and the checker can report has a `### \\`code\\`` section in docs/language.md."""
    missing = codes_in("parse.py", "versions.py", "check.py") - documented("language.md")
    assert sorted(missing) == []


def test_every_data_finding_code_has_a_section():
    """Each code data validation can report has a section in docs/data.md."""
    missing = {c for c in codes_in("data.py") if c.startswith("data-")} - documented("data.md")
    assert sorted(missing) == []


# ---- refreshing the pasted outputs ---------------------------------------------------------------


def update(doc: str) -> int:
    """Rewrite the output under every `$ kokuho` block of one document; return how many changed."""
    path = DOCS / doc
    text = path.read_text(encoding="utf-8")
    changed = 0
    for b, cmd, files in reversed(commands(doc)):
        new = b.first + "\n" + run_command(cmd, files) + "\n"
        if normalise(new) != normalise(b.body):
            changed += 1
        text = text[: b.start] + new + text[b.end :]
    path.write_text(text, encoding="utf-8")
    return changed


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update [DOC.md ...]")
    for doc in sys.argv[2:] or DOC_FILES:
        if (DOCS / doc).exists():
            print(f"{doc}: {update(doc)} output(s) changed")
