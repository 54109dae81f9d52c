"""Score the calibration's run records and pick each method's best candidate.

Reuses algoperf_lab/scoring: each run's time is its time-to-target (inf for a miss or a
divergence), a candidate's time on a workload is the median over its seeds (the seeds are its
studies), and every candidate of every method and of the reference is one self-tuning
submission in a single pool: performance ratios against the pool's best, benchmark score =
area under the profile. Each method keeps the candidate with the best pool score (ties: the
lower index, so the default wins a tie). The final comparison scores, in a pool of their own,
each method's default and calibrated candidates next to the reference's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from algoperf_lab.calibration.candidates import CalibrationError, Candidate
from algoperf_lab.calibration.runs import RunPlan, run_dir
from algoperf_lab.scoring.profiles import DEFAULT_TAU_MAX, benchmark_scores, performance_ratios
from algoperf_lab.scoring.records import CappedRunError, RecordError, RunRecord, check_same_hardware, read_record
from algoperf_lab.scoring.time_to_target import median_with_inf, trial_time


@dataclasses.dataclass(frozen=True)
class CandidateResult:
  candidate: Candidate
  times_sec: Mapping[str, float]  # workload -> median over seeds (inf: the median seed missed)
  num_reached: Mapping[str, int]  # workload -> seeds that reached the target
  num_diverged: int  # runs of this candidate (all workloads) that diverged
  num_runs: int


@dataclasses.dataclass(frozen=True)
class MethodResult:
  method: str
  default: CandidateResult
  best: CandidateResult
  pool_scores: Mapping[int, float]  # candidate index -> score in the pool of all candidates


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
  workloads: tuple[str, ...]
  tau_max: float
  methods: Mapping[str, MethodResult]
  reference: str
  candidates: Sequence[CandidateResult]
  final_ratios: Mapping[str, Mapping[str, float]]  # "<method> (default|calibrated)" -> w -> r
  final_scores: Mapping[str, float]
  hardware_warnings: tuple[str, ...]


def pool_label(candidate: Candidate) -> str:
  return f"{candidate.method}/candidate_{candidate.index}"


def final_label(method: str, which: str) -> str:
  return f"{method} ({which})"


def read_records(plans: Sequence[RunPlan], workdir: Path) -> dict[tuple, RunRecord]:
  """The finished record of every plan; CalibrationError if one is missing or unusable."""
  found = {}
  for plan in plans:
    path = run_dir(workdir, plan) / "result.json"
    try:
      found[plan.key] = read_record(path)
    except CappedRunError as error:
      raise CalibrationError(f"{path}: {error}. calibrate writes no calibrated_*.json from "
                             "capped runs: calibrate without --max_steps (in another "
                             "--workdir).") from error
    except RecordError as error:
      raise CalibrationError(f"{path}: {error}; rerun the same calibrate command to finish (or "
                             "redo) that run.") from error
  return found


def candidate_results(plans: Sequence[RunPlan],
                      records: Mapping[tuple, RunRecord]) -> list[CandidateResult]:
  by_candidate: dict[tuple[str, int], list[RunPlan]] = {}
  for plan in plans:
    by_candidate.setdefault((plan.candidate.method, plan.candidate.index), []).append(plan)
  results = []
  for runs in by_candidate.values():
    workloads = sorted({p.workload for p in runs})
    times = {w: median_with_inf([trial_time(records[p.key]) for p in runs if p.workload == w])
             for w in workloads}
    reached = {w: sum(math.isfinite(trial_time(records[p.key])) for p in runs if p.workload == w)
               for w in workloads}
    results.append(CandidateResult(
        candidate=runs[0].candidate, times_sec=times, num_reached=reached,
        num_diverged=sum(records[p.key].status == "diverged" for p in runs), num_runs=len(runs)))
  return results


def _scores(times: Mapping[str, Mapping[str, float]], workloads: Sequence[str],
            tau_max: float) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
  ratios = performance_ratios(times, workloads)
  return ratios, benchmark_scores(ratios, tau_max)


def score_calibration(plans: Sequence[RunPlan], workdir: Path, reference: str,
                      tau_max: float = DEFAULT_TAU_MAX) -> CalibrationResult:
  """Pool scores, each method's best candidate, and the default-vs-calibrated comparison."""
  records = read_records(plans, workdir)
  hardware_warnings = check_same_hardware(records.values(), allow_mixed=False)
  results = candidate_results(plans, records)
  workloads = tuple(sorted({p.workload for p in plans}))
  _, pool = _scores({pool_label(r.candidate): r.times_sec for r in results}, workloads, tau_max)
  methods = {}
  for method in dict.fromkeys(r.candidate.method for r in results):
    own = sorted((r for r in results if r.candidate.method == method),
                 key=lambda r: r.candidate.index)
    best = min(own, key=lambda r: (-pool[pool_label(r.candidate)], r.candidate.index))
    methods[method] = MethodResult(
        method=method, default=own[0], best=best,
        pool_scores={r.candidate.index: pool[pool_label(r.candidate)] for r in own})
  final_times = {}
  for method, result in methods.items():
    final_times[final_label(method, "default")] = result.default.times_sec
    final_times[final_label(method, "calibrated")] = result.best.times_sec
  final_ratios, final_scores = _scores(final_times, workloads, tau_max)
  return CalibrationResult(
      workloads=workloads, tau_max=tau_max, methods=methods, reference=reference,
      candidates=tuple(results), final_ratios=final_ratios, final_scores=final_scores,
      hardware_warnings=tuple(hardware_warnings))
