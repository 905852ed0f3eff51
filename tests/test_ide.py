"""engine/ide.py without a server: how versions are found, what each finding's quick fix is (the messages the
fixes read are pinned here), hovers on names, keywords and years, completion by context, and the outline."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import api, ide
from engine.ide import Pos, Range, Workspace

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "rules" / "tokyo"


def at(text: str, needle: str, offset: int = 0) -> Pos:
    """The position of the first `needle` in text, plus offset characters."""
    k = text.index(needle) + offset
    line = text.count("\n", 0, k)
    return Pos(line, k - (text.rfind("\n", 0, k) + 1))


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace([tmp_path])


def write(ws: Workspace, path: Path, text: str, *, open_it: bool = True) -> str:
    path.write_text(text, encoding="utf-8")
    if open_it:
        ws.set_text(str(path), text)
    return str(path)


FIXES = [
    # (file text, code, message, the fix's new text, the text it replaces)
    (
        'ruleset Z1 extends R6\n\ndefine low "低" : bool = collection_rate < 90\n',
        "bare-number",
        "the plain number 90 stands beside percent; write 90% (a plain number is a ratio: 1 = 100%)",
        "90%",
        "90",
    ),
    (
        'ruleset Z1 extends R6\n\ndefine up "上" : percent = previous_rate + 1\n',
        "bare-number",
        "the plain number 1 stands beside percent; write 1% (a plain number is a ratio: 1 = 100%)",
        "1%",
        "1",
    ),
    (
        'ruleset Z1 extends R6\n\ndefine beta "β" : ratio = 1\n',
        "missing-override",
        "'beta' is already defined in version R3; write 'override' to replace it or choose another name",
        "override ",
        "",
    ),
    (
        'ruleset Z1 extends R6\n\ndefine x "x" : yen = levy_totl\n',
        "unknown-name",
        "unknown name 'levy_totl'; did you mean 'levy_total'?",
        "levy_total",
        "levy_totl",
    ),
    (
        'ruleset Z1 extends R6\n\ndefine x "x" : yen = flor(levy_total, 1円)\n',
        "unknown-function",
        "unknown function 'flor'; did you mean 'floor'?; functions are abs, ceil, count, decimals, defined, floor, max, mean, min, percent, ratio, round, sum",
        "floor",
        "flor",
    ),
    (
        'ruleset Z1 extends R6\n\noverride define levy_totl "x" : yen = 1円\n',
        "override-unknown",
        "'levy_totl' overrides nothing: base version R6 has no item of that name; did you mean 'levy_total'?",
        "levy_total",
        "levy_totl",
    ),
    (
        "ruleset Z1 extends R6\n\noverride summary {\n  total levy_totl\n}\n",
        "unknown-name",
        "summary names unknown 'levy_totl'; did you mean 'levy_total'?",
        "levy_total",
        "levy_totl",
    ),
    ('ruleset Z1\n\ndefne x "x" : ratio = 1\n', "syntax", None, "define", "defne"),
    (
        'ruleset Z1\n\ndefine x "x" : ratoi = 1\n',
        "unknown-unit",
        "unknown unit 'ratoi'; units are percent, pp, yen, ratio, count, year, bool, text",
        "ratio",
        "ratoi",
    ),
]


@pytest.mark.parametrize("text, code, message, new, old", FIXES, ids=[f"{c}-{k}" for k, (_, c, _, _, _) in enumerate(FIXES)])
def test_each_fixable_finding_has_its_fix(ws, tmp_path, text, code, message, new, old):
    """The finding's code and message (which the fix reads), and the one edit the fix makes."""
    path = write(ws, tmp_path / "Z1.rules", text)
    (d,) = ws.diagnostics(path)
    assert d.code == code
    if message is not None:
        assert d.message == message
    (fix,) = d.fixes
    (edit,) = fix.edits
    lines = text.split("\n")
    assert edit.range.start.line == edit.range.end.line
    replaced = lines[edit.range.start.line][edit.range.start.col : edit.range.end.col]
    assert (edit.new_text, replaced) == (new, old)
    fixed = "\n".join(
        lines[: edit.range.start.line]
        + [lines[edit.range.start.line][: edit.range.start.col] + new + lines[edit.range.start.line][edit.range.end.col :]]
        + lines[edit.range.start.line + 1 :]
    )
    ws.set_text(path, fixed)
    assert [x.code for x in ws.diagnostics(path)] == []


