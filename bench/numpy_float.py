#!/usr/bin/env python3
"""The benchmark's fast-but-inexact limit: the R6 rules as plain numpy float64 array code.

    python bench/numpy_float.py DATA_DIR [--json] [--out FILE.csv]

NOT part of the engine, and NOT exact: like bench/naive.py it hard-codes the formulas and
numbers of rules/tokyo/R6.rules, here as whole-column float64 operations with NaN for
missing values, floor(x) and floor(x + 0.5) for the rules' roundings. It is what a
vectorised float engine (OpenFisca-style) would do, and the speed the exact fast path
is measured against. bench/run.py also counts the cells where it differs from the exact
result.

Data are read as a plain numpy script reads them: Python's csv module, then one text array
per column converted with astype (NaN where empty) and scattered into one array per (field, year). With --out, the results are written as CSV
with csv.writer (year, code, the 20 summary columns, repr of each float, an empty cell for
NaN): the whole-process baseline for `kokuho eval --format csv`.
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

YEARS = range(2018, 2030)
ALPHA = {2024: 0.86, 2025: 0.71, 2026: 0.57, 2027: 0.43, 2028: 0.29, 2029: 0.14}
RELIEF = {2024: 1.00, 2025: 0.80, 2026: 0.60, 2027: 0.40, 2028: 0.20}
PREFECTURE_NAMES = {"levy_medical": "total_medical", "levy_support": "total_support", "levy_care": "total_care"}
FIELDS = [
    "collection_rate",
    "insured",
    "income",
    "insured_40_64",
    "income_40_64",
    "medical_index",
    "deficit_transfer",
    "advance_appropriation",
    "deficit_target_year",
]


def _rows(path: str):
    with open(path, encoding="utf-8-sig", newline="") as f:
        yield from csv.reader(line for line in f if not line.startswith("#"))


def load(data_dir: str, dtype=np.float64):
    """{field: {year: float array (NaN = missing)}}, {field: {year: float}}, n, codes, in code order.

    As a numpy script reads a CSV: the csv module's rows turned into one text array per column, then
    converted and scattered by year with whole-array operations (no Python work per cell)."""
    rows = _rows(f"{data_dir}/municipal.csv")
    header = next(rows)
    at = {h: i for i, h in enumerate(header)}
    columns = list(zip(*rows))
    years = np.array(columns[at["fiscal_year"]]).astype(np.int64)
    order, where = np.unique(np.array(columns[at["code"]]), return_inverse=True)
    n = len(order)
    cols: dict = {f: {} for f in FIELDS}
    by_year = {int(y): years == y for y in np.unique(years)}
    for f in FIELDS:
        text = np.array(columns[at[f]])
        text[text == ""] = "nan"
        values = text.astype(dtype)
        for y, mask in by_year.items():
            a = np.full(n, np.nan, dtype=dtype)
            a[where[mask]] = values[mask]
            cols[f][y] = a
    order = order.tolist()
    prows = _rows(f"{data_dir}/prefecture.csv")
    pheader = next(prows)
    pref: dict = {}
    for r in prows:
        y = int(r[0])
        for h, cell in zip(pheader[1:], r[1:]):
            name = PREFECTURE_NAMES.get(h, h)
            if cell:
                pref.setdefault(name, {})[y] = dtype(float(cell))
    return cols, pref, n, order


def col(cols, f, y, n):
    c = cols[f].get(y)
    if c is None:
        dtype = next(iter(next(iter(cols.values())).values())).dtype
        return np.full(n, np.nan, dtype=dtype)
    return c


def levy(T, beta, a, m, n, inc):
    w = (1 + a * (m - 1)) * (beta * inc / inc.sum() + n / n.sum()) / (1 + beta)
    return np.floor(T * w / w.sum())


def half_up(x, places):
    k = 10.0**places
    return np.floor(x * k + 0.5) / k


def evaluate_year(cols, pref, n, y):
    out = {}
    prev = col(cols, "collection_rate", y - 1, n)
    before = col(cols, "collection_rate", y - 2, n)
    rate = col(cols, "collection_rate", y, n)
    if y <= 2026:  # R3's table before FY2024 (a revision takes over from its first year), R6's for FY2024-FY2026, none after
        top = np.where(np.isnan(before), prev, np.fmin(prev, before)) if y >= 2024 else prev
        t = np.select(
            [prev < 85, prev < 90, prev < 95, prev < 97, (prev < 99) | (y < 2024)],
            [prev + 1.5, prev + 1.0, prev + 0.5, prev + 0.1, top],
            99.0,
        )
        t[np.isnan(prev)] = np.nan
    else:
        t = np.full(n, np.nan, dtype=prev.dtype)
    out["previous_rate"] = prev
    out["target_rate"] = t
    out["achieved"] = np.where(np.isnan(rate) | np.isnan(t), np.nan, rate >= t)
    natrate = pref["national_collection_rate"].get(y, np.nan)
    out["meets_national_average"] = np.where(np.isnan(rate), np.nan, rate >= natrate)
    nat = pref["national_income_per_insured"][y]
    inc, ins = col(cols, "income", y, n), col(cols, "insured", y, n)
    inc2, ins2 = col(cols, "income_40_64", y, n), col(cols, "insured_40_64", y, n)
    m = col(cols, "medical_index", y, n)
    beta = half_up(np.asarray(inc.sum() / ins.sum() / nat), 13)
    a = 1.0 if y <= 2023 else ALPHA.get(y, 0.0)
    lm = levy(pref["total_medical"][y], beta, a, m, ins, inc)
    lm1 = levy(pref["total_medical"][y], beta, 1.0, m, ins, inc)
    ls = levy(pref["total_support"][y], beta, 0.0, m, ins, inc)
    lc = levy(pref["total_care"][y], beta, 0.0, m, ins2, inc2)
    total = lm + ls + lc
    relief = np.floor(np.maximum(0.0, lm - lm1) * RELIEF.get(y, 0.0))
    out.update(alpha=a, beta=beta, levy_medical=lm, levy_support=ls, levy_care=lc, levy_total=total, relief=relief, net_levy=total - relief)
    c = np.where(prev == 0, np.nan, prev / 100.0)
    for part, lv, nn, ii in (("medical", lm, ins, inc), ("support", ls, ins, inc), ("care", lc, ins2, inc2)):
        b = ii / nn / nat
        out[f"income_rate_{part}"] = half_up(lv * b / (1 + b) / c / ii * 100.0, 2)
        out[f"per_capita_{part}"] = half_up(lv / (1 + b) / c / nn, 0)
    tr = col(cols, "deficit_transfer", y, n)
    adv, adv0 = col(cols, "advance_appropriation", y, n), col(cols, "advance_appropriation", y - 1, n)
    deficit = tr + np.maximum(0.0, adv - adv0)
    ty = col(cols, "deficit_target_year", y, n)
    out["deficit"] = deficit
    out["deficit_status"] = np.select([np.isnan(deficit), deficit == 0, np.isnan(ty), y <= ty], [-1, 0, 1, 2], 3)
    return out


def evaluate(cols, pref, n, years=YEARS):
    with np.errstate(all="ignore"):
        return {y: evaluate_year(cols, pref, n, y) for y in years}


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


def write(res, codes, path: str) -> None:
    """Every year's columns as CSV rows (repr of each float, empty for NaN), with csv.writer."""
    n = len(codes)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["fiscal_year", "code"] + COLUMNS)
        for y, out in res.items():
            cols = [np.broadcast_to(np.asarray(out[c], dtype=np.float64), (n,)).tolist() for c in COLUMNS]
            w.writerows([y, code] + ["" if v != v else v for v in vals] for code, *vals in zip(codes, *cols))


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", help="write the results as CSV")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cols, pref, n, codes = load(args.data_dir)
    t1 = time.perf_counter()
    res = evaluate(cols, pref, n)
    t2 = time.perf_counter()
    if args.out:
        write(res, codes, args.out)
    result = {
        "impl": "numpy_float",
        "n": n,
        "years": len(YEARS),
        "load_s": t1 - t0,
        "eval_s": t2 - t1,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
