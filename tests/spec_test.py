"""The AlgoPerf contracts in algoperf_lab.spec: enums, ShapeTuple, the abstract Workload."""

from __future__ import annotations

from typing import Any

import pytest

from algoperf_lab import spec

# Members and values of MLCommons AlgoPerf's algoperf/spec.py enums.
ALGOPERF_LOSS_TYPES = {"SOFTMAX_CROSS_ENTROPY": 0, "SIGMOID_CROSS_ENTROPY": 1,
                       "MEAN_SQUARED_ERROR": 2, "CTC_LOSS": 3, "MEAN_ABSOLUTE_ERROR": 4}
ALGOPERF_FORWARD_PASS_MODES = {"TRAIN": 0, "EVAL": 1}
ALGOPERF_PARAMETER_TYPES = {
    "WEIGHT": 0, "BIAS": 1, "CONV_WEIGHT": 2, "BATCH_NORM_SCALE": 3, "BATCH_NORM_BIAS": 4,
    "LAYER_NORM_SCALE": 5, "LAYER_NORM_BIAS": 6, "EMBEDDING": 7, "ATTENTION_Q": 8,
    "ATTENTION_K": 9, "ATTENTION_V": 10, "ATTENTION_OUT": 11, "ATTENTION_QKV": 12,
    "ATTENTION_KV": 13, "ATTENTION_BIAS": 14}


@pytest.mark.parametrize("enum_class, expected", [
    (spec.LossType, ALGOPERF_LOSS_TYPES),
    (spec.ForwardPassMode, ALGOPERF_FORWARD_PASS_MODES),
    (spec.ParameterType, ALGOPERF_PARAMETER_TYPES),
])
def test_enums_match_algoperf(enum_class: Any, expected: dict[str, int]) -> None:
  assert {member.name: member.value for member in enum_class} == expected


def test_shape_tuple_equality_hash_and_attribute() -> None:
  a, b, c = spec.ShapeTuple((2, 3)), spec.ShapeTuple([2, 3]), spec.ShapeTuple((3, 2))
  assert a.shape_tuple == (2, 3)
  assert isinstance(b.shape_tuple, tuple)
  assert a == b and hash(a) == hash(b)
  assert a != c
  assert a != (2, 3)  # only another ShapeTuple compares equal
  assert len({a, b, c}) == 2
  assert "(2, 3)" in repr(a)


def test_training_complete_error_is_an_exception() -> None:
  assert issubclass(spec.TrainingCompleteError, Exception)
  with pytest.raises(Exception):
    raise spec.TrainingCompleteError()


def test_workload_is_abstract() -> None:
  with pytest.raises(TypeError):
    spec.Workload()  # type: ignore[abstract]


class _MinimalWorkload(spec.Workload):
  """Just enough Workload to exercise the concrete members of the base class."""

  def __init__(self, direction: spec.TargetDirection, target: float = 1.0):
    super().__init__()
    self._direction = direction
    self._target = target

  target_metric_name = "error"
  validation_target_value = property(lambda self: self._target)
  test_target_value = property(lambda self: self._target + 1.0)
  target_direction = property(lambda self: self._direction)
  max_allowed_runtime_sec = 10.0
  eval_period_time_sec = 1.0
  step_hint = 100
  loss_type = spec.LossType.MEAN_SQUARED_ERROR
  default_batch_size = 4

  def init_model_fn(self, rng: Any) -> Any:
    return {}, None

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: Any, model_state: Any,
               mode: Any, rng: Any, update_batch_norm: bool, dropout_rate: Any = None) -> Any:
    return None, model_state

  def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
              label_smoothing: float = 0.0) -> Any:
    return {}

  def build_input_queue(self, data_rng: Any, split: str, data_dir: Any,
                        global_batch_size: int) -> Any:
    return iter(())

  def eval_model(self, global_batch_size: int, params: Any, model_state: Any, rng: Any,
                 data_dir: Any, imagenet_v2_data_dir: Any = None, global_step: int = 0) -> Any:
    return {}


def test_reached_validation_target_lower_is_better() -> None:
  workload = _MinimalWorkload(spec.TargetDirection.LOWER_IS_BETTER, target=1.0)
  assert workload.has_reached_validation_target({"validation/error": 0.5})
  assert workload.has_reached_validation_target({"validation/error": 1.0})
  assert not workload.has_reached_validation_target({"validation/error": 1.5})


def test_reached_validation_target_higher_is_better() -> None:
  workload = _MinimalWorkload(spec.TargetDirection.HIGHER_IS_BETTER, target=1.0)
  assert not workload.has_reached_validation_target({"validation/error": 0.5})
  assert workload.has_reached_validation_target({"validation/error": 1.0})
  assert workload.has_reached_validation_target({"validation/error": 1.5})


def test_reached_test_target_uses_test_value_and_key() -> None:
  workload = _MinimalWorkload(spec.TargetDirection.LOWER_IS_BETTER, target=1.0)  # test: 2.0
  assert workload.has_reached_test_target({"test/error": 1.5})
  assert not workload.has_reached_test_target({"test/error": 2.5})
  with pytest.raises(KeyError):
    workload.has_reached_test_target({"validation/error": 0.0})


def test_param_shapes_and_types_before_init_raise() -> None:
  workload = _MinimalWorkload(spec.TargetDirection.LOWER_IS_BETTER)
  with pytest.raises(ValueError, match="init_model_fn"):
    _ = workload.param_shapes
  with pytest.raises(ValueError, match="init_model_fn"):
    _ = workload.model_params_types


def test_defaults_of_optional_members() -> None:
  workload = _MinimalWorkload(spec.TargetDirection.LOWER_IS_BETTER)
  assert workload.metrics_logger is None
  assert workload.is_output_params("anything") is False
  with pytest.raises(NotImplementedError, match="_MinimalWorkload"):
    _ = workload.param_logical_axes
