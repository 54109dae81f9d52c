"""Inverse square root decay after a linear warmup (the original Transformer schedule).

Vaswani et al., *Attention Is All You Need* (NeurIPS 2017), Eq. 3, rescaled so the peak is
reached at the end of warmup: lr(t) = peak * min(t / w, sqrt(w / t)). This is Hugging Face
`transformers`' `get_inverse_sqrt_schedule(num_warmup_steps=w)` (its timescale defaults to w):
t / w during warmup, then 1 / sqrt(t / w). It does not depend on the step budget beyond
w = int(warmup_fraction * step_hint) and never reaches 0. With w = 0 the lab uses w = 1 where
transformers would take a timescale of 10,000.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from submissions.lib.schedules import base


def warmup_inverse_sqrt(peak_learning_rate: float, step_hint: int,
                        warmup_fraction: float) -> optax.Schedule:
  warmup_steps = max(base.num_warmup_steps(step_hint, warmup_fraction), 1)

  def schedule(step: jax.typing.ArrayLike) -> jax.Array:
    t = base.float_step(step)
    return peak_learning_rate * jnp.minimum(t / warmup_steps,
                                            jnp.sqrt(warmup_steps / jnp.maximum(t, 1.0)))

  return schedule
