"""Plot validation BLEU against training time for several runs (their validation records).
:mod:`nmt.compare.plot_curves` draws them.

Usage::

    python scripts/plot_curves.py --out curves.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.compare.plot_curves import main

if __name__ == "__main__":
    main()
