"""Sharpness-aware minimisation: the gradient at an adversarially perturbed point.

Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving Generalization"
(eq. 2 and the first-order step after it): ε = ρ g / ‖g‖ with g = ∇L(w), then the update
direction is ∇L(w + ε). `sam_gradient` replaces the incoming gradient with that one, so it
chains before any base optimizer (SAM over AdamW, over SGD, ...). The perturbation rule is a
parameter: `sam_perturbation` here, ASAM's in submissions/lib/asam.py.

Two gradients per step (the step's own, and one at w + ε through `value_fn`), so a step costs
about twice a plain one (benchmarks/sam_cost.py measures the ratio).

The perturbation uses the gradient of the whole batch the step sees. The lab's step is one
jit over the global batch (also under --sharding=replicated on 8 devices: GSPMD all-reduces
the gradient before ε is formed), so this is SAM with m = the global batch size, not the
per-device m-sharpness of Foret et al.'s §4 (one ε per device shard); tests/submissions/
sam_test.py checks that 8 fake devices give the 1-device step.

Step metrics kept in the state: ‖ε‖ and the sharpness estimate L(w + ε) − L(w) on this batch.
The update rule is checked against a quadratic solved by hand in tests/submissions/sam_test.py
and step by step against a port of the authors' `dual_vector` and `get_sam_gradient`
(google-research/sam) in tests/reference/sam_test.py; ‖g‖ gets +1e-12 here (davda54/sam's),
none there, a difference at rounding level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

# (gradient, params, rho) -> perturbation ε
Perturbation = Callable[[Any, Any, float], Any]

_TINY = 1e-12


class SamState(NamedTuple):
  perturbation_norm: jax.Array  # float32, ‖ε‖ at the last step
  sharpness: jax.Array  # float32, L(w + ε) − L(w) on the last step's batch


def sam_perturbation(grads: Any, params: Any, rho: float) -> Any:
  """ε = ρ g / ‖g‖."""
  del params
  scale = rho / (optax.tree.norm(grads) + _TINY)
  return jax.tree.map(lambda g: (scale * g).astype(g.dtype), grads)


def sam_gradient(rho: float, perturbation: Perturbation = sam_perturbation
                 ) -> optax.GradientTransformationExtraArgs:
  """Replaces the gradient with ∇L(w + ε), reading the step's `value` and `value_fn`."""
  if rho < 0:
    raise ValueError(f"SAM's rho must be >= 0, got {rho}.")

  def init_fn(params: optax.Params) -> SamState:
    del params
    zero = jnp.zeros([], jnp.float32)
    return SamState(perturbation_norm=zero, sharpness=zero)

  def update_fn(updates: optax.Updates, state: SamState, params: optax.Params | None = None,
                *, value: jax.Array | None = None, value_fn: Callable[[Any], jax.Array] | None = None,
                **extra_args: Any) -> tuple[optax.Updates, SamState]:
    del state, extra_args
    if params is None or value is None or value_fn is None:
      raise ValueError("sam_gradient needs params and the step's value and value_fn extra "
                       "arguments; run it inside the lab's train step.")
    epsilon = perturbation(updates, params, rho)
    perturbed_value, perturbed_grads = jax.value_and_grad(value_fn)(
        optax.apply_updates(params, epsilon))
    return perturbed_grads, SamState(
        perturbation_norm=optax.tree.norm(epsilon).astype(jnp.float32),
        sharpness=(perturbed_value - value).astype(jnp.float32))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def find_sam_state(opt_state: Any) -> SamState:
  found = [node for node in jax.tree.leaves(opt_state, is_leaf=lambda n: isinstance(n, SamState))
           if isinstance(node, SamState)]
  if not found:
    raise ValueError("the optimizer state holds no SamState; chain sam_gradient(...) first.")
  return found[0]


def sam_metrics(opt_state: Any) -> dict[str, jax.Array]:
  """train_metrics of a SAM submission."""
  state = find_sam_state(opt_state)
  return {"perturbation_norm": state.perturbation_norm, "sharpness": state.sharpness}
