#!/usr/bin/env python3
"""The benchmark's baseline: the R6 rules hand-written as a naive per-row Decimal loop.

    python bench/naive.py DATA_DIR [--limit N] [--json] [--out FILE.csv]

With --out, it also writes what it computed as CSV (UTF-8 with BOM: year, code, the 20
summary columns, an empty cell where a value is undefined), as a whole-process baseline
for `kokuho eval --format csv`.

NOT part of the engine. This file deliberately hard-codes the formulas and the numbers of
rules/tokyo/R6.rules (bands, the α and relief schedules) so that the benchmark has the
straightforward "one municipality at a time, Decimal arithmetic" implementation to compare
against. If R6.rules changes, this file is stale: it is only a yardstick.

Values: percents in percent units (91.23), yen as integers, None for undefined.
Decimal precision is 60 digits; results are rounded only where the rules say so, as
floor / half-up quantize.
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 60
D0, D1, D100 = Decimal(0), Decimal(1), Decimal(100)
YEARS = range(2018, 2030)
ALPHA = {
    2024: Decimal("0.86"),
    2025: Decimal("0.71"),
    2026: Decimal("0.57"),
    2027: Decimal("0.43"),
    2028: Decimal("0.29"),
    2029: Decimal("0.14"),
}
RELIEF = {2024: Decimal("1.00"), 2025: Decimal("0.80"), 2026: Decimal("0.60"), 2027: Decimal("0.40"), 2028: Decimal("0.20")}
COLUMNS = [
    "previous_rate",
    "target_rate",
    "achieved",
    "meets_national_average",
    "alpha",
    "beta",
    "levy_medical",
    "levy_support",
    "levy_care",
    "levy_total",
    "relief",
    "net_levy",
    "income_rate_medical",
    "per_capita_medical",
    "income_rate_support",
    "per_capita_support",
    "income_rate_care",
    "per_capita_care",
    "deficit",
    "deficit_status",
]
NUMERIC = [
    "collection_rate",
    "insured",
    "households",
    "income",
    "insured_40_64",
    "income_40_64",
    "medical_index",
    "deficit_transfer",
    "advance_appropriation",
]


def alpha(y):
    return D1 if y <= 2023 else ALPHA.get(y, D0)


def relief_ratio(y):
    return RELIEF.get(y, D0)


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        yield from csv.DictReader(ln for ln in f if not ln.startswith("#"))


def read(data_dir: str, limit: int | None = None):
    """rows[(code, year)] = {field: Decimal | None}; prefecture[year] = {...}; codes sorted.

    With limit, only the first `limit` codes (sorted) are read: the baseline on a subset.
    """
    path = f"{data_dir}/municipal.csv"
    keep = None
    if limit is not None:
        keep = set(sorted({r["code"] for r in _rows(path)})[:limit])
    rows = {}
    for r in _rows(path):
        code = r["code"]
        if keep is not None and code not in keep:
            continue
        row = {k: (Decimal(r[k]) if r[k] != "" else None) for k in NUMERIC}
        row["deficit_target_year"] = int(r["deficit_target_year"]) if r["deficit_target_year"] else None
        rows[(code, int(r["fiscal_year"]))] = row
    pref = {int(r["fiscal_year"]): {k: Decimal(v) for k, v in r.items() if k != "fiscal_year"} for r in _rows(f"{data_dir}/prefecture.csv")}
    codes = sorted({c for c, _ in rows})
    return codes, rows, pref


def get(rows, code, year, field):
    r = rows.get((code, year))
    return None if r is None else r[field]


def floor(x: Decimal) -> Decimal:
    return x.quantize(D1, rounding=ROUND_FLOOR)


def half_up(x: Decimal, places: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def target(prev, before, y):
    """R6's target: R3's table before FY2024 (a revision takes over from its first year), R6's for FY2024-FY2026, none after."""
    if prev is None or y > 2026:
        return None
    if y < 2024 and prev >= 97:
        return prev  # R3's last band, [97%, 100%]: maintain
    if prev < 85:
        return prev + Decimal("1.50")
    if prev < 90:
        return prev + Decimal("1.00")
    if prev < 95:
        return prev + Decimal("0.50")
    if prev < 97:
        return prev + Decimal("0.10")
    if prev < 99:
        return min(prev, before) if before is not None else prev
    return Decimal("99.00")


def levies(codes, rows, y, T, beta, a, n_field, inc_field):
    ns = [get(rows, c, y, n_field) for c in codes]
    incs = [get(rows, c, y, inc_field) for c in codes]
    if T is None or beta is None or any(v is None for v in ns + incs):
        return [None] * len(codes)
    sn, sinc = sum(ns), sum(incs)
    ws = []
    for c, n, inc in zip(codes, ns, incs):
        m = get(rows, c, y, "medical_index")
        if m is None:
            return [None] * len(codes)
        ws.append((1 + a * (m - 1)) * (beta * inc / sinc + n / sn) / (1 + beta))
    sw = sum(ws)
    return [floor(T * w / sw) for w in ws]


