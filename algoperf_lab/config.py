"""ml_collections configs at the edges: command-line overrides, then frozen dataclasses.

Workload sizes live in `configs/<family>.py` as `get_config(size)`. The CLI applies
`--config.model.num_layers=4`-style overrides, and the workload turns the result into frozen
dataclasses (`dataclass_from_config`) before building models or optimizers.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import ml_collections

T = TypeVar("T")
OVERRIDE_PREFIX = "--config."


class ConfigError(ValueError):
  """A config or an override is malformed; the message names the key and the fix."""


@dataclasses.dataclass(frozen=True)
class TargetsConfig:
  """A workload's targets and budgets, as AlgoPerf sets them per workload."""

  metric: str
  direction: str  # "lower" or "higher"
  validation: float
  test: float
  max_allowed_runtime_sec: float
  eval_period_time_sec: float
  step_hint: int
  how_measured: str = ""
  # The budget in process CPU seconds, for the process_cpu clock (0: none measured).
  max_allowed_cpu_sec: float = 0.0

  def __post_init__(self) -> None:
    if self.direction not in ("lower", "higher"):
      raise ValueError(f"direction {self.direction!r} must be 'lower' or 'higher'.")


def dataclass_from_config(cls: type[T], config: Mapping[str, Any] | ml_collections.ConfigDict,
                          where: str) -> T:
  """Builds `cls` from a config section, refusing unknown keys and reporting missing ones."""
  values = config.to_dict() if isinstance(config, ml_collections.ConfigDict) else dict(config)
  fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
  unknown = sorted(set(values) - set(fields))
  if unknown:
    raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(fields)}.")
  missing = sorted(name for name, field in fields.items()
                   if name not in values and field.default is dataclasses.MISSING
                   and field.default_factory is dataclasses.MISSING)
  if missing:
    raise ConfigError(f"{where}: missing key(s) {missing}.")
  for field in fields.values():
    if field.name in values:
      _check_value(f"{where}.{field.name}", field, values[field.name])
  try:
    return cls(**values)
  except (ValueError, TypeError) as error:  # the dataclass's own checks (__post_init__)
    raise ConfigError(f"{where}: {error}") from error


# Integer fields that may be 0 besides those whose default is 0 (e.g. max_molecules: 0 = all).
ZERO_ALLOWED = frozenset({"crop_padding", "validation_holdout"})


def _check_value(key: str, field: dataclasses.Field[Any], value: Any) -> None:
  """Refuses values no config means: a count or size below 1 (a model with no blocks), a
  non-finite float, a rate or fraction outside [0, 1), a duration that is not positive."""
  annotation = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
  name = field.name
  if annotation == "int":
    if isinstance(value, bool) or not isinstance(value, int):
      raise ConfigError(f"{key}={value!r} must be a whole number.")
    minimum = 0 if (field.default == 0 or name in ZERO_ALLOWED) else 1
    if value < minimum:
      raise ConfigError(f"{key}={value} must be at least {minimum}.")
  elif annotation == "tuple[int, ...]":
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
      raise ConfigError(f"{key}={list(value)} must hold whole numbers of at least 1.")
  elif annotation == "float":
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
      raise ConfigError(f"{key}={value!r} must be a finite number.")
    if (name == "dropout_rate" or name.endswith("_fraction")) and not 0.0 <= value < 1.0:
      raise ConfigError(f"{key}={value} must be in [0, 1).")
    if name.endswith("_sec") and value <= 0 and not (field.default == 0.0 and value == 0):
      raise ConfigError(f"{key}={value} must be above 0 seconds.")


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
  """Separates `--config.a.b=v` arguments from the rest of the command line."""
  overrides = [arg for arg in argv if arg.startswith(OVERRIDE_PREFIX)]
  rest = [arg for arg in argv if not arg.startswith(OVERRIDE_PREFIX)]
  return overrides, rest


def apply_overrides(config: ml_collections.ConfigDict,
                    overrides: Sequence[str]) -> ml_collections.ConfigDict:
  """Returns a copy of `config` with each `--config.path.to.key=value` applied.

  The value is parsed as a Python literal and must match the existing value's type (an int
  may stand for a float); a key that does not exist is an error listing the keys that do.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  for override in overrides:
    if not override.startswith(OVERRIDE_PREFIX):
      raise ConfigError(f"{override}: overrides look like {OVERRIDE_PREFIX}KEY=VALUE.")
    if "=" not in override:
      raise ConfigError(f"{override}: expected {OVERRIDE_PREFIX}KEY=VALUE.")
    dotted, raw_value = override[len(OVERRIDE_PREFIX):].split("=", 1)
    *parents, leaf = dotted.split(".")
    node = config
    for depth, part in enumerate(parents):
      if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
        raise ConfigError(f"{override}: no config section {'.'.join(parents[:depth + 1])!r}; "
                          f"sections here are {_sections(node)}.")
      node = node[part]
    if leaf not in node:
      raise ConfigError(f"{override}: no key {dotted!r}; keys here are {sorted(node.keys())}.")
    node[leaf] = _coerce(override, raw_value, node[leaf])
  return config


def _sections(node: ml_collections.ConfigDict) -> list[str]:
  return sorted(k for k, v in node.items() if isinstance(v, ml_collections.ConfigDict))


def _coerce(override: str, raw_value: str, current: Any) -> Any:
  try:
    value = ast.literal_eval(raw_value)
  except (ValueError, SyntaxError):
    value = raw_value  # a bare word is a string
  if current is None or value is None:
    return value
  if isinstance(current, bool):
    if not isinstance(value, bool):
      raise ConfigError(f"{override}: expected True or False, got {raw_value!r}.")
    return value
  if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if isinstance(current, (list, tuple)) and isinstance(value, (list, tuple)):
    return type(current)(value)
  if type(value) is not type(current):
    raise ConfigError(f"{override}: expected a {type(current).__name__} "
                      f"(current value {current!r}), got {raw_value!r}.")
  return value


# -- command-line values --------------------------------------------------------------------
# argparse `type=` functions: a bad value is refused by argparse with one line naming the flag.
MAX_SEED = 2**32  # jax.random.PRNGKey takes a 32-bit seed


def positive_int(text: str) -> int:
  value = _parse(int, text, "a whole number")
  if value < 1:
    raise argparse.ArgumentTypeError(f"{text!r} must be at least 1.")
  return value


def non_negative_int(text: str) -> int:
  value = _parse(int, text, "a whole number")
  if value < 0:
    raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more.")
  return value


def finite_positive_float(text: str) -> float:
  value = _parse(float, text, "a number")
  if not math.isfinite(value) or value <= 0:
    raise argparse.ArgumentTypeError(f"{text!r} must be a finite number above 0.")
  return value


def finite_non_negative_float(text: str) -> float:
  value = _parse(float, text, "a number")
  if not math.isfinite(value) or value < 0:
    raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more.")
  return value


def mesh_axis_size(text: str) -> int:
  value = _parse(int, text, "a whole number")
  if value != -1 and value < 1:
    raise argparse.ArgumentTypeError(f"{text!r} must be at least 1, or -1 (all that remain).")
  return value


def seed(text: str) -> int:
  value = _parse(int, text, "a whole number")
  if not 0 <= value < MAX_SEED:
    raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 2**32) (a 32-bit seed).")
  return value


def non_empty_path(text: str) -> Path:
  if not text.strip():
    raise argparse.ArgumentTypeError("is empty; name a folder (an empty path would write into "
                                     "the current directory).")
  return Path(text)


def _parse(kind: type, text: str, what: str) -> Any:
  try:
    return kind(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not {what}.") from None
