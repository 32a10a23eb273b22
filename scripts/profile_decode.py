"""Where the PyTorch search's milliseconds go, one sentence a batch and a full buffer a
batch (:mod:`nmt.bench.decode_profile`).

    python scripts/profile_decode.py CKPT --src test.de --beam 5 --out decode_profile.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.decode_profile import main

if __name__ == "__main__":
    main()
