"""Compare finished runs: one table, BLEU by source length, attention heat maps.

``nmt-compare RUN_DIR... --out DIR`` (:mod:`nmt.cli.compare`) reads each run's
results.json, config.yaml, metrics.jsonl, test hypotheses and best checkpoint,
and writes report.md, results.csv, RUN.md, PNG figures and TensorBoard logs.

A pipeline of three stages (:mod:`nmt.compare.pipeline`); no stage imports a later one:

1. collect -- run directories -> named, grouped runs fit to compare:
   :mod:`~nmt.compare.collect`, :mod:`~nmt.compare.rundir` (the one place that reads run
   directories), :mod:`~nmt.compare.grouping`
2. analyse -- runs -> one frozen :class:`~nmt.compare.analyse.Comparison`:
   :mod:`~nmt.compare.analyse`, :mod:`~nmt.compare.significance`,
   :mod:`~nmt.compare.output_length`, :mod:`~nmt.compare.convergence`,
   :mod:`~nmt.compare.averaging`, :mod:`~nmt.compare.attention`, :mod:`~nmt.compare.rows`
3. render -- the comparison -> files, formatting only: :mod:`~nmt.compare.render`,
   :mod:`~nmt.compare.render_markdown`, :mod:`~nmt.compare.render_significance`,
   :mod:`~nmt.compare.render_runs`, :mod:`~nmt.compare.render_tables`,
   :mod:`~nmt.compare.render_csv`, :mod:`~nmt.compare.figures`

:mod:`~nmt.compare.stats` and :mod:`~nmt.compare.lengths` are computation helpers under
all three (intervals, paired tests, length buckets).

Beside the pipeline, behind ``scripts/``: :mod:`~nmt.compare.score_files` scores hypothesis
files against a reference, :mod:`~nmt.compare.plot_curves` draws runs' validation curves.
"""

from nmt.compare.analyse import Comparison
from nmt.compare.pipeline import Compared, compare_runs

__all__ = ["Compared", "Comparison", "compare_runs"]
