"""Parse AlgoPerf-format tuning search spaces (JSON) into validated, immutable objects.

Two shapes are accepted:
  * a dict name -> {"min": a, "max": b, "scaling": "linear"|"log"} or {"feasible_points": [...]}
  * a list of dicts, each one trial's complete hyperparameters (fixed points, used in order).
Every error is a SearchSpaceError whose message names the file, the hyperparameter and the fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Scalar = float | int | str | bool
SCALINGS = ("linear", "log")
_RANGE_KEYS = frozenset({"min", "max", "scaling"})
_POINTS_KEY = "feasible_points"


class SearchSpaceError(ValueError):
  """A search space is invalid; the message says where and how to fix it."""


@dataclass(frozen=True)
class RangeParam:
  """A continuous (or integer, when both bounds are ints) interval sampled on a linear/log scale."""
  name: str
  min: float | int
  max: float | int
  scaling: Literal["linear", "log"]

  @property
  def is_integer(self) -> bool:
    return isinstance(self.min, int) and isinstance(self.max, int)


@dataclass(frozen=True)
class DiscreteParam:
  """A hyperparameter chosen from an explicit list of values."""
  name: str
  feasible_points: tuple[Scalar, ...]


Param = RangeParam | DiscreteParam


@dataclass(frozen=True)
class SearchSpace:
  """Independent per-hyperparameter specs, kept sorted by name for deterministic sampling."""
  params: tuple[Param, ...]

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(p.name for p in self.params)


@dataclass(frozen=True)
class FixedPointsSpace:
  """An explicit list of complete trial hyperparameter settings."""
  points: tuple[Mapping[str, Scalar], ...]

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(sorted(self.points[0])) if self.points else ()


def _is_number(value: object) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
  return isinstance(value, (str, bool)) or (_is_number(value) and math.isfinite(value))


def _fail(source: str, name: str | None, problem: str, fix: str) -> SearchSpaceError:
  where = f"{source}: hyperparameter {name!r}" if name is not None else source
  return SearchSpaceError(f"{where}: {problem}. Fix: {fix}.")


def _parse_range(name: str, spec: Mapping[str, object], source: str) -> RangeParam:
  missing = sorted(_RANGE_KEYS - set(spec))
  if missing:
    raise _fail(source, name, f"range spec lacks {', '.join(repr(k) for k in missing)}",
                'give "min", "max" and "scaling" ("linear" or "log")')
  lo, hi, scaling = spec["min"], spec["max"], spec["scaling"]
  for key, value in (("min", lo), ("max", hi)):
    if not (_is_number(value) and math.isfinite(value)):
      raise _fail(source, name, f"{key!r} is {value!r}, not a finite number",
                  f'write "{key}" as a JSON number such as 0.001')
  assert _is_number(lo) and _is_number(hi)
  if scaling not in SCALINGS:
    raise _fail(source, name, f"unknown scaling {scaling!r}",
                'use "scaling": "linear" or "scaling": "log"')
  if lo > hi:
    raise _fail(source, name, f"min ({lo}) is greater than max ({hi})", "swap min and max")
  if scaling == "log" and lo <= 0:
    raise _fail(source, name, f"log scaling needs min > 0 but min is {lo}",
                'use a positive min, or "scaling": "linear"')
  return RangeParam(name=name, min=lo, max=hi, scaling=scaling)  # type: ignore[arg-type]


def _parse_points(name: str, points: object, source: str) -> DiscreteParam:
  if not isinstance(points, list) or not points:
    raise _fail(source, name, "feasible_points must be a non-empty list",
                'list at least one value, e.g. "feasible_points": [0.1]')
  bad = [p for p in points if not _is_scalar(p)]
  if bad:
    raise _fail(source, name, f"feasible_points holds non-scalar values {bad!r}",
                "use only numbers, strings or booleans")
  return DiscreteParam(name=name, feasible_points=tuple(points))


def _parse_param(name: str, spec: object, source: str) -> Param:
  if not isinstance(spec, dict):
    raise _fail(source, name, f"spec is {type(spec).__name__}, not an object",
                'write {"min": .., "max": .., "scaling": ..} or {"feasible_points": [..]}')
  unknown = sorted(set(spec) - _RANGE_KEYS - {_POINTS_KEY})
  if unknown:
    raise _fail(source, name, f"unknown keys {unknown}",
                'use only "min", "max", "scaling" or only "feasible_points"')
  has_range = bool(_RANGE_KEYS & set(spec))
  has_points = _POINTS_KEY in spec
  if has_range and has_points:
    raise _fail(source, name, "spec has both a range (min/max/scaling) and feasible_points",
                "keep one of the two")
  if not has_range and not has_points:
    raise _fail(source, name, "spec has neither a range nor feasible_points",
                'add "min", "max", "scaling" or "feasible_points"')
  if has_points:
    return _parse_points(name, spec[_POINTS_KEY], source)
  return _parse_range(name, spec, source)


def _parse_fixed_points(data: list[object], source: str) -> FixedPointsSpace:
  points: list[dict[str, Scalar]] = []
  for index, entry in enumerate(data):
    if not isinstance(entry, dict):
      raise _fail(source, None, f"entry {index} is {type(entry).__name__}, not an object",
                  "make every list entry a {name: value} object holding one trial's hparams")
    if points and set(entry) != set(points[0]):
      extra, lacking = sorted(set(entry) - set(points[0])), sorted(set(points[0]) - set(entry))
      raise _fail(source, None,
                  f"entry {index} has different keys from entry 0 (extra {extra}, "
                  f"missing {lacking})", "give every entry the same hyperparameter names")
    for name, value in entry.items():
      if not _is_scalar(value):
        raise _fail(source, name, f"entry {index} has non-scalar value {value!r}",
                    "use only numbers, strings or booleans")
    points.append(dict(entry))
  return FixedPointsSpace(points=tuple(points))


def parse_search_space(data: object, source: str = "<search space>"
                       ) -> SearchSpace | FixedPointsSpace:
  """Validate decoded JSON (dict of specs, or list of fixed points) into a search space."""
  if isinstance(data, list):
    if not data:
      raise _fail(source, None, "the list of fixed points is empty",
                  "list at least one trial's hyperparameters")
    return _parse_fixed_points(data, source)
  if not isinstance(data, dict):
    raise _fail(source, None, f"top-level value is {type(data).__name__}",
                "use an object of hyperparameter specs or a list of fixed points")
  if not data:
    raise _fail(source, None, "the search space is empty", "add at least one hyperparameter")
  return SearchSpace(params=tuple(_parse_param(name, data[name], source) for name in sorted(data)))


def load_search_space(path: Path | str) -> SearchSpace | FixedPointsSpace:
  """Read and validate an AlgoPerf-format search-space JSON file."""
  path = Path(path)
  try:
    text = path.read_text(encoding="utf-8")
  except OSError as e:
    raise _fail(str(path), None, f"cannot read the file ({e.strerror or e})",
                "check the path") from e
  try:
    data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
  except json.JSONDecodeError as e:
    raise _fail(str(path), None, f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}",
                "correct the JSON syntax there") from e
  except _DuplicateKeyError as e:
    raise _fail(str(path), str(e), "is given twice in one object (JSON would keep the last "
                "silently)", "keep one of them") from e
  return parse_search_space(data, str(path))


class _DuplicateKeyError(ValueError):
  """A JSON object names one key twice (the message is the key)."""


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
  seen: dict[str, object] = {}
  for key, value in pairs:
    if key in seen:
      raise _DuplicateKeyError(key)
    seen[key] = value
  return seen


def to_json_data(space: SearchSpace | FixedPointsSpace) -> dict[str, object] | list[object]:
  """The JSON form of a space; parse_search_space(to_json_data(s)) == s."""
  if isinstance(space, FixedPointsSpace):
    return [dict(p) for p in space.points]
  out: dict[str, object] = {}
  for p in space.params:
    if isinstance(p, RangeParam):
      out[p.name] = {"min": p.min, "max": p.max, "scaling": p.scaling}
    else:
      out[p.name] = {"feasible_points": list(p.feasible_points)}
  return out


def check_known_hparams(space: SearchSpace | FixedPointsSpace, known: set[str] | None,
                        source: str) -> None:
  """Raise if the space names hyperparameters the submission does not declare (None: no check)."""
  if known is None:
    return
  unknown = sorted(set(space.names) - known)
  if unknown:
    raise SearchSpaceError(
        f"{source}: hyperparameters {unknown} are not declared by the submission (it declares "
        f"{sorted(known)}). Fix: rename or remove them in the search space, or declare them in "
        "the submission.")


def float_hparams(defaults: Mapping[str, object]) -> frozenset[str]:
  """The hyperparameters whose default is a float: a range over them samples floats even when
  its bounds are written as integers (`{"min": 0, "max": 1}`)."""
  return frozenset(name for name, value in defaults.items() if isinstance(value, float))
