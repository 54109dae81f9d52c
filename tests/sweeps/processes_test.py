"""`--executor=processes`: trials side by side in `algoperf-lab run-trial` processes give the
same metrics as the local executor; a worker killed mid-trial (SIGKILL) is retried and its
trial resumes from its checkpoint to the same metrics."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.executors import ProcessesExecutor
from algoperf_lab.tuning import study
from algoperf_lab.tuning.study import Ruleset, TuneRequest
from tests.helpers import NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES, hear_ctrl_c

SPACE = str(REPO_ROOT / "configs" / "search_spaces" / "nadamw.json")
SETTINGS = RunSettings(max_steps=12, eval_every_steps=3, progress=False, checkpoint_every_sec=0.0)


def _request(workdir: Path) -> TuneRequest:
  return TuneRequest(workload="lm", size="tiny", submission=NADAMW, workdir=workdir,
                     ruleset=Ruleset.EXTERNAL, num_studies=1, num_trials=2, search_space=SPACE,
                     config_overrides=(*SMALL_LM_OVERRIDES, "--config.targets.validation=0.0"),
                     settings=SETTINGS)


def _metrics(workdir: Path, trial: int) -> list[dict]:
  lines = (workdir / "study_0" / f"trial_{trial}" / "metrics.jsonl").read_text().splitlines()
  return [{k: v for k, v in json.loads(line).items() if "time" not in k} for line in lines]


class KillingExecutor(ProcessesExecutor):
  """Kills trial 1's worker with SIGKILL once it has saved a checkpoint past step 3."""

  def __init__(self) -> None:
    super().__init__(workers=2, threads=1)
    self.killed = False

  def submit(self, spec) -> None:
    super().submit(spec)
    if spec.trial == 1 and not self.killed:
      process = next(p for p, s in self._running.items() if s is spec)
      threading.Thread(target=self._kill_later, args=(process, spec.run_dir), daemon=True).start()

  def _kill_later(self, process, run_dir: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
      steps = [int(p.name) for p in (run_dir / "checkpoints").glob("[0-9]*")
               if p.name.isdigit()] if (run_dir / "checkpoints").is_dir() else []
      if steps and max(steps) >= 6:
        os.killpg(process.pid, signal.SIGKILL)
        self.killed = True
        return
      time.sleep(0.05)


def test_processes_match_local_and_a_killed_worker_resumes_to_the_same_metrics(tmp_path):
  local = study.run_tuning(_request(tmp_path / "local"), report=lambda line: None)
  assert [o.status for o in local] == ["capped", "capped"]
  lines: list[str] = []
  executor = KillingExecutor()
  outcomes = study.run_tuning(_request(tmp_path / "processes"), report=lines.append,
                              executor=executor)
  assert executor.killed, "the worker finished before it could be killed"
  assert [o.status for o in outcomes] == ["capped", "capped"]
  assert any("trial 1: the worker ended (killed by signal 9)" in line and "resubmitted" in line
             for line in lines), lines
  for trial in (0, 1):
    assert _metrics(tmp_path / "processes", trial) == _metrics(tmp_path / "local", trial)
    for where in ("local", "processes"):  # tune's trials may load what was compiled before
      record = tmp_path / where / "study_0" / f"trial_{trial}" / "result.json"
      assert json.loads(record.read_text())["compilation_cache"] is True
  log = (tmp_path / "processes" / "study_0" / "trial_1" / "worker.log").read_text()
  assert "resuming from the checkpoint at step" in log
  assert "sweep: 2 done (2 capped), 0 left" in lines


def test_each_worker_slot_keeps_to_its_own_cores():
  import subprocess
  import sys

  from algoperf_lab.sweeps.executors import CPUS_ENV, slot_cores

  assert slot_cores(0, 1, [0, 1]) == [0] and slot_cores(1, 1, [0, 1]) == [1]
  assert slot_cores(1, 2, [0, 1, 2, 3]) == [2, 3] and slot_cores(2, 1, [0, 1]) == [0]
  code = ("import os; from algoperf_lab.sweeps.executors import pin_to_assigned_cpus; "
          "pin_to_assigned_cpus(); print(sorted(os.sched_getaffinity(0)))")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        cwd=REPO_ROOT, env={**os.environ, CPUS_ENV: "0"}, timeout=120)
  assert done.stdout.strip() == "[0]", done.stderr[-2000:]


@pytest.mark.slow
def test_ctrl_c_on_the_driver_stops_the_workers_resumably(tmp_path):
  """Ctrl-C on a processes sweep: every running trial checkpoints and records `preempted`
  (none is left running), the driver exits 130, and the same command finishes the sweep."""
  import subprocess
  import sys

  workdir = tmp_path / "tune"
  command = [sys.executable, "-m", "algoperf_lab.cli", "tune", "--workload=lm",
             f"--submission={NADAMW}", f"--workdir={workdir}", f"--search_space={SPACE}",
             "--trials=2", "--max_steps=400", "--eval_every_steps=50", "--no_progress",
             "--executor=processes", "--workers=2", *SMALL_LM_OVERRIDES,
             "--config.targets.validation=0.0"]
  driver = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=hear_ctrl_c)
  deadline = time.monotonic() + 300
  records = [workdir / "study_0" / f"trial_{t}" / "result.json" for t in (0, 1)]
  while time.monotonic() < deadline and not all(
      r.is_file() and json.loads(r.read_text())["status"] == "running" for r in records):
    time.sleep(0.2)
  time.sleep(2)
  driver.send_signal(signal.SIGINT)
  out, err = driver.communicate(timeout=300)
  assert driver.returncode == 130, err[-2000:]
  assert "stopping the running trials" in out
  assert [json.loads(r.read_text())["status"] for r in records] == ["preempted", "preempted"]
  done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, done.stderr[-2000:]
  assert [json.loads(r.read_text())["status"] for r in records] == ["capped", "capped"]
