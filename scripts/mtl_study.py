"""The multi-task study: aggregators, SAM and SAM-MTL on gnn and its two held-out variants.

Runs every (workload, submission, seed) with `algoperf-lab run` (one process each, skipping
runs whose result.json exists), scores them all with `algoperf-lab score
--mtl_reference=linear_scalarisation`, and prints one table: time to target (median over
seeds; "miss" if not reached), the mean per-task validation MAE and Δm% against linear
scalarisation.

    python scripts/mtl_study.py --workdir=runs/mtl_study --seeds=0,1,2
    python scripts/mtl_study.py --workdir=/tmp/mtl_smoke --seeds=0 --max_steps=4 \
        --eval_every_steps=2 --override=--config.data.max_molecules=1000   # a smoke check
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

from algoperf_lab.scoring.mtl import mtl_scores
from algoperf_lab.scoring.records import load_records

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("gnn", "gnn_noisy_task", "gnn_low_resource_task")
SUBMISSIONS = {  # the name scoring uses (the file's stem) -> the file
    "linear_scalarisation": "submissions/mtl/linear_scalarisation.py",
    "pcgrad": "submissions/mtl/pcgrad.py",
    "cagrad": "submissions/mtl/cagrad.py",
    "sam": "submissions/sam/sam.py",  # SAM on the workload's loss: linear scalarisation
    "sam_mtl": "submissions/mtl/sam_mtl.py",  # with PCGrad
    "sam_mtl_cagrad": "submissions/mtl/sam_mtl_cagrad.py",
}
REFERENCE = "linear_scalarisation"


def run_all(workdir: Path, size: str, seeds: list[int], settings: "RunSettings",
            overrides: tuple[str, ...], workloads: tuple[str, ...] = WORKLOADS,
            submissions: tuple[str, ...] = tuple(SUBMISSIONS), executor: object = None) -> None:
  """Every run of the study as one sweep; finished runs are reused, unfinished ones resume."""
  from algoperf_lab.sweeps.engine import run_sweep  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.executors import LocalExecutor  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.fixed_runs import fixed_run_spec  # pylint: disable=import-outside-toplevel

  specs = [fixed_run_spec(workload=workload, size=size, submission=str(ROOT / SUBMISSIONS[name]),
                          seed=seed, workdir=workdir / "runs" / workload / name / f"seed_{seed}",
                          config_overrides=overrides, settings=settings)
           for workload in workloads for name in submissions for seed in seeds]
  run_sweep(specs, executor or LocalExecutor(), report=print)


def score(workdir: Path) -> dict:
  """`algoperf-lab score --mtl_reference`; returns scores.json."""
  out = workdir / "report"
  subprocess.run([sys.executable, "-m", "algoperf_lab.cli", "score", str(workdir / "runs"),
                  f"--out={out}", f"--mtl_reference={REFERENCE}", "--no_progress"],
                 check=True, cwd=ROOT)
  return json.loads((out / "scores.json").read_text())


def table(workdir: Path, scores: dict) -> str:
  """Rows of submission × workload: time to target, mean per-task MAE, Δm%."""
  records, _ = load_records([workdir / "runs"])
  mtl = {(s.submission, s.workload): s for s in mtl_scores(records, REFERENCE)}
  header = ["workload", "submission", "time to target (s)", "mean task MAE", "Δm% vs LS",
            "per-task validation MAE"]
  rows = []
  for (submission, workload), entry in sorted(mtl.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    time_sec = scores["submissions"].get(submission, {}).get("per_workload", {}).get(
        workload, {}).get("time_to_target_sec")
    per_task = list(entry.per_task.values())
    rows.append([workload, submission, "miss" if time_sec is None else f"{time_sec:.1f}",
                 f"{statistics.fmean(per_task):.4f}" if per_task else "n/a",
                 f"{entry.delta_m_percent:+.2f}" if math.isfinite(entry.delta_m_percent)
                 else "n/a", " ".join(f"{v:.3f}" for v in per_task)])
  widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
  return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                   for row in [header, ["-" * w for w in widths], *rows])


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, type=Path)
  parser.add_argument("--size", default="tiny")
  parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
  parser.add_argument("--max_steps", type=int, default=None, help="smoke checks only")
  parser.add_argument("--eval_every_steps", type=int, default=None)
  parser.add_argument("--no_progress", action="store_true")
  from algoperf_lab.cli import add_executor_flags  # pylint: disable=import-outside-toplevel

  add_executor_flags(parser)
  parser.add_argument("--override", action="append", default=[],
                      help="passed to every run, e.g. --override=--config.data.max_molecules=1000")
  parser.add_argument("--workloads", default=",".join(WORKLOADS),
                      help=f"comma-separated subset of {','.join(WORKLOADS)}")
  parser.add_argument("--submissions", default=",".join(SUBMISSIONS),
                      help=f"comma-separated subset of {','.join(SUBMISSIONS)} "
                           f"({REFERENCE} is always run: Δm%% is against it)")
  args = parser.parse_args(argv)
  workloads = tuple(args.workloads.split(","))
  submissions = tuple(dict.fromkeys([REFERENCE, *args.submissions.split(",")]))
  unknown = sorted(set(workloads) - set(WORKLOADS)) + sorted(set(submissions) - set(SUBMISSIONS))
  if unknown:
    parser.error(f"unknown workload or submission {unknown}; choose from {WORKLOADS} and "
                 f"{tuple(SUBMISSIONS)}.")
  from algoperf_lab import runtime  # pylint: disable=import-outside-toplevel
  from algoperf_lab.cli import executor_from_args  # pylint: disable=import-outside-toplevel
  from algoperf_lab.harness.loop import RunSettings  # pylint: disable=import-outside-toplevel

  runtime.enable_compilation_cache()
  settings = RunSettings(max_steps=args.max_steps, eval_every_steps=args.eval_every_steps,
                         progress=not args.no_progress)
  run_all(args.workdir, args.size, [int(s) for s in args.seeds.split(",")], settings,
          tuple(args.override), workloads, submissions, executor_from_args(args))
  print(table(args.workdir, score(args.workdir)))
  return 0


if __name__ == "__main__":
  sys.exit(main())
