"""NadamW's step against AdamW's at equal dropout, in both submission forms.

Times one training step (data already in memory; `update_params` as the harness calls it) of
AdamW (optax form, the reference), NadamW in the optax form (`baselines/nadamw_optax.py`, the
lab's one step) and NadamW in the AlgoPerf form (`baselines/nadamw.py`, its own jitted step),
each at dropout 0 and 0.1, in alternating rounds so that machine load affects all alike; each
round's first (compiling) block is dropped. Prints ms/step and each NadamW's ratio to AdamW at
the same dropout. The issue that asked for it measured, before the fix, AdamW at 36 ms on gnn
and NadamW 43-45 ms at either dropout (the AlgoPerf form drew dropout masks at rate 0).

    python benchmarks/nadamw_step.py                  # gnn/tiny
    python benchmarks/nadamw_step.py --workload=lm
    python benchmarks/nadamw_step.py --rounds=1 --blocks=1 --steps_per_block=2 --small   # a check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = {"adamw": ROOT / "submissions/baselines/adamw.py",
               "nadamw_optax": ROOT / "submissions/baselines/nadamw_optax.py",
               "nadamw": ROOT / "submissions/baselines/nadamw.py"}
DROPOUT_RATES = (0.0, 0.1)
SMALL = {"gnn": ("--config.data.max_molecules=1000",),
         "lm": ("--config.model.num_layers=1", "--config.model.d_model=32",
                "--config.model.num_heads=2", "--config.model.mlp_dim=64",
                "--config.model.max_seq_len=32", "--config.data.seq_len=32",
                "--config.batch_size=8")}


class SubmissionStep:
  """One submission at one dropout rate, stepped through its `update_params`."""

  def __init__(self, path: Path, dropout_rate: float, workload, batches: list, seed: int):
    self.submission = loader.load_submission(str(path))
    self.hparams = hyperparameters.make_hyperparameters(
        self.submission.default_hparams, {"dropout_rate": dropout_rate}, str(path))
    if self.submission.use_mesh is not None:
      self.submission.use_mesh(make_mesh(MeshConfig()), "replicated")
    key = jax.random.PRNGKey(seed)
    init = self.submission.init_model or (lambda w, k: w.init_model_fn(k))
    self.params, self.model_state = init(workload, key)
    self.opt_state = self.submission.init_optimizer_state(
        workload=workload, model_params=self.params, model_state=self.model_state,
        hyperparameters=self.hparams, rng=key)
    self.workload, self.batches, self.step = workload, batches, 0

  def block(self, steps: int) -> float:
    """Seconds per step over `steps` steps."""
    start = time.perf_counter()
    for _ in range(steps):
      self.opt_state, self.params, self.model_state = self.submission.update_params(
          workload=self.workload, current_param_container=self.params,
          current_params_types=self.workload.model_params_types, model_state=self.model_state,
          hyperparameters=self.hparams, batch=self.batches[self.step % len(self.batches)],
          loss_type=self.workload.loss_type, optimizer_state=self.opt_state, eval_results=[],
          global_step=self.step, rng=jax.random.PRNGKey(self.step))
      self.step += 1
    jax.block_until_ready(self.params)
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workload", choices=sorted(SMALL), default="gnn")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--blocks", type=int, default=5)
  parser.add_argument("--steps_per_block", type=int, default=10)
  parser.add_argument("--small", action="store_true", help="a small model/dataset (checks)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  workload = registry.make_workload(args.workload, "tiny",
                                    SMALL[args.workload] if args.small else ())
  queue = workload.build_input_queue(jax.random.PRNGKey(args.seed), "train", None,
                                     workload.default_batch_size)
  batches = [next(queue) for _ in range(4)]
  steps = {(name, rate): SubmissionStep(path, rate, workload, batches, args.seed)
           for rate in DROPOUT_RATES for name, path in SUBMISSIONS.items()}
  times: dict[tuple[str, float], list[float]] = {key: [] for key in steps}
  for _ in range(args.rounds):
    for key, step in steps.items():
      step.block(1)  # compiles in the first round; later rounds reuse the executable
      times[key] += [step.block(args.steps_per_block) for _ in range(args.blocks)]
  for (name, rate), values in times.items():
    print(f"{name} dropout {rate:g}: median {1e3 * statistics.median(values):.1f} ms/step, "
          f"fastest {1e3 * min(values):.1f} ms/step over {len(values)} blocks")
  for rate in DROPOUT_RATES:
    reference = times[("adamw", rate)]
    for name in ("nadamw_optax", "nadamw"):
      median_ratio = statistics.median(times[(name, rate)]) / statistics.median(reference)
      fastest_ratio = min(times[(name, rate)]) / min(reference)
      print(f"{name} / adamw step time at dropout {rate:g}: {median_ratio:.3f} (medians), "
            f"{fastest_ratio:.3f} (fastest blocks)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
