"""Read run records (`result.json` + `metrics.jsonl`) from disk, tolerating broken ones.

A run directory is any folder holding a `result.json`. Scoring must survive a results tree that
contains crashed, preempted or half-written runs, so every problem with one record becomes a
`Skipped` entry (path + reason) instead of an exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
METRICS_FILE = "metrics.jsonl"
SCHEMA_VERSION = 1
FINISHED_STATUSES = frozenset({"reached", "missed", "diverged"})
UNFINISHED_STATUSES = frozenset({"running", "preempted", "interrupted"})
RULESETS = frozenset({"external", "self", "none"})
DIRECTIONS = frozenset({"lower", "higher"})
REQUIRED_KEYS = (
    "schema_version", "workload", "size", "submission", "ruleset", "study", "trial", "seed",
    "hardware", "versions", "target_metric", "target_value", "target_direction", "status",
    "reached_target", "time_to_target_sec")


class ScoringError(ValueError):
  """Scoring cannot proceed; the message says what is wrong and how to fix it."""


class MixedHardwareError(ScoringError):
  """Records were produced on different hardware or lab versions and cannot be compared."""


class RecordError(ValueError):
  """One result.json is unusable; the message is the reason it is skipped.

  `incomplete` is true when the run may still produce a result (unfinished, or a record that
  cannot be read): its study is incomplete, not a miss. `cell` is (submission, workload key)
  when the record says whose it is.
  """

  def __init__(self, message: str, *, incomplete: bool = True,
               cell: tuple[str, str] | None = None):
    super().__init__(message)
    self.incomplete = incomplete
    self.cell = cell


class CappedRunError(RecordError):
  """A --max_steps run stopped short of its budget and target: neither a result nor a miss."""


@dataclass(frozen=True)
class Skipped:
  """A record left out of scoring, with a human-readable reason.

  `incomplete` marks a record whose study is incomplete (corrupt, preempted or still running),
  as opposed to one that is finished but unusable; `cell` is its (submission, workload key) when
  known.
  """
  path: str
  reason: str
  incomplete: bool = False
  cell: tuple[str, str] | None = None


@dataclass(frozen=True)
class RunRecord:
  """The fields of one finished run's result.json that scoring and plotting need."""
  run_dir: Path
  workload: str
  size: str
  submission: str
  ruleset: str
  study: int | None
  trial: int | None
  seed: int
  hardware: Mapping[str, Any]
  versions: Mapping[str, Any]
  target_metric: str
  target_value: float
  target_direction: str
  status: str
  reached_target: bool
  time_to_target_sec: float | None
  max_allowed_runtime_sec: float | None = None
  hparams: Mapping[str, Any] = field(default_factory=dict)
  clock: str = "wall"  # what the submission clock read (records before clocks existed: wall)
  workload_config: Mapping[str, Any] | None = None
  config_label: str = ""  # set when --group_by_config scores differing configs apart
  # The step of the eval that first met the target (result.json's steps_to_target, or read
  # from metrics.jsonl for records written before it existed); None on a miss or unknown.
  steps_to_target: int | None = None

  @property
  def workload_key(self) -> str:
    """The per-workload grouping key, e.g. "lm/tiny" (plus a config label when grouped)."""
    key = f"{self.workload}/{self.size}"
    return f"{key} [{self.config_label}]" if self.config_label else key


@dataclass(frozen=True)
class MetricsCurve:
  """(submission time, target metric) points of one run, plus any problems met reading them;
  `steps` holds each point's step (None where the line has none)."""
  times: tuple[float, ...]
  values: tuple[float, ...]
  warnings: tuple[str, ...]
  steps: tuple[int | None, ...] = ()


def find_result_files(roots: Iterable[Path]) -> list[Path]:
  """Every result.json below the given directories (or the files themselves), sorted, unique."""
  found: set[Path] = set()
  for root in roots:
    root = Path(root)
    if root.is_file() and root.name == RESULT_FILE:
      found.add(root.resolve())
    elif root.is_dir():
      found.update(p.resolve() for p in root.rglob(RESULT_FILE) if p.is_file())
  return sorted(found)


