"""Trials per hour of one sweep on each executor, as ratios against `local`.

The same sweep (AdamW on gnn/tiny, `--trials` external-tuning trials of `--steps` steps each,
evals every `--steps`/2 steps, never stopping at a target) runs once per executor, each into
its own fresh folder, in one invocation: `local` (one trial at a time in this process, XLA's
own threads), `processes` with 2 one-thread workers, and `processes` with 1 two-thread worker
(what a single `algoperf-lab run-trial` costs over an in-process trial), and with `--ray` the
`ray` executor on a local cluster of one and of two one-CPU nodes, each node kept to its own
core and one thread like a separate machine (sweeps/local_ray_cluster.py, `pin_nodes`):
its scaling efficiency (trials per hour on two nodes over twice those on one; the aim is
>= 0.95) and its per-trial overhead against `processes` with one one-thread worker (the same
work per trial). Prints wall seconds, trials per hour and the ratio to `local`. Run it on an
otherwise idle machine.

    python benchmarks/sweep_throughput.py                      # 8 trials of 300 steps
    python benchmarks/sweep_throughput.py --trials=2 --steps=4 # a check
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from algoperf_lab import runtime
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.executors import LocalExecutor, ProcessesExecutor
from algoperf_lab.tuning import study
from algoperf_lab.tuning.study import Ruleset, TuneRequest

ROOT = Path(__file__).resolve().parent.parent
EXECUTORS: dict[str, Callable[[], object]] = {
    "local": lambda: LocalExecutor(report=lambda line: None),
    "processes (2 workers x 1 thread)": lambda: ProcessesExecutor(workers=2, threads=1),
    "processes (1 worker x 2 threads)": lambda: ProcessesExecutor(workers=1, threads=2),
    "processes (1 worker x 1 thread)": lambda: ProcessesExecutor(workers=1, threads=1),
}


def sweep_seconds(make_executor: Callable[[], object], trials: int, steps: int,
                  overrides: tuple[str, ...]) -> float:
  with tempfile.TemporaryDirectory() as workdir:
    request = TuneRequest(
        workload="gnn", size="tiny", submission=str(ROOT / "submissions/baselines/adamw.py"),
        workdir=Path(workdir), ruleset=Ruleset.EXTERNAL, num_trials=trials,
        search_space=str(ROOT / "configs/search_spaces/adamw.json"), config_overrides=overrides,
        settings=RunSettings(max_steps=steps, eval_every_steps=max(1, steps // 2),
                             stop_at_target=False, progress=False, checkpoint_every_sec=None))
    start = time.perf_counter()
    outcomes = study.run_tuning(request, report=lambda line: None, executor=make_executor())  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
  unfinished = [o.status for o in outcomes if o.status not in ("reached", "missed", "capped")]
  if len(outcomes) != trials or unfinished:
    raise RuntimeError(f"the sweep did not finish every trial: {[o.status for o in outcomes]}")
  return seconds


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--trials", type=int, default=8)
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--override", action="append", default=[])
  parser.add_argument("--ray", action="store_true",
                      help="also the ray executor on local clusters of 1 and 2 one-CPU nodes")
  parser.add_argument("--no_processes", action="store_true",
                      help="skip the processes rows (local stays: it is the reference)")
  args = parser.parse_args(argv)
  runtime.enable_compilation_cache()
  print(f"| executor | wall (s) for {args.trials} trials | trials per hour | ratio to local |")
  print("|---|---|---|---|")
  measured: dict[str, float] = {}

  def show(name: str, seconds: float) -> None:
    measured[name] = seconds
    local = measured["local"]
    print(f"| {name} | {seconds:.1f} | {3600 * args.trials / seconds:.0f} | "
          f"{local / seconds:.2f} |", flush=True)

  for name, make in EXECUTORS.items():
    if args.no_processes and name != "local":
      continue
    show(name, sweep_seconds(make, args.trials, args.steps, tuple(args.override)))
  if args.ray:
    from algoperf_lab.sweeps.local_ray_cluster import local_ray_cluster
    from algoperf_lab.sweeps.ray_executor import RayExecutor

    for nodes in (1, 2):
      with local_ray_cluster(num_nodes=nodes, pin_nodes=True) as cluster:
        show(f"ray ({nodes} node(s) x 1 CPU)", sweep_seconds(
            lambda: RayExecutor(address=cluster.address), args.trials, args.steps,
            tuple(args.override)))
    one, two = measured["ray (1 node(s) x 1 CPU)"], measured["ray (2 node(s) x 1 CPU)"]
    print(f"\nray scaling efficiency (2 nodes vs 1): {one / (2 * two):.3f}")
    if "processes (1 worker x 1 thread)" in measured:
      reference = measured["processes (1 worker x 1 thread)"]
      print(f"ray per-trial overhead against processes (1 x 1 thread): "
            f"{(one - reference) / args.trials:+.1f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
