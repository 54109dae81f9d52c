"""The timed training loop, its clock, eval cadence and run records."""
