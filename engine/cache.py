"""Content-hash caches on disk: grammar text -> a built Lark parser, rule-file text -> its parsed RuleFile.

Both caches live in the user's cache directory (`$XDG_CACHE_HOME/kokuho-rules`, else
`~/.cache/kokuho-rules`; `KOKUHO_CACHE=off` disables them). An entry is keyed by the
SHA-256 of everything that decides its content: the text, the path (spans carry it), the
Python and Lark versions and the engine's own parsing code (grammar.lark, parse.py, ast.py,
years.py), so a change to any of them simply misses. Entries are written atomically
(temporary file, then rename) and read defensively: anything unreadable, truncated or of
the wrong shape is ignored (and removed) and the caller parses as if there were no cache.
The cache never prints and never fails a command.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

FORMAT = "kokuho-cache-1"  # bump when the layout of an entry changes
MAX_ENTRIES = 400  # rule-file entries kept; older ones are pruned on write
_ENGINE_FILES = ("grammar.lark", "source.py", "parse.py", "ast.py", "years.py")


def cache_dir() -> Path | None:
    """Where entries live, or None when caching is switched off."""
    if os.environ.get("KOKUHO_CACHE", "").strip().lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if base and os.path.isabs(base):
        return Path(base) / "kokuho-rules"
    try:
        return Path.home() / ".cache" / "kokuho-rules"
    except (RuntimeError, KeyError, OSError):  # no home directory to be found: no cache
        return None


@functools.cache
def _engine_fingerprint() -> str:
    """A hash of the code that decides what a parse produces."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(FORMAT.encode())
    h.update(repr(sys.version_info[:3]).encode())
    for name in _ENGINE_FILES:
        try:
            h.update(name.encode() + b"\0" + (here / name).read_bytes())
        except OSError:
            h.update(name.encode() + b"\0missing")
    return h.hexdigest()


def _key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def _read(path: Path, key: str):
    """The object stored under key at path, or None (missing, corrupt, or another key)."""
    try:
        with open(path, "rb") as f:
            stored_key, obj = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # truncated, corrupt or from an incompatible version: drop it
        _unlink(path)
        return None
    if stored_key != key:
        return None
    return obj


def _write(path: Path, key: str, obj) -> None:
    """Store (key, obj) at path atomically; any failure leaves no trace and is ignored."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump((key, obj), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
    except Exception:
        pass
    finally:
        if tmp is not None:
            _unlink(Path(tmp))


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _prune(directory: Path, prefix: str) -> None:
    try:
        entries = sorted(directory.glob(prefix + "*.pickle"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for p in entries[: max(0, len(entries) - MAX_ENTRIES)]:
        _unlink(p)


# ---- the grammar ---------------------------------------------------------------------------


def lark_parser(grammar: str, **options):
    """A Lark parser for the grammar text, loaded from the cache when this grammar was built before."""
    import lark

    directory = cache_dir()
    if directory is None:
        return lark.Lark(grammar, **options)
    key = _key(FORMAT, "grammar", grammar, repr(sorted(options.items())), lark.__version__, repr(sys.version_info[:2]))
    path = directory / f"grammar-{key[:32]}.pickle"
    blob = _read(path, key)
    if blob is not None:
        try:
            import io

            return lark.Lark.load(io.BytesIO(blob))
        except Exception:
            _unlink(path)
    parser = lark.Lark(grammar, **options)
    try:
        import io

        buf = io.BytesIO()
        parser.save(buf)
        _write(path, key, buf.getvalue())
    except Exception:
        pass
    return parser


# ---- parsed rule files ---------------------------------------------------------------------


def _rules_key(source: str, path: str) -> str:
    return _key(FORMAT, "rules", _engine_fingerprint(), _lark_version(), path, source)


@functools.cache
def _lark_version() -> str:
    """lark's version, read from its source rather than imported: a cache hit must not pay for importing lark."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("lark")
    try:
        text = Path(spec.origin).read_text(encoding="utf-8")
        return re.search(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", text, re.M).group(1)
    except (AttributeError, TypeError, OSError, UnicodeDecodeError):
        import lark

        return lark.__version__


def load_rules(source: str, path: str):
    """The RuleFile parsed earlier from exactly this text at this path, or None."""
    directory = cache_dir()
    if directory is None:
        return None
    key = _rules_key(source, path)
    obj = _read(directory / f"rules-{key[:32]}.pickle", key)
    from .ast import RuleFile

    return obj if type(obj) is RuleFile else None


def store_rules(source: str, path: str, rule_file) -> None:
    directory = cache_dir()
    if directory is None:
        return
    key = _rules_key(source, path)
    _write(directory / f"rules-{key[:32]}.pickle", key, rule_file)
    _prune(directory, "rules-")
