"""Writing results: atomically (temporary file, then rename), and never over one of our inputs."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import UsageError, finding


def write_output(content, out: str | None, *, inputs: tuple = ()) -> None:
    """Write text, bytes or an iterable of byte chunks (a large CSV, made a year at a time) to `out`,
    or to stdout when out is None or '-'.

    An interrupted run leaves the previous file intact: we write a temporary file beside
    the target and rename it into place only when it is complete.
    """
    if out is None or out == "-":
        if not isinstance(content, (str, bytes)):  # made whole before a byte is written: an error while making it leaves no half output
            content = b"".join(content).decode("utf-8")
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content.lstrip("\ufeff") if sys.stdout.isatty() else content)
        sys.stdout.flush()
        return
    target = Path(out)
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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
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
