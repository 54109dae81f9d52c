"""A board study refuses to mix processor models, in its folder or in its budgets; and the tiny
configs read a processor's own budgets where it has them. On the committed records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoperf_lab.sweeps import board_hardware
from algoperf_lab.sweeps.spec import TrialSpec
from configs import lm as lm_config
from configs import tiny_targets
from tests.helpers import REPO_ROOT

INTEL = "Intel(R) Xeon(R) Processor"
AMD = "AMD EPYC"
SELF_TUNING = REPO_ROOT / "results" / "leaderboard_tiny" / "self_tuning"
WITHDRAWN = REPO_ROOT / "results" / "leaderboard_tiny_amd_epyc_withdrawn" / "self_tuning"


def _spec(workload: str, size: str = "tiny") -> TrialSpec:
  return TrialSpec(workload=workload, size=size, submission="s.py", hparams={}, seed=0,
                   ruleset="self", study=0, trial=0, workdir="w")


def test_the_committed_boards_are_each_of_one_processor():
  assert set(board_hardware.record_processors([SELF_TUNING])) == {INTEL}
  assert set(board_hardware.record_processors([WITHDRAWN])) == {AMD}


def test_a_board_folder_of_another_processor_is_refused_with_its_own_folder_as_the_fix():
  with pytest.raises(board_hardware.BoardHardwareError) as error:
    board_hardware.check_board_folders([SELF_TUNING], AMD, Path("results/leaderboard_tiny"))
  message = str(error.value)
  assert f"on {INTEL}" in message and "this machine is AMD EPYC" in message
  assert "--workdir=results/leaderboard_tiny_amd-epyc" in message
  board_hardware.check_board_folders([SELF_TUNING], INTEL, Path("results/leaderboard_tiny"))
  board_hardware.check_board_folders([Path("/nonexistent/board")], AMD, Path("x"))


def test_budgets_timed_elsewhere_are_warned_about_with_the_command_that_times_them():
  warn = board_hardware.foreign_budgets_warning
  assert warn([_spec("lm"), _spec("vit")], INTEL) is None  # the reference machine
  assert warn([_spec("lm"), _spec("gnn")], AMD) is None  # timed there (tiny_budgets.json)
  assert warn([_spec("lm", size="small")], "Some Other CPU") is None  # not a tiny budget
  message = warn([_spec("lm"), _spec("gnn")], "Some Other CPU")
  assert f"timed on {INTEL}" in message and "this machine is Some Other CPU" in message
  assert "algoperf-lab time-budgets --workloads=gnn,lm " in message


def test_a_tiny_config_reads_its_processors_own_budgets(monkeypatch):
  filed = json.loads(tiny_targets.BUDGETS_FILE.read_text())["machines"]["amd-epyc"]["workloads"]
  reference = json.loads(tiny_targets.TARGETS_FILE.read_text())["lm"]
  for model, expected in ((AMD, filed["lm"]), (INTEL, reference), ("Some Other CPU", reference)):
    monkeypatch.setattr(tiny_targets, "processor_model", lambda model=model: model)
    targets = lm_config.get_config("tiny").targets
    assert targets.max_allowed_cpu_sec == expected["max_allowed_cpu_sec"], model
    assert targets.eval_period_time_sec == expected["eval_period_time_sec"], model
    assert targets.validation == reference["validation"]  # targets are the metric's, kept
  assert tiny_targets.budget_processor("lm", AMD) == AMD
  assert tiny_targets.budget_processor("lm", "Some Other CPU") == INTEL


def test_the_study_command_refuses_the_intel_board_on_another_processor(monkeypatch, capsys):
  from algoperf_lab import cli, processor

  monkeypatch.chdir(REPO_ROOT)
  monkeypatch.setattr(processor, "processor_model", lambda: AMD)
  code = cli.main(["study", "--study=configs/studies/leaderboard_tiny.py",
                   "--workdir=results/leaderboard_tiny", "--boards=self_tuning", "--no_progress"])
  assert code == 2
  err = capsys.readouterr().err
  assert "results/leaderboard_tiny/self_tuning holds runs made on another processor" in err
  assert "--workdir=results/leaderboard_tiny_amd-epyc" in err


@pytest.mark.parametrize("command", ["run", "tune"])
def test_run_and_tune_warn_when_the_tiny_budget_was_timed_on_another_processor(
    command, monkeypatch, capsys, tmp_path):
  """After the run's own last line (the training itself is stubbed here): a refused run's error
  stays one line, as the CLI's tests of refusals require on any processor."""
  import types

  from algoperf_lab import cli, processor, runner
  from algoperf_lab.tuning import study

  finished = types.SimpleNamespace(
      time_unit="CPU s", time_to_target_sec=None, status=types.SimpleNamespace(value="missed"),
      steps_to_target=None, steps=3, submission_time_sec=1.0, clock="process_cpu",
      stop_reason="budget")
  monkeypatch.setattr(runner, "run", lambda request: finished)
  monkeypatch.setattr(study, "run_tuning", lambda request, **kwargs: [])
  argv = [command, "--workload=gnn", "--submission=submissions/baselines/adamw.py",
          f"--workdir={tmp_path / 'w'}", "--no_progress"]
  monkeypatch.setattr(processor, "processor_model", lambda: "Some Other CPU")
  assert cli.main(argv) == 0
  out, err = capsys.readouterr()
  assert f"the tiny budgets of gnn were timed on {INTEL}" in err
  assert "this machine is Some Other CPU" in err and "record" in out
  monkeypatch.setattr(processor, "processor_model", lambda: AMD)  # timed there: no warning
  assert cli.main(argv) == 0
  assert "were timed on" not in capsys.readouterr().err
  missing = [*argv[:2], f"--submission={tmp_path / 'no_such_submission.py'}", *argv[3:]]
  monkeypatch.undo()  # the real run, refused: one line, no warning before it
  monkeypatch.setattr(processor, "processor_model", lambda: "Some Other CPU")
  assert cli.main(missing) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "no_such_submission.py" in err[0]
