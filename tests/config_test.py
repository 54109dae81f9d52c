"""Config overrides, config sections as dataclasses, the LM sizes and the workload registry."""

from __future__ import annotations

import dataclasses

import ml_collections
import pytest

from algoperf_lab import config as config_lib
from algoperf_lab import registry
from algoperf_lab.config import ConfigError
from configs import lm as lm_configs
from workloads.lm.workload import LmWorkload


def _config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = ml_collections.ConfigDict(dict(
      num_layers=2, rate=0.5, use_bias=True, activation="gelu", dims=[1, 2], shape=(3, 4),
      optional=None))
  config.batch_size = 16
  return config


@pytest.mark.parametrize("override, key, expected", [
    ("--config.model.num_layers=7", "num_layers", 7),
    ("--config.model.rate=0.25", "rate", 0.25),
    ("--config.model.use_bias=False", "use_bias", False),
    ("--config.model.activation=silu", "activation", "silu"),  # a bare word is a string
    ("--config.model.activation='relu'", "activation", "relu"),
    ("--config.model.dims=[4, 5, 6]", "dims", [4, 5, 6]),
    ("--config.model.optional=3", "optional", 3),
    ("--config.model.rate=None", "rate", None),
])
def test_apply_overrides_values(override: str, key: str, expected: object) -> None:
  updated = config_lib.apply_overrides(_config(), [override])
  assert updated.model[key] == expected
  assert type(updated.model[key]) is type(expected)


def test_int_override_of_float_becomes_float() -> None:
  updated = config_lib.apply_overrides(_config(), ["--config.model.rate=2"])
  assert updated.model.rate == 2.0 and isinstance(updated.model.rate, float)


def test_tuple_override_keeps_sequence_values() -> None:
  updated = config_lib.apply_overrides(_config(), ["--config.model.shape=(5, 6, 7)"])
  assert tuple(updated.model.shape) == (5, 6, 7)


def test_top_level_and_several_overrides() -> None:
  updated = config_lib.apply_overrides(
      _config(), ["--config.batch_size=32", "--config.model.num_layers=1",
                  "--config.model.num_layers=3"])
  assert updated.batch_size == 32
  assert updated.model.num_layers == 3  # the last override wins


def test_apply_overrides_does_not_mutate_input() -> None:
  original = _config()
  before = original.to_dict()
  updated = config_lib.apply_overrides(original, ["--config.model.num_layers=9",
                                                  "--config.batch_size=1"])
  assert original.to_dict() == before
  assert updated.model.num_layers == 9 and original.model.num_layers == 2


def test_unknown_key_lists_known_keys() -> None:
  with pytest.raises(ConfigError) as error:
    config_lib.apply_overrides(_config(), ["--config.model.num_layer=3"])
  message = str(error.value)
  assert "'model.num_layer'" in message
  for key in ("num_layers", "rate", "activation"):
    assert key in message


def test_unknown_section() -> None:
  with pytest.raises(ConfigError, match=r"no config section 'optimizer'.*\['model'\]"):
    config_lib.apply_overrides(_config(), ["--config.optimizer.lr=0.1"])


def test_value_used_as_section_is_an_error() -> None:
  with pytest.raises(ConfigError, match="no config section 'batch_size'"):
    config_lib.apply_overrides(_config(), ["--config.batch_size.x=1"])


@pytest.mark.parametrize("override, expected_type", [
    ("--config.model.num_layers=2.5", "int"),
    ("--config.model.num_layers=four", "int"),
    ("--config.model.use_bias=1", "True or False"),
    ("--config.model.activation=3", "str"),
    ("--config.model.rate=True", "float"),
])
def test_type_mismatch(override: str, expected_type: str) -> None:
  with pytest.raises(ConfigError, match=expected_type):
    config_lib.apply_overrides(_config(), [override])


def test_malformed_override_without_equals() -> None:
  with pytest.raises(ConfigError, match="KEY=VALUE"):
    config_lib.apply_overrides(_config(), ["--config.model.num_layers"])


def test_split_overrides() -> None:
  argv = ["run", "--config.a.b=1", "--workload=lm", "--config.c=2", "extra"]
  overrides, rest = config_lib.split_overrides(argv)
  assert overrides == ["--config.a.b=1", "--config.c=2"]
  assert rest == ["run", "--workload=lm", "extra"]


@dataclasses.dataclass(frozen=True)
class _Section:
  width: int
  depth: int = 1


def test_dataclass_from_config() -> None:
  built = config_lib.dataclass_from_config(
      _Section, ml_collections.ConfigDict({"width": 4}), "test")
  assert built == _Section(width=4, depth=1)
  assert config_lib.dataclass_from_config(_Section, {"width": 2, "depth": 3}, "t") == _Section(2, 3)


def test_dataclass_from_config_unknown_key() -> None:
  with pytest.raises(ConfigError, match=r"where: unknown key\(s\) \['height'\].*\['depth', 'width'\]"):
    config_lib.dataclass_from_config(_Section, {"width": 1, "height": 2}, "where")


def test_dataclass_from_config_missing_key() -> None:
  with pytest.raises(ConfigError, match=r"where: missing key\(s\) \['width'\]"):
    config_lib.dataclass_from_config(_Section, {"depth": 2}, "where")


@pytest.mark.parametrize("size", lm_configs.SIZES)
def test_every_lm_size_builds_a_workload(size: str) -> None:
  workload = registry.make_workload("lm", size)
  assert isinstance(workload, LmWorkload)
  assert workload.name == "lm" and workload.size == size
  assert workload.data_config.seq_len <= workload.model_config.max_seq_len
  assert workload.step_hint == lm_configs.get_config(size).targets.step_hint


