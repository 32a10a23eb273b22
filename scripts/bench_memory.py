"""Resident memory of a real training run over its epochs; writes JSON.
:mod:`nmt.bench.train_memory` describes the check.

    python scripts/bench_memory.py --out docs/results/bench/memory.json -- \\
        train.max_epochs=4 train.eval_max_sentences=200

Linux only (/proc). Everything after ``--`` goes to ``nmt-train``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.train_memory import main

if __name__ == "__main__":
    main()
