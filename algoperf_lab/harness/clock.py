"""The submission clock: accumulates only the time that counts toward time-to-target."""

from __future__ import annotations

import time
from collections.abc import Callable

# What the submission clock reads. `process_cpu` counts the CPU time of every thread of this
# process: on a shared CPU host another job stretches wall time but hardly this process's CPU
# time, so tiny-workload verdicts on CPU survive a busy machine. Accelerators keep wall time.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter,
                                          "process_cpu": time.process_time}
CLOCK_CHOICES = ("auto", *CLOCKS)


class ClockError(ValueError):
  """The requested submission clock cannot be used here; the message says what to do."""


def resolve_clock(requested: str, platform: str, cpu_budget_measured: bool,
                  budget_given: bool = False) -> str:
  """`auto` is process_cpu on a CPU backend for workloads with a measured CPU-time budget,
  else wall. An explicit process_cpu needs a CPU backend and a budget in CPU seconds (measured
  for the workload, or given with --max_runtime_sec): wall budgets are never rescaled."""
  if requested not in CLOCK_CHOICES:
    raise ClockError(f"--clock={requested!r} is unknown; choose from {CLOCK_CHOICES}.")
  if requested == "auto":
    return "process_cpu" if platform == "cpu" and cpu_budget_measured else "wall"
  if requested == "process_cpu":
    if platform != "cpu":
      raise ClockError(f"--clock=process_cpu counts host CPU time, which says nothing about work "
                       f"on a {platform} device; use --clock=wall there.")
    if not (cpu_budget_measured or budget_given):
      raise ClockError("this workload has no measured budget in process CPU seconds "
                       "(targets.max_allowed_cpu_sec); pass --max_runtime_sec in CPU seconds, "
                       "set one with `algoperf-lab set-targets`, or use --clock=wall.")
  return requested


class SubmissionClock:
  """Running while submission code runs; paused for evaluation, logging and checkpoints.

  `elapsed()` reads the host clock without waiting for the device, so it can lag the true
  submission time while work is still queued; callers block on the device outputs first
  wherever a reading is recorded.
  """

  def __init__(self, time_fn: Callable[[], float] = time.perf_counter, initial_sec: float = 0.0):
    self._time_fn = time_fn
    self._accumulated = float(initial_sec)
    self._started_at: float | None = None

  @property
  def running(self) -> bool:
    return self._started_at is not None

  def start(self) -> None:
    if self._started_at is not None:
      raise RuntimeError("the submission clock is already running.")
    self._started_at = self._time_fn()

  def pause(self) -> float:
    """Stops the clock and returns the accumulated submission time."""
    if self._started_at is None:
      raise RuntimeError("the submission clock is not running.")
    self._accumulated += self._time_fn() - self._started_at
    self._started_at = None
    return self._accumulated

  def elapsed(self) -> float:
    if self._started_at is None:
      return self._accumulated
    return self._accumulated + self._time_fn() - self._started_at
