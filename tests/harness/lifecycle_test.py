"""A refused command changes nothing on disk; SIGTERM in any phase ends resumably (exit 0).

Issue 20, part 1. Each case runs the CLI in a subprocess and sends real signals.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ADAMW, REPO_ROOT, SMALL_LM_OVERRIDES, hear_ctrl_c

CLI = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")
SIGTERM_SUBMISSION = str(REPO_ROOT / "tests" / "fixtures" / "sigterm_in_make_optimizer.py")
BASE = ("run", "--workload=lm", "--size=tiny", "--eval_every_steps=3", "--no_progress",
        "--config.targets.validation=0.0", *SMALL_LM_OVERRIDES)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
  return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
                        env={**os.environ, **(env or {})})


def _snapshot(folder: Path) -> dict[str, str]:
  """Every file under `folder` (path -> SHA-256 of its bytes) but the workdir lock, which
  names the last command that held it."""
  return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
          for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".algoperf_lab.lock"}


@pytest.fixture(scope="module")
def preempted_run(tmp_path_factory) -> Path:
  """A run preempted by SIGTERM at step 6 (its record says preempted, with a checkpoint)."""
  workdir = tmp_path_factory.mktemp("preempted")
  done = _cli(*BASE, f"--submission={ADAMW}", f"--workdir={workdir}", "--max_steps=6",
              "--checkpoint_every_sec=1000")
  assert done.returncode == 0, done.stderr[-2000:]
  record = json.loads((workdir / "result.json").read_text())
  (workdir / "result.json").write_text(json.dumps({**record, "status": "preempted"}))
  return workdir


@pytest.mark.parametrize("change", [("--seed=7",), ("--config.model.d_model=16",),
                                    (f"--submission={SIGTERM_SUBMISSION}",)],
                         ids=["another-seed", "another-config", "another-submission"])
def test_a_refused_resume_changes_nothing_on_disk(preempted_run, change):
  before = _snapshot(preempted_run)
  args = [*BASE, f"--submission={ADAMW}", f"--workdir={preempted_run}", "--max_steps=6",
          "--checkpoint_every_sec=1000"]
  args = [a for a in args if not a.startswith(change[0].split("=")[0] + "=")] + list(change)
  done = _cli(*args)
  assert done.returncode == 2, done.stderr[-2000:]
  assert "checkpoint of a different run" in done.stderr
  assert "unreadable" not in done.stderr  # refused from the metadata, no array was read
  assert len(done.stderr.splitlines()) <= 3, done.stderr
  assert _snapshot(preempted_run) == before


def test_sigterm_while_building_the_optimizer_ends_preempted_and_resumes(tmp_path):
  marker = tmp_path / "sent"
  workdir = tmp_path / "run"
  args = (*BASE, f"--submission={SIGTERM_SUBMISSION}", f"--workdir={workdir}", "--max_steps=6")
  first = _cli(*args, env={"ALGOPERF_LAB_TEST_SIGTERM_MARKER": str(marker)})
  assert marker.exists()
  assert first.returncode == 0, first.stderr[-2000:]
  assert "preempted at step 0" in first.stdout
  assert json.loads((workdir / "result.json").read_text())["status"] == "preempted"
  second = _cli(*args, env={"ALGOPERF_LAB_TEST_SIGTERM_MARKER": str(marker)})
  assert second.returncode == 0, second.stderr[-2000:]
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "capped" and record["steps"] == 6


def test_calibrate_stops_at_a_preemption_and_resumes(tmp_path):
  marker = tmp_path / "sent"
  spaces = tmp_path / "spaces"
  spaces.mkdir()
  (spaces / "sigterm_in_make_optimizer.json").write_text(json.dumps([{"weight_decay": 0.1}]))
  (spaces / "nadamw_optax.json").write_text(json.dumps([{"weight_decay": 0.1}]))
  workdir = tmp_path / "calibration"
  args = ("calibrate", f"--workdir={workdir}", "--workloads=lm",
          f"--submissions={SIGTERM_SUBMISSION}", f"--spaces_dir={spaces}", "--candidates=2",
          "--seeds=1", "--config.targets.max_allowed_cpu_sec=1.0", "--eval_every_steps=2",
          "--no_progress",
          *SMALL_LM_OVERRIDES)
  first = _cli(*args, env={"ALGOPERF_LAB_TEST_SIGTERM_MARKER": str(marker)})
  assert first.returncode == 0, first.stderr[-2000:]
  assert "preempted (SIGTERM)" in first.stdout and "without --method" not in first.stdout
  results = sorted(workdir.rglob("result.json"))
  assert len(results) == 1  # the next run was not started
  assert json.loads(results[0].read_text())["status"] == "preempted"
  second = _cli(*args, env={"ALGOPERF_LAB_TEST_SIGTERM_MARKER": str(marker)})
  assert second.returncode == 0, second.stderr[-2000:]
  assert (workdir / "report" / "report.md").is_file()


@pytest.mark.parametrize("flag", ["--method=prodgy", "--candidate=99", "--workload=vit",
                                  "--seed_index=5"])
def test_calibrate_filters_that_match_nothing_are_refused(tmp_path, flag):
  done = _cli("calibrate", f"--workdir={tmp_path / 'c'}", "--workloads=lm",
              f"--submissions={REPO_ROOT / 'submissions' / 'lr_free' / 'prodigy.py'}",
              "--candidates=2", "--seeds=1", "--max_steps=2", flag, *SMALL_LM_OVERRIDES)
  assert done.returncode == 2
  assert "no planned run matches" in done.stderr and flag.split("=")[0] in done.stderr
  assert not list((tmp_path / "c").rglob("result.json")) if (tmp_path / "c").exists() else True


@pytest.mark.parametrize("flags, message", [
    (("--sharding=expert",), "has none"),
    (("--mesh_expert=2",), "pass --sharding=expert too"),
], ids=["expert-sharding-on-dense-lm", "expert-mesh-without-expert-sharding"])
def test_expert_parallel_flags_on_the_dense_lm_are_refused_in_one_line(tmp_path, flags, message):
  done = _cli(*BASE, f"--submission={ADAMW}", f"--workdir={tmp_path}", "--max_steps=2", *flags)
  assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
  assert len(done.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "result.json").exists()


def test_the_record_names_its_sharding_and_mesh(tmp_path):
  done = _cli(*BASE, f"--submission={ADAMW}", f"--workdir={tmp_path}", "--max_steps=1",
              "--eval_every_steps=1", "--no_checkpoints", "--config.targets.validation=100.0")
  assert done.returncode == 0, done.stderr[-2000:]
  assert "process_cpu clock" in done.stdout and " CPU s" in done.stdout  # the clock is named
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["sharding"] == "replicated"
  assert record["steps_to_target"] == 1 == record["steps"]  # a target of 100 is met at once
  assert "steps_to_target=1" in done.stdout
  # Provenance (issue 19): the lab's commit, and when and under what load it started and ended.
  assert record["lab_commit"] and len(record["lab_commit"].split("+")[0]) == 40
  for moment in (record["started"], record["ended"]):
    assert moment["utc"].endswith("+00:00") and len(moment["load_average"]) == 3
  assert record["started"]["utc"] <= record["ended"]["utc"]
  assert record["mesh"] == {"data": -1, "fsdp": 1, "expert": 1, "model": 1}
  assert record["compilation_cache"] is True  # `run` compiles through the cache by default
  cold = _cli(*BASE, f"--submission={ADAMW}", f"--workdir={tmp_path / 'cold'}", "--max_steps=1",
              "--eval_every_steps=1", "--no_checkpoints", "--no_compilation_cache")
  assert cold.returncode == 0, cold.stderr[-2000:]
  assert json.loads((tmp_path / "cold" / "result.json").read_text())["compilation_cache"] is False


BROKEN_SUBMISSIONS = {
    "make_optimizer_returns_none": (
        "HPARAMS = {}\n"
        "def make_optimizer(hparams, workload):\n"
        "  import optax\n"
        "  optax.adamw(1e-3)\n",
        "make_optimizer returned NoneType"),
    "update_of_the_wrong_tree": (
        "import jax, optax\n"
        "HPARAMS = {}\n"
        "def make_optimizer(hparams, workload):\n"
        "  def update(updates, state, params=None):\n"
        "    return jax.tree.leaves(updates)[:1], state\n"
        "  return optax.GradientTransformation(lambda p: optax.EmptyState(), update)\n",
        "returned a tree with 1 leaves"),
    "update_params_returns_two_values": (
        "def get_batch_size(workload_name):\n"
        "  raise KeyError(workload_name)\n"
        "def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):\n"
        "  return None\n"
        "def update_params(workload, current_param_container, current_params_types, model_state,\n"
        "                  hyperparameters, batch, loss_type, optimizer_state, eval_results,\n"
        "                  global_step, rng):\n"
        "  return optimizer_state, current_param_container\n"
        "def data_selection(workload, input_queue, optimizer_state, current_param_container,\n"
        "                   model_state, hyperparameters, global_step, rng):\n"
        "  return next(input_queue)\n",
        "update_params returned 2 values"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_SUBMISSIONS))
def test_a_submission_bug_is_one_line_and_a_failed_record_with_its_traceback(tmp_path, name):
  source, message = BROKEN_SUBMISSIONS[name]
  submission = tmp_path / f"{name}.py"
  submission.write_text(source)
  workdir = tmp_path / "run"
  done = _cli(*BASE, f"--submission={submission}", f"--workdir={workdir}", "--max_steps=2")
  assert done.returncode == 1, done.stderr[-2000:]
  assert message in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
  assert len([l for l in done.stderr.splitlines() if "error" in l]) == 1
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "failed" and message in record["error"]
  assert "Traceback" in record["traceback"]
  again = _cli(*BASE, f"--submission={submission}", f"--workdir={workdir}", "--max_steps=2",
               "--traceback")
  assert "Traceback" in again.stderr


def test_ctrl_c_records_interrupted_without_a_traceback(tmp_path):
  import signal
  import time

  workdir = tmp_path / "run"
  # PYTHONFAULTHANDLER: a run that ignores the Ctrl-C is made to print where it sits (SIGABRT).
  process = subprocess.Popen([CLI, *BASE, f"--submission={ADAMW}", f"--workdir={workdir}",
                              "--max_steps=100000", "--eval_every_steps=1"], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                             preexec_fn=hear_ctrl_c)
  deadline = time.monotonic() + 300
  while not (workdir / "metrics.jsonl").exists() and time.monotonic() < deadline:
    time.sleep(0.1)
  process.send_signal(signal.SIGINT)
  try:
    _, stderr = process.communicate(timeout=300)
  except subprocess.TimeoutExpired:
    process.send_signal(signal.SIGABRT)
    _, stderr = process.communicate(timeout=60)
    pytest.fail(f"the run did not stop within 300 s of SIGINT; where it sat:\n{stderr[-6000:]}")
  assert process.returncode == 130, stderr[-2000:]
  assert "Traceback" not in stderr and "interrupted (Ctrl-C)" in stderr
  assert json.loads((workdir / "result.json").read_text())["status"] == "interrupted"


def test_workload_options_that_are_not_a_dict_are_one_line_and_nothing_recorded(tmp_path):
  submission = tmp_path / "options_list.py"
  submission.write_text("from submissions.baselines.adamw import HPARAMS, make_optimizer\n"
                        "WORKLOAD_OPTIONS = ['balance']\n")
  done = _cli(*BASE, f"--submission={submission}", f"--workdir={tmp_path / 'run'}",
              "--max_steps=2")
  assert done.returncode == 2, done.stderr[-2000:]
  assert "WORKLOAD_OPTIONS must be a dict" in done.stderr
  assert len(done.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "run" / "result.json").exists()


@pytest.mark.parametrize("command", [
    ("calibrate", "--workdir={bad}", "--workloads=lm", "--candidates=1", "--seeds=1"),
    ("tune", "--workload=lm", f"--submission={ADAMW}", "--workdir={bad}", "--ruleset=self"),
    ("score", "{runs}", "--out={bad}"),
    ("export-algoperf", "{runs}", "--out={bad}"),
], ids=["calibrate", "tune", "score", "export-algoperf"])
def test_an_output_folder_under_a_file_is_one_line_naming_the_option(tmp_path, command):
  """Issue 20: a calibrate workdir under a file raised NotADirectoryError from deep inside."""
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  runs = tmp_path / "runs"
  runs.mkdir()
  args = [a.format(bad=blocker / "sub", runs=runs) for a in command]
  done = _cli(*args)
  assert done.returncode == 2, done.stderr[-2000:]
  assert "a parent of it is a file" in done.stderr and len(done.stderr.strip().splitlines()) == 1
  flag = "--out" if command[0] in ("score", "export-algoperf") else "--workdir"
  assert done.stderr.count(flag) >= 1


def test_an_expert_count_the_expert_axis_does_not_divide_is_refused_before_compiling(tmp_path):
  """Issue 20: it surfaced as a traceback from the sharding code after the record was opened."""
  done = _cli("run", "--workload=lm_moe", "--size=tiny", f"--submission={ADAMW}",
              f"--workdir={tmp_path}", "--max_steps=1", "--no_progress", "--sharding=expert",
              "--mesh_expert=4", "--config.moe.num_experts=6", *SMALL_LM_OVERRIDES,
              env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  assert done.returncode == 2, done.stderr[-2000:]
  assert "6 experts" in done.stderr and "--mesh_expert" in done.stderr
  assert len(done.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "result.json").exists()


def test_an_lm_batch_larger_than_its_dataset_is_one_line_naming_the_limit(tmp_path):
  """Issue 20: grain's traceback (or a ValueError recorded as a failed run) became one line."""
  done = _cli("run", "--workload=lm", f"--submission={ADAMW}", f"--workdir={tmp_path}",
              "--max_steps=1", "--no_progress", "--config.batch_size=100000")
  assert done.returncode == 2, done.stderr[-2000:]
  assert done.stderr.strip().splitlines() == [
      "algoperf-lab run: error: batch size 100000 is larger than the 28302 windows of 129 "
      "tokens in the training split; use at most 28302 (--config.batch_size, or a smaller "
      "get_batch_size)."]


