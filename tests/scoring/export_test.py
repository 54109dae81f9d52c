"""Lab runs written as an AlgoPerf experiment tree, then read back: the same scores."""

import csv
import json

from algoperf_lab import cli
from algoperf_lab.scoring.export import export_algoperf
from algoperf_lab.scoring.report import score_directories
from algoperf_lab.scoring.sources import ScoreRequest, score
from tests.scoring.factories import lab_run


def _runs(root):
  """adamw: external tuning, 2 studies x 2 trials per workload; sgd: self-tuning, seeds 1, 2.

  Every run evaluates every 10 s (adamw) or 15 s (sgd), so the eval-index and time rules agree.
  """
  reach = {"lm": {(0, 0): 30, (0, 1): 20, (1, 0): None, (1, 1): 40},
           "vit": {(0, 0): 50, (0, 1): None, (1, 0): 60, (1, 1): 80}}
  for w, per_trial in reach.items():
    for (study, trial), end in per_trial.items():
      times = [10.0 * (i + 1) for i in range(8)]
      losses = [3.0 if end is None or t < end else 1.5 for t in times]
      lab_run(root, f"adamw_{w}_s{study}_t{trial}", submission="adamw", workload=w,
              times=times, losses=losses, study=study, trial=trial, seed=10 * study + trial)
    for seed, end in ((1, 60.0), (2, 90.0)):
      times = [15.0 * (i + 1) for i in range(8)]
      lab_run(root, f"sgd_{w}_{seed}", submission="sgd", workload=w, times=times,
              losses=[3.0 if t < end else 1.0 for t in times], study=None, trial=None,
              seed=seed, ruleset="self")


def test_export_writes_an_algoperf_tree(tmp_path):
  runs, out = tmp_path / "runs", tmp_path / "export"
  _runs(runs)
  result = export_algoperf(runs, out)
  assert result.num_trials == 12 and result.workloads == ("lm_tiny", "vit_tiny")
  trial = out / "adamw" / "study_1" / "lm_tiny_jax" / "trial_2"
  for name in ("eval_measurements.csv", "hparams.json", "meta_data_0.json", "flags_0.json"):
    assert (trial / name).is_file(), name
  with open(trial / "eval_measurements.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  assert {"global_step", "score", "accumulated_submission_time", "accumulated_eval_time",
          "total_duration", "validation/loss", "train/loss"} <= set(rows[0])
  assert [r["global_step"] for r in rows[:2]] == ["10", "20"]
  assert rows[-1]["score"] == rows[-1]["accumulated_submission_time"] == "80.0"
  assert json.loads((trial / "hparams.json").read_text()) == {"learning_rate": 1e-3}
  assert json.loads((trial / "meta_data_0.json").read_text())["rng_seed"] == 11
  # sgd's runs have no study number: each becomes its own study, ordered by seed.
  assert sorted(p.name for p in (out / "sgd").iterdir()) == ["study_0", "study_1"]
  targets = json.loads(result.targets_file.read_text())
  assert targets["base_workloads"] == ["lm_tiny", "vit_tiny"]
  assert targets["held_out_workloads"] == []
  # Exactly the keys AlgoPerf's WorkloadTarget(**spec) accepts.
  assert set(targets["workloads"]["lm_tiny"]) == {"target_metric_name",
                                                  "validation_target_value", "step_hint"}
  assert targets["workloads"]["lm_tiny"]["target_metric_name"] == "loss"


def test_reimported_export_scores_the_same(tmp_path):
  runs, out = tmp_path / "runs", tmp_path / "export"
  _runs(runs)
  export_algoperf(runs, out)
  reimported = score(ScoreRequest(paths=(out,), out_dir=tmp_path / "a",
                                  algoperf_targets=out / "workload_targets.json",
                                  progress=False)).algoperf
  direct = score(ScoreRequest(paths=(runs,), out_dir=tmp_path / "b", algoperf_rules=True,
                              progress=False)).algoperf
  assert reimported.table.scores == direct.table.scores
  assert reimported.table.median_times == direct.table.median_times
  # Each study's time read back from eval_measurements.csv is the lab's time to target, so the
  # median times equal the lab's own (here the eval-index and time rules agree).
  lab = score_directories([runs], tmp_path / "c", bootstrap_samples=10)
  for sub, per in lab.submissions.items():
    for workload, ws in per.per_workload.items():
      name = workload.replace("/", "_")
      assert reimported.table.median_times[sub][name] == ws.time_to_target_sec
  # By hand: adamw lm studies min(30, 20) = 20 and min(inf, 40) = 40 -> 30; vit 50, 60 -> 55.
  assert reimported.table.median_times["adamw"] == {"lm_tiny": 30.0, "vit_tiny": 55.0}
  assert reimported.table.median_times["sgd"] == {"lm_tiny": 75.0, "vit_tiny": 75.0}


def test_export_cli_and_refusals(tmp_path, capsys):
  runs, out = tmp_path / "runs", tmp_path / "export"
  _runs(runs)
  assert cli.main(["export-algoperf", str(runs), f"--out={out}"]) == 0
  assert "12 run(s) of lm_tiny, vit_tiny written" in capsys.readouterr().out
  assert cli.main(["export-algoperf", str(runs), f"--out={out}"]) == 2
  assert "not an empty folder" in capsys.readouterr().err
