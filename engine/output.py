"""Writing results: atomically (temporary file, then rename), and never over one of our inputs.

Every failure of the operating system while writing (no permission, a name too long, a full disk)
is a UsageError with the code `unwritable` and the system's reason, never a crash.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

from .errors import UsageError, finding

TEMP_SUFFIX = ".tmp"
_RANDOM = 8  # the characters tempfile adds between the prefix and the suffix

# What to do about the commonest failures, after the system's own words.
_ADVICE = {
    errno.EACCES: "you may not write there; choose another folder",
    errno.EPERM: "you may not write there; choose another folder",
    errno.EROFS: "the disk is read-only; choose another folder",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter one",
    errno.ENOSPC: "the disk is full; make room or choose another disk",
    errno.EDQUOT: "your disk quota is used up; make room or choose another disk",
}


def unwritable(out: str, e: OSError) -> UsageError:
    """The error for an OSError met while writing `out` ('the output' for stdout)."""
    reason = e.strerror or type(e).__name__
    advice = _ADVICE.get(e.errno)
    return UsageError(finding("unwritable", f"cannot write {out}: {reason}" + (f" ({advice})" if advice else "")))


def write_output(content, out: str | None, *, inputs: tuple = ()) -> None:
    """Write text, bytes or an iterable of byte chunks (a large CSV, made a year at a time) to `out`,
    or to stdout when out is None or '-'.

    An interrupted run leaves the previous file intact: we write a temporary file beside
    the target and rename it into place only when it is complete (then the folder itself is
    synced, so that the rename survives a power cut). A target that is not a regular file
    (/dev/null, a named pipe) is written directly: renaming over it would replace the device.
    """
    if out is None or out == "-":
        _write_stdout(content)
        return
    target = Path(out)
    try:
        if target.is_dir():
            raise UsageError(finding("out-is-directory", f"--out {out} is a directory; give a file name"))
        resolved = target.resolve()
        for p in inputs:
            # samefile also catches a hard link or another spelling of an input's path
            if p is not None and Path(p).exists() and (Path(p).resolve() == resolved or (target.exists() and os.path.samefile(p, target))):
                raise UsageError(finding("out-is-input", f"--out {out} is one of the input files; refusing to overwrite it"))
        parent = resolved.parent
        if not parent.is_dir():
            raise UsageError(finding("no-such-directory", f"cannot write {out}: directory {target.parent} does not exist"))
        chunks = (content,) if isinstance(content, bytes) else (content.encode("utf-8"),) if isinstance(content, str) else content
        try:
            special = not stat.S_ISREG(os.stat(resolved).st_mode)
        except FileNotFoundError:
            special = False
        if special:
            with open(resolved, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
            return
        _replace_atomically(resolved, parent, chunks)
    except OSError as e:
        raise unwritable(out, e) from None


def _replace_atomically(resolved: Path, parent: Path, chunks) -> None:
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(resolved.name, _name_max(parent)), suffix=TEMP_SUFFIX, dir=parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain write would: the old file's, or 0666 less umask
        try:
            mode = os.stat(resolved).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, resolved)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_directory(parent)


def temp_prefix(name: str, name_max: int = 255) -> str:
    """'.NAME.' for the temporary file beside NAME, cut so that the whole temporary name (prefix, 8 random
    characters, '.tmp') fits the file system's limit on a name (in bytes: a Japanese character takes 3)."""
    room = name_max - 2 - _RANDOM - len(TEMP_SUFFIX)
    raw = os.fsencode(name)
    if len(raw) > room:
        cut = raw[:room]
        for end in range(len(cut), max(0, len(cut) - 4), -1):  # not in the middle of a character
            try:
                cut[:end].decode("utf-8")
            except UnicodeDecodeError:
                continue
            cut = cut[:end]
            break
        name = os.fsdecode(cut)
    return f".{name}."


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or the system does not say
        return 255


def _sync_directory(folder: Path) -> None:
    """fsync the folder, so that the rename is on disk too; where folders cannot be synced, nothing to do."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except (OSError, AttributeError):
        return
    try:
        os.fsync(fd)
    except OSError:  # EINVAL on file systems that do not sync folders: the file itself is synced already
        pass
    finally:
        os.close(fd)


def _write_stdout(content) -> None:
    if not isinstance(content, (str, bytes)):  # made whole before a byte is written: an error while making it leaves no half output
        content = b"".join(content).decode("utf-8")
    try:
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content.lstrip("\ufeff") if sys.stdout.isatty() else content)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader stopped reading (| head): the CLI ends quietly
    except OSError as e:
        raise unwritable("the output", e) from None
