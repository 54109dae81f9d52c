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
      "median runtime (process CPU and wall outside evals), evals every 2% of the CPU budget")
  return values


def install(targets: Mapping[str, Any], path: Path | None = None) -> Path:
  """Merges targets.json's workloads into `path` (default configs/tiny_targets.json, which
  the tiny configs read); other workloads are kept as they were."""
  path = tiny_targets.TARGETS_FILE if path is None else path
  current = json.loads(path.read_text()) if path.is_file() else {}
  current.update({name: config_values(targets, name) for name in targets["workloads"]})
  write_text_atomically(path, json.dumps(dict(sorted(current.items())), indent=1) + "\n")
  return path
