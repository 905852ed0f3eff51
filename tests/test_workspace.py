"""Workspaces: kokuho.toml (engine/workspace.py), `kokuho init`, `kokuho config`, `kokuho --version`.

The settings file is searched from the working directory upward; its paths are relative to its
own folder; flags on the command line win over it, and it wins over the built-in defaults.
tests/conftest.py sets KOKUHO_CONFIG=off for the whole suite; the tests here lift it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cli
from engine import shipped, workspace
from engine.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(autouse=True)
def _search(monkeypatch, tmp_path):
    """The search for kokuho.toml is on; each test runs in its own temporary folder."""
    monkeypatch.delenv(workspace.ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def errors(path) -> list[str]:
    """The first line of each finding load() reports for this file."""
    with pytest.raises(UsageError) as e:
        workspace.load(path)
    return [f.render().splitlines()[0] for f in e.value.findings]


def a_workspace(
    tmp_path: Path, toml: str = 'rules = ["rules"]\ndata = "data/m.csv"\nprefecture-data = "data/p.csv"\nversion = "R6"\nlang = "ja"\n'
) -> Path:
    """A folder with a kokuho.toml, a copy of the shipped rules in rules/ and the sample data as data/m.csv, data/p.csv."""
    ws = tmp_path / "ws"
    for p in shipped.rules_dir().glob("*.rules"):
        write(ws / "rules" / p.name, p.read_text(encoding="utf-8"))
    (ws / "data").mkdir(parents=True)
    (ws / "data" / "m.csv").write_bytes((SAMPLE / "tokyo-municipal.csv").read_bytes())
    (ws / "data" / "p.csv").write_bytes((SAMPLE / "tokyo-prefecture.csv").read_bytes())
    write(ws / "kokuho.toml", toml)
    return ws


# ---- finding the file -----------------------------------------------------------------------------


def test_search_upward_finds_the_nearest(tmp_path):
    outer = write(tmp_path / "kokuho.toml", 'version = "R3"\n')
    inner = write(tmp_path / "a" / "kokuho.toml", 'version = "R6"\n')
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    assert workspace.find(tmp_path / "a" / "b" / "c") == inner
    assert workspace.find(tmp_path / "a") == inner
    assert workspace.find(tmp_path) == outer
    assert workspace.current(tmp_path / "a" / "b").values == {"version": "R6"}


def test_no_file_anywhere_means_built_in_defaults(tmp_path):
    if workspace.find(tmp_path) is not None:  # a kokuho.toml above the test's temporary folder
        pytest.skip("a kokuho.toml lies above the temporary folder")
    config = workspace.current(tmp_path)
    assert (config.path, config.values) == (None, {})
    assert {k: (s.value, s.source) for k, s in workspace.settings(config, {}).items()} == {
        k: (None, "built-in default") for k in ("rules", "data", "prefecture-data", "version", "lang")
    }


def test_kokuho_config_env_names_a_file_or_turns_the_search_off(tmp_path):
    elsewhere = write(tmp_path / "elsewhere" / "team.toml", 'version = "R3"\n')
    write(tmp_path / "here" / "kokuho.toml", 'version = "R6"\n')
    here = tmp_path / "here"
    assert workspace.current(here, {"KOKUHO_CONFIG": str(elsewhere)}).values == {"version": "R3"}
    assert workspace.current(here, {"KOKUHO_CONFIG": "../elsewhere/team.toml"}).values == {"version": "R3"}
    assert workspace.current(here, {"KOKUHO_CONFIG": "off"}).path is None
    assert workspace.current(here, {}).values == {"version": "R6"}
    with pytest.raises(UsageError) as e:
        workspace.current(here, {"KOKUHO_CONFIG": "nope.toml"})
    assert str(e.value) == f"no-such-file: settings file not found: {here / 'nope.toml'}"


# ---- reading it: values, relative paths, errors -------------------------------------------------------


def test_paths_are_relative_to_the_file_and_shown_relative_to_the_working_directory(tmp_path, monkeypatch):
    ws = a_workspace(tmp_path, 'rules = ["rules", "rules/R6.rules"]\ndata = "./data/m.csv"\nprefecture-data = "data/../data/p.csv"\n')
    config = workspace.load(ws / "kokuho.toml")
    assert config.values == {
        "rules": [ws / "rules", ws / "rules" / "R6.rules"],
        "data": ws / "data" / "m.csv",
        "prefecture-data": ws / "data" / "p.csv",
    }
    (ws / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(ws / "sub" / "deeper")
    shown = {k: (s.value, s.source) for k, s in workspace.settings(workspace.current(), {}).items()}
    assert shown == {
        "rules": (["../../rules", "../../rules/R6.rules"], "../../kokuho.toml:1"),
        "data": ("../../data/m.csv", "../../kokuho.toml:2"),
        "prefecture-data": ("../../data/p.csv", "../../kokuho.toml:3"),
        "version": (None, "built-in default"),
        "lang": (None, "built-in default"),
    }


def test_a_single_rules_path_may_be_a_string(tmp_path):
    ws = a_workspace(tmp_path, 'rules = "rules"\n')
    assert workspace.load(ws / "kokuho.toml").values == {"rules": [ws / "rules"]}


def test_precedence_flag_then_file_then_default(tmp_path):
    ws = a_workspace(tmp_path)
    config = workspace.load(ws / "kokuho.toml")
    given = {"rules": ["mine.rules"], "data": None, "prefecture-data": None, "version": "R3", "lang": None}
    got = {k: (s.value, s.source) for k, s in workspace.settings(config, given, cwd=ws).items()}
    assert got == {
        "rules": (["mine.rules"], "command line (--rules)"),
        "data": ("data/m.csv", "kokuho.toml:2"),
        "prefecture-data": ("data/p.csv", "kokuho.toml:3"),
        "version": ("R3", "command line (--version)"),
        "lang": ("ja", "kokuho.toml:5"),
    }
    assert workspace.settings(workspace.Config(), given)["lang"] == workspace.Setting("lang", None, "built-in default")


def test_fill_sets_what_the_command_line_left_out(tmp_path, monkeypatch):
    ws = a_workspace(tmp_path)
    monkeypatch.chdir(ws)
    names = {
        "rules": ("rules", None),
        "data": ("data", None),
        "prefecture-data": ("prefecture_data", None),
        "version": ("version", None),
        "lang": ("headers", "en"),
    }
    options = {"rules": None, "data": None, "prefecture_data": None, "version": "R3", "headers": None, "year": "R7"}
    workspace.fill(options, names)
    assert options == {
        "rules": ["rules"],
        "data": "data/m.csv",
        "prefecture_data": "data/p.csv",
        "version": "R3",
        "headers": "ja",
        "year": "R7",
    }
    options = {"rules": None, "data": None, "prefecture_data": None, "version": None, "headers": None}
    workspace.fill(options, names, workspace.Config())
    assert options == {"rules": None, "data": None, "prefecture_data": None, "version": None, "headers": "en"}


def test_unknown_keys_say_did_you_mean_with_their_place(tmp_path):
    path = write(
        tmp_path / "kokuho.toml",
        'rule = ["rules"]\n# the data\nprefecture_data = "p.csv"\n  "Version" = "R6"\nlanguage = "ja"\ncolour = "red"\n',
    )
    assert errors(path) == [
        "kokuho.toml:1:1: config-unknown-key: unknown key 'rule' in kokuho.toml; did you mean 'rules'?",
        "kokuho.toml:3:1: config-unknown-key: unknown key 'prefecture_data' in kokuho.toml; did you mean 'prefecture-data'?",
        "kokuho.toml:4:3: config-unknown-key: unknown key 'Version' in kokuho.toml; did you mean 'version'?",
        "kokuho.toml:5:1: config-unknown-key: unknown key 'language' in kokuho.toml; did you mean 'lang'?",
        "kokuho.toml:6:1: config-unknown-key: unknown key 'colour' in kokuho.toml; the keys are rules, data, prefecture-data, version, lang",
    ]


def test_a_table_is_not_a_key_of_kokuho_toml(tmp_path):
    path = write(tmp_path / "kokuho.toml", 'version = "R6"\n\n[data]\nmunicipal = "m.csv"\n\n[output]\nlang = "ja"\n')
    assert errors(path) == [
        "kokuho.toml:3:1: config-value: 'data' is the path of a file, like \"data/municipal.csv\", not a table",
        "kokuho.toml:6:1: config-unknown-key: unknown key 'output' in kokuho.toml; the keys are rules, data, prefecture-data, version, lang",
    ]


@pytest.mark.parametrize(
    "text, line",
    [
        (
            "version = R9\n",
            "kokuho.toml:1:11: config-syntax: kokuho.toml is not valid TOML: Invalid value "
            '(text and paths are written in double quotes, like "R9"; lists in brackets, like ["rules"])',
        ),
        (
            'version = "R6" x\n',
            "kokuho.toml:1:16: config-syntax: kokuho.toml is not valid TOML: Expected newline or end of document after a statement",
        ),
        ('# settings\nrules = ["rules"\nversion = "R9"\n', "kokuho.toml:3:1: config-syntax: kokuho.toml is not valid TOML: Unclosed array"),
        ('lang = "ja"\nlang = "en"\n', "kokuho.toml:2:12: config-syntax: kokuho.toml is not valid TOML: Cannot overwrite a value"),
        ('version = "R6"\nlang = "ja', "kokuho.toml:2:11: config-syntax: kokuho.toml is not valid TOML: Unterminated string"),
    ],
    ids=["unquoted", "two values", "unclosed list", "key twice", "unterminated at the end"],
)
def test_bad_toml_is_an_error_at_its_position(tmp_path, text, line):
    assert errors(write(tmp_path / "kokuho.toml", text)) == [line]


def test_the_file_must_be_utf8_a_bom_is_fine(tmp_path):
    path = tmp_path / "kokuho.toml"
    path.write_bytes('# 設定\nversion = "R6"\n'.encode("cp932"))
    assert errors(path) == ["kokuho.toml:1:1: config-syntax: kokuho.toml is not UTF-8 (byte 2); save it as UTF-8"]
    path.write_bytes('\ufeff# 設定\nversion = "R6"\n'.encode("utf-8"))
    assert workspace.load(path).values == {"version": "R6"}


@pytest.mark.parametrize(
    "text, line",
    [
        ('lang = "fr"\n', 'kokuho.toml:1:8: config-value: \'lang\' is "ja" or "en", not "fr"'),
        ("version = 9\n", "kokuho.toml:1:11: config-value: 'version' is a version id, like \"R9\", not a number"),
        ('version = ""\n', 'kokuho.toml:1:11: config-value: \'version\' is a version id, like "R9", not ""'),
        (
            "rules = []\n",
            'kokuho.toml:1:9: config-value: \'rules\' is a path or a list of paths, like ["rules", "R9.rules"], not an empty list',
        ),
        (
            'rules = ["rules", 3]\n',
            'kokuho.toml:1:9: config-value: \'rules\' is a path or a list of paths, like ["rules", "R9.rules"], not a list of a number, texts',
        ),
        (
            'data = true\nprefecture-data = "p.csv"\n',
            "kokuho.toml:1:8: config-value: 'data' is the path of a file, like \"data/municipal.csv\", not true",
        ),
        (
            'data = "m.csv"\n',
            "kokuho.toml:1:1: config-value: 'data' needs 'prefecture-data' beside it: give both data files, or neither for the bundled sample",
        ),
    ],
    ids=["lang", "version number", "version empty", "rules empty", "rules mixed", "data bool", "data alone"],
)
def test_bad_values_are_errors_at_the_value(tmp_path, text, line):
    assert errors(write(tmp_path / "kokuho.toml", text)) == [line]


def test_a_missing_path_is_reported_where_it_is_written_when_used(tmp_path, monkeypatch, capsys):
    ws = a_workspace(tmp_path, 'rules = [\n  "rules",\n  "R9.rules",\n]\ndata = "data/m.csv"\nprefecture-data = "data/nope.csv"\n')
    monkeypatch.chdir(ws)
    code, out, err = run(capsys, "check")
    assert (code, out) == (2, "")
    assert err == (
        "kokuho.toml:3:3: config-path: 'rules' names R9.rules, which does not exist (paths are relative to the folder of kokuho.toml)\n"
        '      "R9.rules",\n'
        "      ^\n"
    )  # check reads no data: only the rules are looked for
    code, _, err = run(capsys, "eval", "--year", "R7", "--rules", "rules")
    assert code == 2
    assert (
        err.splitlines()[0]
        == "kokuho.toml:6:19: config-path: 'prefecture-data' names data/nope.csv, which does not exist (paths are relative to the folder of kokuho.toml)"
    )
    code, out, _ = run(
        capsys, "eval", "--year", "R7", "--rules", "rules", "--prefecture-data", "data/p.csv", "--columns", "target_rate", "--format", "csv"
    )
    assert code == 0 and out.count("\n") == 63


def test_key_places_skip_lists_strings_and_comments():
    text = (
        '# rules = "not a key"\nrules = [\n  "a",  # version = "no"\n  "b[",\n]\nnote = """\nlang = "no"\n"""\n'
        '\'quoted key\' = 1\n"data" = "m.csv"\n[table]\nversion = 1\n'
    )
    assert workspace.key_places(text) == {
        "rules": (2, 1, 9),
        "note": (6, 1, 8),
        "quoted key": (9, 1, 16),
        "data": (10, 1, 10),
        "table": (11, 1, 1),
    }


# ---- the command line in a workspace -------------------------------------------------------------------


def test_commands_in_a_workspace_need_no_other_flag(tmp_path, monkeypatch, capsys):
    ws = a_workspace(tmp_path, 'rules = ["rules"]\ndata = "data/m.csv"\nprefecture-data = "data/p.csv"\nversion = "R3"\nlang = "ja"\n')
    monkeypatch.chdir(ws)
    _, inside, _ = run(capsys, "eval", "--year", "R7", "--format", "csv", "--columns", "alpha,levy_medical")
    assert inside.splitlines()[:2] == [
        "\ufeff年度,団体コード,団体名,医療費指数反映係数α,納付金（医療分）,未定義の理由",
        "2025,131016,千代田区,1,1979454997,",
    ]
    # the same as every flag given by hand, from another folder
    monkeypatch.chdir(tmp_path)
    _, by_hand, _ = run(
        capsys,
        "eval",
        "--year",
        "R7",
        "--format",
        "csv",
        "--columns",
        "alpha,levy_medical",
        "--rules",
        "ws/rules",
        "--data",
        "ws/data/m.csv",
        "--prefecture-data",
        "ws/data/p.csv",
        "--version",
        "R3",
        "--headers",
        "ja",
    )
    assert inside == by_hand
    # flags win over the file
    monkeypatch.chdir(ws / "rules")
    _, flags, _ = run(
        capsys, "eval", "--year", "R7", "--format", "csv", "--columns", "alpha,levy_medical", "--version", "R6", "--headers", "en"
    )
    assert flags.splitlines()[:2] == ["\ufefffiscal_year,code,name,alpha,levy_medical,undefined", "2025,131016,千代田区,0.71,2070328915,"]
    code, _, err = run(capsys, "check")
    assert (code, err) == (0, "2 rule files checked: no findings (R3, R6)\n")


def test_kokuho_config_shows_each_value_and_where_it_came_from(tmp_path, monkeypatch, capsys):
    ws = a_workspace(tmp_path)
    (ws / "sub").mkdir()
    monkeypatch.chdir(ws / "sub")
    code, out, err = run(capsys, "config", "--version", "R3")
    assert (code, err) == (0, "")
    assert out == (
        "settings file: ../kokuho.toml\n"
        "\n"
        "setting          value          from\n"
        "---------------  -------------  ------------------------\n"
        "rules            ../rules       ../kokuho.toml:1\n"
        "data             ../data/m.csv  ../kokuho.toml:2\n"
        "prefecture-data  ../data/p.csv  ../kokuho.toml:3\n"
        "version          R3             command line (--version)\n"
        "lang             ja             ../kokuho.toml:5\n"
    )


def test_kokuho_config_without_a_file_shows_the_built_in_defaults(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(workspace.ENV, "off")
    code, out, _ = run(capsys, "config")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "settings file: none (KOKUHO_CONFIG=off)"
    rows = {line.split()[0]: line for line in lines[4:]}
    assert rows["rules"].split() == ["rules", str(shipped.rules_dir()), "built-in", "default"]
    assert rows["data"].split() == ["data", str(shipped.sample_dir() / "tokyo-municipal.csv"), "built-in", "default"]
    assert rows["version"].split() == ["version", "the", "newest", "version", "built-in", "default"]
    assert (
        " ".join(rows["lang"].split())
        == "lang each command's own: eval --headers ja, diff --headers ja, names --headers ja, report --lang ja, sweep --headers ja built-in default"
    )


def test_kokuho_config_reports_every_problem_of_the_file(tmp_path, monkeypatch, capsys):
    write(tmp_path / "kokuho.toml", 'rule = "rules"\nlang = "fr"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "config")
    assert (code, out) == (2, "")
    assert [line for line in err.splitlines() if line.startswith("kokuho.toml")] == [
        "kokuho.toml:1:1: config-unknown-key: unknown key 'rule' in kokuho.toml; did you mean 'rules'?",
        'kokuho.toml:2:8: config-value: \'lang\' is "ja" or "en", not "fr"',
    ]


def test_version_shows_the_package_and_the_shipped_rules(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert out == (
        f"kokuho-rules {shipped.package_version()}\n"
        "shipped rules (rules/tokyo):\n"
        "  R3  東京都国民健康保険運営方針（令和3～5年度）  [current, FY2021-FY2023 (R3-R5)]\n"
        "  R6  東京都国民健康保険運営方針（改定案）  [proposed, FY2024-FY2029 (R6-R11), extends R3]\n"
    )


def test_the_shipped_files_are_found_in_the_checkout():
    assert shipped.root() == ROOT
    assert sorted(p.name for p in shipped.rules_dir().glob("*.rules")) == ["R3.rules", "R6.rules"]


# ---- kokuho init ---------------------------------------------------------------------------------------


INIT_FILES = [
    "kokuho.toml",
    "rules/R3.rules",
    "rules/R6.rules",
    "rules/R9.rules",
    "data/README.md",
    "data/tokyo-municipal.csv",
    "data/tokyo-prefecture.csv",
]


def test_init_makes_a_workspace_that_works_with_no_other_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "init", "ws")
    assert (code, out) == (0, "")
    assert err == (
        "made the workspace ws:\n"
        "  kokuho.toml                settings: the rules, the data, the default version and the language\n"
        "  rules/R3.rules             shipped rules (a copy): the base to extend\n"
        "  rules/R6.rules             shipped rules (a copy): the base to extend\n"
        "  rules/R9.rules             your revision (extends R6): edit this file\n"
        "  data/README.md             about the sample data\n"
        "  data/tokyo-municipal.csv   synthetic sample data: replace with your own\n"
        "  data/tokyo-prefecture.csv  synthetic sample data: replace with your own\n"
        "next: cd ws && kokuho check && kokuho eval --year R7\n"
        "then: edit rules/R9.rules; kokuho check; kokuho test; kokuho diff R6 R9 --year R9; kokuho report --out report.html\n"
    )
    ws = tmp_path / "ws"
    assert sorted(str(p.relative_to(ws).as_posix()) for p in ws.rglob("*") if p.is_file()) == sorted(INIT_FILES)
    for name in ("R3.rules", "R6.rules"):
        assert (ws / "rules" / name).read_bytes() == (ROOT / "rules" / "tokyo" / name).read_bytes()
    for name in ("tokyo-municipal.csv", "tokyo-prefecture.csv", "README.md"):
        assert (ws / "data" / name).read_bytes() == (SAMPLE / name).read_bytes()
    assert (ws / "kokuho.toml").read_bytes() == (ROOT / "engine" / "templates" / "starter-kokuho.toml").read_bytes()
    assert (ws / "rules" / "R9.rules").read_bytes() == (ROOT / "engine" / "templates" / "starter-R9.rules").read_bytes()
    assert workspace.load(ws / "kokuho.toml").values == {
        "rules": [ws / "rules"],
        "data": ws / "data" / "tokyo-municipal.csv",
        "prefecture-data": ws / "data" / "tokyo-prefecture.csv",
        "version": "R9",
        "lang": "ja",
    }

    monkeypatch.chdir(ws)
    assert run(capsys, "check")[::2] == (0, "3 rule files checked: no findings (R3, R6, R9)\n")
    assert run(capsys, "fmt", "--check")[::2] == (0, "0 of 3 rule files would be reformatted\n")
    code, out, err = run(capsys, "eval", "--year", "R7", "--format", "csv", "--columns", "levy_total")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "\ufeff年度,団体コード,団体名,納付金（合計）,未定義の理由"  # lang = "ja"
    assert len(out.splitlines()) == 63
    # the workspace's copy of R3 and R6 gives what the shipped rules give
    _, diff_here, _ = run(capsys, "diff", "R3", "R6", "--year", "R7")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(workspace.ENV, "off")
    _, diff_shipped, _ = run(capsys, "diff", "R3", "R6", "--year", "R7")
    assert diff_here == diff_shipped and "千代田区" in diff_here


def test_the_starter_revision_passes_its_examples(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run(capsys, "init", "ws")
    monkeypatch.chdir(tmp_path / "ws")
    code, out, _ = run(capsys, "test")
    assert code == 0, out


def test_the_starter_revision_overrides_the_target_table_from_fy2027(tmp_path, monkeypatch, capsys):
    """R9's table is in force for FY2027-FY2029; its own example pins a band (95.50% + 0.10pp)."""
    monkeypatch.chdir(tmp_path)
    run(capsys, "init", "ws")
    monkeypatch.chdir(tmp_path / "ws")
    code, out, _ = run(capsys, "test", "--version", "R9")
    assert "ok   R9 r9_target_95_97 「95%以上97%未満：前年度実績＋0.10pp」" in out
    assert "ok   R9 target_after_plan 「令和9年度の目標（90%以上95%未満）」" in out


