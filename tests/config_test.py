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