def evaluate_year(codes, rows, pref, y):
    """{column: [value per municipality]} for fiscal year y."""
    p = pref.get(y, {})
    nat = p.get("national_income_per_insured")
    incs = [get(rows, c, y, "income") for c in codes]
    ns = [get(rows, c, y, "insured") for c in codes]
    beta = None
    if nat is not None and None not in incs and None not in ns:
        beta = half_up(sum(incs) / sum(ns) / nat, 13)
    a = alpha(y)
    lm = levies(codes, rows, y, p.get("levy_medical"), beta, a, "insured", "income")
    lm1 = levies(codes, rows, y, p.get("levy_medical"), beta, D1, "insured", "income")
    ls = levies(codes, rows, y, p.get("levy_support"), beta, D0, "insured", "income")
    lc = levies(codes, rows, y, p.get("levy_care"), beta, D0, "insured_40_64", "income_40_64")
    out = {c: [] for c in COLUMNS}
    ratio = relief_ratio(y)
    natrate = p.get("national_collection_rate")
    for i, code in enumerate(codes):
        prev = get(rows, code, y - 1, "collection_rate")
        before = get(rows, code, y - 2, "collection_rate")
        rate = get(rows, code, y, "collection_rate")
        t = target(prev, before, y)
        out["previous_rate"].append(prev)
        out["target_rate"].append(t)
        out["achieved"].append(None if rate is None or t is None else rate >= t)
        out["meets_national_average"].append(None if rate is None or natrate is None else rate >= natrate)
        out["alpha"].append(a)
        out["beta"].append(beta)
        total = None if None in (lm[i], ls[i], lc[i]) else lm[i] + ls[i] + lc[i]
        relief = None if lm[i] is None or lm1[i] is None else floor(max(D0, lm[i] - lm1[i]) * ratio)
        out["levy_medical"].append(lm[i])
        out["levy_support"].append(ls[i])
        out["levy_care"].append(lc[i])
        out["levy_total"].append(total)
        out["relief"].append(relief)
        out["net_levy"].append(None if total is None or relief is None else total - relief)
        c = None if prev is None or prev == 0 else prev / D100
        for part, levy, nf, incf in (
            ("medical", lm[i], "insured", "income"),
            ("support", ls[i], "insured", "income"),
            ("care", lc[i], "insured_40_64", "income_40_64"),
        ):
            n = get(rows, code, y, nf)
            inc = get(rows, code, y, incf)
            if None in (levy, c, n, inc, nat) or n == 0 or inc == 0:
                out[f"income_rate_{part}"].append(None)
                out[f"per_capita_{part}"].append(None)
                continue
            b = inc / n / nat
            out[f"income_rate_{part}"].append(half_up(levy * b / (1 + b) / c / inc * D100, 2))
            out[f"per_capita_{part}"].append(half_up(levy / (1 + b) / c / n, 0))
        tr = get(rows, code, y, "deficit_transfer")
        adv = get(rows, code, y, "advance_appropriation")
        adv0 = get(rows, code, y - 1, "advance_appropriation")
        deficit = None if None in (tr, adv, adv0) else tr + max(D0, adv - adv0)
        out["deficit"].append(deficit)
        ty = get(rows, code, y, "deficit_target_year")
        if deficit is None:
            status = None
        elif deficit == 0:
            status = "none"
        elif ty is None:
            status = "no plan"
        elif y <= ty:
            status = "in plan"
        else:
            status = "overdue"
        out["deficit_status"].append(status)
    return out


def evaluate(codes, rows, pref, years=YEARS):
    return {y: evaluate_year(codes, rows, pref, y) for y in years}


def write(res, codes, path: str) -> None:
    """Every year's columns as CSV rows, values as Decimal prints them, undefined as an empty cell."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["fiscal_year", "code"] + COLUMNS)
        for y, cols in res.items():
            for i, code in enumerate(codes):
                w.writerow([y, code] + ["" if cols[c][i] is None else cols[c][i] for c in COLUMNS])


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--limit", type=int, help="only the first N municipalities (by code)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", help="write the results as CSV")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codes, rows, pref = read(args.data_dir, args.limit)
    t1 = time.perf_counter()
    res = evaluate(codes, rows, pref)
    t2 = time.perf_counter()
    if args.out:
        write(res, codes, args.out)
    result = {
        "impl": "naive",
        "n": len(codes),
        "years": len(YEARS),
        "load_s": t1 - t0,
        "eval_s": t2 - t1,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