def test_init_into_an_empty_folder_or_new_parents(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert run(capsys, "init", "empty")[0] == 0
    assert run(capsys, "init", "a/b/ws")[0] == 0
    assert (tmp_path / "a" / "b" / "ws" / "kokuho.toml").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_init_never_writes_into_a_folder_in_use(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ws" / "notes.txt", "mine")
    write(tmp_path / "file", "x")
    code, out, err = run(capsys, "init", "ws")
    assert (code, out, err) == (
        2,
        "",
        "init-exists: ws already exists and is not empty; kokuho init makes a new folder: give another name\n",
    )
    assert [p.name for p in (tmp_path / "ws").iterdir()] == ["notes.txt"]
    assert run(capsys, "init", "file")[2] == "init-exists: file is a file; kokuho init makes a new folder: give another name\n"


def test_init_ignores_a_broken_settings_file_above(tmp_path, monkeypatch, capsys):
    write(tmp_path / "kokuho.toml", "version = \n")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "init", "ws")[0] == 0
    monkeypatch.chdir(tmp_path / "ws")
    assert run(capsys, "config")[0] == 0  # the nearest file is the new workspace's


# ---- docs/workspace.md: its commands and outputs are real -------------------------------------------
# Its `$ kokuho ...` and `$ cd DIR && kokuho ...` blocks run in order in one empty folder (DIR is
# relative to it), after the `# file: NAME` blocks above them are written there (the marker line is
# not part of the file). Refresh the outputs with `python tests/test_workspace.py --update`.

WORKSPACE_DOC = "workspace.md"


def _doc_steps():
    from tests.test_docs import FILE_MARK, blocks

    steps = []
    for b in blocks(WORKSPACE_DOC):
        m = FILE_MARK.match(b.first)
        if m:
            steps.append(("file", b, m.group(1), b.body.split("\n", 1)[1]))
        elif b.first.startswith("$ "):
            steps.append(("run", b, b.first[2:], None))
    return steps


def _run_doc_command(command: str, root: Path) -> str:
    """What the terminal shows for `[cd DIR && ]kokuho ARGS[ | head -n N]` run from root, as tests/test_docs.py does."""
    import contextlib
    import shlex

    from tests.test_docs import PIPE, _Terminal, normalise

    cwd = root
    if command.startswith("cd "):
        where, command = command[3:].split(" && ", 1)
        cwd = root / where
    pipe = PIPE.search(command)
    if pipe:
        command = command[: pipe.start()]
    argv = shlex.split(command)
    assert argv[0] == "kokuho", command
    term = _Terminal()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(term.stream("out")), contextlib.redirect_stderr(term.stream("err")):
            try:
                cli.main(argv[1:])
            except SystemExit:
                pass
    finally:
        os.chdir(old)
    lines = "".join(term.stdout).lstrip("\ufeff").replace("\r\n", "\n").splitlines()
    if pipe:
        n = int(pipe.group(2))
        lines = lines[:n] if pipe.group(1) == "head" else lines[-n:]
    return normalise("\n".join("".join(term.err_before).splitlines() + lines + "".join(term.err_after).splitlines()))


def _walk_doc(root: Path):
    """Each command block of docs/workspace.md with what it prints today, in order."""
    for kind, block, what, body in _doc_steps():
        if kind == "file":
            write(root / what, body)
        else:
            yield block, _run_doc_command(what, root)


def test_workspace_doc_shows_real_outputs(tmp_path):
    from tests.test_docs import expected_output

    ran = 0
    for block, actual in _walk_doc(tmp_path):
        assert actual == expected_output(block), (
            f"docs/{WORKSPACE_DOC}:{block.line}: {block.first} (refresh: python tests/test_workspace.py --update)"
        )
        ran += 1
    assert ran >= 8


def test_workspace_doc_shows_the_starter_kokuho_toml():
    first = next(body for kind, _, what, body in _doc_steps() if kind == "file" and what == "ws/kokuho.toml")
    assert first == (ROOT / "engine" / "templates" / "starter-kokuho.toml").read_text(encoding="utf-8")


def _update() -> int:
    import sys
    import tempfile

    from tests.test_docs import DOCS, normalise

    path = DOCS / WORKSPACE_DOC
    text = path.read_text(encoding="utf-8")
    os.environ.pop(workspace.ENV, None)
    with tempfile.TemporaryDirectory() as d:
        results = list(_walk_doc(Path(d)))
    changed = 0
    for block, actual in reversed(results):
        new = block.first + "\n" + actual + "\n"
        changed += normalise(new) != normalise(block.body)
        text = text[: block.start] + new + text[block.end :]
    path.write_text(text, encoding="utf-8")
    print(f"docs/{WORKSPACE_DOC}: {changed} output(s) changed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] != ["--update"]:
        sys.exit("usage: python tests/test_workspace.py --update")
    sys.exit(_update())
