#!/usr/bin/env python3
"""Generate the SYNTHETIC sample data in data/sample/.

    python tools/make_sample_data.py

Writes data/sample/tokyo-municipal.csv, data/sample/tokyo-prefecture.csv and
data/sample/README.md.
Stdlib only. The output is byte-for-byte deterministic: one seeded
random.Random, fixed iteration order (sorted lists, never sets), and only
int/Decimal arithmetic for the values written.

The figures are NOT real. They are plausible in size only, and built so that
the scenarios the rules must handle are present:

* FY2020 collection-rate bands 1 / 9 / 28 / 13 / 11 municipalities and, under
  the current (R3) target rule, FY2021 achievers 1 / 7 / 17 / 10 / 9 (44 of 62),
  the pattern reported in the policy seed. Asserted at the end.
* FY2022-FY2024 rates for the R6 bands [97,99) and [99,100].
* Deficit scenarios (決算補填等目的の法定外繰入, 繰上充用金, 赤字解消目標年度).
"""

from __future__ import annotations

import csv
import random
import sys
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from pathlib import Path

SEED = 20240401
YEARS = list(range(2018, 2030))  # FY2018..FY2029
RATE_YEARS = list(range(2018, 2026))  # collection rates known FY2018..FY2025
BASE_YEAR = 2024  # sizes below are FY2024 (R6) levels

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "data" / "sample"
MUNICIPAL_CSV = OUT_DIR / "tokyo-municipal.csv"
PREFECTURE_CSV = OUT_DIR / "tokyo-prefecture.csv"
README = OUT_DIR / "README.md"

MUNICIPAL_COLUMNS = [
    "fiscal_year",
    "code",
    "name",
    "collection_rate",
    "insured",
    "households",
    "income",
    "insured_40_64",
    "income_40_64",
    "medical_index",
    "deficit_transfer",
    "advance_appropriation",
    "deficit_target_year",
]
PREFECTURE_COLUMNS = [
    "fiscal_year",
    "levy_medical",
    "levy_support",
    "levy_care",
    "national_income_per_insured",
    "national_collection_rate",
]

# ---------------------------------------------------------------------------
# Municipalities (codes and names as in shared/data/tokyo-municipalities.tsv).
# insured: FY2024 size (persons, synthetic); inc_pc: FY2024 基準総所得 per insured
# in thousand yen (synthetic); band: the FY2020 collection-rate band built in
# (0 [0,85) 1 [85,90) 2 [90,95) 3 [95,97) 4 [97,100]).
# ---------------------------------------------------------------------------
MUNICIPALITIES = [
    # code, name, kind, insured, inc_pc, band
    ("131016", "千代田区", "ward", 11000, 2500, 2),
    ("131024", "中央区", "ward", 27000, 2200, 2),
    ("131032", "港区", "ward", 41000, 2500, 2),
    ("131041", "新宿区", "ward", 78000, 1350, 0),
    ("131059", "文京区", "ward", 36000, 1750, 2),
    ("131067", "台東区", "ward", 45000, 1250, 1),
    ("131075", "墨田区", "ward", 54000, 1100, 1),
    ("131083", "江東区", "ward", 90000, 1250, 2),
    ("131091", "品川区", "ward", 72000, 1400, 2),
    ("131105", "目黒区", "ward", 49000, 1700, 2),
    ("131113", "大田区", "ward", 135000, 1200, 2),
    ("131121", "世田谷区", "ward", 190000, 1650, 2),
    ("131130", "渋谷区", "ward", 43000, 2000, 1),
    ("131148", "中野区", "ward", 68000, 1250, 1),
    ("131156", "杉並区", "ward", 113000, 1450, 2),
    ("131164", "豊島区", "ward", 63000, 1250, 1),
    ("131172", "北区", "ward", 72000, 1050, 1),
    ("131181", "荒川区", "ward", 45000, 1050, 1),
    ("131199", "板橋区", "ward", 117000, 1050, 1),
    ("131202", "練馬区", "ward", 140000, 1250, 2),
    ("131211", "足立区", "ward", 135000, 1000, 1),
    ("131229", "葛飾区", "ward", 90000, 1000, 2),
    ("131237", "江戸川区", "ward", 126000, 1050, 2),
    ("132012", "八王子市", "city", 90000, 1050, 3),
    ("132021", "立川市", "city", 30000, 1150, 2),
    ("132039", "武蔵野市", "city", 23000, 1700, 3),
    ("132047", "三鷹市", "city", 29000, 1400, 3),
    ("132055", "青梅市", "city", 23000, 1000, 3),
    ("132063", "府中市", "city", 40000, 1200, 2),
    ("132071", "昭島市", "city", 18000, 1050, 2),
    ("132080", "調布市", "city", 36000, 1350, 2),
    ("132098", "町田市", "city", 72000, 1150, 2),
    ("132101", "小金井市", "city", 19000, 1400, 2),
    ("132110", "小平市", "city", 31000, 1200, 3),
    ("132128", "日野市", "city", 30000, 1150, 3),
    ("132136", "東村山市", "city", 25000, 1050, 3),
    ("132144", "国分寺市", "city", 19000, 1400, 2),
    ("132152", "国立市", "city", 12000, 1550, 2),
    ("132187", "福生市", "city", 10000, 1000, 2),
    ("132195", "狛江市", "city", 13000, 1350, 2),
    ("132209", "東大和市", "city", 14000, 1050, 3),
    ("132217", "清瀬市", "city", 13000, 1000, 2),
    ("132225", "東久留米市", "city", 19000, 1100, 2),
    ("132233", "武蔵村山市", "city", 12000, 1000, 2),
    ("132241", "多摩市", "city", 23000, 1200, 2),
    ("132250", "稲城市", "city", 13500, 1300, 3),
    ("132276", "羽村市", "city", 9000, 1050, 3),
    ("132284", "あきる野市", "city", 13500, 1000, 3),
    ("132292", "西東京市", "city", 32000, 1200, 2),
    ("133035", "瑞穂町", "town", 6300, 1000, 3),
    ("133051", "日の出町", "town", 3200, 1050, 4),
    ("133078", "檜原村", "village", 650, 1000, 4),
    ("133086", "奥多摩町", "town", 1600, 1000, 4),
    ("133612", "大島町", "town", 2300, 1050, 3),
    ("133621", "利島村", "village", 140, 1300, 4),
    ("133639", "新島村", "village", 820, 1050, 4),
    ("133647", "神津島村", "village", 640, 1100, 4),
    ("133817", "三宅村", "village", 830, 1050, 4),
    ("133825", "御蔵島村", "village", 100, 1250, 4),
    ("134015", "八丈町", "town", 2400, 1050, 4),
    ("134023", "青ヶ島村", "village", 60, 1200, 4),
    ("134210", "小笠原村", "village", 650, 1400, 4),
]

