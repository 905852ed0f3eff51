"""Rule files being edited -> what an editor shows: diagnostics, hovers, definitions, references, outline, completions, fixes.

A `Workspace` holds the texts of the files open in the editor (unsaved edits included) and
finds everything else on disk: the versions a file extends are looked for next to it, then
among the open files, then in the workspace folders, then in the shipped rules (rules/tokyo).
Everything is computed by the engine itself: `parse.parse_text`, `versions.RuleSet`,
`check.Checker`, `format.format_text`, `columnar.ColumnEvaluator` (for a hover's value only).

Positions are 0-based (line, column), columns counted in characters; engine/lsp.py converts
them to the protocol's UTF-16 units. Parses are cached by (path, text), analyses by the texts
of the files they read, the data and evaluators by version; nothing is evaluated unless a hover
asks for a value.
"""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from pathlib import Path

import attrs

from . import ast
from .ast import FUNCTIONS, KEY_NAMES, ROUNDING_MODES
from .check import Checker
from .display import version_labels
from .errors import Finding, KokuhoError, closest, finding
from .versions import RULE_SUFFIX, RuleSet, Version, default_rules_dir
from .years import FiscalYear, YearFormatError, parse_year

NAME = re.compile(r"[^\W\d]\w*")
HEADER = re.compile(r"^[ \t\ufeff]*ruleset[ \t]+([A-Za-z][A-Za-z0-9_.]*)(?:[ \t]+extends[ \t]+([A-Za-z][A-Za-z0-9_.]*))?", re.M)
SKIP_DIRS = {".git", ".venv", ".ci-venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
MAX_WORKSPACE_FILES = 500  # rule files looked at under the workspace folders
LISTING_SECONDS = 5.0  # how long a listing of the workspace's rule files is reused
PARSE_CACHE = 64  # parsed texts kept in memory

KIND_JA = {
    "input": "入力",
    "definition": "定義",
    "table": "区分表",
    "schedule": "スケジュール",
    "summary": "集計",
    "example": "計算例",
    "remove": "削除",
}
UNIT_JA = {
    "percent": "パーセント (%)",
    "pp": "ポイント (pp)",
    "yen": "円",
    "ratio": "比率",
    "count": "件数・人数",
    "year": "年度",
    "bool": "真偽 (true/false)",
    "text": "文字列",
}
FUNCTION_DOCS = {
    "min": "min(a, b, …): the smallest of 2 or more values of one unit",
    "max": "max(a, b, …): the largest of 2 or more values of one unit",
    "abs": "abs(x): the absolute value of a number",
    "sum": "sum(x): the total over all municipalities of a municipal number",
    "mean": "mean(x): the average over all municipalities of a municipal number",
    "count": "count() the number of municipalities; count(flag) how many have flag true",
    "defined": "defined(x): true if x has a value, false if it is undefined",
    "round": "round(x, step, mode): x rounded to a multiple of step (modes: half_up 四捨五入, half_even, floor 切り捨て, ceil 切り上げ, down)",
    "floor": "floor(x, step): x rounded down (切り捨て) to a multiple of step",
    "ceil": "ceil(x, step): x rounded up (切り上げ) to a multiple of step",
    "percent": "percent(x): the same value as a percent",
    "ratio": "ratio(x): the same value as a ratio",
    "decimals": "decimals(n): the step 1/10ⁿ, for round",
}
ITEM_KEYWORDS = ("define", "input", "table", "schedule", "summary", "example", "override", "remove")
CLAUSE_KEYWORDS = ("cite", "effective", "columns", "band", "over", "labels")
HEADER_KEYWORDS = ("ruleset", "extends", "title", "status", "period", "basis")
EXPR_KEYWORDS = ("if", "then", "elif", "else", "and", "or", "not", "with", "year", "true", "false")
BLOCK_KEYWORDS = {
    "summary": ("bands", "total", "tally", "show", "columns", "screen"),
    "example": ("municipality", "prefecture", "expect", "undefined", "true", "false"),
}
_ITEM_START_TOKENS = {"OVERRIDE", "INPUT", "DEFINE", "TABLE", "SCHEDULE", "SUMMARY", "EXAMPLE", "REMOVE"}


# ---- positions -----------------------------------------------------------------------------


@attrs.frozen(order=True)
class Pos:
    line: int  # 0-based
    col: int  # 0-based, in characters


@attrs.frozen
class Range:
    start: Pos
    end: Pos

    def contains(self, p: Pos) -> bool:
        return self.start <= p <= self.end

    def overlaps(self, other: Range) -> bool:
        return self.start <= other.end and other.start <= self.end


@attrs.frozen
class Location:
    path: str
    range: Range


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def span_range(span: ast.Span, text: str) -> Range:
    """A span (1-based line and column, lark's exclusive end) as a 0-based range; a span without
    an end covers the word (or the character) at its start."""
    lines = lines_of(text)
    if span.line <= 0:
        return Range(Pos(0, 0), Pos(0, len(lines[0].rstrip("\r")) if lines else 0))
    line = min(span.line, len(lines)) - 1
    col = max(span.column - 1, 0)
    if span.end_line > 0 and (span.end_line, span.end_column) > (span.line, span.column):
        return Range(Pos(line, col), Pos(span.end_line - 1, max(span.end_column - 1, 0)))
    return Range(Pos(line, col), Pos(line, _word_end(lines[line], col)))


def _word_end(line: str, col: int) -> int:
    m = re.compile(r"[\w.%％,]+|\S").match(line, col) if col < len(line) else None
    return m.end() if m else col


def word_at(text: str, pos: Pos) -> tuple[str, Range] | None:
    """The name under (or just before) the cursor."""
    lines = lines_of(text)
    if not 0 <= pos.line < len(lines):
        return None
    for m in NAME.finditer(lines[pos.line]):
        if m.start() <= pos.col <= m.end():
            return m.group(), Range(Pos(pos.line, m.start()), Pos(pos.line, m.end()))
    return None


def norm_path(path: str | Path) -> str:
    """A file's path as the workspace keys it (absolute, normalised): the same file from the editor and from disk."""
    return os.path.normpath(os.path.abspath(str(path)))


# ---- results -------------------------------------------------------------------------------


@attrs.frozen
class Edit:
    path: str
    range: Range
    new_text: str


@attrs.frozen
class Fix:
    """A code action: a title and the edits that carry it out."""

    title: str
    edits: tuple[Edit, ...]
    preferred: bool = True


@attrs.frozen
class Diagnostic:
    range: Range
    code: str
    message: str
    severity: str  # 'error' | 'warning'
    fixes: tuple[Fix, ...] = ()


@attrs.frozen
class Symbol:
    name: str
    kind: str  # 'version', 'group', 'input', 'definition', 'table', 'schedule', 'summary', 'example', 'remove', 'band', 'entry'
    detail: str
    range: Range
    selection: Range
    children: tuple[Symbol, ...] = ()


@attrs.frozen
class Completion:
    label: str
    kind: str  # 'name:<item kind>', 'keyword', 'unit', 'year', 'function', 'mode', 'version'
    detail: str = ""
    documentation: str = ""
    insert_text: str | None = None
    sort: str = ""


@attrs.frozen
class Analysis:
    """One open file checked with the versions it extends."""

    path: str
    text: str
    rule_file: ast.RuleFile | None  # None: the text does not parse
    chain: tuple[ast.RuleFile, ...]  # the file, its base, the base's base, ... as found
    version: Version | None  # None: the chain does not resolve
    findings: tuple[Finding, ...]  # the file's own, with base problems reported at its `extends`


# ---- the workspace -------------------------------------------------------------------------


class Workspace:
    """The open files, the workspace folders and the shipped rules, and what the editor asks of them."""

    def __init__(self, roots=(), *, data: tuple[str, str] | None = None, shipped: str | Path | None = None):
        self.roots = [norm_path(r) for r in roots]
        self.data_paths = (str(data[0]), str(data[1])) if data else None
        self.shipped = norm_path(shipped if shipped is not None else default_rules_dir())
        self.open_docs: dict[str, str] = {}
        self._parses: OrderedDict = OrderedDict()
        self._analyses: OrderedDict = OrderedDict()
        self._listing: tuple[float, list[str]] | None = None
        self._datasets: dict = {}
        self._evaluators: OrderedDict = OrderedDict()
        self._good: dict[str, Analysis] = {}  # the last analysis of each file that parsed

    # ---- documents ----
    def set_text(self, path: str, text: str) -> None:
        self.open_docs[norm_path(path)] = text

    def close(self, path: str) -> None:
        self.open_docs.pop(norm_path(path), None)

    def text_of(self, path: str) -> str | None:
        p = norm_path(path)
        if p in self.open_docs:
            return self.open_docs[p]
        try:
            return Path(p).read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None

    def parse(self, path: str, text: str | None = None):
        """The RuleFile of a text, or the Finding that says why it does not parse (cached)."""
        p = norm_path(path)
        text = self.text_of(p) if text is None else text
        if text is None:
            return finding("no-such-file", f"rule file not found: {p}")
        key = (p, text)
        hit = self._parses.get(key)
        if hit is not None:
            self._parses.move_to_end(key)
            return hit
        from .parse import parse_text

        try:
            result = parse_text(text.lstrip("\ufeff"), p)
        except KokuhoError as e:
            result = e.findings[0]
        self._parses[key] = result
        while len(self._parses) > PARSE_CACHE:
            self._parses.popitem(last=False)
        return result

    # ---- finding versions ----
    def _dir_files(self, directory: str) -> list[str]:
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(RULE_SUFFIX))
        except OSError:
            names = []
        on_disk = [norm_path(os.path.join(directory, n)) for n in names]
        opened = sorted(p for p in self.open_docs if os.path.dirname(p) == directory)
        return list(dict.fromkeys(opened + on_disk))

    def forget_listing(self) -> None:
        self._listing = None

    def workspace_files(self) -> list[str]:
        now = time.monotonic()
        if self._listing is not None and now - self._listing[0] < LISTING_SECONDS:
            return self._listing[1]
        found: list[str] = []
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
                found.extend(norm_path(os.path.join(dirpath, f)) for f in sorted(filenames) if f.endswith(RULE_SUFFIX))
                if len(found) >= MAX_WORKSPACE_FILES:
                    break
        self._listing = (now, found[:MAX_WORKSPACE_FILES])
        return self._listing[1]

    def candidates(self, near: str) -> list[str]:
        """Rule files in the order they are searched: next to `near`, open ones, the workspace's, the shipped ones."""
        out = self._dir_files(near) + sorted(self.open_docs) + self.workspace_files() + self._dir_files(self.shipped)
        return list(dict.fromkeys(out))

    def declared_version(self, path: str) -> str | None:
        """The version a file declares, read from its `ruleset` line (even when the rest does not parse)."""
        text = self.text_of(path)
        m = HEADER.search(text) if text is not None else None
        return m.group(1) if m else None

    def find_version(self, vid: str, near: str):
        """(path, RuleFile or the Finding of its syntax error) of the file declaring vid, searched from `near`."""
        for p in self.candidates(near):
            if self.declared_version(p) != vid:
                continue
            parsed = self.parse(p)
            if isinstance(parsed, Finding) or parsed.header.version == vid:
                return p, parsed
        return None

    def versions_in_reach(self, near: str) -> dict[str, str]:
        """Every version id found from `near`, with the file that wins for it."""
        out: dict[str, str] = {}
        for p in self.candidates(near):
            vid = self.declared_version(p)
            if vid is not None and vid not in out:
                out[vid] = p
        return out

    # ---- analysis ----
    def analyse(self, path: str) -> Analysis:
        p = norm_path(path)
        text = self.text_of(p) or ""
        parsed = self.parse(p, text)
        if isinstance(parsed, Finding):
            return Analysis(p, text, None, (), None, (parsed,))
        chain, problems, missing = self._chain(parsed, p)
        key = (p, tuple((f.path, hash(f.source), len(f.source)) for f in chain), tuple(problems), missing)
        hit = self._analyses.get(key)
        if hit is not None and hit.text == text:
            self._good[p] = hit
            return hit
        result = self._resolve(p, text, parsed, chain, problems, missing)
        self._good[p] = result
        self._analyses[key] = result
        while len(self._analyses) > 16:
            self._analyses.popitem(last=False)
        return result

    def _chain(self, rf: ast.RuleFile, path: str):
        """The file and the versions it extends, as found; problems with a base as findings at `extends`."""
        chain = [rf]
        problems: list[Finding] = []
        seen = {rf.header.version}
        cur, near = rf, os.path.dirname(path)
        while cur.header.extends and cur.header.extends not in seen:
            vid = cur.header.extends
            found = self.find_version(vid, near)
            if found is None:
                return tuple(chain), problems, vid
            bp, base = found
            if isinstance(base, Finding):
                problems.append(self._at_extends(rf, vid, base))
                return tuple(chain), problems, None
            chain.append(base)
            seen.add(vid)
            cur, near = base, os.path.dirname(bp)
        return tuple(chain), problems, None

    def _at_extends(self, rf: ast.RuleFile, vid: str, f: Finding) -> Finding:
        """A problem in a base file, shown on the open file's `extends` line."""
        from .explain import shown_path

        where = f"{shown_path(f.span.file)}:{f.span.line}:{f.span.column}" if f.span.line else shown_path(f.span.file)
        return Finding(
            f.code,
            f"in base version {vid} ({where}): {f.message}",
            rf.header.extends_span,
            _source_line(rf.source, rf.header.extends_span),
            f.severity,
        )

    def _resolve(self, p: str, text: str, rf: ast.RuleFile, chain, problems, missing) -> Analysis:
        files = list(chain)
        if missing is not None:  # let versions.py say what is known, from everything in reach
            have = {f.header.version for f in files}
            for vid, q in self.versions_in_reach(os.path.dirname(p)).items():
                parsed = self.parse(q) if vid not in have else None
                if isinstance(parsed, ast.RuleFile) and parsed.header.version == vid:
                    files.append(parsed)
                    have.add(vid)
        findings: list[Finding] = list(problems)
        version = None
        if not problems:
            try:
                rs = RuleSet(files)
                version = rs.version(rf.header.version)
                bases = [rs.version(v) for v in version.chain[1:]]
            except KokuhoError as e:
                version = None
                for f in e.findings:
                    if f.span.file == p or f.span.file == "<none>":
                        findings.append(f)
                    else:
                        vid = next((c.header.version for c in chain if c.path == f.span.file), "?")
                        findings.append(self._at_extends(rf, vid, f))
            if version is not None:
                findings.extend(_own_findings(version, bases[0] if bases else None))
                for k, b in enumerate(bases):  # a base's own findings, once, at `extends`
                    bad = [f for f in _own_findings(b, bases[k + 1] if k + 1 < len(bases) else None) if f.severity == "error"]
                    if bad:
                        first = self._at_extends(rf, b.id, bad[0])
                        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                        findings.append(attrs.evolve(first, message=first.message + more))
                        break
        unique: list[Finding] = []
        for f in findings:
            if f not in unique:
                unique.append(f)
        return Analysis(p, text, rf, tuple(chain), version, tuple(unique))

    def names_source(self, a: Analysis) -> Analysis:
        """What names a file being typed can use: its own analysis when it parses, else its last one that did,
        else the analysis of the version its `ruleset … extends` line names."""
        if a.rule_file is not None:
            return a
        if a.path in self._good:
            return self._good[a.path]
        m = HEADER.search(a.text)
        found = self.find_version(m.group(2), os.path.dirname(a.path)) if m and m.group(2) else None
        if found is not None and isinstance(found[1], ast.RuleFile):
            return self.analyse(found[0])
        return a

    # ---- diagnostics ----
    def diagnostics(self, path: str) -> list[Diagnostic]:
        a = self.analyse(path)
        return [Diagnostic(span_range(f.span, a.text), f.code, f.message, f.severity, tuple(_fixes(a, f))) for f in a.findings]

    def fixes(self, path: str, rng: Range) -> list[Fix]:
        return [fx for d in self.diagnostics(path) if d.range.overlaps(rng) for fx in d.fixes]

    # ---- formatting ----
    def formatted(self, path: str) -> str | None:
        """The file in the canonical layout (`kokuho fmt`), or None when it does not parse."""
        from .format import format_text

        text = self.text_of(path)
        if text is None or isinstance(self.parse(path, text), Finding):
            return None
        try:
            return format_text(text, norm_path(path))
        except KokuhoError:
            return None

    # ---- names ----
    def definitions(self, path: str, pos: Pos) -> list[Location]:
        """Where the name under the cursor is declared: in the file that is in force first, then every base it overrides."""
        a = self.analyse(path)
        w = word_at(a.text, pos)
        if w is None:
            return []
        name = w[0]
        a = self.names_source(a)
        out = []
        for rf in a.chain:
            for item in rf.items:
                if item.name == name and not isinstance(item, ast.Removal) and item.span.line:
                    out.append(Location(rf.path, span_range(item.span, rf.source)))
        if not out:  # a version id: `extends R6` jumps to R6's `ruleset` line
            out = [Location(rf.path, span_range(rf.header.span, rf.source)) for rf in a.chain[1:] if rf.header.version == name]
        return out

    def references(self, path: str, pos: Pos, *, declarations: bool = True) -> list[Location]:
        """Every use of the name under the cursor, in this file and in every file related to it by `extends`."""
        a = self.analyse(path)
        w = word_at(a.text, pos)
        if w is None or a.rule_file is None:
            return []
        name = w[0]
        origins = [rf.header.version for rf in a.chain if any(i.name == name and not isinstance(i, ast.Removal) for i in rf.items)]
        if not origins:
            return []
        root = origins[-1]
        picked = self.versions_in_reach(os.path.dirname(a.path))
        picked[a.rule_file.header.version] = a.path
        for rf in a.chain:
            picked.setdefault(rf.header.version, rf.path)
        parsed = {vid: self.parse(p) for vid, p in picked.items()}
        out: list[Location] = []
        for vid, rf in sorted(parsed.items(), key=lambda kv: kv[1].path if isinstance(kv[1], ast.RuleFile) else ""):
            if not isinstance(rf, ast.RuleFile) or root not in _chain_ids(vid, parsed):
                continue
            for occ in name_occurrences(rf):
                if occ.name == name and (declarations or not occ.declaration):
                    out.append(Location(rf.path, occ.range))
        return out

    # ---- hover ----
    def hover(self, path: str, pos: Pos) -> tuple[str, Range] | None:
        a = self.analyse(path)
        w = word_at(a.text, pos)
        if w is None:
            return None
        name, rng = w
        src = self.names_source(a)
        items = version_items(src.version) if src.version is not None else _chain_items(src.chain)
        if name in items and not isinstance(items[name], ast.Removal):
            return self._item_hover(src, name, items[name]), rng
        if name in KEY_NAMES:
            return (
                f"**{name}**: キー列 (key column) of the municipal data: {'団体コード' if name == 'code' else '団体名' if name == 'name' else '年度'}",
                rng,
            )
        if name in FUNCTION_DOCS and _next_char(a.text, rng) == "(":
            return f"**{name}** — 組込み関数 (built-in function)\n\n`{FUNCTION_DOCS[name]}`", rng
        if name in ROUNDING_MODES:
            return f"**{name}** — 端数処理 (rounding mode): {ROUNDING_MODES[name]}", rng
        if name in ast.UNITS and _is_unit_position(a.text, rng):
            return f"**{name}** — 単位 (unit): {UNIT_JA[name]}", rng
        try:
            fy = parse_year(name)
        except YearFormatError:
            return None
        return f"**{name}** — 年度: {fy.both}（{fy.japanese}）", rng

    def _item_hover(self, a: Analysis, name: str, item) -> str:
        from .format import expression_text

        kind = _kind(item)
        label = getattr(item, "label", None)
        lines = [f"**{name}**" + (f" 「{label}」" if label else "")]
        unit = getattr(item, "unit", None)
        facts = [f"{KIND_JA[kind]} ({kind})"]
        if isinstance(item, ast.InputDecl):
            facts.append("区市町村別 (municipal)" if item.scope == "municipal" else "都全体 (prefecture)")
        if unit:
            facts.append(f"単位 {unit}")
        lines.append(" · ".join(facts))
        written, overrides = self._written_by(a, name)
        if written:
            lines.append(f"版: {written}" + (f"（{overrides} を上書き / overrides {overrides}）" if overrides else ""))
        if getattr(item, "cite", None):
            lines.append(f"出典: {item.cite}")
        if getattr(item, "effective", None) is not None:
            lines.append(f"適用: {item.effective.both}")
        if isinstance(item, ast.Definition):
            lines.append("```kokuho\n= " + expression_text(item.expr) + "\n```")
        elif isinstance(item, ast.Table):
            lines.append(f"over `{expression_text(item.key)}`, {len(item.bands)} bands")
        value = self._value_line(a, name, item)
        if value:
            lines.append(value)
        return "\n\n".join(lines)

    def _written_by(self, a: Analysis, name: str) -> tuple[str | None, str | None]:
        """Which version states the item in force, and the base version it overrides (if any)."""
        writers = [rf for rf in a.chain if any(i.name == name and not isinstance(i, ast.Removal) for i in rf.items)]
        if not writers:
            return None, None
        from .explain import shown_path

        rf = writers[0]
        item = next(i for i in rf.items if i.name == name)
        where = f"{rf.header.version} ({shown_path(rf.path)}:{item.span.line})"
        return where, (writers[1].header.version if len(writers) > 1 else None)

    def hover_year(self, a: Analysis, item) -> tuple[int, str] | None:
        """The fiscal year a hover shows a value for, and why that one."""
        period = next((rf.header.plan_period for rf in a.chain if rf.header.plan_period is not None), None)
        eff = getattr(item, "effective", None)
        if period is not None and (eff is None or period.first in eff):
            return period.first, "計画期間の初年度"
        if eff is not None and eff.first is not None:
            return eff.first, "適用期間の初年度"
        if period is not None:
            return period.first, "計画期間の初年度"
        return None

    def _value_line(self, a: Analysis, name: str, item) -> str | None:
        if isinstance(item, (ast.Summary, ast.Example, ast.Removal)):
            return None
        chosen = self.hover_year(a, item)
        if chosen is None:
            return "値: 計画期間 (period) がないため表示しません"
        year, why = chosen
        fy = FiscalYear(year)
        if a.version is None:
            return f"値 ({fy.both}): 版が解決できないため計算しません"
        blocked = sorted(_dependencies(a.version, name) & _names_with_errors(a))
        if blocked:
            return f"値 ({fy.both}): {', '.join(blocked)} に誤りがあるため計算しません"
        try:
            ev, data_name = self._evaluator(a)
            value = ev.value(name, year)
        except KokuhoError as e:
            return f"値 ({fy.both}): 計算できません — {e.findings[0].message}"
        except RecursionError:
            return f"値 ({fy.both}): 計算できません — the rules are nested too deeply"
        return f"値 {fy.both}（{why}、{data_name}）: {_summarise_value(value, item.unit, version_labels(a.version))}"

    def _evaluator(self, a: Analysis):
        """An evaluator of the analysed version over the workspace's data, kept while the texts it was built from are unchanged."""
        from . import data as data_mod
        from .columnar import ColumnData, ColumnEvaluator

        version = a.version
        paths = self.data_paths or tuple(str(p) for p in self.find_data())
        inputs = version.inputs()
        dkey = (paths, tuple(sorted((n, d.unit, d.scope, d.columns) for n, d in inputs.items())))
        if dkey not in self._datasets:
            self._datasets[dkey] = ColumnData.load(paths[0], paths[1], inputs)
        dataset = self._datasets[dkey]
        ekey = (dkey, tuple((f.path, hash(f.source), len(f.source)) for f in a.chain))
        ev = self._evaluators.get(ekey)
        if ev is None:
            ev = self._evaluators[ekey] = ColumnEvaluator(version, dataset)
            while len(self._evaluators) > 8:
                self._evaluators.popitem(last=False)
        sample = tuple(str(p) for p in data_mod.sample_paths())
        return ev, ("合成サンプルデータ (synthetic sample)" if paths == sample else os.path.basename(paths[0]))

    def find_data(self) -> tuple[str, str]:
        """The workspace's data: one municipal and one prefecture file in a folder `data/` of a workspace
        folder (or in the folder itself); else the bundled sample."""
        from .data import sample_paths

        for root in self.roots:
            for folder in (os.path.join(root, "data"), root):
                try:
                    names = sorted(os.listdir(folder))
                except OSError:
                    continue
                table = [n for n in names if n.lower().endswith((".csv", ".tsv", ".txt", ".yaml", ".yml"))]
                muni = [n for n in table if "municipal" in n.lower()]
                pref = [n for n in table if "prefecture" in n.lower()]
                if len(muni) == 1 and len(pref) == 1:
                    return os.path.join(folder, muni[0]), os.path.join(folder, pref[0])
        m, p = sample_paths()
        return str(m), str(p)

    # ---- outline ----
    def symbols(self, path: str) -> list[Symbol]:
        a = self.analyse(path)
        rf = a.rule_file
        if rf is None:
            return []
        extents = item_extents(rf)
        groups: dict[str, list[Symbol]] = {}
        for item in rf.items:
            rng = extents.get(id(item)) or span_range(item.span, rf.source)
            sel = span_range(item.span, rf.source) if item.span.line else rng
            kind = _kind(item)
            children: list[Symbol] = []
            if isinstance(item, ast.Table):
                children = [
                    Symbol(b.label or b.interval, "band", b.interval, span_range(b.span, rf.source), span_range(b.span, rf.source))
                    for b in item.bands
                ]
            elif isinstance(item, ast.Schedule):
                from .format import expression_text

                children = [
                    Symbol(
                        e.years_text or str(e.years),
                        "entry",
                        expression_text(e.value),
                        span_range(e.span, rf.source),
                        span_range(e.span, rf.source),
                    )
                    for e in item.entries
                ]
            name = item.label if isinstance(item, ast.Summary) and item.label else item.name
            detail = " · ".join(
                x
                for x in (
                    getattr(item, "label", None) if not isinstance(item, ast.Summary) else None,
                    getattr(item, "unit", None),
                    "override" if getattr(item, "override", False) else None,
                )
                if x
            )
            sel = Range(sel.start, sel.end) if rng.contains(sel.start) and rng.contains(sel.end) else rng
            groups.setdefault(kind, []).append(Symbol(name, kind, detail, rng, sel, tuple(children)))
        out = []
        for kind in ("input", "definition", "table", "schedule", "summary", "example", "remove"):
            members = groups.get(kind)
            if not members:
                continue
            rng = Range(min(m.range.start for m in members), max(m.range.end for m in members))
            out.append(Symbol(f"{KIND_JA[kind]} ({kind})", "group", f"{len(members)}", rng, members[0].selection, tuple(members)))
        h = rf.header
        header = span_range(h.span, rf.source)
        whole = Range(Pos(0, 0), Pos(len(lines_of(rf.source)) - 1, len(lines_of(rf.source)[-1])))
        title = f"ruleset {h.version}" + (f" extends {h.extends}" if h.extends else "")
        return [Symbol(title, "version", h.title or "", whole, header, tuple(out))]

    # ---- completion ----
    def completions(self, path: str, pos: Pos) -> list[Completion]:
        a = self.analyse(path)
        lines = lines_of(a.text)
        line = lines[pos.line] if 0 <= pos.line < len(lines) else ""
        before = line[: pos.col]
        if "#" in _outside_strings(before):
            return []
        if _in_string(before):
            return []
        stripped = before.strip()
        src = self.names_source(a)
        items = version_items(src.version) if src.version is not None else _chain_items(src.chain)
        prev = re.sub(r"[^\W\d]\w*$", "", before).rstrip()  # the text before the word being typed
        last = prev.split()[-1] if prev.split() else ""
        if re.search(r":\s*[^\W\d]?\w*$", before) and re.match(r"\s*(override\s+)?(input|define|table|schedule)\b", line):
            return [Completion(u, "unit", UNIT_JA[u], sort=f"0{k:02d}") for k, u in enumerate(ast.UNITS)]
        if (
            last in ("period", "effective", "year")
            or re.search(r"\[\s*\w*$", before)
            or (_block_kind(a.text, pos) == "schedule" and re.fullmatch(r"\s*[\w.]*", before))
        ):
            return self._year_completions(src) + (
                [Completion("year - 1", "keyword", "前年度 (the year before)", sort="0")] if "[" in before else []
            )
        if last in ("extends", "ruleset"):
            return [Completion(v, "version", "") for v in sorted(self.versions_in_reach(os.path.dirname(a.path)))]
        if last == "remove" or re.fullmatch(r"\s*override\s+(input|define|table|schedule|example)\s+\w*", before):
            own = {i.name for i in (a.rule_file.items if a.rule_file else ())}
            base = _chain_items(src.chain[1:] if src.path == a.path else src.chain)
            return [self._name_completion(a, n, i) for n, i in base.items() if n not in own and not isinstance(i, ast.Summary)]
        if last == "override" and stripped.startswith("override"):
            return [Completion(k, "keyword", "") for k in ("input", "define", "table", "schedule", "summary", "example")]
        block = _block_kind(a.text, pos)
        if re.fullmatch(r"\s*(?:[^\W\d]\w*)?", before):  # the first word of a line
            if block in BLOCK_KEYWORDS:
                out = [Completion(k, "keyword", "") for k in BLOCK_KEYWORDS[block]]
                if block == "summary":
                    return out
                return out + [self._name_completion(a, n, i) for n, i in items.items() if isinstance(i, ast.InputDecl)]
            if block == "table":
                return [Completion("band", "keyword", "")]
            start = [Completion(k, "keyword", "", sort="1") for k in ITEM_KEYWORDS + CLAUSE_KEYWORDS]
            if a.rule_file is None or not a.rule_file.items:
                start += [Completion(k, "keyword", "", sort="1") for k in HEADER_KEYWORDS]
            return start + [
                self._name_completion(a, n, i) for n, i in items.items() if not isinstance(i, (ast.Summary, ast.Example, ast.Removal))
            ]
        out = [self._name_completion(a, n, i) for n, i in items.items() if not isinstance(i, (ast.Summary, ast.Example, ast.Removal))]
        if block == "summary":
            return out
        out += [Completion(k, "name:key", "キー列 (key column)") for k in sorted(KEY_NAMES)]
        out += [Completion(f, "function", FUNCTION_DOCS[f]) for f in sorted(FUNCTIONS)]
        out += [Completion(k, "keyword", "") for k in EXPR_KEYWORDS]
        if re.search(r"\bround\s*\(.*,.*,\s*\w*$", before):
            out = [Completion(m, "mode", f"端数処理: {ROUNDING_MODES[m]}", sort="0") for m in ROUNDING_MODES] + out
        return out

    def _name_completion(self, a: Analysis, name: str, item) -> Completion:
        kind = _kind(item)
        label = getattr(item, "label", None) or ""
        unit = getattr(item, "unit", None)
        detail = " · ".join(x for x in (label, unit, KIND_JA.get(kind)) if x)
        return Completion(name, f"name:{kind}", detail, getattr(item, "cite", None) or "", sort="2")

    def _year_completions(self, a: Analysis) -> list[Completion]:
        years: list[int] = []
        p = next((rf.header.plan_period for rf in a.chain if rf.header.plan_period is not None), None)
        if p is not None and p.is_bounded:  # the nearest plan period, a year either side
            years.extend(range(p.first - 1, p.last + 2))
        if not years:  # no plan period anywhere: the Reiwa years so far and a few ahead, a neutral list
            years = list(range(2019, 2031))
        out = []
        for k, y in enumerate(sorted(set(years))):
            fy = FiscalYear(y)
            out.append(Completion(fy.wareki, "year", f"{fy} {fy.japanese}", sort=f"1{k:03d}"))
            out.append(Completion(str(fy), "year", f"{fy.wareki} {fy.japanese}", sort=f"2{k:03d}"))
        return out


