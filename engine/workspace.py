"""A workspace of one's own: kokuho.toml, found from the working directory upward, and `kokuho init`.

A setting comes from, in this order: the command line; the nearest kokuho.toml in the working
directory or a folder above it (or the file KOKUHO_CONFIG names; KOKUHO_CONFIG=off reads none);
the built-in default (the shipped rules and sample data, each command's own version and
language). Paths in kokuho.toml are relative to the folder of the file. Every problem in the
file is an error with its place (file:line:col) and a code: config-syntax, config-unknown-key
(with "did you mean"), config-value, config-path. The library never prints: the CLI shows what
`describe` and `init_summary` return.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import attrs

from .ast import Span
from .errors import UsageError, did_you_mean, finding

CONFIG_NAME = "kokuho.toml"
ENV = "KOKUHO_CONFIG"  # a kokuho.toml to use instead of searching; "off" reads none
TEMPLATES = Path(__file__).resolve().parent / "templates"


@attrs.frozen
class Key:
    """One key of kokuho.toml: the option it stands for and what it holds."""

    name: str
    option: str
    kind: str  # "paths" (a string or a list of strings), "path", "text", "lang"
    meaning: str


KEYS = {
    k.name: k
    for k in (
        Key("rules", "--rules", "paths", "rule files or folders"),
        Key("data", "--data", "path", "municipal data file"),
        Key("prefecture-data", "--prefecture-data", "path", "prefecture data file"),
        Key("version", "--version", "text", "version used when --version is not given"),
        Key("lang", "--lang / --headers", "lang", "output language: ja or en"),
    )
}
LANGS = ("ja", "en")


@attrs.frozen
class Config:
    """A kokuho.toml as read: its path, and per key the value (paths made absolute), the place of the key
    (line, column, column of the value) and the value as written; the file's text."""

    path: Path | None = None
    values: dict = attrs.field(factory=dict)
    places: dict = attrs.field(factory=dict)
    written: dict = attrs.field(factory=dict)
    text: str = ""


@attrs.frozen
class Setting:
    """One setting in effect: its value (None: the command's own default) and where it came from."""

    key: str
    value: object
    source: str  # "kokuho.toml:12", "command line (--version)" or "built-in default"


# ---- finding and reading kokuho.toml -------------------------------------------------------------


def find(start: str | Path | None = None) -> Path | None:
    """The nearest kokuho.toml in `start` (default: the working directory) or a folder above it."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def current(cwd: str | Path | None = None, environ=None) -> Config:
    """The settings file in effect for a command run in `cwd`: KOKUHO_CONFIG's, else the nearest one, else none."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV, "").strip()
    if named.lower() in ("off", "none", "no", "0"):
        return Config()
    if named:
        path = Path(named)
        if not path.is_absolute():
            path = Path(cwd if cwd is not None else os.getcwd()) / path
        return load(path)
    path = find(cwd)
    return load(path) if path is not None else Config()


def _tomllib():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib
    return tomllib


def load(path: str | Path) -> Config:
    """Read and check one kokuho.toml; every problem in it is reported at once (UsageError, exit 2)."""
    from .source import read_bytes

    path = Path(path).absolute()
    shown = display_path(path)
    raw = read_bytes(path, "settings file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UsageError(
            finding("config-syntax", f"{CONFIG_NAME} is not UTF-8 (byte {e.start}); save it as UTF-8", Span(shown, line, 1))
        ) from None
    tomllib = _tomllib()
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message, line, col = _decode_error(e, text)
        if message == "Invalid value":
            message += ' (text and paths are written in double quotes, like "R9"; lists in brackets, like ["rules"])'
        raise UsageError(finding("config-syntax", f"{CONFIG_NAME} is not valid TOML: {message}", Span(shown, line, col), text)) from None
    places = key_places(text)
    problems = []
    values, where = {}, {}
    for name, value in table.items():
        line, col, value_col = places.get(name, (0, 0, 0))
        if name not in KEYS:
            also = did_you_mean(
                name.replace("_", "-").lower(), KEYS, 0.6, template="did you mean '{}'?", otherwise="the keys are " + ", ".join(KEYS)
            )
            problems.append(finding("config-unknown-key", f"unknown key '{name}' in {CONFIG_NAME}; {also}", Span(shown, line, col), text))
            continue
        try:
            values[name] = _checked(KEYS[name], value, path.parent)
            where[name] = (line, col, value_col)
        except ValueError as e:
            problems.append(finding("config-value", str(e), Span(shown, line, value_col or col), text))
    if ("data" in values) != ("prefecture-data" in values) and not problems:
        given, missing = ("data", "prefecture-data") if "data" in values else ("prefecture-data", "data")
        line, col, _ = places.get(given, (0, 0, 0))
        problems.append(
            finding(
                "config-value",
                f"'{given}' needs '{missing}' beside it: give both data files, or neither for the bundled sample",
                Span(shown, line, col),
                text,
            )
        )
    if problems:
        raise UsageError(problems)
    return Config(path, values, where, {k: table[k] for k in values}, text)


