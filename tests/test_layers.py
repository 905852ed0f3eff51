"""The import layers of engine/ and cli.py, checked: imports go down (or sideways, without cycles), never up.

The layers are declared below as data, lowest first. A module may import a module of its own layer or
of a lower one, never of a higher one; modules of one layer may not import each other in a cycle; no
module imports another module's underscore names (`from .x import _y`, or `x._y` on an imported
module), except a package's `__init__` re-exporting its own submodules' names. Imports inside
functions count (they are how the tool keeps its start-up fast, not a way around the layers); imports
under `if TYPE_CHECKING:` do not (they never run).

Why a test of our own and not import-linter: import-linter's contracts are about modules importing
modules, and it reads function-level imports like top-level ones; what we also need, the
underscore-name rule and an allowlist that must shrink (each known violation is checked to still
exist), it cannot say. And it would be one more dependency for a few dozen lines of stdlib `ast`.

An entry of LAYERS names a module (`render`) or a package (`columnar`), written without `engine.`;
a package's entry covers every module below it, so `diff` stands for engine/diff.py and, once it is
a package, for engine/diff/__init__.py, engine/diff/common.py, ... alike.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module's layer is the layer of the longest entry that names it or a package above it.
LAYERS: list[tuple[str, ...]] = [
    ("years", "cells", "limits", "shipped"),  # ground: no engine imports
    ("ast",),  # the language: nodes, vocabulary, traversal
    ("errors",),
    ("values", "display", "output", "cache", "lookup", "formats"),
    ("parse",),
    ("source",),
    ("versions", "data"),
    ("check", "format", "loading"),
    ("resolve", "evaluate"),
    ("columnar",),
    ("results", "selection"),
    ("render", "summary"),
    ("explain",),
    ("examples",),
    ("diff", "listing", "names", "workspace", "ide", "xlsx_cells"),
    ("report", "xlsx", "xlsx_columns", "sweep", "book", "lsp"),  # sweep writes its workbook through xlsx
    ("api",),
    ("engine",),  # the package's __init__: the library's public face
    ("cli",),
]

# What may still break the rules, each entry explained; test_known_violations_still_exist keeps the list from
# growing stale. Entries are given by layer entry (`report`, not `report.charts`), so that a module turned into a
# package keeps its entry. Empty since the diff and report split (issue 18): keep it so.
#   ("import", importer, imported): an import of a higher layer, or one that closes a cycle within a layer
#   ("private", importer, "imported._name"): another module's underscore name
#   ("vocabulary", importer, "NAME"): the language's vocabulary taken from check's re-exports, not from ast
KNOWN_VIOLATIONS: set[tuple[str, str, str]] = set()

# The names check.py re-exports from ast.py (for the modules and tests that always took them from check).
VOCABULARY = {
    "AGGREGATES",
    "FUNCTIONS",
    "KEY_NAMES",
    "ROUNDING_MODES",
    "another_year",
    "children",
    "earlier_year",
    "item_exprs",
    "refs",
    "same_year_refs",
}


# ---- the modules and their imports ---------------------------------------------------------------------


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of engine/ (its packages too) and cli.py."""
    out = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "_shipped" in parts or "templates" in parts:
            continue
        out[".".join(parts)] = path
    out["cli"] = ROOT / "cli.py"
    return out


MODULES = modules()


def short(module: str) -> str:
    """engine.columnar.text -> columnar.text; engine -> engine; cli -> cli."""
    return module.removeprefix("engine.") if module.startswith("engine.") else module


def entry(module: str) -> str | None:
    """The LAYERS entry covering a module: the longest entry that is the module or a package above it."""
    name = short(module)
    best = None
    for layer in LAYERS:
        for e in layer:
            if (name == e or name.startswith(e + ".")) and (best is None or len(e) > len(best)):
                best = e
    return best


def layer_of(module: str) -> int | None:
    e = entry(module)
    return next((i for i, layer in enumerate(LAYERS) if e in layer), None)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for n in ast.walk(inner):
                    if isinstance(n, (ast.Import, ast.ImportFrom)):
                        out.add(id(n))
    return out