# Collection rates are handled as int hundredths of a percent (9235 = 92.35%).
BAND_EDGES = [(0, 8500), (8500, 9000), (9000, 9500), (9500, 9700), (9700, 10000)]
BAND_LABELS = ["[0,85)", "[85,90)", "[90,95)", "[95,97)", "[97,100]"]
R3_INCREMENT = [150, 100, 50, 10, 0]  # current rule: +1.50/+1.00/+0.50/+0.10/maintain
SEED_BAND_COUNTS = [1, 9, 28, 13, 11]
SEED_ACHIEVERS = [1, 7, 17, 10, 9]  # FY2021, 44 of 62

# FY2020 rates pinned on band edges (tests of the half-open bands).
FY2020_PINNED = {
    "131130": 8500,  # 渋谷区 exactly 85.00 -> [85,90)
    "131229": 9000,  # 葛飾区 exactly 90.00 -> [90,95)
    "132276": 9500,  # 羽村市 exactly 95.00 -> [95,97)
    "134210": 9700,  # 小笠原村 exactly 97.00 -> [97,100]
    "133825": 10000,  # 御蔵島村 100.00
}
# FY2021 edge cases: an achiever exactly on its target, a miss by 0.01 pt.
FY2021_EXACT_TARGET = ["131083", "132039"]  # 江東区 (band [90,95)), 武蔵野市 ([95,97))
FY2021_MISS_BY_ONE = ["131075"]  # 墨田区 (band [85,90)), must be a non-achiever

# R6 scenarios: FY2022, FY2023, FY2024 rates (hundredths), set deliberately.
R6_SCENARIOS = {
    # FY2023 in [97,99), FY2022 higher -> R6 target = FY2023 rate (same as R3)
    "133051": ("97-99, FY2022 higher", 9840, 9785, 9810),  # 日の出町: achieves
    "133086": ("97-99, FY2022 higher", 9910, 9820, 9790),  # 奥多摩町: misses
    "133647": ("97-99, FY2022 higher", 9805, 9730, 9730),  # 神津島村: achieves (tie)
    # FY2023 in [97,99), FY2022 lower -> R6 target = FY2022 rate (easier than R3)
    "133035": ("97-99, FY2022 lower", 9650, 9700, 9680),  # 瑞穂町: R6 yes, R3 no
    "133639": ("97-99, FY2022 lower", 9760, 9845, 9800),  # 新島村: R6 yes, R3 no
    "134015": ("97-99, FY2022 lower", 9710, 9790, 9695),  # 八丈町: misses both
    # FY2023 in [97,99), FY2022 equal
    "134210": ("97-99, FY2022 equal", 9830, 9830, 9831),  # 小笠原村: achieves
    # FY2023 in [99,100] -> R6 target 99.00, R3 target = FY2023 rate
    "133078": ("99-100", 9960, 9900, 9900),  # 檜原村: both (edge 99.00)
    "133621": ("99-100", 10000, 9940, 9910),  # 利島村: R6 yes, R3 no
    "133825": ("99-100", 10000, 10000, 10000),  # 御蔵島村: both
    "134023": ("99-100", 9980, 9912, 9890),  # 青ヶ島村: misses both
}

