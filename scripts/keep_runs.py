"""Keep finished runs' records without their weights (results, config, validation log,
hypotheses gzipped), small enough to commit, so a comparison can be rendered again in a
later session (:mod:`nmt.runs.keep`).

    python scripts/keep_runs.py runs/compare_<preset>/<sweep> --to docs/results/<preset>/runs
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.runs.keep import main

if __name__ == "__main__":
    main()
