"""Where the offline datasets live, and the error raised when one is missing."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

DATA_ROOT_ENV = "ALGOPERF_LAB_DATA_ROOT"
SETUP_COMMAND = "bash scripts/setup.sh --no-main"


class DatasetNotFoundError(FileNotFoundError):
  """A dataset the workload needs is not on disk; the message says how to get it."""


class DatasetCorruptError(ValueError):
  """A dataset file is damaged; the message names it and how to restore it."""


def data_root() -> Path:
  """The folder `scripts/setup.sh` unpacks datasets into (override with $ALGOPERF_LAB_DATA_ROOT)."""
  default = Path.home() / ".local" / "share" / "algoperf_lab"
  return Path(os.environ.get(DATA_ROOT_ENV, default)).expanduser()


def first_existing(candidates: Iterable[Path], marker: str, dataset: str, how_to_get: str) -> Path:
  """The first candidate folder that holds `marker`, or a DatasetNotFoundError naming them all."""
  tried = []
  for folder in candidates:
    tried.append(str(folder))
    if (folder / marker).is_file():
      return folder
  raise DatasetNotFoundError(
      f"{dataset} not found: no {marker} in any of {tried}. {how_to_get}")


@functools.lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
  del size, mtime_ns  # part of the memo key: a changed file is hashed again
  with open(path, "rb") as file:
    return hashlib.file_digest(file, "sha1").hexdigest()


def content_fingerprint(files: Sequence[Path]) -> str:
  """A hash of the files' contents, for cache keys: a changed file at the same path is a new
  key (memoised per process while size and modification time stay the same)."""
  digests = []
  for path in files:
    stat = path.stat()
    digests.append(_file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns))
  return hashlib.sha1("|".join(digests).encode()).hexdigest()
