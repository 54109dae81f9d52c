"""Harness overhead: median step time of `algoperf-lab`'s loop vs a bare jitted loop.

Both train the same model with the same optimizer (the AdamW baseline) on the same input
pipeline, in this process, alternating short rounds so that machine load affects both alike.
Step times are taken over blocks of steps, timed after `block_until_ready` at each block's end;
the first (compiling) block of each round is dropped. The harness's blocks are the spans
between its evals (`--eval_every_steps`), read from its own submission clock. Two ratios are
printed: of the medians, and of the fastest blocks (the least disturbed by other load on a
shared machine); on an idle machine they agree.

    python benchmarks/step_overhead.py                 # the tiny LM (goal: ratio <= 1.03)
    python benchmarks/step_overhead.py --rounds=3 --blocks=6 --steps_per_block=20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import optax

from algoperf_lab import hyperparameters, loader, registry, spec
from algoperf_lab.harness import loop

ADAMW = str(Path(__file__).resolve().parent.parent / "submissions" / "baselines" / "adamw.py")


def bare_step_times(workload: spec.Workload, hparams: Any, blocks: int, steps_per_block: int,
                    seed: int) -> list[float]:
  """Per-step seconds of each block of a hand-written jitted loop (first block dropped)."""
  optimizer = loader.load_submission(ADAMW).module.make_optimizer(hparams, workload)

  def train_step(params: Any, opt_state: Any, batch: spec.Batch,
                 rng: jax.Array) -> tuple[Any, Any, jax.Array]:
    def mean_loss(p: Any) -> jax.Array:
      logits, _ = workload.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, rng, True)
      losses = workload.loss_fn(batch["targets"], logits, batch["weights"])
      return losses["summed"] / losses["n_valid_examples"]

    loss, grads = jax.value_and_grad(mean_loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  step_fn = jax.jit(train_step, donate_argnums=(0, 1))
  data_rng, _, model_rng, train_rng, _ = jax.random.split(jax.random.PRNGKey(seed), 5)
  params, _ = workload.init_model_fn(model_rng)
  opt_state = jax.jit(optimizer.init)(params)
  batches = workload.build_input_queue(data_rng, "train", None, workload.default_batch_size)
  times = []
  step = 0
  for _ in range(blocks + 1):
    start = time.perf_counter()
    for _ in range(steps_per_block):
      params, opt_state, _ = step_fn(params, opt_state, next(batches),
                                     jax.random.fold_in(train_rng, step))
      step += 1
    jax.block_until_ready(params)
    times.append((time.perf_counter() - start) / steps_per_block)
  return times[1:]


def harness_step_times(workload: spec.Workload, hparams: Any, blocks: int, steps_per_block: int,
                       seed: int) -> list[float]:
  """Per-step submission seconds between the harness's evals (first block dropped)."""
  submission = loader.load_submission(ADAMW)
  identity = loop.RunIdentity(workload="lm", size="tiny", submission="adamw",
                              submission_path=ADAMW, submission_form="optax",
                              hparams=hparams._asdict(), seed=seed)
  settings = loop.RunSettings(seed=seed, eval_every_steps=steps_per_block,
                              max_steps=(blocks + 1) * steps_per_block, progress=False,
                              max_runtime_sec=1e9, clock="wall")  # the bare loop's clock
  with tempfile.TemporaryDirectory() as workdir:
    result = loop.train_and_evaluate(workload, submission, hparams, settings, identity,
                                     Path(workdir))
  clock = [0.0] + [line["submission_time_sec"] for line in result.eval_history]
  return [(b - a) / steps_per_block for a, b in zip(clock[1:-1], clock[2:])]


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rounds", type=int, default=4)
  parser.add_argument("--blocks", type=int, default=3)
  parser.add_argument("--steps_per_block", type=int, default=20)
  parser.add_argument("--seed", type=int, default=0)
  args, overrides = parser.parse_known_args(argv)
  workload = registry.make_workload("lm", "tiny", overrides)
  hparams = hyperparameters.make_hyperparameters(
      loader.load_submission(ADAMW).default_hparams, {"dropout_rate": 0.0}, ADAMW)
  bare: list[float] = []
  harness: list[float] = []
  for round_index in range(args.rounds):
    bare += bare_step_times(workload, hparams, args.blocks, args.steps_per_block, args.seed)
    harness += harness_step_times(workload, hparams, args.blocks, args.steps_per_block, args.seed)
    print(f"round {round_index + 1}/{args.rounds}: bare {statistics.median(bare) * 1e3:.1f} ms/step, "
          f"harness {statistics.median(harness) * 1e3:.1f} ms/step", file=sys.stderr)
  print(f"lm/tiny step time ({len(bare)} blocks x {args.steps_per_block} steps each, "
        f"{jax.devices()[0].device_kind} x{jax.device_count()}):")
  print(f"  {'':18s} {'median':>9s} {'fastest':>9s}")
  print(f"  {'bare jitted loop':18s} {statistics.median(bare) * 1e3:7.2f}ms {min(bare) * 1e3:7.2f}ms")
  print(f"  {'harness':18s} {statistics.median(harness) * 1e3:7.2f}ms {min(harness) * 1e3:7.2f}ms")
  print(f"  ratio harness/bare: median {statistics.median(harness) / statistics.median(bare):.3f}, "
        f"fastest {min(harness) / min(bare):.3f}  (goal <= 1.02)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
