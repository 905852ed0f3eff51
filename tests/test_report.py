"""`kokuho report` without a browser: defaults, the seed's side-by-side band table, the synthetic notice,
undefined values grouped by reason, highlighted changes with difference columns, the one-page summary and
its contents, -m, languages, determinism, no URL anywhere, usage errors; and at scale (400 generated
municipalities): distributions and movers instead of per-municipality tables, movers checked against the
reference evaluator."""

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
    assert page.count('<table class="muni long"') == 3 * 4  # three years, four column groups


def test_seed_side_by_side_table(page):
    """The seed's 目標収納率（現行）/（検討案） layout: R3's five bands with its FY2021 achievers exactly as the seed
    gives them (1/1, 7/9, 17/28, 10/13, 9/11), beside R6's six bands; R6's 97-99% band changed, 99-100% added."""
    table = page[page.index('id="table-rules-1"') :]
    table = table[: table.index("</table>")]
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
    table = page[page.index('id="table-rules-1"') :]
    table = table[: table.index("</table>")]
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


def test_undefined_values_grouped_by_reason(page):
    """FY2026 has no collection rate in the sample: one reason for the 62 municipalities, grouped by its template
    (the municipality left out) and listing them: achieved and meets_national_average under R3 and R6,
    62 x 2 x 2 = 248 values. Each municipality's two FY2026 cells link to it (R3's equal undefined value is not
    shown twice)."""
    table = page[page.index('id="table-undefined"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr") == 1 + 1
    assert (
        '<tr id="u1"><td>u1</td><td>〔団体〕の令和8年度の現年分収納率がありません</td><td>R3, R6</td><td>FY2026 (R8)</td>'
        '<td>目標収納率の達成、全国平均以上</td><td class="num">248</td><td class="munis">62 団体: 131016 千代田区、131024 中央区、'
    ) in table
    assert table.count("、13") == 61 and "134210 小笠原村</td></tr>" in table
    assert page.count('href="#u1"') == 62 * 2
    assert '<p id="undefined-summary">未定義の値: R3 124 件、R6 124 件（理由 1 種類） → <a href="#undefined">未定義の値</a></p>' in page


def test_changes_highlighted_with_both_values(page):
    """御蔵島村 (133825), FY2024: a previous rate of 100.00% keeps the target at 100.00% under R3 but caps it at 99.00%
    under R6; the cell is highlighted and shows R6's value with R3's beneath."""
    table = page[page.index('id="table-muni-2024-target"') :]
    row = table[table.index('<tr data-code="133825">') :]
    row = row[: row.index("</tr>")]
    assert (
        '<td class="num chg" data-col="target_rate" data-b="99.00" data-a="100.00">99.00%<span class="a">100.00%</span></td>'
        '<td class="num d">-1.00pp</td>'
    ) in row


def test_difference_columns(page):
    """千代田区 FY2024: the levy total rises with R6's lower α; the table gives B − A in yen and the change in percent
    (rounded to 2 places for display) beside R6's value. Columns that never change (the previous rate) get no
    difference column; rates get pp and no percent."""
    from fractions import Fraction

    table = page[page.index('id="table-muni-2024-levy"') :]
    table = table[: table.index("</table>")]
    head = table[: table.index("</thead>")]
    # α changes the medical part and so the total; the support and care parts never change: no difference column
    assert head.count('<th class="d">差</th>') == 2 and head.count('<th class="d">増減率</th>') == 2
    row = table[table.index('<tr data-code="131016">') :]
    row = row[: row.index("</tr>")]
    a, b = 2925868078, 2968498630
    assert round(Fraction(b - a, a) * 100, 2) == Fraction(146, 100)
    assert (
        f'<td class="num chg" data-col="levy_total" data-b="{b}" data-a="{a}">2,968,498,630円<span class="a">2,925,868,078円</span></td>'
        '<td class="num d">+42,630,552円</td><td class="num d">+1.46%</td>'
    ) in row
    target = page[page.index('id="table-muni-2024-target"') :]
    target = target[: target.index("</thead>")]
    assert target.count('<th class="d">') == 1  # target_rate's pp; previous_rate never changes


def test_summary_page_first(page):
    """Page 1: what changes (the band table, α and the relief schedule, the items R6 adds), the key figures per year,
    the first year's largest movers, the count of undefined values; then the contents."""
    overview = page[page.index('<section id="overview">') : page.index("</section>")]
    assert page.index('<section id="overview">') < page.index('<nav id="toc">') < page.index('<section id="versions">')
    assert re.findall(r"<li>(.*?)</li>", overview) == [
        "目標収納率（検討案）（FY2024-FY2026 (R6-R8)）: 変更 1 区分、追加 1 区分",
        "医療費指数反映係数α: FY2024 (R6) 1 → 0.86、FY2025 (R7) 1 → 0.71、FY2026 (R8) 1 → 0.57",
        "経過措置の割合: FY2024 (R6) — → 1.00、FY2025 (R7) — → 0.80、FY2026 (R8) — → 0.60",
        "R6 で追加: 経過措置の割合、α引下げによる納付金（医療分）の増加額、経過措置額、経過措置後の納付金",
    ]
    figures = overview[overview.index('id="table-figures"') :]
    assert (
        '<tr><th rowspan="5">FY2024 (R6)</th><td>目標収納率の達成 / 自治体数</td><td class="num">16 / 62</td>'
        '<td class="num">20 / 62</td><td class="num">+4</td></tr>'
    ) in figures
    assert '<td>目標収納率が</td><td class="span" colspan="3">上がる 0・下がる 9・変わらない 53</td>' in figures
    assert "増える 0・減る 26・変わらない 36（全体の1人当たり -456円）" in figures
    top = overview[overview.index('id="table-top-1"') :]
    first_loss = re.search(
        r'<tr data-code="(\d+)"><th rowspan="3">上位（減）</th><td class="text">([^<]*)</td><td class="num">([^<]*)</td>'
        r'<td class="num">([^<]*)</td><td class="num">([^<]*)</td>',
        top,
    )
    assert first_loss.groups() == ("133825", "133825 御蔵島村", "100.00%", "99.00%", "-1.00pp")
    assert '<tr data-code="131130"><th rowspan="3">上位（減）</th><td class="text">131130 渋谷区</td>' in overview


def test_contents_link_to_every_section(page):
    """Each entry of the contents links to an element of the page, in page order."""
    toc = page[page.index('<nav id="toc">') : page.index("</nav>")]
    targets = re.findall(r'<a href="#([^"]+)">', toc)
    assert targets == [
        "overview",
        "versions",
        "rules",
        "other-rules",
        "summary",
        "charts",
        "distribution",
        "movers",
        "municipal",
        "undefined",
        "citations",
    ]
    places = [page.index(f'id="{x}"') for x in targets]
    assert places == sorted(places)


def test_movers_and_distribution_small(page):
    """The movers of the net levy per person in FY2024: 26 municipalities pay less (渋谷区 most: 263,406円 ->
    261,002円 per person), none more; the distribution of the target's change counts 9 falls."""
    table = page[page.index('id="table-movers-2024-net-losses"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr data-code") == 10
    assert (
        '<tr data-code="131130"><td class="num">1</td><td class="text">131130</td><td class="text">渋谷区</td>'
        '<td class="num">263,406円</td><td class="num">261,002円</td><td class="num">-2,404円</td>'
    ) in table
    gains = page[page.index('id="table-movers-2024-net-gains"') :]
    assert gains[: gains.index("</table>")].count("<tr data-code") == 0
    dist = page[page.index('id="table-distribution"') :]
    dist = dist[: dist.index("</table>")]
    assert re.search(
        r'<td class="text">FY2024 \(R6\)</td><td>目標収納率の変化</td><td class="num">0</td><td class="num">9</td>'
        r'<td class="num">53</td><td class="num">0</td><td class="num">-1.00pp</td>',
        dist,
    )


def test_municipality_filter(tmp_path, capsys):
    """-m limits the per-municipality rows and the movers to the municipalities named (codes or names, repeatable,
    comma lists, Japanese commas too); the summaries still count all 62 and the page says so."""
    out = tmp_path / "m.html"
    assert cli.main(["report", "-m", "千代田区、133825", "--municipality", "八王子市", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    table = text[text.index('id="table-muni-2024-target"') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<tr data-code="(\d+)">', table) == ["131016", "132012", "133825"]
    assert "表示を限定しています（131016 千代田区、132012 八王子市、133825 御蔵島村）。" in text
    assert "全 62 団体が対象です。" in text
    assert '<td class="num">16 / 62</td><td class="num">20 / 62</td>' in text  # the totals of all 62
    movers = text[text.index('id="table-movers-2024-target-losses"') :]
    assert re.findall(r'<tr data-code="(\d+)">', movers[: movers.index("</table>")]) == ["133825", "132012"]  # 八王子市 falls too
    code, _, err = run(capsys, "report", "-m", "千代田", "--out", str(out))
    assert (code, err.splitlines()[-1]) == (2, "unknown-municipality: no municipality '千代田' in the data; did you mean '千代田区'?")


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
    """The page prints on A4 with colours kept, the summary alone on page 1, tables kept whole (a long table may
    break between rows, its header repeated) and the wide municipal tables on landscape pages."""
    assert "@page { size: A4 portrait;" in page and "@page wide { size: A4 landscape;" in page
    assert "section#overview { break-after: page;" in page and "section.municipal { page: wide;" in page
    assert "thead { display: table-header-group; }" in page and "table.long { break-inside: auto;" in page
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


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["report", "--version", "R3"],
            "no-base: version R3 extends no version: give --base, the version to compare it with (the rules define: R6)\n",
        ),
        (["report", "--version", "R6", "--base", "R6"], "same-version: --base and --version are both R6; a report compares two versions\n"),
        (["report", "--base", "R9"], "unknown-version: unknown version 'R9'; the rules define: R3, R6\n"),
        (["report", "--period", "R30-R31"], "year-outside-data: no data for FY2048-FY2049; the data covers FY2018-FY2029\n"),
    ],
)
def test_usage_errors(capsys, argv, message):
    """Bad options: exit 2 with one line naming the problem, nothing on stdout."""
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)


# ---- at scale: a generated prefecture of 400 municipalities (above FULL_TABLES_MAX) ---------------------


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    import subprocess
    import sys
    from pathlib import Path

    d = tmp_path_factory.mktemp("large")
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, str(root / "bench" / "make_prefecture.py"), "400", str(d)], check=True, capture_output=True)
    out = d / "r.html"
    args = ["--data", str(d / "municipal.csv"), "--prefecture-data", str(d / "prefecture.csv")]
    assert cli.main(["report", *args, "--out", str(out)]) == 0
    return d, args, out.read_text(encoding="utf-8")


def test_large_layout_has_no_row_per_municipality(large):
    """400 municipalities: no per-municipality table, the page says the workbook has them; no chart draws a bar or a
    label per municipality (the target and levy charts are histograms); the page stays small."""
    from engine.report import FULL_TABLES_MAX

    _, _, page = large
    assert FULL_TABLES_MAX == 300
    assert '<table class="muni' not in page and 'id="municipal-in-workbook"' in page
    assert "全団体の表は、ワークブック（kokuho report --format xlsx）の「団体別」シートにあります" in page
    assert "合成市" not in "".join(re.findall(r"<svg .*?</svg>", page, re.S))  # no municipality named in any chart
    assert "目標収納率の変化の分布（団体数）" in page and "団体別 目標収納率の変化" not in page
    assert len(page.encode("utf-8")) < 600_000
    for y in (2024, 2025, 2026):
        for key in ("target", "levy", "net"):
            for side in ("gains", "losses"):
                assert f'id="table-movers-{y}-{key}-{side}"' in page


def test_large_undefined_grouped_with_municipalities(large):
    """Undefined values are grouped by their reason's template; a group lists its municipalities (all of them up to
    100, else the first 20 and how many more)."""
    _, _, page = large
    table = page[page.index('id="table-undefined"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr id="u\d+">(.*?)</tr>', table)
    assert rows and all("〔団体〕" in r or "団体:" not in r for r in rows)
    fy2026 = next(r for r in rows if "〔団体〕の令和8年度の現年分収納率がありません" in r)
    assert "400 団体: " in fy2026 and fy2026.count("合成市") == 20 and "ほか 380 団体（全件はワークブックの「未定義の値」シート）" in fy2026


def test_large_movers_match_the_reference_evaluator(large):
    """The FY2024 movers of the target rate and of the net levy per insured person, recomputed from scratch with the
    per-row reference evaluator (engine/evaluate.py) over the reference loader's data: same municipalities, same
    order, same values."""
    from fractions import Fraction

    from engine import api
    from engine import data as data_mod
    from engine.evaluate import Evaluator
    from engine.render import format_display
    from engine.values import is_undef

    d, _, page = large
    session = api.Session.open()
    r3, r6 = session.version("R3"), session.version("R6")
    ds = data_mod.load(str(d / "municipal.csv"), str(d / "prefecture.csv"), r6.inputs())
    ea, eb = Evaluator(r3, ds), Evaluator(r6, ds)
    ms = ds.municipalities

    def table(tid):
        t = page[page.index(f'id="{tid}"') :]
        t = t[: t.index("</table>")]
        return [
            tuple(re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)) for r in re.findall(r"<tr data-code=.*?</tr>", t)
        ]

    def yen(x: Fraction) -> str:
        k = (abs(x.numerator) * 2 + x.denominator) // (2 * x.denominator)
        k = -k if x < 0 else k
        return ("+" if k > 0 else "") + format_display(k, "yen")

    ta, tb = ea.column("target_rate", 2024), eb.column("target_rate", 2024)
    deltas = [(tb[i] - ta[i], i) for i in range(len(ms)) if not is_undef(ta[i]) and not is_undef(tb[i])]
    losses = sorted((x, i) for x, i in deltas if x < 0)[:10]
    expect = [
        (str(k + 1), ms[i].code, ms[i].name, format_display(ta[i], "percent"), format_display(tb[i], "percent"), format_display(x, "pp"))
        for k, (x, i) in enumerate(losses)
    ]
    assert table("table-movers-2024-target-losses") == expect
    # the distribution's counts and nearest-rank percentiles of the same differences
    values = sorted(x for x, _ in deltas)
    k = len(values)
    ranks = [max(1, -(-p * k // 100)) for p in (0, 10, 25, 50, 75, 90, 100)]
    dist = page[page.index('id="table-distribution"') :]
    row = re.search(r'<tr><td class="text">FY2024 \(R6\)</td><td>目標収納率の変化</td>(.*?)</tr>', dist).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == [
        str(sum(x > 0 for x in values)),
        str(sum(x < 0 for x in values)),
        str(sum(x == 0 for x in values)),
        str(len(ms) - k),
    ] + [format_display(values[r - 1], "pp") if values[r - 1] <= 0 else "+" + format_display(values[r - 1], "pp") for r in ranks]

    for year, side in ((2024, "losses"), (2025, "gains")):  # no one pays more in FY2024 (relief covers it all)
        la, nb, persons = ea.column("levy_total", year), eb.column("net_levy", year), eb.column("insured", year)
        per = [
            (Fraction(nb[i] - la[i]) / persons[i], i)
            for i in range(len(ms))
            if not is_undef(persons[i]) and persons[i] and not is_undef(la[i]) and not is_undef(nb[i])
        ]
        if side == "losses":
            chosen = sorted((x, i) for x, i in per if x < 0)[:10]
        else:
            chosen = sorted(((x, i) for x, i in per if x > 0), key=lambda p: (-p[0], p[1]))[:10]
        expect = [
            (
                str(k + 1),
                ms[i].code,
                ms[i].name,
                yen(Fraction(la[i]) / persons[i]).lstrip("+"),
                yen(Fraction(nb[i]) / persons[i]).lstrip("+"),
                yen(x),
                ("+" if nb[i] > la[i] else "") + format_display(nb[i] - la[i], "yen"),
            )
            for k, (x, i) in enumerate(chosen)
        ]
        assert len(expect) == 10
        assert table(f"table-movers-{year}-net-{side}") == expect, side


def test_workbook_difference_columns_and_filter(tmp_path):
    """The workbook's 団体別 sheet: A, B, B − A and the change in percent beside each number (a ratio rounded half up
    to 6 places, shown as +0.00%); rates' differences in points with a pp format. -m limits its rows; the summary
    still covers every municipality. No cell is a formula."""
    from fractions import Fraction

    import openpyxl

    book = tmp_path / "r.xlsx"
    assert cli.main(["report", "--format", "xlsx", "-m", "千代田区,御蔵島村", "--out", str(book)]) == 0
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["集計", "団体別", "規則の比較", "未定義の値"]
    ws = wb["団体別"]
    header = [c.value for c in ws[1]]
    assert ws.max_row == 1 + 2 * 3 and ws.freeze_panes == "D2"
    i = header.index("納付金（合計） (R3)")
    assert header[i : i + 4] == ["納付金（合計） (R3)", "納付金（合計） (R6)", "納付金（合計） 差 (R6−R3)", "納付金（合計） 増減率"]
    row = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "131016" and r[0].value == "FY2024 (R6)")
    a, b = 2925868078, 2968498630
    pct = Fraction(b - a, a) * 10**6
    rounded = Fraction((pct.numerator * 2 + pct.denominator) // (2 * pct.denominator), 10**6)
    assert [c.value for c in row[i : i + 4]] == [a, b, b - a, float(rounded)]
    assert [c.number_format for c in row[i + 2 : i + 4]] == ["+#,##0;-#,##0;0", "+0.00%;-0.00%;0.00%"]
    t = header.index("目標収納率 差 (R6−R3)")
    mikura = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "133825" and r[0].value == "FY2024 (R6)")
    assert (mikura[t - 2].value, mikura[t - 1].value, mikura[t].value) == (1, 0.99, -1)
    assert mikura[t].number_format == '+0.00"pp";-0.00"pp";0.00"pp"'
    assert "目標収納率 増減率" not in header
    assert len(list(wb["未定義の値"].iter_rows(min_row=2))) == 248  # every municipality's, not only the two shown
    summary = [r for r in wb["集計"].iter_rows(min_row=2, values_only=True) if r[3] == "納付金（合計）"]
    assert [r[5] for r in summary[:1]] == [462099999906]
    assert all(c.data_type != "f" for w in wb for r in w.iter_rows() for c in r)
    again = tmp_path / "again.xlsx"
    assert cli.main(["report", "--format", "xlsx", "-m", "千代田区,御蔵島村", "--out", str(again)]) == 0
    assert again.read_bytes() == book.read_bytes()  # no clock in the file


def test_large_workbook_keeps_every_row(large):
    """At 400 municipalities the workbook keeps the full tables: 400 x 3 rows on 団体別, and on 未定義の値 as many
    rows as the page counts undefined values."""
    import openpyxl

    d, args, page = large
    book = d / "r.xlsx"
    assert cli.main(["report", *args, "--format", "xlsx", "--out", str(book)]) == 0
    wb = openpyxl.load_workbook(book, read_only=True)
    assert wb["団体別"].max_row == 1 + 400 * 3
    counts = re.search(r'<p id="undefined-summary">未定義の値: R3 ([\d,]+) 件、R6 ([\d,]+) 件', page).groups()
    assert wb["未定義の値"].max_row == 1 + sum(int(x.replace(",", "")) for x in counts)
