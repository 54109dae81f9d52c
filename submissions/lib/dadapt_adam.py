"""D-Adaptation's Adam (Defazio & Mishchenko 2023, arXiv:2301.07733) as its authors' code runs it.

`scale_by_dadapt_adam` follows `DAdaptAdam.step` of github.com/facebookresearch/dadaptation
(dadaptation/dadapt_adam.py), tested against a port of it in
tests/reference/dadapt_adamw_test.py. With λ the weight decay, η_k the multiplier (the
schedule), d the current estimate and v, s the values before this step,

    γ = d·η_k·c_k   (c_k = √(1 − β₂^{k+1})/(1 − β₁^{k+1}) with bias correction, else 1)
    r = √β₂·r + (1 − √β₂)·γ⟨g, s/(√v + ε)⟩
    m = β₁m + γ(1 − β₁)g,   v = β₂v + (1 − β₂)g²,   s = √β₂·s + γ(1 − √β₂)g
    d̂ = r/((1 − √β₂)‖s‖₁),   d = max(d, min(d̂, growth·d))
    x ← x − γλx − m/(√v + ε)

(`decouple=False`, the authors' default, adds λx to g instead of decaying x; the lab's
AdamW submission sets it). Where it departs from optax.contrib.dadapt_adamw, it follows the
authors:

- Adam's bias correction is off unless asked for (`use_bias_correction`, the authors' default
  False); optax always applies it.
- A step whose ‖s‖₁ is 0 is skipped, as the authors' `if sk_l1 == 0: return` skips it: no
  parameter move and no change to d, r or k. Every step with η_k = 0 is one (the first step
  of a linear warmup, the last of a decay to 0); optax divides 0 by 0 there and the iterates
  become NaN.
- `growth_rate` and coupled decay are there.

Not ported: per-group `layer_scale` (1, the default) and the FSDP all-reduce.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from submissions.lib.lr_free import scalar_dtype


class DAdaptAdamState(NamedTuple):
  count: jax.Array  # int32: updates so far (indexes the schedule)
  k: jax.Array  # int32: steps taken (a skipped step does not count), for bias correction
  exp_avg: optax.Updates  # m
  exp_avg_sq: optax.Updates  # v
  s: optax.Updates
  d: jax.Array  # the estimate (the learning rate is d·η)
  numerator_weighted: jax.Array  # r


def scale_by_dadapt_adam(learning_rate: optax.ScalarOrSchedule = 1.0, b1: float = 0.9,
                         b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                         decouple: bool = False, use_bias_correction: bool = False,
                         d0: float = 1e-6,
                         growth_rate: float = float("inf")) -> optax.GradientTransformation:
  """D-Adapt Adam's full update, the authors' defaults. The multiplier `learning_rate` is
  inside, not chained after, because it enters the estimate of d and decides which steps are
  skipped."""
  sqrt_beta2 = b2 ** 0.5
  schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

  def init_fn(params: optax.Params) -> DAdaptAdamState:
    dtype = scalar_dtype(params)
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)  # noqa: E731
    return DAdaptAdamState(count=jnp.zeros([], jnp.int32), k=jnp.zeros([], jnp.int32),
                           exp_avg=zeros(), exp_avg_sq=zeros(), s=zeros(),
                           d=jnp.asarray(d0, dtype), numerator_weighted=jnp.zeros([], dtype))

  def update_fn(grads: optax.Updates, state: DAdaptAdamState,
                params: optax.Params | None = None) -> tuple[optax.Updates, DAdaptAdamState]:
    if params is None and weight_decay != 0:
      raise ValueError("weight decay needs the parameters: call update(grads, state, params).")
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

    numerator_acum = dlr * optax.tree.vdot(grads, jax.tree.map(
        lambda s, v: s / (jnp.sqrt(v) + eps), state.s, state.exp_avg_sq))
    exp_avg = moving(state.exp_avg, jax.tree.map(lambda m, g: m * b1 + dlr * (1 - b1) * g,
                                                 state.exp_avg, grads))
    exp_avg_sq = moving(state.exp_avg_sq, jax.tree.map(lambda v, g: v * b2 + (1 - b2) * g * g,
                                                       state.exp_avg_sq, grads))
    s = moving(state.s, jax.tree.map(lambda s, g: s * sqrt_beta2 + dlr * (1 - sqrt_beta2) * g,
                                     state.s, grads))
    sk_l1 = jnp.where(active, optax.tree.norm(s, ord=1), 0.0)
    skip = sk_l1 == 0

    numerator_weighted = sqrt_beta2 * state.numerator_weighted + (1 - sqrt_beta2) * numerator_acum
    d_hat = numerator_weighted / ((1 - sqrt_beta2) * jnp.where(skip, 1.0, sk_l1))
    new_d = jnp.maximum(d, jnp.minimum(d_hat, d * growth_rate))

    def step(m: jax.Array, v: jax.Array, p: jax.Array | None) -> jax.Array:
      move = -m / (jnp.sqrt(v) + eps)
      if weight_decay != 0 and decouple:
        move = -weight_decay * dlr * p + move
      return jnp.where(skip, jnp.zeros_like(m), move).astype(m.dtype)

    updates = jax.tree.map(step, exp_avg, exp_avg_sq,
                           params if params is not None else exp_avg)
    kept = lambda old, new: jnp.where(skip, old, new)  # noqa: E731
    return updates, DAdaptAdamState(
        count=optax.safe_int32_increment(state.count), k=kept(state.k, state.k + 1),
        exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, s=s, d=kept(state.d, new_d),
        numerator_weighted=kept(state.numerator_weighted, numerator_weighted))

  return optax.GradientTransformation(init_fn, update_fn)
