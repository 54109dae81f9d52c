"""The submission clock: accumulates only the time that counts toward time-to-target."""

from __future__ import annotations

import time
from collections.abc import Callable


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
