"""Where the offline datasets live, and the error raised when one is missing."""

from __future__ import annotations

import os
from collections.abc import Iterable
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