def check_paths(config: Config, keys) -> None:
    """The paths the file gives for these keys exist (config-path, at the path as written, otherwise)."""
    problems = []
    for name in keys:
        if name not in config.values or KEYS[name].kind not in ("path", "paths"):
            continue
        paths, written = config.values[name], config.written[name]
        for p, as_written in zip(paths if isinstance(paths, list) else [paths], [written] if isinstance(written, str) else written):
            if not p.exists():
                line, col = _string_place(config.text, as_written, config.places[name])
                problems.append(
                    finding(
                        "config-path",
                        f"'{name}' names {as_written}, which does not exist (paths are relative to the folder of {CONFIG_NAME})",
                        Span(display_path(config.path), line, col),
                        config.text,
                    )
                )
    if problems:
        raise UsageError(problems)


def _string_place(text: str, value: str, place: tuple[int, int, int]) -> tuple[int, int]:
    """Where a string value is written, at or after its key's line (else the key's value)."""
    line, _, value_col = place
    lines = text.splitlines()
    for number in range(max(line, 1), len(lines) + 1):
        for quote in ('"', "'"):
            at = lines[number - 1].find(quote + value + quote, value_col - 1 if number == line else 0)
            if at >= 0:
                return number, at + 1
    return line, value_col


def _checked(key: Key, value, folder: Path):
    """The value of a key as the commands use it (paths absolute); a ValueError says what was expected."""
    if key.kind == "paths":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise ValueError(f'\'{key.name}\' is a path or a list of paths, like ["rules", "R9.rules"], not {_shown_value(value)}')
        return [_absolute(v, folder) for v in items]
    if not isinstance(value, str) or not value.strip():
        what = {"path": 'the path of a file, like "data/municipal.csv"', "text": 'a version id, like "R9"', "lang": '"ja" or "en"'}[
            key.kind
        ]
        raise ValueError(f"'{key.name}' is {what}, not {_shown_value(value)}")
    if key.kind == "path":
        return _absolute(value, folder)
    if key.kind == "lang" and value not in LANGS:
        raise ValueError(f'\'{key.name}\' is "ja" or "en", not {_shown_value(value)}')
    return value


def _shown_value(value) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return '""' if not value.strip() else f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "an empty list" if not value else "a list of " + ", ".join(sorted({_kind_name(v) for v in value}))
    return _kind_name(value)


def _kind_name(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "texts", dict: "tables", list: "lists"}.get(
        type(value), type(value).__name__
    )


def _absolute(text: str, folder: Path) -> Path:
    return Path(os.path.normpath(folder / Path(text).expanduser()))


_TOML_POSITION = re.compile(r"^(.*?)\s*\(at line (\d+), column (\d+)\)$", re.S)


def _decode_error(e, text: str) -> tuple[str, int, int]:
    """tomllib's message without its '(at line L, column C)', and L and C (Python 3.14 also has them as attributes)."""
    message = getattr(e, "msg", None) or str(e)
    line, col = getattr(e, "lineno", None), getattr(e, "colno", None)
    m = _TOML_POSITION.match(str(e))
    if m:
        message = m.group(1) if message == str(e) else message
        line, col = line or int(m.group(2)), col or int(m.group(3))
    if line is None:  # "(at end of document)"
        message = re.sub(r"\s*\(at end of document\)$", "", message)
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    return message, line, col


