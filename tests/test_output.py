"""Writing outputs: every failure of the system is our error (exit 2, `unwritable`), temporary names fit the file
system, the folder is synced after the rename, devices are written in place, and Ctrl-C at any moment exits 130 with
one line, leaving --out either as it was or complete."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

import cli
from engine import output
from engine.output import temp_prefix, write_output
from tests.conftest import ROOT

EVAL = ["eval", "--version", "R6", "--year", "R7", "--format", "csv", "--columns", "target_rate"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["r" * 250 + ".csv", "千" * 85 + ".csv", "r.csv", "a" * 241 + "千.csv"])
def test_temporary_names_fit_the_limit(name):
    """The temporary file's name (prefix, 8 random characters, .tmp) never passes 255 bytes, however long the target's
    name, and is not cut inside a character."""
    prefix = temp_prefix(name, 255)
    assert len(os.fsencode(prefix)) + 8 + len(".tmp") <= 255
    assert prefix.startswith(".") and prefix.endswith(".") and name.startswith(prefix[1:-1])


def test_a_long_out_name_is_written(tmp_path, capsys, monkeypatch):
    """A 250-character name (its temporary name had 264: 'File name too long', exit 3) is written, and no temporary
    file is left beside it."""
    monkeypatch.chdir(tmp_path)
    name = "r" * 250 + ".csv"
    code, out, err = run(capsys, *EVAL, "--out", name)
    assert (code, out, err) == (0, "", f"wrote {name}: R6, FY2025 (R7), 62 municipalities × 1 year, 1 column\n")
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_bytes().decode("utf-8-sig").startswith("年度,団体コード,団体名,目標収納率,未定義の理由\r\n")


@pytest.mark.parametrize(
    "errno_, reason",
    [
        (errno.EACCES, "Permission denied (you may not write there; choose another folder)"),
        (errno.EROFS, "Read-only file system (the disk is read-only; choose another folder)"),
        (errno.ENOSPC, "No space left on device (the disk is full; make room or choose another disk)"),
        (errno.EDQUOT, "Disk quota exceeded (your disk quota is used up; make room or choose another disk)"),
        (errno.EIO, "Input/output error"),
    ],
)
@pytest.mark.parametrize("step", ["mkstemp", "fsync", "replace"])
def test_system_errors_while_writing(tmp_path, capsys, monkeypatch, errno_, reason, step):
    """Whichever step of the atomic write the system refuses (creating the temporary file, syncing it, renaming it):
    exit 2 with `unwritable` and the system's reason, the previous file untouched, no temporary file left."""
    target = tmp_path / "r.csv"
    target.write_text("previous", encoding="utf-8")

    def refuse(*args, **kwargs):
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr({"mkstemp": output.tempfile, "fsync": output.os, "replace": output.os}[step], step, refuse)
    code, out, err = run(capsys, *EVAL, "--out", target)
    assert (code, out, err) == (2, "", f"unwritable: cannot write {target}: {reason}\n")
    assert target.read_text(encoding="utf-8") == "previous"
    assert os.listdir(tmp_path) == ["r.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder")
def test_a_folder_without_write_permission(tmp_path, capsys):
    """A real folder we may not write in (PermissionError was exit 3)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, out, err = run(capsys, *EVAL, "--out", folder / "r.csv")
    finally:
        folder.chmod(0o755)
    assert (code, err) == (
        2,
        f"unwritable: cannot write {folder / 'r.csv'}: Permission denied (you may not write there; choose another folder)\n",
    )


def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    """fsync of the file, then the rename, then fsync of the folder (so that the rename itself is on disk)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(a, b):
        events.append("rename")
        real_replace(a, b)

    monkeypatch.setattr(output.os, "fsync", fsync)
    monkeypatch.setattr(output.os, "replace", replace)
    write_output("x", str(tmp_path / "r.csv"))
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "r.csv").read_text() == "x"


