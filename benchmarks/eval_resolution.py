"""What reading time to target to 2% of the budget costs in wall time.

Runs AdamW on each workload twice over the same budget (a fraction of the workload's, on its
default clock), once with evals every 10% of the budget (the reference: the tiny workloads'
old cadence was 7-12% of their budgets) and once every 2% (the cadence `set-targets` writes),
without stopping at the target, and prints each run's wall time, its evals' share of it, and
the wall-time ratio 2% / 10%. Evals are untimed, so this is what the finer reading costs a
user waiting for the run, not a change in any score.

    python benchmarks/eval_resolution.py                        # gnn, vit, lm; a quarter budget
    python benchmarks/eval_resolution.py --workloads=gnn --budget_fraction=0.1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import jax

from algoperf_lab import registry, runner, runtime
from algoperf_lab.harness.clock import resolve_clock
from algoperf_lab.harness.loop import RunSettings

ROOT = Path(__file__).resolve().parent.parent
ADAMW = str(ROOT / "submissions" / "baselines" / "adamw.py")
CADENCES = {"10%": 0.10, "2%": 0.02}


def _budget(workload_name: str, size: str, overrides: tuple[str, ...]) -> tuple[float, str]:
  workload = registry.make_workload(workload_name, size, overrides)
  clock = resolve_clock("auto", jax.devices()[0].platform, workload.max_allowed_cpu_sec is not None)
  return (float(workload.max_allowed_cpu_sec) if clock == "process_cpu"
          else float(workload.max_allowed_runtime_sec)), clock


def measure(workload_name: str, size: str, fraction: float,
            overrides: tuple[str, ...]) -> dict[str, tuple[float, float, int]]:
  """cadence -> (wall seconds of the run, seconds of it in evals, number of evals)."""
  full_budget, clock = _budget(workload_name, size, overrides)
  budget = fraction * full_budget
  found = {}
  for name, share in CADENCES.items():
    with tempfile.TemporaryDirectory() as workdir:
      result = runner.run(runner.RunRequest(
          workload=workload_name, size=size, submission=ADAMW, workdir=Path(workdir),
          config_overrides=(*overrides,
                            f"--config.targets.eval_period_time_sec={share * full_budget}"),
          settings=RunSettings(max_runtime_sec=budget, stop_at_target=False, progress=False,
                               checkpoint_every_sec=None, clock=clock)))
      evals = sum(float(line.get("eval_time_sec") or 0.0) for line in result.eval_history)
      wall = float(result.eval_history[-1]["wall_time_sec"]) if result.eval_history else 0.0
      found[name] = (wall, evals, len(result.eval_history))
  return found


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workloads", default="gnn,vit,lm")
  parser.add_argument("--size", default="tiny")
  parser.add_argument("--budget_fraction", type=float, default=0.25,
                      help="share of the workload's budget each run trains for")
  parser.add_argument("--override", action="append", default=[],
                      help="a --config.KEY=VALUE passed to every run")
  args = parser.parse_args(argv)
  if not 0 < args.budget_fraction <= 1:
    parser.error("--budget_fraction must be in (0, 1].")
  runtime.enable_compilation_cache()
  print("| workload | cadence | evals | wall (s) | of it in evals (s) | wall ratio 2% / 10% |")
  print("|---|---|---|---|---|---|")
  for name in args.workloads.split(","):
    found = measure(name, args.size, args.budget_fraction, tuple(args.override))
    ratio = found["2%"][0] / found["10%"][0] if found["10%"][0] else float("nan")
    for cadence, (wall, evals, count) in found.items():
      print(f"| {name} | every {cadence} of the budget | {count} | {wall:.1f} | {evals:.1f} | "
            + (f"{ratio:.2f} |" if cadence == "2%" else "1.00 (reference) |"))
  return 0


if __name__ == "__main__":
  sys.exit(main())