# Deficit scenarios. transfer: (shape, per-insured yen at FY2018 size, first FY,
# last FY) or None; advance: 繰上充用金 year-end balance FY2018..FY2029 in
# million yen (a sub-million jitter is added) or None; target: 赤字解消目標年度.
DEFICITS = {
    # in plan: declining transfers, zero after the target year
    "131113": dict(note="in plan to FY2029", target=2029, transfer=("decline", 9000, 2018, 2029), advance=None),  # 大田区
    "131199": dict(note="in plan to FY2026", target=2026, transfer=("decline", 11000, 2018, 2026), advance=None),  # 板橋区
    "131211": dict(note="in plan to FY2027", target=2027, transfer=("decline", 14000, 2018, 2027), advance=None),  # 足立区
    "132012": dict(note="in plan to FY2025", target=2025, transfer=("decline", 6000, 2018, 2025), advance=None),  # 八王子市
    # overdue: transfers continue after the target year
    "131148": dict(
        note="overdue from FY2024 (target FY2023, flat)", target=2023, transfer=("flat", 8000, 2018, 2029), advance=None
    ),  # 中野区
    "132136": dict(
        note="overdue FY2023-FY2027 (target FY2022)", target=2022, transfer=("decline", 7000, 2018, 2027), advance=None
    ),  # 東村山市
    "131172": dict(
        note="in plan FY2024-25, overdue FY2026-27 (target FY2025)", target=2025, transfer=("decline", 10000, 2018, 2027), advance=None
    ),  # 北区
    "132187": dict(
        note="overdue FY2025 (target FY2024); 繰上充用金 decreasing",
        target=2024,
        transfer=("decline", 8000, 2018, 2025),
        advance=[320, 300, 270, 240, 200, 160, 110, 60, 0, 0, 0, 0],
    ),  # 福生市
    # no plan: deficit without a target year
    "131237": dict(
        note="no plan (flat transfers, no target year)", target=None, transfer=("flat", 6000, 2018, 2029), advance=None
    ),  # 江戸川区
    "132225": dict(
        note="no plan (new transfers from FY2022)", target=None, transfer=("flat", 5000, 2022, 2029), advance=None
    ),  # 東久留米市
    # resolved
    "131067": dict(
        note="resolved: transfers FY2018-2020, target FY2020", target=2020, transfer=("decline", 9000, 2018, 2020), advance=None
    ),  # 台東区
    # 繰上充用金 only
    "133612": dict(
        note="繰上充用金 rising FY2020-2025 then falling; target FY2027",
        target=2027,
        transfer=None,
        advance=[0, 0, 25, 52, 80, 104, 121, 130, 118, 90, 40, 0],
    ),  # 大島町
    "133817": dict(
        note="繰上充用金 rising from FY2022; no plan", target=None, transfer=None, advance=[0, 0, 0, 0, 8, 17, 27, 36, 46, 55, 63, 72]
    ),  # 三宅村
    "134015": dict(
        note="繰上充用金 decreasing only (no credit: deficit 0); target FY2026",
        target=2026,
        transfer=None,
        advance=[150, 135, 120, 105, 90, 75, 60, 40, 20, 0, 0, 0],
    ),  # 八丈町
}

# National average 現年分収納率 (percent). Status from shared/data/national-collection-rates.tsv.
NATIONAL_RATES = {
    2018: ("92.85", "verified"),
    2019: ("92.92", "unverified"),
    2020: ("93.69", "unverified"),
    2021: ("94.24", "unverified"),
    2022: ("94.14", "verified"),
    2023: ("94.20", "verified"),
    2024: ("94.23", "placeholder"),
    2025: ("94.26", "placeholder"),
    2026: ("94.28", "placeholder"),
    2027: ("94.30", "placeholder"),
    2028: ("94.32", "placeholder"),
    2029: ("94.34", "placeholder"),
}
# FY2024 prefecture 納付金算定基礎額 (synthetic split of about 462.1 bn yen).
LEVY_FY2024 = {"medical": 330_118_402_117, "support": 99_873_255_640, "care": 32_108_342_243}
NATIONAL_INCOME_FY2018 = 708_412

