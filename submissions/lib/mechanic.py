"""Mechanic (Cutkosky, Defazio & Mehta 2023, arXiv:2306.00144, Algorithm 1) around any base.

Learns the scale s (one per β in 1 − 10^{−k}, k = 1..n) of the base optimizer's summed updates
Δ: x_t = x_ref + (Σs)Δ_t. Each step, with g the gradient at x_t and u the base's update,

    h = ⟨Δ_t, g + λ‖g‖(Σs)/‖x_t‖ · x_t⟩,   Δ_{t+1} = Δ_t + u
    m = max(βm, |h| + ε),  v = β²v + h²,  r = βr − s·clip(h, ±m_prev)
    s = (s_init/n · m + max(r, 0)) / (√v + ε),   x_{t+1} = x_ref + (Σs)Δ_{t+1}

(the clip of h to the previous m is the authors' later addition, kept as optax keeps it).
optax.contrib.mechanize recomputes Δ_t = (x_ref − x_t)/(Σs + ε) instead of storing it: that
biases Δ by Σs/(Σs + ε) (a half at s = s_init = ε) and loses Δ to float32 rounding while (Σs)·u
is below the parameters' resolution; inside the lab's AdamW submission on the conformance toy
quadratic it left the loss at its start for 200 steps. Here Δ is kept in the state, as in the
paper, and tests/submissions/lr_free_test.py checks it against Algorithm 1 by hand.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class MechanicState(NamedTuple):
  base_optimizer_state: optax.OptState
  count: jax.Array  # int32
  r: jax.Array  # [n] per-β wealth-to-be (before the max with 0)
  m: jax.Array  # [n] running max of |h|
  v: jax.Array  # [n] discounted sum of h²
  s: jax.Array  # [n] scales; the update scale is their sum
  x_ref: optax.Params  # the parameters at the first step
  delta: optax.Params  # Δ_t, the sum of the base optimizer's updates


def mechanize(base: optax.GradientTransformation, weight_decay: float = 0.01,
              s_init: float = 1e-8, num_betas: int = 6,
              eps: float = 1e-8) -> optax.GradientTransformationExtraArgs:
  """`base` with its update scale learned by Mechanic (λ = weight_decay)."""
  base = optax.with_extra_args_support(base)
  betas = jnp.array([1.0 - 0.1 ** k for k in range(1, num_betas + 1)], jnp.float32)

  def init_fn(params: optax.Params) -> MechanicState:
    zeros = jnp.zeros([num_betas], jnp.float32)
    return MechanicState(base_optimizer_state=base.init(params), count=jnp.zeros([], jnp.int32),
                         r=zeros, m=zeros, v=zeros, s=jnp.full([num_betas], s_init, jnp.float32),
                         x_ref=jax.tree.map(jnp.array, params),
                         delta=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params))

  def update_fn(updates: optax.Updates, state: MechanicState,
                params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, MechanicState]:
    if params is None:
      raise ValueError("mechanize needs the parameters: call update(grads, state, params).")
    base_updates, base_state = base.update(updates, state.base_optimizer_state, params,
                                           **extra_args)
    x_ref = jax.tree.map(lambda p, r: jnp.where(state.count == 0, p, r), params, state.x_ref)
    s_sum = jnp.sum(state.s)
    decay = weight_decay * s_sum * optax.tree.norm(updates) / (optax.tree.norm(params) + eps)
    decayed_grads = jax.tree.map(lambda g, p: g + decay * p, updates, params)
    h = optax.tree.vdot(state.delta, decayed_grads).astype(jnp.float32)
    r = betas * state.r - state.s * jnp.clip(h, -state.m, state.m)
    m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
    v = betas ** 2 * state.v + h ** 2
    s = (s_init / num_betas * m + jnp.maximum(r, 0.0)) / (jnp.sqrt(v) + eps)
    delta = jax.tree.map(lambda d, u: d + u.astype(d.dtype), state.delta, base_updates)
    new_params = jax.tree.map(lambda x0, d: (x0 + jnp.sum(s) * d).astype(x0.dtype), x_ref, delta)
    new_updates = jax.tree.map(lambda new, old: new - old, new_params, params)
    return new_updates, MechanicState(
        base_optimizer_state=base_state, count=optax.safe_int32_increment(state.count), r=r,
        m=m, v=v, s=s, x_ref=x_ref, delta=delta)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
