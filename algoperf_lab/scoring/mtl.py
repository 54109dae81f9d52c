"""Δm%, the multi-task measure MTL papers report, against a named reference submission.

Maninis et al. 2019, "Attentive Single-Tasking of Multiple Tasks", eq. 5:
Δm = (1/T) Σ_k (−1)^{l_k} (M_k − M_ref,k) / M_ref,k × 100, with l_k = 1 when lower is better,
so a positive Δm% is an average relative improvement over the reference. M_k is a task's
metric (`<split>/task_<k>/<metric>` in metrics.jsonl) at the last eval of each run, averaged
over a submission's runs on the workload; the direction is the record's target direction.
Workloads without per-task metrics are left out. Reads run records only.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from algoperf_lab.scoring.records import METRICS_FILE, RunRecord, ScoringError

TASK_KEY = re.compile(r"^(?P<split>[a-z_]+)/task_(?P<task>\d+)/(?P<metric>.+)$")


@dataclass(frozen=True)
class MtlScore:
  """One submission on one workload: mean per-task metrics and Δm% against the reference."""
  submission: str
  workload: str
  per_task: Mapping[str, float]  # "task_<k>/<metric>" -> mean over runs
  delta_m_percent: float
  num_runs: int


def last_per_task_metrics(run_dir, split: str = "validation") -> dict[str, float]:
  """The `<split>/task_<k>/<metric>` values of a run's last eval line that has any."""
  path = run_dir / METRICS_FILE
  try:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
  except OSError:
    return {}
  for line in reversed(lines):
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    found = {f"task_{m['task']}/{m['metric']}": float(v) for k, v in row.items()
             if (m := TASK_KEY.match(k)) and m["split"] == split
             and isinstance(v, (int, float)) and math.isfinite(v)}
    if found:
      return found
  return {}


def delta_m_percent(method: Mapping[str, float], reference: Mapping[str, float],
                    lower_is_better: bool) -> float:
  """Maninis et al.'s Δm% over the tasks both have (NaN when none)."""
  tasks = [k for k in reference if k in method and reference[k] != 0]
  if not tasks:
    return math.nan
  sign = -1.0 if lower_is_better else 1.0
  return 100.0 * sum(sign * (method[k] - reference[k]) / reference[k] for k in tasks) / len(tasks)


def _mean_per_task(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
  keys = set.intersection(*(set(r) for r in runs))
  return {k: sum(r[k] for r in runs) / len(runs) for k in sorted(keys)}


def mtl_scores(records: Sequence[RunRecord], reference: str,
               split: str = "validation") -> tuple[MtlScore, ...]:
  """Δm% of every submission on every workload where `reference` has per-task metrics."""
  if reference not in {r.submission for r in records}:
    raise ScoringError(f"--mtl_reference {reference!r} is not among the scored submissions: "
                       f"{', '.join(sorted({r.submission for r in records}))}")
  runs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
  lower: dict[str, bool] = {}
  for record in records:
    metrics = last_per_task_metrics(record.run_dir, split)
    if metrics:
      runs[(record.submission, record.workload_key)].append(metrics)
      lower[record.workload_key] = record.target_direction == "lower"
  scores = []
  for (submission, workload), found in sorted(runs.items()):
    if (reference, workload) not in runs:
      continue
    mean = _mean_per_task(found)
    ref = _mean_per_task(runs[(reference, workload)])
    scores.append(MtlScore(submission, workload, mean,
                           delta_m_percent(mean, ref, lower[workload]), len(found)))
  return tuple(scores)


def render_mtl_markdown(scores: Sequence[MtlScore], reference: str) -> list[str]:
  """report.md's section: Δm% per submission and workload, and the per-task metrics."""
  lines = ["## Multi-task Δm%", "",
           f"Mean relative per-task change against `{reference}` (Maninis et al. 2019; "
           "positive is better; sign-corrected per metric), from each run's last eval of the "
           "validation per-task metrics, averaged over runs.", ""]
  if not scores:
    return lines + ["No run reports per-task metrics.", ""]
  lines += ["| submission | workload | Δm% | runs |", "|---|---|---|---|"]
  lines += [f"| {s.submission} | {s.workload} | {s.delta_m_percent:+.2f} | {s.num_runs} |"
            for s in scores]
  for workload in sorted({s.workload for s in scores}):
    rows = [s for s in scores if s.workload == workload]
    tasks = sorted(rows[0].per_task, key=lambda k: int(k.split("/")[0].split("_")[1]))
    lines += ["", f"### {workload}: per-task metrics", "",
              "| submission | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
    lines += ["| " + s.submission + " | " + " | ".join(f"{s.per_task.get(t, math.nan):.4f}"
                                                        for t in tasks) + " |" for s in rows]
  return lines + [""]
