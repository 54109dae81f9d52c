"""Readers for the larger image sets under --data_dir: CIFAR-10 and ImageNet.

CIFAR-10 (`small`): the "python version", `cifar-10-batches-py/` holding `data_batch_1` ..
`data_batch_5` and `test_batch`, each a pickled dict with b"data" (uint8 [10000, 3072], every
row the red, green then blue 32×32 planes) and b"labels" (10000 ints in 0..9). Pickles can run
code: read only files from a source you trust.

ImageNet (`full`): class-per-folder JPEGs, `train/<class>/*.JPEG` and `val/<class>/*.JPEG`,
plus an optional `test/<class>/*.JPEG` (e.g. ImageNet-v2 laid out the same way). Class ids are
the sorted folder names of `train/`. Images are decoded one at a time as the pipeline asks.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from algoperf_lab.data import paths

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
CIFAR_HOW_TO_GET = (
    "Download CIFAR-10's python version (cifar-10-python.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html), unpack it and pass --data_dir=DIR holding "
    f"{CIFAR_FOLDER}/ (or the folder itself).")
IMAGENET_HOW_TO_GET = (
    "Pass --data_dir=DIR holding ImageNet as class-per-folder JPEGs: DIR/train/<class>/*.JPEG "
    "and DIR/val/<class>/*.JPEG (optionally DIR/test/<class>/*.JPEG).")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


# -- CIFAR-10 ------------------------------------------------------------------------------------
def find_cifar_dir(data_dir: str | Path | None) -> Path:
  if data_dir is None:
    raise paths.DatasetNotFoundError(f"CIFAR-10 is read from --data_dir. {CIFAR_HOW_TO_GET}")
  folder = paths.first_existing([Path(data_dir) / CIFAR_FOLDER, Path(data_dir)],
                                CIFAR_TRAIN_FILES[0], "CIFAR-10", CIFAR_HOW_TO_GET)
  missing = [n for n in (*CIFAR_TRAIN_FILES, CIFAR_TEST_FILE) if not (folder / n).is_file()]
  if missing:
    raise paths.DatasetNotFoundError(f"CIFAR-10 in {folder} lacks {missing}. {CIFAR_HOW_TO_GET}")
  return folder


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
  """Images uint8 [N, 32, 32, 3] and labels int32 [N] of one pickled batch file."""
  try:
    with path.open("rb") as file:
      batch = pickle.load(file, encoding="bytes")
    data = np.asarray(batch[b"data"], np.uint8)
    labels = np.asarray(batch[b"labels"], np.int32)
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
  except Exception as error:  # unpickling, lookup and reshape errors alike
    raise paths.DatasetCorruptError(
        f"{path} is not a CIFAR-10 python batch ({type(error).__name__}: {error}). "
        f"{CIFAR_HOW_TO_GET}") from error
  if len(labels) != len(images):
    raise paths.DatasetCorruptError(f"{path} holds {len(labels)} labels for {len(images)} images.")
  return np.ascontiguousarray(images), labels


def read_cifar(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
  """The 50,000 'train' images (batches 1..5 in order) or the 10,000 'test' images."""
  names = CIFAR_TRAIN_FILES if split == "train" else (CIFAR_TEST_FILE,)
  parts = [read_cifar_batch(folder / name) for name in names]
  return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# -- ImageNet as class-per-folder JPEGs ----------------------------------------------------------
def find_imagenet_dir(data_dir: str | Path | None) -> Path:
  if data_dir is None:
    raise paths.DatasetNotFoundError(f"ImageNet is read from --data_dir. {IMAGENET_HOW_TO_GET}")
  root = Path(data_dir)
  for split in ("train", "val"):
    if not (root / split).is_dir():
      raise paths.DatasetNotFoundError(f"ImageNet not found: no folder {root / split}. "
                                       f"{IMAGENET_HOW_TO_GET}")
  return root


def class_names(root: Path) -> list[str]:
  names = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
  if not names:
    raise paths.DatasetNotFoundError(f"{root / 'train'} holds no class folders. "
                                     f"{IMAGENET_HOW_TO_GET}")
  return names


def list_images(split_dir: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
  """Every image under split_dir/<class>/, sorted, with its class id; unknown classes refused."""
  class_ids = {name: index for index, name in enumerate(classes)}
  files, labels = [], []
  for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
    if class_dir.name not in class_ids:
      raise paths.DatasetCorruptError(f"{class_dir}: class {class_dir.name!r} is not among the "
                                      "training classes.")
    found = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    files.extend(found)
    labels.extend([class_ids[class_dir.name]] * len(found))
  if not files:
    raise paths.DatasetNotFoundError(f"{split_dir} holds no images. {IMAGENET_HOW_TO_GET}")
  return files, np.asarray(labels, np.int32)


def decode_square(path: Path, size: int) -> np.ndarray:
  """uint8 [size, size, 3]: the image's shorter side resized to `size`, then center-cropped."""
  try:
    with Image.open(path) as image:
      image = image.convert("RGB")
      scale = size / min(image.size)
      width, height = (max(size, round(side * scale)) for side in image.size)
      image = image.resize((width, height), Image.Resampling.BILINEAR)
      left, top = (width - size) // 2, (height - size) // 2
      return np.asarray(image.crop((left, top, left + size, top + size)), np.uint8)
  except OSError as error:  # PIL's UnidentifiedImageError and truncated files are OSErrors
    raise paths.DatasetCorruptError(f"{path} is not a readable image ({error}).") from error


class FolderImages:
  """A random-access source of (uint8 [S, S, 3] image, int label), decoded on demand."""

  def __init__(self, files: list[Path], labels: np.ndarray, size: int):
    self.files, self.labels, self.size = files, labels, size

  def __len__(self) -> int:
    return len(self.files)

  def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
    return decode_square(self.files[index], self.size), self.labels[index]