_BARE_OR_QUOTED_KEY = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[.=]""")
_TABLE_HEADER = re.compile(r"""\s*\[\[?\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))""")


def key_places(text: str) -> dict[str, tuple[int, int, int]]:
    """The top-level keys (and table headers) of a TOML text -> (line, column of the key, column of its value).

    Only what an error message needs: lines inside a multi-line array or string are skipped."""
    places: dict[str, tuple[int, int, int]] = {}
    depth = 0
    in_string = None  # the delimiter of an open multi-line string
    in_table = False  # keys after a [table] header are the table's, not the file's
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in line:
                in_string = None
            continue
        if depth == 0:
            header = line.lstrip().startswith("[")
            in_table = in_table or header
            m = _TABLE_HEADER.match(line) if header else None if in_table else _BARE_OR_QUOTED_KEY.match(line)
            if m:
                name = next(g for g in m.groups() if g is not None)
                key_col = len(line) - len(line.lstrip()) + 1
                eq = line.find("=", m.end() - 1)
                value_col = key_col if eq < 0 else eq + 2 + (len(line[eq + 1 :]) - len(line[eq + 1 :].lstrip()))
                places.setdefault(name, (number, key_col, value_col))
                if header:
                    continue
        depth, in_string = _scan(line, depth)
    return places


def _scan(line: str, depth: int) -> tuple[int, str | None]:
    """Bracket depth after a line, ignoring brackets in strings and comments; an opened multi-line string."""
    i = 0
    while i < len(line):
        for delim in ('"""', "'''"):
            if line.startswith(delim, i):
                end = line.find(delim, i + 3)
                if end < 0:
                    return depth, delim
                i = end + 3
                break
        else:
            ch = line[i]
            if ch == "#":
                break
            if ch in "\"'":
                end = i + 1
                while end < len(line) and line[end] != ch:
                    end += 2 if ch == '"' and line[end] == "\\" else 1
                i = end
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth = max(0, depth - 1)
            i += 1
    return depth, None


# ---- the settings in effect ---------------------------------------------------------------------


def display_path(p: str | Path, cwd: str | Path | None = None) -> str:
    """A path as the commands take and show it: relative to the working directory (../rules from a folder
    of the workspace) unless the two share no folder but the root; then absolute."""
    cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
    p = os.path.abspath(p)
    try:
        if os.path.dirname(os.path.commonpath([p, cwd])) == os.path.commonpath([p, cwd]):  # only the root in common
            return p
        return os.path.relpath(p, cwd)
    except ValueError:  # another drive on Windows
        return p


def _file_value(key: str, value, cwd=None):
    if key == "rules":
        return [display_path(p, cwd) for p in value]
    if KEYS[key].kind == "path":
        return display_path(value, cwd)
    return value


def settings(config: Config, given: dict, cwd: str | Path | None = None) -> dict[str, Setting]:
    """Each key's setting in effect: `given` (key -> what the command line says, None if nothing) first,
    then the settings file, then None (the command's own default)."""
    out = {}
    for key in KEYS.values():
        flag = given.get(key.name)
        if flag not in (None, [], ()):
            out[key.name] = Setting(key.name, flag, f"command line ({key.option})")
        elif key.name in config.values:
            where = f"{display_path(config.path, cwd)}:{config.places[key.name][0]}"
            out[key.name] = Setting(key.name, _file_value(key.name, config.values[key.name], cwd), where)
        else:
            out[key.name] = Setting(key.name, None, "built-in default")
    return out


