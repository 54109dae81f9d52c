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
  assert "status=missed" in done.stdout and "steps=3" in done.stdout
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "missed" and record["steps"] == 3
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
