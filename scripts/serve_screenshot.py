"""The README's picture of ``nmt-serve``: a sentence typed in headless Chromium, a target
piece hovered, a screenshot saved (:mod:`nmt.serve.screenshot`).

    python scripts/serve_screenshot.py --text "a b c d" --out docs/serve.png RUN_DIR ...

Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium (the dev extra).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.serve.screenshot import main

if __name__ == "__main__":
    main()