def _is_int(value: object) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(condition: bool, message: str) -> None:
  if not condition:
    raise RecordError(message)


def _cell(data: Mapping[str, Any]) -> tuple[str, str] | None:
  """(submission, workload key) of a record that names them, else None."""
  names = [data.get(k) for k in ("submission", "workload", "size")]
  if not all(isinstance(n, str) and n for n in names):
    return None
  return names[0], f"{names[1]}/{names[2]}"


def parse_record(data: object, run_dir: Path) -> RunRecord:
  """Validate a decoded result.json and build a RunRecord; RecordError says what is wrong.

  Unfinished runs ("running", "preempted") are rejected here too, so callers skip them.
  """
  _require(isinstance(data, dict), f"top-level JSON value is {type(data).__name__}, not an object")
  assert isinstance(data, dict)
  if data.get("status") in UNFINISHED_STATUSES:  # a running record lacks the result's keys
    raise RecordError(f"unfinished run (status {data['status']!r}); only reached/missed/diverged "
                      "runs are scored", cell=_cell(data))
  missing = [k for k in REQUIRED_KEYS if k not in data]
  if missing:
    raise RecordError(f"missing required keys: {', '.join(missing)}", cell=_cell(data))
  _require(data["schema_version"] == SCHEMA_VERSION,
           f"unsupported schema_version {data['schema_version']!r} (expected {SCHEMA_VERSION})")
  status = data["status"]
  if status == "capped":
    raise CappedRunError(
        f"capped run (stopped by max_steps at step {data.get('steps')} before its budget, "
        "short of the target): it says nothing about time to target and is not scored as a "
        "miss; move it out of the scored folders, or run it again without --max_steps",
        cell=_cell(data))
  if status == "failed":
    raise RecordError(f"the run failed ({data.get('error', 'no error recorded')}); fix the "
                      "submission and run it again (its submission counts as missing this "
                      "workload meanwhile)", incomplete=False, cell=_cell(data))
  _require(status in FINISHED_STATUSES, f"unknown status {status!r}")
  for key in ("workload", "size", "submission", "target_metric"):
    _require(isinstance(data[key], str) and data[key] != "", f"{key!r} must be a non-empty string")
  _require(data["ruleset"] in RULESETS,
           f"unknown ruleset {data['ruleset']!r} (expected one of {sorted(RULESETS)})")
  _require(data["target_direction"] in DIRECTIONS,
           f"unknown target_direction {data['target_direction']!r}")
  for key in ("study", "trial"):
    _require(data[key] is None or _is_int(data[key]), f"{key!r} must be an integer or null")
  _require(_is_int(data["seed"]), "'seed' must be an integer")
  _require(_is_number(data["target_value"]) and math.isfinite(data["target_value"]),
           "'target_value' must be a finite number")
  hardware = data["hardware"]
  _require(isinstance(hardware, dict) and "device_kind" in hardware and "device_count" in hardware,
           "'hardware' must be an object with device_kind and device_count")
  _require(isinstance(data["versions"], dict), "'versions' must be an object")
  reached = data["reached_target"]
  _require(isinstance(reached, bool), "'reached_target' must be true or false")
  _require(reached == (status == "reached"),
           f"inconsistent record: status {status!r} but reached_target is {reached}")
  ttt = data["time_to_target_sec"]
  if reached:
    _require(_is_number(ttt) and math.isfinite(ttt) and ttt >= 0,
             "reached_target is true but time_to_target_sec is not a finite number >= 0")
  max_runtime = data.get("max_allowed_runtime_sec")
  hparams = data.get("hparams")
  workload_config = data.get("workload_config")
  return RunRecord(
      run_dir=run_dir,
      workload=data["workload"],
      size=data["size"],
      submission=data["submission"],
      ruleset=data["ruleset"],
      study=data["study"],
      trial=data["trial"],
      seed=data["seed"],
      hardware=dict(hardware),
      versions=dict(data["versions"]),
      target_metric=data["target_metric"],
      target_value=float(data["target_value"]),
      target_direction=data["target_direction"],
      status=status,
      reached_target=reached,
      time_to_target_sec=float(ttt) if reached else None,
      max_allowed_runtime_sec=float(max_runtime) if _is_number(max_runtime) else None,
      clock=str(data.get("clock", "wall")),
      hparams=dict(hparams) if isinstance(hparams, dict) else {},
      workload_config=dict(workload_config) if isinstance(workload_config, dict) else None,
  )


