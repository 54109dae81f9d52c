"""How much a competing CPU load moves wall time and process CPU time of a jitted train loop.

Times the same lm/tiny train steps (AdamW, the lab's optax step) with no extra load and with
`--load_processes` busy processes started by this script (scripts/cpu_load.py), alternating
rounds, and prints for each clock the ratio loaded / unloaded of the median per-round time.
A clock whose ratio stays near 1 gives verdicts that survive a busy machine.

    python benchmarks/clock_under_load.py --rounds=3 --steps=20 --load_processes=1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.cpu_load import start_load  # noqa: E402

ADAMW = str(Path(__file__).resolve().parent.parent / "submissions" / "baselines" / "adamw.py")


def main(argv: list[str] | None = None) -> int:
  from algoperf_lab import hyperparameters, loader, registry
  from algoperf_lab.parallel.mesh import MeshConfig, make_mesh

  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--load_processes", type=int, default=1)
  args, overrides = parser.parse_known_args(argv)
  workload = registry.make_workload("lm", "tiny", overrides)
  submission = loader.load_submission(ADAMW)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {}, ADAMW)
  submission.use_mesh(make_mesh(MeshConfig()), "replicated")  # type: ignore[misc]
  params, model_state = submission.init_model(workload, jax.random.PRNGKey(0))  # type: ignore[misc]
  opt_state = submission.init_optimizer_state(workload, params, model_state, hparams,
                                              jax.random.PRNGKey(1))
  batches = workload.build_input_queue(jax.random.PRNGKey(2), "train", None,
                                       workload.default_batch_size)
  step = 0

  def timed_steps() -> tuple[float, float]:
    nonlocal params, model_state, opt_state, step
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
      opt_state, params, model_state = submission.update_params(
          workload, params, None, model_state, hparams, next(batches), None, opt_state, [],
          step, jax.random.PRNGKey(step))
      step += 1
    jax.block_until_ready(params)
    return time.perf_counter() - wall, time.process_time() - cpu

  timed_steps()  # compile
  quiet: list[tuple[float, float]] = []
  loaded: list[tuple[float, float]] = []
  for _ in range(args.rounds):
    quiet.append(timed_steps())
    workers = start_load(args.load_processes, seconds=3600)
    time.sleep(0.5)
    loaded.append(timed_steps())
    for worker in workers:
      worker.terminate()
      worker.join()
  print(f"lm/tiny, {args.steps} steps per round, {args.rounds} rounds, "
        f"{args.load_processes} competing busy process(es):")
  for index, name in enumerate(("wall", "process_cpu")):
    q = statistics.median(t[index] for t in quiet)
    l = statistics.median(t[index] for t in loaded)
    print(f"  {name:12s} unloaded {q:6.2f}s  loaded {l:6.2f}s  ratio loaded/unloaded {l / q:.3f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
