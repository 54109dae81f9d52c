"""Schedule-Free averaging (Defazio et al. 2024, "The Road Less Scheduled", arXiv:2405.15682)
around a base optimizer that moves the z sequence, as the authors' reference code computes it
(facebookresearch/schedule_free, schedulefree/adamw_schedulefree_reference.py, checked in
tests/reference/schedule_free_adamw_test.py):

    y_k = (1 − β) z_k + β x_k                       (the gradient is taken at y_k)
    z_{k+1} = z_k + base_update(g_k)                (the base scales by γ_k itself)
    c_{k+1} = w_k / Σ_{i≤k} w_i,   w_k = (k + 1)^r · (max_{i≤k} γ_i)^p
    x_{k+1} = (1 − c_{k+1}) x_k + c_{k+1} z_{k+1}

for k = 0, 1, ...; γ_k = `learning_rate(k)`, the step size the base takes at step k. Why not
optax.contrib.schedule_free: it reads its schedule at k + 1 while the base reads it at k, so
with a warmup its z step and its weight see different learning rates, and optax's own
`warmup_constant_schedule` gives a first step of learning rate 0 where the authors take
(k + 1)/warmup; it also has no polynomial weight (k + 1)^r. Only y is the model's parameter;
x (for evaluation) is recovered as (y − (1 − β) z)/β, as optax does, so
`optax.contrib.schedule_free_eval_params` works on this state too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScheduleFreeState(NamedTuple):
  b1: jax.Array  # β, the interpolation between x and z (read by schedule_free_eval_params)
  count: jax.Array  # int32, steps taken (k)
  weight_sum: jax.Array  # Σ w_i
  max_lr: jax.Array  # max over steps of γ_k
  base_optimizer_state: optax.OptState
  z: optax.Params


def warmup_learning_rate(learning_rate: float, warmup_steps: int) -> optax.Schedule:
  """The reference's warmup: γ_k = lr·(k + 1)/warmup_steps for k < warmup_steps, then lr."""
  if warmup_steps <= 0:
    return lambda count: jnp.asarray(learning_rate)
  # In the default float type: float64 under x64 (an int32 count divides to float32).
  return lambda count: learning_rate * jnp.minimum(
      (jnp.asarray(count, jnp.result_type(float)) + 1) / warmup_steps, 1.0)


def schedule_free(base: optax.GradientTransformation, learning_rate: optax.Schedule,
                  b1: float = 0.9, weight_lr_power: float = 2.0,
                  r: float = 0.0) -> optax.GradientTransformationExtraArgs:
  """Schedule-Free over `base`, whose update at step k is already scaled by `learning_rate(k)`
  (the weights read the same schedule)."""
  if not 0.0 < b1 < 1.0:
    raise ValueError(f"schedule-free b1 must lie in (0, 1), got {b1}.")
  base = optax.with_extra_args_support(base)

  def init_fn(params: optax.Params) -> ScheduleFreeState:
    dtype = optax.tree.dtype(params, "lowest")
    return ScheduleFreeState(
        b1=jnp.asarray(b1, dtype), count=jnp.zeros([], jnp.int32),
        weight_sum=jnp.zeros([], dtype), max_lr=jnp.zeros([], dtype),
        base_optimizer_state=base.init(params), z=jax.tree.map(lambda p: p.copy(), params))

  def update_fn(grads: optax.Updates, state: ScheduleFreeState,
                params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, ScheduleFreeState]:
    if params is None:
      raise ValueError("schedule_free needs the parameters: call update(grads, state, params).")
    dtype = state.max_lr.dtype
    lr = jnp.asarray(learning_rate(state.count), dtype)
    max_lr = jnp.maximum(state.max_lr, lr)
    weight = (state.count + 1).astype(dtype) ** r * max_lr ** weight_lr_power
    weight_sum = state.weight_sum + weight
    c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1.0), 0.0)
    base_updates, base_state = base.update(grads, state.base_optimizer_state, params,
                                           **extra_args)
    z = jax.tree.map(lambda zi, ui: (zi + ui).astype(zi.dtype), state.z, base_updates)
    x = jax.tree.map(lambda yi, zi: (yi - (1.0 - b1) * zi) / b1, params, state.z)
    x = jax.tree.map(lambda xi, zi: (1.0 - c) * xi + c * zi, x, z)
    y = jax.tree.map(lambda xi, zi, yi: (b1 * xi + (1.0 - b1) * zi).astype(yi.dtype), x, z, params)
    updates = jax.tree.map(lambda new, old: new - old, y, params)
    return updates, ScheduleFreeState(b1=state.b1, count=optax.safe_int32_increment(state.count),
                                      weight_sum=weight_sum, max_lr=max_lr,
                                      base_optimizer_state=base_state, z=z)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def schedule_free_adamw(learning_rate: float = 0.0025, warmup_steps: int = 0, b1: float = 0.9,
                        b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                        weight_lr_power: float = 2.0,
                        r: float = 0.0) -> optax.GradientTransformationExtraArgs:
  """The reference's AdamWScheduleFree: z ← z − γ_k (g/(√(v/(1 − β₂^{k+1})) + ε) + λ y)."""
  schedule = warmup_learning_rate(learning_rate, warmup_steps)
  base = optax.chain(
      optax.scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True),
      optax.add_decayed_weights(weight_decay),  # at y, the parameters the base is handed
      optax.scale_by_learning_rate(schedule))
  return schedule_free(base, schedule, b1=b1, weight_lr_power=weight_lr_power, r=r)
