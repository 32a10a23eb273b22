"""Both translation engines side by side on one Transformer checkpoint (the PyTorch search in
fp32 and bf16, CTranslate2 in float32, int8_float32 and int8): sentences/s greedy and beam 5,
BLEU, identical outputs, peak memory. :mod:`nmt.bench.engines` describes how.

    python scripts/bench_engines.py CKPT --src test.de --ref test.en --out engines.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.engines import main

if __name__ == "__main__":
    main()
