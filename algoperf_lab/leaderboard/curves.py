"""Validation curves over seeds: each submission's median and range on a common time grid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from algoperf_lab.scoring.records import MetricsCurve

GRID_POINTS = 60


def value_at(curve: MetricsCurve, t: float) -> float:
  """The metric of the last eval at or before time t (nan before the first eval)."""
  index = int(np.searchsorted(np.asarray(curve.times, dtype=float), t, side="right")) - 1
  return curve.values[index] if index >= 0 else math.nan


def time_grid(curves: Sequence[MetricsCurve], points: int = GRID_POINTS) -> list[float]:
  """Evenly spaced times from 0 to the latest eval of any curve."""
  end = max((c.times[-1] for c in curves if c.times), default=0.0)
  return [float(t) for t in np.linspace(0.0, end, points)] if end > 0 else []


def seed_band(curves: Sequence[MetricsCurve], grid: Sequence[float]) -> dict[str, list]:
  """Median, minimum and maximum over the curves at each grid time, where at least half of
  the curves have an eval by then (None elsewhere: JSON has no nan)."""
  rows = np.array([[value_at(c, t) for t in grid] for c in curves], dtype=float)
  out: dict[str, list] = {"median": [], "low": [], "high": []}
  for column in rows.T if rows.size else ():
    known = column[~np.isnan(column)]
    enough = known.size * 2 >= len(curves) and known.size > 0
    out["median"].append(float(np.median(known)) if enough else None)
    out["low"].append(float(known.min()) if enough else None)
    out["high"].append(float(known.max()) if enough else None)
  return out


def workload_curves(by_submission: Mapping[str, Sequence[MetricsCurve]]) -> dict[str, object]:
  """One workload's grid and, per submission, its band over seeds and the number of seeds."""
  grid = time_grid([c for curves in by_submission.values() for c in curves])
  return {"grid": grid,
          "submissions": {name: {"n": len(curves), **seed_band(curves, grid)}
                          for name, curves in sorted(by_submission.items())}}