def refuse_contradicted_record(result_path: Path) -> None:
  """Raises RecordError when a finished result.json contradicts its own metrics.jsonl; a run
  capped by --max_steps passes (finished as asked, only not scored)."""
  try:
    read_record(result_path)
  except CappedRunError:
    return


def read_record(result_path: Path) -> RunRecord:
  """Read and validate one result.json; any problem raises RecordError with the reason."""
  try:
    text = result_path.read_text(encoding="utf-8")
  except (OSError, UnicodeDecodeError) as e:
    raise RecordError(f"cannot read file: {e}") from e
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise RecordError(f"malformed or truncated JSON at line {e.lineno} column {e.colno}: {e.msg}"
                      ) from e
  record = parse_record(data, result_path.parent)
  first_step = check_against_history(record)
  recorded = data.get("steps_to_target") if isinstance(data, dict) else None
  steps = recorded if _is_int(recorded) else first_step
  return replace(record, steps_to_target=steps if record.status == "reached" else None)


def _meets(value: float, target: float, direction: str) -> bool:
  return value <= target if direction == "lower" else value >= target


def check_against_history(record: RunRecord) -> int | None:
  """Refuses (RecordError, by path) a result.json its own metrics.jsonl contradicts: a
  "reached" whose first eval at the target is not at its time_to_target_sec, or a "missed"
  with an eval at the target within its budget. A record without metrics.jsonl is not
  checked (nothing to contradict it). Returns the step of the first eval at the target (None
  when there is none, or no history)."""
  if record.status not in ("reached", "missed") or not (record.run_dir / METRICS_FILE).is_file():
    return None
  curve = read_curve(record.run_dir, record.target_metric)
  budget = record.max_allowed_runtime_sec if record.max_allowed_runtime_sec is not None else math.inf
  steps = curve.steps or (None,) * len(curve.times)
  first, first_step = next(((t, step) for t, v, step in zip(curve.times, curve.values, steps)
                            if t <= budget and _meets(v, record.target_value,
                                                      record.target_direction)), (None, None))
  if record.status == "reached":
    claimed = record.time_to_target_sec
    if first is None or not math.isclose(first, claimed, rel_tol=1e-9, abs_tol=1e-9):
      history = "never meets the target" if first is None else f"first meets it at {first:g} s"
      raise RecordError(f"result.json says the target was reached at {claimed:g} s but its "
                        f"metrics.jsonl {history}; the record contradicts its own history and "
                        "is not scored (rerun it, or restore the files the run wrote)")
  elif first is not None:
    raise RecordError(f"result.json says missed but its metrics.jsonl meets the target at "
                      f"{first:g} s, within the budget; the record contradicts its own history "
                      "and is not scored (rerun it, or restore the files the run wrote)")
  return first_step


def check_no_duplicate_runs(records: Sequence[RunRecord]) -> None:
  """Refuses (ScoringError) two records of the same run: same submission, workload, size,
  ruleset, study, trial, seed and hyperparameters (a copied folder would count twice)."""
  seen: dict[str, RunRecord] = {}
  duplicates = []
  for record in records:
    key = json.dumps([record.submission, record.workload, record.size, record.ruleset,
                      record.study, record.trial, record.seed, record.hparams], sort_keys=True,
                     default=str)
    if key in seen:
      duplicates.append(f"{seen[key].run_dir} and {record.run_dir}")
    else:
      seen[key] = record
  if duplicates:
    shown = "; ".join(duplicates[:3]) + (f"; and {len(duplicates) - 3} more"
                                         if len(duplicates) > 3 else "")
    raise ScoringError(f"the same run is recorded twice ({shown}): same submission, workload, "
                       "study, trial, seed and hyperparameters; keep one of each (a copy would "
                       "count as another study)")


