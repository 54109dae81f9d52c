"""Measures tiny-workload budgets in process CPU seconds, for the `process_cpu` clock.

For each workload: the NadamW baseline runs with `--clock=process_cpu` until it reaches the
workload's existing validation target (the target values are not changed), with several
seeds; the CPU-time budget is 4/3 of the median CPU time to reach it, as AlgoPerf sets budgets.
Budgets are measured for this clock, never rescaled from wall time. Prints a Markdown table
(with each run's wall time beside its CPU time) and writes `OUT/cpu_budgets.json`.

    python scripts/measure_cpu_budgets.py --workloads=lm,vit,gnn --seeds=0,1 --out=runs/cpu_budgets
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from algoperf_lab import registry, runner, runtime
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.records import write_json_atomically

NADAMW = str(Path(__file__).resolve().parent.parent / "submissions" / "baselines" / "nadamw.py")
BUDGET_OVER_TIME_TO_TARGET = 4.0 / 3.0
# Room for the measuring runs: CPU seconds can exceed wall seconds by the number of cores.
MEASURING_BUDGET_OVER_WALL_BUDGET = 10.0


def measure(workload_name: str, size: str, seeds: list[int], out: Path,
            overrides: tuple[str, ...]) -> dict[str, Any]:
  workload = registry.make_workload(workload_name, size, overrides)
  cpu_times, wall_times = [], []
  for seed in seeds:
    result = runner.run(runner.RunRequest(
        workload=workload_name, size=size, submission=NADAMW, overwrite=True,
        workdir=out / workload_name / f"seed_{seed}", config_overrides=overrides,
        settings=RunSettings(seed=seed, clock="process_cpu", progress=False,
                             max_runtime_sec=MEASURING_BUDGET_OVER_WALL_BUDGET
                             * workload.max_allowed_runtime_sec)))
    reached = result.time_to_target_sec is not None
    cpu_times.append(result.time_to_target_sec if reached else float("inf"))
    wall = next((line["wall_time_sec"] for line in result.eval_history
                 if line["submission_time_sec"] == result.time_to_target_sec), None)
    wall_times.append(wall)
  return {"workload": workload_name, "size": size, "seeds": seeds,
          "validation_target": workload.validation_target_value,
          "cpu_time_to_target_sec": cpu_times, "wall_time_at_target_sec": wall_times,
          "wall_budget_sec": workload.max_allowed_runtime_sec,
          # No budget from a seed that missed: the target itself would need measuring again.
          "cpu_budget_sec": (round(BUDGET_OVER_TIME_TO_TARGET * statistics.median(cpu_times))
                             if all(t != float("inf") for t in cpu_times) else None)}


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", required=True, help="comma-separated workload names")
  parser.add_argument("--size", default="tiny")
  parser.add_argument("--seeds", default="0,1")
  parser.add_argument("--out", type=Path, default=Path("runs/cpu_budgets"))
  args, overrides = parser.parse_known_args(argv)
  runtime.enable_compilation_cache()
  seeds = [int(s) for s in args.seeds.split(",")]
  rows = [measure(name, args.size, seeds, args.out, tuple(overrides))
          for name in args.workloads.split(",")]
  write_json_atomically(args.out / "cpu_budgets.json", {"rows": rows})
  print("| workload | size | validation target | CPU s to target (per seed) | wall s at target "
        "| CPU budget (s) | wall budget (s) |")
  print("|---|---|---|---|---|---|---|")
  for row in rows:
    cpu = " / ".join(f"{t:.0f}" for t in row["cpu_time_to_target_sec"])
    wall = " / ".join("-" if t is None else f"{t:.0f}" for t in row["wall_time_at_target_sec"])
    print(f"| {row['workload']} | {row['size']} | {row['validation_target']} | {cpu} | {wall} | "
          f"{row['cpu_budget_sec']} | {row['wall_budget_sec']:g} |")
  print(json.dumps({"written": str(args.out / "cpu_budgets.json")}), file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main())
