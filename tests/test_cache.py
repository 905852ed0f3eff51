"""engine/cache.py: parsed rule files and the built grammar are reused by content hash, never trusted blindly."""

from __future__ import annotations

import pickle

import pytest

from engine import cache, parse, source
from engine.versions import default_rules_dir

RULES = 'ruleset T\n  title "t"\n\ninput municipal insured "被保険者数" : count\ndefine twice : count = insured * 2\n'


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A private cache directory for the test (XDG_CACHE_HOME is respected)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KOKUHO_CACHE", raising=False)
    return tmp_path / "xdg" / "kokuho-rules"


def write_rules(tmp_path, text=RULES):
    p = tmp_path / "t.rules"
    p.write_text(text, encoding="utf-8")
    return p


def test_second_parse_comes_from_the_cache(cache_home, tmp_path, monkeypatch):
    """The same file parses once: the second parse_file is a cache hit equal to the first (the parser is not called)."""
    p = write_rules(tmp_path)
    first = source.parse_file(p)
    assert len(list(cache_home.glob("rules-*.pickle"))) == 1

    def no_parse(*a, **k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(parse, "parse_text", no_parse)
    again = source.parse_file(p)
    assert again == first and again.source == RULES


def test_changed_text_misses(cache_home, tmp_path):
    """Another text at the same path is another key: the new content is parsed, not the old one returned."""
    p = write_rules(tmp_path)
    source.parse_file(p)
    p.write_text(RULES.replace("insured * 2", "insured * 3"), encoding="utf-8")
    rf = source.parse_file(p)
    assert rf.items[1].expr.right.value == 3
    assert len(list(cache_home.glob("rules-*.pickle"))) == 2


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", pickle.dumps(("wrong key", "a string, not a RuleFile"))])
def test_corrupt_entry_is_ignored_and_replaced(cache_home, tmp_path, garbage):
    """A truncated, foreign or mismatched entry is never returned: the file is parsed and the entry rewritten."""
    p = write_rules(tmp_path)
    expected = source.parse_file(p)
    (entry,) = cache_home.glob("rules-*.pickle")
    entry.write_bytes(garbage)
    assert source.parse_file(p) == expected
    key, obj = pickle.loads(entry.read_bytes())
    assert obj == expected


def test_cache_off_writes_nothing(cache_home, tmp_path, monkeypatch):
    """KOKUHO_CACHE=off: no directory is created, parsing works the same."""
    monkeypatch.setenv("KOKUHO_CACHE", "off")
    p = write_rules(tmp_path)
    assert source.parse_file(p).header.version == "T"
    assert not cache_home.exists()


def test_unwritable_cache_dir_is_not_an_error(tmp_path, monkeypatch):
    """A cache location that cannot be created (a file is in the way) just means no cache."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("KOKUHO_CACHE", raising=False)
    p = write_rules(tmp_path)
    assert source.parse_file(p).header.version == "T"


def test_grammar_is_cached_and_a_corrupt_one_rebuilt(cache_home):
    """The built LALR parser is stored once; a corrupt stored parser is rebuilt and still parses the shipped rules."""
    grammar = parse.GRAMMAR_PATH.read_text(encoding="utf-8")
    options = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False)
    cache.lark_parser(grammar, **options)
    (entry,) = cache_home.glob("grammar-*.pickle")
    entry.write_bytes(b"\x80\x05garbage")
    rebuilt = cache.lark_parser(grammar, **options)
    text = (default_rules_dir() / "R3.rules").read_text(encoding="utf-8")
    assert rebuilt.parse(text).data == "start"
    loaded = cache.lark_parser(grammar, **options)
    assert loaded.parse(text) == rebuilt.parse(text)


def test_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    """XDG says a relative XDG_CACHE_HOME is invalid: the default ~/.cache is used instead."""
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    monkeypatch.delenv("KOKUHO_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "kokuho-rules"


def test_a_cache_hit_does_not_import_the_parser(cache_home, tmp_path):
    """lark is a good part of a command's start-up: a file parsed before is read without importing it,
    and a whole `kokuho diff` on parsed rules never imports it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    p = write_rules(tmp_path)
    source.parse_file(p)  # fills the cache
    code = "import sys; from engine.source import parse_file; rf = parse_file(sys.argv[1]); print(rf.header.version, 'lark' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code, str(p)], env=dict(os.environ), capture_output=True, text=True, check=True, cwd=root)
    assert run.stdout.split() == ["T", "False"]
    code = (
        "import sys, io, contextlib, cli\n"
        "with contextlib.redirect_stdout(io.StringIO()): status = cli.main(['diff', 'R3', 'R6', '--year', 'R6'])\n"
        "print(status, 'lark' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True, cwd=root)
    assert first.stdout.split() == ["0", "True"]  # the shipped rules were not in this fresh cache yet
    again = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True, cwd=root)
    assert again.stdout.split() == ["0", "False"]
