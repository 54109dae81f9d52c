"""The contracts between workloads, submissions and the harness.

Names and meaning follow MLCommons AlgoPerf's `algoperf/spec.py`, so a JAX submission written
for AlgoPerf runs here with only its imports changed (`from algoperf_lab import spec`).
Beyond AlgoPerf: workloads name the logical axes of their parameters (for sharding), declare
whether their target metric is minimised or maximised, and multi-task workloads expose
per-task losses (`num_tasks`, `per_task_loss_fn`).
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import types
from collections.abc import Callable, Iterator, Mapping
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


class WorkloadOptionError(ValueError):
  """A submission's WORKLOAD_OPTIONS names an option the workload does not accept."""


class TrainingCompleteError(Exception):
  """Raised by a submission's `update_params` to say it has finished training."""


Tensor: TypeAlias = Any  # an array of any framework (AlgoPerf's name, used in annotations)
Shape: TypeAlias = tuple[int, ...] | ShapeTuple
ParameterKey: TypeAlias = str
ParameterContainer: TypeAlias = Any  # a pytree of arrays
ParameterTypeTree: TypeAlias = Any  # the same tree with ParameterType leaves
ParameterShapeTree: TypeAlias = Any  # the same tree with ShapeTuple leaves
ModelAuxiliaryState: TypeAlias = Any
ModelInitState: TypeAlias = tuple[ParameterContainer, ModelAuxiliaryState]
OptimizerState: TypeAlias = Any  # any pytree, or a tuple such as (optax_state, update_fn)
Hyperparameters: TypeAlias = Any  # attribute-accessible record (a namedtuple), or None
Batch: TypeAlias = dict[str, Any]
RandomState: TypeAlias = Any  # a jax PRNG key
Timing: TypeAlias = int
Steps: TypeAlias = int
EvalResults: TypeAlias = list[tuple[int, dict[str, float]]]
UpdateReturn: TypeAlias = tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
InitOptimizerFn: TypeAlias = Callable[..., OptimizerState]
UpdateParamsFn: TypeAlias = Callable[..., UpdateReturn]
PrepareForEvalFn: TypeAlias = Callable[..., UpdateReturn]
DataSelectionFn: TypeAlias = Callable[..., Batch]


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
  def max_allowed_cpu_sec(self) -> float | None:
    """The budget in process CPU seconds for the process_cpu clock (beyond AlgoPerf), if any."""
    return None

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

  # -- options chosen by the submission (beyond AlgoPerf) -------------------------------------
  @property
  def accepted_options(self) -> Mapping[str, str]:
    """Workload options a submission may set through WORKLOAD_OPTIONS: name -> meaning."""
    return {}

  def configure_options(self, options: Mapping[str, Any]) -> None:
    """Applies a submission's WORKLOAD_OPTIONS before the model is built; refuses unknown ones."""
    unknown = sorted(set(options) - set(self.accepted_options))
    if unknown:
      accepted = sorted(self.accepted_options) or "none"
      raise WorkloadOptionError(
          f"workload {self.name!r} does not accept the option(s) {unknown} that the submission "
          f"sets in WORKLOAD_OPTIONS; it accepts: {accepted}.")
    self._apply_options(dict(options))

  def check_batch_size(self, batch_size: int) -> None:
    """Refuses (one line) a batch size this workload, as configured, cannot use; called by
    the harness before anything is initialised or compiled. Nothing to check by default."""
    del batch_size

  def _apply_options(self, options: dict[str, Any]) -> None:
    """Subclasses with accepted options store them here (validated by name already)."""
    del options

  # -- auxiliary training terms (beyond AlgoPerf) ---------------------------------------------
  def auxiliary_loss(self, model_state: ModelAuxiliaryState) -> jax.Array | None:
    """A term the lab's optax-form step adds to the mean loss before differentiating (None:
    nothing), read from the model_state that `model_fn` just returned, so it may depend on
    the parameters (an MoE's load-balancing loss and router z-loss). AlgoPerf-form
    submissions train on `loss_fn` and add it themselves if they want it."""
    del model_state
    return None

  def train_step_metrics(self, model_state: ModelAuxiliaryState) -> dict[str, jax.Array]:
    """Scalars traced in the optax-form step from `model_fn`'s new model_state (an MoE's
    per-layer load imbalance, say); logged as `train_step/<name>`."""
    del model_state
    return {}

  def attach_metrics_logger(self, metrics_logger: Any) -> None:
    """AlgoPerf's hook for a logger that submissions may write to (None: no logger)."""
    self.metrics_logger = metrics_logger

  def output_activation_fn(self, logits_batch: Tensor, framework: str) -> Tensor:
    """Logits to probabilities according to `loss_type`, as AlgoPerf (framework 'jax' only)."""
    if framework != "jax":
      raise ValueError(f"algoperf_lab runs JAX submissions only; got framework={framework!r}.")
    activations = {LossType.SOFTMAX_CROSS_ENTROPY: jax.nn.softmax,
                   LossType.CTC_LOSS: jax.nn.softmax,
                   LossType.SIGMOID_CROSS_ENTROPY: jax.nn.sigmoid}
    return activations.get(self.loss_type, lambda z: z)(logits_batch)

  # -- multi-task (beyond AlgoPerf) ------------------------------------------------------------
  @property
  def num_tasks(self) -> int:
    """T, the number of tasks whose losses `per_task_loss_fn` separates (1 if single-task)."""
    return 1

  @property
  def loss_is_mean_of_task_losses(self) -> bool:
    """True when `loss_fn`'s mean loss always equals the mean of `per_task_loss_fn` (every
    example labels every task): then the step's loss gradient already is the uniformly
    weighted task gradient, and linear scalarisation needs no second backward pass."""
    return False

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


