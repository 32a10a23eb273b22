"""Choose each variant's learning rate (and warm-up) on validation from a tuning sweep and
write the preset's recipe files. :mod:`nmt.compare.tuning` describes what it reads and writes.

    python scripts/choose_recipe.py runs/tune_<preset>/*/ --preset <preset> --write
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.compare.tuning import main

if __name__ == "__main__":
    main()
