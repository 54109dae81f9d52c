"""Multi-task gradient aggregation as an optax transformation reading the step's task gradients.

`aggregate_task_gradients(aggregator, num_tasks)` replaces the incoming (total-loss) gradient
with Σ_k w_k g_k, where the g_k come from the step's `task_grads_fn(params)` (one jax.jacrev,
a vmap of VJPs over tasks) and the weights w from an aggregator of
submissions/lib/aggregators.py. Chain it before any base optimizer. The last step's weights
and conflict count are kept in the state for `train_metrics`. Randomised aggregators (PCGrad's
task order) get a key folded from the step count, so a run is deterministic and resumable.
Linear scalarisation needs no Gram matrix: `mean_task_gradient` keeps the step's own loss
gradient where the workload declares that its loss is the mean of its task losses
(`loss_is_mean_of_task_losses`), and otherwise differentiates the mean of
`task_value_fn(params)` once instead of forming the T task gradients.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algoperf_lab import spec
from submissions.lib import aggregators


class SingleTaskWorkloadError(spec.WorkloadOptionError):
  """A multi-task submission was run on a workload with one task."""


class AggregationState(NamedTuple):
  count: jax.Array  # int32, steps taken (PCGrad's key is folded from it)
  weights: jax.Array  # [T] float32, the last step's task weights
  conflicting_pairs: jax.Array  # int32, task pairs with g_i · g_j < 0 at the last step


def require_tasks(workload: spec.Workload, submission: str) -> int:
  """The workload's task count; a one-line error when it has a single task."""
  num_tasks = int(getattr(workload, "num_tasks", 1))
  if num_tasks <= 1:
    raise SingleTaskWorkloadError(
        f"{submission} aggregates per-task gradients, but workload "
        f"{getattr(workload, 'name', '?')!r} has one task; run it on a multi-task workload "
        "(gnn, gnn_noisy_task, gnn_low_resource_task).")
  return num_tasks


def missing_task_gradients(name: str, extra: str = "task_grads_fn") -> ValueError:
  return ValueError(f"{name} needs the step's {extra} extra argument, which the lab "
                    "passes on multi-task workloads only; run it on gnn.")


def step_key(seed: int, count: jax.Array) -> jax.Array:
  return jax.random.fold_in(jax.random.PRNGKey(seed), count)


def aggregate_task_gradients(aggregator: aggregators.Aggregator, num_tasks: int,
                             seed: int = 0) -> optax.GradientTransformationExtraArgs:
  """Replaces the gradient with the aggregate of the task gradients at the current params."""

  def init_fn(params: optax.Params) -> AggregationState:
    del params
    return AggregationState(count=jnp.zeros([], jnp.int32),
                            weights=jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32),
                            conflicting_pairs=jnp.zeros([], jnp.int32))

  def update_fn(updates: optax.Updates, state: AggregationState,
                params: optax.Params | None = None, *, task_grads_fn: Any = None,
                **extra_args: Any) -> tuple[optax.Updates, AggregationState]:
    del updates, extra_args
    if task_grads_fn is None:
      raise missing_task_gradients("aggregate_task_gradients")
    task_grads = task_grads_fn(params)
    gram_TxT = aggregators.gram_matrix(task_grads)
    weights_T = aggregator(gram_TxT, step_key(seed, state.count))
    return aggregators.combine(weights_T, task_grads), AggregationState(
        count=optax.safe_int32_increment(state.count), weights=weights_T.astype(jnp.float32),
        conflicting_pairs=aggregators.conflicting_pairs(gram_TxT))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def loss_is_mean_of_task_losses(workload: spec.Workload) -> bool:
  """Whether the workload declares that its mean loss equals the mean of its per-task losses
  on every training batch (gnn and gnn_noisy_task: every molecule labels every task;
  `spec.Workload.loss_is_mean_of_task_losses`, False unless a workload says so). A workload
  object without the property (a user's own, not derived from spec.Workload) is taken not to."""
  return bool(getattr(workload, "loss_is_mean_of_task_losses", False))


def mean_task_gradient(num_tasks: int,
                       loss_is_task_mean: bool = False) -> optax.GradientTransformationExtraArgs:
  """Linear scalarisation's direction ∇ (1/T) Σ_k L_k, with no per-task gradient.

  The same direction as `aggregate_task_gradients(aggregators.linear_scalarisation, T)`
  (uniform weights need no Gram matrix). With `loss_is_task_mean` (the workload's loss is that
  mean already, see `loss_is_mean_of_task_losses`) the incoming gradient is it, and the step
  costs what the base optimizer's costs; otherwise one forward and one backward pass of
  `task_value_fn` on top of the step's own, where masked labels weigh the tasks unequally in
  the loss.
  """

  def init_fn(params: optax.Params) -> optax.EmptyState:
    del params
    return optax.EmptyState()

  def update_fn(updates: optax.Updates, state: optax.EmptyState,
                params: optax.Params | None = None, *, task_value_fn: Any = None,
                **extra_args: Any) -> tuple[optax.Updates, optax.EmptyState]:
    del extra_args
    if loss_is_task_mean:
      return updates, state
    if task_value_fn is None:
      raise missing_task_gradients("mean_task_gradient", "task_value_fn")
    return jax.grad(lambda p: jnp.sum(task_value_fn(p)) / num_tasks)(params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def aggregated_optimizer(name: str, workload: spec.Workload,
                         base: optax.GradientTransformation) -> optax.GradientTransformation:
  """Task gradients combined by the aggregator `name`, then `base` (refuses single-task
  workloads): the whole make_optimizer of each aggregator submission in submissions/mtl/."""
  num_tasks = require_tasks(workload, name)
  return optax.chain(aggregate_task_gradients(aggregators.make_aggregator(name), num_tasks), base)


def weight_metrics(prefix: str, weights_T: jax.Array) -> dict[str, jax.Array]:
  """One scalar per task weight (metrics.jsonl holds scalars), e.g. `weight_3`."""
  return {f"{prefix}{k}": weights_T[k] for k in range(weights_T.shape[0])}


def find_state(opt_state: Any, kind: type) -> Any:
  """The first node of type `kind` in an optimizer state (e.g. inside an optax.chain)."""
  found = [node for node in jax.tree.leaves(opt_state, is_leaf=lambda n: isinstance(n, kind))
           if isinstance(node, kind)]
  if not found:
    raise ValueError(f"the optimizer state holds no {kind.__name__}.")
  return found[0]


def aggregation_metrics(opt_state: Any) -> dict[str, jax.Array]:
  """train_metrics of an aggregating submission: conflicts and the task weights."""
  state = find_state(opt_state, AggregationState)
  return {"conflicting_pairs": state.conflicting_pairs,
          **weight_metrics("weight_", state.weights)}
