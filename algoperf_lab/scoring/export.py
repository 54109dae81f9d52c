"""The lab's run records in AlgoPerf's log format, so AlgoPerf's tools can read lab runs.

`export_algoperf` writes `<submission>/study_<k>/<workload>_<size>_jax/trial_<j>/` folders with
`eval_measurements.csv` (AlgoPerf's column names: `global_step`, `score` and
`accumulated_submission_time` in submission seconds, `validation/<metric>`, ...), `hparams.json`,
`meta_data_0.json` and `flags_0.json`, plus `workload_targets.json`, in AlgoPerf's targets format,
naming each lab workload's target from its result.json. `record_trials` is the same conversion in
memory, used to score lab records under AlgoPerf's rules.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algoperf_lab.scoring.algoperf_logs import (
    FLAGS_FILE, MEASUREMENTS_FILE, AlgoPerfTrial, TrialDir)
from algoperf_lab.scoring.algoperf_targets import AlgoPerfTargets, parse_targets
from algoperf_lab.scoring.consistency import check_same_config
from algoperf_lab.scoring.records import METRICS_FILE, RunRecord, ScoringError, Skipped, load_records
from algoperf_lab.scoring.report import write_text_atomic
from algoperf_lab.harness.workdir_lock import check_writable_dir

TARGETS_FILE = "workload_targets.json"
HPARAMS_FILE = "hparams.json"
META_FILE = "meta_data_0.json"
FRAMEWORK = "jax"
TIME_COLUMNS = ("accumulated_eval_time", "accumulated_submission_time", "global_step", "score",
                "total_duration")


@dataclass(frozen=True)
class ExportedTrial:
  """One lab record placed in an AlgoPerf tree, with its eval rows in AlgoPerf's columns."""
  record: RunRecord
  location: TrialDir
  rows: tuple[Mapping[str, float], ...]
  columns: tuple[str, ...]


@dataclass(frozen=True)
class ExportResult:
  """What export_algoperf wrote, and the records it left out (with reasons)."""
  out_dir: Path
  targets_file: Path
  num_trials: int
  workloads: tuple[str, ...]
  skipped: tuple[Skipped, ...]
  warnings: tuple[str, ...]


def algoperf_workload_name(record: RunRecord) -> str:
  """`<workload>_<size>`, in the lower-case letters, digits and underscores AlgoPerf uses."""
  return re.sub(r"[^a-z0-9_]+", "_", f"{record.workload}_{record.size}".lower())


def _metric_name(record: RunRecord) -> str:
  if not record.target_metric.startswith("validation/"):
    raise ScoringError(f"{record.run_dir}: target metric {record.target_metric!r} is not a "
                       "validation/<metric> key, which AlgoPerf's format needs")
  return record.target_metric.removeprefix("validation/")


def read_eval_rows(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
  """Every eval line of metrics.jsonl in order (malformed lines are left out with a warning)."""
  path = run_dir / METRICS_FILE
  try:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
  except OSError as e:
    return [], [f"{path}: cannot read metrics ({e.strerror or e}); exported with no evals"]
  rows, warnings = [], []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      warnings.append(f"{path}: skipped {'truncated last' if number == len(lines) else 'malformed'}"
                      f" line {number}")
      continue
    if isinstance(row, dict):
      rows.append(row)
  return rows, warnings


def _float(value: Any) -> float:
  return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
      else math.nan


def measurement_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, float]],
                                                                 list[str]]:
  """metrics.jsonl lines -> eval_measurements rows (AlgoPerf's column names) and columns."""
  metric_columns = sorted({k for row in rows for k in row if "/" in k})
  out, eval_total = [], 0.0
  for row in rows:
    eval_total += _float(row.get("eval_time_sec", 0.0))
    submission = _float(row.get("submission_time_sec"))
    out.append({"accumulated_eval_time": eval_total, "accumulated_submission_time": submission,
                "global_step": _float(row.get("step")), "score": submission,
                "total_duration": _float(row.get("wall_time_sec")),
                **{c: _float(row.get(c)) for c in metric_columns}})
  return out, [*TIME_COLUMNS, *metric_columns]


