"""Keeps a full disk to one line: drops orbax's and asyncio's log records about it.

When the disk fills during a checkpoint, orbax's background threads log every failed write
with its traceback through absl (and asyncio logs each unretrieved future at exit): hundreds
of lines before and after the one line `algoperf-lab` prints (runner.raise_if_disk_full). A
filter on those two loggers drops just the records whose message or exception says the disk
is full; every other record still shows.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import Any

MARKERS = ("RESOURCE_EXHAUSTED", os.strerror(errno.ENOSPC))
LOGGERS = ("absl", "asyncio")


class DiskFullFilter(logging.Filter):
  def filter(self, record: logging.LogRecord) -> bool:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
      text += f" {record.exc_info[1]}"
    exception = getattr(record, "exception", None)  # asyncio's context
    if exception is not None:
      text += f" {exception}"
    return not any(marker in text for marker in MARKERS)


def _is_closed_loop_noise(error: BaseException | None) -> bool:
  """tensorstore's write callbacks reaching orbax's event loop after a failed save closed it."""
  return isinstance(error, RuntimeError) and str(error) == "Event loop is closed"


def quiet_disk_full_logs() -> None:
  """Installs the filter once on absl's and asyncio's loggers, and drops the 'Event loop is
  closed' errors that a failed asynchronous save leaves behind (reported as unraisable by
  the write callbacks that outlive it)."""
  for name in LOGGERS:
    logger = logging.getLogger(name)
    if not any(isinstance(f, DiskFullFilter) for f in logger.filters):
      logger.addFilter(DiskFullFilter())
  previous = sys.unraisablehook
  if getattr(previous, "drops_closed_loop_noise", False):
    return

  def unraisablehook(unraisable: Any) -> None:
    if not _is_closed_loop_noise(unraisable.exc_value):
      previous(unraisable)

  unraisablehook.drops_closed_loop_noise = True  # type: ignore[attr-defined]
  sys.unraisablehook = unraisablehook
