"""REX: the reflected-exponential budgeted schedule, after a linear warmup.

Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an Improved Schedule*
(MLSys 2022): with z = (t - w) / (T - w) the fraction of the post-warmup budget spent,
  lr(t) = peak * (1 - z) / (1/2 + (1 - z) / 2),
which stays above linear decay for most of the run and reaches 0 at T = step_hint. The authors
published no code; google/init2winit's REX family quotes this as the paper's profile, while the
widely used `IvanVassi/REX_LR` (not by the authors) puts 0.1 + 0.9 (1 - z) in the denominator.
"""

from __future__ import annotations

import jax
import optax

from submissions.lib.schedules import base


def rex_multiplier(z: jax.Array) -> jax.Array:
  return (1.0 - z) / (0.5 + 0.5 * (1.0 - z))


def warmup_rex(peak_learning_rate: float, step_hint: int, warmup_fraction: float) -> optax.Schedule:
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  decay = base.shaped_decay(peak_learning_rate, step_hint - warmup_steps, rex_multiplier)
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, decay)
