"""The lab's one train step around an optax-form submission (the training-step contract).

The step is pure, `(TrainState, batch, rng) -> (TrainState, metrics)`, jitted once with pinned
shardings and donated buffers. The submission's transformation is wrapped with
`optax.with_extra_args_support` and called as `update(grads, opt_state, params, **extra)`:

- `value`: this batch's mean loss; `value_fn(params)` (also as `obj_fn`, optax.contrib.sophia's
  name): the mean loss of this batch at other parameters, same rng; `grad_fn(params, i)`: its
  gradient (the signature optax.contrib.sam's opaque mode calls);
- on multi-task workloads, `task_values` ([T] per-task losses), `task_grads_fn(params)`
  (per-task gradients, leaves with a leading T axis, from one `jax.jacrev`: a vmap of VJPs) and
  `task_value_fn(params)` ([T] per-task losses at other parameters; SAM-MTL differentiates it
  at a different point per task).

The differentiated objective is the mean loss plus `workload.auxiliary_loss(model_state)`
when the workload has one (an MoE's load-balancing loss and router z-loss, read from the
model_state `model_fn` returns inside the differentiated function); `value` and `value_fn`
are that objective, the `loss` metric stays the mean loss. `model_fn`'s new model_state (an
MoE's router bias, updated in the step) is carried to the next step, and the workload's
`train_step_metrics(model_state)` are logged with the submission's. A closure nothing calls
is never traced, and XLA drops values nothing reads, so a plain optimizer pays nothing for
them. `train_metrics(opt_state, params)`, when the submission
defines it, is traced inside the step. AlgoPerf's `init_optimizer_state` / `update_params` /
`data_selection` are provided on top, so the harness drives both forms alike.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import jax
import optax
from jax.sharding import Mesh, NamedSharding

from algoperf_lab import jax_sharding_utils, spec
from algoperf_lab.parallel import partitioning

# Hyperparameters the lab's train step reads for every optax-form submission.
HARNESS_HPARAMS = frozenset({"dropout_rate", "label_smoothing"})

TrainMetricsFn = Callable[[Any, Any], Mapping[str, Any]]


class TrainState(NamedTuple):
  """Everything the train step carries from one step to the next."""

  params: Any
  model_state: Any
  opt_state: Any


TrainStep = Callable[[TrainState, spec.Batch, jax.Array], tuple[TrainState, dict[str, jax.Array]]]


@dataclasses.dataclass(frozen=True)
class StepShardings:
  """Where the train step's inputs and outputs live on the mesh."""

  params: Any
  opt_state: Any
  replicated: NamedSharding
  batch: NamedSharding


def logical_axes(workload: spec.Workload) -> Any:
  """The workload's param_logical_axes, or None for a workload that names none."""
  try:
    return workload.param_logical_axes
  except NotImplementedError:
    return None


def step_shardings(workload: spec.Workload, optimizer: optax.GradientTransformation,
                   params: Any, mesh: Mesh, strategy: str) -> StepShardings:
  """Parameter and optimizer-state shardings for `strategy` ("replicated" or "fsdp").

  `params` may be abstract (shapes only): nothing is materialised here.
  """
  params_shardings = partitioning.param_shardings(params, logical_axes(workload), mesh, strategy)  # type: ignore[arg-type]
  abstract_opt_state = jax.eval_shape(optimizer.init, params)
  opt_shardings = partitioning.optimizer_state_shardings(abstract_opt_state, params,
                                                         params_shardings, mesh)
  return StepShardings(params=params_shardings, opt_state=opt_shardings,
                       replicated=partitioning.replicated(mesh),
                       batch=partitioning.batch_sharding(mesh))


def algoperf_shardings(params: Any, opt_state: Any) -> StepShardings:
  """AlgoPerf's one-axis mesh: replicated state, batch split along its rows."""
  replicated = jax_sharding_utils.get_replicate_sharding()
  return StepShardings(params=jax.tree.map(lambda _: replicated, params),
                       opt_state=jax.tree.map(lambda _: replicated, opt_state),
                       replicated=replicated, batch=jax_sharding_utils.get_batch_dim_sharding())


