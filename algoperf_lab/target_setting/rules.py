"""AlgoPerf's rules for targets and budgets, as pure functions over run histories.

AlgoPerf (DOCUMENTATION.md, "Defining Target Performance and `max_runtime`", and the benchmark
paper, arXiv:2306.07179, Section 4): several baselines are tuned, each run for a fixed number
of steps (the step hint); the best run over all of them names the *target-setting algorithm*;
that configuration is re-run over many seeds; the validation target is the median over seeds
of the best validation value each seed reached; the test target is the worst test value among
the seeds that reached the validation target; the runtime budget (v0.5) is 4/3 of the
target-setting runs' runtime. The lab's departures at tiny scale are the numbers (trials,
seeds) and are stated by the study config and in targets.json.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

BUDGET_OVER_RUNTIME = 4.0 / 3.0  # AlgoPerf v0.5: max_runtime is 1/3 longer than the runtime
RESOLUTION_FRACTION = 0.02  # evals every 2% of the budget: time to target to 2% of it


class TargetSettingError(ValueError):
  """The runs cannot set a target (all diverged, none finished); the message says which."""


@dataclasses.dataclass(frozen=True)
class SeedRun:
  """What the rules need from one finished fixed-horizon run."""

  seed: int
  best_validation: float
  best_test: float
  submission_time_sec: float  # on the run's clock, at the end of its steps
  wall_sec_outside_evals: float  # wall time of the run less its evals (compilation included)
  steps: int


def is_better(a: float, b: float, lower: bool) -> bool:
  return a < b if lower else a > b


def best_value(history: Sequence[Mapping[str, Any]], key: str, lower: bool) -> float | None:
  """The best finite value of `key` over a run's evals; None when it has none (diverged)."""
  values = [float(line[key]) for line in history
            if line.get(key) is not None and math.isfinite(float(line[key]))]
  if not values:
    return None
  return min(values) if lower else max(values)


def seed_run_from_history(seed: int, history: Sequence[Mapping[str, Any]], metric: str,
                          lower: bool, result: Mapping[str, Any]) -> SeedRun | None:
  """A SeedRun from a record's metrics.jsonl lines and result.json; None if it diverged."""
  validation = best_value(history, f"validation/{metric}", lower)
  test = best_value(history, f"test/{metric}", lower)
  if validation is None or test is None:
    return None
  eval_sec = sum(float(line.get("eval_time_sec") or 0.0) for line in history)
  return SeedRun(seed=seed, best_validation=validation, best_test=test,
                 submission_time_sec=float(result["submission_time_sec"]),
                 wall_sec_outside_evals=float(result["wall_time_sec"]) - eval_sec,
                 steps=int(result["steps"]))


def median_best_validation(runs: Sequence[SeedRun]) -> float:
  if not runs:
    raise TargetSettingError("no finished, finite seed run to take a median over.")
  return float(statistics.median(r.best_validation for r in runs))


def validation_target(runs: Sequence[SeedRun]) -> float:
  """AlgoPerf: the median over seeds of each seed's best validation value."""
  return median_best_validation(runs)


def test_target(runs: Sequence[SeedRun], target: float, lower: bool) -> float:
  """AlgoPerf: the worst best-test value among the seeds that reached the validation target."""
  reached = [r.best_test for r in runs if not is_better(target, r.best_validation, lower)]
  if not reached:
    raise TargetSettingError("no seed reached the validation target (cannot happen with a "
                             "median target unless every run diverged).")
  return max(reached) if lower else min(reached)


def budget(seconds: Sequence[float]) -> float:
  """AlgoPerf v0.5: 4/3 of the target-setting runs' (median) runtime."""
  if not seconds:
    raise TargetSettingError("no runtimes to derive a budget from.")
  return BUDGET_OVER_RUNTIME * float(statistics.median(seconds))


def eval_period(budget_sec: float) -> float:
  """The eval period that reads time to target to RESOLUTION_FRACTION of the budget."""
  return RESOLUTION_FRACTION * budget_sec


def pick_target_setter(medians: Mapping[str, float], lower: bool) -> str:
  """The baseline whose re-run seeds have the best median of best validation values."""
  if not medians:
    raise TargetSettingError("no baseline has a finished, finite run.")
  ordered = sorted(medians, key=lambda name: (medians[name] if lower else -medians[name], name))
  return ordered[0]


def workload_targets(runs: Sequence[SeedRun], lower: bool) -> dict[str, float]:
  """Validation and test targets, budgets and eval period from the target-setter's seeds."""
  target = validation_target(runs)
  cpu_budget = budget([r.submission_time_sec for r in runs])
  return {"validation": target, "test": test_target(runs, target, lower),
          "max_allowed_cpu_sec": cpu_budget,
          "max_allowed_runtime_sec": budget([r.wall_sec_outside_evals for r in runs]),
          "eval_period_time_sec": eval_period(cpu_budget)}
