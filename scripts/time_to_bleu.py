"""Minutes of training until each run's validation BLEU first reached each threshold, and
over several runs (seeds) their mean ± sd and range; writes JSON.
:mod:`nmt.bench.time_to_bleu` describes what it reads.

    python scripts/time_to_bleu.py runs/<run> [runs/<run2> ...] --thresholds 30,35 --out t.json
    make time-to-bleu SEEDS=1,2,3 MINUTES=20      # trains the default recipe, then this
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.time_to_bleu import main

if __name__ == "__main__":
    main()
