"""The VS Code package in editors/vscode: valid JSON that fits together, a TextMate grammar whose every pattern
compiles (in the subset of regular expressions that Python's `re` and VS Code's Oniguruma read alike), a scope
for every keyword of engine/grammar.lark, and real lines of the shipped rules coloured as a reader expects.

The grammar is exercised by a small TextMate tokenizer below: at each position the rule matching earliest wins,
ties going to the rule listed first; `begin`/`end` rules (the strings) end on the same line.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "kokuho.tmLanguage.json"
# Syntax one of the two engines reads differently or not at all: named groups (?P<..> / (?<..>), \A \Z \z \G \h \H,
# possessive or atomic forms, Unicode properties \p{..}, and inline flags.
NOT_PORTABLE = re.compile(r"\(\?P|\(\?<[A-Za-z]|\\[AZzGhHpP]|[*+?}]\+|\(\?>|\(\?[aiLmsux]")


def load(name: str):
    return json.loads((VSCODE / name).read_text(encoding="utf-8"))


def rules(grammar: dict) -> list[dict]:
    """The top-level rules in order, includes resolved."""
    out = []

    def walk(pattern):
        if "include" in pattern:
            for p in grammar["repository"][pattern["include"][1:]]["patterns"]:
                walk(p)
        else:
            out.append(pattern)

    for p in grammar["patterns"]:
        walk(p)
    return out


def all_regexes(grammar: dict):
    for key, rule in [("patterns", p) for p in grammar["patterns"]] + [
        (k, p) for k, r in grammar["repository"].items() for p in r["patterns"]
    ]:
        stack = [rule]
        while stack:
            r = stack.pop()
            for field in ("match", "begin", "end"):
                if field in r:
                    yield r.get("name", key), r[field]
            stack.extend(r.get("patterns", []))


@functools.cache
def compiled_rules() -> tuple:
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    return tuple((re.compile(r.get("match") or r["begin"]), r) for r in rules(grammar))


def tokenize(line: str) -> list[tuple[str, str]]:
    """(text, scope) of each token of one line, as a TextMate engine would scope it (untokenized text left out)."""
    out, pos = [], 0
    while pos < len(line):
        best = None
        for rx, r in compiled_rules():
            m = rx.search(line, pos)
            if m and m.end() > m.start() and (best is None or m.start() < best[0].start()):
                best = (m, r)
        if best is None:
            break
        m, r = best
        if "match" in r:
            if "captures" in r:
                for k, cap in sorted(r["captures"].items(), key=lambda kv: int(kv[0])):
                    if m.group(int(k)) is not None:
                        out.append((m.group(int(k)), cap["name"]))
            else:
                out.append((m.group(), r["name"]))
            pos = m.end()
        else:
            e = re.compile(r["end"]).search(line, m.end())
            stop = e.end() if e else len(line)
            out.append((line[m.start() : stop], r["name"]))
            pos = stop
    return out


def test_json_files_are_valid_and_fit_together():
    """package.json names the grammar, the language configuration and the client script, and they exist."""
    pkg = load("package.json")
    (lang,) = pkg["contributes"]["languages"]
    (gram,) = pkg["contributes"]["grammars"]
    assert lang["id"] == gram["language"] == "kokuho"
    assert lang["extensions"] == [".rules"]
    assert (VSCODE / lang["configuration"]).is_file() and (VSCODE / gram["path"]).is_file() and (VSCODE / pkg["main"]).is_file()
    assert gram["scopeName"] == json.loads(GRAMMAR.read_text(encoding="utf-8"))["scopeName"] == "source.kokuho"
    assert pkg["activationEvents"] == ["onLanguage:kokuho"]
    assert "vscode-languageclient" in pkg["dependencies"]
    assert pkg["contributes"]["configuration"]["properties"]["kokuho.command"]["default"] == ["kokuho", "lsp"]
    conf = load("language-configuration.json")
    assert conf["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in conf["brackets"] and {"open": "「", "close": "」", "notIn": ["string", "comment"]} in conf["autoClosingPairs"]
    assert (VSCODE / "README.md").is_file()


def test_every_pattern_compiles_in_the_portable_subset():
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    found = list(all_regexes(grammar))
    assert len(found) > 30
    for scope, rx in found:
        re.compile(rx)
        assert not NOT_PORTABLE.search(rx), (scope, rx)


def test_every_keyword_of_the_language_has_a_scope():
    """Each quoted word of engine/grammar.lark, standing alone, gets a scope of its own (not that of a plain name)."""
    lark = re.sub(r"//[^\n]*", "", (ROOT / "engine" / "grammar.lark").read_text(encoding="utf-8"))
    keywords = sorted(set(re.findall(r'"([a-z_]+)"', lark)))
    assert len(keywords) > 35 and "ruleset" in keywords and "elif" in keywords
    for kw in keywords:
        ((text, scope),) = tokenize(kw)
        assert text == kw and not scope.startswith("variable.other"), (kw, scope)


def test_shipped_rule_lines_are_coloured():
    """Lines of rules/tokyo, Japanese text included, scoped token by token."""
    assert tokenize("ruleset R6 extends R3") == [
        ("ruleset", "keyword.declaration.ruleset.kokuho"),
        ("R6", "entity.name.namespace.version.kokuho"),
        ("extends", "keyword.declaration.extends.kokuho"),
        ("R3", "entity.name.namespace.version.kokuho"),
    ]
    assert tokenize('override table target_table "目標収納率（検討案）" : percent over previous_rate') == [
        ("override", "storage.modifier.override.kokuho"),
        ("table", "keyword.declaration.item.kokuho"),
        ("target_table", "entity.name.function.item.kokuho"),
        ('"目標収納率（検討案）"', "string.quoted.double.kokuho"),
        (":", "punctuation.separator.unit.kokuho"),
        ("percent", "support.type.unit.kokuho"),
        ("over", "keyword.other.clause.kokuho"),
        ("previous_rate", "variable.other.name.kokuho"),
    ]
    assert tokenize('  band [85%, 90%)   "85%以上90%未満"  => previous_rate + 1.00pp  "前年度実績＋1.00pp"') == [
        ("band", "keyword.other.clause.kokuho"),
        ("[", "punctuation.section.brackets.kokuho"),
        ("85%", "constant.numeric.percent.kokuho"),
        (",", "punctuation.separator.comma.kokuho"),
        ("90%", "constant.numeric.percent.kokuho"),
        (")", "punctuation.section.parens.kokuho"),
        ('"85%以上90%未満"', "string.quoted.double.kokuho"),
        ("=>", "keyword.operator.arrow.kokuho"),
        ("previous_rate", "variable.other.name.kokuho"),
        ("+", "keyword.operator.arithmetic.kokuho"),
        ("1.00pp", "constant.numeric.pp.kokuho"),
        ('"前年度実績＋1.00pp"', "string.quoted.double.kokuho"),
    ]
    assert tokenize('define relief "経過措置額" : yen = floor(levy_increase * relief_ratio, 1円)  # 切り捨て') == [
        ("define", "keyword.declaration.item.kokuho"),
        ("relief", "entity.name.function.item.kokuho"),
        ('"経過措置額"', "string.quoted.double.kokuho"),
        (":", "punctuation.separator.unit.kokuho"),
        ("yen", "support.type.unit.kokuho"),
        ("=", "keyword.operator.assignment.kokuho"),
        ("floor", "support.function.builtin.kokuho"),
        ("(", "punctuation.section.parens.kokuho"),
        ("levy_increase", "variable.other.name.kokuho"),
        ("*", "keyword.operator.arithmetic.kokuho"),
        ("relief_ratio", "variable.other.name.kokuho"),
        (",", "punctuation.separator.comma.kokuho"),
        ("1円", "constant.numeric.yen.kokuho"),
        (")", "punctuation.section.parens.kokuho"),
        ("# 切り捨て", "comment.line.number-sign.kokuho"),
    ]
    assert tokenize("  period 令和6～11年度") == [
        ("period", "keyword.other.clause.kokuho"),
        ("令和6～11年度", "constant.other.year.kokuho"),
    ]
    assert tokenize("  FY2030..:  0     「α＝０」") == [
        ("FY2030", "constant.other.year.kokuho"),
        ("..", "keyword.operator.range.kokuho"),
        (":", "punctuation.separator.colon.kokuho"),
        ("0", "constant.numeric.kokuho"),
        ("「α＝０」", "string.quoted.other.japanese.kokuho"),
    ]
    assert tokenize('  = if deficit = 0円 then "none" elif year <= deficit_target_year[year - 1] then 1,000,000円 else true') == [
        ("=", "keyword.operator.assignment.kokuho"),
        ("if", "keyword.control.conditional.kokuho"),
        ("deficit", "variable.other.name.kokuho"),
        ("=", "keyword.operator.assignment.kokuho"),
        ("0円", "constant.numeric.yen.kokuho"),
        ("then", "keyword.control.conditional.kokuho"),
        ('"none"', "string.quoted.double.kokuho"),
        ("elif", "keyword.control.conditional.kokuho"),
        ("year", "variable.language.year.kokuho"),
        ("<=", "keyword.operator.comparison.kokuho"),
        ("deficit_target_year", "variable.other.name.kokuho"),
        ("[", "punctuation.section.brackets.kokuho"),
        ("year", "variable.language.year.kokuho"),
        ("-", "keyword.operator.arithmetic.kokuho"),
        ("1", "constant.numeric.kokuho"),
        ("]", "punctuation.section.brackets.kokuho"),
        ("then", "keyword.control.conditional.kokuho"),
        ("1,000,000円", "constant.numeric.yen.kokuho"),
        ("else", "keyword.control.conditional.kokuho"),
        ("true", "constant.language.kokuho"),
    ]
    assert tokenize("四捨五入 + 切り捨て額") == [  # a Japanese rounding mode, and a name that merely starts like one
        ("四捨五入", "support.constant.rounding.kokuho"),
        ("+", "keyword.operator.arithmetic.kokuho"),
        ("切り捨て額", "variable.other.name.kokuho"),
    ]
    assert tokenize("input municipal 収納率 : percent") == [
        ("input", "keyword.declaration.input.kokuho"),
        ("municipal", "storage.type.scope.kokuho"),
        ("収納率", "entity.name.variable.input.kokuho"),
        (":", "punctuation.separator.unit.kokuho"),
        ("percent", "support.type.unit.kokuho"),
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the client script's syntax is not checked")
def test_client_script_is_valid_javascript():
    result = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