# ---- helpers -------------------------------------------------------------------------------


def _source_line(source: str, span: ast.Span) -> str | None:
    lines = source.splitlines()
    return lines[span.line - 1] if 0 < span.line <= len(lines) else None


def _own_findings(version: Version, base: Version | None) -> list[Finding]:
    """`kokuho check` for one version: its own items (check.check_rules does this for every version)."""
    out = list(Checker(version, base).run())
    h = version.header
    if h.status is not None and h.status not in ast.STATUSES:
        out.append(
            finding("bad-status", f"status is one of {', '.join(ast.STATUSES)}, not '{h.status}'", h.status_span, version.file.source)
        )
    return out


def version_items(version: Version) -> dict:
    """Name -> item of a resolved version: the one place this module reads `version.items`."""
    return version.items


def _dependencies(version: Version, name: str) -> set[str]:
    """The name and every name it uses, in any year, through formulas, tables, schedules and `with`."""
    from .ast import item_exprs, refs

    out, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        item = version_items(version).get(n)
        for e in item_exprs(item) if item is not None else ():
            todo.extend(refs(e))
    return out


def _names_with_errors(a: Analysis) -> set[str]:
    """Items of the file that an error finding points into; every name when an error lies outside them (a base's)."""
    errors = [f for f in a.findings if f.severity == "error"]
    if not errors:
        return set()
    extents = item_extents(a.rule_file)
    out = set()
    for f in errors:
        at = span_range(f.span, a.text).start
        hit = [i.name for i in a.rule_file.items if id(i) in extents and extents[id(i)].contains(at)]
        if f.span.file != a.path or not hit:
            return set(version_items(a.version)) if a.version is not None else set()
        out.update(hit)
    return out


