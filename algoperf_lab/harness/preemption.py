"""SIGTERM (a cloud preemption notice) as a flag the training loop polls between steps.

The flag is installed once for a whole command (`algoperf-lab run`, `tune`, `calibrate`):
nested uses share the outermost flag, so a SIGTERM that arrives while a workload loads, a
submission builds its optimizer, XLA compiles or a checkpoint is restored is remembered and
honoured at the next point where the run can stop resumably, instead of killing the process
with the default handler.
"""

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


_active: PreemptionFlag | None = None


@contextlib.contextmanager
def signal_sets_flag(signum: int) -> Iterator[PreemptionFlag]:
  """While active, `signum` sets the yielded flag instead of its default action, and the
  previous handler is put back after; main thread only (elsewhere the flag never rises)."""
  flag = PreemptionFlag()
  if threading.current_thread() is not threading.main_thread():
    yield flag
    return
  previous = signal.signal(signum, flag.request)
  try:
    yield flag
  finally:
    signal.signal(signum, previous)


@contextlib.contextmanager
def sigterm_requests_preemption() -> Iterator[PreemptionFlag]:
  """While active, SIGTERM sets the flag instead of killing the process (main thread only).

  Inside another active block it yields that block's flag (one SIGTERM, one flag).
  """
  global _active
  if _active is not None:
    yield _active
    return
  with signal_sets_flag(signal.SIGTERM) as flag:
    _active = flag
    try:
      yield flag
    finally:
      _active = None
