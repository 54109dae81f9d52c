"""Reads Fashion-MNIST from Debian's dataset-fashion-mnist: four gzip'd IDX files.

An IDX file is a big-endian header, the magic number (2051 for images, 2049 for labels; its
last byte is the number of dimensions) and one uint32 per dimension, then the uint8 values in
row-major order. Images are 28×28 grey levels; labels are 0..9.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from algoperf_lab.data import paths

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_PACKAGE_DIR = Path("usr/share/datasets/fashion-mnist")
_ALL_FILES = tuple(name for pair in FILES.values() for name in pair)
HOW_TO_GET = (
    f"Run `{paths.SETUP_COMMAND}`, which installs Debian's dataset-fashion-mnist into "
    f"/{_PACKAGE_DIR} (by hand: `sudo apt-get install dataset-fashion-mnist`), or pass "
    f"--data_dir=DIR holding {', '.join(_ALL_FILES)}.")


def find_dir(data_dir: str | Path | None = None) -> Path:
  """The folder holding the four files: `data_dir` if given, else the known places."""
  if data_dir is not None:
    candidates = [Path(data_dir)]
  else:
    candidates = [paths.data_root() / "debian" / _PACKAGE_DIR, Path("/") / _PACKAGE_DIR]
  folder = paths.first_existing(candidates, FILES["train"][0], "Fashion-MNIST", HOW_TO_GET)
  missing = [name for name in _ALL_FILES if not (folder / name).is_file()]
  if missing:
    raise paths.DatasetNotFoundError(f"Fashion-MNIST in {folder} lacks {missing}. {HOW_TO_GET}")
  return folder


def read_idx(path: Path, magic: int) -> np.ndarray:
  """The uint8 array an IDX file holds; a damaged file raises DatasetCorruptError naming it."""
  try:
    data = gzip.decompress(path.read_bytes())
  except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
    raise _corrupt(path, f"{type(error).__name__}: {error}") from error
  ndim = magic & 0xFF
  header_bytes = 4 * (1 + ndim)
  if len(data) < header_bytes:
    raise _corrupt(path, f"{len(data)} bytes, shorter than the IDX header")
  found_magic, *shape = struct.unpack(f">{1 + ndim}I", data[:header_bytes])
  if found_magic != magic:
    raise _corrupt(path, f"magic number {found_magic}, expected {magic}")
  values = np.frombuffer(data, np.uint8, offset=header_bytes)
  if values.size != int(np.prod(shape)):
    raise _corrupt(path, f"{values.size} values, the header promises {shape}")
  return values.reshape(shape)


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
  """Images uint8 [N, 28, 28, 1] and labels int32 [N] of the 'train' (60k) or 'test' (10k) file."""
  images_file, labels_file = FILES[split]
  images = read_idx(folder / images_file, IMAGES_MAGIC)
  labels = read_idx(folder / labels_file, LABELS_MAGIC)
  if len(images) != len(labels):
    raise _corrupt(folder / labels_file, f"{len(labels)} labels for {len(images)} images")
  return images[..., None], labels.astype(np.int32)


def _corrupt(path: Path, reason: str) -> paths.DatasetCorruptError:
  return paths.DatasetCorruptError(
      f"{path} is damaged ({reason}). Reinstall it: `sudo apt-get install --reinstall "
      f"dataset-fashion-mnist`, or run `{paths.SETUP_COMMAND}` after deleting it.")