def _chain_items(chain) -> dict:
    """Items by name from the files of a chain, nearest first (for a file whose chain does not resolve)."""
    out: dict = {}
    for rf in chain:
        for item in rf.items:
            if not isinstance(item, ast.Removal):
                out.setdefault(item.name, item)
    return out


def _chain_ids(vid: str, parsed: dict) -> list[str]:
    out = []
    while vid is not None and vid not in out:
        out.append(vid)
        rf = parsed.get(vid)
        vid = rf.header.extends if isinstance(rf, ast.RuleFile) else None
    return out


def _kind(item) -> str:
    return item.kind


def _next_char(text: str, rng: Range) -> str:
    line = lines_of(text)[rng.end.line]
    rest = line[rng.end.col :].lstrip()
    return rest[:1]


def _is_unit_position(text: str, rng: Range) -> bool:
    line = lines_of(text)[rng.start.line]
    return line[: rng.start.col].rstrip().endswith(":")


def _outside_strings(text: str) -> str:
    return re.sub(r'"([^"\\\n]|\\.)*"?|「[^」\n]*」?', "", text)


def _in_string(before: str) -> bool:
    rest = re.sub(r'"([^"\\\n]|\\.)*"|「[^」\n]*」', "", before)
    return '"' in rest or "「" in rest


