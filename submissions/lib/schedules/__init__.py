"""Learning-rate schedules (and WSM's checkpoint merge), one small optax module each.

Every schedule is a function of the peak learning rate, the workload's `step_hint` and its own
knobs, returning an `optax.Schedule` that maps the step count to the learning rate.
"""
