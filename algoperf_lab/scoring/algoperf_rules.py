"""AlgoPerf's scoring rules, exactly as its published leaderboards apply them.

Per trial: the first eval whose validation metric meets the target. Per study: the trial that
meets it at the earliest eval *index* (not the earliest time), and that trial's time there. Per
workload: the median over studies (inf counts). Then, in this order: a held-out variant is inf
where its base workload is inf; any time over 4x the fastest submission's on that workload is
inf; a base workload is inf where its held-out variant is inf. Only base workloads enter the
profile, which is sampled at 100 evenly spaced tau in [1, tau_max] and integrated with the
trapezoid rule, normalised by tau_max - 1. (The lab's own records use the exact integral instead;
see profiles.score_array.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from algoperf_lab.scoring.algoperf_logs import AlgoPerfTrial
from algoperf_lab.scoring.algoperf_targets import AlgoPerfTargets, WorkloadTarget
from algoperf_lab.scoring.time_to_target import median_with_inf

CUT_FACTOR = 4.0
NUM_TAU_POINTS = 100


@dataclass(frozen=True)
class AlgoPerfStudy:
  """One study of one submission on one workload and the trial that counts."""
  submission: str
  workload: str
  study: int
  trials: tuple[AlgoPerfTrial, ...]
  best: AlgoPerfTrial | None  # None when no trial reached the target
  eval_index: int | None
  time_sec: float


@dataclass(frozen=True)
class AlgoPerfTable:
  """Every stage of the rules: median times, the times after the cuts, ratios and scores."""
  workloads: tuple[str, ...]              # the scored workloads: base, then held-out
  base_workloads: tuple[str, ...]
  median_times: Mapping[str, Mapping[str, float]]
  final_times: Mapping[str, Mapping[str, float]]
  ratios: Mapping[str, Mapping[str, float]]
  scores: Mapping[str, float]
  notes: Mapping[tuple[str, str], str]    # (submission, workload) -> why a time became inf


def first_reached_index(trial: AlgoPerfTrial, target: WorkloadTarget) -> int | None:
  """The index of the first eval that meets the target, or None."""
  return next((i for i, v in enumerate(trial.values) if target.reached(v)), None)


def best_by_eval_index(trials: Sequence[AlgoPerfTrial], target: WorkloadTarget
                       ) -> tuple[AlgoPerfTrial | None, int | None, float]:
  """(trial, eval index, time) of the trial reaching the target at the earliest eval index.

  Ties go to the lowest trial number (AlgoPerf keeps the first in its directory listing).
  """
  reached = [(index, t.location.trial, t) for t in trials
             if (index := first_reached_index(t, target)) is not None]
  if not reached:
    return None, None, math.inf
  index, _, trial = min(reached, key=lambda item: item[:2])
  return trial, index, trial.times[index]


def collect_algoperf_studies(trials: Sequence[AlgoPerfTrial],
                             targets: AlgoPerfTargets) -> list[AlgoPerfStudy]:
  """Group trials by (submission, workload, study) and apply the eval-index rule to each."""
  groups: dict[tuple[str, str, int], list[AlgoPerfTrial]] = {}
  for trial in trials:
    groups.setdefault((trial.submission, trial.workload, trial.location.study), []).append(trial)
  studies = []
  for (submission, workload, study), members in sorted(groups.items()):
    best, index, time_sec = best_by_eval_index(members, targets.workloads[workload])
    studies.append(AlgoPerfStudy(submission=submission, workload=workload, study=study,
                                 trials=tuple(sorted(members, key=lambda t: t.location.trial)),
                                 best=best, eval_index=index, time_sec=time_sec))
  return studies


def median_times(studies: Sequence[AlgoPerfStudy], submissions: Sequence[str],
                 workloads: Sequence[str]) -> dict[str, dict[str, float]]:
  """submission -> workload -> median over studies (inf where there are no studies)."""
  per: dict[tuple[str, str], list[float]] = {}
  for s in studies:
    per.setdefault((s.submission, s.workload), []).append(s.time_sec)
  return {sub: {w: median_with_inf(per.get((sub, w), [])) for w in workloads}
          for sub in submissions}


def _fmt(seconds: float) -> str:
  return f"{seconds:.1f}s"


def apply_cuts(times: Mapping[str, Mapping[str, float]], targets: AlgoPerfTargets
               ) -> tuple[dict[str, dict[str, float]], dict[tuple[str, str], str]]:
  """The held-out, 4x and held-out-again rules, in AlgoPerf's order; notes say what changed."""
  table = {sub: dict(per) for sub, per in times.items()}
  notes: dict[tuple[str, str], str] = {}
  held_out = targets.held_out_workloads

  def cut(sub: str, workload: str, why: str) -> None:
    if math.isfinite(table[sub][workload]):
      notes[(sub, workload)] = f"{_fmt(table[sub][workload])} counted as a miss: {why}"
    table[sub][workload] = math.inf

  for sub in table:
    for variant in held_out:
      base = targets.base_of(variant)
      if math.isinf(table[sub].get(base, math.inf)):
        cut(sub, variant, f"its base workload {base} missed")
  for workload in targets.scored_workloads:
    fastest = min((per[workload] for per in table.values()), default=math.inf)
    for sub in table:
      if table[sub][workload] > CUT_FACTOR * fastest:
        cut(sub, workload, f"over {CUT_FACTOR:g}x the fastest time ({_fmt(fastest)})")
  for sub in table:
    for variant in held_out:
      base = targets.base_of(variant)
      if math.isinf(table[sub][variant]) and base in table[sub]:
        cut(sub, base, f"its held-out variant {variant} missed")
  return table, notes


