"""SIGTERM (a cloud preemption notice) as a flag the training loop polls between steps."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class PreemptionFlag:
  def __init__(self) -> None:
    self.requested = False

  def request(self, signum: int, frame: FrameType | None) -> None:
    del signum, frame
    self.requested = True


@contextlib.contextmanager
def sigterm_requests_preemption() -> Iterator[PreemptionFlag]:
  """While active, SIGTERM sets the flag instead of killing the process (main thread only)."""
  flag = PreemptionFlag()
  if threading.current_thread() is not threading.main_thread():
    yield flag
    return
  previous = signal.signal(signal.SIGTERM, flag.request)
  try:
    yield flag
  finally:
    signal.signal(signal.SIGTERM, previous)
