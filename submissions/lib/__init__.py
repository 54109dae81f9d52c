"""The pieces bundled submissions compose: optax transformations and schedules, one module each."""
