"""Trial -> study -> workload aggregation of time-to-target."""

import math
from pathlib import Path

from algoperf_lab.scoring.records import RunRecord
from algoperf_lab.scoring.time_to_target import (
    best_trial, collect_studies, median_with_inf, study_times, trial_time, workload_times)

INF = math.inf


def _run(name: str, time: float | None, *, study: int | None = 0, trial: int | None = 0,
         ruleset: str = "external", submission: str = "sub", seed: int = 0,
         workload: str = "lm", max_runtime: float | None = 180.0) -> RunRecord:
  reached = time is not None
  return RunRecord(
      run_dir=Path("/runs") / name, workload=workload, size="tiny", submission=submission,
      ruleset=ruleset, study=study, trial=trial, seed=seed,
      hardware={"device_kind": "cpu", "device_count": 1}, versions={"algoperf_lab": "0.1.0"},
      target_metric="validation/loss", target_value=1.0, target_direction="lower",
      status="reached" if reached else "missed", reached_target=reached,
      time_to_target_sec=time, max_allowed_runtime_sec=max_runtime)


def test_trial_time_miss_and_over_budget_are_inf():
  assert trial_time(_run("a", 12.5)) == 12.5
  assert trial_time(_run("b", None)) == INF
  assert trial_time(_run("c", 200.0, max_runtime=180.0)) == INF


def test_best_trial_per_study_under_external_ruleset():
  runs = [_run("s0t0", 30.0, trial=0), _run("s0t1", None, trial=1), _run("s0t2", 20.0, trial=2),
          _run("s1t0", None, study=1), _run("s1t1", None, study=1, trial=1)]
  assert best_trial(runs[:3]).run_dir.name == "s0t2"
  studies, skipped = collect_studies(runs)
  assert not skipped
  assert [(s.label, s.time_sec) for s in studies] == [("study 0", 20.0), ("study 1", INF)]
  assert study_times(studies) == {"sub": {"lm/tiny": [20.0, INF]}}


def test_null_study_makes_each_run_its_own_study():
  runs = [_run("r1", 10.0, study=None, seed=1, ruleset="self"),
          _run("r2", 30.0, study=None, seed=2, ruleset="self"),
          _run("r3", None, study=None, seed=3, ruleset="self")]
  studies, skipped = collect_studies(runs)
  assert not skipped
  assert [s.label for s in studies] == ["seed 1", "seed 2", "seed 3"]
  # Median of [10, 30, inf] is 30.
  assert workload_times(study_times(studies), ["lm/tiny"]) == {"sub": {"lm/tiny": 30.0}}


def test_self_ruleset_with_two_runs_in_one_study_is_skipped_with_reason():
  runs = [_run("x", 10.0, ruleset="self"), _run("y", 12.0, ruleset="self", trial=1),
          _run("z", 15.0, ruleset="self", study=1)]
  studies, skipped = collect_studies(runs)
  assert [s.label for s in studies] == ["study 1"]
  assert len(skipped) == 2
  assert "one run per study" in skipped[0].reason and "study 0" in skipped[0].reason


def test_median_odd_and_even_counts_with_inf():
  assert median_with_inf([30.0, 10.0, 20.0]) == 20.0
  assert median_with_inf([10.0, INF, 20.0]) == 20.0       # inf sorts last: [10, 20, inf]
  assert median_with_inf([10.0, INF, INF]) == INF         # middle of [10, inf, inf]
  assert median_with_inf([10.0, 20.0, 40.0, INF]) == 30.0  # (20 + 40) / 2
  assert median_with_inf([10.0, INF]) == INF              # (10 + inf) / 2
  assert median_with_inf([10.0, 20.0, INF, INF]) == INF   # (20 + inf) / 2
  assert median_with_inf([]) == INF


def test_workload_without_studies_is_inf():
  assert workload_times({"a": {"w1": [5.0]}}, ["w1", "w2"]) == {"a": {"w1": 5.0, "w2": INF}}
