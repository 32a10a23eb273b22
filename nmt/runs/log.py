"""Everything a training prints, also in its run directory's ``train.log``.

:func:`tee_output` copies what is written to stdout and stderr into the log file, line by
line. A progress bar redraws its line with carriage returns; only the line's final state
is logged, so the log holds one line per validation, summary or finished bar, not every
redraw.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class _Tee(io.TextIOBase):
    """Write to ``stream`` and append complete lines (their last ``\\r`` segment) to ``log``."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self.stream, self.log, self._pending = stream, log, ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                line = line.rsplit("\r", 1)[-1].rstrip()
                if line:
                    self.log.write(line + "\n")
            self.log.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


@contextmanager
def tee_output(path: str | Path) -> Iterator[TextIO]:
    """Copy stdout and stderr into ``path`` (appended) while inside; yields the log file,
    for lines that belong in the log only."""
    with open(path, "a", encoding="utf-8") as log:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
        try:
            yield log
        finally:
            sys.stdout, sys.stderr = out, err
