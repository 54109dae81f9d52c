"""MoMo (Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, arXiv:2305.07583): momentum with a
Polyak step size, as the authors' `Momo.step` computes it (fabian-sp/MoMo, momo/momo.py;
checked step by step in tests/reference/momo_test.py), with their defaults
bias_correction=False and use_fstar=False:

    d = ρd + (1 − ρ)g,  f̄ = ρf̄ + (1 − ρ)f,  γ = ργ + (1 − ρ)⟨g, x⟩   (ρ = 0 on the first step)
    τ = min(α, ((1 + αλ)(f̄ − f* − γ) + ⟨d, x⟩)₊ / ‖d‖²)
    x ← (x − τd)/(1 + αλ)

Why not optax.contrib.momo: with weight decay λ > 0 it moves to x/(1 + αλ) − τd, which leaves
the momentum step undamped. τ, the step size, is kept in the state (and logged). f is this
batch's loss, the `value` extra.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class MomoState(NamedTuple):
  exp_avg: optax.Updates  # d
  barf: jax.Array  # f̄
  gamma: jax.Array  # γ
  count: jax.Array  # int32, steps taken
  tau: jax.Array  # the step size of the last step (0 before any)


def momo(alpha: float = 1.0, beta: float = 0.9, lower_bound: float = 0.0,
         weight_decay: float = 0.0) -> optax.GradientTransformationExtraArgs:
  """The authors' MoMo with cap `alpha` (their lr), momentum `beta`, f* = `lower_bound`."""
  shrink = 1.0 + alpha * weight_decay

  def init_fn(params: optax.Params) -> MomoState:
    dtype = jnp.promote_types(jnp.float32, optax.tree.dtype(params, "highest"))
    return MomoState(exp_avg=jax.tree.map(jnp.zeros_like, params), barf=jnp.zeros([], dtype),
                     gamma=jnp.zeros([], dtype), count=jnp.zeros([], jnp.int32),
                     tau=jnp.zeros([], dtype))

  def update_fn(grads: optax.Updates, state: MomoState, params: optax.Params | None = None, *,
                value: jax.typing.ArrayLike | None = None,
                **extra_args: Any) -> tuple[optax.Updates, MomoState]:
    del extra_args
    if params is None or value is None:
      raise ValueError("MoMo needs the parameters and this batch's loss: call update(grads, "
                       "state, params, value=loss).")
    dtype = state.barf.dtype
    rho = jnp.where(state.count == 0, 0.0, beta).astype(dtype)
    barf = rho * state.barf + (1 - rho) * jnp.asarray(value, dtype)
    exp_avg = jax.tree.map(lambda d, g: (rho * d + (1 - rho) * g).astype(d.dtype),
                           state.exp_avg, grads)
    gamma = rho * state.gamma + (1 - rho) * optax.tree.vdot(grads, params).astype(dtype)
    dot = optax.tree.vdot(params, exp_avg).astype(dtype)
    norm_sq = optax.tree.norm(exp_avg, squared=True).astype(dtype)
    numerator = jnp.maximum(shrink * (barf - lower_bound) + dot - shrink * gamma, 0.0)
    tau = jnp.minimum(alpha, numerator / jnp.where(norm_sq > 0, norm_sq, 1.0))
    tau = jnp.where(norm_sq > 0, tau, 0.0)  # the authors divide by 0 here; no move instead
    updates = jax.tree.map(lambda x, d: ((x - tau * d) / shrink - x).astype(x.dtype),
                           params, exp_avg)
    return updates, MomoState(exp_avg=exp_avg, barf=barf, gamma=gamma,
                              count=optax.safe_int32_increment(state.count), tau=tau)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
