"""Sets workload targets from NadamW baseline runs, as AlgoPerf sets its targets.

For each workload: run the NadamW baseline for `step_hint` steps with several seeds (evals on
the workload's usual submission-time cadence, not stopping at the target). The target is the
worst, over seeds, of the best validation value each seed reached within the first
`--fraction` (0.7) of `step_hint` steps, so every seed reaches it with room to spare; the test
target likewise; the budget is 4/3 of the median submission time to reach the target. Prints a
Markdown table and writes `OUT/targets.json`.

    python scripts/measure_targets.py --workloads=lm --seeds=0,1 --out=runs/targets
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


def _best_within(history: list[dict[str, Any]], key: str, max_step: int, lower: bool) -> float:
  """The best value among evals up to max_step (the first eval if none came that early)."""
  within = [line for line in history if line["step"] <= max_step] or history[:1]
  values = [line[key] for line in within if line[key] is not None]
  if not values:
    raise ValueError(f"no finite {key} in the evals up to step {max_step}: the run diverged.")
  return min(values) if lower else max(values)


def _first_time(history: list[dict[str, Any]], key: str, target: float, lower: bool) -> float:
  for line in history:
    value = line[key]
    if value is not None and (value <= target if lower else value >= target):
      return float(line["submission_time_sec"])
  return float("inf")


def measure(workload_name: str, size: str, seeds: list[int], fraction: float, out: Path,
            overrides: tuple[str, ...], run_fraction: float = 1.0) -> dict[str, Any]:
  workload = registry.make_workload(workload_name, size, overrides)
  lower = workload.target_direction.value == "lower"
  metric = workload.target_metric_name
  histories = []
  for seed in seeds:
    result = runner.run(runner.RunRequest(
        workload=workload_name, size=size, submission=NADAMW, overwrite=True,
        workdir=out / workload_name / f"seed_{seed}", config_overrides=overrides,
        settings=RunSettings(seed=seed, max_steps=max(1, round(run_fraction * workload.step_hint)),
                             stop_at_target=False,
                             max_runtime_sec=10 * workload.max_allowed_runtime_sec,
                             progress=False)))
    histories.append(result.eval_history)
  horizon = int(fraction * workload.step_hint)
  pick = max if lower else min  # the worst of the seeds' bests
  validation = pick(_best_within(h, f"validation/{metric}", horizon, lower) for h in histories)
  test = pick(_best_within(h, f"test/{metric}", horizon, lower) for h in histories)
  times = [_first_time(h, f"validation/{metric}", validation, lower) for h in histories]
  return {"workload": workload_name, "size": size, "metric": metric,
          "direction": workload.target_direction.value, "seeds": seeds,
          "validation_target": round(validation, 4), "test_target": round(test, 4),
          "time_to_target_sec": times,
          "budget_sec": round(BUDGET_OVER_TIME_TO_TARGET * statistics.median(times)),
          "last_validation": [h[-1][f"validation/{metric}"] for h in histories],
          "last_step": [h[-1]["step"] for h in histories],
          "step_hint": workload.step_hint, "horizon_steps": horizon}


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", required=True, help="comma-separated workload names")
  parser.add_argument("--size", default="tiny")
  parser.add_argument("--seeds", default="0,1")
  parser.add_argument("--fraction", type=float, default=0.7)
  parser.add_argument("--run_fraction", type=float, default=1.0,
                      help="stop each run after this fraction of step_hint (>= --fraction)")
  parser.add_argument("--out", type=Path, default=Path("runs/targets"))
  args, overrides = parser.parse_known_args(argv)
  runtime.enable_compilation_cache()
  rows = []
  for name in args.workloads.split(","):
    rows.append(measure(name, args.size, [int(s) for s in args.seeds.split(",")], args.fraction,
                        args.out, tuple(overrides), max(args.run_fraction, args.fraction)))
    write_json_atomically(args.out / "targets.json", {"targets": rows})
  print("| workload | size | metric | validation target | test target | budget (s) | "
        "time to target per seed (s) | last validation per seed (step) |")
  print("|---|---|---|---|---|---|---|---|")
  for row in rows:
    times = ", ".join(f"{t:.0f}" for t in row["time_to_target_sec"])
    finals = ", ".join(f"{v:.4f} ({s})" for v, s in zip(row["last_validation"], row["last_step"]))
    print(f"| {row['workload']} | {row['size']} | {row['metric']} ({row['direction']}) | "
          f"{row['validation_target']} | {row['test_target']} | {row['budget_sec']} | {times} | "
          f"{finals} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