def _block_kind(text: str, pos: Pos) -> str | None:
    """The kind of item whose { } block the cursor is in, read from the text before it (None: outside any)."""
    lines = lines_of(text)
    before = "\n".join(lines[: pos.line] + [lines[pos.line][: pos.col] if pos.line < len(lines) else ""])
    clean = "\n".join(_outside_strings(x).split("#", 1)[0] for x in before.split("\n"))
    depth = 0
    for k in range(len(clean) - 1, -1, -1):
        ch = clean[k]
        if ch == "}":
            depth += 1
        elif ch == "{":
            if depth == 0:
                head = clean[:k]
                starts = list(re.finditer(r"(?m)^\s*(?:override\s+)?(input|define|table|schedule|summary|example)\b", head))
                return starts[-1].group(1) if starts else None
            depth -= 1
    return None


def _summarise_value(value, unit: str, labels: dict) -> str:
    """A hover's one-line value: a prefecture value as it is; a municipal one as its total, range or counts."""
    from fractions import Fraction

    from .display import reason_text
    from .explain import show
    from .render import format_display
    from .values import is_undef

    if not isinstance(value, tuple):
        return f"{show(value, unit)}" + (f"（{reason_text(value.reason, 'ja', labels)}）" if is_undef(value) else "") + "（都全体）"
    n = len(value)
    known = [v for v in value if not is_undef(v)]
    undefined = n - len(known)
    tail = f"（未定義 {undefined}団体: {reason_text(next(v for v in value if is_undef(v)).reason, 'ja', labels)}）" if undefined else ""
    if not known:
        return f"{n}団体すべて未定義" + tail
    if unit == "bool":
        return f"true {sum(1 for v in known if v)} / {len(known)}団体" + tail
    if unit == "text":
        counts: dict = {}
        for v in known:
            counts[v] = counts.get(v, 0) + 1
        return (
            "、".join(f"{k} {c}" for k, c in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))) + f"（{len(known)}団体）" + tail
        )
    if unit == "year":
        return f"{show(min(known), unit)} ～ {show(max(known), unit)}（{len(known)}団体）" + tail
    lo, hi = min(known), max(known)
    if unit in ("yen", "count"):
        total = sum(Fraction(v) for v in known)
        return f"合計 {format_display(total, unit)}（{len(known)}団体、最小 {show(lo, unit)} ～ 最大 {show(hi, unit)}）" + tail
    return f"最小 {show(lo, unit)} ～ 最大 {show(hi, unit)}（{len(known)}団体）" + tail