CTX = Context(prec=40, rounding=ROUND_HALF_UP)


def to_int(x: Decimal) -> int:
    """Round half up to a whole number."""
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def frac(n: int, scale: int = 10000) -> Decimal:
    return Decimal(n) / Decimal(scale)


def fmt_rate(h: int) -> str:
    return f"{h // 100}.{h % 100:02d}"


def fmt_index(t: int) -> str:
    return f"{t // 10000}.{t % 10000:04d}"


def band_of(h: int) -> int:
    for i, (lo, hi) in enumerate(BAND_EDGES):
        if lo <= h < hi or (i == len(BAND_EDGES) - 1 and lo <= h <= hi):
            return i
    raise ValueError(h)


def clamp(h: int, lo: int = 0, hi: int = 10000) -> int:
    return max(lo, min(hi, h))


def make_rates(rng: random.Random) -> dict[str, dict[int, int]]:
    """Collection rates in hundredths, per code and FY2018..FY2025."""
    rates: dict[str, dict[int, int]] = {m[0]: {} for m in MUNICIPALITIES}

    # FY2020: a rate inside the designated band.
    for code, _name, kind, _ins, _inc, band in MUNICIPALITIES:
        if code in FY2020_PINNED:
            r = FY2020_PINNED[code]
        elif band == 0:
            r = rng.randint(8200, 8480)
        elif band == 1:
            r = rng.randint(8520, 8990)
        elif band == 2:
            r = rng.randint(9000, 9250) if kind == "ward" else rng.randint(9200, 9499)
        elif band == 3:
            r = rng.randint(9500, 9699)
        else:
            r = rng.randint(9700, 10000)
        assert band_of(r) == band, (code, r, band)
        rates[code][2020] = r

    # FY2021: choose the achievers of each band deliberately (exact counts),
    # then place each rate on the right side of its R3 target.
    for band in range(5):
        members = sorted(m[0] for m in MUNICIPALITIES if m[5] == band)
        assert len(members) == SEED_BAND_COUNTS[band], (band, len(members))
        forced_miss = [c for c in FY2021_MISS_BY_ONE if c in members]
        forced_hit = [c for c in FY2021_EXACT_TARGET if c in members]
        pool = [c for c in members if c not in forced_miss and c not in forced_hit]
        achievers = set(forced_hit)
        achievers.update(rng.sample(pool, SEED_ACHIEVERS[band] - len(forced_hit)))
        for code in members:
            target = rates[code][2020] + R3_INCREMENT[band]
            if code in forced_hit:
                r = target
            elif code in forced_miss:
                r = target - 1
            elif code in achievers:
                r = min(10000, target + rng.randint(0, 80))
            else:
                r = target - rng.randint(1, 90)
            rates[code][2021] = r

    # FY2019, FY2018 backwards (rates drifted up over time); FY2022.. forwards.
    for code, *_rest in MUNICIPALITIES:
        rt = rates[code]
        rt[2019] = clamp(rt[2020] - rng.randint(-40, 70))
        rt[2018] = clamp(rt[2019] - rng.randint(-40, 70))
        rt[2022] = clamp(rt[2021] + rng.randint(-50, 40))
        rt[2023] = clamp(rt[2022] + rng.randint(-20, 50))
        rt[2024] = clamp(rt[2023] + rng.randint(-30, 60))
        rt[2025] = clamp(rt[2024] + rng.randint(-30, 60))
        if code in R6_SCENARIOS:
            _label, r22, r23, r24 = R6_SCENARIOS[code]
            rt[2022], rt[2023], rt[2024] = r22, r23, r24
            rt[2025] = clamp(r24 + rng.randint(-30, 40))
    return rates


def deficit_series(rng: random.Random, code: str, insured2018: int):
    """(deficit_transfer, advance_appropriation, target) per year."""
    spec = DEFICITS.get(code)
    transfer = {y: 0 for y in YEARS}
    advance = {y: 0 for y in YEARS}
    target = None
    if spec is None:
        return transfer, advance, target
    target = spec["target"]
    if spec["transfer"] is not None:
        shape, per_insured, first, last = spec["transfer"]
        base = Decimal(per_insured) * Decimal(insured2018)
        for y in YEARS:
            if first <= y <= last:
                if shape == "decline":
                    w = Decimal(last - y + 1) / Decimal(last - first + 1)
                else:
                    w = Decimal(1)
                jitter = 1 + frac(rng.randint(-300, 300))
                transfer[y] = to_int(base * w * jitter)
    if spec["advance"] is not None:
        for y, m in zip(YEARS, spec["advance"]):
            advance[y] = m * 1_000_000 + rng.randint(1, 999_999) if m else 0
    return transfer, advance, target


