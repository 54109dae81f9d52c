"""AlgoPerf's own JAX files train on the lab's workloads with no edit (jit and pmap API).

Fast: one file of each API generation for three steps, an external-tuning file through
`algoperf-lab tune` with its own search space, and the v0.5 pmap API on 1 and 8 fake
devices. Slow: every runnable file.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from algoperf_lab import cli, runner
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.tuning import halton, search_space
from tests.algoperf_interop import files
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

CLI = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")
RUN_ARGS = ("--workload=lm", "--size=tiny", "--max_steps=4", "--eval_every_steps=2",
            "--no_progress", "--no_checkpoints", "--seed=1", *SMALL_LM_OVERRIDES)


def _search_space_of(path: Path) -> Path | None:
  for folder in (path.parent, path.parent.parent):
    if (folder / "tuning_search_space.json").is_file():
      return folder / "tuning_search_space.json"
  return None


def _first_trial(path: Path) -> dict | None:
  space = _search_space_of(path)
  if space is None or "self_tuning" in str(path):
    return None
  return halton.sample_trials(search_space.load_search_space(space), 1, seed=0)[0]


def _train(path: Path, workdir: Path) -> list[dict]:
  result = runner.run(runner.RunRequest(
      workload="lm", size="tiny", submission=str(path), workdir=workdir,
      config_overrides=SMALL_LM_OVERRIDES, hparams_overrides=_first_trial(path),
      settings=RunSettings(max_steps=4, eval_every_steps=2, progress=False,
                           checkpoint_every_sec=None, seed=1)))
  assert result.status.value == "capped" and result.steps == 4
  return result.eval_history


def _check_it_learns(history: list[dict]) -> None:
  losses = [line["validation/loss"] for line in history]
  assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
  assert losses[1] < losses[0]


@pytest.mark.parametrize("name", ["current_nadamw", "v05_self_baseline"])
def test_one_file_of_each_api_generation_trains(tmp_path, name):
  path = {**files.JIT_FILES, **files.PMAP_FILES}[name]
  _check_it_learns(_train(path, tmp_path / name))
  record = json.loads((tmp_path / name / "result.json").read_text())
  assert record["submission_form"] == "algoperf"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted({**files.JIT_FILES, **files.PMAP_FILES}))
def test_every_runnable_algoperf_file_trains(tmp_path, name):
  _check_it_learns(_train({**files.JIT_FILES, **files.PMAP_FILES}[name], tmp_path / name))


def test_an_external_tuning_file_is_tuned_with_its_own_search_space(tmp_path, capsys):
  path = files.JIT_FILES["archived_nadamw"]
  code = cli.main(["tune", "--workload=lm", "--size=tiny", f"--submission={path}",
                   f"--search_space={_search_space_of(path)}", "--trials=1", "--max_steps=2",
                   "--eval_every_steps=2", "--no_progress", f"--workdir={tmp_path}",
                   *SMALL_LM_OVERRIDES])
  assert code == 0, capsys.readouterr().err
  record = json.loads((tmp_path / "study_0" / "trial_0" / "result.json").read_text())
  assert record["steps"] == 2 and "warmup_factor" in record["hparams"]


def test_the_archived_pmap_in_axes_bug_is_reported_as_the_submissions_failure(tmp_path):
  path = files.PMAP_IN_AXES_BUG["archived_lamb"]
  # jax.pmap indexes its 9-entry in_axes with the step's 10th argument.
  with pytest.raises(IndexError, match="tuple index out of range"):
    _train(path, tmp_path / "lamb")
  record = json.loads((tmp_path / "lamb" / "result.json").read_text())
  assert record["status"] == "failed" and "IndexError" in record["error"]


def _cli_on_devices(workdir: Path, devices: int, submission: Path) -> list[dict]:
  env = {**os.environ, "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
  done = subprocess.run([CLI, "run", *RUN_ARGS, f"--submission={submission}",
                         f"--workdir={workdir}"], env=env, capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  assert json.loads((workdir / "result.json").read_text())["hardware"]["device_count"] == devices
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_the_pmap_api_gives_the_same_metrics_on_one_and_eight_devices(tmp_path):
  submission = files.PMAP_FILES["v05_self_baseline"]
  one = _cli_on_devices(tmp_path / "one", 1, submission)
  eight = _cli_on_devices(tmp_path / "eight", 8, submission)
  keys = ("validation/loss", "train/loss", "validation/bits_per_byte")
  assert [line["step"] for line in eight] == [line["step"] for line in one] == [2, 4]
  for a, b in zip(one, eight):
    assert [b[k] for k in keys] == pytest.approx([a[k] for k in keys], rel=1e-4)
