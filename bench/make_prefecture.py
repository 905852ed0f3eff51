#!/usr/bin/env python3
"""Generate a SYNTHETIC prefecture: N municipalities x FY2018-FY2029, in the format of data/sample.

    python bench/make_prefecture.py N OUT_DIR [--seed S]

Writes OUT_DIR/municipal.csv and OUT_DIR/prefecture.csv (UTF-8 with BOM, '#' comment lines
first, as data/sample). Deterministic: one seeded random.Random, integer arithmetic only.

Codes: 6-digit 団体コード with a valid JIS X 0402 check digit (engine.data.check_digit). Real
codes number about 1,900, so for N up to 100,000 the 5-digit bases are a fixed permutation
of 00000..99999 (base = (BASE_OFFSET + i * STRIDE) mod 100000, STRIDE coprime to 100000):
distinct, deterministic, every one valid. Names are 合成市000001 and so on.

Values are plausible in size, not real: insured log-uniform 300-300,000 persons; income
0.8-2.6 million yen per insured; collection rates spread over every band of the target
tables with some exactly on a boundary (85.00, 90.00, 95.00, 97.00, 99.00, 100.00) and a
few 0.00; about 0.3 % of collection rates missing; collection rates empty for FY2026-FY2029
(future years, as in the sample); prefecture levy totals about 132,000 yen per insured.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import check_digit  # noqa: E402

YEARS = list(range(2018, 2030))
RATE_YEARS = set(range(2018, 2026))  # collection rates known FY2018-FY2025
STRIDE = 7919  # prime, coprime to 100000: i -> base is a permutation
BASE_OFFSET = 13101
BOUNDARY_RATES = [8500, 9000, 9500, 9700, 9900, 10000]  # hundredths of a percent

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
PREFECTURE_COLUMNS = ["fiscal_year", "levy_medical", "levy_support", "levy_care", "national_income_per_insured", "national_collection_rate"]


def code_of(i: int) -> str:
    base = f"{(BASE_OFFSET + i * STRIDE) % 100000:05d}"
    return base + str(check_digit(base))


def rate_text(h: int) -> str:
    return f"{h // 100}.{h % 100:02d}"


def generate(n: int, out_dir: Path, seed: int = 20240401) -> tuple[Path, Path]:
    if not 1 <= n <= 100000:
        raise SystemExit("N must be 1..100000 (the 5-digit code space)")
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    munis = []
    for i in range(n):
        insured = int(300 * (1000 ** rng.random()))  # log-uniform 300..300,000
        inc_pc = rng.randrange(800_000, 2_600_000)
        rate = rng.choice([rng.randrange(7000, 10001), rng.randrange(8800, 9800), rng.randrange(9500, 10001)])
        munis.append(
            {
                "code": code_of(i),
                "name": f"合成市{i + 1:06d}",
                "insured": insured,
                "inc_pc": inc_pc,
                "rate": rate,
                "index": rng.randrange(8500, 11501),
                "deficit": rng.random() < 0.05,
                "target": rng.choice(["", "", "2025", "2027", "2030"]),
            }
        )
    munis.sort(key=lambda m: m["code"])
    total_insured = {}
    total_income = {}
    mpath = out_dir / "municipal.csv"
    with open(mpath, "w", encoding="utf-8-sig", newline="") as f:
        f.write(f"# SYNTHETIC prefecture for the benchmark (bench/make_prefecture.py {n}, seed {seed}) - NOT real figures.\n")
        f.write(",".join(MUNICIPAL_COLUMNS) + "\n")
        for y in YEARS:
            k = y - 2018
            ti = tinc = 0
            for m in munis:
                insured = max(1, m["insured"] * (1000 - 12 * k) // 1000)
                income = insured * m["inc_pc"] * (1000 + 8 * k) // 1000 + rng.randrange(0, 1000)
                i4064 = insured * 35 // 100
                inc4064 = income * 45 // 100
                ti += insured
                tinc += income
                if y in RATE_YEARS:
                    u = rng.random()
                    if u < 0.003:
                        rate = ""
                    elif u < 0.03:
                        rate = rate_text(rng.choice(BOUNDARY_RATES))
                    elif u < 0.031:
                        rate = "0.00"
                    else:
                        m["rate"] = min(10000, max(5000, m["rate"] + rng.randrange(-60, 80)))
                        rate = rate_text(m["rate"])
                else:
                    rate = ""
                index = min(13000, max(7000, m["index"] + rng.randrange(-40, 41)))
                transfer = rng.randrange(0, 50_000_000) if m["deficit"] and rng.random() < 0.7 else 0
                advance = rng.randrange(0, 80_000_000) if m["deficit"] and rng.random() < 0.3 else 0
                f.write(
                    f"{y},{m['code']},{m['name']},{rate},{insured},{insured * 65 // 100},{income},{i4064},{inc4064},"
                    f"{index // 10000}.{index % 10000:04d},{transfer},{advance},{m['target'] if m['deficit'] else ''}\n"
                )
            total_insured[y] = ti
            total_income[y] = tinc
    ppath = out_dir / "prefecture.csv"
    with open(ppath, "w", encoding="utf-8-sig", newline="") as f:
        f.write("# SYNTHETIC prefecture totals for the benchmark - NOT real figures.\n")
        f.write(",".join(PREFECTURE_COLUMNS) + "\n")
        for y in YEARS:
            k = y - 2018
            ti = total_insured[y]
            f.write(
                f"{y},{ti * (132_000 + 900 * k)},{ti * (39_000 + 400 * k)},{ti * 35 // 100 * 36_000},"
                f"{700_000 + 9_000 * k},{rate_text(9280 + 12 * k)}\n"
            )
    return mpath, ppath


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of municipalities (1..100000)")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=20240401)
    args = ap.parse_args(argv)
    m, p = generate(args.n, args.out_dir, args.seed)
    print(f"wrote {m} and {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
