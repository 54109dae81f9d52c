"""Token splits for the LM and the grain pipelines that cut them into training windows.

Two sources: `janeausten` (Debian's r-cran-janeaustenr, byte tokens) and `token_file` (a
pre-tokenised corpus as flat nanoGPT-style token files `train.bin` / `val.bin` [/ `test.bin`]
under --data_dir, read through numpy memmaps).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grain
import numpy as np

from algoperf_lab.data import paths
from algoperf_lab.data.batch_size import BatchSizeError
from workloads.lm import janeausten

SOURCES = ("janeausten", "token_file", "mixture")  # mixture: workloads/lm/mixture.py (lm_moe)
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class LmDataConfig:
  source: str
  seq_len: int
  validation_fraction: float
  test_fraction: float
  num_eval_train_examples: int
  num_validation_examples: int
  num_test_examples: int
  eval_batch_size: int
  token_dtype: str = "uint16"

  def __post_init__(self) -> None:
    if self.source not in SOURCES:
      raise ValueError(f"data.source {self.source!r} unknown; choose from {SOURCES}.")


def load_token_splits(config: LmDataConfig, data_dir: str | None) -> dict[str, np.ndarray]:
  """Every split's tokens as a 1-D integer array (memory-mapped for token files)."""
  if config.source == "janeausten":
    return _janeausten_splits(config, data_dir)
  if config.source == "mixture":
    raise ValueError("data.source='mixture' is read by workloads/lm/mixture.py: the lm_moe "
                     "workload serves it.")
  return _token_file_splits(config, data_dir)


def _janeausten_splits(config: LmDataConfig, data_dir: str | None) -> dict[str, np.ndarray]:
  """The splits, cached under a key of the corpus files' contents (a changed corpus at the same
  path is read again) and the split fractions; a damaged cache is rebuilt."""
  corpus_dir = janeausten.find_corpus_dir(data_dir)
  content = paths.content_fingerprint([corpus_dir / "Rdata.rdx", corpus_dir / "Rdata.rdb"])
  key = f"{content}|{config.validation_fraction}|{config.test_fraction}"
  cache = paths.data_root() / "cache" / f"janeausten_{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
  if cache.is_file():
    try:
      with np.load(cache, allow_pickle=False) as stored:
        return {split: stored[split] for split in SPLITS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
      print(f"algoperf-lab: the dataset cache {cache} is damaged ({type(error).__name__}); "
            "rebuilding it.", file=sys.stderr)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # rdata: "Unknown file type: assumed RDS"
    novels = janeausten.read_novels(corpus_dir)
  splits = janeausten.split_novels(novels, config.validation_fraction, config.test_fraction)
  _save_atomically(cache, splits)
  return splits


def _save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial{np.random.randint(1 << 30)}.npz")
    np.savez(partial, **arrays)
    partial.replace(path)
  except OSError:
    pass  # the cache only saves time


def _token_file_splits(config: LmDataConfig, data_dir: str | None) -> dict[str, np.ndarray]:
  how = ("Pass --data_dir=DIR holding train.bin and val.bin (flat token ids, dtype "
         f"{config.token_dtype}, the nanoGPT format); test.bin is optional.")
  if data_dir is None:
    raise paths.DatasetNotFoundError(f"the token-file LM needs a corpus on disk. {how}")
  folder = paths.first_existing([Path(data_dir)], "val.bin", "The token-file corpus", how)
  paths.first_existing([folder], "train.bin", "The token-file corpus", how)
  read = lambda name: np.memmap(folder / name, dtype=config.token_dtype, mode="r")  # noqa: E731
  validation = read("val.bin")
  if (folder / "test.bin").is_file():
    return {"train": read("train.bin"), "validation": validation, "test": read("test.bin")}
  half = len(validation) // 2  # without test.bin, the two halves of val.bin serve
  return {"train": read("train.bin"), "validation": validation[:half], "test": validation[half:]}


def num_windows(tokens: np.ndarray, seq_len: int) -> int:
  """How many non-overlapping (seq_len + 1)-token windows the array holds."""
  return (len(tokens) - 1) // seq_len


def window(tokens: np.ndarray, index: int, seq_len: int) -> np.ndarray:
  start = index * seq_len
  return np.asarray(tokens[start:start + seq_len + 1], dtype=np.int32)


def to_batch(windows_BxL1: np.ndarray) -> dict[str, np.ndarray]:
  """Windows of seq_len + 1 tokens → AlgoPerf's batch keys: inputs, targets, weights."""
  return {"inputs": windows_BxL1[:, :-1], "targets": windows_BxL1[:, 1:],
          "weights": np.ones(windows_BxL1[:, 1:].shape, np.float32)}


def train_batches(tokens: np.ndarray, seq_len: int, global_batch_size: int,
                  seed: int) -> grain.IterDataset:
  """Shuffled windows, reshuffled every epoch, batched; deterministic for a seed.

  Iterating it yields numpy batches; its iterator's get_state/set_state gives the position.
  """
  count = num_windows(tokens, seq_len)
  if count < global_batch_size:
    raise BatchSizeError(f"batch size {global_batch_size} is larger than the {count} windows of "
                         f"{seq_len + 1} tokens in the training split; use at most {count} "
                         "(--config.batch_size, or a smaller get_batch_size).")
  dataset = (grain.MapDataset.range(count).shuffle(seed=seed).repeat()
             .map(lambda index: window(tokens, index, seq_len))
             .batch(global_batch_size, drop_remainder=True)
             .map(to_batch))
  return dataset.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=4))


def eval_batches(tokens: np.ndarray, seq_len: int, num_examples: int,
                 batch_size: int) -> Iterator[dict[str, np.ndarray]]:
  """`num_examples` windows spread evenly over the split (covering every novel), batched."""
  count = num_windows(tokens, seq_len)
  chosen = np.unique(np.linspace(0, count - 1, min(num_examples, count)).astype(np.int64))
  for start in range(0, len(chosen), batch_size):
    yield to_batch(np.stack([window(tokens, int(i), seq_len) for i in chosen[start:start + batch_size]]))
