"""What kokuho ships: the Tokyo rule files and the synthetic sample data, wherever kokuho is installed.

In the repository (and an editable install) they are rules/tokyo and data/sample at the top of
the checkout. A wheel carries the same files inside the package, as engine/_shipped/rules/tokyo
and engine/_shipped/data/sample (pyproject.toml maps the two folders there), so an installed
kokuho finds them from any working directory. Either way `root()` is the folder holding
`rules/` and `data/`, and paths below it are shown the same way (rules/tokyo/R6.rules), so
both installs print the same bytes.
"""

from __future__ import annotations

from pathlib import Path

_ENGINE = Path(__file__).resolve().parent
DISTRIBUTION = "kokuho-rules"


def root() -> Path:
    """The folder holding the shipped `rules/` and `data/`: inside the package when installed from a
    wheel, else the top of the checkout."""
    packaged = _ENGINE / "_shipped"
    if (packaged / "rules").is_dir():
        return packaged
    return _ENGINE.parent


def rules_dir() -> Path:
    """The shipped Tokyo rule files (R3, R6)."""
    return root() / "rules" / "tokyo"


def sample_dir() -> Path:
    """The bundled synthetic Tokyo data."""
    return root() / "data" / "sample"


def package_version() -> str:
    """The installed distribution's version; 'unknown' when run from a checkout that was never installed."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
