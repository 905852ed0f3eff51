"""engine/loading.py, the one way rules are loaded; the one "did you mean" (engine/errors.py); the vocabulary on the nodes."""

from __future__ import annotations

import shutil

import pytest

import cli
from engine import api, ast, errors, examples, loading
from engine.check import KEY_NAMES as CHECK_KEY_NAMES
from engine.check import UnitError as CheckUnitError
from engine.check import children as check_children
from engine.parse import parse_text
from engine.versions import default_rules_dir

R3, R6 = default_rules_dir() / "R3.rules", default_rules_dir() / "R6.rules"


# ---- a file named twice is read once ------------------------------------------------------------------------


def test_a_file_named_twice_is_read_once(capsys):
    """`kokuho check R3 R6 R3` checks two files (before: R3 was read twice and was a duplicate-version of itself)."""
    assert cli.main(["check", str(R3), str(R6), str(R3)]) == 0
    assert capsys.readouterr().err == "2 rule files checked: no findings (R3, R6)\n"


def test_a_file_reached_as_itself_and_through_its_folder_is_read_once(tmp_path):
    shutil.copy(R3, tmp_path / "R3.rules")
    shutil.copy(R6, tmp_path / "R6.rules")
    loaded = loading.load([tmp_path / "R6.rules", tmp_path, tmp_path / "." / "R3.rules"], keep_going=True)
    assert (loaded.findings, loaded.file_count, loaded.versions) == ([], 2, ["R3", "R6"])


def test_every_entry_point_reads_a_file_named_twice_once():
    assert api.check([R3, R6, R6]).file_count == 2
    assert sorted(api.Session.open([R3, R6, R3]).ruleset.files) == ["R3", "R6"]
    ruleset, versions = examples.load_for_test([R6, R6])
    assert (sorted(ruleset.files), versions) == (["R3", "R6"], ["R6"])  # R3 from beside R6, its examples not run


def test_two_different_files_of_one_version_are_still_a_duplicate(tmp_path):
    shutil.copy(R3, tmp_path / "R3.rules")
    shutil.copy(R3, tmp_path / "R3-copy.rules")
    (f,) = api.check([tmp_path]).findings
    assert f.code == "duplicate-version"


# ---- the three modes ---------------------------------------------------------------------------------------


def broken(tmp_path):
    shutil.copy(R3, tmp_path / "R3.rules")
    (tmp_path / "R6.rules").write_text(
        R6.read_text(encoding="utf-8").replace("previous_rate + 1.50pp", "previos_rate + 1.50pp", 1), encoding="utf-8"
    )
    return tmp_path


def test_keep_going_reports_and_strict_raises(tmp_path):
    d = broken(tmp_path)
    loaded = loading.load([d], keep_going=True)
    assert [f.code for f in loaded.findings] == ["unknown-name"]
    assert loaded.versions == ["R3", "R6"]
    with pytest.raises(errors.RuleCheckError) as e:
        loading.load([d])
    assert [f.code for f in e.value.findings] == ["unknown-name"]


def test_keep_going_still_refuses_a_missing_path(tmp_path):
    with pytest.raises(errors.UsageError):
        loading.load([tmp_path / "nope.rules"], keep_going=True)


def test_bases_beside_only_with_the_option(tmp_path):
    shutil.copy(R3, tmp_path / "R3.rules")
    shutil.copy(R6, tmp_path / "R6.rules")
    assert loading.load([tmp_path / "R6.rules"], bases_beside=True).versions == ["R6"]
    with pytest.raises(errors.RuleCheckError) as e:
        loading.load([tmp_path / "R6.rules"])
    assert [f.code for f in e.value.findings] == ["unknown-base"]


# ---- did you mean ------------------------------------------------------------------------------------------------


def test_closest_and_did_you_mean():
    assert errors.closest("previos_rate", ["previous_rate", "alpha"]) == "previous_rate"
    assert errors.closest("zzz", ["previous_rate"]) is None
    assert errors.did_you_mean("alpa", ["alpha"]) == "; did you mean 'alpha'?"
    assert errors.did_you_mean("zzz", ["alpha"], otherwise="; the names are alpha") == "; the names are alpha"
    assert errors.did_you_mean("defin", ["define"], 0.7, template=" (did you mean '{}'?)") == " (did you mean 'define'?)"
    # the cutoff is the site's: 'abc' is 0.67 like 'abs', near enough at 0.6, not at 0.7
    assert errors.closest("abc", ["abs"], 0.6) == "abs" and errors.closest("abc", ["abs"], 0.7) is None


def test_unit_error_is_in_the_error_tree():
    err = CheckUnitError("cannot add yen to count", ast.Span("x.rules", 3, 4))
    assert isinstance(err, errors.RuleCheckError) and isinstance(err, errors.KokuhoError)
    assert (err.code, err.message) == ("unit", "cannot add yen to count")
    assert err.findings[0].render() == "x.rules:3:4: unit: cannot add yen to count"
    assert CheckUnitError is errors.UnitError  # still importable from check


# ---- the vocabulary on the nodes -----------------------------------------------------------------------------------


def test_items_know_their_kind_and_keyword():
    rf = parse_text('ruleset X\ninput municipal a "a" : percent\ndefine b : percent = a\nremove c\n', "x.rules")
    assert [(i.kind, i.keyword) for i in rf.items] == [("input", "input"), ("definition", "define"), ("remove", "remove")]
    assert (ast.Table.kind, ast.Schedule.keyword, ast.Summary.kind, ast.Example.keyword) == ("table", "schedule", "summary", "example")


def test_children_and_walk():
    rf = parse_text(
        'ruleset X\ninput municipal a "a" : percent\ndefine b : percent = if a > 0% then min(a, a[year - 1]) else (b with a = 1%)\n',
        "x.rules",
    )
    e = rf.items[1].expr
    assert [type(c).__name__ for c in ast.children(e)] == ["Binary", "Call", "With"]
    assert ast.children(ast.Ref("a")) == [] and ast.children("not a node") == []
    assert [type(n).__name__ for n in ast.walk(e)] == [
        "If",
        "Binary",
        "Ref",
        "Number",
        "Call",
        "Ref",
        "AtYear",
        "Ref",
        "Binary",
        "ThisYear",
        "Number",
        "With",
        "Ref",
        "Number",
    ]
    assert ast.refs(e) == {"a", "b"} and ast.same_year_refs(rf.items[1]) == {"a", "b"}
    assert check_children is ast.children and CHECK_KEY_NAMES is ast.KEY_NAMES  # still taken from check by older code