def _study_numbers(records: Sequence[RunRecord]) -> dict[int, int]:
  """id(record) -> study number: its own, or (null study) one new study per run, by seed."""
  numbers: dict[int, int] = {}
  groups: dict[tuple[str, str], list[RunRecord]] = {}
  for r in records:
    groups.setdefault((r.submission, algoperf_workload_name(r)), []).append(r)
  for runs in groups.values():
    explicit = [r.study for r in runs if r.study is not None]
    following = max(explicit, default=-1) + 1
    for r in sorted((r for r in runs if r.study is None), key=lambda r: (r.seed, str(r.run_dir))):
      numbers[id(r)] = following
      following += 1
    numbers.update({id(r): r.study for r in runs if r.study is not None})
  return numbers


def plan_export(records: Sequence[RunRecord], root: Path) -> tuple[list[ExportedTrial],
                                                                   list[str]]:
  """Place every record in an AlgoPerf tree under `root`; refuses two records in one folder."""
  studies = _study_numbers(records)
  placed: dict[Path, RunRecord] = {}
  trials, warnings = [], []
  for r in sorted(records, key=lambda r: str(r.run_dir)):
    workload, trial = algoperf_workload_name(r), (r.trial + 1 if r.trial is not None else 1)
    path = root / r.submission / f"study_{studies[id(r)]}" / f"{workload}_{FRAMEWORK}" / \
        f"trial_{trial}"
    if path in placed:
      raise ScoringError(f"{placed[path].run_dir} and {r.run_dir} would both be exported as "
                         f"{path.relative_to(root)}; give them distinct study/trial numbers")
    placed[path] = r
    rows, row_warnings = read_eval_rows(r.run_dir)
    warnings += row_warnings
    measurements, columns = measurement_rows(rows)
    trials.append(ExportedTrial(
        record=r, rows=tuple(measurements), columns=tuple(columns),
        location=TrialDir(path=path, submission=r.submission, study=studies[id(r)],
                          workload=workload, framework=FRAMEWORK, trial=trial)))
  return trials, warnings


def _step_hint(record: RunRecord, rows: Sequence[Mapping[str, float]]) -> int:
  targets = (record.workload_config or {}).get("targets", {})
  hint = targets.get("step_hint") if isinstance(targets, Mapping) else None
  if isinstance(hint, int) and not isinstance(hint, bool):
    return hint
  steps = [row["global_step"] for row in rows if math.isfinite(row["global_step"])]
  return int(max(steps, default=0))


def targets_document(trials: Sequence[ExportedTrial]) -> dict[str, Any]:
  """workload_targets.json for the exported lab workloads (all base, none held out)."""
  workloads, directions = {}, {}
  for t in trials:
    name = t.location.workload
    workloads[name] = {"target_metric_name": _metric_name(t.record),
                       "validation_target_value": t.record.target_value,
                       "step_hint": max(workloads.get(name, {}).get("step_hint", 0),
                                        _step_hint(t.record, t.rows))}
    directions[name] = t.record.target_direction
  return {"_comment": "Targets of algoperf_lab workloads, written by `algoperf-lab "
                      "export-algoperf` from the runs' result.json (AlgoPerf's format; "
                      "target_directions is the lab's addition for metrics AlgoPerf does not know).",
          "benchmark_version": "algoperf_lab", "base_workloads": sorted(workloads),
          "held_out_workloads": [], "workloads": dict(sorted(workloads.items())),
          "target_directions": dict(sorted(directions.items()))}


def _csv_text(trial: ExportedTrial) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(trial.columns)
  for row in trial.rows:
    writer.writerow(["" if math.isnan(row[c]) else repr(row[c]) if c != "global_step"
                     else str(int(row[c])) for c in trial.columns])
  return buffer.getvalue()