def test_lm_sizes_differ() -> None:
  widths = [lm_configs.get_config(size).model.d_model for size in lm_configs.SIZES]
  assert widths == sorted(widths) and len(set(widths)) == len(widths)


def test_unknown_lm_size() -> None:
  with pytest.raises(ValueError, match="huge"):
    lm_configs.get_config("huge")
  with pytest.raises(registry.UnknownWorkloadError, match="sizes: tiny, small, full"):
    registry.make_workload("lm", "huge")


def test_make_workload_applies_overrides() -> None:
  workload = registry.make_workload("lm", "tiny", ["--config.model.num_layers=1"])
  assert workload.model_config.num_layers == 1


def test_unknown_workload_lists_registered() -> None:
  with pytest.raises(registry.UnknownWorkloadError) as error:
    registry.make_workload("nope", "tiny")
  message = str(error.value)
  assert "unknown workload 'nope'" in message
  registered = message.split("registered workloads: ", 1)[1]
  assert {"lm", "vit", "gnn", "lm_silu"} <= {name.strip(" .") for name in registered.split(",")}


def test_override_without_prefix_is_refused() -> None:
  from algoperf_lab import config as config_lib

  with pytest.raises(config_lib.ConfigError, match="--config.KEY=VALUE"):
    config_lib.apply_overrides(ml_collections.ConfigDict({"a": 1}), ["a=2"])


# -- issue 13: values no config means ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Checked:
  num_layers: int
  dropout_rate: float = 0.0
  holdout_fraction: float = 0.1
  period_sec: float = 1.0
  max_items: int = 0  # a default of 0: 0 is meaningful here ("all")
  widths: tuple[int, ...] = (1,)

  def __post_init__(self) -> None:
    if self.num_layers > 100:
      raise ValueError("num_layers > 100 is too deep")


@pytest.mark.parametrize("values, message", [
    ({"num_layers": -2}, "where.num_layers=-2 must be at least 1"),
    ({"num_layers": 0}, "where.num_layers=0 must be at least 1"),
    ({"num_layers": True}, "must be a whole number"),
    ({"num_layers": 1, "max_items": -1}, "where.max_items=-1 must be at least 0"),
    ({"num_layers": 1, "dropout_rate": 1.5}, r"in \[0, 1\)"),
    ({"num_layers": 1, "holdout_fraction": -0.1}, r"in \[0, 1\)"),
    ({"num_layers": 1, "period_sec": 0.0}, "above 0 seconds"),
    ({"num_layers": 1, "dropout_rate": float("nan")}, "finite"),
    ({"num_layers": 1, "widths": (4, 0)}, "at least 1"),
    ({"num_layers": 101}, "where: num_layers > 100"),  # __post_init__'s ValueError
])
def test_dataclass_from_config_refuses_meaningless_values(values, message) -> None:
  with pytest.raises(ConfigError, match=message):
    config_lib.dataclass_from_config(_Checked, values, "where")


def test_zero_where_zero_means_something() -> None:
  built = config_lib.dataclass_from_config(_Checked, {"num_layers": 1, "max_items": 0}, "where")
  assert built.max_items == 0


@pytest.mark.parametrize("override, message", [
    ("--config.model.num_layers=-2", "lm.model.num_layers=-2 must be at least 1"),
    ("--config.targets.max_allowed_runtime_sec=0.0", "above 0 seconds"),
    ("--config.targets.direction=sideways", "'lower' or 'higher'"),
    ("--config.model.num_heads=3", "not divisible"),
])
def test_bad_values_through_the_registry_are_config_errors(override, message) -> None:
  with pytest.raises(ConfigError, match=message):
    registry.make_workload("lm", "tiny", (override,))


@pytest.mark.parametrize("parse, text, message", [
    (config_lib.positive_int, "0", "at least 1"),
    (config_lib.positive_int, "1.5", "not a whole number"),
    (config_lib.finite_positive_float, "nan", "finite number above 0"),
    (config_lib.finite_positive_float, "inf", "finite number above 0"),
    (config_lib.finite_non_negative_float, "-1", "0 or more"),
    (config_lib.seed, str(2**32), "2**32"),
    (config_lib.seed, "-1", "2**32"),
    (config_lib.non_empty_path, "", "is empty"),
    (config_lib.non_empty_path, "  ", "is empty"),
    (config_lib.mesh_axis_size, "0", "-1"),
])
def test_command_line_value_types(parse, text, message) -> None:
  import argparse

  with pytest.raises(argparse.ArgumentTypeError, match=message.replace("*", r"\*")):
    parse(text)


def test_command_line_value_types_accept_good_values() -> None:
  assert config_lib.positive_int("3") == 3
  assert config_lib.finite_positive_float("0.5") == 0.5
  assert config_lib.finite_non_negative_float("0") == 0.0
  assert config_lib.seed(str(2**32 - 1)) == 2**32 - 1
  assert config_lib.mesh_axis_size("-1") == -1
  assert str(config_lib.non_empty_path("runs/x")) == "runs/x"


@pytest.mark.parametrize("workload_name", ["lm", "vit", "gnn"])
@pytest.mark.parametrize("batch_size", [-4, 0])
def test_a_batch_size_below_one_is_refused_in_one_line(workload_name, batch_size):
  """Issue 20: gnn gave a BatchBudget traceback, lm a grain one."""
  with pytest.raises(ConfigError, match=f"batch_size={batch_size} must be a whole number"):
    registry.make_workload(workload_name, "tiny", (f"--config.batch_size={batch_size}",))
