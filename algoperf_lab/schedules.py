"""Learning-rate schedules shared by submissions."""

from __future__ import annotations

import optax


def warmup_cosine(peak_learning_rate: float, step_hint: int, warmup_fraction: float) -> optax.Schedule:
  """Linear warmup over `warmup_fraction * step_hint` steps, then cosine decay to 0 at step_hint."""
  warmup_steps = int(warmup_fraction * step_hint)
  warmup = optax.linear_schedule(0.0, peak_learning_rate, transition_steps=max(warmup_steps, 1))
  decay = optax.cosine_decay_schedule(peak_learning_rate, decay_steps=max(step_hint - warmup_steps, 1))
  return optax.join_schedules([warmup, decay], boundaries=[warmup_steps])
