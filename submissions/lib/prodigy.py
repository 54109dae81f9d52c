"""Prodigy (Mishchenko & Defazio 2023, arXiv:2306.06101) as its authors' code runs it.

`scale_by_prodigy` follows `Prodigy.step` of github.com/konstmish/prodigy (prodigyopt/
prodigy.py), tested against a port of it in tests/reference/prodigy_test.py. With λ the
weight decay, η_k the multiplier (the schedule) and d the current estimate,

    γ = d·η_k·c_k   (c_k = √(1 − β₂^{k+1})/(1 − β₁^{k+1}) with bias correction, else 1)
    m = β₁m + d(1 − β₁)g,   v = β₂v + d²(1 − β₂)g²,   s = β₃s + (d/d₀)γ·g
    r = β₃r + (d/d₀)γ⟨g, x₀ − x⟩,   d̂ = d_coef·r/‖s‖₁,   d = min(max(d_max, d̂), growth·d)
    x ← x − γλx − γ·m/(√v + d·ε)

(with `safeguard_warmup` the s update uses d in place of γ; with `decouple=False` λx is added
to g instead). Where it departs from optax.contrib.prodigy, it follows the authors:

- Adam's bias correction is off unless asked for (`use_bias_correction`, the authors' default
  False); optax always applies it.
- A step whose ‖s‖₁ is 0 is skipped, as the authors' `if d_denom == 0: return` skips it: no
  parameter move and no change to d, r or k. Every step with η_k = 0 is one (the first step
  of a linear warmup, the last of a decay to 0); optax divides 0 by 0 there and the iterates
  become NaN.
- ε is scaled by the new d, `safeguard_warmup`, `growth_rate` and coupled decay are there.

Not ported: `slice_p` (1, the default) and the FSDP all-reduce (the lab's sums are global).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from submissions.lib.lr_free import scalar_dtype


class ProdigyState(NamedTuple):
  count: jax.Array  # int32: updates so far (indexes the schedule)
  k: jax.Array  # int32: steps taken (a skipped step does not count), for bias correction
  exp_avg: optax.Updates  # m
  exp_avg_sq: optax.Updates  # v
  s: optax.Updates
  params0: optax.Params  # x₀
  d: jax.Array  # the estimate (the learning rate is d·η)
  d_max: jax.Array
  d_numerator: jax.Array  # r


def scale_by_prodigy(learning_rate: optax.ScalarOrSchedule = 1.0, b1: float = 0.9,
                     b2: float = 0.999, b3: float | None = None, eps: float = 1e-8,
                     weight_decay: float = 0.0, decouple: bool = True,
                     use_bias_correction: bool = False, safeguard_warmup: bool = False,
                     d0: float = 1e-6, d_coef: float = 1.0,
                     growth_rate: float = float("inf")) -> optax.GradientTransformation:
  """Prodigy's full update, the authors' defaults. The multiplier `learning_rate` is inside,
  not chained after, because it enters the estimate of d and decides which steps are skipped."""
  beta3 = b2 ** 0.5 if b3 is None else b3
  schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

  def init_fn(params: optax.Params) -> ProdigyState:
    dtype = scalar_dtype(params)
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)  # noqa: E731
    scalar = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    return ProdigyState(count=jnp.zeros([], jnp.int32), k=jnp.zeros([], jnp.int32),
                        exp_avg=zeros(), exp_avg_sq=zeros(), s=zeros(),
                        params0=jax.tree.map(jnp.array, params), d=scalar(d0),
                        d_max=scalar(d0), d_numerator=scalar(0.0))

  def update_fn(grads: optax.Updates, state: ProdigyState,
                params: optax.Params | None = None) -> tuple[optax.Updates, ProdigyState]:
    if params is None:
      raise ValueError("scale_by_prodigy needs the parameters: call update(grads, state, params).")
    dtype = state.d.dtype
    lr = jnp.asarray(schedule(state.count), dtype)
    k = state.k.astype(dtype)
    bias_correction = (jnp.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1))
                       if use_bias_correction else 1.0)
    d = state.d
    dlr = d * lr * bias_correction
    if weight_decay != 0 and not decouple:
      grads = jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)
    active = lr > 0

    def moving(old: optax.Updates, new: optax.Updates) -> optax.Updates:
      return jax.tree.map(lambda o, n: jnp.where(active, n, o), old, new)

    delta_numerator = (d / d0) * dlr * optax.tree.vdot(
        grads, jax.tree.map(lambda p0, p: p0 - p, state.params0, params))
    exp_avg = moving(state.exp_avg, jax.tree.map(lambda m, g: m * b1 + d * (1 - b1) * g,
                                                 state.exp_avg, grads))
    exp_avg_sq = moving(state.exp_avg_sq, jax.tree.map(
        lambda v, g: v * b2 + d * d * (1 - b2) * g * g, state.exp_avg_sq, grads))
    s_weight = (d / d0) * (d if safeguard_warmup else dlr)
    s = moving(state.s, jax.tree.map(lambda s, g: s * beta3 + s_weight * g, state.s, grads))
    d_denom = jnp.where(active, optax.tree.norm(s, ord=1), 0.0)
    skip = d_denom == 0

    d_numerator = state.d_numerator * beta3 + delta_numerator
    d_hat = d_coef * d_numerator / jnp.where(skip, 1.0, d_denom)
    d_first = jnp.where(d == d0, jnp.maximum(d, d_hat), d)
    d_max = jnp.maximum(state.d_max, d_hat)
    new_d = jnp.minimum(d_max, d_first * growth_rate)

    def step(m: jax.Array, v: jax.Array, g: jax.Array, p: jax.Array) -> jax.Array:
      denom = jnp.sqrt(v) + new_d * eps
      decay = -weight_decay * dlr * p if weight_decay != 0 and decouple else jnp.zeros_like(p)
      move = -dlr * m / denom if b1 > 0 else -dlr * new_d * g / denom
      return jnp.where(skip, jnp.zeros_like(p), decay + move).astype(p.dtype)

    updates = jax.tree.map(step, exp_avg, exp_avg_sq, grads, params)
    kept = lambda old, new: jnp.where(skip, old, new)  # noqa: E731
    return updates, ProdigyState(
        count=optax.safe_int32_increment(state.count), k=kept(state.k, state.k + 1),
        exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, s=s, params0=state.params0,
        d=kept(state.d, new_d), d_max=kept(state.d_max, d_max),
        d_numerator=kept(state.d_numerator, d_numerator))

  return optax.GradientTransformation(init_fn, update_fn)