# ---- occurrences of names --------------------------------------------------------------------


@attrs.frozen
class Occurrence:
    name: str
    range: Range
    declaration: bool


def _token_end(tok) -> Pos:
    return Pos(tok.line - 1, tok.column - 1 + len(tok.text))


def name_occurrences(rf: ast.RuleFile) -> list[Occurrence]:
    """Every NAME token of a parsed file that names one of its version's items: declarations (the name after
    `define` etc., `remove NAME`) and uses (formulas, `with`, summary lines, example lines)."""
    tokens = _tokens(rf)
    declared = {(i.span.line, i.span.column) for i in rf.items if i.span.line}
    units = {(getattr(i, "unit_span", ast.NO_SPAN).line, getattr(i, "unit_span", ast.NO_SPAN).column) for i in rf.items}
    out = []
    for k, t in enumerate(tokens):
        if t.type != "NAME" or (t.line, t.column) in units:
            continue
        if k + 1 < len(tokens) and tokens[k + 1].type == "LPAR":
            continue  # a function
        if k > 0 and tokens[k - 1].type == "INPUT":
            continue  # the scope of an input
        out.append(Occurrence(t.text, Range(Pos(t.line - 1, t.column - 1), _token_end(t)), (t.line, t.column) in declared))
    return out


_TOKENS: OrderedDict = OrderedDict()