def _side_files(trial: ExportedTrial, target: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
  r = trial.record
  meta = {"workload.target_metric_name": target["target_metric_name"],
          "workload.validation_target_value": r.target_value,
          "workload.max_allowed_runtime_sec": r.max_allowed_runtime_sec,
          "workload.step_hint": target["step_hint"], "rng_seed": r.seed,
          **{f"hardware.{k}": v for k, v in sorted(r.hardware.items())},
          **{f"versions.{k}": v for k, v in sorted(r.versions.items())},
          "lab.run_dir": str(r.run_dir), "lab.status": r.status,
          "lab.time_to_target_sec": r.time_to_target_sec}
  flags = {"workload": trial.location.workload, "framework": FRAMEWORK,
           "tuning_ruleset": "external" if r.ruleset == "external" else "self",
           "experiment_name": f"{r.submission}/study_{trial.location.study}",
           "rng_seed": r.seed, "lab.submission": r.submission, "lab.ruleset": r.ruleset,
           "lab.study": r.study, "lab.trial": r.trial}
  return {HPARAMS_FILE: dict(r.hparams), META_FILE: meta, FLAGS_FILE: flags}


def to_algoperf_trial(trial: ExportedTrial, target_column: str) -> AlgoPerfTrial:
  """The AlgoPerfTrial that reading this trial's exported csv back gives."""
  return AlgoPerfTrial(location=trial.location,
                       times=tuple(row["score"] for row in trial.rows),
                       values=tuple(row.get(target_column, math.nan) for row in trial.rows),
                       ruleset="external" if trial.record.ruleset == "external" else "self")


def record_trials(records: Sequence[RunRecord]) -> tuple[list[AlgoPerfTrial], AlgoPerfTargets,
                                                         list[str]]:
  """Lab records as AlgoPerf trials plus their targets, in memory (no files written)."""
  records, warnings = check_same_config(records, group_by_config=False)
  planned, row_warnings = plan_export(records, Path("<lab records>"))
  targets = parse_targets(targets_document(planned), "the lab records' result.json targets")
  trials = [to_algoperf_trial(t, targets.workloads[t.location.workload].column) for t in planned]
  return trials, targets, warnings + row_warnings


def export_algoperf(runs_dir: Path, out_dir: Path) -> ExportResult:
  """Write the finished run records below `runs_dir` as an AlgoPerf experiment tree in out_dir."""
  runs_dir, out_dir = Path(runs_dir), Path(out_dir)
  if not runs_dir.is_dir():
    raise ScoringError(f"no such folder of run records: {runs_dir}")
  if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
    raise ScoringError(f"--out {out_dir} exists and is not an empty folder; choose a new one")
  check_writable_dir(out_dir, "--out")
  records, skipped = load_records([runs_dir])
  if not records:
    raise ScoringError(f"no finished run records under {runs_dir}"
                       + (f" ({len(skipped)} skipped)" if skipped else ""))
  records, warnings = check_same_config(
      records, group_by_config=False,
      separate_hint="export each configuration's records from its own folder to its own --out")
  planned, row_warnings = plan_export(records, out_dir)
  document = targets_document(planned)
  for trial in planned:
    path = trial.location.path
    write_text_atomic(path / MEASUREMENTS_FILE, _csv_text(trial))
    target = document["workloads"][trial.location.workload]
    for name, content in _side_files(trial, target).items():
      write_text_atomic(path / name, json.dumps(content, indent=2, default=str) + "\n")
  targets_file = out_dir / TARGETS_FILE
  write_text_atomic(targets_file, json.dumps(document, indent=2) + "\n")
  return ExportResult(out_dir=out_dir, targets_file=targets_file, num_trials=len(planned),
                      workloads=tuple(document["base_workloads"]), skipped=tuple(skipped),
                      warnings=tuple(warnings + row_warnings))
