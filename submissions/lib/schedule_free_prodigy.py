"""Schedule-Free Prodigy as its authors wrote it for AlgoPerf: Prodigy's d estimate moving z,
Schedule-Free's averaging into x, one fused rule.

The rule of `ProdigyScheduleFree.step` in facebookresearch/schedule_free,
schedulefree/algoperf/external_tuning/schedule_free_prodigy/submission.py (the authors' one
combined implementation; checked step by step in tests/reference/schedule_free_prodigy_test.py).
With γ_k = `learning_rate(k)` (a multiplier: the authors warm it up), the gradient g at
y = β₁x + (1 − β₁)z and d the estimate before this step:

    A = √β₂·A + d²γ_k⟨g, z₀ − z⟩          s = √β₂·s + d²γ_k·g
    v = β₂v + (1 − β₂)d²g²               d' = max(d, d_coef·A/‖s‖₁)
    z ← z − λdγ_k·x − d'dγ_k·g/(√v + d'ε)
    x ← (1 − c)x + c·z,  c = w_k/Σw,  w_k = (k + 1)^r · (max_{i≤k} d'_iγ_i)^p

The authors' weights are (k + 1)^r with r = 0.75 and p = 0; p = 2 gives the weighting of the
paper's §3 (arXiv:2405.15682; the weight the package's ScheduleFreeWrapper gives a wrapped
Prodigy, (d·lr)_max²), as an option. Where ‖s‖₁ = 0 the authors skip the step (no move, d, A and
k kept); so does this. What differs from their code: the authors keep v, s and z₀ in bfloat16 to
save GPU memory; here they take the parameters' dtype. Not optax.contrib.prodigy inside
optax.contrib.schedule_free: optax's Prodigy applies Adam's bias correction and steps with the
d from before its update, and its weight decay is not taken at x.

The model's parameter is y; x is recovered as (y − (1 − β₁)z)/β₁, so
`optax.contrib.schedule_free_eval_params` gives the evaluation point.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScheduleFreeProdigyState(NamedTuple):
  b1: jax.Array  # β₁, the interpolation between x and z (read by schedule_free_eval_params)
  count: jax.Array  # int32, steps taken (k)
  d: jax.Array  # Prodigy's distance estimate
  d_numerator: jax.Array  # A
  weight_sum: jax.Array  # Σ w_i
  max_step_size: jax.Array  # max over steps of d'·γ (read only when weight_lr_power > 0)
  exp_avg_sq: optax.Params  # v
  s: optax.Params
  init_params: optax.Params  # z₀ = x₀
  z: optax.Params


def schedule_free_prodigy(learning_rate: optax.Schedule, b1: float = 0.9, b2: float = 0.9955,
                          r: float = 0.75, weight_lr_power: float = 0.0, eps: float = 1e-8,
                          weight_decay: float = 0.0, d0: float = 1e-6,
                          d_coef: float = 1.0) -> optax.GradientTransformation:
  """The authors' `ProdigyScheduleFree` (their class defaults), the multiplier γ_k given."""
  if not 0.0 < b1 < 1.0:
    raise ValueError(f"schedule-free b1 must lie in (0, 1), got {b1}.")
  sqrt_b2 = math.sqrt(b2)

  def init_fn(params: optax.Params) -> ScheduleFreeProdigyState:
    dtype = jnp.promote_types(jnp.float32, optax.tree.dtype(params, "highest"))
    zeros = jax.tree.map(jnp.zeros_like, params)
    return ScheduleFreeProdigyState(
        b1=jnp.asarray(b1, optax.tree.dtype(params, "lowest")), count=jnp.zeros([], jnp.int32),
        d=jnp.asarray(d0, dtype), d_numerator=jnp.zeros([], dtype),
        weight_sum=jnp.zeros([], dtype), max_step_size=jnp.zeros([], dtype),
        exp_avg_sq=zeros, s=zeros, init_params=jax.tree.map(lambda p: p.copy(), params),
        z=jax.tree.map(lambda p: p.copy(), params))

  def update_fn(grads: optax.Updates, state: ScheduleFreeProdigyState,
                params: optax.Params | None = None) -> tuple[optax.Updates,
                                                             ScheduleFreeProdigyState]:
    if params is None:
      raise ValueError("schedule_free_prodigy needs the parameters: call update(grads, state, "
                       "params).")
    dtype = state.d.dtype
    lr = jnp.asarray(learning_rate(state.count), dtype)
    d = state.d
    dlr = d * lr
    x = jax.tree.map(lambda y, z: (y - (1.0 - b1) * z) / b1, params, state.z)
    d_numerator = sqrt_b2 * state.d_numerator + d * dlr * optax.tree.vdot(
        grads, optax.tree.sub(state.init_params, state.z)).astype(dtype)
    exp_avg_sq = jax.tree.map(lambda v, g: (b2 * v + d * d * (1 - b2) * g * g).astype(v.dtype),
                              state.exp_avg_sq, grads)
    s = jax.tree.map(lambda si, g: (sqrt_b2 * si + d * dlr * g).astype(si.dtype), state.s, grads)
    d_denom = sum(jnp.sum(jnp.abs(si)).astype(dtype) for si in jax.tree.leaves(s))
    skip = d_denom == 0
    d_new = jnp.maximum(d, d_coef * d_numerator / jnp.where(skip, 1.0, d_denom))
    max_step_size = jnp.maximum(state.max_step_size, d_new * lr)
    weight = (state.count + 1).astype(dtype) ** r * max_step_size ** weight_lr_power
    weight_sum = state.weight_sum + weight
    c = weight / weight_sum

    def new_z(z: jax.Array, xi: jax.Array, g: jax.Array, v: jax.Array) -> jax.Array:
      z = z - weight_decay * dlr * xi
      return (z - d_new * dlr * g / (jnp.sqrt(v) + d_new * eps)).astype(xi.dtype)

    z = jax.tree.map(new_z, state.z, x, grads, exp_avg_sq)
    x = jax.tree.map(lambda xi, zi: (1.0 - c) * xi + c * zi, x, z)
    y = jax.tree.map(lambda xi, zi, yi: (b1 * xi + (1.0 - b1) * zi).astype(yi.dtype), x, z, params)
    updates = jax.tree.map(lambda new, old: jnp.where(skip, jnp.zeros_like(old), new - old),
                           y, params)
    kept = lambda new, old: jax.tree.map(lambda n, o: jnp.where(skip, o, n), new, old)  # noqa: E731
    return updates, ScheduleFreeProdigyState(
        b1=state.b1, count=jnp.where(skip, state.count, optax.safe_int32_increment(state.count)),
        d=kept(d_new, d), d_numerator=kept(d_numerator, state.d_numerator),
        weight_sum=kept(weight_sum, state.weight_sum),
        max_step_size=kept(max_step_size, state.max_step_size), exp_avg_sq=exp_avg_sq, s=s,
        init_params=state.init_params, z=kept(z, state.z))

  return optax.GradientTransformation(init_fn, update_fn)


def warmup_multiplier(warmup_steps: int) -> optax.Schedule:
  """The authors' `update_params`: (k + 1)/warmup_steps for k < warmup_steps, then 1."""
  if warmup_steps <= 0:
    return lambda count: jnp.ones([])
  # In the default float type: float64 under x64 (an int32 count divides to float32).
  return lambda count: jnp.minimum(
      (jnp.asarray(count, jnp.result_type(float)) + 1) / warmup_steps, 1.0)
