"""Hyperparameters as AlgoPerf hands them to submissions: an immutable attribute record."""

from __future__ import annotations

import collections
import json
import keyword
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Scalar = bool | int | float | str | None


class HyperparameterError(ValueError):
  """A hyperparameter file or value is malformed; the message names the file and the fix."""


def load_hparams_file(path: str | Path) -> dict[str, Scalar]:
  """Reads `{"learning_rate": 0.001, ...}`; a `{"feasible_points": [v]}` entry counts as v."""
  path = Path(path)
  try:
    raw = json.loads(path.read_text())
  except FileNotFoundError as error:
    raise HyperparameterError(f"hyperparameter file {path} does not exist.") from error
  except json.JSONDecodeError as error:
    raise HyperparameterError(f"{path} is not valid JSON (line {error.lineno}, column "
                              f"{error.colno}: {error.msg}).") from error
  if not isinstance(raw, dict):
    raise HyperparameterError(f"{path} must hold a JSON object mapping hyperparameter names to "
                              f"values, e.g. {{\"learning_rate\": 0.001}}; got {type(raw).__name__}.")
  values: dict[str, Scalar] = {}
  for name, value in raw.items():
    if isinstance(value, dict) and list(value) == ["feasible_points"] \
        and isinstance(value["feasible_points"], list) and len(value["feasible_points"]) == 1:
      value = value["feasible_points"][0]
    if not isinstance(value, (bool, int, float, str)) and value is not None:
      raise HyperparameterError(
          f"{path}: {name!r} must be a number, string, bool or null, got {json.dumps(value)}. "
          "A search space (ranges, several feasible points) belongs to `algoperf-lab tune`.")
    values[name] = value
  return values


def make_hyperparameters(defaults: Mapping[str, Any] | None, overrides: Mapping[str, Any],
                         source: str) -> Any:
  """Defaults updated by overrides, as a namedtuple (`hparams.learning_rate`, `_asdict()`)."""
  merged = {**(defaults or {}), **overrides}
  if not merged:
    raise HyperparameterError(
        f"{source} defines no default HPARAMS; pass --hparams=FILE.json with its "
        "hyperparameters.")
  bad = [name for name in merged
         if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name)]
  if bad:
    raise HyperparameterError(f"hyperparameter names must be Python identifiers that are not "
                              f"keywords and do not start with '_': {bad}.")
  record = collections.namedtuple("Hyperparameters", sorted(merged))  # type: ignore[misc]
  return record(**merged)
