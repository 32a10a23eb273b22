"""Score hypothesis files against a reference with 95% intervals and paired tests.
:mod:`nmt.compare.score_files` describes the scores.

    python scripts/score_files.py --ref data/multi30k/test_2016_flickr.en.gz \\
        seq2seq=greedy/seq2seq.txt bahdanau=greedy/bahdanau.txt --out greedy/significance
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.compare.score_files import main

if __name__ == "__main__":
    main()
