"""Uncertainty and comparisons: bootstrap confidence intervals, speedup over a baseline.

The bootstrap resamples studies (the independent repetitions) rather than trials: each replicate
redraws, for every submission and workload, as many study times as there were, with replacement,
takes their median, and rescores all submissions together, since ratios couple submissions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from algoperf_lab.scoring.profiles import DEFAULT_TAU_MAX, ratio_array, score_array


@dataclass(frozen=True)
class Speedup:
  """Geometric-mean speedup over a baseline and how many workloads entered the mean."""
  value: float | None
  num_workloads: int


def _resampled_medians(times: Sequence[float], samples: int,
                       rng: np.random.Generator) -> np.ndarray:
  """Medians of `samples` with-replacement redraws of the study times (inf when there are none)."""
  values = np.asarray(times, dtype=float)
  if values.size == 0:
    return np.full(samples, np.inf)
  draws = values[rng.integers(0, values.size, size=(samples, values.size))]
  return np.median(draws, axis=1)


def bootstrap_scores(study_times: Mapping[str, Mapping[str, Sequence[float]]],
                     workloads: Sequence[str], *, tau_max: float = DEFAULT_TAU_MAX,
                     samples: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
  """submission -> benchmark scores of `samples` bootstrap replicates (deterministic per seed)."""
  if samples < 1:
    raise ValueError(f"bootstrap samples must be >= 1, got {samples}")
  submissions = sorted(study_times)
  if not submissions or not workloads:
    return {s: np.zeros(samples) for s in submissions}
  rng = np.random.default_rng(seed)
  medians = np.array([[_resampled_medians(study_times[s].get(w, ()), samples, rng)
                       for w in workloads] for s in submissions])
  scores = score_array(ratio_array(medians), tau_max)
  return {s: scores[i] for i, s in enumerate(submissions)}


def bootstrap_ci(study_times: Mapping[str, Mapping[str, Sequence[float]]],
                 workloads: Sequence[str], *, tau_max: float = DEFAULT_TAU_MAX,
                 samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, tuple[float, float]]:
  """submission -> (lo, hi) percentile bootstrap interval of the benchmark score."""
  tail = 100.0 * (1.0 - level) / 2.0
  replicates = bootstrap_scores(study_times, workloads, tau_max=tau_max, samples=samples,
                                seed=seed)
  return {s: (float(np.percentile(v, tail)), float(np.percentile(v, 100.0 - tail)))
          for s, v in replicates.items()}


def speedup_vs_baseline(times: Mapping[str, Mapping[str, float]], baseline: str,
                        submission: str) -> Speedup:
  """Geometric mean of t_baseline / t_submission over workloads where both reached the target."""
  base, mine = times[baseline], times[submission]
  logs = [math.log(base[w] / mine[w]) for w in sorted(set(base) & set(mine))
          if math.isfinite(base[w]) and math.isfinite(mine[w]) and base[w] > 0 and mine[w] > 0]
  if not logs:
    return Speedup(value=None, num_workloads=0)
  return Speedup(value=math.exp(sum(logs) / len(logs)), num_workloads=len(logs))
