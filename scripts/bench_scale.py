"""A corpus of WMT14's size on this machine: preparation time and bytes a token, peak
memory against Multi30k (and two DDP ranks), training speed from the prepared files
against the in-memory path, start-up. :mod:`nmt.bench.scale` describes each measurement.

    python scripts/bench_scale.py --out docs/results/scale/scale.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.scale import main

if __name__ == "__main__":
    main()