# -- the lab's view of a submission ------------------------------------------------------------

class SubmissionForm(enum.Enum):
  ALGOPERF = "algoperf"
  OPTAX = "optax"


class AlgoperfApi(enum.Enum):
  """The generation of AlgoPerf's JAX API an AlgoPerf-form submission is written against."""

  JIT = "jit"  # current AlgoPerf: jax.jit with shardings from jax_sharding_utils
  PMAP = "pmap"  # v0.5: jax.pmap steps, replicated state, device-leading batches


@dataclasses.dataclass
class Submission:
  """A training algorithm as the harness drives it: AlgoPerf's functions plus metadata.

  The loader builds one from a module of either form; the harness sees only this.
  """

  name: str
  source: str
  form: SubmissionForm
  module: types.ModuleType
  default_hparams: Mapping[str, Any] | None
  get_batch_size: Callable[..., int]
  init_optimizer_state: Callable[..., Any]
  update_params: Callable[..., Any]
  data_selection: Callable[..., Any]
  prepare_for_eval: Callable[..., Any] | None = None
  # Maps (optimizer_state, params) to the parameters to evaluate (averaging methods).
  eval_params: Callable[[Any, Any], Any] | None = None
  update_params_takes_train_state: bool = True
  # Hyperparameters read when present besides HPARAMS (e.g. label_smoothing, grad_clip).
  optional_hparams: frozenset[str] = frozenset()
  # Optax form only: the harness hands over the mesh and strategy; `init_model(workload, rng)`
  # then initialises the parameters straight into their shardings.
  use_mesh: Callable[[Any, str], None] | None = None
  init_model: Callable[[Any, Any], tuple[Any, Any]] | None = None
  # WORKLOAD_OPTIONS: options for the workload (e.g. MoE routing), a dict or a function of
  # the hyperparameters; the workload accepts or refuses each by name.
  workload_options: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] | None = None
  # The latest training-step metrics a submission exposes without forcing a sync (optax form).
  latest_train_metrics: Callable[[], Mapping[str, Any] | None] = lambda: None
  # AlgoPerf form only: which API generation its functions expect from the runner.
  algoperf_api: AlgoperfApi | None = None

  def resolve_workload_options(self, hparams: Any) -> dict[str, Any]:
    options = self.workload_options
    if callable(options):
      options = options(hparams)
    if options is not None and not isinstance(options, Mapping):
      raise WorkloadOptionError(
          f"{self.source}: WORKLOAD_OPTIONS must be a dict (or a function of the "
          f"hyperparameters returning one), got {type(options).__name__}.")
    return dict(options or {})


# -- the submission API, as AlgoPerf's spec documents it --------------------------------------
# A submission defines these functions itself; the ones here only document the signatures
# (AlgoPerf's spec.py has the same names), and calling one is an error.

def _documentation_only(name: str) -> NotImplementedError:
  return NotImplementedError(f"spec.{name} documents the submission API; a submission module "
                             f"defines its own {name}.")


def init_optimizer_state(workload: Workload, model_params: ParameterContainer,
                         model_state: ModelAuxiliaryState, hyperparameters: Hyperparameters,
                         rng: RandomState) -> OptimizerState:
  """Returns the initial optimizer state (any pytree, or a tuple such as (state, update_fn))."""
  raise _documentation_only("init_optimizer_state")


def update_params(workload: Workload, current_param_container: ParameterContainer,
                  current_params_types: ParameterTypeTree, model_state: ModelAuxiliaryState,
                  hyperparameters: Hyperparameters, batch: dict[str, Tensor],
                  loss_type: LossType, optimizer_state: OptimizerState,
                  eval_results: list[tuple[int, float]], global_step: int, rng: RandomState,
                  train_state: dict[str, Any] | None = None) -> UpdateReturn:
  """One training step; returns (optimizer_state, params, model_state). May raise
  TrainingCompleteError."""
  raise _documentation_only("update_params")


def prepare_for_eval(workload: Workload, current_param_container: ParameterContainer,
                     current_params_types: ParameterTypeTree, model_state: ModelAuxiliaryState,
                     hyperparameters: Hyperparameters, loss_type: LossType,
                     optimizer_state: OptimizerState, eval_results: list[tuple[int, float]],
                     global_step: int, rng: RandomState) -> UpdateReturn:
  """Readies the model for an evaluation (counted as submission time)."""
  raise _documentation_only("prepare_for_eval")


def data_selection(workload: Workload, input_queue: Iterator[dict[str, Any]],
                   optimizer_state: OptimizerState, current_param_container: ParameterContainer,
                   model_state: ModelAuxiliaryState, hyperparameters: Hyperparameters,
                   global_step: int, rng: RandomState) -> dict[str, Tensor]:
  """Picks the next training batch from the input queue (usually `next(input_queue)`)."""
  raise _documentation_only("data_selection")


def get_batch_size(workload_name: str) -> int:
  """The global batch size a submission uses on a workload."""
  raise _documentation_only("get_batch_size")
