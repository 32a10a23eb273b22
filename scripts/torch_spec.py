"""Print the pip requirement for torch that suits this machine.

A machine with an NVIDIA driver gets the project's range (pip then picks the
CUDA build it knows). A machine without one gets the newest CPU-only wheel in
pip's configured ``find-links`` folders when there is one, so the install does
not download a multi-gigabyte CUDA build it cannot use. Override with
``make install TORCH_SPEC='torch==X.Y'``.

The one script that stands alone rather than over :mod:`nmt`: the Makefile runs it before
nmt (or torch) is installed, so it imports the standard library only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

RANGE = "torch>=2.3,<3"


def find_links() -> list[Path]:
    try:
        out = subprocess.run(
            ["python3", "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    dirs: list[Path] = []
    for line in out.splitlines():
        if "find-links" in line and "=" in line:
            value = line.split("=", 1)[1].strip().strip("'\"")
            dirs += [Path(p) for p in value.split()]
    return dirs


def main() -> None:
    if shutil.which("nvidia-smi"):
        print(RANGE)
        return
    versions = []
    for folder in find_links():
        for wheel in folder.glob("torch-*+cpu-*.whl"):
            m = re.match(r"torch-(\d+)\.(\d+)\.(\d+)\+cpu", wheel.name)
            if m and (2, 3) <= (int(m[1]), int(m[2])) < (3, 0):
                versions.append(tuple(int(x) for x in m.groups()))
    if versions:
        print("torch==" + ".".join(map(str, max(versions))))
    else:
        print(RANGE)


if __name__ == "__main__":
    main()
