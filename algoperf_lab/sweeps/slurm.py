"""The `slurm` executor: a SLURM job array instead of running anything here.

`submit` writes each trial's spec.json; `finish` writes, in the sweep's folder,
`slurm_jobs.json` in the shape of AlgoPerf's SLURM job configs (`scoring/utils/slurm/` in
mlcommons/algorithmic-efficiency: `{index: {framework, workload, submission_path,
experiment_dir, rng_seed, tuning_ruleset, num_tuning_trials, ...}}`, here with the spec each
task runs) and `slurm_array.sbatch`, whose task i runs `algoperf-lab run-trial
--sweep=slurm_jobs.json --index=$SLURM_ARRAY_TASK_ID`. Submit it with `sbatch`; rerun the
same command later to see what is left (finished trials are skipped, unfinished ones resume
from their checkpoints, so resubmitting the array is always safe).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.sweeps.spec import TrialSpec, submitted_spec_path, write_spec
from algoperf_lab.sweeps.worker import TrialResult

JOBS_FILE = "slurm_jobs.json"
SCRIPT_FILE = "slurm_array.sbatch"


class SlurmExecutor:
  name = "slurm"
  capacity = 1 << 30  # nothing runs here: every trial is handed to the array at once

  def __init__(self, sweep_dir: Path, sbatch_options: tuple[str, ...] = (),
               command: str | None = None):
    self.sweep_dir = Path(sweep_dir)
    self.sbatch_options = sbatch_options
    self.command = command or f"{shlex.quote(sys.executable)} -m algoperf_lab.cli"
    self.specs: list[TrialSpec] = []
    self._handed: list[TrialResult] = []

  def submit(self, spec: TrialSpec) -> None:
    write_spec(spec)
    self.specs.append(spec)
    self._handed.append(TrialResult(spec, "submitted", detail="handed to the SLURM array"))

  def poll(self, timeout_sec: float) -> list[TrialResult]:
    del timeout_sec
    done, self._handed = self._handed, []
    return done

  def cancel(self) -> list[TrialResult]:
    return self.poll(0.0)

  def finish(self) -> list[str]:
    """Writes the job config and the sbatch script; returns the lines to show the user."""
    if not self.specs:
      return ["slurm: nothing to submit (every trial is finished)."]
    self.sweep_dir.mkdir(parents=True, exist_ok=True)
    jobs = {str(i): job_entry(spec) for i, spec in enumerate(self.specs)}
    jobs_path = self.sweep_dir / JOBS_FILE
    write_text_atomically(jobs_path, json.dumps(jobs, indent=1) + "\n")
    script = self.sweep_dir / SCRIPT_FILE
    lines = ["#!/bin/bash", f"#SBATCH --array=0-{len(self.specs) - 1}",
             f"#SBATCH --output={self.sweep_dir.resolve()}/slurm_%A_%a.log",
             *(f"#SBATCH {option}" for option in self.sbatch_options),
             "set -euo pipefail",
             f"exec {self.command} run-trial --sweep={shlex.quote(str(jobs_path.resolve()))} "
             "--index=\"$SLURM_ARRAY_TASK_ID\""]
    write_text_atomically(script, "\n".join(lines) + "\n")
    script.chmod(0o755)
    return [f"slurm: {len(self.specs)} trial(s) in {jobs_path}; submit them with "
            f"`sbatch {script}` (each array task runs one; rerun this command afterwards to "
            "see what is left)"]


def job_entry(spec: TrialSpec) -> dict[str, object]:
  """AlgoPerf's job-config fields for one trial, plus the spec the task runs."""
  return {"framework": "jax", "workload": spec.workload, "size": spec.size,
          "submission_path": spec.submission, "experiment_dir": spec.workdir,
          "rng_seed": spec.seed, "tuning_ruleset": spec.ruleset, "study": spec.study,
          "trial": spec.trial, "num_tuning_trials": 1,
          "spec": str(submitted_spec_path(spec).resolve())}


def spec_path_of(jobs_file: Path, index: int) -> Path:
  """The spec.json of array task `index`; ValueError naming the range when it is outside."""
  jobs = json.loads(Path(jobs_file).read_text())
  if str(index) not in jobs:
    raise ValueError(f"--index={index} is not a task of {jobs_file} (0..{len(jobs) - 1}).")
  return Path(jobs[str(index)]["spec"])
