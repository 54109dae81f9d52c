"""The Jane Austen corpus (the real Debian files) and the LM input pipeline."""

from __future__ import annotations

import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from algoperf_lab.data import paths
from workloads.lm import input_pipeline, janeausten
from workloads.lm.input_pipeline import LmDataConfig

SEQ_LEN = 32
BATCH = 8
SYSTEM_CORPUS = Path("/") / "usr/lib/R/site-library/janeaustenr/data" / "Rdata.rdb"


def _read(corpus_dir: Path) -> dict[str, str]:
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # rdata: "Unknown file type: assumed RDS"
    return janeausten.read_novels(corpus_dir)


@pytest.fixture(scope="module")
def corpus_dir() -> Path:
  return janeausten.find_corpus_dir()


@pytest.fixture(scope="module")
def novels(corpus_dir: Path) -> dict[str, str]:
  return _read(corpus_dir)


@pytest.fixture(scope="module")
def splits(novels: dict[str, str]) -> dict[str, np.ndarray]:
  return janeausten.split_novels(novels, validation_fraction=0.05, test_fraction=0.05)


def _data_config(**changes: object) -> LmDataConfig:
  values = dict(source="janeausten", seq_len=SEQ_LEN, validation_fraction=0.05,
                test_fraction=0.05, num_eval_train_examples=16, num_validation_examples=16,
                num_test_examples=16, eval_batch_size=16)
  return LmDataConfig(**{**values, **changes})  # type: ignore[arg-type]


# -- the corpus ----------------------------------------------------------------------------------
def test_six_novels_about_four_megabytes(novels: dict[str, str]) -> None:
  assert set(novels) == set(janeausten.NOVELS) and len(novels) == 6
  sizes = {name: len(text.encode("utf-8")) for name, text in novels.items()}
  assert 3.9e6 <= sum(sizes.values()) <= 4.1e6
  assert all(size > 300_000 for size in sizes.values())


def test_pride_and_prejudice_opening(novels: dict[str, str]) -> None:
  text = novels["prideprejudice"]
  assert text.startswith("PRIDE AND PREJUDICE")
  assert "It is a truth universally acknowledged" in text[:200]
  assert "It is a truth universally acknowledged" not in novels["emma"]
  assert novels["emma"].startswith("EMMA")


def test_split_sizes(splits: dict[str, np.ndarray]) -> None:
  assert set(splits) == {"train", "validation", "test"}
  total = sum(len(tokens) for tokens in splits.values())
  assert 3.9e6 <= total <= 4.1e6
  assert len(splits["train"]) / total == pytest.approx(0.90, abs=0.005)
  assert len(splits["validation"]) / total == pytest.approx(0.05, abs=0.005)
  assert len(splits["test"]) / total == pytest.approx(0.05, abs=0.005)
  assert all(tokens.dtype == np.uint8 and tokens.ndim == 1 for tokens in splits.values())