def _tokens(rf: ast.RuleFile):
    from .parse import source_tokens

    key = (rf.path, rf.source)
    hit = _TOKENS.get(key)
    if hit is None:
        hit = _TOKENS[key] = source_tokens(rf.source)
        while len(_TOKENS) > PARSE_CACHE:
            _TOKENS.popitem(last=False)
    return hit


def item_extents(rf: ast.RuleFile) -> dict[int, Range]:
    """id(item) -> the range from its first keyword to its last token (comments after it excluded)."""
    tokens = _tokens(rf)
    starts = []
    depth = 0
    for k, t in enumerate(tokens):
        if t.type == "LBRACE":
            depth += 1
        elif t.type == "RBRACE":
            depth -= 1
        elif depth == 0 and t.type in _ITEM_START_TOKENS and not (k > 0 and tokens[k - 1].type == "OVERRIDE"):
            starts.append(k)
    out = {}
    for n, (item, k) in enumerate(zip(rf.items, starts)):
        end = (starts[n + 1] if n + 1 < len(starts) else len(tokens)) - 1
        out[id(item)] = Range(Pos(tokens[k].line - 1, tokens[k].column - 1), _token_end(tokens[end]))
    return out


# ---- fixes -----------------------------------------------------------------------------------

_DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'\?")
_BARE_NUMBER = re.compile(r"; write (\S+) \(a plain number")
_QUOTED = re.compile(r"'([^']+)'")


