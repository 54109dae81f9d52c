"""MoE step cost: lm_moe's train step against a dense LM with the same active parameters per
token, and dropless against capacity dispatch, in one process.

The dense LM is `lm` with lm_moe's model and `mlp_dim = (top_k + num_shared_experts) ·
expert_mlp_dim`, so a token passes through the same MLP width (the MoE adds only its router).
All variants are the lab's own jitted train step (algoperf_lab/harness/optax_form.py) with
AdamW: submissions/moe/adamw_global_lbl.py on lm_moe (its balancing loss is part of the MoE
step), submissions/baselines/adamw.py on the dense LM. Each is fed its own pre-fetched batches,
in alternating rounds so that machine load affects all alike; each round's first (compiling)
block is dropped and steps are timed over blocks after `block_until_ready`. Prints the ratios of
the medians and of the fastest blocks (the least disturbed on a shared machine).

    python benchmarks/moe_step.py                      # lm_moe tiny (aim: MoE / dense <= 1.3)

Measured 2026-12-01 (2-core CPU, load average ~5.6 from other jobs; --ragged_dot, 3 rounds of
4 blocks of 10 steps): dense 539 ms/step, MoE dropless (blocked grouped matmul) 621, capacity
577, dropless through ragged_dot 1527 (medians); MoE / dense 1.15 (medians), 1.17 (fastest
blocks); capacity / dropless 0.93 / 0.95; ragged_dot / blocked 2.46 / 1.94. Active parameters
per token: dense 812,160, MoE 816,256 (the router's 8 × 128 per layer).
    python benchmarks/moe_step.py --ragged_dot          # also dropless through jax.lax.ragged_dot
    python benchmarks/moe_step.py --rounds=1 --blocks=1 --steps_per_block=2 --small   # a check
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import hyperparameters, loader, registry, spec
from algoperf_lab.harness import optax_form
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh

ROOT = Path(__file__).resolve().parent.parent
MOE_SUBMISSION = ROOT / "submissions/moe/adamw_global_lbl.py"
DENSE_SUBMISSION = ROOT / "submissions/baselines/adamw.py"
SMALL = ("--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
         "--config.model.max_seq_len=32", "--config.data.seq_len=32", "--config.batch_size=8",
         "--config.moe.expert_mlp_dim=16")
MODEL_KEYS = ("vocab_size", "num_layers", "d_model", "num_heads", "max_seq_len", "activation",
              "norm_position", "tie_embeddings", "init_scale", "rope_base")


class StepTimer:
  """One submission's lab train step on one workload, ready to time over blocks of steps."""

  def __init__(self, workload: spec.Workload, submission_path: Path, seed: int):
    submission = loader.load_submission(str(submission_path))
    hparams = hyperparameters.make_hyperparameters(submission.default_hparams,
                                                   {"dropout_rate": 0.0}, str(submission_path))
    options = submission.resolve_workload_options(hparams)
    if options:
      workload.configure_options(options)
    module = submission.module
    self.adapter = optax_form.OptaxFormAdapter(module.make_optimizer,
                                               getattr(module, "train_metrics", None))
    # As the harness does: state initialised into its place on the mesh (all local devices,
    # data parallel), so the first step's inputs are placed as every later step's are.
    self.adapter.use_mesh(make_mesh(MeshConfig()), "replicated")
    params, model_state = self.adapter.init_model(workload, jax.random.PRNGKey(seed))
    opt_state = self.adapter.init_optimizer_state(workload, params, model_state, hparams,
                                                  jax.random.PRNGKey(seed + 1))
    self.state = optax_form.TrainState(params, model_state, opt_state)
    queue = workload.build_input_queue(jax.random.PRNGKey(seed + 2), "train", None,
                                       workload.default_batch_size)
    self.batches = [next(queue) for _ in range(4)]
    self.rng = jax.random.PRNGKey(seed + 3)
    self.active_params = active_parameters(params, workload)

  def block(self, steps: int) -> float:
    """Seconds per step over `steps` steps."""
    assert self.adapter.train_step is not None
    start = time.perf_counter()
    for i in range(steps):
      self.state, metrics = self.adapter.train_step(self.state, self.batches[i % 4], self.rng)
    jax.block_until_ready((self.state.params, metrics))
    return (time.perf_counter() - start) / steps