@pytest.mark.parametrize("workload, batch", [("gnn", -4), ("gnn", 0), ("lm", -4)])
def test_a_batch_size_below_one_is_one_line_and_nothing_recorded(tmp_path, workload, batch):
  """Issue 20: gnn gave a BatchBudget traceback, lm a grain one."""
  done = _cli("run", f"--workload={workload}", f"--submission={ADAMW}",
              f"--workdir={tmp_path / 'run'}", "--max_steps=1", "--no_progress",
              f"--config.batch_size={batch}")
  assert done.returncode == 2, done.stderr[-2000:]
  assert done.stderr.strip().splitlines() == [
      f"algoperf-lab run: error: {workload}.batch_size={batch} must be a whole number of at "
      "least 1 (e.g. --config.batch_size=32)."]
  assert not (tmp_path / "run").exists()


@pytest.fixture
def read_only_disk(tmp_path):
  mount_point = tmp_path / "ro"
  mount_point.mkdir()
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1M", "tmpfs",
                            str(mount_point)], capture_output=True, text=True)
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.strip()}); needs root")
  yield mount_point
  subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.parametrize("command, flag", [
    (("calibrate", "--workloads=lm", "--workdir={ro}/c"), "--workdir"),
    (("score", "{records}", "--out={ro}/s"), "--out"),
    (("export-algoperf", "{records}", "--out={ro}/e"), "--out"),
])
def test_a_read_only_output_folder_is_one_line_naming_the_flag(read_only_disk, command, flag):
  """Issue 20: `run` refused a read-only --workdir; calibrate, score and export did not."""
  records = REPO_ROOT / "results" / "calibration_tiny" / "nadamw"
  args = [a.format(ro=read_only_disk, records=records) for a in command]
  done = _cli(*args)
  assert done.returncode == 2, done.stderr[-2000:]
  (line,) = done.stderr.strip().splitlines()
  assert f"{flag} {read_only_disk}" in line and "is not writable" in line
