"""The contracts between workloads, submissions and the harness.

Names and meaning follow MLCommons AlgoPerf's `algoperf/spec.py`, so a JAX submission written
for AlgoPerf runs here with only its imports changed (`from algoperf_lab import spec`).
Beyond AlgoPerf: workloads name the logical axes of their parameters (for sharding), declare
whether their target metric is minimised or maximised, and multi-task workloads expose
per-task losses (`num_tasks`, `per_task_loss_fn`).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias, TypedDict

import jax


class LossType(enum.Enum):
  SOFTMAX_CROSS_ENTROPY = 0
  SIGMOID_CROSS_ENTROPY = 1
  MEAN_SQUARED_ERROR = 2
  CTC_LOSS = 3
  MEAN_ABSOLUTE_ERROR = 4


class ForwardPassMode(enum.Enum):
  TRAIN = 0
  EVAL = 1


class ParameterType(enum.Enum):
  WEIGHT = 0
  BIAS = 1
  CONV_WEIGHT = 2
  BATCH_NORM_SCALE = 3
  BATCH_NORM_BIAS = 4
  LAYER_NORM_SCALE = 5
  LAYER_NORM_BIAS = 6
  EMBEDDING = 7
  ATTENTION_Q = 8
  ATTENTION_K = 9
  ATTENTION_V = 10
  ATTENTION_OUT = 11
  ATTENTION_QKV = 12
  ATTENTION_KV = 13
  ATTENTION_BIAS = 14


class TargetDirection(enum.Enum):
  """Whether a workload's target metric must fall below or rise above its target."""

  LOWER_IS_BETTER = "lower"
  HIGHER_IS_BETTER = "higher"


class ShapeTuple:
  """A parameter shape as AlgoPerf exposes it: `workload.param_shapes` leaves have `.shape_tuple`."""

  def __init__(self, shape_tuple: tuple[int, ...]):
    self.shape_tuple = tuple(shape_tuple)

  def __repr__(self) -> str:
    return f"ShapeTuple({self.shape_tuple})"

  def __eq__(self, other: object) -> bool:
    return isinstance(other, ShapeTuple) and self.shape_tuple == other.shape_tuple

  def __hash__(self) -> int:
    return hash(self.shape_tuple)


class TrainingCompleteError(Exception):
  """Raised by a submission's `update_params` to say it has finished training."""


ParameterContainer: TypeAlias = Any  # a pytree of arrays
ParameterTypeTree: TypeAlias = Any  # the same tree with ParameterType leaves
ParameterShapeTree: TypeAlias = Any  # the same tree with ShapeTuple leaves
ModelAuxiliaryState: TypeAlias = Any
OptimizerState: TypeAlias = Any  # any pytree, or a tuple such as (optax_state, update_fn)
Hyperparameters: TypeAlias = Any  # attribute-accessible record (a namedtuple)
Batch: TypeAlias = dict[str, Any]
RandomState: TypeAlias = jax.Array
EvalResults: TypeAlias = list[tuple[int, dict[str, float]]]
UpdateReturn: TypeAlias = tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
InitOptimizerFn: TypeAlias = Any
UpdateParamsFn: TypeAlias = Any
DataSelectionFn: TypeAlias = Any


class LossDict(TypedDict):
  """What `Workload.loss_fn` returns, with AlgoPerf's keys."""

  summed: jax.Array
  n_valid_examples: jax.Array
  per_example: jax.Array


