"""The speed benchmarks: training throughput, MFU, decoding speed and memory of every variant
beside its textbook PyTorch counterpart (:mod:`nmt.bench.cli`, ``scripts/bench.py``), an
in-process A/B of a step's run-time options (:mod:`nmt.bench.ab_step`) and a profile of where
a step's time goes (:mod:`nmt.bench.profile`). Every one of them times the trainer's own
update, :class:`nmt.training.step.TrainStep`.

Around them, measurements of whole ``nmt-train`` runs: two revisions' training speed side by
side (:mod:`nmt.bench.ab_train`), a run's resident memory by epoch
(:mod:`nmt.bench.train_memory`), minutes to a validation BLEU (:mod:`nmt.bench.time_to_bleu`),
and the prepared GPU check (:mod:`nmt.bench.gpu_check`). ``scripts/`` holds their entry
points."""
