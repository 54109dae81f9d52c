"""`--executor=slurm`: tune writes AlgoPerf-shaped job configs and an sbatch array script and
runs nothing; each array task, run here with SLURM_ARRAY_TASK_ID set (there is no SLURM on
this machine), runs its trial; the same tune command then finds every trial finished."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from algoperf_lab import cli
from tests.helpers import ADAMW, REPO_ROOT, SMALL_LM_OVERRIDES


@pytest.mark.slow
def test_slurm_array_tasks_run_the_trials_and_tune_then_skips_them(tmp_path, capsys):
  workdir = tmp_path / "tune"
  args = ["tune", "--workload=lm", f"--submission={ADAMW}", f"--workdir={workdir}",
          f"--search_space={REPO_ROOT / 'configs' / 'search_spaces' / 'adamw.json'}",
          "--trials=2", "--max_steps=4", "--eval_every_steps=2", "--no_progress",
          *SMALL_LM_OVERRIDES]
  assert cli.main([*args, "--executor=slurm", "--sbatch_option=--time=00:10:00"]) == 0
  out = capsys.readouterr().out
  assert "2 trial(s) in" in out and "sbatch" in out and "2 submitted" in out
  jobs = json.loads((workdir / "slurm_jobs.json").read_text())
  assert sorted(jobs) == ["0", "1"]
  assert {k: jobs["1"][k] for k in ("framework", "workload", "tuning_ruleset", "rng_seed")} == {
      "framework": "jax", "workload": "lm", "tuning_ruleset": "external", "rng_seed": 1}
  script = (workdir / "slurm_array.sbatch").read_text()
  assert "#SBATCH --array=0-1" in script and "#SBATCH --time=00:10:00" in script
  assert not (workdir / "study_0" / "trial_0" / "result.json").exists()  # nothing ran here
  for index in (1, 0):
    done = subprocess.run(["bash", str(workdir / "slurm_array.sbatch")], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=600,
                          env={**os.environ, "SLURM_ARRAY_TASK_ID": str(index)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"study 0 trial {index}: capped" in done.stdout
  assert cli.main(args) == 0
  assert capsys.readouterr().out.count("already finished (capped), skipped") == 2


def test_run_trial_refuses_an_index_outside_the_array(tmp_path, capsys):
  jobs = tmp_path / "slurm_jobs.json"
  jobs.write_text(json.dumps({"0": {"spec": str(tmp_path / "spec.json")}}))
  assert cli.main(["run-trial", f"--sweep={jobs}", "--index=3"]) == 2
  assert "--index=3 is not a task of" in capsys.readouterr().err
