"""How close each submission came to a target: the best validation value of each study.

A board where runs miss says only "miss"; a referee also wants to know by how much. Per
workload and submission: each study's best value of the target metric (the best over its runs:
one under self-tuning, its trials under external tuning), read off the evals within the run's
budget; then the median and the range over studies. A value, not a score: nothing is ranked by it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from algoperf_lab.leaderboard.anytime import RunCurve, time_limit
from algoperf_lab.scoring.records import MetricsCurve
from algoperf_lab.scoring.time_to_target import StudyOutcome


def _better(direction: str) -> Any:
  return min if direction == "lower" else max


def run_best(run: RunCurve) -> float | None:
  """The run's best finite target-metric value among its evals within its budget (None: no
  such eval)."""
  limit = time_limit(run.record)
  values = [v for t, v in zip(run.curve.times, run.curve.values) if t <= limit and math.isfinite(v)]
  return _better(run.record.target_direction)(values) if values else None


def study_best(runs: Sequence[RunCurve]) -> float | None:
  """The best of the study's runs' best values (None when no run has one)."""
  values = [v for v in map(run_best, runs) if v is not None]
  return _better(runs[0].record.target_direction)(values) if values else None


def closest(studies: Sequence[StudyOutcome],
            curves: Mapping[str, MetricsCurve]) -> dict[str, dict[str, dict[str, Any]]]:
  """workload -> submission -> {median, low, high, n}: the median, minimum and maximum over
  studies of each study's best value (n: studies with a value); `curves` maps a run folder to
  its curve."""
  table: dict[str, dict[str, list[float]]] = {}
  for study in studies:
    best = study_best([RunCurve(r, curves[str(r.run_dir)]) for r in study.runs])
    values = table.setdefault(study.workload, {}).setdefault(study.submission, [])
    if best is not None:
      values.append(best)
  return {workload: {name: {"median": statistics.median(v) if v else None,
                            "low": min(v) if v else None, "high": max(v) if v else None,
                            "n": len(v)}
                     for name, v in sorted(by_submission.items())}
          for workload, by_submission in sorted(table.items())}
