"""Performance ratios, performance profiles rho(tau) and the AlgoPerf benchmark score.

For submission s on workload w, r_{s,w} = t_{s,w} / min_{s'} t_{s',w} (inf when s missed, and
inf for everyone when all missed). The profile rho_s(tau) is the fraction of workloads with
r_{s,w} <= tau, and the benchmark score is its average over tau in [1, tau_max].

The array functions work on times shaped (submissions, workloads, ...extra) so the bootstrap can
score many replicates at once with exactly the arithmetic used for the point estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_TAU_MAX = 4.0


def _check_tau_max(tau_max: float) -> None:
  if not tau_max > 1.0:
    raise ValueError(f"tau_max must be greater than 1, got {tau_max}")


def ratio_array(times: np.ndarray) -> np.ndarray:
  """Performance ratios along axis 0 (submissions); ties with the best time give exactly 1."""
  times = np.asarray(times, dtype=float)
  best = times.min(axis=0, keepdims=True)
  with np.errstate(divide="ignore", invalid="ignore"):
    ratios = times / best
  ratios = np.where(times == best, 1.0, ratios)
  return np.where(np.isinf(best) | np.isinf(times), np.inf, ratios)


def score_array(ratios: np.ndarray, tau_max: float = DEFAULT_TAU_MAX) -> np.ndarray:
  """Exact benchmark scores from ratios shaped (submissions, workloads, ...), averaged on axis 1.

  rho is a step function, so the integral (1/(tau_max-1)) * int_1^tau_max rho(tau) dtau is a sum:
  a workload with ratio r <= tau_max adds (tau_max - max(r, 1)) / (tau_max - 1) / |W|, others add
  0. AlgoPerf evaluates the same integral on a grid of tau values; this is the value that grid
  approximates.
  """
  _check_tau_max(tau_max)
  ratios = np.asarray(ratios, dtype=float)
  with np.errstate(invalid="ignore"):
    contribution = np.where(ratios <= tau_max,
                            (tau_max - np.maximum(ratios, 1.0)) / (tau_max - 1.0), 0.0)
  return contribution.mean(axis=1)


def _as_array(times: Mapping[str, Mapping[str, float]], submissions: Sequence[str],
              workloads: Sequence[str]) -> np.ndarray:
  return np.array([[times[s].get(w, np.inf) for w in workloads] for s in submissions],
                  dtype=float).reshape(len(submissions), len(workloads))


def performance_ratios(times: Mapping[str, Mapping[str, float]],
                       workloads: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
  """submission -> workload -> r_{s,w}; a workload a submission lacks counts as a miss (inf)."""
  submissions = sorted(times)
  if workloads is None:
    workloads = sorted({w for per in times.values() for w in per})
  if not submissions or not workloads:
    return {s: {} for s in submissions}
  ratios = ratio_array(_as_array(times, submissions, workloads))
  return {s: {w: float(ratios[i, j]) for j, w in enumerate(workloads)}
          for i, s in enumerate(submissions)}


def benchmark_score(ratios: Sequence[float] | Mapping[str, float],
                    tau_max: float = DEFAULT_TAU_MAX) -> float:
  """One submission's exact benchmark score from its per-workload ratios (0 if no workloads)."""
  values = list(ratios.values()) if isinstance(ratios, Mapping) else list(ratios)
  if not values:
    return 0.0
  return float(score_array(np.array([values], dtype=float), tau_max)[0])


def benchmark_scores(ratios: Mapping[str, Mapping[str, float]],
                     tau_max: float = DEFAULT_TAU_MAX) -> dict[str, float]:
  """submission -> exact benchmark score."""
  return {s: benchmark_score(per, tau_max) for s, per in ratios.items()}


def profile(ratios: Sequence[float] | Mapping[str, float], taus: Sequence[float]) -> np.ndarray:
  """rho(tau) at each tau: the fraction of workloads whose ratio is <= tau."""
  values = np.array(list(ratios.values()) if isinstance(ratios, Mapping) else list(ratios),
                    dtype=float)
  taus_arr = np.asarray(taus, dtype=float)
  if values.size == 0:
    return np.zeros_like(taus_arr)
  return (values[None, :] <= taus_arr[:, None]).mean(axis=1)


def profile_steps(ratios: Sequence[float] | Mapping[str, float],
                  tau_max: float = DEFAULT_TAU_MAX) -> tuple[np.ndarray, np.ndarray]:
  """Breakpoints (1, every ratio in (1, tau_max), tau_max) and rho there, for a 'post' step plot."""
  _check_tau_max(tau_max)
  values = list(ratios.values()) if isinstance(ratios, Mapping) else list(ratios)
  inner = [r for r in values if 1.0 < r < tau_max]
  taus = np.unique(np.array([1.0, *inner, tau_max], dtype=float))
  return taus, profile(values, taus)
