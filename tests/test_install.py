"""A wheel works anywhere: built from the checkout, installed into a new virtual environment, run
from a folder outside the checkout, it finds the shipped rules and sample data inside the package
and prints the same bytes as the checkout does; its parse cache goes to the user's cache folder,
never into site-packages. (.ci/run does the same with a fully fresh environment.)

Slow (a wheel build and a virtual environment, about half a minute): `pytest -m "not slow"` skips it.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow
SOURCES = ["pyproject.toml", "README.md", "cli.py", "engine", "rules", "data"]  # what the wheel is built from


def _run(argv, cwd, env, check=True):
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=600)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's kokuho, its site-packages, an environment for running it): the wheel installed with
    --no-deps; the dependencies come from this interpreter's site-packages through a .pth line."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_REQUIRE_VIRTUALENV"))}
    # Built from a copy of what the build reads: a build/ folder left in the checkout could add stale files.
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(src)], tmp, env)
    (wheel,) = (tmp / "dist").glob("kokuho_rules-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp, env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], tmp, env)
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env).stdout.decode().strip())
    ours = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (purelib / "_kokuho_test_deps.pth").write_text("\n".join(dict.fromkeys(ours)) + "\n", encoding="utf-8")
    kokuho = venv / ("Scripts/kokuho.exe" if os.name == "nt" else "bin/kokuho")
    home = tmp / "home"
    home.mkdir()
    run_env = {**env, "HOME": str(home), "KOKUHO_CONFIG": "", "XDG_CACHE_HOME": ""}
    return kokuho, purelib, run_env, home


COMMANDS = [
    ["eval", "--version", "R6", "--year", "R7"],
    ["eval", "--version", "R6", "--year", "R7", "--format", "csv", "--headers", "ja"],
    ["diff", "R3", "R6", "--year", "R7"],
    ["explain", "target_rate", "--municipality", "日の出町", "--year", "R7", "--version", "R6"],
    ["check"],
    ["test"],
    ["report", "--out", "r.html"],
    ["--version"],
]


def test_the_wheel_gives_the_checkouts_bytes_from_any_folder(installed, tmp_path):
    kokuho, purelib, env, home = installed
    here, there = tmp_path / "checkout", tmp_path / "wheel"
    here.mkdir()
    there.mkdir()
    (tmp_path / "home").mkdir()
    marker = time.time()
    time.sleep(0.05)
    for argv in COMMANDS:
        a = _run([sys.executable, str(ROOT / "cli.py"), *argv], here, {**env, "HOME": str(tmp_path / "home")}, check=False)
        b = _run([str(kokuho), *argv], there, env, check=False)
        assert (b.returncode, b.stderr.decode()) == (a.returncode, a.stderr.decode()), argv
        assert b.stdout == a.stdout, argv
        assert a.returncode == 0, (argv, a.stderr.decode())
    assert (there / "r.html").read_bytes() == (here / "r.html").read_bytes()
    # the shipped files are the package's own, and nothing was written into site-packages
    assert (purelib / "engine" / "_shipped" / "rules" / "tokyo" / "R6.rules").read_bytes() == (
        ROOT / "rules" / "tokyo" / "R6.rules"
    ).read_bytes()
    written = [p for p in purelib.rglob("*") if p.stat().st_mtime > marker]
    assert written == []
    assert sorted(p.name.split("-")[0] for p in (home / ".cache" / "kokuho-rules").iterdir()) == ["grammar", "rules", "rules"]


def test_init_and_commands_in_the_new_workspace(installed, tmp_path):
    kokuho, _, env, _ = installed
    made = _run([str(kokuho), "init", "ws"], tmp_path, env)
    assert made.stderr.decode().startswith("made the workspace ws:\n")
    ws = tmp_path / "ws"
    assert (ws / "rules" / "R6.rules").read_bytes() == (ROOT / "rules" / "tokyo" / "R6.rules").read_bytes()
    assert _run([str(kokuho), "check"], ws, env).stderr.decode() == "3 rule files checked: no findings (R3, R6, R9)\n"
    out = _run([str(kokuho), "eval", "--year", "R7", "--format", "csv", "--columns", "levy_total"], ws, env).stdout.decode("utf-8")
    assert out.splitlines()[0] == "\ufeff年度,団体コード,団体名,納付金（合計）,未定義の理由" and len(out.splitlines()) == 63
    config = _run([str(kokuho), "config"], ws / "rules", env).stdout.decode()
    assert config.splitlines()[-1].split() == ["lang", "ja", "../kokuho.toml:23"]