def test_base_found_next_to_the_file_before_the_shipped_one(ws, tmp_path):
    """A draft R6 next to the file wins over the shipped R6; its problems show on the `extends` line."""
    write(ws, tmp_path / "R6.rules", 'ruleset R6 extends R3\n\ndefine beta "β" : ratio = 1\n', open_it=False)
    path = write(ws, tmp_path / "R7.rules", "ruleset R7 extends R6\n")
    (d,) = ws.diagnostics(path)
    assert (d.code, d.range) == ("missing-override", Range(Pos(0, 19), Pos(0, 21)))
    assert d.message == (
        f"in base version R6 ({tmp_path / 'R6.rules'}:3:8): 'beta' is already defined in version R3; "
        "write 'override' to replace it or choose another name"
    )


def test_base_with_a_syntax_error(ws, tmp_path):
    write(ws, tmp_path / "A1.rules", 'ruleset A1\n\ndefine x "x" : ratio = = 1\n', open_it=False)
    path = write(ws, tmp_path / "B1.rules", "ruleset B1 extends A1\n")
    (d,) = ws.diagnostics(path)
    assert d.code == "syntax" and d.range == Range(Pos(0, 19), Pos(0, 21))
    assert d.message.startswith(f"in base version A1 ({tmp_path / 'A1.rules'}:3:24): unexpected '='")


def test_unknown_base_lists_the_versions_in_reach(ws, tmp_path):
    path = write(ws, tmp_path / "B1.rules", "ruleset B1 extends R5\n")
    (d,) = ws.diagnostics(path)
    assert (d.code, d.message) == (
        "unknown-base",
        "version B1 extends unknown version 'R5'; the rules read define R3, R6. "
        "Give the file of version R5 too (--rules FILE or a folder), or correct the name after 'extends'",
    )


def test_hover_on_a_municipal_value_sums_or_ranges(ws):
    text = (SHIPPED / "R3.rules").read_text(encoding="utf-8")
    path = str(SHIPPED / "R3.rules")
    hover, rng = ws.hover(path, at(text, "levy_medical + levy_support", 2))
    assert rng == Range(at(text, "levy_medical + levy_support"), at(text, "levy_medical + levy_support", 12))
    session = api.Session.open()
    levies = session.evaluator(session.version("R3")).value("levy_medical", 2021)
    total, lo, hi = int(sum(levies)), int(min(levies)), int(max(levies))
    assert hover.splitlines()[-1] == (
        f"値 FY2021 (R3)（計画期間の初年度、合成サンプルデータ (synthetic sample)）: 合計 {total:,}円（62団体、"
        f"最小 {lo:,}円 ～ 最大 {hi:,}円）"
    )
    hover, _ = ws.hover(path, at(text, 'achieved "', 1))
    assert hover.splitlines()[-1].startswith("値 FY2021 (R3)（計画期間の初年度、合成サンプルデータ (synthetic sample)）: true ")


def test_hover_value_waits_for_the_rules_it_needs(ws, tmp_path):
    """An error in the item hovered (or anything below it) stops the value; an error elsewhere does not."""
    text = 'ruleset Z1 extends R6\n\ndefine bad "b" : percent = collection_rate + 1\ndefine fine "f" : ratio = alpha * 2\ndefine worse "w" : percent = bad\n'
    path = write(ws, tmp_path / "Z1.rules", text)
    assert (
        ws.hover(path, at(text, 'fine "'))[0].splitlines()[-1]
        == "値 FY2024 (R6)（計画期間の初年度、合成サンプルデータ (synthetic sample)）: 1.72（都全体）"
    )
    assert ws.hover(path, at(text, 'worse "'))[0].splitlines()[-1] == "値 (FY2024 (R6)): bad に誤りがあるため計算しません"


