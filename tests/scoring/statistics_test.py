"""Bootstrap confidence intervals over studies and speedup against a baseline."""

import math

import pytest

from algoperf_lab.scoring.profiles import benchmark_scores, performance_ratios
from algoperf_lab.scoring.statistics import bootstrap_ci, bootstrap_scores, speedup_vs_baseline
from algoperf_lab.scoring.time_to_target import workload_times

INF = math.inf
STUDIES = {"a": {"w1": [10.0, 12.0, 11.0, 13.0, 9.0], "w2": [50.0, INF, 40.0, 45.0, 60.0]},
           "b": {"w1": [20.0, 22.0, 21.0, 25.0, 19.0], "w2": [30.0, 35.0, INF, 32.0, 31.0]}}
WORKLOADS = ["w1", "w2"]


def _point(study_times):
  return benchmark_scores(performance_ratios(workload_times(study_times, WORKLOADS), WORKLOADS))


def test_ci_is_deterministic_per_seed_and_contains_point_estimate():
  first = bootstrap_ci(STUDIES, WORKLOADS, samples=300, seed=7)
  assert first == bootstrap_ci(STUDIES, WORKLOADS, samples=300, seed=7)
  other = bootstrap_scores(STUDIES, WORKLOADS, samples=300, seed=8)
  assert any((other[s] != bootstrap_scores(STUDIES, WORKLOADS, samples=300, seed=7)[s]).any()
             for s in STUDIES)
  point = _point(STUDIES)
  # By hand: medians a = (11, 50), b = (21, 32); ratios a = (1, 50/32), b = (21/11, 1).
  assert point["a"] == pytest.approx((3 + (4 - 50 / 32)) / 3 / 2)
  assert point["b"] == pytest.approx(((4 - 21 / 11) + 3) / 3 / 2)
  for name, (lo, hi) in first.items():
    assert 0.0 <= lo <= point[name] <= hi <= 1.0


def test_one_study_each_gives_a_degenerate_interval():
  single = {"a": {"w1": [10.0], "w2": [INF]}, "b": {"w1": [15.0], "w2": [40.0]}}
  point = _point(single)
  for name, (lo, hi) in bootstrap_ci(single, WORKLOADS, samples=50, seed=0).items():
    assert lo == hi == point[name]


def test_speedup_is_the_geometric_mean_over_workloads_both_reached():
  times = {"base": {"w1": 100.0, "w2": 50.0, "w3": INF, "w4": 10.0},
           "new": {"w1": 50.0, "w2": 100.0, "w3": 10.0, "w4": 5.0}}
  # w3 is left out (baseline missed); ratios 2, 0.5, 2 -> (2 * 0.5 * 2) ** (1/3) = 2 ** (1/3).
  speedup = speedup_vs_baseline(times, "base", "new")
  assert speedup.value == pytest.approx(2 ** (1 / 3))
  assert speedup.num_workloads == 3
  assert speedup_vs_baseline(times, "base", "base").value == pytest.approx(1.0)


def test_speedup_is_none_without_common_reached_workloads():
  times = {"base": {"w1": INF}, "new": {"w1": 5.0}}
  speedup = speedup_vs_baseline(times, "base", "new")
  assert speedup.value is None and speedup.num_workloads == 0
