"""Hyperparameters as AlgoPerf hands them to submissions: an immutable attribute record.

Names and types are checked at the boundary: an override a submission does not know (a typo
such as `learning_rte`) or of another type than its default (`"fast"` for a number) is refused
before anything runs, and every value must be JSON data so that the run record and the resume
fingerprint hold exactly what the submission received.
"""

from __future__ import annotations

import collections
import json
import keyword
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

Scalar = bool | int | float | str | None
SEARCH_SPACE_BESIDE = "tuning_search_space.json"  # AlgoPerf's layout: beside submission.py
# Hyperparameters the harness itself reads for every submission (AlgoPerf's runner does too).
HARNESS_HPARAMS = frozenset({"dropout_rate", "aux_dropout_rate", "label_smoothing"})
_REPO_ROOT = Path(__file__).resolve().parent.parent
_BUNDLED_SUBMISSIONS = _REPO_ROOT / "submissions"
_BUNDLED_SEARCH_SPACES = _REPO_ROOT / "configs" / "search_spaces"


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


def search_space_path(submission: Any) -> Path | None:
  """The search space that belongs to a submission: `tuning_search_space.json` beside its file
  (AlgoPerf's layout), else `configs/search_spaces/<stem>.json` for a bundled submission."""
  module_file = getattr(getattr(submission, "module", None), "__file__", None)
  if module_file is None:
    return None
  module_path = Path(module_file).resolve()
  beside = module_path.parent / SEARCH_SPACE_BESIDE
  if beside.is_file():
    return beside
  bundled = _BUNDLED_SEARCH_SPACES / f"{module_path.stem}.json"
  if module_path.is_relative_to(_BUNDLED_SUBMISSIONS) and bundled.is_file():
    return bundled
  return None


def _search_space_names(path: Path) -> set[str]:
  try:
    space = json.loads(path.read_text())
  except (OSError, json.JSONDecodeError) as error:
    raise HyperparameterError(f"search space {path} cannot be read ({error}); fix or remove "
                              "it.") from error
  if isinstance(space, list):  # AlgoPerf's list of fixed points
    return {name for point in space if isinstance(point, dict) for name in point}
  if not isinstance(space, dict):
    raise HyperparameterError(f"search space {path} must hold a JSON object.")
  return set(space)


def known_hparam_names(submission: Any, extra: Iterable[str] = ()) -> frozenset[str] | None:
  """Every hyperparameter name `submission` reads, or None when it declares none at all.

  The names are its default HPARAMS, its search space (`search_space_path`), the names it
  declares in OPTIONAL_HPARAMS, `extra` (a tuning study's search space), and the harness's
  own. A submission without defaults, search space or declared names cannot be checked.
  """
  declared = set(getattr(getattr(submission, "module", None), "OPTIONAL_HPARAMS", ()) or ())
  defaults = submission.default_hparams
  space = search_space_path(submission)
  space_names = _search_space_names(space) if space is not None else set()
  if defaults is None and not space_names and not declared:
    return None
  return frozenset(set(defaults or {}) | space_names | declared | set(extra) | HARNESS_HPARAMS
                   | set(submission.optional_hparams))


def _is_json_data(value: Any) -> bool:
  if value is None or isinstance(value, (bool, int, float, str)):
    return True
  if isinstance(value, (list, tuple)):
    return all(_is_json_data(item) for item in value)
  return False


def _kind(value: Any) -> str:
  if isinstance(value, bool):
    return "bool"
  if isinstance(value, (int, float)):
    return "number"
  if isinstance(value, str):
    return "string"
  if isinstance(value, (list, tuple)):
    return "list"
  return type(value).__name__


def _check_values(defaults: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> None:
  for name, value in {**defaults, **overrides}.items():
    if not _is_json_data(value):
      raise HyperparameterError(
          f"{source}: hyperparameter {name!r} is {type(value).__name__} {value!r}; hyperparameters "
          "must be numbers, strings, bools, null or lists of them (they are recorded in "
          "result.json and the resume fingerprint). Compute derived values in the submission.")
  for name, value in {**defaults, **overrides}.items():
    if isinstance(value, float) and not math.isfinite(value):
      where = "given" if name in overrides else f"the default in {source}"
      raise HyperparameterError(
          f"hyperparameter {name!r} is {value} ({where}); give a finite number (result.json "
          "records no inf or nan; for 'no limit' use null and let the submission read None).")
  for name, value in overrides.items():
    default = defaults.get(name)
    if default is not None and value is not None and _kind(value) != _kind(default):
      raise HyperparameterError(
          f"hyperparameter {name!r} must be a {_kind(default)} like its default "
          f"{default!r} in {source}; got {json.dumps(value)}.")


def make_hyperparameters(defaults: Mapping[str, Any] | None, overrides: Mapping[str, Any],
                         source: str, known: frozenset[str] | set[str] | None = None) -> Any:
  """Defaults updated by overrides, as a namedtuple (`hparams.learning_rate`, `_asdict()`).

  `known`: the names the submission reads (`known_hparam_names`); an override outside it is
  refused. None skips the name check. No hyperparameters at all (a self-tuning submission)
  give an empty record.
  """
  defaults = dict(defaults or {})
  merged = {**defaults, **overrides}
  bad = [name for name in merged
         if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name)]
  if bad:
    raise HyperparameterError(f"hyperparameter names must be Python identifiers that are not "
                              f"keywords and do not start with '_': {bad}.")
  if known is not None:
    unknown = sorted(set(overrides) - set(known))
    if unknown:
      raise HyperparameterError(
          f"{source} does not read hyperparameter(s) {unknown} (it knows {sorted(known)}); "
          "fix the name, or declare it in the submission's HPARAMS or OPTIONAL_HPARAMS.")
  _check_values(defaults, overrides, source)
  record = collections.namedtuple("Hyperparameters", sorted(merged))  # type: ignore[misc]
  return record(**merged)
