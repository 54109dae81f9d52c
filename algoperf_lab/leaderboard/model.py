"""The leaderboard's content, computed from run records: everything the page shows, as JSON.

Scores on the time clock and on the step clock come from `score_directories` itself (so every
refusal and rule of `score` holds here, and its scores.json / report.md sit beside the page);
this module adds the per-workload intervals, the profiles on a grid, the rank changes, the
validation curves over seeds, the anytime view, how close each came to the target (`closest`)
and what the page says about each submission.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algoperf_lab.leaderboard import anytime, closest, curves, submission_info
from algoperf_lab.scoring import paired
from algoperf_lab.scoring.profiles import profile
from algoperf_lab.scoring.records import load_records, read_curve
from algoperf_lab.scoring.report import (
    MIN_STUDIES_FOR_INTERVAL, ScoreReport, score_directories)
from algoperf_lab.scoring.time_to_target import collect_studies

SCORES_DIR = "scores"
PROFILE_POINTS = 120


def median_interval(values: Sequence[float], samples: int = 1000, seed: int = 0,
                    level: float = 0.95) -> tuple[float | None, float | None] | None:
  """Percentile bootstrap interval of the median of study values (None below
  MIN_STUDIES_FOR_INTERVAL studies); an end that is a miss is None."""
  if len(values) < MIN_STUDIES_FOR_INTERVAL:
    return None
  rng = np.random.default_rng(seed)
  data = np.asarray(values, dtype=float)
  medians = np.median(data[rng.integers(0, data.size, size=(samples, data.size))], axis=1)
  tail = 100.0 * (1.0 - level) / 2.0
  low, high = np.percentile(medians, [tail, 100.0 - tail], method="lower")
  return (_finite(low), _finite(high))


def _finite(value: float) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None


def _clock_table(report: ScoreReport) -> dict[str, Any]:
  """Scores, intervals and per-workload medians of one clock."""
  table = {}
  for sub in report.ranked():
    table[sub.name] = {
        "score": sub.benchmark_score,
        "interval": list(sub.ci95) if sub.ci95 is not None else None,
        "min_studies": sub.min_studies,
        "workloads": {w: {"median": _finite(ws.time_to_target_sec), "n": ws.num_studies,
                          "reached": ws.num_reached,
                          "interval": median_interval(ws.study_times_sec),
                          "ratio": _finite(ws.performance_ratio)}
                      for w, ws in sub.per_workload.items()}}
  return table


def _profiles(report: ScoreReport) -> dict[str, Any]:
  """Each submission's performance profile on a log grid of tau from 1 to tau_max."""
  taus = np.geomspace(1.0, report.tau_max, PROFILE_POINTS)
  return {"tau": [float(t) for t in taus],
          "submissions": {s.name: [float(v) for v in profile(
              {w: ws.performance_ratio for w, ws in s.per_workload.items()}, taus)]
                          for s in report.ranked()}}


def _ranks(report: ScoreReport) -> dict[str, int]:
  """Competition ranks by score (ties share the better rank)."""
  scores = {s.name: s.benchmark_score for s in report.submissions.values()}
  return {name: 1 + sum(other > value + 1e-12 for other in scores.values())
          for name, value in scores.items()}


def _submission_pages(studies: Sequence[Any], out_dir: Path) -> dict[str, Any]:
  """Per submission: family, form, docstring, and per workload its runs (seed, study, trial,
  status, hyperparameters, reproduce command, record link)."""
  pages: dict[str, Any] = {}
  for study in studies:
    for record in study.runs:
      result = submission_info.raw_result(record)
      path = submission_info.submission_file(result)
      page = pages.setdefault(record.submission, {
          "path": submission_info.shown_path(path, result),
          "family": submission_info.family(path),
          "form": result.get("submission_form", "unknown"),
          "doc": submission_info.docstring(path), "runs": {}})
      page["runs"].setdefault(study.workload, []).append({
          "study": record.study, "trial": record.trial, "seed": record.seed,
          "ruleset": record.ruleset, "status": record.status,
          "counts": record is study.best,
          "time_to_target": record.time_to_target_sec, "steps_to_target": record.steps_to_target,
          "hparams": dict(record.hparams),
          "command": submission_info.reproduce_command(record, result),
          "record": submission_info.record_link(record, out_dir)})
  return pages


