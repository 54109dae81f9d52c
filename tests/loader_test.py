"""Loading submissions: both forms, and the error each broken submission gets at load time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from algoperf_lab import loader
from algoperf_lab.loader import SubmissionError, SubmissionForm
from tests.helpers import ADAMW, ALGOPERF_STYLE, NADAMW

# The AlgoPerf-form functions with their expected arguments, as source lines.
_ALGOPERF_FUNCTIONS = {
    "get_batch_size": "def get_batch_size(workload_name):\n  return 8\n",
    "init_optimizer_state": ("def init_optimizer_state(workload, model_params, model_state, "
                             "hyperparameters, rng):\n  return None\n"),
    "update_params": ("def update_params(workload, current_param_container, current_params_types, "
                      "model_state, hyperparameters, batch, loss_type, optimizer_state, "
                      "eval_results, global_step, rng, train_state=None):\n"
                      "  return optimizer_state, current_param_container, model_state\n"),
    "data_selection": ("def data_selection(workload, input_queue, optimizer_state, "
                       "current_param_container, model_state, hyperparameters, global_step, "
                       "rng):\n  return next(input_queue)\n"),
}
_OPTAX_FUNCTION = "def make_optimizer(hparams, workload):\n  return None\n"


def _write(tmp_path: Path, source: str, name: str = "submission.py") -> str:
  path = tmp_path / name
  path.write_text(textwrap.dedent(source))
  return str(path)


def _algoperf_module(tmp_path: Path, replace: dict[str, str | None] | None = None,
                     extra: str = "") -> str:
  """An AlgoPerf-form module; `replace` swaps (or with None, drops) individual functions."""
  functions = {**_ALGOPERF_FUNCTIONS, **(replace or {})}
  return _write(tmp_path, "\n".join(f for f in functions.values() if f is not None) + extra)


def test_minimal_algoperf_module_loads(tmp_path: Path) -> None:
  submission = loader.load_submission(_algoperf_module(tmp_path))
  assert submission.form is SubmissionForm.ALGOPERF
  assert submission.name == tmp_path.name  # AlgoPerf's submission.py is named by its folder
  assert submission.default_hparams is None
  assert submission.get_batch_size("lm") == 8


def test_not_a_submission(tmp_path: Path) -> None:
  path = _write(tmp_path, "VALUE = 1\n")
  with pytest.raises(SubmissionError) as error:
    loader.load_submission(path)
  message = str(error.value)
  assert "not a submission" in message
  assert "make_optimizer(hparams, workload)" in message
  for name in ("get_batch_size", "init_optimizer_state", "update_params", "data_selection"):
    assert name in message


def test_algoperf_form_missing_data_selection(tmp_path: Path) -> None:
  path = _algoperf_module(tmp_path, {"data_selection": None})
  with pytest.raises(SubmissionError) as error:
    loader.load_submission(path)
  message = str(error.value)
  assert "missing ['data_selection']" in message
  assert ("data_selection(workload, input_queue, optimizer_state, current_param_container, "
          "model_state, hyperparameters, global_step, rng)") in message


def test_signature_missing_argument(tmp_path: Path) -> None:
  update = _ALGOPERF_FUNCTIONS["update_params"].replace(", rng, train_state", ", train_state")
  path = _algoperf_module(tmp_path, {"update_params": update})
  with pytest.raises(SubmissionError, match=r"update_params.*lacks argument\(s\) \['rng'\]"):
    loader.load_submission(path)


def test_signature_extra_required_argument(tmp_path: Path) -> None:
  init = _ALGOPERF_FUNCTIONS["init_optimizer_state"].replace("rng)", "rng, momentum)")
  path = _algoperf_module(tmp_path, {"init_optimizer_state": init})
  with pytest.raises(SubmissionError) as error:
    loader.load_submission(path)
  message = str(error.value)
  assert "requires unexpected argument(s) ['momentum']" in message
  assert ("Expected init_optimizer_state(workload, model_params, model_state, hyperparameters, "
          "rng)") in message


def test_signature_extra_optional_argument_is_accepted(tmp_path: Path) -> None:
  init = _ALGOPERF_FUNCTIONS["init_optimizer_state"].replace("rng)", "rng, momentum=0.9)")
  submission = loader.load_submission(_algoperf_module(tmp_path, {"init_optimizer_state": init}))
  assert submission.form is SubmissionForm.ALGOPERF


def test_both_forms_in_one_module(tmp_path: Path) -> None:
  path = _algoperf_module(tmp_path, extra=_OPTAX_FUNCTION)
  with pytest.raises(SubmissionError, match="one form") as error:
    loader.load_submission(path)
  assert "make_optimizer" in str(error.value)
  assert "update_params" in str(error.value)


def test_import_error_inside_module(tmp_path: Path) -> None:
  path = _write(tmp_path, "import no_such_module_for_loader_test\n")
  with pytest.raises(SubmissionError) as error:
    loader.load_submission(path)
  message = str(error.value)
  assert path in message
  assert "ModuleNotFoundError" in message
  assert "no_such_module_for_loader_test" in message
  assert isinstance(error.value.__cause__, ModuleNotFoundError)


def test_exception_at_import_time(tmp_path: Path) -> None:
  path = _write(tmp_path, "raise RuntimeError('broken at import')\n")
  with pytest.raises(SubmissionError, match="RuntimeError: broken at import") as error:
    loader.load_submission(path)
  assert path in str(error.value)


def test_nonexistent_file(tmp_path: Path) -> None:
  path = str(tmp_path / "missing.py")
  with pytest.raises(SubmissionError, match="does not exist") as error:
    loader.load_submission(path)
  assert path in str(error.value)


def test_non_importable_dotted_name() -> None:
  with pytest.raises(SubmissionError) as error:
    loader.load_submission("no_such_package_xyz.submission")
  message = str(error.value)
  assert "'no_such_package_xyz.submission'" in message
  assert "dotted module name" in message


def test_hparams_not_a_dict(tmp_path: Path) -> None:
  path = _write(tmp_path, "HPARAMS = [0.1, 0.9]\n" + _OPTAX_FUNCTION)
  with pytest.raises(SubmissionError, match="HPARAMS must be a dict.*got list"):
    loader.load_submission(path)


def test_make_optimizer_wrong_arguments(tmp_path: Path) -> None:
  path = _write(tmp_path, "def make_optimizer(hparams):\n  return None\n")
  with pytest.raises(SubmissionError) as error:
    loader.load_submission(path)
  message = str(error.value)
  assert "lacks argument(s) ['workload']" in message
  assert "make_optimizer(hparams, workload)" in message


def test_make_optimizer_not_callable(tmp_path: Path) -> None:
  path = _write(tmp_path, "make_optimizer = 3\n")
  with pytest.raises(SubmissionError, match="is not a function"):
    loader.load_submission(path)


def test_nadamw_baseline_is_algoperf_form_with_self_tuning_defaults() -> None:
  submission = loader.load_submission(NADAMW)
  assert submission.form is SubmissionForm.ALGOPERF
  assert submission.name == "nadamw"
  assert dict(submission.default_hparams or {}) == {
      "learning_rate": 0.0017486387539278373,
      "one_minus_beta1": 0.06733926164,
      "beta2": 0.9955159689799007,
      "weight_decay": 0.08121616522670176,
      "warmup_factor": 0.02,
      "dropout_rate": 0.1,
  }


def test_adamw_baseline_is_optax_form() -> None:
  submission = loader.load_submission(ADAMW)
  assert submission.form is SubmissionForm.OPTAX
  assert submission.prepare_for_eval is None
  assert callable(submission.update_params) and callable(submission.data_selection)
  assert submission.default_hparams is not None and "learning_rate" in submission.default_hparams


def test_dotted_name_loads() -> None:
  submission = loader.load_submission("submissions.baselines.adamw")
  assert submission.form is SubmissionForm.OPTAX
  assert submission.name == "adamw"


def test_algoperf_style_fixture_loads() -> None:
  submission = loader.load_submission(ALGOPERF_STYLE)
  assert submission.form is SubmissionForm.ALGOPERF
  assert submission.update_params_takes_train_state is True


def test_update_params_without_train_state(tmp_path: Path) -> None:
  update = _ALGOPERF_FUNCTIONS["update_params"].replace(", train_state=None", "")
  submission = loader.load_submission(_algoperf_module(tmp_path, {"update_params": update}))
  assert submission.form is SubmissionForm.ALGOPERF
  assert submission.update_params_takes_train_state is False


def test_a_folder_given_as_the_submission_is_named_as_a_folder(tmp_path):
  """Issue 20: `--submission=<a directory>` said the file does not exist."""
  with pytest.raises(SubmissionError, match="is a folder; --submission takes the submission's .py"):
    loader.load_submission(str(tmp_path))


def test_algoperf_files_are_named_by_their_folder_so_two_never_collide():
  """Issue 20: every AlgoPerf file was named `submission` in records and reports."""
  from tests.helpers import REPO_ROOT

  folder = REPO_ROOT / "tests" / "third_party" / "submissions_algorithms" / "submissions"
  nadamw = folder / "self_tuning" / "nadamw" / "submission.py"
  sf = folder / "self_tuning" / "schedule_free_adamw_jax" / "submission.py"
  assert loader.load_submission(str(nadamw)).name == "nadamw"
  assert loader.load_submission(str(sf)).name == "schedule_free_adamw_jax"
  assert loader.submission_name("algos/amos/jax/submission.py") == "amos"
  assert loader.submission_name(ADAMW) == "adamw"
