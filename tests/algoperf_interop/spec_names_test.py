"""The lab's spec and jax_sharding_utils define every public name of AlgoPerf's.

The lists are facts read off AlgoPerf's `algoperf/spec.py` and `algoperf/jax_sharding_utils.py`
at commit 2c90454 (2025-09-05, its HEAD then): the names each module defines at top level,
not the names it imports. v0.5's `algorithmic_efficiency/spec.py` defines the same set.
"""

from __future__ import annotations

import inspect

from algoperf_lab import jax_sharding_utils, spec

ALGOPERF_SPEC_NAMES = (
    "LossType", "ForwardPassMode", "ParameterType", "Tensor", "ShapeTuple", "Shape",
    "ParameterShapeTree", "ParameterKey", "ParameterContainer", "ParameterTypeTree",
    "RandomState", "OptimizerState", "Hyperparameters", "Timing", "Steps",
    "ModelAuxiliaryState", "ModelInitState", "Workload", "TrainingCompleteError",
    "InitOptimizerFn", "init_optimizer_state", "UpdateReturn", "UpdateParamsFn",
    "update_params", "PrepareForEvalFn", "prepare_for_eval", "DataSelectionFn",
    "data_selection", "get_batch_size",
)
ALGOPERF_SHARDING_NAMES = ("get_replicate_sharding", "get_batch_dim_sharding",
                           "shard_along_batch_dim", "replicate", "display_shard_info")
# Members of AlgoPerf's Workload that a submission may call.
ALGOPERF_WORKLOAD_MEMBERS = (
    "target_metric_name", "has_reached_validation_target", "has_reached_test_target",
    "attach_metrics_logger", "validation_target_value", "test_target_value", "loss_type",
    "max_allowed_runtime_sec", "eval_period_time_sec", "step_hint", "param_shapes",
    "model_params_types", "is_output_params", "init_model_fn", "model_fn",
    "output_activation_fn", "loss_fn", "eval_model", "_build_input_queue",
)


def test_spec_defines_every_public_name_of_algoperfs_spec():
  missing = [name for name in ALGOPERF_SPEC_NAMES if not hasattr(spec, name)]
  assert missing == []


def test_jax_sharding_utils_defines_every_public_name_of_algoperfs():
  missing = [name for name in ALGOPERF_SHARDING_NAMES if not hasattr(jax_sharding_utils, name)]
  assert missing == []


def test_workload_has_algoperfs_members():
  missing = [name for name in ALGOPERF_WORKLOAD_MEMBERS if not hasattr(spec.Workload, name)]
  assert missing == []


def test_the_api_functions_have_algoperfs_signatures():
  assert list(inspect.signature(spec.update_params).parameters) == [
      "workload", "current_param_container", "current_params_types", "model_state",
      "hyperparameters", "batch", "loss_type", "optimizer_state", "eval_results",
      "global_step", "rng", "train_state"]
  assert list(inspect.signature(spec.data_selection).parameters) == [
      "workload", "input_queue", "optimizer_state", "current_param_container", "model_state",
      "hyperparameters", "global_step", "rng"]


def test_enums_have_algoperfs_values():
  assert spec.LossType.MEAN_ABSOLUTE_ERROR.value == 4
  assert spec.ParameterType.ATTENTION_BIAS.value == 14
  assert spec.ForwardPassMode.EVAL.value == 1
