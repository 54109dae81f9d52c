"""A Workload whose targets, budgets and batch size come from its config's `targets` section,
with the flax initialisation and dropout handling the lab's workloads share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import ml_collections

from algoperf_lab import jax_sharding_utils, param_types, spec
from algoperf_lab.config import ConfigError, TargetsConfig, dataclass_from_config


def _positive_batch_size(value: Any, key: str) -> int:
  """The config's batch size, refused in one line unless it is a whole number of at least 1."""
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ConfigError(f"{key}={value!r} must be a whole number of at least 1 "
                      f"(e.g. --config.batch_size=32).")
  return value


class ConfiguredWorkload(spec.Workload):
  """Reads `config.targets` (a TargetsConfig) and `config.batch_size`; subclasses add the rest."""

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__()
    self.size = size
    self.config = config
    self.targets = dataclass_from_config(TargetsConfig, config.targets, f"{self.name}.targets")
    self._batch_size = _positive_batch_size(config.batch_size, f"{self.name}.batch_size")
    self._logical_axes: Any = None

  @property
  def target_metric_name(self) -> str:
    return self.targets.metric

  @property
  def target_direction(self) -> spec.TargetDirection:
    return spec.TargetDirection(self.targets.direction)

  @property
  def validation_target_value(self) -> float:
    return self.targets.validation

  @property
  def test_target_value(self) -> float:
    return self.targets.test

  @property
  def max_allowed_runtime_sec(self) -> float:
    return self.targets.max_allowed_runtime_sec

  @property
  def max_allowed_cpu_sec(self) -> float | None:
    return self.targets.max_allowed_cpu_sec or None

  @property
  def eval_period_time_sec(self) -> float:
    return self.targets.eval_period_time_sec

  @property
  def step_hint(self) -> int:
    return self.targets.step_hint

  @property
  def default_batch_size(self) -> int:
    return self._batch_size

  @property
  def param_logical_axes(self) -> Any:
    if self._logical_axes is None:
      raise ValueError("param_logical_axes is set by init_model_fn(); call it first.")
    return self._logical_axes

  def _init_flax_params(self, init: Callable[[jax.Array], Any], rng: spec.RandomState) -> Any:
    """Runs a flax `init(rng)` whose kernels carry logical axis names, jitted and unboxed.

    Records the logical axes, `param_shapes` and `model_params_types`; returns the
    parameters replicated over every device.
    """
    self._logical_axes = nn.get_partition_spec(jax.eval_shape(init, rng))["params"]
    params = jax.jit(lambda key: nn.unbox(init(key))["params"])(rng)
    params = jax_sharding_utils.replicate(params)
    self._param_shapes = param_types.param_shapes(params)
    self._param_types = param_types.param_types(params)
    return params

  @staticmethod
  def _dropout(dropout_rate: float | jax.Array | None, default_rate: float,
               mode: spec.ForwardPassMode) -> tuple[float | jax.Array, bool]:
    """(rate, deterministic): the submission's rate (may be traced) or the model's default;
    dropout runs only in TRAIN mode and not for a Python rate of 0."""
    rate = default_rate if dropout_rate is None else dropout_rate
    no_dropout = isinstance(rate, (int, float)) and rate == 0.0
    return rate, mode is not spec.ForwardPassMode.TRAIN or no_dropout
