"""Schedule-Free averaging around a base optimizer whose step size it reads from the base state.

Defazio et al. 2024, "The Road Less Scheduled" (arXiv:2405.15682), Eq. (1)–(3) with the
weights of their §3 / Alg. 1:

    y_t = (1 − β) z_t + β x_t                       (the gradient is taken at y_t)
    z_{t+1} = z_t + base_update(g_t; z_t)
    c_{t+1} = w_t / Σ_{i≤t} w_i,   w_t = (max_{i≤t} γ_i)^p
    x_{t+1} = (1 − c_{t+1}) x_t + c_{t+1} z_{t+1}

optax.contrib.schedule_free weights by a fixed learning rate or schedule; here the base is a
learning-rate-free method, so γ_t is *its* step size (Prodigy's d_t times its multiplier),
read by `step_size_fn` from the base state that produced the step. The base sees z as its
parameters (its iterate), so Prodigy's distance estimate ⟨g, z_0 − z_t⟩ is the one its paper
defines for the sequence it moves. Only y is the model's parameter; x (for evaluation) is
recovered as (y − (1 − β) z) / β, as optax does, so `optax.contrib.schedule_free_eval_params`
works on this state too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScheduleFreeState(NamedTuple):
  b1: jax.Array  # β, the interpolation between x and z (read by schedule_free_eval_params)
  weight_sum: jax.Array  # Σ w_i
  max_step_size: jax.Array  # max over steps of the base's step size γ_t
  base_optimizer_state: optax.OptState
  z: optax.Params


def schedule_free_around(base: optax.GradientTransformation,
                         step_size_fn: Callable[[optax.OptState], jax.Array], b1: float = 0.9,
                         weight_lr_power: float = 2.0) -> optax.GradientTransformationExtraArgs:
  """Schedule-Free over `base`; `step_size_fn(base_state)` is the step the base takes next."""
  if not 0.0 < b1 < 1.0:
    raise ValueError(f"schedule-free b1 must lie in (0, 1), got {b1}.")
  base = optax.with_extra_args_support(base)

  def init_fn(params: optax.Params) -> ScheduleFreeState:
    dtype = optax.tree.dtype(params, "lowest")
    return ScheduleFreeState(
        b1=jnp.asarray(b1, dtype), weight_sum=jnp.zeros([], dtype),
        max_step_size=jnp.zeros([], dtype), base_optimizer_state=base.init(params),
        z=jax.tree.map(lambda p: p.copy(), params))

  def update_fn(grads: optax.Updates, state: ScheduleFreeState,
                params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, ScheduleFreeState]:
    if params is None:
      raise ValueError("schedule_free_around needs the parameters: call update(grads, state, "
                       "params).")
    step_size = jnp.asarray(step_size_fn(state.base_optimizer_state), state.max_step_size.dtype)
    max_step_size = jnp.maximum(state.max_step_size, step_size)
    weight = max_step_size ** weight_lr_power
    weight_sum = state.weight_sum + weight
    c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1.0), 0.0)
    base_updates, base_state = base.update(grads, state.base_optimizer_state, state.z,
                                           **extra_args)
    z = jax.tree.map(lambda zi, ui: (zi + ui).astype(zi.dtype), state.z, base_updates)
    x = jax.tree.map(lambda yi, zi: (yi - (1.0 - b1) * zi) / b1, params, state.z)
    x = jax.tree.map(lambda xi, zi: (1.0 - c) * xi + c * zi, x, z)
    y = jax.tree.map(lambda xi, zi, yi: (b1 * xi + (1.0 - b1) * zi).astype(yi.dtype), x, z, params)
    updates = jax.tree.map(lambda new, old: new - old, y, params)
    return updates, ScheduleFreeState(b1=state.b1, weight_sum=weight_sum,
                                      max_step_size=max_step_size,
                                      base_optimizer_state=base_state, z=z)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
