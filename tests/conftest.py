"""Shared fixtures: the shipped rules, and small hand-made data files written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data import load
from engine.versions import RuleSet, default_rules_dir

ROOT = Path(__file__).resolve().parent.parent
MUNICIPAL_HEADER = [
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
PREFECTURE_HEADER = ["fiscal_year", "levy_medical", "levy_support", "levy_care", "national_income_per_insured", "national_collection_rate"]


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Tests write parse caches to a directory of their own, never to the user's ~/.cache."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def _no_workspace():
    """No kokuho.toml above the checkout or a scratch folder changes what tests see (KOKUHO_CONFIG=off);
    tests/test_workspace.py lifts this where it tests the search."""
    import os

    old = os.environ.get("KOKUHO_CONFIG")
    os.environ["KOKUHO_CONFIG"] = "off"
    yield
    if old is None:
        os.environ.pop("KOKUHO_CONFIG", None)
    else:
        os.environ["KOKUHO_CONFIG"] = old


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return RuleSet.from_paths([default_rules_dir()])


def write_csv(path: Path, header: list[str], rows: list[dict], *, encoding: str = "utf-8-sig") -> Path:
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join("" if r.get(h) is None else str(r.get(h)) for h in header))
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def municipal_row(year, code, name, **values) -> dict:
    """A complete row of plausible values, with the given ones replacing the defaults."""
    row = {
        "fiscal_year": year,
        "code": code,
        "name": name,
        "collection_rate": "92.00",
        "insured": 1000,
        "households": 650,
        "income": 1000000000,
        "insured_40_64": 350,
        "income_40_64": 450000000,
        "medical_index": "1.0000",
        "deficit_transfer": 0,
        "advance_appropriation": 0,
        "deficit_target_year": None,
    }
    row.update(values)
    return row


def prefecture_row(year, **values) -> dict:
    row = {
        "fiscal_year": year,
        "levy_medical": 1000000,
        "levy_support": 300000,
        "levy_care": 100000,
        "national_income_per_insured": 1000000,
        "national_collection_rate": "94.00",
    }
    row.update(values)
    return row


@pytest.fixture
def make_data(tmp_path):
    """Write municipal and prefecture rows to CSV files and load them for a version."""

    def make(version, municipal_rows, prefecture_rows):
        m = write_csv(tmp_path / "m.csv", MUNICIPAL_HEADER, municipal_rows)
        p = write_csv(tmp_path / "p.csv", PREFECTURE_HEADER, prefecture_rows)
        return load(m, p, version.inputs())

    return make
