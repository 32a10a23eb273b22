"""Render the README's result tables from the committed comparisons' CSVs; --check fails
when one differs (make verify). :mod:`nmt.compare.headline` describes the blocks.

    python scripts/headline.py            (rewrite the blocks of README.md)
    python scripts/headline.py --check    (make verify; CI runs it)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.compare.headline import main

if __name__ == "__main__":
    main()
