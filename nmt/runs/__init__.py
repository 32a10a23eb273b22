"""The run directory and what it holds: layout, typed records, checkpoints, the lock and the log."""
