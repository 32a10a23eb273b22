"""In-process A/B of a training step's run-time options (AdamW's implementation,
``torch.compile``, precision, dropout); writes JSON. :mod:`nmt.bench.ab_step` describes it;
this entry point preloads ``nmt-train``'s malloc first.

    python scripts/ab_step.py --variant transformer --a optimizer=foreach \\
        --b optimizer=fused --out ab.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.ab_step import main
from nmt.system.allocator import preload_allocator

if __name__ == "__main__":
    preload_allocator()  # nmt-train's malloc (tcmalloc, else jemalloc): measure what it runs
    main()