@pytest.mark.parametrize("name", janeausten.NOVELS)
def test_each_novel_is_cut_on_lines_into_contiguous_parts(
    name: str, novels: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setattr(janeausten, "NOVELS", (name,))  # split this novel on its own
  parts = {split: tokens.tobytes()
           for split, tokens in janeausten.split_novels(novels, 0.05, 0.05).items()}
  data = novels[name].encode("utf-8")
  assert parts["train"] + parts["validation"] + parts["test"] == data
  assert parts["train"].endswith(b"\n") and parts["validation"].endswith(b"\n")
  assert len(parts["validation"]) / len(data) == pytest.approx(0.05, abs=0.005)
  assert len(parts["test"]) / len(data) == pytest.approx(0.05, abs=0.005)


def test_splits_are_the_novels_parts_joined(novels: dict[str, str],
                                             splits: dict[str, np.ndarray]) -> None:
  chunks: dict[str, list[bytes]] = {"train": [], "validation": [], "test": []}
  for name in janeausten.NOVELS:
    data = novels[name].encode("utf-8")
    train_end = data.find(b"\n", int(len(data) * 0.90)) + 1
    validation_end = data.find(b"\n", int(len(data) * 0.95)) + 1
    for split, (start, end) in {"train": (0, train_end),
                                "validation": (train_end, validation_end),
                                "test": (validation_end, len(data))}.items():
      chunks[split].append(data[start:end])
  for split, parts in chunks.items():
    assert splits[split].tobytes() == b"\n".join(parts)


def test_long_validation_and_test_lines_are_not_in_train(splits: dict[str, np.ndarray]) -> None:
  train = splits["train"].tobytes()
  for split in ("validation", "test"):
    lines = [line for line in splits[split].tobytes().split(b"\n") if len(line) > 60]
    assert len(lines) > 100
    for line in lines[::50]:
      assert line not in train


# -- errors --------------------------------------------------------------------------------------
def test_missing_corpus_says_how_to_get_it(tmp_path: Path) -> None:
  with pytest.raises(paths.DatasetNotFoundError) as error:
    janeausten.find_corpus_dir(tmp_path)
  message = str(error.value)
  assert "r-cran-janeaustenr" in message
  assert "scripts/setup.sh" in message
  assert str(tmp_path) in message
  assert isinstance(error.value, FileNotFoundError)


@pytest.mark.skipif(SYSTEM_CORPUS.is_file(), reason="the system-wide corpus would be found")
def test_missing_corpus_under_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))
  with pytest.raises(paths.DatasetNotFoundError, match="r-cran-janeaustenr"):
    janeausten.find_corpus_dir()
  with pytest.raises(paths.DatasetNotFoundError, match="scripts/setup.sh"):
    input_pipeline.load_token_splits(_data_config(), data_dir=None)


def test_find_corpus_dir_accepts_package_root(corpus_dir: Path, tmp_path: Path) -> None:
  package_root = corpus_dir.parents[len(Path("usr/lib/R/site-library/janeaustenr/data").parts) - 1]
  assert janeausten.find_corpus_dir(package_root) == corpus_dir
  assert janeausten.find_corpus_dir(corpus_dir) == corpus_dir


@pytest.mark.parametrize("kept_fraction", [0.5, 0.999])
def test_truncated_database_raises_a_clear_error(corpus_dir: Path, tmp_path: Path,
                                                 kept_fraction: float) -> None:
  shutil.copy(corpus_dir / "Rdata.rdx", tmp_path / "Rdata.rdx")
  database = (corpus_dir / "Rdata.rdb").read_bytes()
  (tmp_path / "Rdata.rdb").write_bytes(database[:int(len(database) * kept_fraction)])
  with pytest.raises(paths.DatasetCorruptError) as error:
    _read(tmp_path)
  assert not isinstance(error.value, (zlib.error, struct.error))
  assert "Rdata.rdb" in str(error.value) and "scripts/setup.sh" in str(error.value)


# -- the janeausten source through load_token_splits ---------------------------------------------
def test_load_token_splits_janeausten_caches(corpus_dir: Path, splits: dict[str, np.ndarray],
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))  # the cache goes here
  loaded = input_pipeline.load_token_splits(_data_config(), str(corpus_dir))
  assert {split: tokens.tobytes() for split, tokens in loaded.items()} == \
      {split: tokens.tobytes() for split, tokens in splits.items()}
  assert len(list((tmp_path / "cache").glob("janeausten_*.npz"))) == 1
  again = input_pipeline.load_token_splits(_data_config(), str(corpus_dir))
  np.testing.assert_array_equal(again["validation"], splits["validation"])


# -- training batches ----------------------------------------------------------------------------
def _first_batches(tokens: np.ndarray, seed: int, count: int) -> list[dict[str, np.ndarray]]:
  iterator = iter(input_pipeline.train_batches(tokens, SEQ_LEN, BATCH, seed))
  return [next(iterator) for _ in range(count)]


def test_train_batches_shapes_and_shift(splits: dict[str, np.ndarray]) -> None:
  (batch,) = _first_batches(splits["train"], seed=0, count=1)
  assert set(batch) == {"inputs", "targets", "weights"}
  for key in ("inputs", "targets"):
    assert batch[key].shape == (BATCH, SEQ_LEN)
    assert batch[key].dtype == np.int32
  np.testing.assert_array_equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
  np.testing.assert_array_equal(batch["weights"], np.ones((BATCH, SEQ_LEN), np.float32))
  train_bytes = splits["train"].tobytes()
  for row_inputs, row_targets in zip(batch["inputs"], batch["targets"]):
    window = np.append(row_inputs, row_targets[-1]).astype(np.uint8).tobytes()
    assert _is_aligned_window(train_bytes, window)


