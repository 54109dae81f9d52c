"""Hyperparameter files and the immutable record submissions receive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoperf_lab import hyperparameters
from algoperf_lab.hyperparameters import HyperparameterError


def _write(tmp_path: Path, text: str) -> Path:
  path = tmp_path / "hparams.json"
  path.write_text(text)
  return path


def test_load_happy_path(tmp_path: Path) -> None:
  values = {"learning_rate": 0.001, "warmup_steps": 10, "use_nesterov": True, "schedule": "cosine",
            "grad_clip": None}
  assert hyperparameters.load_hparams_file(_write(tmp_path, json.dumps(values))) == values


def test_single_feasible_point_is_unwrapped(tmp_path: Path) -> None:
  path = _write(tmp_path, json.dumps({"learning_rate": {"feasible_points": [0.01]},
                                      "beta1": 0.9}))
  assert hyperparameters.load_hparams_file(str(path)) == {"learning_rate": 0.01, "beta1": 0.9}


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
  path = _write(tmp_path, '{\n  "learning_rate": 0.1,\n  "beta1": ,\n}')
  with pytest.raises(HyperparameterError, match=r"not valid JSON \(line 3, column 12") as error:
    hyperparameters.load_hparams_file(path)
  assert str(path) in str(error.value)


def test_not_an_object(tmp_path: Path) -> None:
  with pytest.raises(HyperparameterError, match="JSON object.*got list"):
    hyperparameters.load_hparams_file(_write(tmp_path, "[0.1, 0.2]"))


@pytest.mark.parametrize("value", [
    [0.1, 0.2],
    {"feasible_points": [0.1, 0.2]},
    {"min": 1e-4, "max": 1e-1, "scaling": "log"},
])
def test_non_scalar_value_points_to_tune(tmp_path: Path, value: object) -> None:
  path = _write(tmp_path, json.dumps({"learning_rate": value}))
  with pytest.raises(HyperparameterError) as error:
    hyperparameters.load_hparams_file(path)
  message = str(error.value)
  assert "'learning_rate'" in message
  assert "algoperf-lab tune" in message


def test_missing_file(tmp_path: Path) -> None:
  path = tmp_path / "absent.json"
  with pytest.raises(HyperparameterError, match="does not exist") as error:
    hyperparameters.load_hparams_file(path)
  assert str(path) in str(error.value)


def test_make_hyperparameters_merges_overrides() -> None:
  hparams = hyperparameters.make_hyperparameters(
      {"learning_rate": 0.1, "beta1": 0.9}, {"learning_rate": 0.5, "dropout_rate": 0.0}, "sub")
  assert hparams.learning_rate == 0.5
  assert hparams.beta1 == 0.9
  assert hparams.dropout_rate == 0.0
  assert hparams._asdict() == {"beta1": 0.9, "dropout_rate": 0.0, "learning_rate": 0.5}
  assert getattr(hparams, "label_smoothing", 0.0) == 0.0  # AlgoPerf submissions probe like this


def test_make_hyperparameters_without_defaults() -> None:
  hparams = hyperparameters.make_hyperparameters(None, {"learning_rate": 0.2}, "sub")
  assert hparams.learning_rate == 0.2


def test_hyperparameters_are_immutable() -> None:
  hparams = hyperparameters.make_hyperparameters({"learning_rate": 0.1}, {}, "sub")
  with pytest.raises(AttributeError):
    hparams.learning_rate = 1.0  # type: ignore[misc]
  with pytest.raises(AttributeError):
    hparams.new_name = 1.0  # type: ignore[attr-defined]


def test_empty_hyperparameters_error_names_source() -> None:
  with pytest.raises(HyperparameterError, match="my_submission.py defines no default HPARAMS"):
    hyperparameters.make_hyperparameters(None, {}, "my_submission.py")
  with pytest.raises(HyperparameterError, match="--hparams"):
    hyperparameters.make_hyperparameters({}, {}, "s")


@pytest.mark.parametrize("name", ["learning-rate", "2nd_beta", "_private", "with space"])
def test_non_identifier_names(name: str) -> None:
  with pytest.raises(HyperparameterError, match="identifiers") as error:
    hyperparameters.make_hyperparameters({"ok": 1}, {name: 0.1}, "sub")
  assert repr(name) in str(error.value)


def test_hyperparameter_error_is_a_value_error() -> None:
  assert issubclass(HyperparameterError, ValueError)


def test_keyword_name_is_a_hyperparameter_error() -> None:
  with pytest.raises(HyperparameterError, match="lambda"):
    hyperparameters.make_hyperparameters({"ok": 1}, {"lambda": 0.1}, "sub")
