"""Where a training step's time goes, per variant (and, with ``--baseline``, in its textbook
PyTorch model); writes JSON and prints a table. :mod:`nmt.bench.profile` describes it; this
entry point preloads ``nmt-train``'s malloc first.

    python scripts/profile_step.py --variants transformer,bahdanau --out profile.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.profile import main
from nmt.system.allocator import preload_allocator

if __name__ == "__main__":
    preload_allocator()  # nmt-train's malloc (tcmalloc, else jemalloc): measure what it runs
    main()