def _extra_args(workload: spec.Workload, loss_at: Callable[[Any], tuple[jax.Array, Any]],
                loss: jax.Array, logits: jax.Array, batch: spec.Batch,
                task_losses_at: Callable[[Any], jax.Array] | None) -> dict[str, Any]:
  """The keyword extras every update receives (see the module docstring)."""

  def value_fn(params: Any) -> jax.Array:
    return loss_at(params)[0]

  def grad_fn(params: Any, i: Any = None) -> Any:
    del i  # optax.contrib.sam passes a step index; the batch here is fixed
    return jax.grad(value_fn)(params)

  extra: dict[str, Any] = {"value": loss, "value_fn": value_fn, "obj_fn": value_fn,
                           "grad_fn": grad_fn}
  if task_losses_at is not None:
    extra["task_values"] = workload.per_task_loss_fn(batch["targets"], logits,
                                                     batch.get("weights"))
    extra["task_grads_fn"] = jax.jacrev(task_losses_at)
    extra["task_value_fn"] = task_losses_at  # [T] losses at other params (SAM-MTL)
  return extra


def _accepted_extras(update: Callable[..., Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
  """A filter keeping the extra arguments `update` can take (all of them with **kwargs).

  optax's own extra-args transformations take **extra_args; a few (optax.contrib.sam's opaque
  update) name only the ones they read and refuse the rest.
  """
  try:
    parameters = inspect.signature(update).parameters
  except (TypeError, ValueError):
    return lambda extra: extra
  if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
    return lambda extra: extra
  return lambda extra: {k: v for k, v in extra.items() if k in parameters}


class SubmissionReturnError(TypeError):
  """make_optimizer, or its transformation's update, returned what the step cannot use."""


def _check_updates_match_params(updates: Any, params: Any) -> None:
  """At trace time: the transformation's updates have the parameters' tree and shapes."""
  if jax.tree.structure(updates) != jax.tree.structure(params):
    raise SubmissionReturnError(
        "the update of make_optimizer's transformation returned a tree with "
        f"{len(jax.tree.leaves(updates))} leaves where the parameters have "
        f"{len(jax.tree.leaves(params))} (or another nesting); it must return updates shaped "
        "like the parameters.")
  for (path, update), param in zip(jax.tree_util.tree_leaves_with_path(updates),
                                   jax.tree.leaves(params)):
    if getattr(update, "shape", None) != getattr(param, "shape", None):
      raise SubmissionReturnError(
          f"the update of make_optimizer's transformation returned shape "
          f"{getattr(update, 'shape', None)} for parameter {jax.tree_util.keystr(path)} of "
          f"shape {param.shape}; updates must be shaped like the parameters.")


def build_train_step(workload: spec.Workload, optimizer: optax.GradientTransformation,
                     label_smoothing: float, dropout_rate: float | None,
                     shardings: StepShardings,
                     train_metrics: TrainMetricsFn | None = None) -> TrainStep:
  """The jitted pure step; inputs and outputs pinned to `shardings`, state buffers donated."""
  optimizer = optax.with_extra_args_support(optimizer)
  accepted = _accepted_extras(optimizer.update)
  multi_task = workload.num_tasks > 1

  def train_step(state: TrainState, batch: spec.Batch,
                 rng: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
    def forward(params: Any) -> tuple[jax.Array, Any]:
      return workload.model_fn(params, batch, state.model_state, spec.ForwardPassMode.TRAIN, rng,
                               update_batch_norm=True, dropout_rate=dropout_rate)

    def loss_at(params: Any) -> tuple[jax.Array, tuple[Any, jax.Array, jax.Array]]:
      logits, new_model_state = forward(params)
      losses = workload.loss_fn(batch["targets"], logits, batch.get("weights"), label_smoothing)
      loss = losses["summed"] / losses["n_valid_examples"]
      auxiliary = workload.auxiliary_loss(new_model_state)
      objective = loss if auxiliary is None else loss + auxiliary
      return objective, (new_model_state, logits, loss)

    def task_losses_at(params: Any) -> jax.Array:
      return workload.per_task_loss_fn(batch["targets"], forward(params)[0], batch.get("weights"))

    (objective, (new_model_state, logits, loss)), grads = jax.value_and_grad(
        loss_at, has_aux=True)(state.params)
    extra = _extra_args(workload, loss_at, objective, logits, batch,
                        task_losses_at if multi_task else None)
    updates, new_opt_state = optimizer.update(grads, state.opt_state, state.params,
                                              **accepted(extra))
    _check_updates_match_params(updates, state.params)
    new_params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
    if workload.auxiliary_loss(new_model_state) is not None:
      metrics["objective"] = objective
    metrics.update(workload.train_step_metrics(new_model_state))
    if train_metrics is not None:
      metrics.update(train_metrics(new_opt_state, new_params))
    return TrainState(new_params, new_model_state, new_opt_state), metrics

  # Pinned shardings: the outputs come back laid out exactly as the inputs went in, so the
  # second call reuses the first call's executable.
  r = shardings.replicated
  state_shardings = TrainState(shardings.params, r, shardings.opt_state)
  return jax.jit(train_step, donate_argnums=(0,),
                 in_shardings=(state_shardings, shardings.batch, r),
                 out_shardings=(state_shardings, r))


class OptaxFormAdapter:
  """AlgoPerf's init_optimizer_state / update_params / data_selection around make_optimizer."""

  def __init__(self, make_optimizer: Callable[[Any, spec.Workload], optax.GradientTransformation],
               train_metrics: TrainMetricsFn | None = None):
    self._make_optimizer = make_optimizer
    self._train_metrics = train_metrics
    self.train_step: TrainStep | None = None
    self._latest_metrics: dict[str, jax.Array] | None = None
    self._mesh: Mesh | None = None
    self._strategy = "replicated"
    self._shardings: StepShardings | None = None

  def use_mesh(self, mesh: Mesh, strategy: str) -> None:
    """Called by the harness before init_optimizer_state: where to put the training state."""
    self._mesh, self._strategy = mesh, strategy

  def init_model(self, workload: spec.Workload, rng: jax.Array) -> tuple[Any, Any]:
    """The workload's parameters, initialised straight into their shardings on the mesh.

    `jax.eval_shape` gives the shapes (and records the logical axes); one jitted init with
    `out_shardings` then writes each parameter where it lives, never whole on one device.
    """
    abstract_params, _ = jax.eval_shape(workload.init_model_fn, rng)
    if self._mesh is None:
      return workload.init_model_fn(rng)
    params_shardings = partitioning.param_shardings(abstract_params, logical_axes(workload),  # type: ignore[arg-type]
                                                    self._mesh, self._strategy)
    return jax.jit(workload.init_model_fn,
                   out_shardings=(params_shardings, partitioning.replicated(self._mesh)))(rng)

  def get_batch_size(self, workload_name: str) -> int:
    raise KeyError(workload_name)  # no preference: the workload's default batch size is used

  def init_optimizer_state(self, workload: spec.Workload, model_params: Any, model_state: Any,
                           hyperparameters: Any, rng: jax.Array) -> Any:
    del model_state, rng
    optimizer = self._make_optimizer(hyperparameters, workload)
    if not isinstance(optimizer, optax.GradientTransformation):
      raise SubmissionReturnError(
          f"make_optimizer returned {type(optimizer).__name__}; it must return an "
          "optax.GradientTransformation (e.g. `return optax.adamw(1e-3)`: check for a "
          "missing return).")
    if self._mesh is not None:
      self._shardings = step_shardings(workload, optimizer, model_params, self._mesh,
                                       self._strategy)
    else:
      self._shardings = algoperf_shardings(model_params, jax.eval_shape(optimizer.init,
                                                                        model_params))
    self.train_step = build_train_step(
        workload, optimizer, float(getattr(hyperparameters, "label_smoothing", 0.0)),
        getattr(hyperparameters, "dropout_rate", None), self._shardings, self._train_metrics)
    return jax.jit(optimizer.init, out_shardings=self._shardings.opt_state)(model_params)

  def update_params(self, workload: spec.Workload, current_param_container: Any,
                    current_params_types: Any, model_state: Any, hyperparameters: Any,
                    batch: spec.Batch, loss_type: spec.LossType, optimizer_state: Any,
                    eval_results: Any, global_step: int, rng: jax.Array,
                    train_state: Any = None) -> spec.UpdateReturn:
    del workload, current_params_types, hyperparameters, loss_type, eval_results, global_step
    del train_state
    if self.train_step is None:
      raise RuntimeError("update_params called before init_optimizer_state.")
    state, self._latest_metrics = self.train_step(
        TrainState(current_param_container, model_state, optimizer_state), batch, rng)
    return state.opt_state, state.params, state.model_state

  def data_selection(self, workload: spec.Workload, input_queue: Iterator[spec.Batch],
                     optimizer_state: Any, current_param_container: Any, model_state: Any,
                     hyperparameters: Any, global_step: int, rng: jax.Array) -> spec.Batch:
    del workload, optimizer_state, current_param_container, model_state, hyperparameters
    del global_step, rng
    return next(input_queue)

  def latest_train_metrics(self) -> Mapping[str, jax.Array] | None:
    return self._latest_metrics
