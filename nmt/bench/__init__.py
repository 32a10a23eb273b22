"""The speed benchmarks: training throughput, MFU, decoding speed and memory of every variant
beside its textbook PyTorch counterpart (:mod:`nmt.bench.cli`, ``scripts/bench.py``), an
in-process A/B of a step's run-time options (:mod:`nmt.bench.ab_step`) and a profile of where
a step's time goes (:mod:`nmt.bench.profile`). Every one of them times the trainer's own
update, :class:`nmt.training.step.TrainStep`."""
