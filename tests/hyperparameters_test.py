"""Hyperparameter files and the immutable record submissions receive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoperf_lab import hyperparameters, loader
from algoperf_lab.hyperparameters import HyperparameterError
from tests.helpers import ADAMW, ALGOPERF_STYLE, NADAMW


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


@pytest.mark.parametrize("defaults", [None, {}])
def test_no_hyperparameters_give_an_empty_record(defaults) -> None:
  """Issue 8: a self-tuning submission has no hyperparameters; it still runs."""
  hparams = hyperparameters.make_hyperparameters(defaults, {}, "self_tuning.py")
  assert hparams._asdict() == {}
  assert getattr(hparams, "dropout_rate", None) is None


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


def test_unknown_override_is_refused_with_the_known_names() -> None:
  known = frozenset({"learning_rate", "dropout_rate"})
  message = r"does not read hyperparameter\(s\) \['learning_rte'\]"
  with pytest.raises(HyperparameterError, match=message):
    hyperparameters.make_hyperparameters({"learning_rate": 0.1}, {"learning_rte": 0.001}, "sub.py",
                                         known=known)
  assert hyperparameters.make_hyperparameters({"learning_rate": 0.1}, {"dropout_rate": 0.1},
                                              "sub.py", known=known).dropout_rate == 0.1


def test_without_known_names_anything_is_accepted() -> None:
  hparams = hyperparameters.make_hyperparameters(None, {"anything": 1}, "sub.py", known=None)
  assert hparams.anything == 1


@pytest.mark.parametrize("default, value", [
    (0.001, "fast"), (10, "10"), (True, 1), (0.1, True), ("cosine", 3), (0.1, [0.1])])
def test_wrong_type_names_the_hyperparameter(default, value) -> None:
  with pytest.raises(HyperparameterError, match="'learning_rate' must be a") as error:
    hyperparameters.make_hyperparameters({"learning_rate": default}, {"learning_rate": value},
                                         "sub.py")
  assert "sub.py" in str(error.value)


def test_a_number_may_replace_a_number_and_null_anything() -> None:
  hparams = hyperparameters.make_hyperparameters({"a": 1, "b": 0.5, "c": None},
                                                 {"a": 0.5, "b": 2, "c": "x"}, "sub.py")
  assert hparams._asdict() == {"a": 0.5, "b": 2, "c": "x"}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_override_is_refused(value) -> None:
  with pytest.raises(HyperparameterError, match="finite"):
    hyperparameters.make_hyperparameters({"learning_rate": 0.1}, {"learning_rate": value}, "s")


def test_a_function_in_hparams_is_refused() -> None:
  """It used to be recorded as "<function ...>", a new string per process: never resumable."""
  with pytest.raises(HyperparameterError, match="'schedule' is function"):
    hyperparameters.make_hyperparameters({"schedule": lambda step: 0.1}, {}, "sub.py")
  assert hyperparameters.make_hyperparameters({"betas": (0.9, 0.99)}, {}, "s").betas == (0.9, 0.99)


def test_known_names_of_a_bundled_algoperf_submission() -> None:
  """HPARAMS, OPTIONAL_HPARAMS, configs/search_spaces/nadamw.json and the harness's names."""
  known = hyperparameters.known_hparam_names(loader.load_submission(NADAMW))
  assert known is not None
  assert {"learning_rate", "grad_clip", "label_smoothing", "dropout_rate",
          "aux_dropout_rate"} <= known
  assert "learning_rte" not in known


def test_known_names_of_an_optax_submission_include_its_search_space() -> None:
  known = hyperparameters.known_hparam_names(loader.load_submission(ADAMW), extra={"b3"})
  assert known is not None and {"learning_rate", "b2", "b3", "label_smoothing"} <= known


def test_a_submission_declaring_nothing_is_not_checked() -> None:
  assert hyperparameters.known_hparam_names(loader.load_submission(ALGOPERF_STYLE)) is None


def test_algoperf_layout_search_space_beside_the_file(tmp_path: Path) -> None:
  folder = tmp_path / "my_algo"
  folder.mkdir()
  (folder / "submission.py").write_text(Path(ALGOPERF_STYLE).read_text())
  (folder / "tuning_search_space.json").write_text(json.dumps(
      {"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
       "warmup_factor": {"feasible_points": [0.05]}}))
  known = hyperparameters.known_hparam_names(loader.load_submission(str(folder / "submission.py")))
  assert known is not None and {"learning_rate", "warmup_factor", "dropout_rate"} <= known
  assert "one_minus_beta1" not in known


def test_a_non_finite_default_is_refused_not_recorded_as_null():
  """Issue 20: an HPARAMS default of inf ran and was recorded as null."""
  with pytest.raises(hyperparameters.HyperparameterError, match=r"'grad_clip' is inf \(the default"):
    hyperparameters.make_hyperparameters({"grad_clip": float("inf")}, {}, "sub.py")
