"""One sweep engine under tune, calibrate, set-targets and the studies: trial specs run by an
executor (local, processes, ray, slurm), with retries that know a preemption from a failure."""
