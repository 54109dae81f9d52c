"""Steps/s and examples/s of the tiny LM's lab train step on 1 vs N devices.

Each configuration runs in its own process (fake CPU devices must be set before JAX starts):
CPU with 1 and 8 fake devices (data parallel and FSDP), and the local GPU when there is one.
Fake CPU devices share the same cores, so the CPU figures are a sanity check of the sharded
code path, not a speed claim.

    python benchmarks/scaling.py                      # CPU 1 vs 8, and GPU if present
    python benchmarks/scaling.py --steps=20 --config.model.num_layers=1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ADAMW = str(REPO_ROOT / "submissions" / "baselines" / "adamw.py")


def worker(steps: int, sharding: str, fsdp: int, overrides: list[str]) -> dict[str, object]:
  """Times `steps` lab train steps (after a compiling warm-up) in this process."""
  import jax

  from algoperf_lab import hyperparameters, loader, registry
  from algoperf_lab.parallel.mesh import MeshConfig, make_mesh

  workload = registry.make_workload("lm", "tiny", overrides)
  submission = loader.load_submission(ADAMW)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {}, ADAMW)
  submission.use_mesh(make_mesh(MeshConfig(data=-1, fsdp=fsdp)), sharding)  # type: ignore[misc]
  params, model_state = submission.init_model(workload, jax.random.PRNGKey(0))  # type: ignore[misc]
  opt_state = submission.init_optimizer_state(workload, params, model_state, hparams,
                                              jax.random.PRNGKey(1))
  batches = workload.build_input_queue(jax.random.PRNGKey(2), "train", None,
                                       workload.default_batch_size)

  def run(count: int, first_step: int) -> None:
    nonlocal params, model_state, opt_state
    for step in range(first_step, first_step + count):
      opt_state, params, model_state = submission.update_params(
          workload, params, None, model_state, hparams, next(batches), None, opt_state, [],
          step, jax.random.PRNGKey(step))
    jax.block_until_ready(params)

  run(3, 0)
  start = time.perf_counter()
  run(steps, 3)
  seconds = time.perf_counter() - start
  device = jax.devices()[0]
  return {"platform": device.platform, "device_kind": device.device_kind,
          "devices": jax.device_count(), "sharding": sharding, "fsdp": fsdp,
          "steps_per_sec": steps / seconds,
          "examples_per_sec": steps * workload.default_batch_size / seconds}


def _launch(devices: int | None, sharding: str, fsdp: int, steps: int, platform: str,
            overrides: list[str]) -> dict[str, object] | None:
  env = {**os.environ, "JAX_PLATFORMS": platform}
  if devices is not None:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  done = subprocess.run([sys.executable, __file__, "--worker", f"--steps={steps}",
                         f"--sharding={sharding}", f"--fsdp={fsdp}", *overrides],
                        capture_output=True, text=True, env=env, cwd=REPO_ROOT)
  if done.returncode != 0:
    if platform == "cuda":
      return None  # no usable GPU here
    raise RuntimeError(done.stderr[-3000:])
  return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=30)
  parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--sharding", default="replicated", help=argparse.SUPPRESS)
  parser.add_argument("--fsdp", type=int, default=1, help=argparse.SUPPRESS)
  args, overrides = parser.parse_known_args(argv)
  if args.worker:
    print(json.dumps(worker(args.steps, args.sharding, args.fsdp, overrides)))
    return 0
  runs = [_launch(1, "replicated", 1, args.steps, "cpu", overrides),
          _launch(8, "replicated", 1, args.steps, "cpu", overrides),
          _launch(8, "fsdp", 8, args.steps, "cpu", overrides),
          _launch(None, "replicated", 1, args.steps, "cuda", overrides)]
  baseline = runs[0]["steps_per_sec"]  # type: ignore[index]
  print("| platform | devices | sharding | steps/s | examples/s | vs CPU x1 |")
  print("|---|---|---|---|---|---|")
  for run in runs:
    if run is None:
      print("| cuda | - | - | no GPU here | | |")
      continue
    print(f"| {run['platform']} ({run['device_kind']}) | {run['devices']} | {run['sharding']} | "
          f"{run['steps_per_sec']:.2f} | {run['examples_per_sec']:.1f} | "
          f"{run['steps_per_sec'] / baseline:.2f} |")  # type: ignore[operator]
  return 0


if __name__ == "__main__":
  sys.exit(main())