def test_hover_on_functions_units_years_and_keys(ws, tmp_path):
    text = 'ruleset Z1 extends R6\n\ndefine x "x" : yen = round(levy_total, 1円, half_up)\n  effective R7\n'
    path = write(ws, tmp_path / "Z1.rules", text)
    assert ws.hover(path, at(text, "round"))[0].startswith("**round** — 組込み関数 (built-in function)")
    assert ws.hover(path, at(text, "yen ="))[0] == "**yen** — 単位 (unit): 円"
    assert ws.hover(path, at(text, "half_up"))[0] == "**half_up** — 端数処理 (rounding mode): half_up"
    assert ws.hover(path, at(text, "R7"))[0] == "**R7** — 年度: FY2025 (R7)（令和7年度）"
    assert ws.hover(path, at(text, "effective")) is None


def test_completion_by_context(ws, tmp_path):
    text = (
        'ruleset Z1 extends R6\n  period R7-R9\n\noverride define \n\nschedule s "s" : ratio {\n  \n}\n'
        'summary {\n  total \n}\ndefine y "y" : percent = collection_rate[\n'
    )
    path = write(ws, tmp_path / "Z1.rules", text)
    labels = lambda pos: [c.label for c in ws.completions(path, pos)]  # noqa: E731
    overridable = labels(at(text, "override define ", 16))
    assert "levy_total" in overridable and "alpha" in overridable and "summary" not in overridable
    in_schedule = labels(Pos(6, 2))  # the file does not parse yet: R6's plan period, a year either side
    assert in_schedule[:4] == ["R5", "FY2023", "R6", "FY2024"] and in_schedule[-2:] == ["R12", "FY2030"]
    in_summary = labels(Pos(9, 8))
    assert "levy_total" in in_summary and "round" not in in_summary
    assert labels(Pos(11, 41))[:2] == ["R5", "FY2023"] and "year - 1" in labels(Pos(11, 41))
    assert labels(Pos(0, 19)) == ["R3", "R6", "Z1"]


def test_definition_of_a_version_id(ws, tmp_path):
    text = "ruleset Z1 extends R6\n"
    path = write(ws, tmp_path / "Z1.rules", text)
    (loc,) = ws.definitions(path, Pos(0, 20))
    assert (loc.path, loc.range) == (str(SHIPPED / "R6.rules"), Range(Pos(3, 8), Pos(3, 10)))


def test_workspace_data_folder_is_used_for_hovers(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "my-municipal.csv").write_text("x", encoding="utf-8")
    (tmp_path / "data" / "my-prefecture.csv").write_text("x", encoding="utf-8")
    assert Workspace([tmp_path]).find_data() == (str(tmp_path / "data" / "my-municipal.csv"), str(tmp_path / "data" / "my-prefecture.csv"))
    assert Workspace([tmp_path / "data" / "none"]).find_data()[0].endswith("data/sample/tokyo-municipal.csv")


def test_span_range_without_an_end_covers_the_word():
    from engine.ast import Span

    assert ide.span_range(Span("f", 2, 3), "a\n  defne x\n") == Range(Pos(1, 2), Pos(1, 7))
    assert ide.span_range(Span("f", 2, 3, 2, 8), "a\n  defne x\n") == Range(Pos(1, 2), Pos(1, 7))


def test_base_found_elsewhere_in_the_workspace(ws, tmp_path):
    """A base version in another folder of the workspace is found (not open, not next to the file, not shipped)."""
    (tmp_path / "rules" / "mine").mkdir(parents=True)
    write(ws, tmp_path / "rules" / "mine" / "A1.rules", 'ruleset A1\n\ninput prefecture total "合計" : yen\n', open_it=False)
    (tmp_path / "drafts").mkdir()
    text = 'ruleset B1 extends A1\n\ndefine half "半分" : yen = total / 2\n'
    path = write(ws, tmp_path / "drafts" / "B1.rules", text)
    assert ws.diagnostics(path) == []
    (loc,) = ws.definitions(path, at(text, "total /"))
    assert (loc.path, loc.range) == (str(tmp_path / "rules" / "mine" / "A1.rules"), Range(Pos(2, 17), Pos(2, 22)))