def imports(module: str) -> list[tuple[str, str | None, str | None]]:
    """(imported module, imported name or None, local name bound) for each engine import in a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] + ([node.module] if node.module else [])
                source = ".".join(base)
            else:
                source = node.module or ""
            for alias in node.names:
                local = alias.asname or alias.name
                if f"{source}.{alias.name}" in MODULES:
                    out.append((f"{source}.{alias.name}", None, local))
                elif source in MODULES:
                    out.append((source, alias.name, local))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    out.append((alias.name, None, alias.asname or alias.name.split(".")[0]))
    return [x for x in out if x[0] != module]


def private_uses(module: str) -> list[tuple[str, str]]:
    """(imported module, _name) for each underscore name a module takes from another engine module."""
    out = []
    found = imports(module)
    bound = {local: target for target, name, local in found if name is None}
    for target, name, _ in found:
        if name is not None and name.startswith("_") and not name.startswith("__"):
            own_package = MODULES[module].name == "__init__.py" and target.startswith(module + ".")
            if not own_package:
                out.append((target, name))
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            out.append((bound[node.value.id], node.attr))
    return out


def violations() -> set[tuple[str, str, str]]:
    """Every broken rule, as in KNOWN_VIOLATIONS."""
    found = set()
    in_cycle = {m: i for i, component in enumerate(cycles()) for m in component}
    for m in MODULES:
        for target, name, _ in imports(m):
            if layer_of(target) is not None and layer_of(m) is not None and layer_of(target) > layer_of(m):
                found.add(("import", entry(m), entry(target)))
            elif m in in_cycle and in_cycle.get(target) == in_cycle[m] and ("import", entry(m), entry(target)) in KNOWN_VIOLATIONS:
                found.add(("import", entry(m), entry(target)))  # a known import that closes a cycle, still there
            if name in VOCABULARY and short(target) == "check":
                found.add(("vocabulary", entry(m), name))
        for target, name in private_uses(m):
            found.add(("private", entry(m), f"{entry(target)}.{name}"))
    for cycle in cycles(without=KNOWN_VIOLATIONS):
        found.add(("cycle", " -> ".join(short(m) for m in cycle), ""))
    return found


def cycles(without=frozenset()) -> list[list[str]]:
    """The import cycles among modules (Tarjan's strongly connected components of two or more modules),
    leaving out the imports listed as known violations."""
    skip = {(a, b) for kind, a, b in without if kind == "import"}
    graph = {m: sorted({t for t, _, _ in imports(m) if (entry(m), entry(t)) not in skip}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    return out


# ---- the tests -----------------------------------------------------------------------------------------


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_each_entry_is_in_one_layer_and_names_something():
    entries = [e for layer in LAYERS for e in layer]
    assert len(entries) == len(set(entries))
    assert [e for e in entries if not any(entry(m) == e for m in MODULES)] == []


def test_imports_go_down_or_sideways():
    """No module imports a module of a higher layer (imports inside functions count)."""
    up = {v for v in violations() if v[0] == "import"}
    assert sorted(up - KNOWN_VIOLATIONS) == []


def test_no_import_cycles():
    """No cycle, within a layer or across layers, once the known violations are left out."""
    assert cycles(without=KNOWN_VIOLATIONS) == []


def test_no_module_imports_another_modules_underscore_names():
    private = {v for v in violations() if v[0] == "private"}
    assert sorted(private - KNOWN_VIOLATIONS) == []


def test_the_vocabulary_is_taken_from_ast():
    """KEY_NAMES, children, refs, ... live with the nodes (engine/ast.py); check re-exports them only for old users."""
    vocabulary = {v for v in violations() if v[0] == "vocabulary"}
    assert sorted(vocabulary - KNOWN_VIOLATIONS) == []


def test_known_violations_still_exist():
    """A violation that was fixed leaves the list: it may not come back unnoticed."""
    assert sorted(KNOWN_VIOLATIONS - violations()) == []


def test_the_rules_catch_what_they_describe(tmp_path, monkeypatch):
    """The checker itself: an upward import, a cycle and an underscore import in a small fake tree are found."""
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "__init__.py").write_text("")
    (engine / "years.py").write_text("def f():\n    from .ast import Span\n")  # up, inside a function
    (engine / "ast.py").write_text("from . import years\nfrom .errors import _hidden\n")  # private
    (engine / "api.py").write_text("")
    (engine / "errors.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .api import Session\n_hidden = 1\n")
    (tmp_path / "cli.py").write_text("import engine.errors as e\nprint(e._hidden)\n")  # private, by attribute
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "ROOT", tmp_path)
    monkeypatch.setattr(here, "MODULES", modules())
    found = violations()
    assert ("import", "years", "ast") in found
    assert ("private", "ast", "errors._hidden") in found
    assert ("private", "cli", "errors._hidden") in found
    assert any(kind == "cycle" and "ast" in what and "years" in what for kind, what, _ in found)
    assert not any("api" in str(v) for v in found)  # imported only for type checking
