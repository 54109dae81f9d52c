"""Learning-rate-free (self-tuning) training algorithms, run with their literature defaults."""