def load_records(roots: Iterable[Path]) -> tuple[list[RunRecord], list[Skipped]]:
  """All finished, valid run records below `roots`, and the skipped ones with reasons."""
  records: list[RunRecord] = []
  skipped: list[Skipped] = []
  for path in find_result_files(roots):
    try:
      records.append(read_record(path))
    except RecordError as e:
      skipped.append(Skipped(path=str(path), reason=str(e), incomplete=e.incomplete,
                             cell=e.cell))
  return records, skipped


def read_curve(run_dir: Path, metric: str) -> MetricsCurve:
  """The (submission_time_sec, metric) points of a run's metrics.jsonl.

  Lines that are not valid JSON (typically a truncated last line from a killed run) are skipped
  with a warning; evals lacking the metric or with a non-finite value are left out silently.
  """
  path = run_dir / METRICS_FILE
  try:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
  except OSError as e:
    return MetricsCurve((), (), (f"{path}: cannot read metrics ({e.strerror or e})",))
  times: list[float] = []
  values: list[float] = []
  steps: list[int | None] = []
  warnings: list[str] = []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      where = "truncated last line" if number == len(lines) else f"malformed line {number}"
      warnings.append(f"{path}: skipped {where}")
      continue
    if not isinstance(row, dict):
      warnings.append(f"{path}: skipped line {number} (not a JSON object)")
      continue
    t, v = row.get("submission_time_sec"), row.get(metric)
    if _is_number(t) and _is_number(v) and math.isfinite(t) and math.isfinite(v):
      times.append(float(t))
      values.append(float(v))
      steps.append(int(row["step"]) if _is_int(row.get("step")) else None)
  return MetricsCurve(tuple(times), tuple(values), tuple(warnings), tuple(steps))


def hardware_signature(record: RunRecord) -> tuple[tuple[str, str], ...]:
  """What must agree across compared records, as (name, value) pairs.

  Device kind, device count and lab version; on CPU also the processor model, host core count,
  machine architecture and the cores the run could use, since "cpu x 1" says nothing about the
  host that did the work and CPU seconds depend on the threads that spent them.
  """
  hw = record.hardware
  fields = [("device_kind", hw.get("device_kind")), ("device_count", hw.get("device_count"))]
  if hw.get("platform", hw.get("device_kind")) == "cpu":
    fields += [("processor", hw.get("processor")), ("host_cpu_count", hw.get("host_cpu_count")),
               ("host_machine", hw.get("host_machine"))]
    if "usable_cpu_cores" in hw:  # records from before it was recorded say nothing about it
      fields.append(("usable_cpu_cores", hw.get("usable_cpu_cores")))
  fields.append(("algoperf_lab", record.versions.get("algoperf_lab")))
  return tuple((name, str(value)) for name, value in fields)


def check_same_hardware(records: Iterable[RunRecord], allow_mixed: bool) -> list[str]:
  """Raise MixedHardwareError if records disagree on hardware/lab version, unless allowed.

  Returns the warnings to report when mixing is allowed (empty when everything agrees).
  """
  by_signature: dict[tuple[tuple[str, str], ...], list[RunRecord]] = {}
  for record in records:
    by_signature.setdefault(hardware_signature(record), []).append(record)
  if len(by_signature) <= 1:
    return []
  described = "; ".join(
      ", ".join(f"{name}={value}" for name, value in signature)
      + f" ({len(runs)} runs, e.g. {runs[0].run_dir})"
      for signature, runs in sorted(by_signature.items()))
  message = f"records come from different hardware or algoperf_lab versions: {described}"
  if not allow_mixed:
    raise MixedHardwareError(
        f"{message}. Times are not comparable across these; score each group separately, "
        "or pass --allow_mixed_hardware to score them together anyway.")
  return [f"{message} (scored together because --allow_mixed_hardware was given)"]
