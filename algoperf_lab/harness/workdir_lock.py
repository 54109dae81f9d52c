"""One process per workdir: an exclusive lock held for the whole run.

The lock is `fcntl.flock` on `<workdir>/.algoperf_lab.lock`, which holds the holder's pid.
The operating system releases it when the process ends, however it ends (SIGKILL included),
so a stale lock never blocks a rerun; the file itself is left in place (deleting it would let
two processes lock two different files).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".algoperf_lab.lock"


class WorkdirError(ValueError):
  """The workdir cannot be used (a file, unwritable, or in use); the message says why."""


class WorkdirLockedError(WorkdirError):
  """Another process holds the workdir's lock."""


def prepare_workdir(workdir: Path, flag: str = "--workdir") -> None:
  """Creates `workdir` (and parents); a file in its place or no permission is a WorkdirError
  naming `flag` (the option the user gave it with: --workdir, --out)."""
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(f"{flag} {workdir} is a file, not a folder; choose another {flag}.")
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except (FileExistsError, NotADirectoryError) as error:  # a parent is a file
    raise WorkdirError(f"{flag} {workdir} cannot be created: a parent of it is a file "
                       f"({error.filename}); choose another {flag}.") from error
  except PermissionError as error:
    raise WorkdirError(f"{flag} {workdir} cannot be created: permission denied "
                       f"({error.filename}); choose a folder you can write.") from error
  except OSError as error:  # read-only file system, ...
    raise WorkdirError(f"{flag} {workdir} cannot be created: {error.strerror}; choose a "
                       "folder you can write.") from error
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise WorkdirError(f"{flag} {workdir} is not writable; choose a folder you can write.")


def check_writable_dir(folder: Path, flag: str = "--out") -> None:
  """Refuses (WorkdirError) a `folder` that could not be created or written, without creating
  anything: a file in its place or above it, or a nearest existing folder not writable."""
  folder = Path(os.path.abspath(folder))
  if folder.exists() and not folder.is_dir():
    raise WorkdirError(f"{flag} {folder} is a file, not a folder; choose another {flag}.")
  existing = folder
  while not existing.exists():
    existing = existing.parent
  if not existing.is_dir():
    raise WorkdirError(f"{flag} {folder} cannot be created: a parent of it is a file "
                       f"({existing}); choose another {flag}.")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise WorkdirError(f"{flag} {folder} cannot be written: {existing} is not writable; choose "
                       "a folder you can write.")


def _holder(path: Path) -> str:
  try:
    pid = path.read_text().strip()
  except OSError:
    pid = ""
  return f"process {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def hold_workdir_lock(workdir: Path, flag: str = "--workdir") -> Iterator[Path]:
  """Holds the workdir's exclusive lock while the block runs; refuses a workdir in use.
  `flag` is the option the folder was given with (--workdir, --out), for the messages."""
  prepare_workdir(workdir, flag)
  path = workdir / LOCK_FILE
  try:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as error:
    raise WorkdirError(f"cannot create the lock file {path} ({error.strerror}); choose a "
                       "--workdir you can write.") from error
  try:
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
      if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        raise
      raise WorkdirLockedError(
          f"{workdir} is in use by {_holder(path)} (it holds {path}); wait for it to end "
          f"or choose another {flag}.") from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    try:
      yield path
    finally:
      fcntl.flock(descriptor, fcntl.LOCK_UN)
  finally:
    os.close(descriptor)


@contextlib.contextmanager
def hold_output_dir(out_dir: Path, flag: str = "--out") -> Iterator[Path]:
  """An output folder checked writable and locked while the block writes it; when the block
  fails and the folder was new, it is removed again (a refused command leaves no new folder)."""
  check_writable_dir(out_dir, flag)
  created = not out_dir.exists()
  try:
    with hold_workdir_lock(out_dir, flag=flag):
      yield out_dir
  except BaseException:
    if created and out_dir.is_dir() and {p.name for p in out_dir.iterdir()} <= {LOCK_FILE}:
      shutil.rmtree(out_dir, ignore_errors=True)
    raise