class Workload(abc.ABC):
  """A model, its data, loss, evaluation and targets: AlgoPerf's Workload contract.

  Subclasses implement the abstract members. `param_shapes` and `model_params_types` are
  available after `init_model_fn` has run, as in AlgoPerf.
  """

  # The name AlgoPerf-form submissions receive in get_batch_size(workload_name).
  name: str = ""
  size: str = ""

  def __init__(self) -> None:
    self._param_shapes: ParameterShapeTree | None = None
    self._param_types: ParameterTypeTree | None = None
    self.metrics_logger = None  # AlgoPerf submissions may log through this when not None.

  # -- targets and budgets -------------------------------------------------------------------
  @property
  @abc.abstractmethod
  def target_metric_name(self) -> str:
    """The metric compared with the targets, without its split prefix (e.g. 'bits_per_byte')."""

  @property
  @abc.abstractmethod
  def target_direction(self) -> TargetDirection:
    ...

  @property
  @abc.abstractmethod
  def validation_target_value(self) -> float:
    ...

  @property
  @abc.abstractmethod
  def test_target_value(self) -> float:
    ...

  @property
  @abc.abstractmethod
  def max_allowed_runtime_sec(self) -> float:
    ...

  @property
  @abc.abstractmethod
  def eval_period_time_sec(self) -> float:
    ...

  @property
  @abc.abstractmethod
  def step_hint(self) -> int:
    """Roughly how many steps a good submission needs; schedules are set from it."""

  @property
  @abc.abstractmethod
  def loss_type(self) -> LossType:
    ...

  @property
  @abc.abstractmethod
  def default_batch_size(self) -> int:
    """The global batch size used when a submission's get_batch_size does not know this workload."""

  def has_reached_validation_target(self, eval_result: Mapping[str, float]) -> bool:
    return self._meets(eval_result[f"validation/{self.target_metric_name}"],
                       self.validation_target_value)

  def has_reached_test_target(self, eval_result: Mapping[str, float]) -> bool:
    return self._meets(eval_result[f"test/{self.target_metric_name}"], self.test_target_value)

  def _meets(self, value: float, target: float) -> bool:
    if self.target_direction is TargetDirection.LOWER_IS_BETTER:
      return value <= target
    return value >= target

  # -- model -----------------------------------------------------------------------------------
  @property
  def param_shapes(self) -> ParameterShapeTree:
    if self._param_shapes is None:
      raise ValueError("param_shapes is set by init_model_fn(); call it first.")
    return self._param_shapes

  @property
  def model_params_types(self) -> ParameterTypeTree:
    if self._param_types is None:
      raise ValueError("model_params_types is set by init_model_fn(); call it first.")
    return self._param_types

  @property
  def param_logical_axes(self) -> Any:
    """A tree like the params whose leaves are tuples of logical axis names (for sharding)."""
    raise NotImplementedError(f"{type(self).__name__} does not name its parameters' axes.")

  @abc.abstractmethod
  def init_model_fn(self, rng: RandomState) -> tuple[ParameterContainer, ModelAuxiliaryState]:
    ...

  @abc.abstractmethod
  def model_fn(self, params: ParameterContainer, augmented_and_preprocessed_input_batch: Batch,
               model_state: ModelAuxiliaryState, mode: ForwardPassMode, rng: RandomState,
               update_batch_norm: bool,
               dropout_rate: float | None = None) -> tuple[jax.Array, ModelAuxiliaryState]:
    ...

  @abc.abstractmethod
  def loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
              mask_batch: jax.Array | None = None, label_smoothing: float = 0.0) -> LossDict:
    ...

  def is_output_params(self, param_key: str) -> bool:
    return False

  # -- multi-task (beyond AlgoPerf) ------------------------------------------------------------
  @property
  def num_tasks(self) -> int:
    """T, the number of tasks whose losses `per_task_loss_fn` separates (1 if single-task)."""
    return 1

  def per_task_loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
                       mask_batch: jax.Array | None = None) -> jax.Array:
    """[T] mean loss of each task over its valid labels (0 for a task with none in the batch).

    Uses the same per-label loss as `loss_fn` (no label smoothing); jit-safe. For
    multi-task training algorithms (SAM-MTL, PCGrad, MGDA, ...) that take per-task gradients.
    Weighted by each task's count of valid labels and divided by `n_valid_examples`, it gives
    `loss_fn(...)["summed"] / loss_fn(...)["n_valid_examples"]`.
    """
    raise NotImplementedError(f"{type(self).__name__} is single-task: it has no per-task losses.")

  # -- data and evaluation ---------------------------------------------------------------------
  @abc.abstractmethod
  def build_input_queue(self, data_rng: RandomState, split: str, data_dir: str | None,
                        global_batch_size: int) -> Iterator[Batch]:
    ...

  def _build_input_queue(self, data_rng: RandomState, split: str, data_dir: str | None,
                         global_batch_size: int, **kwargs: Any) -> Iterator[Batch]:
    """AlgoPerf's name for build_input_queue."""
    del kwargs
    return self.build_input_queue(data_rng, split, data_dir, global_batch_size)

  @abc.abstractmethod
  def eval_model(self, global_batch_size: int, params: ParameterContainer,
                 model_state: ModelAuxiliaryState, rng: RandomState, data_dir: str | None,
                 imagenet_v2_data_dir: str | None = None,
                 global_step: int = 0) -> dict[str, float]:
    """Metrics on the train-eval, validation and test splits, keys like 'validation/loss'."""
