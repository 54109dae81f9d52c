"""Parsing AlgoPerf-format search spaces, and the error messages for each kind of mistake."""

import json

import pytest

from algoperf_lab.tuning.search_space import (
    DiscreteParam, FixedPointsSpace, RangeParam, SearchSpace, SearchSpaceError,
    check_known_hparams, load_search_space, parse_search_space, to_json_data)

VALID = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
    "weight_decay": {"min": 0.0, "max": 0.5, "scaling": "linear"},
    "warmup_steps": {"min": 10, "max": 100, "scaling": "linear"},
    "label_smoothing": {"feasible_points": [0.0, 0.1]},
    "optimizer": {"feasible_points": ["adam", "lion"]},
}


def _load(tmp_path, content):
  path = tmp_path / "space.json"
  path.write_text(content if isinstance(content, str) else json.dumps(content))
  return path, lambda: load_search_space(path)


def test_valid_space_round_trip(tmp_path):
  _, load = _load(tmp_path, VALID)
  space = load()
  assert isinstance(space, SearchSpace)
  assert space.names == ("label_smoothing", "learning_rate", "optimizer", "warmup_steps",
                         "weight_decay")
  params = dict(zip(space.names, space.params))
  assert params["learning_rate"] == RangeParam("learning_rate", 1e-4, 1e-2, "log")
  assert params["warmup_steps"].is_integer and not params["weight_decay"].is_integer
  assert params["optimizer"] == DiscreteParam("optimizer", ("adam", "lion"))
  assert parse_search_space(to_json_data(space)) == space
  assert to_json_data(space) == VALID


def test_fixed_points_round_trip(tmp_path):
  points = [{"learning_rate": 0.1, "beta": 0.9}, {"learning_rate": 0.01, "beta": 0.99}]
  _, load = _load(tmp_path, points)
  space = load()
  assert isinstance(space, FixedPointsSpace)
  assert space.names == ("beta", "learning_rate")
  assert to_json_data(space) == points


@pytest.mark.parametrize("spec, expected", [
    ({"lr": {"min": 1, "max": 2, "scaling": "exp"}}, ["'lr'", "unknown scaling 'exp'", "log"]),
    ({"lr": {"min": 2, "max": 1, "scaling": "linear"}}, ["'lr'", "greater than max", "swap"]),
    ({"lr": {"min": 0.0, "max": 1, "scaling": "log"}}, ["'lr'", "min > 0", "positive min"]),
    ({"lr": {"min": -1, "max": 1, "scaling": "log"}}, ["'lr'", "min > 0"]),
    ({"lr": {"feasible_points": []}}, ["'lr'", "non-empty list", "at least one value"]),
    ({"lr": {"min": 1, "max": 2, "scaling": "log", "feasible_points": [1]}},
     ["'lr'", "both a range", "keep one"]),
    ({"lr": {}}, ["'lr'", "neither a range nor feasible_points"]),
    ({"lr": {"min": 1, "max": 2, "scaling": "log", "step": 1}}, ["'lr'", "unknown keys ['step']"]),
    ({"lr": {"min": "0.1", "max": 2, "scaling": "log"}}, ["'lr'", "'min' is '0.1'", "JSON number"]),
    ({"lr": {"min": 1, "max": True, "scaling": "linear"}}, ["'lr'", "'max' is True"]),
    ({"lr": {"min": 1, "max": 2}}, ["'lr'", "lacks 'scaling'"]),
    ({"lr": 0.1}, ["'lr'", "not an object"]),
    ({"lr": {"feasible_points": [[1, 2]]}}, ["'lr'", "non-scalar"]),
    ({}, ["search space is empty"]),
    ([], ["list of fixed points is empty"]),
    ([{"lr": 1}, 3], ["entry 1 is int, not an object"]),
    ([{"lr": 1, "b": 2}, {"lr": 2, "c": 3}], ["entry 1 has different keys", "extra ['c']",
                                              "missing ['b']"]),
    (3, ["top-level value is int"]),
])
def test_errors_name_file_hparam_and_problem(tmp_path, spec, expected):
  path, load = _load(tmp_path, spec)
  with pytest.raises(SearchSpaceError) as info:
    load()
  message = str(info.value)
  assert str(path) in message and "Fix:" in message
  for fragment in expected:
    assert fragment in message


def test_malformed_json_reports_line_and_column(tmp_path):
  path, load = _load(tmp_path, '{\n  "lr": {"min": 1,, "max": 2}\n}')
  with pytest.raises(SearchSpaceError, match=r"line 2 column 19") as info:
    load()
  assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
  with pytest.raises(SearchSpaceError, match="cannot read"):
    load_search_space(tmp_path / "absent.json")


def test_check_known_hparams():
  space = parse_search_space(VALID, "space.json")
  check_known_hparams(space, None, "space.json")
  check_known_hparams(space, set(VALID) | {"extra"}, "space.json")
  with pytest.raises(SearchSpaceError) as info:
    check_known_hparams(space, {"learning_rate", "weight_decay"}, "space.json")
  message = str(info.value)
  assert "space.json" in message
  assert "['label_smoothing', 'optimizer', 'warmup_steps']" in message
  assert "['learning_rate', 'weight_decay']" in message


def test_a_key_given_twice_is_refused_by_name(tmp_path):
  """Issue 20: a duplicate key in a search-space JSON used to keep the last value silently."""
  path = tmp_path / "space.json"
  path.write_text('{"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},\n'
                  ' "learning_rate": {"feasible_points": [0.1]}}')
  with pytest.raises(SearchSpaceError, match="'learning_rate'.*given twice"):
    load_search_space(path)
