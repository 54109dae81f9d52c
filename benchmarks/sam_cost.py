"""Step cost of SAM and the multi-task methods: each one's lab train step time over a reference's.

All are the lab's own jitted train step (algoperf_lab/harness/optax_form.py) around bundled
submissions, fed the same pre-fetched batches, in alternating rounds so that machine load
affects all alike; each round's first (compiling) block is dropped and steps are timed over
blocks after `block_until_ready`. Prints, per submission, the ratio of its median (and fastest)
block to the reference's. By default: SAM over AdamW on the tiny LM (SAM takes two gradients
per step, so about 2); `--workload=gnn` times linear scalarisation, PCGrad, CAGrad, SAM and
SAM-MTL (PCGrad, CAGrad) against the plain AdamW step (the reference) on the multi-task graph
network, whose per-task gradients come from one vmap over QM9's 12 tasks.

    python benchmarks/sam_cost.py
    python benchmarks/sam_cost.py --workload=gnn
    python benchmarks/sam_cost.py --rounds=1 --blocks=2 --steps_per_block=3 --small   # a check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.harness import optax_form

ROOT = Path(__file__).resolve().parent.parent
# Per workload: the reference first, then the submissions timed against it.
SUBMISSIONS = {
    "lm": {"adamw": ROOT / "submissions/baselines/adamw.py",
           "sam": ROOT / "submissions/sam/sam.py"},
    "gnn": {"adamw": ROOT / "submissions/baselines/adamw.py",
            "linear_scalarisation": ROOT / "submissions/mtl/linear_scalarisation.py",
            "pcgrad": ROOT / "submissions/mtl/pcgrad.py",
            "cagrad": ROOT / "submissions/mtl/cagrad.py",
            "sam": ROOT / "submissions/sam/sam.py",
            "sam_mtl": ROOT / "submissions/mtl/sam_mtl.py",
            "sam_mtl_cagrad": ROOT / "submissions/mtl/sam_mtl_cagrad.py"},
}
SMALL_GNN = ("--config.data.max_molecules=1000",)
SMALL = ("--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
         "--config.model.mlp_dim=64", "--config.model.max_seq_len=32", "--config.data.seq_len=32",
         "--config.batch_size=8")


class StepTimer:
  """One submission's lab train step on the workload, ready to time over blocks of steps."""

  def __init__(self, path: Path, workload, batches: list, seed: int):
    submission = loader.load_submission(str(path))
    module = submission.module
    self.adapter = optax_form.OptaxFormAdapter(module.make_optimizer,
                                               getattr(module, "train_metrics", None))
    hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {}, str(path))
    params, model_state = workload.init_model_fn(jax.random.PRNGKey(seed))
    opt_state = self.adapter.init_optimizer_state(workload, params, model_state, hparams,
                                                  jax.random.PRNGKey(seed + 1))
    self.state = optax_form.TrainState(params, model_state, opt_state)
    self.batches = batches
    self.rng = jax.random.PRNGKey(seed + 2)

  def block(self, steps: int) -> float:
    """Seconds per step over `steps` steps."""
    start = time.perf_counter()
    for i in range(steps):
      batch = self.batches[i % len(self.batches)]
      self.state, metrics = self.adapter.train_step(self.state, batch, self.rng)
    jax.block_until_ready((self.state.params, metrics))
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--blocks", type=int, default=5)
  parser.add_argument("--steps_per_block", type=int, default=10)
  parser.add_argument("--workload", choices=sorted(SUBMISSIONS), default="lm")
  parser.add_argument("--small", action="store_true",
                      help="a one-layer width-32 LM, or 1,000 molecules for gnn (checks)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--submissions", default=None,
                      help="comma-separated subset of the workload's submissions to time "
                           "(the reference is always timed)")
  args = parser.parse_args(argv)
  chosen = dict(SUBMISSIONS[args.workload])
  if args.submissions:
    names = args.submissions.split(",")
    unknown = sorted(set(names) - set(chosen))
    if unknown:
      parser.error(f"unknown submissions {unknown} for {args.workload}; choose from {sorted(chosen)}.")
    reference = next(iter(chosen))
    chosen = {name: path for name, path in chosen.items() if name == reference or name in names}
  small = SMALL if args.workload == "lm" else SMALL_GNN
  workload = registry.make_workload(args.workload, "tiny", small if args.small else ())
  queue = workload.build_input_queue(jax.random.PRNGKey(args.seed), "train", None,
                                     workload.default_batch_size)
  batches = [next(queue) for _ in range(4)]
  timers = {name: StepTimer(path, workload, batches, args.seed)
            for name, path in chosen.items()}
  times: dict[str, list[float]] = {name: [] for name in timers}
  for _ in range(args.rounds):
    for name, timer in timers.items():
      timer.block(1)  # the first call compiles; later rounds reuse the executable
      times[name] += [timer.block(args.steps_per_block) for _ in range(args.blocks)]
  for name, values in times.items():
    print(f"{name}: median {1e3 * statistics.median(values):.1f} ms/step, "
          f"fastest {1e3 * min(values):.1f} ms/step over {len(values)} blocks")
  reference = next(iter(timers))
  for name in list(timers)[1:]:
    median_ratio = statistics.median(times[name]) / statistics.median(times[reference])
    fastest_ratio = min(times[name]) / min(times[reference])
    print(f"{name} / {reference} step time: {median_ratio:.2f} (medians), {fastest_ratio:.2f} "
          "(fastest blocks)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
