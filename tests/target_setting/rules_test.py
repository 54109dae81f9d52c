"""AlgoPerf's target and budget rules on hand-made seed runs (numbers checked by hand)."""

from __future__ import annotations

import pytest

from algoperf_lab.target_setting import rules


def _run(seed: int, validation: float, test: float, cpu: float = 30.0) -> rules.SeedRun:
  return rules.SeedRun(seed=seed, best_validation=validation, best_test=test,
                       submission_time_sec=cpu, wall_sec_outside_evals=cpu / 2, steps=100)


RUNS = [_run(0, 0.30, 0.31, 30.0), _run(1, 0.20, 0.25, 33.0), _run(2, 0.25, 0.27, 36.0),
        _run(3, 0.22, 0.29, 39.0), _run(4, 0.40, 0.20, 42.0)]


def test_validation_target_is_the_median_of_the_seeds_best_values():
  assert rules.validation_target(RUNS) == 0.25
  assert rules.validation_target(RUNS[:4]) == pytest.approx((0.22 + 0.25) / 2)


def test_test_target_is_the_worst_best_test_among_seeds_that_reached_the_target():
  # Seeds 1, 2, 3 reach 0.25 (lower is better); their best tests 0.25, 0.27, 0.29: worst 0.29.
  # Seed 4's 0.20 test is ignored: it did not reach the validation target.
  assert rules.test_target(RUNS, 0.25, lower=True) == 0.29
  higher = [_run(0, 0.7, 0.68), _run(1, 0.8, 0.79), _run(2, 0.9, 0.85)]
  assert rules.test_target(higher, 0.8, lower=False) == 0.79


def test_budget_is_four_thirds_of_the_median_runtime_and_evals_every_two_percent():
  targets = rules.workload_targets(RUNS, lower=True)
  assert targets["max_allowed_cpu_sec"] == pytest.approx(36.0 * 4 / 3)
  assert targets["max_allowed_runtime_sec"] == pytest.approx(18.0 * 4 / 3)
  assert targets["eval_period_time_sec"] == pytest.approx(0.02 * 48.0)


def test_the_target_setter_is_the_baseline_with_the_best_median_and_ties_go_by_name():
  assert rules.pick_target_setter({"adamw": 0.3, "nesterov": 0.2, "nadamw": 0.25}, True) == "nesterov"
  assert rules.pick_target_setter({"adamw": 0.3, "nesterov": 0.2}, lower=False) == "adamw"
  assert rules.pick_target_setter({"b": 0.2, "a": 0.2}, lower=True) == "a"
  with pytest.raises(rules.TargetSettingError, match="no baseline"):
    rules.pick_target_setter({}, lower=True)


def test_a_diverged_history_sets_nothing_and_nan_values_are_skipped():
  history = [{"validation/mae": None, "test/mae": None, "eval_time_sec": 1.0}]
  result = {"submission_time_sec": 5.0, "wall_time_sec": 9.0, "steps": 3}
  assert rules.seed_run_from_history(0, history, "mae", True, result) is None
  history = [{"validation/mae": 0.5, "test/mae": 0.6, "eval_time_sec": 1.0},
             {"validation/mae": float("nan"), "test/mae": 0.1, "eval_time_sec": 2.0},
             {"validation/mae": 0.4, "test/mae": 0.7, "eval_time_sec": 1.5}]
  run = rules.seed_run_from_history(7, history, "mae", True, result)
  assert run == rules.SeedRun(seed=7, best_validation=0.4, best_test=0.1,
                              submission_time_sec=5.0, wall_sec_outside_evals=4.5, steps=3)
