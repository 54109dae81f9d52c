"""Linear warmup, then cosine decay to `final_fraction` of the peak at `step_hint`.

Loshchilov & Hutter, *SGDR* (ICLR 2017), Eq. 5 without restarts; the usual LLM recipe decays
to 10% of the peak (`final_fraction=0.1`), the AlgoPerf baselines to 0.
"""

from __future__ import annotations

import optax

from submissions.lib.schedules import base


def warmup_cosine(peak_learning_rate: float, step_hint: int, warmup_fraction: float,
                  final_fraction: float = 0.0) -> optax.Schedule:
  """lr(t) = peak * (f + (1 - f) * (1 + cos(pi * (t - w) / (T - w))) / 2) after w warmup steps."""
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  decay = optax.cosine_decay_schedule(peak_learning_rate,
                                      decay_steps=max(step_hint - warmup_steps, 1),
                                      alpha=final_fraction)
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, decay)
