"""`kokuho report` without a browser: defaults, the seed's side-by-side band table, the synthetic notice,
undefined values with reasons, highlighted changes, languages, determinism, no URL anywhere, usage errors."""

from __future__ import annotations

import re

import pytest

import cli


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_defaults_newest_version_its_base_and_target_period(page):
    """With no options: B = R6 (the newest), A = R3 (what R6 extends), years = R6's target-table period R6-R8."""
    assert "<strong>R3 → R6</strong>" in page
    assert "<strong>FY2024-FY2026 (R6-R8)</strong>" in page
    assert page.count('<table class="muni"') == 3 * 4  # three years, four column groups


def test_seed_side_by_side_table(page):
    """The seed's 目標収納率（現行）/（検討案） layout: R3's five bands with its FY2021 achievers exactly as the seed
    gives them (1/1, 7/9, 17/28, 10/13, 9/11), beside R6's six bands; R6's 97-99% band changed, 99-100% added."""
    table = page[page.index('id="table-rules-1"'):]
    table = table[:table.index("</table>")]
    assert "目標収納率（現行）（R3）" in table and "目標収納率（検討案）（R6）" in table
    assert "FY2021 (R3)<br>達成 / 自治体数" in table and "FY2024 (R6)<br>達成 / 自治体数" in table
    a_side = re.findall(r'<td class="a ach">([^<]*)</td>', table)
    assert a_side == ["1 / 1", "7 / 9", "17 / 28", "10 / 13", "9 / 11"]
    rows = re.findall(r"<tr class=\"(\w*)\">", table)
    assert rows == ["", "", "", "", "changed", "added"]
    assert "<td>範囲, 目標</td>" in table and "<td>追加</td>" in table


def test_b_side_achievers_match_eval_summary(page, capsys):
    """R6's FY2024 achievers per band in the report are those of `kokuho eval --version R6 --year R6 --summary`."""
    code, out, _ = run(capsys, "eval", "--version", "R6", "--year", "R6", "--summary")
    assert code == 0
    from_eval = [" ".join(line.split()[-3:]) for line in out.splitlines() if line.startswith("[")]
    table = page[page.index('id="table-rules-1"'):]
    table = table[:table.index("</table>")]
    assert re.findall(r'<td class="b ach">([^<]*)</td>', table) == from_eval
    assert len(from_eval) == 6


def test_header_names_data_files_rows_and_synthetic(page):
    """The data files with their row counts (744 = 62 municipalities x 12 years; 12 prefecture years) and the
    files' own '#' notes; the data says SYNTHETIC, so the page says so up front."""
    assert "data/sample/tokyo-municipal.csv" in page and "data/sample/tokyo-prefecture.csv" in page
    assert re.search(r'tokyo-municipal\.csv.*?<td class="num">744</td>', page, re.S)
    assert re.search(r'tokyo-prefecture\.csv.*?<td class="num">12</td>', page, re.S)
    assert "SYNTHETIC sample data - NOT real figures." in page
    assert 'id="synthetic"' in page and "合成データ（実在の数値ではありません）" in page


def test_undefined_values_listed_with_reasons(page):
    """FY2026 has no collection rate in the sample: for each of the 62 municipalities one numbered reason, with
    where it applies: achieved and meets_national_average under R3 and R6, 2 x 2 = 4 values each."""
    table = page[page.index('id="table-undefined"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr") == 1 + 62
    assert len(re.findall(r'<tr id="u\d+">', table)) == 62
    assert ("<tr id=\"u1\"><td>u1</td><td>no FY2026 collection rate for 131016 千代田区</td><td>R3, R6</td><td>FY2026 (R8)</td>"
            "<td>目標収納率の達成、全国平均以上</td><td class=\"num\">4</td></tr>") in table
    assert page.count('href="#u1"') == 2  # 千代田区's two FY2026 cells; R3's equal undefined value is not shown twice


def test_changes_highlighted_with_both_values(page):
    """御蔵島村 (133825), FY2024: a previous rate of 100.00% keeps the target at 100.00% under R3 but caps it at 99.00%
    under R6; the cell is highlighted and shows R6's value with R3's beneath."""
    table = page[page.index('id="table-muni-2024-target"'):]
    row = table[table.index('<tr data-code="133825">'):]
    row = row[:row.index("</tr>")]
    assert '<td class="num chg" data-col="target_rate" data-b="99.00" data-a="100.00">99.00%<span class="a">100.00%</span></td>' in row


def test_same_inputs_same_bytes_and_no_url(page, tmp_path):
    """A second run gives the same bytes; the page names no http(s) URL at all, not even an SVG namespace."""
    again = tmp_path / "again.html"
    assert cli.main(["report", "--out", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == page
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the five SVGs' ids do not collide
    assert page.count("<svg ") == 5


def test_print_css_a4(page):
    """The page prints on A4 with colours kept and the long municipal tables starting on a new page."""
    assert "@page { size: A4 portrait;" in page
    assert "print-color-adjust: exact" in page
    assert "body { font-family: 'IPAexGothic', 'IPAPGothic'," in page  # not HTML-escaped inside <style>


def test_english_page_keeps_rule_labels(tmp_path):
    """--lang en: the page's own text is English; labels from the rules stay as written."""
    out = tmp_path / "en.html"
    assert cli.main(["report", "--lang", "en", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert '<html lang="en">' in text
    assert "NHI operating policy: comparison report" in text and "Undefined values" in text
    assert "目標収納率（検討案）" in text and "国民健康保険運営方針 比較レポート" not in text


def test_explicit_versions_and_period(tmp_path):
    """--version R3 --base R6 --period R3-R5 compares the other way round over R3's years. R6 takes over
    from FY2024, so in R3's years it keeps R3's table: the side-by-side table says whose table each side uses
    (before issue 13, R6 had no table at all in these years and the page said 'R6 では適用なし')."""
    out = tmp_path / "back.html"
    assert cli.main(["report", "--version", "R3", "--base", "R6", "--period", "令和3～5年度", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<strong>R6 → R3</strong>" in text and "<strong>FY2021-FY2023 (R3-R5)</strong>" in text
    assert '<th class="side" colspan="2">目標収納率（現行）（R6：R3の区分表）</th>' in text
    assert "<th>目標収納率<br>～FY2023 (R5)</th>" in text
    assert "R6 では適用なし" not in text


@pytest.mark.parametrize("argv, message", [
    (["report", "--version", "R3"], "no-base: version R3 extends no version: give --base, the version to compare it with (the rules define: R6)\n"),
    (["report", "--version", "R6", "--base", "R6"], "same-version: --base and --version are both R6; a report compares two versions\n"),
    (["report", "--base", "R9"], "unknown-version: unknown version 'R9'; the rules define: R3, R6\n"),
    (["report", "--period", "R30-R31"], "year-outside-data: no data for FY2048-FY2049; the data covers FY2018-FY2029\n"),
])
def test_usage_errors(capsys, argv, message):
    """Bad options: exit 2 with one line naming the problem, nothing on stdout."""
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)
