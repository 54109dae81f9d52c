"""Time-to-target aggregation: trial -> study -> workload, as AlgoPerf defines it.

A trial's time is its time-to-target, or +inf when it missed or diverged. Under the external
tuning ruleset a study's time is its best trial; under self-tuning (and "none") a study is a
single run. A workload's time for a submission is the median over its studies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from algoperf_lab.scoring.records import RunRecord, Skipped


@dataclass(frozen=True)
class StudyOutcome:
  """One study of one submission on one workload: its runs, the run that counts, its time."""
  submission: str
  workload: str
  label: str
  runs: tuple[RunRecord, ...]
  best: RunRecord
  time_sec: float


def trial_time(record: RunRecord) -> float:
  """Seconds to reach the target, or +inf for a miss, a divergence, or a time over the budget."""
  if not record.reached_target or record.status != "reached" or record.time_to_target_sec is None:
    return math.inf
  limit = record.max_allowed_runtime_sec
  if limit is not None and record.time_to_target_sec > limit:
    return math.inf
  return record.time_to_target_sec


def over_budget(record: RunRecord) -> bool:
  """Whether a run claims the target but only after its allowed runtime (so it counts as a miss)."""
  return record.reached_target and math.isinf(trial_time(record))


def best_trial(runs: Sequence[RunRecord]) -> RunRecord:
  """The run with the smallest trial time; ties go to the lowest trial number, then path."""
  if not runs:
    raise ValueError("best_trial needs at least one run")
  return min(runs, key=lambda r: (trial_time(r), r.trial if r.trial is not None else -1,
                                  str(r.run_dir)))


def _study_key(record: RunRecord) -> tuple[int, int, str]:
  """Grouping key: the study number, or (when null) one study per run, indexed by seed."""
  if record.study is not None:
    return (0, record.study, "")
  return (1, record.seed, str(record.run_dir))


def _study_label(key: tuple[int, int, str]) -> str:
  return f"study {key[1]}" if key[0] == 0 else f"seed {key[1]}"


def collect_studies(records: Iterable[RunRecord]) -> tuple[list[StudyOutcome], list[Skipped]]:
  """Group runs into studies and pick each study's time.

  A study with several runs is only valid under the external ruleset (its runs are the tuning
  trials); otherwise its runs are ambiguous, so they are all skipped with a reason.
  """
  groups: dict[tuple[str, str, tuple[int, int, str]], list[RunRecord]] = {}
  for record in records:
    key = (record.submission, record.workload_key, _study_key(record))
    groups.setdefault(key, []).append(record)
  studies: list[StudyOutcome] = []
  skipped: list[Skipped] = []
  for (submission, workload, key), runs in sorted(groups.items(), key=lambda kv: kv[0]):
    rulesets = sorted({r.ruleset for r in runs})
    if len(runs) > 1 and rulesets != ["external"]:
      reason = (f"{len(runs)} runs for {_study_label(key)} of submission {submission!r} on "
                f"{workload} under ruleset {'/'.join(rulesets)}, which allows one run per study; "
                "give each run its own study number (or study null), or use ruleset 'external'")
      skipped.extend(Skipped(path=str(r.run_dir / "result.json"), reason=reason) for r in runs)
      continue
    best = best_trial(runs)
    studies.append(StudyOutcome(submission=submission, workload=workload,
                                label=_study_label(key), runs=tuple(runs), best=best,
                                time_sec=trial_time(best)))
  return studies, skipped


def median_with_inf(values: Sequence[float]) -> float:
  """The ordinary median where +inf sorts last; an even count averages the two middle values.

  So median([t, inf]) is inf, and an empty sequence (no studies at all) is inf.
  """
  if not values:
    return math.inf
  ordered = sorted(values)
  middle = len(ordered) // 2
  if len(ordered) % 2:
    return ordered[middle]
  low, high = ordered[middle - 1], ordered[middle]
  return math.inf if math.isinf(high) else (low + high) / 2


def study_times(studies: Iterable[StudyOutcome]) -> dict[str, dict[str, list[float]]]:
  """submission -> workload -> the study times, in study order."""
  table: dict[str, dict[str, list[float]]] = {}
  for study in studies:
    table.setdefault(study.submission, {}).setdefault(study.workload, []).append(study.time_sec)
  return table


def workload_times(
    times: Mapping[str, Mapping[str, Sequence[float]]],
    workloads: Sequence[str]) -> dict[str, dict[str, float]]:
  """submission -> workload -> median time over studies; a workload with no studies is inf."""
  return {sub: {w: median_with_inf(per_workload.get(w, ())) for w in workloads}
          for sub, per_workload in times.items()}


CLOCKS = ("time", "steps")


def on_step_clock(records: Iterable[RunRecord]) -> tuple[list[RunRecord], list[Skipped]]:
  """The records with steps to target in place of seconds (AlgoPerf's 2026 analysis scores on
  both): a reached run counts its steps_to_target; a miss stays a miss. A reached record with
  no step count (no steps_to_target and no metrics.jsonl) is skipped with the reason."""
  converted, skipped = [], []
  for record in records:
    if record.status == "reached" and record.steps_to_target is None:
      skipped.append(Skipped(path=str(record.run_dir / "result.json"),
                             reason="no step count to target (no steps_to_target and no "
                                    "metrics.jsonl); it cannot be scored on the step clock"))
      continue
    steps = float(record.steps_to_target) if record.steps_to_target is not None else None
    converted.append(replace(record, time_to_target_sec=steps, max_allowed_runtime_sec=None))
  return converted, skipped
