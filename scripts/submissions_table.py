"""Runs bundled submissions on tiny workloads with their default HPARAMS and prints the table.

Each (submission, workload, seed) is an ordinary run record under OUT/<submission>/<workload>/
seed_<s> (a finished one is reused, an unfinished one resumes), with the workload's standard
budget and clock; the runs are one sweep (`--executor=local|processes|ray|slurm`). A cell is
the median time to target over seeds, with how many seeds reached it, or "misses".

    python scripts/submissions_table.py --workloads=lm,gnn --seeds=0 --out=runs/submissions_table
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from algoperf_lab import listing, runtime
from algoperf_lab.cli import add_executor_flags, executor_from_args
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.sweeps.engine import run_sweep
from algoperf_lab.sweeps.fixed_runs import fixed_run_spec

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_dir(out: Path, submission: Path, workload: str, seed: int) -> Path:
  return out / submission.stem / workload / f"seed_{seed}"


def cell(records: list[dict]) -> str:
  times = [r["time_to_target_sec"] for r in records if r["status"] == "reached"]
  if not times:
    statuses = sorted({r["status"] for r in records})
    return "misses" if statuses == ["missed"] else "/".join(statuses)
  return f"{statistics.median(times):.0f} s ({len(times)}/{len(records)})"


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", default="lm,vit,gnn")
  parser.add_argument("--seeds", default="0")
  parser.add_argument("--submissions", default=None,
                      help="comma-separated paths (default: every bundled submission)")
  parser.add_argument("--out", type=Path, default=Path("runs/submissions_table"))
  parser.add_argument("--no_progress", action="store_true")
  add_executor_flags(parser)
  args, overrides = parser.parse_known_args(argv)
  runtime.enable_compilation_cache()
  submissions = ([Path(p) for p in args.submissions.split(",")] if args.submissions
                 else listing.bundled_submissions())
  workloads = args.workloads.split(",")
  seeds = [int(s) for s in args.seeds.split(",")]
  specs = [fixed_run_spec(workload=w, size="tiny", submission=str(sub), seed=seed,
                          workdir=run_dir(args.out, sub, w, seed),
                          config_overrides=tuple(overrides),
                          settings=RunSettings(progress=not args.no_progress))
           for sub in submissions for w in workloads for seed in seeds]
  run_sweep(specs, executor_from_args(args), report=lambda line: print(line, file=sys.stderr))
  rows = []
  for submission in submissions:
    cells = []
    for workload in workloads:
      records = [json.loads((run_dir(args.out, submission, workload, seed) / RESULT_FILE)
                            .read_text()) for seed in seeds]
      cells.append(cell(records))
      clock = records[0].get("clock", "wall")
      print(f"{submission.stem} on {workload}/tiny: {cells[-1]} ({clock} clock)", file=sys.stderr)
    rows.append((str(submission.resolve().relative_to(REPO_ROOT / "submissions")), cells))
  print("| submission | " + " | ".join(f"{w}/tiny" for w in workloads) + " |")
  print("|---|" + "---|" * len(workloads))
  for name, cells in rows:
    print(f"| `{name}` | " + " | ".join(cells) + " |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
