"""File writes: atomic (a temp file in the same folder, fsync, rename), and byte-stable gzip."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nmt.errors import NMTError, WriteError


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed with no time stamp and no file name in its header: the same
    bytes in give the same bytes out (committed files stay byte-stable)."""
    return gzip.compress(data, mtime=0)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(file)`` so that readers see the old or the new file,
    never a partial one (a crash or a full disk leaves the previous file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_error(path: str | Path, size: int, error: OSError) -> NMTError:
    """One line for a write that failed (a full disk, say): the file, the space it needed,
    the space left, and that the file as it was before is intact."""
    path = Path(path)
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1e6:,.1f} MB free"
    except OSError:
        free = "free space unknown"
    reason = error.strerror or type(error).__name__
    return WriteError(
        f"{path}: not written ({reason}): it needs {size / 1e6:,.1f} MB, its disk has {free}; "
        f"the {path.name} written before (if any) is intact and no partial file is left; free "
        "space and run the command again (training: train.resume=true)"
    )


def write_or_explain(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``; a failure (no space, no permission) raises one
    :class:`WriteError` line instead of a traceback."""
    try:
        return atomic_write(path, lambda f: f.write(data))
    except OSError as e:
        raise write_error(path, len(data), e) from None
