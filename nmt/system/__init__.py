"""The platform a run stands on: device and precision, threads, memory allocator, DDP."""