def test_a_device_is_written_in_place(capsys):
    """--out /dev/null writes to the device: renaming a temporary file over it (as root) replaced /dev/null with a
    plain file."""
    before = os.stat("/dev/null")
    code, out, err = run(capsys, *EVAL, "--out", "/dev/null")
    assert (code, out, err) == (0, "", "wrote /dev/null: R6, FY2025 (R7), 62 municipalities × 1 year, 1 column\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_stdout_on_a_full_disk(tmp_path):
    """`kokuho eval > /dev/full`: exit 2 with one line (OSError was exit 3)."""
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, str(ROOT / "cli.py"), *EVAL], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (p.returncode, p.stderr) == (
        2,
        "unwritable: cannot write the output: No space left on device (the disk is full; make room or choose another disk)\n",
    )


# ---- Ctrl-C -----------------------------------------------------------------------------------------------------


def test_ctrl_c_before_the_output(tmp_path, capsys, monkeypatch):
    """A real SIGINT while evaluating: exit 130, one line, --out left as it was."""
    from engine import api

    real = api.Session.evaluate

    def interrupted(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(api.Session, "evaluate", interrupted)
    target = tmp_path / "r.csv"
    target.write_text("previous", encoding="utf-8")
    assert run(capsys, *EVAL, "--out", target) == (130, "", "kokuho: interrupted; no output was written\n")
    assert target.read_text(encoding="utf-8") == "previous"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # main() put Python's handler back


def test_ctrl_c_while_writing(tmp_path, capsys, monkeypatch):
    """A real SIGINT in the middle of the atomic write: the write is completed, then exit 130 saying so."""
    real = output._replace_atomically

    def interrupted(*args):
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.01)  # the handler runs here: it must not raise
        real(*args)

    monkeypatch.setattr(output, "_replace_atomically", interrupted)
    target = tmp_path / "r.csv"
    code, out, err = run(capsys, *EVAL, "--out", target)
    assert (code, out, err) == (
        130,
        "",
        f"wrote {target}: R6, FY2025 (R7), 62 municipalities × 1 year, 1 column\n"
        "kokuho: interrupted after writing the output; what was written is complete\n",
    )
    assert target.read_bytes().decode("utf-8-sig").startswith("年度,団体コード,団体名,目標収納率,未定義の理由\r\n")
    assert os.listdir(tmp_path) == ["r.csv"]