def _is_aligned_window(data: bytes, window: bytes) -> bool:
  """Whether `window` occurs in `data` at a multiple of SEQ_LEN (a window the pipeline cuts)."""
  start = data.find(window)
  while start >= 0:
    if start % SEQ_LEN == 0:
      return True
    start = data.find(window, start + 1)
  return False


def test_train_batches_deterministic_per_seed(splits: dict[str, np.ndarray]) -> None:
  first = _first_batches(splits["train"], seed=3, count=2)
  second = _first_batches(splits["train"], seed=3, count=2)
  other = _first_batches(splits["train"], seed=4, count=2)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
  assert not np.array_equal(first[0]["inputs"], other[0]["inputs"])
  assert not np.array_equal(first[0]["inputs"], first[1]["inputs"])


def test_train_iterator_state_resumes(splits: dict[str, np.ndarray]) -> None:
  dataset = input_pipeline.train_batches(splits["train"], SEQ_LEN, BATCH, seed=7)
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


def test_train_batches_refuse_too_small_split() -> None:
  with pytest.raises(ValueError, match="is larger than the"):
    input_pipeline.train_batches(np.arange(100, dtype=np.uint8), SEQ_LEN, BATCH, seed=0)


# -- evaluation batches --------------------------------------------------------------------------
def test_eval_batches_spread_over_the_split(splits: dict[str, np.ndarray]) -> None:
  tokens = splits["validation"]
  count = input_pipeline.num_windows(tokens, SEQ_LEN)
  batches = list(input_pipeline.eval_batches(tokens, SEQ_LEN, num_examples=10, batch_size=4))
  assert [len(b["inputs"]) for b in batches] == [4, 4, 2]
  inputs = np.concatenate([b["inputs"] for b in batches])
  targets = np.concatenate([b["targets"] for b in batches])
  expected_indices = np.linspace(0, count - 1, 10).astype(np.int64)
  for row, index in enumerate(expected_indices):
    window = input_pipeline.window(tokens, int(index), SEQ_LEN)
    np.testing.assert_array_equal(inputs[row], window[:-1])
    np.testing.assert_array_equal(targets[row], window[1:])
  np.testing.assert_array_equal(inputs[0], tokens[:SEQ_LEN])  # the first window ...
  last_start = (count - 1) * SEQ_LEN
  np.testing.assert_array_equal(inputs[-1], tokens[last_start:last_start + SEQ_LEN])  # ... the last


def test_eval_batches_deterministic_and_capped(splits: dict[str, np.ndarray]) -> None:
  tokens = splits["test"][:SEQ_LEN * 5 + 1]  # exactly five windows
  first = list(input_pipeline.eval_batches(tokens, SEQ_LEN, num_examples=100, batch_size=16))
  second = list(input_pipeline.eval_batches(tokens, SEQ_LEN, num_examples=100, batch_size=16))
  assert len(first) == 1 and first[0]["inputs"].shape == (5, SEQ_LEN)
  np.testing.assert_array_equal(first[0]["inputs"], second[0]["inputs"])
  np.testing.assert_array_equal(first[0]["inputs"].reshape(-1), tokens[:-1])


# -- the token_file source -----------------------------------------------------------------------
def _token_config() -> LmDataConfig:
  return _data_config(source="token_file", token_dtype="uint16")


def test_token_file_splits_without_test_bin(tmp_path: Path) -> None:
  np.arange(1000, dtype=np.uint16).tofile(tmp_path / "train.bin")
  (np.arange(200, dtype=np.uint16) + 50_000).tofile(tmp_path / "val.bin")
  loaded = input_pipeline.load_token_splits(_token_config(), str(tmp_path))
  assert {split: tokens.shape for split, tokens in loaded.items()} == {
      "train": (1000,), "validation": (100,), "test": (100,)}
  assert loaded["train"].dtype == np.uint16
  assert int(loaded["train"][999]) == 999
  assert int(loaded["validation"][0]) == 50_000 and int(loaded["test"][0]) == 50_100


