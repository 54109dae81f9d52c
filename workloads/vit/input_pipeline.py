"""Image splits for the ViT and the grain pipelines that batch them.

Three sources: `fashion_mnist` (Debian's IDX files, 28×28 grey), `cifar10` (python pickle
batches, 32×32 RGB) and `imagenet_folders` (class-per-folder JPEGs, decoded on demand). For the
first two the last `validation_holdout` training images are the validation split and the
official test images the test split. Inputs are normalised per channel with the training
split's mean and standard deviation (ImageNet: the customary published values).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import grain
import numpy as np

from algoperf_lab.data.batch_size import BatchSizeError
from workloads.vit import fashion_mnist, image_folders

SOURCES = ("fashion_mnist", "cifar10", "imagenet_folders")
SPLITS = ("train", "validation", "test")
NUM_CHANNELS = {"fashion_mnist": 1, "cifar10": 3, "imagenet_folders": 3}
IMAGENET_MEAN = 255.0 * np.array([0.485, 0.456, 0.406])
IMAGENET_STD = 255.0 * np.array([0.229, 0.224, 0.225])
_STATS_CHUNK = 4096  # images per chunk when summing pixel statistics


@dataclasses.dataclass(frozen=True)
class VitDataConfig:
  source: str
  image_size: int  # the side of the square the model sees
  validation_holdout: int  # fashion_mnist, cifar10: the last N training images validate
  random_crop: bool  # train: a random image_size crop of the image padded by crop_padding
  crop_padding: int
  random_flip: bool  # train: mirror left-right with probability 1/2
  num_eval_train_examples: int
  num_validation_examples: int
  num_test_examples: int
  eval_batch_size: int
  cache_eval_on_device: bool = True  # False: eval batches are read again at every eval
  decode_size: int = 256  # imagenet_folders: shorter side resized to this, center-cropped
  read_threads: int = 1

  def __post_init__(self) -> None:
    if self.source not in SOURCES:
      raise ValueError(f"data.source {self.source!r} unknown; choose from {SOURCES}.")
    if self.crop_padding < 0:
      raise ValueError(f"data.crop_padding={self.crop_padding} must be >= 0.")


class ImageSource(Protocol):
  """Random access to (uint8 [S, S, C] image, int label) pairs."""

  def __len__(self) -> int: ...

  def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...


@dataclasses.dataclass(frozen=True)
class ArrayImages:
  """An ImageSource over images uint8 [N, S, S, C] and labels int32 [N] held in memory."""

  images: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
    return self.images[index], self.labels[index]


@dataclasses.dataclass(frozen=True)
class ImageSplits:
  sources: Mapping[str, ImageSource]
  mean: np.ndarray  # float32 [C], pixel units
  std: np.ndarray  # float32 [C]
  num_classes: int


# -- loading -------------------------------------------------------------------------------------
def load_splits(config: VitDataConfig, data_dir: str | None) -> ImageSplits:
  if config.source == "imagenet_folders":
    return _imagenet_splits(config, data_dir)
  if config.source == "fashion_mnist":
    folder = fashion_mnist.find_dir(data_dir)
    train, test = (fashion_mnist.read_split(folder, split) for split in ("train", "test"))
  else:
    folder = image_folders.find_cifar_dir(data_dir)
    train, test = (image_folders.read_cifar(folder, split) for split in ("train", "test"))
  return array_splits(train, test, config.validation_holdout, num_classes=10)


def array_splits(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                 validation_holdout: int, num_classes: int) -> ImageSplits:
  """Train = the head of the training images, validation = their last `validation_holdout`."""
  images, labels = train
  cut = len(labels) - validation_holdout
  if not 0 < validation_holdout < len(labels):
    raise ValueError(f"data.validation_holdout={validation_holdout} must be between 0 and the "
                     f"{len(labels)} training images.")
  mean, std = channel_stats(images[:cut])
  return ImageSplits(
      sources={"train": ArrayImages(images[:cut], labels[:cut]),
               "validation": ArrayImages(images[cut:], labels[cut:]),
               "test": ArrayImages(*test)},
      mean=mean, std=std, num_classes=num_classes)


def channel_stats(images_NxHxWxC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel pixel mean and standard deviation, summed in chunks (no big float copy)."""
  channels = images_NxHxWxC.shape[-1]
  total, total_sq = np.zeros(channels), np.zeros(channels)
  for start in range(0, len(images_NxHxWxC), _STATS_CHUNK):
    chunk = images_NxHxWxC[start:start + _STATS_CHUNK].reshape(-1, channels).astype(np.float64)
    total += chunk.sum(axis=0)
    total_sq += (chunk * chunk).sum(axis=0)
  count = images_NxHxWxC.size // channels
  mean = total / count
  std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
  return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def _imagenet_splits(config: VitDataConfig, data_dir: str | None) -> ImageSplits:
  root = image_folders.find_imagenet_dir(data_dir)
  classes = image_folders.class_names(root)
  source = functools.partial(_folder_source, classes=classes, size=config.decode_size)
  validation = source(root / "val")
  if (root / "test").is_dir():
    test = source(root / "test")
  else:  # without test/, alternate validation images serve as test (classes stay balanced)
    test = image_folders.FolderImages(validation.files[1::2], validation.labels[1::2],
                                      config.decode_size)
    validation = image_folders.FolderImages(validation.files[::2], validation.labels[::2],
                                            config.decode_size)
  return ImageSplits(sources={"train": source(root / "train"), "validation": validation,
                              "test": test},
                     mean=IMAGENET_MEAN.astype(np.float32), std=IMAGENET_STD.astype(np.float32),
                     num_classes=len(classes))


