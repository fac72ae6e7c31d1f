"""Flow matching: the path, t sampling, schedules and the Euler sampler with CFG (pure functions)."""
