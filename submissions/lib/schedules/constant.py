"""Linear warmup, then the peak learning rate held constant (no decay)."""

from __future__ import annotations

import optax

from submissions.lib.schedules import base


def warmup_constant(peak_learning_rate: float, step_hint: int,
                    warmup_fraction: float) -> optax.Schedule:
  """lr(t) = peak * t / w for t < w, then peak."""
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  return base.with_linear_warmup(peak_learning_rate, warmup_steps,
                                 optax.constant_schedule(peak_learning_rate))
