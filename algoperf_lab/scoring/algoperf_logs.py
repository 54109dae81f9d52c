"""Read AlgoPerf experiment trees: `<submission>/study_<k>/<workload>_<framework>/trial_<j>/`.

Each trial folder holds `eval_measurements.csv` (one row per eval), as AlgoPerf's runner writes
it. Only the two columns scoring needs are kept: the time (`score`, AlgoPerf's name for the
accumulated submission time) and the workload's target metric. A folder that cannot be used (no
csv, a truncated csv, a missing column, a workload without a target) becomes a `Skipped` entry.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from algoperf_lab.scoring.algoperf_targets import AlgoPerfTargets
from algoperf_lab.scoring.records import Skipped

MEASUREMENTS_FILE = "eval_measurements.csv"
FLAGS_FILE = "flags_0.json"
TIME_COLUMNS = ("score", "accumulated_submission_time")
_TRIAL = re.compile(r"trial_(\d+)")
_STUDY = re.compile(r"study_(\d+)")
_WORKLOAD = re.compile(r"(.+)_(jax|pytorch)")
# AlgoPerf collects `<experiment>-YYYY-MM-DD-HH-MM-SS` folders into `<experiment>`.
_TIMESTAMP = re.compile(r"-\d{4}(-\d{2}){5}$")


class LogError(ValueError):
  """One trial folder is unusable; the message is the reason it is skipped."""


@dataclass(frozen=True)
class TrialDir:
  """Where one trial's logs are and what its folder names say it is."""
  path: Path
  submission: str
  study: int
  workload: str
  framework: str
  trial: int


@dataclass(frozen=True)
class AlgoPerfTrial:
  """One trial's evals: submission time and target metric per eval, in eval order."""
  location: TrialDir
  times: tuple[float, ...]
  values: tuple[float, ...]
  ruleset: str | None  # tuning_ruleset from flags_0.json, when present

  @property
  def submission(self) -> str:
    return self.location.submission

  @property
  def workload(self) -> str:
    return self.location.workload


def _trial_dir(path: Path) -> TrialDir | None:
  """A TrialDir when `path` sits at `<submission>/study_<k>/<workload>_<fw>/trial_<j>`."""
  trial, workload_dir, study_dir = path, path.parent, path.parent.parent
  trial_match, study_match = _TRIAL.fullmatch(trial.name), _STUDY.fullmatch(study_dir.name)
  workload_match = _WORKLOAD.fullmatch(workload_dir.name)
  if not (trial_match and study_match and workload_match):
    return None
  submission = _TIMESTAMP.sub("", study_dir.parent.name) or study_dir.parent.name
  return TrialDir(path=path, submission=submission, study=int(study_match.group(1)),
                  workload=workload_match.group(1), framework=workload_match.group(2),
                  trial=int(trial_match.group(1)))


def find_trial_dirs(roots: Iterable[Path]) -> list[TrialDir]:
  """Every AlgoPerf trial folder at or below the given folders, sorted by path."""
  found: dict[Path, TrialDir] = {}
  for root in roots:
    root = Path(root).resolve()
    if not root.is_dir():
      continue
    candidates = [root] + [Path(d) / n for d, names, _ in os.walk(root) for n in names
                           if _TRIAL.fullmatch(n)]
    for path in candidates:
      located = _trial_dir(path)
      if located is not None:
        found[path] = located
  return [found[p] for p in sorted(found)]


def _number(cell: str, row: int, column: str) -> float:
  if cell.strip() == "":
    return math.nan
  try:
    return float(cell)
  except ValueError as e:
    raise LogError(f"row {row}, column {column!r}: {cell!r} is not a number") from e


def read_measurements(path: Path, metric_column: str) -> tuple[tuple[float, ...],
                                                               tuple[float, ...]]:
  """(times, metric values) from one eval_measurements.csv; LogError says what is wrong."""
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError as e:
    raise LogError(f"no {MEASUREMENTS_FILE} (the trial logged no eval)") from e
  except (OSError, UnicodeDecodeError) as e:
    raise LogError(f"cannot read file: {e}") from e
  if not text.strip():
    raise LogError("empty file")
  if not text.endswith("\n"):
    raise LogError("truncated csv: the last line has no line end")
  rows = list(csv.reader(text.splitlines()))
  header = rows[0]
  time_column = next((c for c in TIME_COLUMNS if c in header), None)
  missing = [name for name, present in ((" or ".join(TIME_COLUMNS), time_column),
                                        (metric_column, metric_column in header)) if not present]
  if missing:
    raise LogError(f"missing column {', '.join(missing)}")
  t_index, v_index = header.index(time_column), header.index(metric_column)
  times, values = [], []
  for number, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise LogError(f"truncated csv: line {number} has {len(row)} of {len(header)} fields")
    time = _number(row[t_index], number, time_column)
    if math.isnan(time):
      raise LogError(f"row {number}: {time_column!r} is empty or NaN, so no time to target can "
                     "be read from this trial; it is skipped (repair or remove that row)")
    times.append(time)
    values.append(_number(row[v_index], number, metric_column))
  return tuple(times), tuple(values)


def _ruleset(trial_path: Path) -> str | None:
  try:
    flags = json.loads((trial_path / FLAGS_FILE).read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return None
  ruleset = flags.get("tuning_ruleset") if isinstance(flags, dict) else None
  return ruleset if isinstance(ruleset, str) else None


def read_trial(location: TrialDir, targets: AlgoPerfTargets) -> AlgoPerfTrial:
  """Read one trial folder against the targets; LogError when it cannot be scored."""
  target = targets.workloads.get(location.workload)
  if target is None:
    raise LogError(f"workload {location.workload!r} has no target in {targets.source}")
  times, values = read_measurements(location.path / MEASUREMENTS_FILE, target.column)
  return AlgoPerfTrial(location=location, times=times, values=values,
                       ruleset=_ruleset(location.path))


def load_trials(locations: Sequence[TrialDir], targets: AlgoPerfTargets, *,
                progress: bool = True) -> tuple[list[AlgoPerfTrial], list[Skipped]]:
  """Read every trial folder (with a progress bar); unusable ones are skipped with a reason."""
  trials: list[AlgoPerfTrial] = []
  skipped: list[Skipped] = []
  for location in tqdm(locations, desc="reading AlgoPerf logs", unit="trial",
                       disable=not progress or None, leave=False):
    try:
      trials.append(read_trial(location, targets))
    except LogError as e:
      skipped.append(Skipped(path=str(location.path / MEASUREMENTS_FILE), reason=str(e)))
  return trials, skipped
