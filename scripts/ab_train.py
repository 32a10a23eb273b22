"""Training speed of two revisions of nmt, side by side on this machine; writes JSON.
:mod:`nmt.bench.ab_train` describes how the runs alternate.

    python scripts/ab_train.py --a 11b9f71 --b HEAD --rounds 2 --out ab.json -- \\
        train.max_steps=150 data.extra_tests=[] decode.beam=1

``--a-args`` / ``--b-args`` add overrides for one side only. Everything after ``--`` goes
to both.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.ab_train import main

if __name__ == "__main__":
    main()
