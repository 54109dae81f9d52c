"""SAM-MTL: per-task sharpness-aware perturbations, task and flat components aggregated apart.

Phan et al. 2022, "Improving Multi-task Learning via Seeking Task-based Flat Regions"
(arXiv:2211.13723), as the authors' code computes it (VietHoang1512/FS-MTL, `nyuv2/train.py`,
the same block in city2scape/ and celeba/): for each task k, with g_k = ∇L_k(θ) and A = |θ|
(`adaptive`, the authors' default) or A = 1 (plain SAM, their `--adaptive False`),

- ε_k = ρ A² g_k / (‖A g_k‖ + 1e-12), normalised separately over the shared parameters and
  over task k's own head, each part of norm ρ (A = 1); other tasks' heads stay put;
- the SAM gradient g_k^SAM = ∇L_k(θ + ε_k) splits, on the shared parameters, into the task
  component g_k and the flat component h_k = g_k^SAM − g_k; each set is aggregated with the
  same gradient aggregator (submissions/lib/aggregators.py), from the Gram matrix of the shared
  parameters only, and the shared direction is agg(g_1..T) + agg(h_1..T);
- each head steps along its own task's SAM gradient, unaggregated.

Chain a base optimizer after it. The heads are the workload's output layer
(`task_specific`, from `Workload.is_output_params`): on the GNN it is one Dense layer with a
column and a bias entry per task, whose entries task k alone reaches, which is the authors'
`pred_task{k}` head. A workload without one has shared parameters only. With one task, no head,
A = 1 and linear scalarisation it is plain SAM (tests/submissions/sam_mtl_test.py);
tests/reference/sam_mtl_test.py runs it beside a port of the authors' step.

The task gradients at θ come from the step's `task_grads_fn`; the T gradients at T different
points from one jax.vmap over tasks of the gradient of task k's loss at θ + ε_k, through the
step's `task_value_fn(params) -> [T]`. Cost: one forward and T backward passes for the g_k,
plus T forward-and-backward passes at the perturbed points (each evaluates the whole model).
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


def sam_mtl_gradient(aggregator: aggregators.Aggregator, rho: float, adaptive: bool = True,
                     task_specific: Callable[[str], bool] | None = None,
                     seed: int = 0) -> optax.GradientTransformationExtraArgs:
  """Replaces the gradient with agg(task components) + agg(flat components) on the shared
  parameters and each task's SAM gradient on the task-specific ones.

  `task_specific(key)`: whether the top-level parameter `key` holds the per-task heads (the
  workload's `is_output_params`); None means every parameter is shared.
  """
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
    heads = _head_mask(task_specific, params)
    task_grads = task_grads_fn(params)
    weight = jax.tree.map(lambda w: jnp.abs(w) if adaptive else jnp.ones_like(w), params)
    num_tasks = jax.tree.leaves(task_grads)[0].shape[0]

    def part_scale_T(head: bool) -> jax.Array:  # ρ / (‖A g_k‖ + 1e-12) over one part
      squares = [jnp.sum(jnp.square(a[None] * g).reshape(num_tasks, -1), axis=1)
                 for a, g, h in zip(jax.tree.leaves(weight), jax.tree.leaves(task_grads),
                                    jax.tree.leaves(heads)) if h == head]
      norm_T = jnp.sqrt(sum(squares)) if squares else jnp.zeros((num_tasks,))
      return rho / (norm_T + _TINY)

    shared_scale_T, head_scale_T = part_scale_T(False), part_scale_T(True)
    epsilons = jax.tree.map(
        lambda a, g, h: ((head_scale_T if h else shared_scale_T).reshape(
            (-1,) + (1,) * (g.ndim - 1)) * (a * a)[None] * g).astype(g.dtype),
        weight, task_grads, heads)

    def task_value_and_grad(k: jax.Array, epsilon_k: Any) -> tuple[jax.Array, Any]:
      perturbed = optax.apply_updates(params, epsilon_k)
      return jax.value_and_grad(lambda p: task_value_fn(p)[k])(perturbed)

    perturbed_values_T, perturbed_grads = jax.vmap(task_value_and_grad)(
        jnp.arange(num_tasks), epsilons)
    flat = jax.tree.map(lambda s, g: s - g, perturbed_grads, task_grads)
    shared_only = lambda tree: [x for x, h in zip(jax.tree.leaves(tree),  # noqa: E731
                                                  jax.tree.leaves(heads)) if not h]
    gram_TxT = aggregators.gram_matrix(shared_only(task_grads))
    flat_gram_TxT = aggregators.gram_matrix(shared_only(flat))
    task_key, flat_key = jax.random.split(step_key(seed, state.count))
    task_part = aggregators.combine(aggregator(gram_TxT, task_key), task_grads)
    flat_part = aggregators.combine(aggregator(flat_gram_TxT, flat_key), flat)
    direction = jax.tree.map(
        lambda t, f, s, h: jnp.sum(s, axis=0) if h else t + f,
        task_part, flat_part, perturbed_grads, heads)
    values_T = task_value_fn(params) if task_values is None else task_values
    epsilon_norms_T = jnp.sqrt(sum(jnp.sum(jnp.square(e).reshape(num_tasks, -1), axis=1)
                                   for e in jax.tree.leaves(epsilons)))
    return direction, SamMtlState(
        count=optax.safe_int32_increment(state.count),
        perturbation_norm=jnp.mean(epsilon_norms_T).astype(jnp.float32),
        sharpness=jnp.mean(perturbed_values_T - values_T).astype(jnp.float32),
        conflicting_pairs=aggregators.conflicting_pairs(gram_TxT),
        flat_conflicting_pairs=aggregators.conflicting_pairs(flat_gram_TxT))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _head_mask(task_specific: Callable[[str], bool] | None, params: Any) -> Any:
  """One bool per leaf of `params`: True under the top-level keys `task_specific` names."""
  def is_head(path: tuple[Any, ...], _: Any) -> bool:
    return bool(task_specific is not None and path
                and task_specific(str(getattr(path[0], "key", path[0]))))
  return jax.tree_util.tree_map_with_path(is_head, params)


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
