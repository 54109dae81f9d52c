"""Performance ratios, profiles and exact benchmark scores, checked against hand computations."""

import math

import numpy as np
import pytest

from algoperf_lab.scoring.profiles import (
    benchmark_score, benchmark_scores, performance_ratios, profile, profile_steps)

INF = math.inf


def test_two_submissions_three_workloads_by_hand():
  times = {"a": {"w1": 100.0, "w2": 200.0, "w3": 300.0},
           "b": {"w1": 150.0, "w2": 100.0, "w3": INF}}
  ratios = performance_ratios(times)
  # w1: best 100 -> a 1, b 1.5.  w2: best 100 -> a 2, b 1.  w3: best 300 -> a 1, b inf (miss).
  assert ratios == {"a": {"w1": 1.0, "w2": 2.0, "w3": 1.0},
                    "b": {"w1": 1.5, "w2": 1.0, "w3": INF}}
  scores = benchmark_scores(ratios, tau_max=4.0)
  # a: ((4-1) + (4-2) + (4-1)) / 3 / 3 = 8/9.   b: ((4-1.5) + (4-1) + 0) / 3 / 3 = 5.5/9 = 11/18.
  assert scores["a"] == pytest.approx(8 / 9)
  assert scores["b"] == pytest.approx(11 / 18)


def test_ties_give_ratio_one_for_both():
  ratios = performance_ratios({"a": {"w": 50.0}, "b": {"w": 50.0}})
  assert ratios == {"a": {"w": 1.0}, "b": {"w": 1.0}}
  assert benchmark_scores(ratios) == {"a": 1.0, "b": 1.0}


def test_workload_where_everyone_misses_is_inf_for_all():
  times = {"a": {"w1": 10.0, "w2": INF}, "b": {"w1": 20.0, "w2": INF}}
  ratios = performance_ratios(times)
  assert ratios["a"]["w2"] == INF and ratios["b"]["w2"] == INF
  # a: (3 + 0) / 3 / 2 = 0.5.   b: r=2 on w1 -> (4-2)/3/2 = 1/3.
  scores = benchmark_scores(ratios)
  assert scores["a"] == pytest.approx(0.5)
  assert scores["b"] == pytest.approx(1 / 3)


def test_missing_workload_counts_as_miss():
  ratios = performance_ratios({"a": {"w1": 10.0, "w2": 10.0}, "b": {"w1": 10.0}})
  assert ratios["b"]["w2"] == INF


def test_single_submission():
  assert benchmark_score(performance_ratios({"a": {"w1": 5.0, "w2": 7.0}})["a"]) == 1.0
  # One of four workloads missed: 3 workloads x 1 / 4 = 0.75.
  alone = {"a": {"w1": 5.0, "w2": 7.0, "w3": 9.0, "w4": INF}}
  assert benchmark_score(performance_ratios(alone)["a"]) == pytest.approx(0.75)


def test_tau_max_changes_what_counts():
  # Ratios 1 and 3 over |W| = 2 workloads.
  # tau_max=4: (3/3 + (4-3)/3) / 2 = (1 + 1/3) / 2 = 2/3.   tau_max=2: r=3 > 2 adds 0 -> 1/2.
  assert benchmark_score([1.0, 3.0], tau_max=4.0) == pytest.approx(2 / 3)
  assert benchmark_score([1.0, 3.0], tau_max=2.0) == pytest.approx(0.5)
  # r exactly tau_max contributes 0; r = 3.7 contributes (4 - 3.7) / 3 = 0.1.
  assert benchmark_score([4.0], tau_max=4.0) == 0.0
  assert benchmark_score([3.7], tau_max=4.0) == pytest.approx(0.1)
  with pytest.raises(ValueError, match="tau_max"):
    benchmark_score([1.0], tau_max=1.0)


def test_profile_step_function_and_breakpoints():
  ratios = {"w1": 1.0, "w2": 2.5, "w3": INF}
  np.testing.assert_allclose(profile(ratios, [1.0, 2.0, 2.5, 3.9]), [1 / 3, 1 / 3, 2 / 3, 2 / 3])
  taus, rho = profile_steps(ratios, tau_max=4.0)
  np.testing.assert_allclose(taus, [1.0, 2.5, 4.0])
  np.testing.assert_allclose(rho, [1 / 3, 2 / 3, 2 / 3])
  # The exact score equals the area under these steps: (1/3 * 1.5 + 2/3 * 1.5) / 3 = 0.5.
  area = float(np.sum(rho[:-1] * np.diff(taus))) / 3.0
  assert benchmark_score(ratios) == pytest.approx(area) == pytest.approx(0.5)
