"""Mechanic (Cutkosky, Defazio & Mehta 2023, arXiv:2306.00144, Algorithm 1) around any base.

Learns the scale s (one per β in 1 − 10^{−k}, k = 1..n) of the base optimizer's summed updates
Δ: x_t = x_ref + (Σs)Δ_t. Each step, with g the gradient at x_t and u the base's update, the
default (`form="pytorch"`) is the authors' package, optimizedlearning/mechanic
src/mechanic_pytorch/mechanic.py (`_step`), tested against a port of it in
tests/reference/mechanic_test.py:

    y = x_t + u   (the parameters after the base step, as `_step` reads them)
    h = ⟨Δ_t, g + λ‖g‖(Σs)/(‖y‖ + ε) · y⟩,   Δ_{t+1} = Δ_t + u
    m = max(βm, |h|),  v = β²v + h²,  r = max(βr − s·h, 0)
    s = (s_init/n · m + r) / (√v + ε),   x_{t+1} = x_ref + (Σs)Δ_{t+1}

from s = 0, m = 1e-6, r = v = 0 (so the first s is about s_init·1e-6/(nε) per β, Σs ≈ 1e-6).
`form="optax"` is the authors' JAX code, optax.contrib.mechanize (by the same authors; their
README says the paper's experiments ran it): s starts at s_init and m at 0, m = max(βm, |h| + ε),
r = βr − s·clip(h, ±m_prev) with max(r, 0) used only in the wealth, and y = x_t. The paper's
Algorithm 1 reads x_t in the decay term, as the JAX code does.

Δ: `store_delta=True` (the lab's default; the authors' option, which their README calls
slightly more accurate) keeps Δ in the state; `store_delta=False` (the default of both of the
authors' codes) recomputes Δ_t = (x_t − x_ref)/(Σs + ε), which biases Δ by Σs/(Σs + ε) and
loses it to float32 rounding while (Σs)·u is below the parameters' resolution: with
optax.contrib.mechanize inside the lab's AdamW submission the conformance toy quadratic kept
its starting loss for 200 steps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from submissions.lib.lr_free import scalar_dtype

FORMS = ("pytorch", "optax")
_PYTORCH_MAX_INIT = 1e-6  # `max_product` starts here in mechanic_pytorch's `_init_state`


class MechanicState(NamedTuple):
  base_optimizer_state: optax.OptState
  count: jax.Array  # int32
  r: jax.Array  # [n] per-β reward (the "optax" form keeps it before the max with 0)
  m: jax.Array  # [n] running max of |h|
  v: jax.Array  # [n] discounted sum of h²
  s: jax.Array  # [n] scales; the update scale is their sum
  x_ref: optax.Params  # the parameters at the first step
  delta: optax.Params | None  # Δ_t, the sum of the base optimizer's updates (store_delta)


def mechanize(base: optax.GradientTransformation, weight_decay: float = 0.01,
              s_init: float = 1e-8, num_betas: int = 6, eps: float = 1e-8,
              store_delta: bool = True,
              form: str = "pytorch") -> optax.GradientTransformationExtraArgs:
  """`base` with its update scale learned by Mechanic (λ = weight_decay)."""
  if form not in FORMS:
    raise ValueError(f"form must be one of {FORMS}, got {form!r}.")
  pytorch = form == "pytorch"
  base = optax.with_extra_args_support(base)

  def init_fn(params: optax.Params) -> MechanicState:
    dtype = scalar_dtype(params)
    zeros = jnp.zeros([num_betas], dtype)
    delta = (jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.promote_types(p.dtype, jnp.float32)),
                          params) if store_delta else None)
    return MechanicState(
        base_optimizer_state=base.init(params), count=jnp.zeros([], jnp.int32), r=zeros,
        m=jnp.full([num_betas], _PYTORCH_MAX_INIT if pytorch else 0.0, dtype), v=zeros,
        s=zeros if pytorch else jnp.full([num_betas], s_init, dtype),
        x_ref=jax.tree.map(jnp.array, params), delta=delta)

  def update_fn(updates: optax.Updates, state: MechanicState,
                params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, MechanicState]:
    if params is None:
      raise ValueError("mechanize needs the parameters: call update(grads, state, params).")
    base_updates, base_state = base.update(updates, state.base_optimizer_state, params,
                                           **extra_args)
    betas = jnp.array([1.0 - 0.1 ** k for k in range(1, num_betas + 1)], state.s.dtype)
    x_ref = jax.tree.map(lambda p, r: jnp.where(state.count == 0, p, r), params, state.x_ref)
    s_sum = jnp.sum(state.s)
    delta = state.delta if store_delta else jax.tree.map(
        lambda x, x0: (x - x0) / (s_sum + eps), params, x_ref)
    decay_at = jax.tree.map(jnp.add, params, base_updates) if pytorch else params
    decay = weight_decay * s_sum * optax.tree.norm(updates) / (optax.tree.norm(decay_at) + eps)
    h = optax.tree.vdot(delta, jax.tree.map(lambda g, y: g + decay * y, updates, decay_at))
    h = h.astype(state.s.dtype)
    if pytorch:
      m = jnp.maximum(betas * state.m, jnp.abs(h))
      r = jnp.maximum(betas * state.r - state.s * h, 0.0)
      wealth = s_init / num_betas * m + r
    else:
      m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
      r = betas * state.r - state.s * jnp.clip(h, -state.m, state.m)
      wealth = s_init / num_betas * m + jnp.maximum(r, 0.0)
    v = betas ** 2 * state.v + h ** 2
    s = wealth / (jnp.sqrt(v) + eps)
    delta = jax.tree.map(lambda d, u: d + u.astype(d.dtype), delta, base_updates)
    new_params = jax.tree.map(lambda x0, d: (x0 + jnp.sum(s) * d).astype(x0.dtype), x_ref, delta)
    new_updates = jax.tree.map(lambda new, old: new - old, new_params, params)
    return new_updates, MechanicState(
        base_optimizer_state=base_state, count=optax.safe_int32_increment(state.count), r=r,
        m=m, v=v, s=s, x_ref=x_ref, delta=delta if store_delta else None)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
