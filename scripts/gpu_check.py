"""The prepared GPU check: every stage recorded in JSON even if a later one fails.
:mod:`nmt.bench.gpu_check` describes the stages; ``scripts/gpu_check.sh`` wraps this entry
point (from the checkout's root).

    python scripts/gpu_check.py --out DIR
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.gpu_check import main

if __name__ == "__main__":
    main()
