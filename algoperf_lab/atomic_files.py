"""Files written whole or not at all, with the permissions the user's umask gives.

A temporary file in the same folder is written, flushed to disk and renamed over the target,
so a reader never sees half a file and a full disk leaves the old file intact. `mkstemp`
creates its file with mode 0600; the file gets `0666 & ~umask` before the rename, as a plain
`open(path, "w")` would (a shared results folder stays readable to others).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
  current = os.umask(0)
  os.umask(current)
  return current


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
  """Yields a temporary path beside `path` (same suffix, so writers that infer a format from
  it still do); when the block ends normally it becomes `path`, else it is removed."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                           suffix=f".tmp{path.suffix}")
  os.close(descriptor)
  try:
    yield Path(temporary)
    with open(temporary, "rb") as handle:
      os.fsync(handle.fileno())
    os.chmod(temporary, 0o666 & ~_umask())
    os.replace(temporary, path)
  except BaseException:
    Path(temporary).unlink(missing_ok=True)
    raise


def write_text_atomically(path: Path, text: str) -> None:
  """Writes `text` to `path` atomically (see the module docstring)."""
  with replaced_atomically(path) as temporary:
    temporary.write_text(text, encoding="utf-8")