def _fixes(a: Analysis, f: Finding) -> list[Fix]:
    """The obvious fix of a finding, read from its code and message (the messages are pinned by tests/test_ide.py)."""
    if f.span.file not in (a.path,) or not f.span.line:
        return []
    rng = span_range(f.span, a.text)
    lines = lines_of(a.text)
    if f.code == "bare-number":
        m = _BARE_NUMBER.search(f.message)
        if m:
            return [Fix(f"単位を付ける: {m.group(1)} (add the unit)", (Edit(a.path, rng, m.group(1)),))]
    if f.code == "missing-override" and a.rule_file is not None:
        item = next((i for i in a.rule_file.items if i.span == f.span), None)
        extent = item_extents(a.rule_file).get(id(item)) if item is not None else None
        if extent is not None:
            at = Range(extent.start, extent.start)
            return [Fix("override を付ける (write 'override')", (Edit(a.path, at, "override "),))]
    m = _DID_YOU_MEAN.search(f.message)
    if m:
        wanted = m.group(1)
        wrong = _QUOTED.search(f.message)
        target = _find_word(lines, rng, wrong.group(1) if wrong and f.code != "syntax" else None)
        if target is not None:
            return [Fix(f"'{wanted}' に直す (did you mean '{wanted}'?)", (Edit(a.path, target, wanted),))]
    if f.code == "unknown-unit":
        wrong = _QUOTED.search(f.message)
        close = closest(wrong.group(1), ast.UNITS, 0.5) if wrong else None
        if close:
            return [Fix(f"単位を {close} にする (unit {close})", (Edit(a.path, rng, close),))]
    return []


def _find_word(lines: list[str], rng: Range, word: str | None) -> Range | None:
    """The range of `word` inside rng (or the name that starts rng when no word is given)."""
    for ln in range(rng.start.line, rng.end.line + 1):
        line = lines[ln] if ln < len(lines) else ""
        lo = rng.start.col if ln == rng.start.line else 0
        for m in NAME.finditer(line, lo):
            if word is None or m.group() == word:
                return Range(Pos(ln, m.start()), Pos(ln, m.end()))
            if word is None:
                break
    return None
