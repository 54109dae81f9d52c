"""The `algoperf-lab` command as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from algoperf_lab import cli
from tests.helpers import ADAMW, NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

CONSOLE_SCRIPT = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")


def _console(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
  command = [CONSOLE_SCRIPT] if (REPO_ROOT / ".venv").exists() else [sys.executable, "-m", "algoperf_lab.cli"]
  return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout,
                        cwd=REPO_ROOT)


def test_list_shows_workloads_and_submissions(capsys):
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  assert "lm" in out and "tiny" in out and "small" in out and "full" in out
  assert "validation/bits_per_byte <=" in out
  assert "submissions/baselines/nadamw.py" in out and "submissions/baselines/adamw.py" in out


@pytest.mark.parametrize("args, message", [
    (["--workload=nope"], "unknown workload 'nope'; registered workloads: "),
    (["--size=huge"], "has no size 'huge'"),
    (["--submission=missing.py"], "submission file missing.py does not exist"),
    (["--config.model.num_layerz=2"], "no key 'model.num_layerz'"),
    (["--config.model.num_layers=two"], "expected a int"),
    (["--hparams=/nonexistent.json"], "does not exist"),
])
def test_run_errors_are_one_clear_line(tmp_path, capsys, args, message):
  base = {"--workload": "lm", "--size": "tiny", "--submission": ADAMW}
  for arg in args:
    key = arg.split("=", 1)[0]
    base.pop(key, None)
  argv = ["run", f"--workdir={tmp_path}", *(f"{k}={v}" for k, v in base.items()), *args]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  assert err.startswith("algoperf-lab run: error:") and message in err
  assert "Traceback" not in err


def test_run_writes_record_and_refuses_to_overwrite(tmp_path):
  workdir = tmp_path / "run"
  args = ("run", "--workload=lm", "--size=tiny", f"--submission={ADAMW}", f"--workdir={workdir}",
          "--max_steps=3", "--eval_every_steps=3", "--no_progress", *SMALL_LM_OVERRIDES)
  done = _console(*args)
  assert done.returncode == 0, done.stderr
  assert "status=capped" in done.stdout and "steps=3" in done.stdout
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "capped" and record["steps"] == 3
  assert len((workdir / "metrics.jsonl").read_text().splitlines()) == 1
  again = _console(*args)
  assert again.returncode == 2 and "already holds a finished run" in again.stderr
  assert json.loads((workdir / "result.json").read_text()) == record  # nothing lost
  assert _console(*args, "--overwrite").returncode == 0


def test_hparams_file_reaches_the_submission(tmp_path):
  hparams = tmp_path / "hparams.json"
  hparams.write_text(json.dumps({"learning_rate": 0.0123, "warmup_factor": 0.1}))
  workdir = tmp_path / "run"
  assert cli.main(["run", "--workload=lm", f"--submission={NADAMW}", f"--workdir={workdir}",
                   f"--hparams={hparams}", "--max_steps=1", "--eval_every_steps=1",
                   "--no_progress", "--seed=7", *SMALL_LM_OVERRIDES]) == 0
  record = json.loads((workdir / "result.json").read_text())
  assert record["hparams"]["learning_rate"] == 0.0123
  assert record["hparams"]["beta2"] == 0.9955159689799007  # the default kept
  assert record["seed"] == 7


def test_relative_workdir_with_checkpoints(tmp_path):
  """A workdir given relative to the current folder (as the README's commands do)."""
  done = subprocess.run(
      [CONSOLE_SCRIPT, "run", "--workload=lm", f"--submission={ADAMW}", "--workdir=runs/rel",
       "--max_steps=4", "--eval_every_steps=2", "--checkpoint_every_sec=0", "--no_progress",
       *SMALL_LM_OVERRIDES], capture_output=True, text=True, cwd=tmp_path, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  workdir = tmp_path / "runs" / "rel"
  assert json.loads((workdir / "result.json").read_text())["steps"] == 4
  assert (workdir / "checkpoints" / "4").is_dir()


def _run_argv(tmp_path, *extra: str, submission: str = ADAMW) -> list[str]:
  return ["run", "--workload=lm", f"--submission={submission}", f"--workdir={tmp_path / 'run'}",
          "--max_steps=1", "--eval_every_steps=1", "--no_progress", *SMALL_LM_OVERRIDES, *extra]


def _one_line_error(capsys, command: str = "run") -> str:
  err = capsys.readouterr().err
  assert err.startswith(f"algoperf-lab {command}: error:"), err
  assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
  return err


@pytest.mark.parametrize("submission", [ADAMW, NADAMW], ids=["optax_form", "algoperf_form"])
def test_a_typo_in_hparams_is_refused(tmp_path, capsys, submission):
  hparams = tmp_path / "hparams.json"
  hparams.write_text(json.dumps({"learning_rte": 0.001}))
  assert cli.main(_run_argv(tmp_path, f"--hparams={hparams}", submission=submission)) == 2
  assert "['learning_rte']" in _one_line_error(capsys)
  assert not (tmp_path / "run" / "result.json").exists()  # refused before anything ran


def test_a_wrong_hparam_type_names_the_hyperparameter(tmp_path, capsys):
  hparams = tmp_path / "hparams.json"
  hparams.write_text(json.dumps({"learning_rate": "fast"}))
  assert cli.main(_run_argv(tmp_path, f"--hparams={hparams}")) == 2
  assert "'learning_rate' must be a number" in _one_line_error(capsys)


@pytest.mark.parametrize("flag, message", [
    ("--max_runtime_sec=nan", "--max_runtime_sec: 'nan' must be a finite number above 0"),
    ("--max_runtime_sec=-5", "must be a finite number above 0"),
    ("--workdir=", "--workdir: is empty"),
    (f"--seed={2**40}", "--seed: '1099511627776' must be in [0, 2**32)"),
    ("--seed=-1", "must be in [0, 2**32)"),
    ("--max_steps=0", "--max_steps: '0' must be at least 1"),
    ("--eval_every_steps=x", "--eval_every_steps: 'x' is not a whole number"),
    ("--checkpoint_every_sec=inf", "--checkpoint_every_sec"),
])
def test_bad_flag_values_are_refused_by_the_parser(tmp_path, capsys, flag, message):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(_run_argv(tmp_path, flag))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert message in err and "Traceback" not in err


def test_tune_flags_are_checked_too(tmp_path, capsys):
  with pytest.raises(SystemExit):
    cli.main(["tune", "--workload=lm", f"--submission={ADAMW}", "--workdir=", "--ruleset=self"])
  assert "--workdir: is empty" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    cli.main(["tune", "--workload=lm", f"--submission={ADAMW}", f"--workdir={tmp_path}",
              "--studies=0"])
  assert "--studies: '0' must be at least 1" in capsys.readouterr().err


def test_a_negative_layer_count_is_refused(tmp_path, capsys):
  assert cli.main(_run_argv(tmp_path, "--config.model.num_layers=-2")) == 2
  assert "lm.model.num_layers=-2 must be at least 1" in _one_line_error(capsys)


def test_a_file_as_workdir_is_one_line(tmp_path, capsys):
  (tmp_path / "run").write_text("not a folder")
  assert cli.main(_run_argv(tmp_path)) == 2
  assert "is a file, not a folder" in _one_line_error(capsys)


def test_a_workdir_under_a_file_is_one_line(tmp_path, capsys):
  (tmp_path / "file").write_text("")
  argv = [a if not a.startswith("--workdir=") else f"--workdir={tmp_path / 'file' / 'run'}"
          for a in _run_argv(tmp_path)]
  assert cli.main(argv) == 2
  assert "cannot be created" in _one_line_error(capsys)


def test_a_locked_workdir_is_refused_with_the_holders_pid(tmp_path, capsys):
  from algoperf_lab.harness.workdir_lock import hold_workdir_lock

  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from pathlib import Path; "
       "from algoperf_lab.harness.workdir_lock import hold_workdir_lock\n"
       "with hold_workdir_lock(Path(sys.argv[1])):\n  print('locked', flush=True); time.sleep(60)",
       str(tmp_path / "run")], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
  try:
    assert holder.stdout.readline().strip() == "locked"
    assert cli.main(_run_argv(tmp_path)) == 2
    assert f"in use by process {holder.pid}" in _one_line_error(capsys)
    assert not (tmp_path / "run" / "result.json").exists()
  finally:
    holder.kill()
    holder.wait()
  with hold_workdir_lock(tmp_path / "run"):  # released by the OS when its holder died
    pass


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
  import errno

  from algoperf_lab import runner

  def full_disk(request):
    try:
      raise OSError(errno.ENOSPC, "No space left on device", str(request.workdir / "x"))
    except OSError as error:
      raise RuntimeError("orbax: an asynchronous save failed") from error

  monkeypatch.setattr(runner, "run", full_disk)
  assert cli.main(_run_argv(tmp_path)) == 2
  err = _one_line_error(capsys)
  assert "no space left on the device" in err and str(tmp_path / "run") in err


def test_a_submission_without_hyperparameters_runs(tmp_path):
  """Issue 8: self-tuning submissions receive no hyperparameters; they used to be refused."""
  submission = tmp_path / "self_tuning_adam.py"
  submission.write_text(
      "import optax\n\n\n"
      "def make_optimizer(hparams, workload):\n"
      "  assert hparams._asdict() == {} and getattr(hparams, 'dropout_rate', None) is None\n"
      "  return optax.adam(1e-3)\n")
  workdir = tmp_path / "run"
  assert cli.main(["run", "--workload=lm", f"--submission={submission}", f"--workdir={workdir}",
                   "--max_steps=1", "--eval_every_steps=1", "--no_progress",
                   *SMALL_LM_OVERRIDES]) == 0
  record = json.loads((workdir / "result.json").read_text())
  assert record["hparams"] == {} and record["steps"] == 1


def test_a_full_disk_reported_only_in_a_message_is_recognised(tmp_path):
  """tensorstore (under orbax) reports ENOSPC as a ValueError whose text is the only clue."""
  from algoperf_lab import runner

  try:
    raise ValueError("Error writing local file \"/x/d/abc\": No space left on device [tensorstore]")
  except ValueError as error:
    with pytest.raises(runner.DiskFullError, match="no space left on the device"):
      runner.raise_if_disk_full(error, tmp_path)
  runner.raise_if_disk_full(ValueError("some other failure"), tmp_path)  # not a full disk: no-op


def test_a_batch_size_the_data_cannot_fill_is_one_line(tmp_path, capsys):
  """A get_batch_size larger than gnn's training split: one line naming both sizes, no hang."""
  submission = tmp_path / "huge_batches.py"
  submission.write_text(
      (REPO_ROOT / "submissions" / "baselines" / "adamw.py").read_text()
      + "\n\ndef get_batch_size(workload_name):\n  return 10**9\n")
  argv = ["run", "--workload=gnn", f"--submission={submission}", f"--workdir={tmp_path / 'run'}",
          "--max_steps=1", "--no_progress", "--config.data.max_molecules=1000"]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  assert err.startswith("algoperf-lab run: error:") and "batch size 1000000000" in err
  assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_score_lists_a_few_skipped_logs_and_points_to_the_report(tmp_path, capsys):
  """Issue 20: score said "(20 log(s) skipped; see report.md)" and then printed all 20."""
  import types

  skipped = [types.SimpleNamespace(path=f"logs/trial_{i}", reason="truncated") for i in range(20)]
  cli._print_skipped(skipped, tmp_path / "report.md")  # pylint: disable=protected-access
  lines = capsys.readouterr().err.splitlines()
  assert len(lines) == 6 and lines[-1].startswith("... and 15 more skipped")


def test_list_shows_both_budgets_and_says_which_clock_times_a_run(capsys):
  """Issue 20: `list` showed only wall budgets while CPU runs use the CPU budget."""
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  assert "wall budget" in out and "CPU budget" in out and " CPU s" in out
  assert "process's CPU time" in out