def build_municipal(rng: random.Random):
    rates = make_rates(rng)
    rows = []
    for code, name, kind, ins24, inc_pc, _band in MUNICIPALITIES:
        decline = frac(rng.randint(100, 200))  # insured falls 1-2 %/yr
        growth = frac(rng.randint(50, 200))  # income per insured +0.5-2 %/yr
        hh_ratio = rng.randint(6000, 7000)
        n4064_ratio = rng.randint(3300, 3700)
        i4064_ratio = rng.randint(4200, 4800)
        lo, hi = (8600, 11400) if kind in ("town", "village") else (8800, 11200)
        mi = rng.randint(lo, hi)
        per_year = {}
        for y in YEARS:
            k = y - BASE_YEAR
            insured = to_int(Decimal(ins24) * (1 - decline) ** k * (1 + frac(rng.randint(-30, 30))))
            pc = Decimal(inc_pc) * 1000 * (1 + growth) ** k * (1 + frac(rng.randint(-150, 150)))
            income = to_int(Decimal(insured) * pc) + rng.randint(0, 99_999)
            households = to_int(Decimal(insured) * frac(hh_ratio + rng.randint(-50, 50)))
            n4064 = to_int(Decimal(insured) * frac(n4064_ratio + rng.randint(-50, 50)))
            i4064 = to_int(Decimal(income) * frac(i4064_ratio + rng.randint(-80, 80)))
            if y > YEARS[0]:
                mi = clamp(mi + rng.randint(-60, 60), 8500, 11500)
            per_year[y] = (insured, households, income, n4064, i4064, mi)
        transfer, advance, target = deficit_series(rng, code, per_year[2018][0])
        for y in YEARS:
            insured, households, income, n4064, i4064, mi = per_year[y]
            rows.append(
                {
                    "fiscal_year": str(y),
                    "code": code,
                    "name": name,
                    "collection_rate": fmt_rate(rates[code][y]) if y in RATE_YEARS else "",
                    "insured": str(insured),
                    "households": str(households),
                    "income": str(income),
                    "insured_40_64": str(n4064),
                    "income_40_64": str(i4064),
                    "medical_index": fmt_index(mi),
                    "deficit_transfer": str(transfer[y]),
                    "advance_appropriation": str(advance[y]),
                    "deficit_target_year": str(target) if target is not None else "",
                }
            )
    rows.sort(key=lambda r: (r["fiscal_year"], r["code"]))
    return rows


def build_prefecture(rng: random.Random):
    growth = {"medical": (-100, 120), "support": (50, 250), "care": (-150, 150)}
    levy = {}
    for part, (lo, hi) in growth.items():
        series = {BASE_YEAR: Decimal(LEVY_FY2024[part])}
        for y in range(BASE_YEAR + 1, YEARS[-1] + 1):
            series[y] = series[y - 1] * (1 + frac(rng.randint(lo, hi)))
        for y in range(BASE_YEAR - 1, YEARS[0] - 1, -1):
            series[y] = series[y + 1] / (1 + frac(rng.randint(lo, hi)))
        levy[part] = {y: to_int(v) for y, v in series.items()}
    nat_income = {YEARS[0]: Decimal(NATIONAL_INCOME_FY2018)}
    for y in YEARS[1:]:
        nat_income[y] = nat_income[y - 1] * (1 + frac(rng.randint(40, 150)))
    rows = []
    for y in YEARS:
        rows.append(
            {
                "fiscal_year": str(y),
                "levy_medical": str(levy["medical"][y]),
                "levy_support": str(levy["support"][y]),
                "levy_care": str(levy["care"][y]),
                "national_income_per_insured": str(to_int(nat_income[y])),
                "national_collection_rate": NATIONAL_RATES[y][0],
            }
        )
    return rows


MUNICIPAL_HEADER = [
    "SYNTHETIC sample data - NOT real figures. Generated by tools/make_sample_data.py (seed 20240401); plausible in size only.",
    "Tokyo NHI per municipality and fiscal year FY2018-FY2029; collection_rate is empty for FY2026-FY2029 (future years unknown).",
    "Built in: FY2020 rate bands 1/9/28/13/11 and FY2021 achievers 1/7/17/10/9 (44 of 62)"
    " under the current rule as in the policy seed; see data/sample/README.md.",
    "Regenerate: python tools/make_sample_data.py",
]


