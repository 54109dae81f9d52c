"""The targets the tiny configs read: `configs/tiny_targets.json`, written by set-targets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algoperf_lab.atomic_files import write_text_atomically
from configs import tiny_targets
CONFIG_KEYS = ("validation", "test", "max_allowed_cpu_sec", "max_allowed_runtime_sec",
               "eval_period_time_sec", "step_hint")


def config_values(targets: Mapping[str, Any], workload: str) -> dict[str, Any]:
  """The `config.targets` keys for one workload of a targets.json, with how they were set."""
  entry = targets["workloads"][workload]
  values = {key: entry[key] for key in CONFIG_KEYS}
  values["how_measured"] = (
      f"algoperf-lab set-targets ({targets['written'][:10]}): {entry['target_setting_algorithm']}"
      f" ({entry['target_setting_trial']}), the best of {', '.join(targets['baselines'])} tuned "
      f"with {targets['trials']} trials each, re-run over {targets['seeds']} seeds for "
      f"{entry['step_hint']} steps; validation target the median of the seeds' best values, "
      "test target the worst best-test value of the seeds that reached it, budgets 4/3 of the "
      "median runtime (process CPU and wall outside evals), evals every 2% of the CPU budget"
      + _cores_note(entry))
  return values


def _cores_note(entry: Mapping[str, Any]) -> str:
  cores = [c for c in entry.get("timing_cpu_cores", []) if c is not None]
  if not cores:
    return ""
  return f"; timed at {'/'.join(map(str, cores))} CPU core(s) per run (algoperf-lab run --cpu_cores)"


def ready_to_install(targets: Mapping[str, Any]) -> tuple[list[str], list[str]]:
  """(workloads whose budgets are final, workloads still waiting for their timing runs): when
  the study asks for timing runs, budgets read off the seed runs (made side by side with
  other runs) are not installed."""
  ready, waiting = [], []
  for name, entry in targets["workloads"].items():
    timed = "timing_runs" in entry or not targets.get("timing_runs")
    (ready if timed else waiting).append(name)
  return ready, waiting


def install(targets: Mapping[str, Any], path: Path | None = None) -> tuple[Path, list[str]]:
  """Merges the workloads of targets.json whose budgets are final into `path` (default
  configs/tiny_targets.json, which the tiny configs read); other workloads are kept as they
  were. Returns the path and the workloads installed."""
  path = tiny_targets.TARGETS_FILE if path is None else path
  ready, _ = ready_to_install(targets)
  if not ready:
    return path, []
  current = json.loads(path.read_text()) if path.is_file() else {}
  current.update({name: config_values(targets, name) for name in ready})
  write_text_atomically(path, json.dumps(dict(sorted(current.items())), indent=1) + "\n")
  return path, ready
