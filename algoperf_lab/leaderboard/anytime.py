"""The anytime view: benchmark scores when the budget is cut short or the target loosened.

A run's time to a target is the submission time of its first eval that meets it (AlgoPerf's
at-the-eval rule, read off metrics.jsonl), counted only within the allowed time. At the full
budget and the target itself this is the record's own time to target; a shorter budget
(a fraction of it) or a looser target (the target moved by a fraction of itself towards worse
values) are read off the same curve. Studies, medians, ratios and scores then follow the
scoring rules unchanged (`scoring.time_to_target`, `scoring.profiles`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from algoperf_lab.scoring.profiles import benchmark_scores, performance_ratios
from algoperf_lab.scoring.records import MetricsCurve, RunRecord
from algoperf_lab.scoring.time_to_target import StudyOutcome, workload_times

BUDGET_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
TARGET_LOOSENINGS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)  # fractions of the target value: up to
# 20%, so a board where every run misses still shows who came closest


@dataclass(frozen=True)
class RunCurve:
  """One run's evals (submission time, target metric), its target and its time budget."""
  record: RunRecord
  curve: MetricsCurve


def loosened_target(target: float, direction: str, loosening: float) -> float:
  """The target moved by `loosening` of its magnitude towards worse values."""
  shift = abs(target) * loosening
  return target + shift if direction == "lower" else target - shift


def time_limit(record: RunRecord, budget_fraction: float = 1.0) -> float:
  """The submission time within which a run's evals count: that fraction of its budget (a run
  with no budget is held to none)."""
  budget = record.max_allowed_runtime_sec
  return math.inf if budget is None else budget_fraction * budget


def time_to(run: RunCurve, budget_fraction: float, loosening: float) -> float:
  """Seconds to the (loosened) target within budget_fraction of the run's budget; inf if not.

  A diverged run counts as a miss whatever its curve says; a run with no budget is held to
  none."""
  record = run.record
  if record.status == "diverged":
    return math.inf
  target = loosened_target(record.target_value, record.target_direction, loosening)
  limit = time_limit(record, budget_fraction)
  for t, value in zip(run.curve.times, run.curve.values):
    if t > limit:
      return math.inf
    meets = value <= target if record.target_direction == "lower" else value >= target
    if meets:
      return t
  return math.inf


def study_time(runs: Sequence[RunCurve], budget_fraction: float, loosening: float) -> float:
  """A study's time: its best run's (one run under self-tuning)."""
  return min((time_to(run, budget_fraction, loosening) for run in runs), default=math.inf)


def anytime_scores(studies: Sequence[StudyOutcome], curves: Mapping[str, MetricsCurve],
                   workloads: Sequence[str], budget_fraction: float, loosening: float,
                   tau_max: float) -> dict[str, float]:
  """submission -> benchmark score with the budget cut to `budget_fraction` and the target
  loosened by `loosening`; `curves` maps a run folder to its curve."""
  table: dict[str, dict[str, list[float]]] = {}
  for study in studies:
    runs = [RunCurve(r, curves[str(r.run_dir)]) for r in study.runs]
    table.setdefault(study.submission, {}).setdefault(study.workload, []).append(
        study_time(runs, budget_fraction, loosening))
  return benchmark_scores(performance_ratios(workload_times(table, workloads), workloads),
                          tau_max)
