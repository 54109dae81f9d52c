"""Builders for scoring tests: lab run records and AlgoPerf experiment trees, written to disk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

CPU = {"platform": "cpu", "device_kind": "cpu", "device_count": 1, "process_count": 1,
       "host_cpu_count": 2, "host_machine": "x86_64", "processor": "AMD EPYC"}
WORKLOAD_CONFIG = {"batch_size": 16, "targets": {"validation": 2.0, "step_hint": 400,
                                                 "max_allowed_runtime_sec": 180.0,
                                                 "how_measured": "by hand"}}


def lab_run(root: Path, name: str, *, submission: str, workload: str = "lm",
            times: Sequence[float], losses: Sequence[float | None], target: float = 2.0,
            study: int | None = 0, trial: int | None = 0, seed: int = 0,
            ruleset: str = "external", status: str | None = None,
            hardware: dict | None = None, workload_config: dict | None = None,
            budget: float = 180.0) -> Path:
  """One run record: metrics.jsonl with the given evals, result.json consistent with them."""
  run_dir = root / name
  run_dir.mkdir(parents=True)
  reached_at = next((t for t, v in zip(times, losses) if v is not None and v <= target), None)
  status = status or ("reached" if reached_at is not None else "missed")
  config = json.loads(json.dumps(workload_config or WORKLOAD_CONFIG))
  config["targets"]["validation"] = target
  result = {
      "schema_version": 1, "workload": workload, "size": "tiny", "submission": submission,
      "submission_path": f"submissions/{submission}.py", "submission_form": "optax",
      "ruleset": ruleset, "study": study, "trial": trial, "hparams": {"learning_rate": 1e-3},
      "seed": seed, "hardware": dict(hardware or CPU),
      "versions": {"jax": "0.10.2", "python": "3.11", "algoperf_lab": "0.1.0"},
      "target_metric": "validation/loss", "target_value": target, "target_direction": "lower",
      "max_allowed_runtime_sec": budget, "workload_config": config, "status": status,
      "reached_target": status == "reached",
      "time_to_target_sec": reached_at if status == "reached" else None,
      "steps": 10 * len(times), "submission_time_sec": times[-1] if times else 0.0}
  (run_dir / "result.json").write_text(json.dumps(result))
  lines = [{"step": 10 * (i + 1), "submission_time_sec": t, "validation/loss": v,
            "train/loss": v, "eval_time_sec": 0.5, "wall_time_sec": 2.0 * t}
           for i, (t, v) in enumerate(zip(times, losses))]
  (run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
  return run_dir


def algoperf_trial(root: Path, submission: str, study: int, workload: str, trial: int,
                   times: Sequence[float], values: Sequence[float], *,
                   metric: str = "validation/loss", ruleset: str = "external",
                   framework: str = "jax") -> Path:
  """One trial folder as AlgoPerf's runner writes it (the columns scoring reads, and a few)."""
  path = root / submission / f"study_{study}" / f"{workload}_{framework}" / f"trial_{trial}"
  path.mkdir(parents=True)
  rows = ["accumulated_submission_time,global_step,score," + metric]
  rows += [f"{t},{100 * (i + 1)},{t},{v}" for i, (t, v) in enumerate(zip(times, values))]
  (path / "eval_measurements.csv").write_text("\n".join(rows) + "\n")
  (path / "flags_0.json").write_text(json.dumps({"tuning_ruleset": ruleset}))
  return path


def targets_file(path: Path, base: Sequence[str], held_out: Sequence[str] = (),
                 value: float = 1.0, metric: str = "loss") -> Path:
  """A targets file in AlgoPerf's format: every workload's target is `metric` <= `value`."""
  document = {"benchmark_version": "test", "base_workloads": list(base),
              "held_out_workloads": list(held_out),
              "workloads": {w: {"target_metric_name": metric, "validation_target_value": value,
                                "step_hint": 100} for w in [*base, *held_out]}}
  path.write_text(json.dumps(document))
  return path
