"""Records scored together must measure the same thing: same target, budget, clock and workload
config.

A run made with `--config.targets.validation=5.0` reaches an easier target sooner; pooled with
standard runs it would halve its workload's time. So records of one workload/size that differ in
any of these fields are refused, or, with `group_by_config`, scored as separate workloads labelled
by the fields that differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from algoperf_lab.scoring.records import RunRecord, ScoringError

# Descriptive text inside the workload config; it does not change what a run measures.
IGNORED_CONFIG_KEYS = frozenset({"how_measured"})


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
  if isinstance(value, Mapping):
    for key in sorted(value):
      if key not in IGNORED_CONFIG_KEYS:
        _flatten(f"{prefix}.{key}", value[key], out)
  else:
    out[prefix] = repr(value)


def config_fields(record: RunRecord) -> dict[str, str]:
  """The fields that define what a run measures, flattened to name -> printable value."""
  fields = {"target_metric": repr(record.target_metric),
            "target_value": repr(record.target_value),
            "target_direction": repr(record.target_direction),
            "max_allowed_runtime_sec": repr(record.max_allowed_runtime_sec),
            "clock": repr(record.clock)}
  if record.workload_config is not None:
    _flatten("workload_config", record.workload_config, fields)
  return fields


def _differing(per_record: Sequence[dict[str, str]]) -> list[str]:
  names = sorted({name for fields in per_record for name in fields})
  return [n for n in names if len({fields.get(n, "<absent>") for fields in per_record}) > 1]


def _describe(name: str, records: Sequence[RunRecord], fields: Sequence[dict[str, str]]) -> str:
  by_value: dict[str, list[RunRecord]] = {}
  for record, f in zip(records, fields):
    by_value.setdefault(f.get(name, "<absent>"), []).append(record)
  return f"{name} (" + "; ".join(
      f"{value} in {len(runs)} run(s), e.g. {runs[0].run_dir}"
      for value, runs in sorted(by_value.items())) + ")"


GROUP_BY_CONFIG_HINT = "pass --group_by_config to score each configuration as its own workload"


def check_same_config(records: Sequence[RunRecord], group_by_config: bool,
                      separate_hint: str = GROUP_BY_CONFIG_HINT
                      ) -> tuple[list[RunRecord], list[str]]:
  """The records to score and warnings; ScoringError names the differing field unless grouping.

  With group_by_config each record's workload key gains a label of the differing fields'
  values, e.g. "lm/tiny [target_value=5.0, workload_config.targets.validation=5.0]".
  """
  by_workload: dict[str, list[RunRecord]] = {}
  for record in records:
    by_workload.setdefault(record.workload_key, []).append(record)
  relabelled: dict[int, RunRecord] = {}
  warnings: list[str] = []
  for workload, runs in sorted(by_workload.items()):
    fields = [config_fields(r) for r in runs]
    differing = _differing(fields)
    if not differing:
      continue
    if not group_by_config:
      raise ScoringError(
          f"{workload}: records differ in " + ", ".join(_describe(n, runs, fields)
                                                        for n in differing[:3])
          + (f" and {len(differing) - 3} more field(s)" if len(differing) > 3 else "")
          + f"; their times are not comparable. Score them separately, or {separate_hint}")
    for record, f in zip(runs, fields):
      label = ", ".join(f"{n}={f.get(n, '<absent>')}" for n in differing)
      relabelled[id(record)] = dataclasses.replace(record, config_label=label)
    warnings.append(f"{workload}: records differ in {', '.join(differing)}; each "
                    "configuration is scored as its own workload (--group_by_config)")
  return [relabelled.get(id(r), r) for r in records], warnings