def base_ratios(times: Mapping[str, Mapping[str, float]],
                base_workloads: Sequence[str]) -> dict[str, dict[str, float]]:
  """t / fastest t per base workload (inf for a miss, and for all when everyone missed)."""
  ratios: dict[str, dict[str, float]] = {sub: {} for sub in times}
  for w in base_workloads:
    fastest = min((per[w] for per in times.values()), default=math.inf)
    for sub, per in times.items():
      finite = math.isfinite(per[w]) and math.isfinite(fastest) and fastest > 0
      ratios[sub][w] = per[w] / fastest if finite else (1.0 if per[w] == fastest == 0 else
                                                        math.inf)
  return ratios


def trapezoid_score(ratios: Sequence[float], num_base_workloads: int, tau_max: float) -> float:
  """AlgoPerf's score: rho on 100 evenly spaced tau in [1, tau_max], trapezoid, / (tau_max-1)."""
  taus = np.linspace(1.0, tau_max, NUM_TAU_POINTS)
  values = np.asarray(ratios, dtype=float)
  rho = (values[None, :] <= taus[:, None]).sum(axis=1) / num_base_workloads
  area = float(np.sum((rho[1:] + rho[:-1]) / 2.0 * np.diff(taus)))
  return area / (tau_max - 1.0)


def score_algoperf(studies: Sequence[AlgoPerfStudy], targets: AlgoPerfTargets,
                   tau_max: float) -> AlgoPerfTable:
  """Every stage of AlgoPerf's scoring for the submissions present in `studies`."""
  submissions = sorted({s.submission for s in studies})
  workloads = targets.scored_workloads
  medians = median_times(studies, submissions, workloads)
  final, notes = apply_cuts(medians, targets)
  base = targets.base_workloads
  ratios = base_ratios({sub: {w: final[sub][w] for w in base} for sub in submissions}, base)
  scores = {sub: trapezoid_score([ratios[sub][w] for w in base], len(base), tau_max)
            for sub in submissions}
  return AlgoPerfTable(workloads=workloads, base_workloads=base, median_times=medians,
                       final_times=final, ratios=ratios, scores=scores, notes=notes)
