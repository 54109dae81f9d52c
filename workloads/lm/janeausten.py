"""Reads Jane Austen's six novels from Debian's r-cran-janeaustenr package, without R.

The package keeps the novels in an R lazy-load database: `Rdata.rdx` is a gzip'd R
serialization mapping each object name to (offset, length) in `Rdata.rdb`; each blob there is a
4-byte big-endian length followed by a zlib stream of one serialized character vector (one
element per line of the novel). `rdata` parses the R serialization.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rdata

from algoperf_lab.data import paths

# Publication order; the split takes the same fraction from the end of every novel.
NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey",
          "persuasion")
_PACKAGE_DATA = Path("usr/lib/R/site-library/janeaustenr/data")
HOW_TO_GET = (
    f"Run `{paths.SETUP_COMMAND}`, which unpacks Debian's r-cran-janeaustenr into "
    f"$ALGOPERF_LAB_DATA_ROOT/debian (by hand: `apt-get download r-cran-janeaustenr && "
    f"dpkg -x r-cran-janeaustenr_*.deb DIR`, then pass --data_dir=DIR/{_PACKAGE_DATA}).")


def find_corpus_dir(data_dir: str | Path | None = None) -> Path:
  """The folder holding Rdata.rdx/Rdata.rdb: `data_dir` if given, else the known places."""
  if data_dir is not None:
    candidates = [Path(data_dir), Path(data_dir) / _PACKAGE_DATA]
  else:
    candidates = [paths.data_root() / "debian" / _PACKAGE_DATA, Path("/") / _PACKAGE_DATA]
  corpus_dir = paths.first_existing(candidates, "Rdata.rdb", "The Jane Austen corpus",
                                    HOW_TO_GET)
  if not (corpus_dir / "Rdata.rdx").is_file():
    raise paths.DatasetNotFoundError(
        f"{corpus_dir} holds Rdata.rdb but not its index Rdata.rdx; the Jane Austen corpus needs "
        f"both. {HOW_TO_GET}")
  return corpus_dir


def _parse_r_object(serialized: bytes) -> object:
  return rdata.conversion.convert(rdata.parser.parse_data(serialized))


def read_novels(corpus_dir: Path) -> dict[str, str]:
  """Each novel's text, its lines joined with newlines; a damaged file is a clear error."""
  try:
    index = _parse_r_object(gzip.decompress((corpus_dir / "Rdata.rdx").read_bytes()))
    offsets = index["variables"]  # type: ignore[index]
  except Exception as error:  # gzip, zlib, rdata and lookup errors alike
    raise _corrupt(corpus_dir / "Rdata.rdx", error) from error
  database = (corpus_dir / "Rdata.rdb").read_bytes()
  novels = {}
  for name in NOVELS:
    try:
      offset, length = (int(v) for v in offsets[name])
      blob = database[offset:offset + length]
      (expected_length,) = struct.unpack(">i", blob[:4])
      serialized = zlib.decompress(blob[4:])
      if len(serialized) != expected_length:
        raise ValueError(f"object {name!r} holds {len(serialized)} bytes, its header says "
                         f"{expected_length}")
      lines = _parse_r_object(serialized)
    except Exception as error:
      raise _corrupt(corpus_dir / "Rdata.rdb", error) from error
    novels[name] = "\n".join("" if line is None else str(line) for line in lines)  # type: ignore[union-attr]
  return novels


def _corrupt(path: Path, error: Exception) -> paths.DatasetCorruptError:
  """The error for a damaged corpus file, with advice for the folder that holds it."""
  unpacked = paths.data_root() / "debian"
  if path.resolve().is_relative_to(unpacked.resolve()):
    advice = f"Delete {unpacked} and run `{paths.SETUP_COMMAND}` to unpack it again."
  else:
    advice = (f"Restore {path.parent} (unpack r-cran-janeaustenr there again: `apt-get download "
              "r-cran-janeaustenr && dpkg -x r-cran-janeaustenr_*.deb DIR`), or leave out "
              f"--data_dir to use the copy `{paths.SETUP_COMMAND}` unpacks.")
  return paths.DatasetCorruptError(f"{path} is damaged ({type(error).__name__}: {error}). {advice}")


def split_novels(novels: Mapping[str, str], validation_fraction: float,
                 test_fraction: float) -> dict[str, np.ndarray]:
  """Byte tokens per split: from each novel, the head is train, then validation, then test.

  Cuts fall on line boundaries, so no line is shared between splits.
  """
  parts: dict[str, list[bytes]] = {"train": [], "validation": [], "test": []}
  for name in NOVELS:
    for split, data in split_novel(novels[name], validation_fraction, test_fraction).items():
      parts[split].append(data)
  return {split: np.frombuffer(b"\n".join(chunks), dtype=np.uint8).copy()
          for split, chunks in parts.items()}


def split_novel(text: str, validation_fraction: float, test_fraction: float) -> dict[str, bytes]:
  """One novel's UTF-8 bytes cut on line boundaries: head train, then validation, then test."""
  data = text.encode("utf-8")
  valid_start = _line_boundary(data, 1.0 - validation_fraction - test_fraction)
  test_start = _line_boundary(data, 1.0 - test_fraction)
  return {"train": data[:valid_start], "validation": data[valid_start:test_start],
          "test": data[test_start:]}


def _line_boundary(data: bytes, fraction: float) -> int:
  position = data.find(b"\n", int(len(data) * fraction))
  return len(data) if position < 0 else position + 1