def test_token_file_splits_with_test_bin(tmp_path: Path) -> None:
  np.arange(1000, dtype=np.uint16).tofile(tmp_path / "train.bin")
  np.arange(200, dtype=np.uint16).tofile(tmp_path / "val.bin")
  np.arange(300, dtype=np.uint16).tofile(tmp_path / "test.bin")
  loaded = input_pipeline.load_token_splits(_token_config(), str(tmp_path))
  assert [len(loaded[split]) for split in input_pipeline.SPLITS] == [1000, 200, 300]


def test_token_file_needs_data_dir() -> None:
  with pytest.raises(paths.DatasetNotFoundError, match="--data_dir"):
    input_pipeline.load_token_splits(_token_config(), None)


@pytest.mark.parametrize("present, missing", [("train.bin", "val.bin"),
                                              ("val.bin", "train.bin")])
def test_token_file_missing_file(tmp_path: Path, present: str, missing: str) -> None:
  np.arange(100, dtype=np.uint16).tofile(tmp_path / present)
  with pytest.raises(paths.DatasetNotFoundError, match=f"no {missing}"):
    input_pipeline.load_token_splits(_token_config(), str(tmp_path))


def test_unknown_source() -> None:
  with pytest.raises(ValueError, match="unknown"):
    _data_config(source="wikipedia")


# -- issue 13: a damaged or changed corpus, a damaged cache --------------------------------------
def test_damaged_corpus_under_data_dir_names_that_folder(corpus_dir: Path, tmp_path: Path) -> None:
  """The advice used to be to delete the default data folder, whatever folder was damaged."""
  shutil.copy(corpus_dir / "Rdata.rdx", tmp_path / "Rdata.rdx")
  (tmp_path / "Rdata.rdb").write_bytes((corpus_dir / "Rdata.rdb").read_bytes()[:1000])
  with pytest.raises(paths.DatasetCorruptError) as error:
    _read(tmp_path)
  assert f"Restore {tmp_path} " in str(error.value)
  assert f"Delete {paths.data_root() / 'debian'}" not in str(error.value)


def test_damaged_corpus_under_the_data_root_says_delete_it(corpus_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))
  folder = tmp_path / "debian" / "janeaustenr"
  folder.mkdir(parents=True)
  shutil.copy(corpus_dir / "Rdata.rdb", folder / "Rdata.rdb")
  (folder / "Rdata.rdx").write_bytes(b"not gzip")
  with pytest.raises(paths.DatasetCorruptError, match=f"Delete {tmp_path / 'debian'} and run"):
    _read(folder)


def test_a_changed_corpus_at_the_same_path_is_not_served_from_the_cache(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "root"))
  copy = tmp_path / "corpus"
  copy.mkdir()
  for name in ("Rdata.rdx", "Rdata.rdb"):
    shutil.copy(corpus_dir / name, copy / name)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    input_pipeline.load_token_splits(_data_config(), str(copy))
    (copy / "Rdata.rdb").write_bytes((corpus_dir / "Rdata.rdb").read_bytes()[:1000])
    with pytest.raises(paths.DatasetCorruptError):  # read again, not the stale cache
      input_pipeline.load_token_splits(_data_config(), str(copy))


def test_a_truncated_cache_is_rebuilt_naming_it(corpus_dir: Path, splits: dict[str, np.ndarray],
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))
  input_pipeline.load_token_splits(_data_config(), str(corpus_dir))
  (cache,) = (tmp_path / "cache").glob("janeausten_*.npz")
  cache.write_bytes(cache.read_bytes()[:len(cache.read_bytes()) // 2])
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    loaded = input_pipeline.load_token_splits(_data_config(), str(corpus_dir))
  np.testing.assert_array_equal(loaded["train"], splits["train"])
  assert str(cache) in capsys.readouterr().err


def test_an_rdb_without_its_rdx_is_named_not_a_file_not_found(tmp_path: Path) -> None:
  """Issue 20: a garbage Rdata.rdb without Rdata.rdx gave a FileNotFoundError traceback."""
  (tmp_path / "Rdata.rdb").write_bytes(b"garbage")
  with pytest.raises(paths.DatasetNotFoundError, match="holds Rdata.rdb but not its index "
                                                       "Rdata.rdx"):
    janeausten.find_corpus_dir(tmp_path)
