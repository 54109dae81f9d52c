"""The multi-task study: aggregators, SAM and SAM-MTL on gnn and its two held-out variants.

Runs the declarative study `configs/studies/mtl_tiny.py` (a subset, other seeds) as one sweep
(finished runs reused, unfinished ones resumed; `--executor`), scores them all with `algoperf-lab score
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
STUDY = ROOT / "configs" / "studies" / "mtl_tiny.py"
REFERENCE = "linear_scalarisation"


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
  parser.add_argument("--seeds", default="0,1,2,3,4",
                      help="comma-separated seeds (5 by default: what a paired comparison needs)")
  parser.add_argument("--max_steps", type=int, default=None, help="smoke checks only")
  parser.add_argument("--eval_every_steps", type=int, default=None)
  parser.add_argument("--no_progress", action="store_true")
  from algoperf_lab.cli import add_executor_flags  # pylint: disable=import-outside-toplevel

  add_executor_flags(parser)
  parser.add_argument("--override", action="append", default=[],
                      help="passed to every run, e.g. --override=--config.data.max_molecules=1000")
  parser.add_argument("--workloads", default="gnn,gnn_noisy_task,gnn_low_resource_task",
                      help="comma-separated subset of the study's workloads")
  parser.add_argument("--submissions",
                      default="pcgrad,cagrad,sam,sam_mtl,sam_mtl_cagrad",
                      help=f"comma-separated subset of the study's submissions ({REFERENCE} is "
                      "always run: Δm%% is against it)")
  args = parser.parse_args(argv)
  from algoperf_lab import runtime  # pylint: disable=import-outside-toplevel
  from algoperf_lab.cli import executor_from_args  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps import study_config  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.engine import run_sweep  # pylint: disable=import-outside-toplevel

  runtime.enable_compilation_cache()
  config = study_config.load_study_config(STUDY)
  submissions = tuple(dict.fromkeys([REFERENCE, *args.submissions.split(",")]))
  settings = {k: v for k, v in (("max_steps", args.max_steps),
                                ("eval_every_steps", args.eval_every_steps)) if v is not None}
  specs = study_config.study_specs(
      config, args.workdir, seeds=[int(s) for s in args.seeds.split(",")],
      workloads=args.workloads.split(","), submissions=submissions,
      extra_overrides=tuple(args.override), settings={**settings, "progress": not args.no_progress})
  run_sweep(specs, executor_from_args(args), report=print)
  print(table(args.workdir, score(args.workdir)))
  return 0


if __name__ == "__main__":
  sys.exit(main())