def prefecture_header() -> list[str]:
    def years(status):
        return " ".join(str(y) for y, (_v, s) in NATIONAL_RATES.items() if s == status)

    return [
        "SYNTHETIC sample data - NOT real figures. Generated by tools/make_sample_data.py (seed 20240401); plausible in size only.",
        "levy_* (納付金算定基礎額) and national_income_per_insured are synthetic; FY2024 levy total about 462.1 bn yen.",
        "national_collection_rate (全国平均現年分収納率): verified in a public source for"
        f" FY {years('verified')}; unverified recollections for FY {years('unverified')};"
        f" invented placeholders for FY {years('placeholder')}.",
        "Regenerate: python tools/make_sample_data.py",
    ]


def write_csv(path: Path, comments: list[str], columns: list[str], rows: list[dict]):
    for line in comments:
        assert "," not in line and "\n" not in line, line
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        for line in comments:
            f.write(f"# {line}\n")
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def check(rows: list[dict], prefecture: list[dict]) -> dict:
    """Assert the built-in patterns from the written values; return the facts."""
    D = Decimal
    assert len(rows) == 62 * 12, len(rows)
    by = {(int(r["fiscal_year"]), r["code"]): r for r in rows}
    codes = sorted({r["code"] for r in rows})
    assert len(codes) == 62
    for r in rows:
        y = int(r["fiscal_year"])
        for c in MUNICIPAL_COLUMNS:
            if c in ("collection_rate", "deficit_target_year"):
                continue
            assert r[c] != "", (y, r["code"], c)
        if y in RATE_YEARS:
            assert D(0) <= D(r["collection_rate"]) <= D(100), r
            assert len(r["collection_rate"].split(".")[1]) == 2, r
        else:
            assert r["collection_rate"] == "", r
        assert int(r["deficit_transfer"]) >= 0 and int(r["advance_appropriation"]) >= 0

    def rate(y, c):
        return D(by[(y, c)]["collection_rate"])

    # FY2020 bands and FY2021 achievers under the current rule, exact Decimal.
    bands = [(D(0), D(85)), (D(85), D(90)), (D(90), D(95)), (D(95), D(97)), (D(97), D(100))]
    incr = [D("1.50"), D("1.00"), D("0.50"), D("0.10"), D(0)]
    counts, hits = [0] * 5, [0] * 5
    for code in codes:
        r20, r21 = rate(2020, code), rate(2021, code)
        b = next(i for i, (lo, hi) in enumerate(bands) if lo <= r20 < hi or (i == 4 and lo <= r20 <= hi))
        counts[b] += 1
        if r21 >= r20 + incr[b]:
            hits[b] += 1
    assert counts == SEED_BAND_COUNTS, counts
    assert hits == SEED_ACHIEVERS and sum(hits) == 44, hits

    # R6 scenarios: FY2024 targets for FY2023 rates of 97% or more.
    r6 = {"higher": [], "lower": [], "equal": [], "top": []}
    r6_rows = []
    for code in codes:
        r22, r23, r24 = rate(2022, code), rate(2023, code), rate(2024, code)
        if r23 < D(97):
            continue
        if r23 < D(99):
            kind = "higher" if r22 > r23 else "lower" if r22 < r23 else "equal"
            t6 = min(r22, r23)
        else:
            kind, t6 = "top", D("99.00")
        r6[kind].append(code)
        r6_rows.append((code, kind, r22, r23, r24, r23, t6, r24 >= r23, r24 >= t6))
    label_kind = {"97-99, FY2022 higher": "higher", "97-99, FY2022 lower": "lower", "97-99, FY2022 equal": "equal", "99-100": "top"}
    for code, (label, *_v) in R6_SCENARIOS.items():
        assert code in r6[label_kind[label]], (code, label)

    # Deficit statuses (domain section 6), FY2019..FY2029.
    status = {}
    for code in codes:
        for y in YEARS[1:]:
            r, prev = by[(y, code)], by[(y - 1, code)]
            rise = int(r["advance_appropriation"]) - int(prev["advance_appropriation"])
            deficit = int(r["deficit_transfer"]) + max(0, rise)
            target = int(r["deficit_target_year"]) if r["deficit_target_year"] else None
            status[(y, code)] = "none" if deficit == 0 else "no plan" if target is None else "in plan" if y <= target else "overdue"
    with_transfer = [c for c in codes if any(int(by[(y, c)]["deficit_transfer"]) > 0 for y in YEARS)]
    assert 10 <= len(with_transfer) <= 15, with_transfer
    assert sorted(DEFICITS) == sorted(
        c for c in codes if any(int(by[(y, c)]["deficit_transfer"]) > 0 or int(by[(y, c)]["advance_appropriation"]) > 0 for y in YEARS)
    )
    for s in ("none", "no plan", "in plan", "overdue"):
        assert any(status[(y, c)] == s for c in codes for y in (2024, 2025, 2026)), s

    def wavg(y):
        num = sum(rate(y, c) * int(by[(y, c)]["insured"]) for c in codes)
        den = sum(int(by[(y, c)]["insured"]) for c in codes)
        return (num / den).quantize(D("0.01"), rounding=ROUND_HALF_UP)

    for y in (2022, 2023):
        assert D(91) <= wavg(y) <= D(92), (y, wavg(y))
    ins24 = sum(int(by[(2024, c)]["insured"]) for c in codes)
    p24 = next(p for p in prefecture if p["fiscal_year"] == "2024")
    levy24 = sum(int(p24[k]) for k in ("levy_medical", "levy_support", "levy_care"))
    assert levy24 == 462_100_000_000
    return dict(
        rows=len(rows),
        prefecture_rows=len(prefecture),
        counts=counts,
        hits=hits,
        r6=r6,
        r6_rows=r6_rows,
        status=status,
        with_transfer=with_transfer,
        wavg={y: wavg(y) for y in RATE_YEARS},
        ins24=ins24,
        levy24=levy24,
        pinned=sorted(FY2020_PINNED),
    )


