"""Training algorithms, one module each: baselines/, and later schedules/, lr_free/, sam/, ..."""