def test_ctrl_c_where_python_cannot_raise(tmp_path, capsys, monkeypatch):
    """A SIGINT while a weakref callback runs: the KeyboardInterrupt there cannot reach us and Python printed it as
    "Exception ignored ... Traceback"; now nothing is printed but our one line, the command runs to its end, exit 130."""
    from engine import api

    real = api.Session.evaluate

    class Thing:
        pass

    def interrupted(self, *args, **kwargs):
        thing = Thing()
        ref = weakref.ref(thing, lambda r: (signal.raise_signal(signal.SIGINT), time.sleep(0.01)))
        del thing
        assert ref() is None
        return real(self, *args, **kwargs)

    monkeypatch.setattr(api.Session, "evaluate", interrupted)
    target = tmp_path / "r.csv"
    code, out, err = run(capsys, *EVAL, "--out", target)
    assert (code, out, err) == (
        130,
        "",
        f"wrote {target}: R6, FY2025 (R7), 62 municipalities × 1 year, 1 column\n"
        "kokuho: interrupted after writing the output; what was written is complete\n",
    )
    assert target.exists()


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.001)
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see when the process has started")
@pytest.mark.parametrize("moment", ["started", "0.05 s", "0.2 s", "0.5 s", "temporary file", "output renamed"])
def test_ctrl_c_at_any_moment(tmp_path, moment):
    """SIGINT to a real `kokuho eval --out` process at moments from its start to its exit: exit 130 and exactly one line
    on stderr (or exit 0 and nothing, if it had finished), never a traceback or a death by the signal (-2); the target
    holds the previous bytes, or the complete output. (Moments are counted from when cli.py has begun its imports: a
    SIGINT inside Python's own start-up, before any of kokuho runs, ends it as the system does.)"""
    rules = tmp_path / "rules"
    rules.mkdir()
    for v in ("R3", "R6"):
        (rules / f"{v}.rules").write_bytes((ROOT / "rules" / "tokyo" / f"{v}.rules").read_bytes())
    target = tmp_path / "out" / "r.csv"
    target.parent.mkdir()
    argv = [
        sys.executable,
        str(ROOT / "cli.py"),
        "eval",
        "--rules",
        str(rules),
        "--version",
        "R6",
        "--period",
        "R1-R11",
        "--format",
        "csv",
        "--out",
        str(target),
    ]
    subprocess.run(argv, check=True, timeout=300)
    complete = target.read_bytes()
    target.write_bytes(b"previous")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def started():  # cli.py's imports (inside its own Ctrl-C guard) have loaded the C parts of json and csv
            try:
                return p.poll() is not None or "/_json." in Path(f"/proc/{p.pid}/maps").read_text()
            except OSError:
                return True

        assert _wait_for(started)
        if moment == "temporary file":
            _wait_for(lambda: any(n.endswith(".tmp") for n in os.listdir(target.parent)) or p.poll() is not None)
        elif moment == "output renamed":
            _wait_for(lambda: target.read_bytes() != b"previous" or p.poll() is not None)
        elif moment != "started":
            time.sleep(float(moment.split()[0]))
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    lines = err.decode("utf-8").splitlines()
    wrote = [line for line in lines if line.startswith("wrote ")]  # said once the output is complete
    assert wrote in ([], [f"wrote {target}: R6, FY2019-FY2029, 62 municipalities × 11 years, 20 columns"])
    lines = [line for line in lines if line not in wrote]
    assert (p.returncode, lines) in [
        (0, []),
        (130, ["kokuho: interrupted; no output was written"]),
        (130, ["kokuho: interrupted after writing the output; what was written is complete"]),
    ]
    assert out == b""
    assert target.read_bytes() == (complete if p.returncode == 0 or "after writing" in err.decode() else b"previous")
    assert not wrote or target.read_bytes() == complete
    assert os.listdir(target.parent) == ["r.csv"]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see when the process has started")
@pytest.mark.parametrize("delay", [0.3, 0.8])
def test_ctrl_c_during_a_parallel_sweep(tmp_path, delay):
    """SIGINT to `kokuho sweep --jobs 2` (a terminal sends it to every process of the group): the workers leave it to
    the parent, which stops them; one line, exit 130 (or 0 if done), and no worker left running."""
    out = tmp_path / "sweep-out.csv"
    argv = [
        sys.executable,
        str(ROOT / "cli.py"),
        "sweep",
        "--version",
        "R6",
        "--period",
        "R6-R8",
        "--vary",
        "alpha.R7=0.50..0.80:0.005",
        "--vary",
        "alpha.R8=0.40..0.60:0.02",
        "--jobs",
        "2",
        "--format",
        "csv",
        "--out",
        str(out),
    ]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert _wait_for(lambda: p.poll() is not None or "/_json." in Path(f"/proc/{p.pid}/maps").read_text())
        time.sleep(delay)
        try:
            os.killpg(p.pid, signal.SIGINT)  # the whole group, as Ctrl-C in a terminal
        except ProcessLookupError:
            pass
        stdout, stderr = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    lines = stderr.decode().splitlines()
    # Done before the interrupt: the 'wrote' line and exit 0. Interrupted: one line and 130, after the 'wrote' line
    # when the signal came once the output was in place and announced.
    wrote = f"wrote {out}: R6, FY2024-FY2026, 672 scenarios"
    assert (p.returncode, lines) in [
        (0, [wrote]),
        (130, ["kokuho: interrupted; no output was written"]),
        (130, ["kokuho: interrupted after writing the output; what was written is complete"]),
        (130, [wrote, "kokuho: interrupted after writing the output; what was written is complete"]),
    ]
    time.sleep(0.5)
    left = [d for d in Path("/proc").iterdir() if d.name.isdigit() and _cmdline(d).find(str(out)) >= 0]
    assert left == []


def _cmdline(d: Path) -> str:
    try:
        return (d / "cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""
