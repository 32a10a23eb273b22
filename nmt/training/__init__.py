"""Training: the config schema, model and optimiser, the update step, schedule, budget, loop."""
