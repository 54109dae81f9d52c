"""AlgoPerf's frozen scoring targets: base and held-out workloads, target metric and value.

The files are AlgoPerf's `workload_targets*.json` format (bundled for v0.5 and v0.6 as package
data). The optional top-level `target_directions` map is the lab's addition for metrics AlgoPerf
does not know (AlgoPerf's own reader ignores top-level keys it does not use).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from algoperf_lab.scoring.records import ScoringError

VERSIONS = ("0.5", "0.6")
# AlgoPerf's target metrics and whether a lower value is better (its MIN/MAX metric lists).
LOWER_IS_BETTER = frozenset({"loss", "ce_loss", "error_rate", "ctc_loss", "wer", "l1_loss", "ppl"})
HIGHER_IS_BETTER = frozenset({"mean_average_precision", "ssim", "accuracy", "bleu"})


@dataclass(frozen=True)
class WorkloadTarget:
  """One workload's target: `validation/<metric_name>` must reach `value` (in `direction`)."""
  metric_name: str
  value: float
  step_hint: int
  direction: str  # "lower" or "higher"

  @property
  def column(self) -> str:
    """The eval_measurements.csv column holding the target metric."""
    return f"validation/{self.metric_name}"

  def reached(self, metric_value: float) -> bool:
    """Whether one eval meets the target (NaN never does)."""
    if self.direction == "lower":
      return metric_value <= self.value
    return metric_value >= self.value


@dataclass(frozen=True)
class AlgoPerfTargets:
  """One benchmark version's scoring constants, read from a workload_targets*.json file."""
  benchmark_version: str
  base_workloads: tuple[str, ...]
  held_out_workloads: tuple[str, ...]
  workloads: Mapping[str, WorkloadTarget]
  source: str

  def base_of(self, workload: str) -> str:
    """The base workload a held-out variant belongs to (the longest base name prefixing it)."""
    bases = [b for b in self.base_workloads if workload == b or workload.startswith(b + "_")]
    return max(bases, key=len) if bases else workload

  @property
  def scored_workloads(self) -> tuple[str, ...]:
    return self.base_workloads + self.held_out_workloads


def metric_direction(metric_name: str, overrides: Mapping[str, str], workload: str) -> str:
  """"lower" or "higher" for a target metric: from `overrides`, else AlgoPerf's metric lists."""
  if workload in overrides:
    return overrides[workload]
  if metric_name in LOWER_IS_BETTER:
    return "lower"
  if metric_name in HIGHER_IS_BETTER:
    return "higher"
  raise ScoringError(
      f"workload {workload!r}: target metric {metric_name!r} is not one AlgoPerf knows; add "
      f"\"target_directions\": {{\"{workload}\": \"lower\"}} (or \"higher\") to the targets file")


def _fail(source: str, problem: str) -> ScoringError:
  return ScoringError(f"targets file {source}: {problem}; expected AlgoPerf's "
                      "workload_targets*.json format (see --algoperf_version)")


def parse_targets(raw: object, source: str) -> AlgoPerfTargets:
  """Validate a decoded targets file; ScoringError names the problem."""
  if not isinstance(raw, dict):
    raise _fail(source, "the top-level value is not an object")
  missing = [k for k in ("base_workloads", "held_out_workloads", "workloads") if k not in raw]
  if missing:
    raise _fail(source, f"missing keys {', '.join(missing)}")
  directions = raw.get("target_directions", {})
  if not isinstance(directions, dict) or not set(directions.values()) <= {"lower", "higher"}:
    raise _fail(source, "'target_directions' must map workloads to \"lower\" or \"higher\"")
  workloads = {}
  for name, spec in dict(raw["workloads"]).items():
    try:
      metric = str(spec["target_metric_name"])
      workloads[name] = WorkloadTarget(
          metric_name=metric, value=float(spec["validation_target_value"]),
          step_hint=int(spec["step_hint"]), direction=metric_direction(metric, directions, name))
    except (KeyError, TypeError, ValueError) as e:
      raise _fail(source, f"workload {name!r} needs target_metric_name, "
                  f"validation_target_value and step_hint ({e})") from e
  base, held_out = tuple(raw["base_workloads"]), tuple(raw["held_out_workloads"])
  unknown = [w for w in base + held_out if w not in workloads]
  if unknown:
    raise _fail(source, f"base/held-out workloads without a target: {', '.join(unknown)}")
  return AlgoPerfTargets(benchmark_version=str(raw.get("benchmark_version", "?")),
                         base_workloads=base, held_out_workloads=held_out,
                         workloads=workloads, source=source)


def load_targets(path: Path) -> AlgoPerfTargets:
  """Read any file in AlgoPerf's workload_targets format."""
  try:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
  except FileNotFoundError as e:
    raise ScoringError(f"no such targets file: {path}") from e
  except (OSError, json.JSONDecodeError) as e:
    raise ScoringError(f"cannot read targets file {path}: {e}") from e
  return parse_targets(raw, str(path))


def bundled_targets(version: str) -> AlgoPerfTargets:
  """AlgoPerf's frozen targets for benchmark version 0.5 or 0.6 (shipped with the lab)."""
  if version not in VERSIONS:
    raise ScoringError(f"unknown AlgoPerf version {version!r}; choose one of {', '.join(VERSIONS)} "
                       "or pass --algoperf_targets=FILE.json")
  resource = resources.files("algoperf_lab.scoring") / "data" / f"workload_targets_v{version}.json"
  return parse_targets(json.loads(resource.read_text(encoding="utf-8")),
                       f"AlgoPerf v{version} (bundled)")


def merge_targets(first: AlgoPerfTargets | None,
                  second: AlgoPerfTargets | None) -> AlgoPerfTargets:
  """One targets set holding both (e.g. AlgoPerf's and the lab records'); names must not clash."""
  present = [t for t in (first, second) if t is not None]
  if not present:
    raise ScoringError("nothing to score: no AlgoPerf logs and no lab records")
  if len(present) == 1:
    return present[0]
  assert first is not None and second is not None
  clash = sorted(set(first.workloads) & set(second.workloads))
  if clash:
    raise ScoringError(f"workloads {', '.join(clash)} have targets in both {first.source} and "
                       f"{second.source}; score them separately")
  return AlgoPerfTargets(
      benchmark_version=f"{first.benchmark_version}+{second.benchmark_version}",
      base_workloads=first.base_workloads + second.base_workloads,
      held_out_workloads=first.held_out_workloads + second.held_out_workloads,
      workloads={**first.workloads, **second.workloads},
      source=f"{first.source} + {second.source}")
