"""ml_collections configs at the edges: command-line overrides, then frozen dataclasses.

Workload sizes live in `configs/<family>.py` as `get_config(size)`. The CLI applies
`--config.model.num_layers=4`-style overrides, and the workload turns the result into frozen
dataclasses (`dataclass_from_config`) before building models or optimizers.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping, Sequence
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
  return cls(**values)


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
