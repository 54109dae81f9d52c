"""Runs bundled submissions on tiny workloads with their default HPARAMS and prints the table.

Each (submission, workload, seed) is an ordinary run record under OUT/<submission>/<workload>/
seed_<s> (a finished one is reused), with the workload's standard budget and clock. A cell is
the median time to target over seeds, with how many seeds reached it, or "misses".

    python scripts/submissions_table.py --workloads=lm,gnn --seeds=0 --out=runs/submissions_table
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from algoperf_lab import listing, runner, runtime
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.records import RESULT_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_one(submission: Path, workload: str, seed: int, out: Path,
            overrides: tuple[str, ...]) -> dict:
  workdir = out / submission.stem / workload / f"seed_{seed}"
  result_path = workdir / RESULT_FILE
  if result_path.is_file():
    record = json.loads(result_path.read_text())
    if record.get("status") in runner.FINISHED_STATUSES:
      return record
  runner.run(runner.RunRequest(workload=workload, size="tiny", submission=str(submission),
                               workdir=workdir, config_overrides=overrides, overwrite=True,
                               settings=RunSettings(seed=seed, progress=False)))
  return json.loads(result_path.read_text())


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
  args, overrides = parser.parse_known_args(argv)
  runtime.enable_compilation_cache()
  submissions = ([Path(p) for p in args.submissions.split(",")] if args.submissions
                 else listing.bundled_submissions())
  workloads = args.workloads.split(",")
  seeds = [int(s) for s in args.seeds.split(",")]
  rows = []
  for submission in submissions:
    cells = []
    for workload in workloads:
      records = [run_one(submission, workload, seed, args.out, tuple(overrides)) for seed in seeds]
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