NAME = {m[0]: m[1] for m in MUNICIPALITIES}


def names(codes) -> str:
    return ", ".join(f"{c} {NAME[c]}" for c in codes) or "-"


def summary_lines(f: dict) -> list[str]:
    return [
        f"rows: {f['rows']} municipal, {f['prefecture_rows']} prefecture",
        f"FY2024 insured total: {f['ins24']:,}; levy total: {f['levy24']:,} yen",
        "insured-weighted mean rate: " + ", ".join(f"FY{y} {v}" for y, v in f["wavg"].items()),
        f"FY2020 bands {f['counts']}; FY2021 achievers {f['hits']} ({sum(f['hits'])} of 62)",
        f"FY2023 in [97,99), FY2022 higher: {names(f['r6']['higher'])}",
        f"FY2023 in [97,99), FY2022 lower: {names(f['r6']['lower'])}",
        f"FY2023 in [97,99), FY2022 equal: {names(f['r6']['equal'])}",
        f"FY2023 in [99,100]: {names(f['r6']['top'])}",
        f"deficit_transfer > 0 in some year: {len(f['with_transfer'])} municipalities",
    ]


README_HEAD = """\
# Sample data — SYNTHETIC

**Every figure in this directory is synthetic: generated, not real.** No
per-municipality collection rates (収納率), levies (納付金) or deficits (赤字) are
public in a form the project could obtain, so these files are invented to be
plausible in size only (about 2.5 million insured; FY2024 levy about 462.1 bn yen;
Tokyo mean collection rate about 91-92% in FY2022-FY2023) and to contain the
scenarios the rules must handle. Do not quote them as facts about any municipality.

This README is written by the generator too. Regenerate everything with

    python tools/make_sample_data.py

(stdlib only, `random.Random(20240401)`, int/Decimal arithmetic; the output is
byte-for-byte deterministic and the script asserts the patterns below).

## Files

Both are UTF-8 with BOM, comma-separated; the lines starting with `#` before the
header are comments (they say the data is synthetic).

`tokyo-municipal.csv` — one row per municipality (62) and fiscal year FY2018-FY2029,
744 rows, sorted by `fiscal_year`, `code`:

| column | Japanese | notes |
|---|---|---|
| `fiscal_year` | 年度 | 2018..2029 |
| `code` | 団体コード | 6 digits with check digit |
| `name` | 団体名 | |
| `collection_rate` | 現年分収納率 | percent, 2 decimals; **empty for FY2026-FY2029** (unknown) |
| `insured` | 被保険者数 | persons (falls about 1-2 %/yr) |
| `households` | 世帯数 | about 0.65 x insured |
| `income` | 基準総所得金額 | yen; about 1.0-2.5 m yen per insured |
| `insured_40_64` | 介護納付金賦課被保険者数 | about 35 % of insured |
| `income_40_64` | 同上の基準総所得金額 | about 45 % of income |
| `medical_index` | 年齢調整後医療費指数 | 4 decimals, 0.85-1.15 |
| `deficit_transfer` | 決算補填等目的の法定外一般会計繰入額 | yen |
| `advance_appropriation` | 繰上充用金 (年度末残高) | yen |
| `deficit_target_year` | 赤字解消目標年度 | fiscal year or empty |

FY2024-FY2029 sizes are projections (fine for synthetic data). No other cell is empty.

`tokyo-prefecture.csv` — FY2018-FY2029: `levy_medical`, `levy_support`, `levy_care`
(納付金算定基礎額 医療分 / 後期高齢者支援金等分 / 介護納付金分, yen, synthetic),
`national_income_per_insured` (全国1人当たり基準総所得, yen, synthetic),
`national_collection_rate` (全国平均現年分収納率, percent): FY2018, FY2022 and FY2023
are verified public figures, FY2019-FY2021 unverified recollections, FY2024-FY2029
invented placeholders (see `shared/data/national-collection-rates.tsv`).
"""


