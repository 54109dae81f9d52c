"""UBA, the unified budget-aware schedule of *Stepsize anything* (Tang et al., 2025), one stage.

*Stepsize anything: A unified learning rate schedule for budgeted-iteration training* (NeurIPS
2025, arXiv:2505.24452): with z = (t - w) / (T - w) the fraction of the post-warmup budget spent
and phi > 0 its shape knob,
  lr(t) = peak * 2 (1 + cos(pi z)) / (2 phi + (2 - phi) (1 + cos(pi z))).
phi = 2 is cosine decay; phi < 2 keeps the rate high for longer (phi = 1 is REX's profile
applied to the cosine); phi > 2 decays earlier. The authors published no code and the paper's
body was not readable from here (only its abstract and first page): the expression is the one an
independent public implementation writes, with the properties the paper states (1 at z = 0, 0
at z = 1, the cosine at phi = 2). tests/reference/schedules_test.py checks this module against
that expression ported separately in float64 for phi = 0.5, 1, 2 and 5; a reader with the paper
should still compare its equation. The paper also allows several stages with restarts and an
eta_min; this module implements the single-stage case with eta_min = 0, after a linear warmup.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from submissions.lib.schedules import base


def uba_shape(phi: float) -> base.Shape:
  if phi <= 0.0:
    raise ValueError(f"UBA's phi must be positive, got {phi}.")

  def shape(z: jax.Array) -> jax.Array:
    one_plus_cos = 1.0 + jnp.cos(jnp.pi * z)
    return 2.0 * one_plus_cos / (2.0 * phi + (2.0 - phi) * one_plus_cos)

  return shape


def warmup_uba(peak_learning_rate: float, step_hint: int, warmup_fraction: float,
               phi: float) -> optax.Schedule:
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  decay = base.shaped_decay(peak_learning_rate, step_hint - warmup_steps, uba_shape(phi))
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, decay)
