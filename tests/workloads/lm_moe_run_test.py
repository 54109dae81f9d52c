"""lm_moe runs through the CLI: the routing options are part of the resume fingerprint, and a
killed aux-loss-free run (its router bias lives in model_state) resumes exactly, on one device
and under expert parallelism on 8 fake devices."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tests.parallel.moe_device_checks import MOE_OVERRIDES

CLI = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")
AUX_FREE = "submissions/moe/adamw_aux_free.py"
SUBMISSION = '''"""Balancing chosen in the file."""
import optax
HPARAMS = {"learning_rate": 1e-3}
WORKLOAD_OPTIONS = {"balance": "BALANCE"}

def make_optimizer(hparams, workload):
  return optax.adam(hparams.learning_rate)
'''


def _command(workdir: Path, submission: str, *extra: str) -> list[str]:
  return [CLI, "run", "--workload=lm_moe", f"--submission={submission}", f"--workdir={workdir}",
          "--no_progress", "--seed=3", "--config.targets.validation=0.0", *MOE_OVERRIDES, *extra]


def _mark_running(workdir: Path) -> None:
  result_path = workdir / "result.json"
  result_path.write_text(json.dumps({**json.loads(result_path.read_text()), "status": "running"}))


@pytest.mark.slow  # about 30 s on the shared 2-core machine: two CLI runs
def test_a_resume_with_other_workload_options_is_refused(tmp_path):
  submission = tmp_path / "routing.py"
  submission.write_text(SUBMISSION.replace("BALANCE", "none"))
  first = _command(tmp_path / "run", str(submission), "--checkpoint_every_sec=1000",
                   "--max_steps=2", "--eval_every_steps=2")
  done = subprocess.run(first, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  record = json.loads((tmp_path / "run" / "result.json").read_text())
  assert record["workload_options"] == {"balance": "none"}
  assert record["workload_config"]["routing"]["balance"] == "global_batch_lbl"  # the default
  _mark_running(tmp_path / "run")
  submission.write_text(SUBMISSION.replace("BALANCE", "micro_batch_lbl"))  # same file, same hparams
  done = subprocess.run(first, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 2
  assert "checkpoint of a different run" in done.stderr


def _metrics(workdir: Path) -> list[dict]:
  lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [{k: v for k, v in line.items() if not k.endswith("time_sec")} for line in lines]


SETUPS = {  # (devices, extra arguments)
    "one_device": (1, ()),
    "expert_parallel": (8, ("--sharding=expert", "--mesh_expert=4", "--mesh_data=2",
                            "--config.moe.num_experts=8")),
}


def _env(devices: int) -> dict[str, str]:
  return {**os.environ, "JAX_PLATFORMS": "cpu",
          "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


@pytest.mark.slow  # about 150 s each on the shared 2-core machine: two runs of 60 steps
@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_a_killed_aux_free_run_resumes_with_its_router_bias(tmp_path, setup):
  devices, sharding = SETUPS[setup]
  # a budget no run reaches: both runs must end at the step cap, not on the wall clock
  steps = ("--max_steps=60", "--eval_every_steps=6", "--max_runtime_sec=100000", *sharding)
  reference = tmp_path / "reference"
  done = subprocess.run(_command(reference, AUX_FREE, *steps, "--no_checkpoints"),
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
                        env=_env(devices))
  assert done.returncode == 0, done.stderr[-2000:]
  assert json.loads((reference / "result.json").read_text())["hardware"]["device_count"] == devices
  workdir = tmp_path / "killed"
  process = subprocess.Popen(_command(workdir, AUX_FREE, *steps, "--checkpoint_every_sec=0.5"),
                             cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=_env(devices))
  deadline = time.monotonic() + 600
  while time.monotonic() < deadline:
    folder = workdir / "checkpoints"
    if folder.exists() and any(p.name.isdigit() and 6 <= int(p.name) < 60
                               for p in folder.iterdir()):
      break
    assert process.poll() is None, "the run ended before a mid-run checkpoint"
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  done = subprocess.run(_command(workdir, AUX_FREE, *steps, "--checkpoint_every_sec=0.5"),
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
                        env=_env(devices))
  assert done.returncode == 0, done.stderr[-2000:]
  expected = _metrics(reference)
  assert _metrics(workdir) == expected
  # the bias moved the routing: the load imbalance changes from step to step
  assert any(line["train_step/moe/layer_0/max_vio"] != expected[0]["train_step/moe/layer_0/max_vio"]
             for line in expected[1:])
