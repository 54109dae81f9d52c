"""A Workload whose targets, budgets and batch size come from its config's `targets` section."""

from __future__ import annotations

from typing import Any

import ml_collections

from algoperf_lab import spec
from algoperf_lab.config import TargetsConfig, dataclass_from_config


class ConfiguredWorkload(spec.Workload):
  """Reads `config.targets` (a TargetsConfig) and `config.batch_size`; subclasses add the rest."""

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__()
    self.size = size
    self.config = config
    self.targets = dataclass_from_config(TargetsConfig, config.targets, f"{self.name}.targets")
    self._batch_size = int(config.batch_size)
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
