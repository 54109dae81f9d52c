"""Killed, preempted and damaged runs resume from checkpoints as if never stopped.

Each case runs `algoperf-lab run` in a subprocess and compares the eval metrics with an
uninterrupted run of the same seed (times aside, they must be identical).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import ADAMW, NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

MAX_STEPS = 120  # long enough that a periodic checkpoint lands before the end
BASE_ARGS = ("run", "--workload=lm", "--size=tiny", f"--max_steps={MAX_STEPS}",
             "--eval_every_steps=6", "--no_progress", "--seed=3",
             "--config.targets.validation=0.0", *SMALL_LM_OVERRIDES)


def _command(workdir: Path, submission: str, *extra: str) -> list[str]:
  return [str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab"), *BASE_ARGS,
          f"--submission={submission}", f"--workdir={workdir}", *extra]


def _metrics(workdir: Path) -> list[dict[str, float]]:
  lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [{k: v for k, v in line.items() if not k.endswith("time_sec")} for line in lines]


def _checkpoint_steps(workdir: Path) -> list[int]:
  folder = workdir / "checkpoints"
  return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def _wait_for_checkpoint(process: subprocess.Popen, workdir: Path, min_step: int) -> None:
  deadline = time.monotonic() + 240
  while time.monotonic() < deadline:
    steps = [s for s in _checkpoint_steps(workdir) if min_step <= s < MAX_STEPS]
    if steps:
      return
    if process.poll() is not None:
      pytest.fail(f"the run ended before a checkpoint at step >= {min_step}: "
                  f"{process.stderr.read() if process.stderr else ''}")
    time.sleep(0.05)
  pytest.fail("no checkpoint appeared in time")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, list[dict[str, float]]]:
  metrics = {}
  for name, submission in (("adamw", ADAMW), ("nadamw", NADAMW)):
    workdir = tmp_path_factory.mktemp(f"reference_{name}")
    done = subprocess.run(_command(workdir, submission, "--no_checkpoints"), capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics[name] = _metrics(workdir)
  assert len(metrics["adamw"]) == MAX_STEPS // 6
  return metrics


@pytest.mark.parametrize("name, submission", [("adamw", ADAMW), ("nadamw", NADAMW)])
def test_sigkill_then_resume_gives_the_uninterrupted_metrics(tmp_path, reference, name,
                                                              submission):
  command = _command(tmp_path, submission, "--checkpoint_every_sec=0.3")
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=REPO_ROOT)
  _wait_for_checkpoint(process, tmp_path, min_step=12)
  process.send_signal(signal.SIGKILL)
  process.wait(timeout=60)
  assert json.loads((tmp_path / "result.json").read_text())["status"] == "running"
  done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "resuming from the checkpoint at step" in done.stderr
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "capped" and record["steps"] == MAX_STEPS
  assert record["resumed_from_step"] >= 12
  assert _metrics(tmp_path) == reference[name]


def test_sigterm_saves_a_checkpoint_and_the_next_run_resumes(tmp_path, reference):
  command = _command(tmp_path, ADAMW, "--checkpoint_every_sec=1000")
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=REPO_ROOT)
  deadline = time.monotonic() + 240
  while not (tmp_path / "metrics.jsonl").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
  process.send_signal(signal.SIGTERM)
  out, err = process.communicate(timeout=120)
  assert process.returncode == 0, err[-2000:]
  assert "preempted at step" in out
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "preempted" and 0 < record["steps"] < MAX_STEPS
  assert _checkpoint_steps(tmp_path) == [record["steps"]]
  done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert _metrics(tmp_path) == reference["adamw"]


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, reference):
  command = _command(tmp_path, ADAMW, "--checkpoint_every_sec=0")  # a checkpoint every step
  assert subprocess.run(command, capture_output=True, cwd=REPO_ROOT, timeout=600).returncode == 0
  newest = max(_checkpoint_steps(tmp_path))
  assert newest == MAX_STEPS
  metadata_files = [p for p in (tmp_path / "checkpoints" / str(newest)).rglob("*")
                    if p.is_file() and "metadata" in str(p.relative_to(tmp_path)) and
                    p.suffix == "" and p.stat().st_size > 0]
  damaged = next(p for p in metadata_files if p.read_bytes().lstrip().startswith(b"{"))
  damaged.write_text(damaged.read_text().replace('"step"', '"stop"', 1))
  result_path = tmp_path / "result.json"
  record = json.loads(result_path.read_text())
  result_path.write_text(json.dumps({**record, "status": "running"}))  # as if killed at the end
  done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert f"checkpoints/{newest}" in done.stderr and "unreadable" in done.stderr
  assert f"resuming from the checkpoint at step {newest - 1}" in done.stderr
  assert (tmp_path / "checkpoints" / "unreadable").exists()  # kept aside, not deleted
  assert _metrics(tmp_path) == reference["adamw"]


def test_checkpoints_of_another_run_are_refused(tmp_path):
  first = _command(tmp_path, ADAMW, "--checkpoint_every_sec=1000", "--max_steps=6")
  assert subprocess.run(first, capture_output=True, cwd=REPO_ROOT, timeout=600).returncode == 0
  result_path = tmp_path / "result.json"
  result_path.write_text(json.dumps({**json.loads(result_path.read_text()), "status": "running"}))
  other_seed = _command(tmp_path, ADAMW, "--checkpoint_every_sec=1000", "--seed=4")
  done = subprocess.run(other_seed, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 2
  assert "checkpoint of a different run" in done.stderr and "--overwrite" in done.stderr


@pytest.mark.slow
def test_flipped_array_bytes_in_the_newest_checkpoint_fall_back(tmp_path, reference):
  """Issue 13: 64 flipped bytes in the array data used to load silently (and diverge)."""
  command = _command(tmp_path, ADAMW, "--checkpoint_every_sec=0")
  assert subprocess.run(command, capture_output=True, cwd=REPO_ROOT, timeout=600).returncode == 0
  newest = max(_checkpoint_steps(tmp_path))
  files = [p for p in (tmp_path / "checkpoints" / str(newest) / "arrays").rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  data = bytearray(largest.read_bytes())
  middle = len(data) // 2
  data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
  largest.write_bytes(bytes(data))
  result_path = tmp_path / "result.json"
  record = json.loads(result_path.read_text())
  result_path.write_text(json.dumps({**record, "status": "running"}))  # as if killed at the end
  done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert f"checkpoints/{newest}" in done.stderr and "digest" in done.stderr
  assert f"resuming from the checkpoint at step {newest - 1}" in done.stderr
  assert (tmp_path / "checkpoints" / "unreadable" / str(newest)).is_dir()  # kept aside, intact
  assert json.loads(result_path.read_text())["status"] == "capped"
  assert _metrics(tmp_path) == reference["adamw"]


def test_the_fingerprint_covers_the_eval_cadence_step_cap_and_budget():
  from algoperf_lab.harness.resume import run_fingerprint

  identity = {"workload": "lm", "seed": 0, "hparams": {"learning_rate": 0.1}}
  base = dict(eval_every_steps=6, max_steps=60, max_runtime_sec=100.0)
  reference = run_fingerprint(identity, {"model": {"num_layers": 1}}, 8, **base)
  assert reference == run_fingerprint(identity, {"model": {"num_layers": 1}}, 8, **base)
  for name, value in (("eval_every_steps", 5), ("max_steps", 61), ("max_runtime_sec", 50.0)):
    assert run_fingerprint(identity, {"model": {"num_layers": 1}}, 8,
                           **{**base, name: value}) != reference, name


def test_a_fingerprint_of_non_json_data_is_an_error_not_a_new_string_each_time():
  from algoperf_lab.harness.resume import run_fingerprint

  with pytest.raises(ValueError, match="not JSON data"):
    run_fingerprint({"hparams": {"schedule": lambda step: 0.1}}, None, 8)


def test_a_resume_with_another_eval_cadence_is_refused(tmp_path):
  first = _command(tmp_path, ADAMW, "--checkpoint_every_sec=1000", "--max_steps=6")
  assert subprocess.run(first, capture_output=True, cwd=REPO_ROOT, timeout=600).returncode == 0
  result_path = tmp_path / "result.json"
  result_path.write_text(json.dumps({**json.loads(result_path.read_text()), "status": "running"}))
  other_cadence = _command(tmp_path, ADAMW, "--checkpoint_every_sec=1000", "--max_steps=6",
                           "--eval_every_steps=2")
  done = subprocess.run(other_cadence, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 2
  assert "checkpoint of a different run" in done.stderr
