"""Runs an optax-form submission through AlgoPerf's functions with one jitted train step.

The step is built once, in `init_optimizer_state` (initialisation time, untimed), from the
submission's GradientTransformation; it is compiled on its first call (timed, as AlgoPerf
counts compilation) and donates the parameter, model-state and optimizer-state buffers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import optax
from jax.sharding import Mesh, NamedSharding

from algoperf_lab import jax_sharding_utils, spec
from algoperf_lab.parallel import partitioning

# Hyperparameters the lab's train step reads for every optax-form submission.
HARNESS_HPARAMS = frozenset({"dropout_rate", "label_smoothing"})

TrainStep = Callable[[Any, Any, Any, spec.Batch, jax.Array], tuple[Any, Any, Any, dict[str, jax.Array]]]


@dataclasses.dataclass(frozen=True)
class StepShardings:
  """Where the train step's inputs and outputs live on the mesh."""

  params: Any
  opt_state: Any
  replicated: NamedSharding
  batch: NamedSharding


def step_shardings(workload: spec.Workload, optimizer: optax.GradientTransformation,
                   params: Any, mesh: Mesh, strategy: str) -> StepShardings:
  """Parameter and optimizer-state shardings for `strategy` ("replicated" or "fsdp")."""
  try:
    logical_axes = workload.param_logical_axes
  except NotImplementedError:
    logical_axes = None
  params_shardings = partitioning.param_shardings(params, logical_axes, mesh, strategy)  # type: ignore[arg-type]
  abstract_opt_state = jax.eval_shape(optimizer.init, params)
  opt_shardings = partitioning.optimizer_state_shardings(abstract_opt_state, params,
                                                         params_shardings, mesh)
  return StepShardings(params=params_shardings, opt_state=opt_shardings,
                       replicated=partitioning.replicated(mesh),
                       batch=partitioning.batch_sharding(mesh))


def build_train_step(workload: spec.Workload, optimizer: optax.GradientTransformation,
                     label_smoothing: float, dropout_rate: float | None,
                     shardings: StepShardings | None = None) -> TrainStep:
  """(params, model_state, opt_state, batch, rng) -> (params, model_state, opt_state, metrics).

  With `shardings`, inputs and outputs are pinned to them (FSDP or replicated on the lab's
  mesh); without, to AlgoPerf's one-axis mesh (replicated state, batch split on its rows).
  """

  def train_step(params: Any, model_state: Any, opt_state: Any, batch: spec.Batch,
                 rng: jax.Array) -> tuple[Any, Any, Any, dict[str, jax.Array]]:
    def mean_loss(p: Any) -> tuple[jax.Array, Any]:
      logits, new_model_state = workload.model_fn(
          p, batch, model_state, spec.ForwardPassMode.TRAIN, rng, update_batch_norm=True,
          dropout_rate=dropout_rate)
      losses = workload.loss_fn(batch["targets"], logits, batch.get("weights"), label_smoothing)
      return losses["summed"] / losses["n_valid_examples"], new_model_state

    (loss, new_model_state), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    return new_params, new_model_state, new_opt_state, {"loss": loss,
                                                        "grad_norm": optax.tree.norm(grads)}

  # Pinned shardings: the outputs come back laid out exactly as the inputs went in, so the
  # second call reuses the first call's executable.
  if shardings is None:
    replicated = jax_sharding_utils.get_replicate_sharding()
    shardings = StepShardings(params=replicated, opt_state=replicated, replicated=replicated,
                              batch=jax_sharding_utils.get_batch_dim_sharding())
  r = shardings.replicated
  return jax.jit(train_step, donate_argnums=(0, 1, 2),
                 in_shardings=(shardings.params, r, shardings.opt_state, shardings.batch, r),
                 out_shardings=(shardings.params, r, shardings.opt_state, r))


class OptaxFormAdapter:
  """AlgoPerf's init_optimizer_state / update_params / data_selection around make_optimizer."""

  def __init__(self, make_optimizer: Callable[[Any, spec.Workload], optax.GradientTransformation]):
    self._make_optimizer = make_optimizer
    self._train_step: TrainStep | None = None
    self._latest_metrics: dict[str, jax.Array] | None = None
    self._mesh: Mesh | None = None
    self._strategy = "replicated"
    self._shardings: StepShardings | None = None

  def use_mesh(self, mesh: Mesh, strategy: str) -> None:
    """Called by the harness before init_optimizer_state: where to put the training state."""
    self._mesh, self._strategy = mesh, strategy

  def place_params(self, params: Any) -> Any:
    """Moves freshly initialised parameters to the step's parameter shardings (untimed)."""
    if self._shardings is None:
      return params
    return jax.device_put(params, self._shardings.params)

  def get_batch_size(self, workload_name: str) -> int:
    raise KeyError(workload_name)  # no preference: the workload's default batch size is used

  def init_optimizer_state(self, workload: spec.Workload, model_params: Any, model_state: Any,
                           hyperparameters: Any, rng: jax.Array) -> Any:
    del model_state, rng
    optimizer = self._make_optimizer(hyperparameters, workload)
    if not isinstance(optimizer, optax.GradientTransformation):
      raise TypeError(f"make_optimizer must return an optax.GradientTransformation, "
                      f"got {type(optimizer).__name__}.")
    if self._mesh is not None:
      self._shardings = step_shardings(workload, optimizer, model_params, self._mesh,
                                       self._strategy)
    self._train_step = build_train_step(
        workload, optimizer, float(getattr(hyperparameters, "label_smoothing", 0.0)),
        getattr(hyperparameters, "dropout_rate", None), self._shardings)
    opt_state_sharding = (self._shardings.opt_state if self._shardings is not None
                          else jax_sharding_utils.get_replicate_sharding())
    return jax.jit(optimizer.init, out_shardings=opt_state_sharding)(self.place_params(model_params))

  def update_params(self, workload: spec.Workload, current_param_container: Any,
                    current_params_types: Any, model_state: Any, hyperparameters: Any,
                    batch: spec.Batch, loss_type: spec.LossType, optimizer_state: Any,
                    eval_results: Any, global_step: int, rng: jax.Array,
                    train_state: Any = None) -> spec.UpdateReturn:
    del workload, current_params_types, hyperparameters, loss_type, eval_results, global_step
    del train_state
    if self._train_step is None:
      raise RuntimeError("update_params called before init_optimizer_state.")
    params, model_state, optimizer_state, self._latest_metrics = self._train_step(
        current_param_container, model_state, optimizer_state, batch, rng)
    return optimizer_state, params, model_state

  def data_selection(self, workload: spec.Workload, input_queue: Iterator[spec.Batch],
                     optimizer_state: Any, current_param_container: Any, model_state: Any,
                     hyperparameters: Any, global_step: int, rng: jax.Array) -> spec.Batch:
    del workload, optimizer_state, current_param_container, model_state, hyperparameters
    del global_step, rng
    return next(input_queue)

  def latest_train_metrics(self) -> Mapping[str, jax.Array] | None:
    return self._latest_metrics
