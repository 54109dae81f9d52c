"""Executors: where a sweep's trials run, behind one small protocol (submit, poll, cancel).

- `local`: in this process, one trial at a time (what `tune` always did).
- `processes`: N trials side by side on this machine, each its own `algoperf-lab run-trial`
  process with its own thread budget; its output goes to `<run dir>/worker.log`.
Ray and SLURM executors live in their own modules (optional dependencies).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from algoperf_lab.cpu_cores import (  # noqa: F401 (pin_to_assigned_cpus: run-trial's)
    CPUS_ENV, pin_to_assigned_cpus, slot_cores, thread_env)
from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.sweeps.spec import TrialSpec, write_spec
from algoperf_lab.sweeps.worker import TrialResult, run_trial

WORKER_LOG = "worker.log"
EXIT_REFUSED = 2  # run-trial's exit status when the trial's request was refused
EXIT_FAILED = 1
CANCEL_GRACE_SEC = 300.0  # a cancelled trial gets this long to checkpoint and record


class Executor(Protocol):
  name: str
  capacity: int  # trials it runs at once

  def submit(self, spec: TrialSpec) -> None: ...
  def poll(self, timeout_sec: float) -> list[TrialResult]: ...
  def cancel(self) -> list[TrialResult]: ...


class LocalExecutor:
  """One trial at a time in this process; `submit` runs it to the end."""

  name = "local"
  capacity = 1

  def __init__(self, report: Callable[[str], None] = print):
    self._report = report
    self._done: list[TrialResult] = []

  def submit(self, spec: TrialSpec) -> None:
    self._done.append(run_trial(spec, self._report))

  def poll(self, timeout_sec: float) -> list[TrialResult]:
    del timeout_sec
    done, self._done = self._done, []
    return done

  def cancel(self) -> list[TrialResult]:
    return self.poll(0.0)


def result_from_record(spec: TrialSpec, returncode: int, log: Path | None = None) -> TrialResult:
  """How a worker process ended: its record's status, or refused / lost from its exit."""
  status = None
  time_to_target = None
  try:
    record = json.loads((spec.run_dir / RESULT_FILE).read_text())
    status, time_to_target = record.get("status"), record.get("time_to_target_sec")
  except (OSError, json.JSONDecodeError):
    record = {}
  last_line = _last_line(log)
  if returncode == EXIT_REFUSED:
    return TrialResult(spec, "refused", detail=last_line)
  if status in ("reached", "missed", "diverged", "capped", "preempted") and returncode == 0:
    return TrialResult(spec, status, time_to_target)
  if status == "failed" and returncode == EXIT_FAILED:
    return TrialResult(spec, "failed", detail=str(record.get("error", last_line)))
  how = f"exit status {returncode}" if returncode >= 0 else f"killed by signal {-returncode}"
  return TrialResult(spec, "lost", detail=f"the worker ended ({how}) with the record at "
                     f"{status or 'no status'}; {last_line}".rstrip("; "))


def _last_line(log: Path | None) -> str:
  if log is None or not log.is_file():
    return ""
  lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
  return lines[-1] if lines else ""


class ProcessesExecutor:
  """N `algoperf-lab run-trial` processes side by side, each with `threads` threads."""

  name = "processes"

  def __init__(self, workers: int, threads: int | None = None):
    if workers < 1:
      raise ValueError("--workers must be at least 1.")
    self.capacity = workers
    self._threads = threads
    self._running: dict[subprocess.Popen[bytes], TrialSpec] = {}
    self._slots: dict[subprocess.Popen[bytes], int] = {}
    self._cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

  def command(self, spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "algoperf_lab.cli", "run-trial", f"--spec={spec_path}"]

  def submit(self, spec: TrialSpec) -> None:
    path = write_spec(spec)
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    log = open(spec.run_dir / WORKER_LOG, "ab")  # noqa: SIM115 (closed with the process)
    slot = min(set(range(self.capacity)) - set(self._slots.values()))
    cores = (slot_cores(slot, self._threads, self._cores)
             if self._threads is not None and self._cores else None)
    env = thread_env(self._threads)
    if cores:
      env[CPUS_ENV] = ",".join(map(str, cores))  # run-trial pins itself before JAX starts
    process = subprocess.Popen(self.command(path), stdout=log, stderr=subprocess.STDOUT,
                               env=env, start_new_session=True)
    log.close()
    self._running[process] = spec
    self._slots[process] = slot

  def poll(self, timeout_sec: float) -> list[TrialResult]:
    deadline = time.monotonic() + timeout_sec
    while True:
      done = [p for p in self._running if p.poll() is not None]
      if done or time.monotonic() >= deadline:
        break
      time.sleep(0.1)
    results = []
    for process in done:
      spec = self._running.pop(process)
      self._slots.pop(process, None)
      results.append(result_from_record(spec, process.returncode, spec.run_dir / WORKER_LOG))
    return results

  def cancel(self) -> list[TrialResult]:
    """SIGTERM to every running trial (each checkpoints and records `preempted`), then waits."""
    for process in self._running:
      if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CANCEL_GRACE_SEC
    for process in list(self._running):
      try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return self.poll(0.0)
