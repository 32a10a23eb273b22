"""One training process per run directory.

``RunLock`` holds an exclusive ``flock`` on ``<run>/.lock`` while a process trains there,
with the holder's pid, host and start time written inside. A second ``nmt-train`` into the
same directory fails at once naming the holder. The kernel drops the lock when its holder
exits, however it exits, so a lock file left by a killed process is recognised as stale
(the file is there, the lock is not) and taken over.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
from pathlib import Path

LOCK_NAME = ".lock"


class RunLock:
    """An exclusive lock on a run directory (POSIX ``flock``), held until :meth:`release`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None
        self.stale_holder: str | None = None  # what the lock file said when taken over

    def acquire(self) -> str | None:
        """Take the lock; on failure return a one-line message naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read(fd) or "another process"
                os.close(fd)
                return (
                    f"run directory {self.path.parent} is in use by {holder}; wait for it to "
                    "finish (or stop it), or pick another hydra.run.dir"
                )
            try:  # the holder may have removed the file between our open and flock
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.stale_holder = _read(fd) or None
        os.ftruncate(fd, 0)
        since = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        text = f"process {os.getpid()} on {socket.gethostname()}, since {since}\n"
        os.pwrite(fd, text.encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        """Drop the lock and remove the file (a no-op when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