def fill(options: dict, names: dict[str, tuple[str, object]], config: Config | None = None) -> dict[str, Setting]:
    """Fill in a parsed command line from the settings file: `options` is the command's options (argparse's
    vars(args)), changed in place; `names` maps a key to (the option's name in `options`, its built-in
    default). Options given on the command line stay as given."""
    config = current() if config is None else config
    given = {key: options.get(attr) for key, (attr, _) in names.items()}
    effective = settings(config, given)
    check_paths(config, [key for key in names if given[key] in (None, [], ()) and key in config.values])  # those it uses
    for key, (attr, default) in names.items():
        value = effective[key].value
        options[attr] = default if value is None else value
    return effective


def describe(effective: dict[str, Setting], config: Config, langs: dict[str, str]) -> str:
    """`kokuho config`: the settings file in effect, then each setting, its value and where it came from.
    `langs`: each command's own language option and default ({"eval": "--headers en", ...})."""
    from tabulate import tabulate

    from .data import sample_paths
    from .versions import default_rules_dir

    municipal, prefecture = sample_paths()
    defaults = {
        "rules": str(default_rules_dir()),
        "data": str(municipal),
        "prefecture-data": str(prefecture),
        "version": "the newest version",
        "lang": "each command's own: " + ", ".join(f"{cmd} {opt}" for cmd, opt in langs.items()),
    }

    if config.path is not None:
        head = f"settings file: {display_path(config.path)}"
    elif os.environ.get(ENV, "").strip():
        head = f"settings file: none ({ENV}={os.environ[ENV].strip()})"
    else:
        head = f"settings file: none (no {CONFIG_NAME} in {os.getcwd()} or a folder above it)"
    rows = []
    for key, s in effective.items():
        if s.value is None:
            value = defaults.get(key, "")
        elif isinstance(s.value, (list, tuple)):
            value = ", ".join(str(v) for v in s.value)
        else:
            value = str(s.value)
        rows.append([key, value, s.source])
    return head + "\n\n" + tabulate(rows, headers=["setting", "value", "from"], tablefmt="simple", disable_numparse=True) + "\n"


# ---- kokuho init ----------------------------------------------------------------------------------


STARTER_VERSION = "R9"


def init(target: str | Path) -> list[str]:
    """Make a new workspace in `target` (a new or empty folder): kokuho.toml, the shipped rules as the
    base, a starter revision, the sample data. Nothing is left half made: the files are written in a
    hidden folder beside it, renamed into place when complete. Returns the files made, relative to it."""
    from . import shipped

    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "is a file" if not target.is_dir() else "already exists and is not empty"
        raise UsageError(finding("init-exists", f"{target} {what}; kokuho init makes a new folder: give another name"))
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    files = [
        (TEMPLATES / "starter-kokuho.toml", CONFIG_NAME),
        *((p, f"rules/{p.name}") for p in sorted(shipped.rules_dir().glob("*.rules"))),
        (TEMPLATES / f"starter-{STARTER_VERSION}.rules", f"rules/{STARTER_VERSION}.rules"),
        *((p, f"data/{p.name}") for p in sorted(shipped.sample_dir().iterdir()) if p.suffix in (".csv", ".md")),
    ]
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        for source, name in files:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp / name)
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [name for _, name in files]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def init_summary(target: str | Path, made: list[str]) -> str:
    """What `kokuho init` tells the user: the files made and what to do next."""
    what = {
        CONFIG_NAME: "settings: the rules, the data, the default version and the language",
        f"rules/{STARTER_VERSION}.rules": "your revision (extends R6): edit this file",
    }
    lines = [f"made the workspace {target}:"]
    width = max(len(n) for n in made)
    for name in made:
        if name in what:
            note = what[name]
        elif name.startswith("rules/"):
            note = "shipped rules (a copy): the base to extend"
        elif name.endswith(".md"):
            note = "about the sample data"
        else:
            note = "synthetic sample data: replace with your own"
        lines.append(f"  {name.ljust(width)}  {note}")
    import shlex

    lines.append(f"next: cd {shlex.quote(str(target))} && kokuho check && kokuho eval --year R7")
    lines.append(
        f"then: edit rules/{STARTER_VERSION}.rules; kokuho check; kokuho test; kokuho diff R6 {STARTER_VERSION} --year R9; kokuho report --out report.html"
    )
    return "\n".join(lines) + "\n"
