"""A run's CPU core count is set before JAX starts, recorded, and kept apart in scoring."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from algoperf_lab import cpu_cores
from algoperf_lab.scoring.records import MixedHardwareError
from algoperf_lab.scoring.report import score_directories
from tests.scoring.factories import CPU, lab_run

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMES = [10.0 * (i + 1) for i in range(10)]
needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"),
                                    reason="no CPU affinity on this OS")


def _reaching(at: float) -> list[float]:
  return [3.0 if t < at else 1.5 for t in TIMES]


def test_one_thread_switches_off_xla_eigen_threads_once():
  env = cpu_cores.thread_env(1, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
  assert env["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2",
                                      "--xla_cpu_multi_thread_eigen=false"]
  assert cpu_cores.thread_env(1, env)["XLA_FLAGS"] == env["XLA_FLAGS"]
  assert env["OMP_NUM_THREADS"] == "1"
  assert "XLA_FLAGS" not in cpu_cores.thread_env(2, {})
  assert cpu_cores.thread_env(None, {"A": "b"}) == {"A": "b"}


@needs_affinity
def test_more_cores_than_the_process_may_use_is_one_clear_error():
  usable = len(os.sched_getaffinity(0))
  with pytest.raises(cpu_cores.CpuCoresError, match=f"may use {usable} core"):
    cpu_cores.keep_to_cores(usable + 1)
  assert len(os.sched_getaffinity(0)) == usable  # nothing changed


@needs_affinity
def test_run_with_one_core_records_it(tmp_path):
  workdir = tmp_path / "run"
  done = subprocess.run(
      [sys.executable, "-m", "algoperf_lab.cli", "run", "--workload=gnn",
       "--submission=submissions/baselines/adamw.py", f"--workdir={workdir}", "--max_steps=2",
       "--eval_every_steps=2", "--no_checkpoints", "--no_progress", "--cpu_cores=1"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  hardware = json.loads((workdir / "result.json").read_text())["hardware"]
  assert hardware["usable_cpu_cores"] == 1 and hardware["xla_eigen_threads"] is False


def test_records_of_different_core_counts_are_not_scored_together(tmp_path):
  runs = tmp_path / "runs"
  lab_run(runs, "a", submission="adamw", times=TIMES, losses=_reaching(40.0), ruleset="self",
          hardware={**CPU, "usable_cpu_cores": 1})
  lab_run(runs, "b", submission="sgd", times=TIMES, losses=_reaching(80.0), ruleset="self",
          hardware={**CPU, "usable_cpu_cores": 2})
  with pytest.raises(MixedHardwareError, match="usable_cpu_cores=1.*usable_cpu_cores=2"):
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)


def test_one_core_count_scores_and_is_named_in_the_report(tmp_path):
  runs = tmp_path / "runs"
  for name, at in (("adamw", 40.0), ("sgd", 80.0)):
    lab_run(runs, name, submission=name, times=TIMES, losses=_reaching(at), ruleset="self",
            hardware={**CPU, "usable_cpu_cores": 1})
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert any("1 usable core(s)" in line for line in report.hardware)


def test_the_report_names_the_processor_of_the_committed_boards(tmp_path):
  """A board's compute line says which processor made it (the lab's boards are per processor:
  README, CPU budgets are per processor model)."""
  from tests.helpers import REPO_ROOT
  report = score_directories([REPO_ROOT / "results" / "leaderboard_tiny" / "moe"],
                             tmp_path / "out", bootstrap_samples=10)
  assert report.hardware == (
      "cpu x 1 (Intel(R) Xeon(R) Processor, platform cpu, 1 process(es), 1 usable core(s)); "
      "algoperf_lab 0.1.0, jax 0.10.2, flax 0.12.8, optax 0.2.8, python 3.11.7",)
