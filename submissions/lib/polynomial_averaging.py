"""Polynomial decay averaging (Shamir & Zhang 2013, "Stochastic gradient descent for non-smooth
optimization", arXiv:1212.1824) around any optax transformation, as the DoG authors' averager
computes it (formll/dog, src/dog/averager.py, `PolynomialDecayAverager.step`; checked in
tests/reference/dog_test.py): after step t = 1, 2, ...,

    x̄_t = (1 − w_t) x̄_{t−1} + w_t x_t,   w_t = (γ + 1)/(γ + t),

so x̄_1 = x_1, and larger γ forgets old iterates faster (γ = 0 is the uniform average).
Training continues from the base optimizer's parameters; `averaged_params(opt_state)` returns
x̄ for evaluation (a submission's `eval_params`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class PolynomialDecayState(NamedTuple):
  base: optax.OptState
  count: jax.Array  # int32, steps averaged so far (t after the update)
  average: optax.Params  # x̄_t


def polynomial_decay(base: optax.GradientTransformation,
                     gamma: float = 8.0) -> optax.GradientTransformationExtraArgs:
  """`base`, plus the polynomial-decay average (parameter γ) of its parameters."""
  if gamma < 0:
    raise ValueError(f"polynomial decay averaging needs gamma >= 0, got {gamma}.")
  base = optax.with_extra_args_support(base)

  def init_fn(params: optax.Params) -> PolynomialDecayState:
    return PolynomialDecayState(base=base.init(params), count=jnp.zeros([], jnp.int32),
                                average=jax.tree.map(jnp.array, params))

  def update_fn(updates: optax.Updates, state: PolynomialDecayState,
                params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, PolynomialDecayState]:
    if params is None:
      raise ValueError("polynomial_decay averages parameters: call update(grads, state, params).")
    updates, base_state = base.update(updates, state.base, params, **extra_args)
    new_params = optax.apply_updates(params, updates)
    count = optax.safe_int32_increment(state.count)

    def average(a: jax.Array, x: jax.Array) -> jax.Array:
      weight = (gamma + 1.0) / (gamma + count.astype(jnp.promote_types(a.dtype, jnp.float32)))
      return (a * (1.0 - weight) + weight * x).astype(a.dtype)

    return updates, PolynomialDecayState(base=base_state, count=count,
                                         average=jax.tree.map(average, state.average, new_params))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _is_state(node: Any) -> bool:
  return isinstance(node, PolynomialDecayState)


def averaged_params(opt_state: optax.OptState) -> optax.Params:
  """x̄ of the first PolynomialDecayState in `opt_state`."""
  found = [node for node in jax.tree.leaves(opt_state, is_leaf=_is_state) if _is_state(node)]
  if not found:
    raise ValueError("the optimizer state holds no PolynomialDecayState; wrap the optimizer in "
                     "polynomial_averaging.polynomial_decay(...).")
  return found[0].average