def write_readme(path: Path, f: dict) -> None:
    out = [README_HEAD]
    out.append("## Built-in pattern: FY2021 targets under the current rule (R3)\n")
    out.append("It mirrors the policy seed: the FY2020 rate sets the band, the FY2021 target is")
    out.append("FY2020 + 1.50 / 1.00 / 0.50 / 0.10 pt, or the FY2020 rate for [97,100]. The")
    out.append("achievers were chosen deliberately, not left to chance.\n")
    out.append("| FY2020 rate | municipalities | FY2021 achievers |")
    out.append("|---|---|---|")
    for label, n, h in zip(BAND_LABELS, f["counts"], f["hits"]):
        out.append(f"| {label} | {n} | {h} |")
    out.append(f"| total | {sum(f['counts'])} | {sum(f['hits'])} |\n")
    out.append(
        "Edge cases: FY2020 rates exactly on band edges — "
        + ", ".join(f"{NAME[c]} {fmt_rate(FY2020_PINNED[c])}" for c in f["pinned"])
        + f"; FY2021 rate exactly equal to the target (achieved): "
        f"{names(FY2021_EXACT_TARGET)}; missed by 0.01 pt: {names(FY2021_MISS_BY_ONE)}.\n"
    )
    out.append("## Built-in pattern: FY2024 targets in the R6 bands [97,99) and [99,100]\n")
    out.append("Every municipality with an FY2023 rate of 97% or more. R3 target = FY2023 rate;")
    out.append("R6 target = min(FY2022, FY2023) in [97,99), 99.00 in [99,100].\n")
    out.append("| code | name | FY2022 | FY2023 | FY2024 | case | R3 target / achieved | R6 target / achieved |")
    out.append("|---|---|---|---|---|---|---|---|")
    case = {"higher": "[97,99), FY2022 higher", "lower": "[97,99), FY2022 lower", "equal": "[97,99), FY2022 equal", "top": "[99,100]"}
    yn = {True: "yes", False: "no"}
    for code, kind, r22, r23, r24, t3, t6, a3, a6 in f["r6_rows"]:
        out.append(f"| {code} | {NAME[code]} | {r22} | {r23} | {r24} | {case[kind]} | {t3} / {yn[a3]} | {t6} / {yn[a6]} |")
    out.append("")
    out.append("## Deficit scenarios (解消・削減すべき赤字)\n")
    out.append("deficit = deficit_transfer + increase of advance_appropriation (a decrease gives no")
    out.append("credit); status per domain.md section 6 (FY2018 is undefined: no FY2017 row).")
    out.append("All other municipalities have zero transfers, no 繰上充用金 and no target year.\n")
    out.append("| code | name | target | scenario | status FY2024 / FY2025 / FY2026 |")
    out.append("|---|---|---|---|---|")
    for code in sorted(DEFICITS):
        spec = DEFICITS[code]
        st = " / ".join(f["status"][(y, code)] for y in (2024, 2025, 2026))
        out.append(f"| {code} | {NAME[code]} | {spec['target'] or '-'} | {spec['note']} | {st} |")
    out.append("")
    out.append("## Generator summary\n")
    out.extend(f"- {line}" for line in summary_lines(f))
    path.write_text("\n".join(out) + "\n", encoding="utf-8", newline="\n")


def main() -> int:
    with localcontext(CTX):
        rng = random.Random(SEED)
        rows = build_municipal(rng)
        prefecture = build_prefecture(rng)
        facts = check(rows, prefecture)
    write_csv(MUNICIPAL_CSV, MUNICIPAL_HEADER, MUNICIPAL_COLUMNS, rows)
    write_csv(PREFECTURE_CSV, prefecture_header(), PREFECTURE_COLUMNS, prefecture)
    write_readme(README, facts)
    print("wrote " + ", ".join(str(p.relative_to(REPO)) for p in (MUNICIPAL_CSV, PREFECTURE_CSV, README)))
    for line in summary_lines(facts):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
