"""The ViT data: Fashion-MNIST (the real Debian files), the grain pipelines, CIFAR-10 and
ImageNet-folder readers (on small synthetic files)."""

from __future__ import annotations

import gzip
import pickle
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from algoperf_lab.data import paths
from configs import vit as vit_configs
from workloads.vit import fashion_mnist, image_folders, input_pipeline
from workloads.vit.input_pipeline import ArrayImages, ImageSplits, VitDataConfig

BATCH = 8


def _data_config(size: str = "tiny", **changes: Any) -> VitDataConfig:
  values = vit_configs.get_config(size).data.to_dict()
  return VitDataConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def folder() -> Path:
  return fashion_mnist.find_dir()


@pytest.fixture(scope="module")
def raw(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  return {split: fashion_mnist.read_split(folder, split) for split in ("train", "test")}


@pytest.fixture(scope="module")
def splits(raw: dict[str, tuple[np.ndarray, np.ndarray]]) -> ImageSplits:
  return input_pipeline.array_splits(raw["train"], raw["test"], 10_000, num_classes=10)


# -- Fashion-MNIST -------------------------------------------------------------------------------
def test_real_files_shapes_and_labels(raw: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
  for split, count in (("train", 60_000), ("test", 10_000)):
    images, labels = raw[split]
    assert images.shape == (count, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.int32
    assert set(np.unique(labels).tolist()) == set(range(10))
    assert np.bincount(labels).min() == count // 10  # Fashion-MNIST is balanced
    assert images.max() == 255 and images.min() == 0


def test_split_sizes_and_train_validation_disjoint(
    raw: dict[str, tuple[np.ndarray, np.ndarray]], splits: ImageSplits) -> None:
  assert {split: len(source) for split, source in splits.sources.items()} == {
      "train": 50_000, "validation": 10_000, "test": 10_000}
  images, labels = raw["train"]
  train, validation = splits.sources["train"], splits.sources["validation"]
  assert isinstance(train, ArrayImages) and isinstance(validation, ArrayImages)
  # Train is training-file indices [0, 50000), validation [50000, 60000): disjoint by index.
  np.testing.assert_array_equal(train.images, images[:50_000])
  np.testing.assert_array_equal(validation.images, images[50_000:])
  np.testing.assert_array_equal(validation.labels, labels[50_000:])
  assert set(np.unique(validation.labels).tolist()) == set(range(10))
  np.testing.assert_array_equal(splits.sources["test"].images, raw["test"][0])


def test_load_splits_reads_the_debian_files(splits: ImageSplits) -> None:
  loaded = input_pipeline.load_splits(_data_config(), data_dir=None)
  assert loaded.num_classes == 10
  np.testing.assert_array_equal(loaded.sources["validation"].images,
                                splits.sources["validation"].images)
  np.testing.assert_allclose(loaded.mean, splits.mean)


def test_normalisation_statistics(splits: ImageSplits) -> None:
  train = splits.sources["train"].images
  assert splits.mean.shape == splits.std.shape == (1,)
  sample = train[::50].astype(np.float64)  # 1,000 images agree with the chunked sums
  assert splits.mean[0] == pytest.approx(sample.mean(), rel=0.02)
  assert splits.std[0] == pytest.approx(sample.std(), rel=0.02)
  assert splits.mean[0] == pytest.approx(0.286 * 255, rel=0.01)  # the published values
  assert splits.std[0] == pytest.approx(0.353 * 255, rel=0.01)


def test_channel_stats_exact_on_small_array() -> None:
  images = np.random.default_rng(0).integers(0, 256, (9000, 2, 3, 3), dtype=np.uint8)
  mean, std = input_pipeline.channel_stats(images)
  flat = images.reshape(-1, 3).astype(np.float64)
  np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-6)
  np.testing.assert_allclose(std, flat.std(axis=0), rtol=1e-5)


def test_missing_dataset_says_how_to_get_it(tmp_path: Path) -> None:
  with pytest.raises(paths.DatasetNotFoundError) as error:
    fashion_mnist.find_dir(tmp_path)
  message = str(error.value)
  assert "dataset-fashion-mnist" in message and "scripts/setup.sh" in message
  assert str(tmp_path) in message
  with pytest.raises(paths.DatasetNotFoundError, match="scripts/setup.sh"):
    input_pipeline.load_splits(_data_config(), str(tmp_path))


def test_partial_dataset_names_missing_files(folder: Path, tmp_path: Path) -> None:
  shutil.copy(folder / "train-images-idx3-ubyte.gz", tmp_path)
  with pytest.raises(paths.DatasetNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
    fashion_mnist.find_dir(tmp_path)


def test_data_dir_may_hold_the_four_files(folder: Path, tmp_path: Path) -> None:
  for name in folder.iterdir():
    (tmp_path / name.name).symlink_to(name)
  assert fashion_mnist.find_dir(tmp_path) == tmp_path
  images, labels = fashion_mnist.read_split(tmp_path, "test")
  assert images.shape == (10_000, 28, 28, 1) and len(labels) == 10_000


def _copy_with(folder: Path, tmp_path: Path, name: str, data: bytes) -> Path:
  for other in folder.iterdir():
    shutil.copy(other, tmp_path)
  (tmp_path / name).write_bytes(data)
  return tmp_path / name


@pytest.mark.parametrize("kept_fraction", [0.5, 0.999])
def test_truncated_file_raises_a_clear_error(folder: Path, tmp_path: Path,
                                             kept_fraction: float) -> None:
  name = "t10k-labels-idx1-ubyte.gz"
  data = (folder / name).read_bytes()
  _copy_with(folder, tmp_path, name, data[:int(len(data) * kept_fraction)])
  with pytest.raises(paths.DatasetCorruptError) as error:
    fashion_mnist.read_split(tmp_path, "test")
  assert name in str(error.value) and "dataset-fashion-mnist" in str(error.value)


@pytest.mark.parametrize("payload, reason", [
    (struct.pack(">II", 2051, 3) + bytes(3), "magic number 2051"),
    (struct.pack(">II", 2049, 5) + bytes(3), "3 values"),
    (struct.pack(">H", 2049), "shorter than the IDX header"),
])
def test_damaged_idx_contents(folder: Path, tmp_path: Path, payload: bytes, reason: str) -> None:
  path = _copy_with(folder, tmp_path, "t10k-labels-idx1-ubyte.gz", gzip.compress(payload))
  with pytest.raises(paths.DatasetCorruptError, match=reason):
    fashion_mnist.read_idx(path, fashion_mnist.LABELS_MAGIC)


# -- training batches ----------------------------------------------------------------------------
def _first_batches(splits: ImageSplits, seed: int, count: int,
                   config: VitDataConfig | None = None) -> list[dict[str, np.ndarray]]:
  iterator = iter(input_pipeline.train_batches(splits, config or _data_config(), BATCH, seed))
  return [next(iterator) for _ in range(count)]


def test_train_batch_shapes_and_normalisation(splits: ImageSplits) -> None:
  (batch,) = _first_batches(splits, seed=0, count=1)
  assert set(batch) == {"inputs", "targets", "weights"}
  assert batch["inputs"].shape == (BATCH, 28, 28, 1) and batch["inputs"].dtype == np.float32
  assert batch["targets"].shape == (BATCH,) and batch["targets"].dtype == np.int32
  np.testing.assert_array_equal(batch["weights"], np.ones(BATCH, np.float32))
  pixels = batch["inputs"] * splits.std + splits.mean  # back to the stored grey levels
  train = splits.sources["train"]
  for image, label in zip(np.rint(pixels).astype(np.uint8), batch["targets"]):
    matches = np.flatnonzero((train.images == image).all(axis=(1, 2, 3)))
    assert len(matches) >= 1 and label in train.labels[matches]
  big = np.concatenate([b["inputs"] for b in _first_batches(splits, seed=0, count=64)])
  assert abs(float(big.mean())) < 0.1 and abs(float(big.std()) - 1.0) < 0.1


def test_train_batches_deterministic_per_seed(splits: ImageSplits) -> None:
  first = _first_batches(splits, seed=3, count=2)
  second = _first_batches(splits, seed=3, count=2)
  other = _first_batches(splits, seed=4, count=2)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    np.testing.assert_array_equal(a["targets"], b["targets"])
  assert not np.array_equal(first[0]["inputs"], other[0]["inputs"])
  assert not np.array_equal(first[0]["inputs"], first[1]["inputs"])


def test_train_iterator_state_resumes(splits: ImageSplits) -> None:
  config = _data_config(random_crop=True, crop_padding=2, random_flip=True)
  dataset = input_pipeline.train_batches(splits, config, BATCH, seed=7)
  iterator = iter(dataset)
  next(iterator), next(iterator)
  state = iterator.get_state()
  expected = [next(iterator) for _ in range(2)]
  resumed = iter(dataset)
  resumed.set_state(state)
  for want in expected:
    got = next(resumed)
    np.testing.assert_array_equal(got["inputs"], want["inputs"])
    np.testing.assert_array_equal(got["targets"], want["targets"])


def test_one_epoch_visits_every_image_once() -> None:
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
  splits = input_pipeline.array_splits((images, np.arange(20, dtype=np.int32)),
                                       (images[:4], np.zeros(4, np.int32)), 4, num_classes=10)
  config = _data_config(image_size=1)
  iterator = iter(input_pipeline.train_batches(splits, config, 4, seed=0))
  epochs = [np.concatenate([next(iterator)["targets"] for _ in range(4)]) for _ in range(2)]
  assert sorted(epochs[0].tolist()) == sorted(epochs[1].tolist()) == list(range(16))
  assert epochs[0].tolist() != epochs[1].tolist()  # reshuffled every epoch


def test_train_batches_refuse_too_small_split(splits: ImageSplits) -> None:
  with pytest.raises(ValueError, match="is larger than the"):
    input_pipeline.train_batches(splits, _data_config(), 60_000, seed=0)


def test_augment_crops_and_flips() -> None:
  config = _data_config(image_size=4, random_crop=True, crop_padding=1, random_flip=True)
  image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) + 1
  views = [input_pipeline.augment(config, (image, 3), np.random.default_rng(seed))[0]
           for seed in range(40)]
  assert all(view.shape == (4, 4, 1) for view in views)
  assert any(np.array_equal(view, image[:, ::-1]) for view in views)  # flipped, not shifted
  assert any((view == 0).any() for view in views)  # a crop that reaches into the padding
  assert any(np.array_equal(view, image) for view in views)
  plain = _data_config(image_size=2)
  np.testing.assert_array_equal(
      input_pipeline.augment(plain, (image, 3), np.random.default_rng(0))[0], image[1:3, 1:3])


# -- evaluation batches --------------------------------------------------------------------------
def test_eval_batches_pad_the_last_batch(splits: ImageSplits) -> None:
  config = _data_config(eval_batch_size=4)
  batches = list(input_pipeline.eval_batches(splits, "validation", config, num_examples=10))
  assert [b["inputs"].shape for b in batches] == [(4, 28, 28, 1)] * 3
  weights = np.concatenate([b["weights"] for b in batches])
  np.testing.assert_array_equal(weights, [1] * 10 + [0] * 2)
  chosen = input_pipeline.eval_indices(10_000, 10)
  assert chosen[0] == 0 and chosen[-1] == 9_999 and len(chosen) == 10
  targets = np.concatenate([b["targets"] for b in batches])[:10]
  np.testing.assert_array_equal(targets, splits.sources["validation"].labels[chosen])
  again = list(input_pipeline.eval_batches(splits, "validation", config, num_examples=10))
  np.testing.assert_array_equal(again[1]["inputs"], batches[1]["inputs"])


def test_eval_indices_capped_at_split_size() -> None:
  np.testing.assert_array_equal(input_pipeline.eval_indices(5, 100), np.arange(5))


# -- CIFAR-10 (synthetic files) -----------------------------------------------------------------
def _write_cifar(root: Path, per_file: int) -> Path:
  folder = root / image_folders.CIFAR_FOLDER
  folder.mkdir(parents=True)
  for index, name in enumerate((*image_folders.CIFAR_TRAIN_FILES, image_folders.CIFAR_TEST_FILE)):
    planes = np.stack([np.full((per_file, 1024), value, np.uint8) for value in (10, 20, 30)], 1)
    planes[:, 0, 0] = index  # the top-left red pixel names the file
    batch = {b"data": planes.reshape(per_file, 3072),
             b"labels": [i % 10 for i in range(per_file)]}
    with (folder / name).open("wb") as file:
      pickle.dump(batch, file)
  return folder


def test_cifar_reader_shapes_and_layout(tmp_path: Path) -> None:
  _write_cifar(tmp_path, per_file=20)
  config = _data_config("small", validation_holdout=10)
  splits = input_pipeline.load_splits(config, str(tmp_path))
  assert {split: len(source) for split, source in splits.sources.items()} == {
      "train": 90, "validation": 10, "test": 20}
  image, label = splits.sources["train"][21]
  assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and int(label) == 1
  assert image[0, 0, 0] == 1  # from data_batch_2: files are read in order
  np.testing.assert_array_equal(image[5, 7], [10, 20, 30])  # planes → channels
  assert splits.sources["test"][0][0][0, 0, 0] == 5
  assert splits.sources["validation"][0][0][0, 0, 0] == 4  # the tail of data_batch_5
  np.testing.assert_allclose(splits.mean, [10, 20, 30], atol=0.1)
  assert input_pipeline.load_splits(config, str(tmp_path / image_folders.CIFAR_FOLDER))
  batches = list(input_pipeline.eval_batches(splits, "test", config, num_examples=20))
  assert batches[0]["inputs"].shape == (config.eval_batch_size, 32, 32, 3)
  (batch,) = _first_batches(splits, seed=0, count=1, config=config)
  assert batch["inputs"].shape == (BATCH, 32, 32, 3)


def test_cifar_missing_and_damaged(tmp_path: Path) -> None:
  with pytest.raises(paths.DatasetNotFoundError, match="cifar-10-batches-py"):
    input_pipeline.load_splits(_data_config("small"), str(tmp_path))
  with pytest.raises(paths.DatasetNotFoundError, match="--data_dir"):
    input_pipeline.load_splits(_data_config("small"), None)
  folder = _write_cifar(tmp_path, per_file=2)
  (folder / "data_batch_3").write_bytes(b"not a pickle")
  with pytest.raises(paths.DatasetCorruptError, match="data_batch_3"):
    input_pipeline.load_splits(_data_config("small", validation_holdout=1), str(tmp_path))


# -- ImageNet as class-per-folder JPEGs (synthetic files) ---------------------------------------
def _write_folders(root: Path, split: str, per_class: int, classes: tuple[str, ...]) -> None:
  rng = np.random.default_rng(len(split))
  for class_id, name in enumerate(classes):
    (root / split / name).mkdir(parents=True)
    for index in range(per_class):
      pixels = rng.integers(0, 256, (30 + index, 40, 3), dtype=np.uint8)
      Image.fromarray(pixels).save(root / split / name / f"img_{index}.JPEG")
  (root / split / classes[0] / "notes.txt").write_text("not an image")


def _imagenet_config(**changes: Any) -> VitDataConfig:
  return _data_config("full", image_size=12, decode_size=16, eval_batch_size=4, read_threads=2,
                      **changes)


def test_imagenet_folders_shapes(tmp_path: Path) -> None:
  classes = ("n01", "n02", "n03")
  _write_folders(tmp_path, "train", 4, classes)
  _write_folders(tmp_path, "val", 2, classes)
  splits = input_pipeline.load_splits(_imagenet_config(), str(tmp_path))
  assert splits.num_classes == 3
  assert {split: len(source) for split, source in splits.sources.items()} == {
      "train": 12, "validation": 3, "test": 3}  # without test/, val is shared out in turn
  image, label = splits.sources["train"][5]
  assert image.shape == (16, 16, 3) and image.dtype == np.uint8 and int(label) == 1
  assert [int(splits.sources["validation"][i][1]) for i in range(3)] == [0, 1, 2]
  (batch,) = _first_batches(splits, seed=1, count=1, config=_imagenet_config())
  assert batch["inputs"].shape == (BATCH, 12, 12, 3) and batch["inputs"].dtype == np.float32
  assert set(batch["targets"].tolist()) <= {0, 1, 2}
  (eval_batch,) = list(input_pipeline.eval_batches(splits, "test", _imagenet_config(), 10))
  assert eval_batch["inputs"].shape == (4, 12, 12, 3)
  np.testing.assert_array_equal(eval_batch["weights"], [1, 1, 1, 0])


def test_imagenet_test_folder_is_used(tmp_path: Path) -> None:
  classes = ("a", "b")
  for split, per_class in (("train", 2), ("val", 3), ("test", 1)):
    _write_folders(tmp_path, split, per_class, classes)
  splits = input_pipeline.load_splits(_imagenet_config(), str(tmp_path))
  assert [len(splits.sources[s]) for s in input_pipeline.SPLITS] == [4, 6, 2]


def test_imagenet_errors(tmp_path: Path) -> None:
  with pytest.raises(paths.DatasetNotFoundError, match="train"):
    input_pipeline.load_splits(_imagenet_config(), str(tmp_path))
  _write_folders(tmp_path, "train", 1, ("a",))
  _write_folders(tmp_path, "val", 1, ("a", "z"))
  with pytest.raises(paths.DatasetCorruptError, match="'z' is not among"):
    input_pipeline.load_splits(_imagenet_config(), str(tmp_path))
  broken = tmp_path / "train" / "a" / "broken.JPEG"
  broken.write_bytes(b"\xff\xd8 not really a jpeg")
  with pytest.raises(paths.DatasetCorruptError, match="broken.JPEG"):
    image_folders.decode_square(broken, 16)


def test_decode_square_resizes_the_shorter_side_and_center_crops(tmp_path: Path) -> None:
  pixels = np.zeros((20, 40), np.uint8)
  pixels[:, 10:30] = 255  # a white middle half on black: the center square is all white
  Image.fromarray(pixels).save(tmp_path / "grey.png")
  square = image_folders.decode_square(tmp_path / "grey.png", 10)
  assert square.shape == (10, 10, 3) and square.dtype == np.uint8
  assert square[:, 1:-1].min() > 200