def active_parameters(params: Any, workload: spec.Workload) -> int:
  """Parameters a token passes through: all, with routed experts' kernels ([E, ...] under an
  MoE MLP) counted at top_k / E."""
  moe = getattr(workload, "moe_config", None)
  total = 0.0
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    names = [str(getattr(key, "key", key)) for key in path]
    routed = moe is not None and names[-1] in ("wi", "wo") and "mlp" in names
    total += math.prod(leaf.shape) * (moe.top_k / moe.num_experts if routed else 1.0)
  return round(total)


def dense_overrides(moe_workload: Any, overrides: tuple[str, ...]) -> tuple[str, ...]:
  """`lm` overrides giving lm_moe's model with the MLP width a token passes through there."""
  model, moe = moe_workload.model_config, moe_workload.moe_config
  data, batch_size = moe_workload.config.data, moe_workload.config.batch_size
  width = (moe.top_k + moe.num_shared_experts) * moe.expert_mlp_dim
  return (*(f"--config.model.{key}={getattr(model, key)}" for key in MODEL_KEYS),
          f"--config.model.mlp_dim={width}", f"--config.data.seq_len={data.seq_len}",
          f"--config.batch_size={batch_size}",
          *(o for o in overrides if o.startswith("--config.targets.")))


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--blocks", type=int, default=4)
  parser.add_argument("--steps_per_block", type=int, default=10)
  parser.add_argument("--small", action="store_true", help="a one-layer width-32 model (checks)")
  parser.add_argument("--ragged_dot", action="store_true",
                      help="also time dropless through jax.lax.ragged_dot (slow on CPU)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  base = SMALL if args.small else ()
  variants = {"moe dropless": (*base, "--config.moe.dispatch=dropless"),  # config's matmul
              "moe capacity": (*base, "--config.moe.dispatch=capacity")}
  if args.ragged_dot:
    variants["moe dropless ragged_dot"] = (*base, "--config.moe.dispatch=dropless",
                                           "--config.moe.grouped_matmul=ragged_dot")
  workloads = {name: registry.make_workload("lm_moe", "tiny", overrides)
               for name, overrides in variants.items()}
  first = workloads["moe dropless"]
  timers = {"dense": StepTimer(registry.make_workload("lm", "tiny", dense_overrides(first, base)),
                               DENSE_SUBMISSION, args.seed)}
  timers.update({name: StepTimer(w, MOE_SUBMISSION, args.seed) for name, w in workloads.items()})
  times: dict[str, list[float]] = {name: [] for name in timers}
  for _ in range(args.rounds):
    for name, timer in timers.items():
      timer.block(1)  # the first call compiles; later rounds reuse the executable
      times[name] += [timer.block(args.steps_per_block) for _ in range(args.blocks)]
  moe = first.moe_config
  print(f"lm_moe tiny{' (--small)' if args.small else ''}: {moe.num_experts} experts, top-"
        f"{moe.top_k}, {moe.num_shared_experts} shared, expert width {moe.expert_mlp_dim}; "
        f"{jax.devices()[0].device_kind} x{jax.device_count()}")
  for name, values in times.items():
    print(f"  {name:24s} median {1e3 * statistics.median(values):7.1f} ms/step, fastest "
          f"{1e3 * min(values):7.1f} ms/step ({len(values)} blocks of {args.steps_per_block}); "
          f"active params/token {timers[name].active_params:,}")

  def ratio(a: str, b: str) -> str:
    return (f"{statistics.median(times[a]) / statistics.median(times[b]):.2f} (medians), "
            f"{min(times[a]) / min(times[b]):.2f} (fastest blocks)")

  print(f"step-time ratio MoE (dropless) / dense: {ratio('moe dropless', 'dense')}  "
        "(aim <= 1.3)")
  print(f"step-time ratio capacity / dropless: {ratio('moe capacity', 'moe dropless')}")
  if args.ragged_dot:
    print("step-time ratio dropless ragged_dot / blocked: "
          f"{ratio('moe dropless ragged_dot', 'moe dropless')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