def compute(studies: Sequence[Any]) -> dict[str, Any]:
  """What the scored runs cost: their number, wall hours, core hours (wall time times the
  cores each run could use) and process-CPU hours of the submissions' own work, when the
  first started and the last ended, the range of the 1-minute load average at their starts
  and ends, and how many compiled from scratch, how many could load programs from the
  persistent compilation cache, and how many records do not say (from each record)."""
  results = [submission_info.raw_result(r) for s in studies for r in s.runs]
  wall = [float(r.get("wall_time_sec") or 0.0) for r in results]
  cores = [int(r.get("hardware", {}).get("usable_cpu_cores") or 1) for r in results]
  times = [(r.get("started") or {}).get("utc") for r in results] + [
      (r.get("ended") or {}).get("utc") for r in results]
  times = sorted(t for t in times if t)
  loads = [moment["load_average"][0] for r in results for key in ("started", "ended")
           if (moment := r.get(key) or {}).get("load_average")]
  return {"runs": len(results), "wall_hours": sum(wall) / 3600.0,
          # how busy the machine was: the 1-minute load average at the runs' starts and ends
          "load_1min": [min(loads), max(loads)] if loads else None,
          "core_hours": sum(w * c for w, c in zip(wall, cores)) / 3600.0,
          "submission_cpu_hours": sum(float(r.get("submission_time_sec") or 0.0)
                                      for r in results if r.get("clock") == "process_cpu") / 3600,
          "first_started": times[0] if times else None, "last_ended": times[-1] if times else None,
          "compilation": {"from_scratch": sum(r.get("compilation_cache") is False for r in results),
                          "cached": sum(r.get("compilation_cache") is True for r in results),
                          "unrecorded": sum("compilation_cache" not in r for r in results)}}


def _curves(studies: Sequence[Any], read: Mapping[str, Any]) -> dict[str, Any]:
  """Per workload: the target, its metric and direction, and each submission's band over the
  runs that count (one per study)."""
  by_workload: dict[str, dict[str, list[Any]]] = {}
  about: dict[str, dict[str, Any]] = {}
  for study in studies:
    best = study.best
    by_workload.setdefault(study.workload, {}).setdefault(study.submission, []).append(
        read[str(best.run_dir)])
    about[study.workload] = {"metric": best.target_metric, "target": best.target_value,
                             "direction": best.target_direction, "clock": best.clock}
  return {w: {**about[w], **curves.workload_curves(subs)} for w, subs in sorted(
      by_workload.items())}


def _anytime(studies: Sequence[Any], read: Mapping[str, Any], workloads: Sequence[str],
             tau_max: float) -> dict[str, Any]:
  def scores(fraction: float, loosening: float) -> dict[str, float]:
    return anytime.anytime_scores(studies, read, workloads, fraction, loosening, tau_max)

  return {"budget_fractions": list(anytime.BUDGET_FRACTIONS),
          "by_budget": {str(f): scores(f, 0.0) for f in anytime.BUDGET_FRACTIONS},
          "loosenings": list(anytime.TARGET_LOOSENINGS),
          "by_target": {str(e): scores(1.0, e) for e in anytime.TARGET_LOOSENINGS}}


def build(paths: Sequence[Path], out_dir: Path, *, allow_mixed_hardware: bool = False,
          allow_incomplete: bool = False, bootstrap_samples: int = 1000,
          seed: int = 0, baseline: str | None = None) -> dict[str, Any]:
  """The leaderboard of the records under `paths`; writes `score`'s files for both clocks
  under out_dir/scores/{time,steps}/ and returns the page's data. With a baseline, every
  other submission is compared with it study by study (`score --baseline`'s paired
  comparisons, on both clocks)."""
  reports = {clock: score_directories(
      list(paths), out_dir / SCORES_DIR / clock, clock=clock, baseline=baseline,
      allow_mixed_hardware=allow_mixed_hardware, allow_incomplete=allow_incomplete,
      bootstrap_samples=bootstrap_samples, seed=seed)
      for clock in ("time", "steps")}
  time_report = reports["time"]
  records, _ = load_records(paths)
  studies, _ = collect_studies(records)
  studies = [s for s in studies if s.workload in time_report.workloads]
  read = {str(r.run_dir): read_curve(r.run_dir, r.target_metric) for s in studies for r in s.runs}
  time_ranks, step_ranks = _ranks(time_report), _ranks(reports["steps"])
  return {
      "workloads": list(time_report.workloads),
      "tau_max": time_report.tau_max,
      "hardware": list(time_report.hardware),
      "num_runs": time_report.num_scored_runs,
      "clocks": {clock: _clock_table(report) for clock, report in reports.items()},
      "profiles": {clock: _profiles(report) for clock, report in reports.items()},
      "ranks": {name: {"time": time_ranks[name], "steps": step_ranks.get(name)}
                for name in time_ranks},
      "curves": _curves(studies, read),
      "anytime": _anytime(studies, read, time_report.workloads, time_report.tau_max),
      "closest": closest.closest(studies, read),
      "baseline": baseline,
      "paired": {clock: [paired.to_json(c) for c in report.paired]
                 for clock, report in reports.items()},
      "submissions": _submission_pages(studies, out_dir),
      "compute": compute(studies),
      "skipped": [{"path": k.path, "reason": k.reason} for k in time_report.skipped],
      "gaps": sorted([s, w] for s, w in time_report.gaps),
      "unattributed_gaps": time_report.unattributed_gaps,
      "warnings": list(time_report.warnings),
      "min_studies_for_interval": MIN_STUDIES_FOR_INTERVAL,
  }
