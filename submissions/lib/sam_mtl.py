"""SAM-MTL: per-task sharpness-aware perturbations, task and flat components aggregated apart.

Phan et al. 2022, "Improving Multi-task Learning via Seeking Task-based Flat Regions"
(Algorithm 1): for each task k, ε_k = ρ g_k / ‖g_k‖ with g_k = ∇L_k(θ), and the SAM gradient
g_k^SAM = ∇L_k(θ + ε_k) splits into the task component g_k (the loss gradient) and the flat
component h_k = g_k^SAM − g_k. Each set is aggregated with the same gradient aggregator
(submissions/lib/aggregators.py) and the direction is agg(g_1..T) + agg(h_1..T); chain a base
optimizer after it. With one task and linear scalarisation it is plain SAM (checked in
tests/submissions/sam_mtl_test.py, with the update rule on a two-task quadratic by hand).

The task gradients at θ come from the step's `task_grads_fn`; the T gradients at T different
points from one jax.vmap over tasks of the gradient of task k's loss at θ + ε_k, through the
step's `task_value_fn(params) -> [T]`. Cost: one forward and T backward passes for the g_k,
plus T forward-and-backward passes at the perturbed points (each evaluates the whole model).
The perturbation covers all parameters; a task-specific head's entries only move with their
own task's ε_k (the other tasks' gradients there are zero), which is the paper's plain SAM on
task-specific parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from submissions.lib import aggregators
from submissions.lib.mtl import missing_task_gradients, step_key

_TINY = 1e-12


class SamMtlState(NamedTuple):
  count: jax.Array  # int32, steps taken (the aggregator's key is folded from it)
  perturbation_norm: jax.Array  # float32, mean over tasks of ‖ε_k‖
  sharpness: jax.Array  # float32, mean over tasks of L_k(θ + ε_k) − L_k(θ)
  conflicting_pairs: jax.Array  # int32, task-component pairs with g_i · g_j < 0
  flat_conflicting_pairs: jax.Array  # int32, flat-component pairs with h_i · h_j < 0


def sam_mtl_gradient(aggregator: aggregators.Aggregator, rho: float,
                     seed: int = 0) -> optax.GradientTransformationExtraArgs:
  """Replaces the gradient with agg(task components) + agg(flat components)."""
  if rho < 0:
    raise ValueError(f"SAM-MTL's rho must be >= 0, got {rho}.")

  def init_fn(params: optax.Params) -> SamMtlState:
    del params
    zero, none = jnp.zeros([], jnp.float32), jnp.zeros([], jnp.int32)
    return SamMtlState(none, zero, zero, none, none)

  def update_fn(updates: optax.Updates, state: SamMtlState, params: optax.Params | None = None,
                *, task_grads_fn: Any = None, task_values: jax.Array | None = None,
                task_value_fn: Callable[[Any], jax.Array] | None = None,
                **extra_args: Any) -> tuple[optax.Updates, SamMtlState]:
    del updates, extra_args
    if task_grads_fn is None or task_value_fn is None:
      raise missing_task_gradients("sam_mtl_gradient (task_grads_fn and task_value_fn)")
    task_grads = task_grads_fn(params)
    gram_TxT = aggregators.gram_matrix(task_grads)
    norms_T = jnp.sqrt(jnp.maximum(jnp.diag(gram_TxT), 0.0))
    scale_T = rho / (norms_T + _TINY)
    epsilons = jax.tree.map(
        lambda g: (scale_T.reshape((-1,) + (1,) * (g.ndim - 1)) * g).astype(g.dtype), task_grads)

    def task_value_and_grad(k: jax.Array, epsilon_k: Any) -> tuple[jax.Array, Any]:
      perturbed = optax.apply_updates(params, epsilon_k)
      return jax.value_and_grad(lambda p: task_value_fn(p)[k])(perturbed)

    num_tasks = norms_T.shape[0]
    perturbed_values_T, perturbed_grads = jax.vmap(task_value_and_grad)(
        jnp.arange(num_tasks), epsilons)
    flat = jax.tree.map(lambda s, g: s - g, perturbed_grads, task_grads)
    flat_gram_TxT = aggregators.gram_matrix(flat)
    key = step_key(seed, state.count)
    task_key, flat_key = jax.random.split(key)
    direction = jax.tree.map(
        lambda a, b: a + b,
        aggregators.combine(aggregator(gram_TxT, task_key), task_grads),
        aggregators.combine(aggregator(flat_gram_TxT, flat_key), flat))
    values_T = task_value_fn(params) if task_values is None else task_values
    return direction, SamMtlState(
        count=optax.safe_int32_increment(state.count),
        perturbation_norm=jnp.mean(norms_T * scale_T).astype(jnp.float32),
        sharpness=jnp.mean(perturbed_values_T - values_T).astype(jnp.float32),
        conflicting_pairs=aggregators.conflicting_pairs(gram_TxT),
        flat_conflicting_pairs=aggregators.conflicting_pairs(flat_gram_TxT))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sam_mtl_metrics(opt_state: Any) -> dict[str, jax.Array]:
  """train_metrics of a SAM-MTL submission."""
  found = [n for n in jax.tree.leaves(opt_state, is_leaf=lambda n: isinstance(n, SamMtlState))
           if isinstance(n, SamMtlState)]
  if not found:
    raise ValueError("the optimizer state holds no SamMtlState; chain sam_mtl_gradient first.")
  state = found[0]
  return {"perturbation_norm": state.perturbation_norm, "sharpness": state.sharpness,
          "conflicting_pairs": state.conflicting_pairs,
          "flat_conflicting_pairs": state.flat_conflicting_pairs}
