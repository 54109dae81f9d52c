"""Linear warmup, then linear decay to zero at `step_hint` (D2Z).

Bergsma et al., *Straight to Zero: Why Linearly Decaying the Learning Rate to Zero Works Best
for LLMs* (ICLR 2025).
"""

from __future__ import annotations

import optax

from submissions.lib.schedules import base


def warmup_linear_to_zero(peak_learning_rate: float, step_hint: int,
                          warmup_fraction: float) -> optax.Schedule:
  """lr(t) = peak * (1 - (t - w) / (T - w)) after w warmup steps; 0 from step_hint on."""
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  decay = optax.linear_schedule(peak_learning_rate, 0.0,
                                transition_steps=max(step_hint - warmup_steps, 1))
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, decay)
