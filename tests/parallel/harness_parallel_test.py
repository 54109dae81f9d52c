"""The harness on a device mesh: 1 device, 8 data-parallel, 8 FSDP, and two processes.

Fake CPU devices (XLA_FLAGS) must be set before JAX starts, so every case runs the CLI in a
subprocess. The metrics must agree to float tolerance: the same seed trains the same model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ADAMW, NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

CLI = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")
RUN_ARGS = ("run", "--workload=lm", "--size=tiny", "--max_steps=6", "--eval_every_steps=3",
            "--no_progress", "--no_checkpoints", "--seed=2", "--config.targets.validation=0.0",
            *SMALL_LM_OVERRIDES)


def _env(devices: int, **extra: str) -> dict[str, str]:
  return {**os.environ, "JAX_PLATFORMS": "cpu",
          "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", **extra}


def _run(workdir: Path, devices: int, *extra: str, submission: str = ADAMW) -> list[dict]:
  done = subprocess.run([CLI, *RUN_ARGS, f"--submission={submission}", f"--workdir={workdir}",
                         *extra], env=_env(devices), capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  record = json.loads((workdir / "result.json").read_text())
  assert record["hardware"]["device_count"] == devices
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _losses(lines: list[dict]) -> list[float]:
  return [line["validation/loss"] for line in lines] + [line["train_step/loss"] for line in lines]


def test_one_device_data_parallel_and_fsdp_give_the_same_metrics(tmp_path):
  single = _losses(_run(tmp_path / "one", 1))
  data_parallel = _losses(_run(tmp_path / "dp", 8))
  fsdp = _losses(_run(tmp_path / "fsdp", 8, "--sharding=fsdp", "--mesh_fsdp=8"))
  assert len(single) == 4
  assert data_parallel == pytest.approx(single, rel=1e-4)
  assert fsdp == pytest.approx(single, rel=1e-4)


def test_algoperf_form_runs_data_parallel_on_eight_devices(tmp_path):
  single = _losses([{**l, "train_step/loss": 0} for l in _run(tmp_path / "one", 1, submission=NADAMW)])
  eight = _losses([{**l, "train_step/loss": 0} for l in _run(tmp_path / "dp", 8, submission=NADAMW)])
  assert eight == pytest.approx(single, rel=1e-4)


def test_fsdp_really_shards_the_parameters():
  code = """
import jax
from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh
from tests.helpers import ADAMW, SMALL_LM_OVERRIDES
workload = registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES)
submission = loader.load_submission(ADAMW)
hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {}, ADAMW)
submission.use_mesh(make_mesh(MeshConfig(data=1, fsdp=8)), "fsdp")
params, state = submission.init_model(workload, jax.random.PRNGKey(0))
opt_state = submission.init_optimizer_state(workload, params, state, hparams, jax.random.PRNGKey(1))
kernel = params["block_0"]["mlp"]["wi"]["kernel"]
mu = next(leaf for path, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]
          if "mu" in jax.tree_util.keystr(path) and "['wi']['kernel']" in jax.tree_util.keystr(path))
print(kernel.shape, kernel.sharding.shard_shape(kernel.shape), mu.sharding.shard_shape(mu.shape))
"""
  done = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "-c", code], env=_env(8),
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().splitlines()[-1] == "(32, 64) (32, 8) (32, 8)"


def test_algoperf_form_refuses_fsdp_with_a_clear_error(tmp_path):
  done = subprocess.run([CLI, *RUN_ARGS, f"--submission={NADAMW}", f"--workdir={tmp_path}",
                         "--sharding=fsdp", "--mesh_fsdp=8"], env=_env(8), capture_output=True,
                        text=True, cwd=REPO_ROOT, timeout=300)
  assert done.returncode == 2 and "optax-form submissions only" in done.stderr


def _free_port() -> int:
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


def test_two_processes_give_the_same_metrics_as_one(tmp_path):
  single = _losses(_run(tmp_path / "single", 2))
  workdir = tmp_path / "multi"
  coordinator = f"127.0.0.1:{_free_port()}"
  processes = [subprocess.Popen(
      [CLI, *RUN_ARGS, f"--submission={ADAMW}", f"--workdir={workdir}"],
      env=_env(1, ALGOPERF_LAB_COORDINATOR=coordinator, ALGOPERF_LAB_NUM_PROCESSES="2",
               ALGOPERF_LAB_PROCESS_ID=str(index)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
      for index in range(2)]
  outputs = [p.communicate(timeout=600) for p in processes]
  for process, (_, err) in zip(processes, outputs):
    assert process.returncode == 0, err[-3000:]
  record = json.loads((workdir / "result.json").read_text())
  assert record["hardware"]["process_count"] == 2 and record["hardware"]["device_count"] == 2
  multi = _losses([json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()])
  assert multi == pytest.approx(single, rel=1e-4)
