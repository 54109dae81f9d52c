"""`algoperf-lab demo` end to end, with a reduced budget (slow)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES


@pytest.mark.slow
def test_demo_runs_scores_and_reports(tmp_path):
  done = subprocess.run(
      [str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab"), "demo", f"--workdir={tmp_path}",
       "--no_progress", "--workloads=lm", *SMALL_LM_OVERRIDES, "--clock=wall",
       "--config.targets.max_allowed_runtime_sec=20.0",
       "--config.targets.eval_period_time_sec=4.0", "--config.targets.validation=4.5"],
      capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "nadamw_optax" in done.stdout and "adamw" in done.stdout and "report:" in done.stdout
  scores = json.loads((tmp_path / "report" / "scores.json").read_text())
  assert set(scores["submissions"]) == {"nadamw_optax", "adamw"}
  assert scores["workloads"] == ["lm/tiny"]
  for name in ("performance_profile.png", "curves_lm_tiny.png"):
    assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert "performance_profile.png" in (tmp_path / "report" / "report.md").read_text()


def test_the_default_demo_leaves_out_what_is_too_slow_on_a_cpu():
  """Issue 21: lm_moe joined the demo and took it past 11 minutes (its runs are ~13 min each);
  with vit's evals every 2% of its budget, gnn + lm + vit took 10 min 21 s (2026-12-06)."""
  from algoperf_lab.demo import demo_workloads

  assert demo_workloads() == ("gnn", "lm")


def test_the_demo_runs_the_tuned_configurations_the_targets_were_set_with():
  """The tiny targets are set by tuned baselines, which their defaults miss; the demo runs each
  baseline with its best tuning trial's hyperparameters from the committed records."""
  from algoperf_lab.demo import TARGET_SETTING, tuned_hparams

  targets = json.loads((TARGET_SETTING / "targets.json").read_text())
  for workload in ("gnn", "lm", "vit"):
    for name in ("nadamw_optax", "adamw"):
      trial = targets["workloads"][workload]["baselines"][name]["best_trial"]
      record = json.loads((TARGET_SETTING / trial / "result.json").read_text())
      assert tuned_hparams(TARGET_SETTING, workload, name) == record["hparams"]
  assert tuned_hparams(TARGET_SETTING, "gnn", "lion") is None  # not a target-setting baseline
  assert tuned_hparams(TARGET_SETTING / "nowhere", "gnn", "adamw") is None
