"""Compare finished runs: one table, BLEU by source length, attention heat maps.

``nmt-compare RUN_DIR... --out DIR`` (:mod:`nmt.cli.compare`) reads each run's
results.json, config.yaml, metrics.jsonl, test hypotheses and best checkpoint,
and writes report.md, results.csv, RUN.md, PNG figures and TensorBoard logs.

- :mod:`nmt.compare.runs` -- reading run directories, the same-test-set check
- :mod:`nmt.compare.lengths` -- one set of length buckets, scores per bucket
- :mod:`nmt.compare.figures`, :mod:`nmt.compare.attention` -- the plots
- :mod:`nmt.compare.table`, :mod:`nmt.compare.report` -- the table and the report
"""

from nmt.compare.report import Comparison, compare_runs

__all__ = ["Comparison", "compare_runs"]
