"""`algoperf-lab set-targets` end to end on gnn/tiny with a few-step study config: the
layout, targets.json recomputed from the records, a re-run that runs nothing, the configs
file it installs, and the errors a user meets first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from algoperf_lab import cli
from algoperf_lab.target_setting import installed, procedure
from configs import tiny_targets
from tests.helpers import REPO_ROOT

STUDY = """
import ml_collections

def get_config():
  return ml_collections.ConfigDict(dict(
      size="tiny",
      baselines=dict(adamw="{root}/submissions/baselines/adamw.py",
                     nesterov="{root}/submissions/baselines/nesterov.py"),
      search_spaces=dict(adamw="{root}/configs/search_spaces/adamw.json",
                         nesterov="{root}/configs/search_spaces/nesterov.json"),
      trials=2, seeds=2, evals_per_run=2, tuning_seed=0, timing_runs=1,
      workloads=dict(gnn=dict(horizon=4, variants=["gnn_silu"]))))
"""


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
  path = tmp_path / "study.py"
  path.write_text(STUDY.format(root=REPO_ROOT))
  return path


def test_set_targets_writes_records_targets_and_configs_and_reruns_nothing(
    tmp_path, study_file, monkeypatch, capsys):
  installed_file = tmp_path / "tiny_targets.json"
  monkeypatch.setattr(tiny_targets, "TARGETS_FILE", installed_file)
  # No processor's own budgets (configs/tiny_budgets.json) in the way, whatever this machine is.
  monkeypatch.setattr(tiny_targets, "BUDGETS_FILE", tmp_path / "no_tiny_budgets.json")
  out = tmp_path / "targets"
  argv = ["set-targets", f"--study={study_file}", f"--out={out}", "--no_progress",
          "--update_configs"]
  assert cli.main(argv) == 0
  for baseline in ("adamw", "nesterov"):
    assert sorted(p.name for p in (out / "gnn" / "tuning" / baseline / "study_0").iterdir()) == [
        "trial_0", "trial_1"]
    for study in (0, 1):
      record = json.loads((out / "gnn" / "seeds" / baseline / f"study_{study}" / "trial_0"
                           / "result.json").read_text())
      assert record["steps"] == 4 and record["seed"] == 10_000 + 1000 * study
      assert record["workload_config"]["targets"]["step_hint"] == 4
  targets = json.loads((out / "targets.json").read_text())
  assert set(targets["workloads"]) == {"gnn", "gnn_silu"}
  gnn = targets["workloads"]["gnn"]
  setter = gnn["target_setting_algorithm"]
  assert setter in ("adamw", "nesterov") and gnn["step_hint"] == 4
  assert not (out / "gnn_silu" / "seeds" / ({"adamw", "nesterov"} - {setter}).pop()).exists()
  medians = [row["median_best_validation"] for row in gnn["baselines"].values()]
  assert gnn["baselines"][setter]["median_best_validation"] == min(medians)
  assert gnn["validation"] == round(gnn["baselines"][setter]["median_best_validation"], 4)
  assert gnn["max_allowed_cpu_sec"] == pytest.approx(
      4 / 3 * gnn["median_submission_time_sec"], abs=0.06)
  assert "| gnn_silu |" in (out / "report.md").read_text()
  assert gnn["budget_from"] == "the 2 seed runs" and targets["timing_runs"] == 1
  # Budgets read off the seed runs are not installed while the study asks for timing runs.
  assert not installed_file.exists()
  assert "not installed: gnn, gnn_silu (budgets still from the seed runs)" in capsys.readouterr().out
  # A re-run runs nothing.
  assert cli.main(argv) == 0
  text = capsys.readouterr().out
  assert "already finished" in text and ": reached" not in text and ": missed" not in text
  assert json.loads((out / "targets.json").read_text())["workloads"] == targets["workloads"]
  assert procedure.collect_targets(
      procedure.plan_from_config(procedure.load_study_config(study_file)), out)["workloads"] == (
          targets["workloads"])
  # --timing re-runs the setter's first seed alone; the budgets then come from it.
  assert cli.main([*argv[:4], "--timing", "--workload=gnn", "--update_configs"]) == 0
  text = capsys.readouterr().out
  assert "wrote gnn into" in text and "not installed: gnn_silu" in text
  timed_targets = json.loads((out / "targets.json").read_text())
  timed = timed_targets["workloads"]["gnn"]
  (run,) = timed["timing_runs"]
  assert timed["budget_from"] == "1 timing runs (set-targets --timing)"
  assert timed["max_allowed_cpu_sec"] == pytest.approx(4 / 3 * run["submission_time_sec"], abs=0.06)
  assert len(timed["timing_load_averages"]) == 2 and timed["validation"] == gnn["validation"]
  assert timed["timing_cpu_cores"] == [len(os.sched_getaffinity(0))]
  assert (out / "gnn" / "timing" / setter / "study_0" / "trial_0" / "result.json").is_file()
  # configs/tiny_targets.json (here redirected) is what the tiny configs now read.
  assert json.loads(installed_file.read_text()) == {
      "gnn": installed.config_values(timed_targets, "gnn")}
  from configs import gnn
  assert gnn.get_config("tiny").targets.validation == timed["validation"]
  assert gnn.get_config("tiny").targets.max_allowed_cpu_sec == timed["max_allowed_cpu_sec"]
  assert "timed at" in gnn.get_config("tiny").targets.how_measured
  assert not (out / "gnn_silu" / "timing").exists()


def test_bad_study_config_and_unknown_workload_are_one_line_errors(tmp_path, study_file, capsys):
  assert cli.main(["set-targets", f"--study={tmp_path / 'nope.py'}", f"--out={tmp_path / 'o'}"]) == 2
  assert "no such file" in capsys.readouterr().err
  assert cli.main(["set-targets", f"--study={study_file}", f"--out={tmp_path / 'o'}",
                   "--workload=vit"]) == 2
  err = capsys.readouterr().err
  assert "--workload=vit is not in the study config (gnn, gnn_silu)" in err
  broken = tmp_path / "broken.py"
  broken.write_text(STUDY.format(root=REPO_ROOT).replace("nesterov.json\"", "missing.json\""))
  assert cli.main(["set-targets", f"--study={broken}", f"--out={tmp_path / 'o'}"]) == 2
  assert "missing.json (named by the study config) does not exist" in capsys.readouterr().err


def test_the_bundled_study_config_is_valid():
  config = procedure.load_study_config(REPO_ROOT / "configs" / "studies" / "target_setting_tiny.py")
  plan = procedure.plan_from_config(config)
  assert plan.seeds >= 5 and len(plan.baselines) >= 3
  assert {w.name for w in plan.workloads} == {"lm", "vit", "gnn"}


def test_processes_started_while_targets_are_ignored_ignore_them_too(tmp_path, monkeypatch):
  """set-targets' worker processes (run-trial) must build the configs the procedure does,
  not those with its own installed output."""
  import subprocess
  import sys

  installed_file = tmp_path / "tiny_targets.json"
  installed_file.write_text(json.dumps({"gnn": {"validation": 0.001}}))
  monkeypatch.setattr(tiny_targets, "TARGETS_FILE", installed_file)
  code = ("from configs import tiny_targets; from pathlib import Path; "
          f"tiny_targets.TARGETS_FILE = Path({str(installed_file)!r}); "
          "from configs import gnn; print(gnn.get_config('tiny').targets.validation)")
  def child() -> float:
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                cwd=REPO_ROOT, check=True).stdout)
  assert child() == 0.001
  with tiny_targets.ignored():
    assert child() != 0.001
  assert child() == 0.001


def test_tuned_variants_get_their_own_configuration_and_stale_seeds_are_refused(
    tmp_path, capsys):
  """With tune_variants, a variant's target-setting algorithm is tuned again on it and its
  seeds re-run its own best trial; seeds of another configuration are never used."""
  study = tmp_path / "tuned.py"
  study.write_text(STUDY.format(root=REPO_ROOT).replace(
      "timing_runs=1,", "timing_runs=1, tune_variants=True,").replace("seeds=2", "seeds=1"))
  out = tmp_path / "targets"
  argv = ["set-targets", f"--study={study}", f"--out={out}", "--no_progress"]
  assert cli.main(argv) == 0
  targets = json.loads((out / "targets.json").read_text())
  setter = targets["workloads"]["gnn"]["target_setting_algorithm"]
  variant = targets["workloads"]["gnn_silu"]
  assert variant["target_setting_algorithm"] == setter
  assert variant["target_setting_trial"].startswith(f"gnn_silu/tuning/{setter}/study_0/trial_")
  assert sorted(p.name for p in (out / "gnn_silu" / "tuning" / setter / "study_0").iterdir()) == [
      "trial_0", "trial_1"]
  best = json.loads((out / variant["target_setting_trial"] / "result.json").read_text())["hparams"]
  seed_result = out / "gnn_silu" / "seeds" / setter / "study_0" / "trial_0" / "result.json"
  assert json.loads(seed_result.read_text())["hparams"] == best
  assert "re-run their base" not in targets["about"] and "tuned again" in targets["about"]
  # A seed run of another configuration (e.g. made before the variant was tuned) is refused.
  record = json.loads(seed_result.read_text())
  record["hparams"]["learning_rate"] *= 2
  seed_result.write_text(json.dumps(record))
  plan = procedure.plan_from_config(procedure.load_study_config(study))
  assert "gnn_silu" not in procedure.collect_targets(plan, out)["workloads"]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  assert "gnn_silu: 1 seed/timing runs were made with another configuration" in err
  assert f"rm -r` {out / 'gnn_silu' / 'seeds' / setter}" in err


def test_untuned_variants_must_be_variants(tmp_path):
  config = procedure.load_study_config(REPO_ROOT / "configs" / "studies" / "target_setting_tiny.py")
  config["workloads"]["gnn"]["untuned_variants"] = ["lm_moe"]
  with pytest.raises(procedure.PlanError, match=r"untuned_variants \['lm_moe'\] are not among"):
    procedure.plan_from_config(config)