def _folder_source(split_dir: Path, classes: list[str], size: int) -> image_folders.FolderImages:
  files, labels = image_folders.list_images(split_dir, classes)
  return image_folders.FolderImages(files, labels, size)


# -- per-image transforms ------------------------------------------------------------------------
def center_crop(image_HxWxC: np.ndarray, size: int) -> np.ndarray:
  height, width = image_HxWxC.shape[:2]
  if height < size or width < size:
    raise ValueError(f"a {height}×{width} image is smaller than data.image_size={size}.")
  top, left = (height - size) // 2, (width - size) // 2
  return image_HxWxC[top:top + size, left:left + size]


def augment(config: VitDataConfig, item: tuple[np.ndarray, np.ndarray],
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """Training transform: a random (padded) crop and a random flip, as the config asks."""
  image_HxWxC, label = item
  if config.random_crop:
    pad = config.crop_padding
    padded = np.pad(image_HxWxC, ((pad, pad), (pad, pad), (0, 0)))
    top = int(rng.integers(0, padded.shape[0] - config.image_size + 1))
    left = int(rng.integers(0, padded.shape[1] - config.image_size + 1))
    image_HxWxC = padded[top:top + config.image_size, left:left + config.image_size]
  else:
    image_HxWxC = center_crop(image_HxWxC, config.image_size)
  if config.random_flip and rng.random() < 0.5:
    image_HxWxC = image_HxWxC[:, ::-1]
  return np.ascontiguousarray(image_HxWxC), label


def _evaluation_view(config: VitDataConfig,
                     item: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  image_HxWxC, label = item
  return center_crop(image_HxWxC, config.image_size), label


def to_batch(images_BxHxWxC: np.ndarray, labels_B: np.ndarray, mean: np.ndarray,
             std: np.ndarray) -> dict[str, np.ndarray]:
  """uint8 images and labels → AlgoPerf's batch keys: normalised inputs, targets, weights."""
  inputs = (images_BxHxWxC.astype(np.float32) - mean) / std
  return {"inputs": inputs.astype(np.float32), "targets": np.asarray(labels_B, np.int32),
          "weights": np.ones(len(labels_B), np.float32)}


def pad_batch(batch: dict[str, np.ndarray], batch_size: int) -> dict[str, np.ndarray]:
  """Pads a short batch to `batch_size` rows of weight 0 (one shape: one compiled eval step)."""
  missing = batch_size - len(batch["targets"])
  return {key: np.concatenate([value, np.zeros((missing, *value.shape[1:]), value.dtype)])
          for key, value in batch.items()}


# -- pipelines -----------------------------------------------------------------------------------
def _read_options(config: VitDataConfig) -> grain.ReadOptions:
  return grain.ReadOptions(num_threads=config.read_threads, prefetch_buffer_size=4)


def train_batches(splits: ImageSplits, config: VitDataConfig, global_batch_size: int,
                  seed: int) -> grain.IterDataset:
  """Shuffled, augmented training batches, reshuffled every epoch; deterministic for a seed.

  Iterating it yields numpy batches; its iterator's get_state/set_state gives the position.
  """
  source = splits.sources["train"]
  if len(source) < global_batch_size:
    raise BatchSizeError(f"batch size {global_batch_size} is larger than the {len(source)} "
                         f"images of the training split; use at most {len(source)} "
                         "(--config.batch_size, or a smaller get_batch_size).")
  dataset = (grain.MapDataset.range(len(source)).shuffle(seed=seed).repeat()
             .map(lambda index: source[int(index)])
             .random_map(functools.partial(augment, config), seed=seed)
             .batch(global_batch_size, drop_remainder=True)
             .map(lambda images_labels: to_batch(*images_labels, splits.mean, splits.std)))
  return dataset.to_iter_dataset(_read_options(config))


def eval_indices(num_images: int, num_examples: int) -> np.ndarray:
  """`num_examples` indices spread evenly over a split (all of it when it holds fewer)."""
  return np.unique(np.linspace(0, num_images - 1, min(num_examples, num_images)).astype(np.int64))


def eval_batches(splits: ImageSplits, split: str, config: VitDataConfig,
                 num_examples: int) -> grain.IterDataset:
  """A fixed subset of `split`, center-cropped, in batches of eval_batch_size (the last padded)."""
  source = splits.sources[split]
  indices = eval_indices(len(source), num_examples)
  dataset = (grain.MapDataset.source(indices)
             .map(lambda index: _evaluation_view(config, source[int(index)]))
             .batch(config.eval_batch_size, drop_remainder=False)
             .map(lambda images_labels: pad_batch(to_batch(*images_labels, splits.mean,
                                                           splits.std), config.eval_batch_size)))
  return dataset.to_iter_dataset(_read_options(config))
