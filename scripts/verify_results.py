"""Recompute every BLEU and chrF of committed comparisons from the hypotheses they keep;
fails on any mismatch. :mod:`nmt.compare.verify` describes what it checks.

    python scripts/verify_results.py docs/results/<comparison> [...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.compare.verify import main

if __name__ == "__main__":
    main()
