"""The two-domain corpus of lm_moe (real Austen novels and the real stdlib) and its pipelines."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from algoperf_lab.data import paths
from workloads.lm import janeausten, mixture
from workloads.lm.mixture import AUSTEN, PYTHON, MixtureDataConfig, MixtureSplit

SEQ_LEN = 64
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _config(**changes: object) -> MixtureDataConfig:
  values = dict(seq_len=SEQ_LEN, validation_fraction=0.05, test_fraction=0.05,
                num_eval_train_examples=32, num_validation_examples=32, num_test_examples=32,
                eval_batch_size=16)
  return MixtureDataConfig(**{**values, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def corpus_dir() -> Path:
  return janeausten.find_corpus_dir()


@pytest.fixture(scope="module")
def splits(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, MixtureSplit]:
  with pytest.MonkeyPatch.context() as patch:  # a private cache folder
    patch.setenv(paths.DATA_ROOT_ENV, str(tmp_path_factory.mktemp("data_root")))
    return mixture.load_mixture_splits(_config(), str(corpus_dir))


def _python_names(split: MixtureSplit) -> set[str]:
  return {split.source_names[i] for i in np.unique(split.source_id[split.domain == PYTHON])}


# -- the corpus ----------------------------------------------------------------------------------
def test_arrays_align(splits: dict[str, MixtureSplit]) -> None:
  for split in splits.values():
    assert split.tokens.dtype == np.uint8 and split.domain.dtype == np.int8
    assert split.source_id.dtype == np.int32
    assert split.tokens.shape == split.domain.shape == split.source_id.shape
    assert split.segments[0, 0] == 0 and split.segments[-1, 1] == len(split.tokens)
    assert np.array_equal(split.segments[1:, 0], split.segments[:-1, 1])
  assert splits["train"].source_names == splits["test"].source_names


def test_equal_bytes_per_domain_in_every_split(splits: dict[str, MixtureSplit]) -> None:
  for name, split in splits.items():
    counts = split.domain_bytes()
    assert counts["python"] <= counts["austen"]  # files are taken while they fit the budget
    assert counts["python"] == pytest.approx(counts["austen"], rel=0.02), name
  train = splits["train"]
  assert 7.0e6 < len(train.tokens) < 7.6e6  # 90% of the ~4 MB of novels, twice
  starts = mixture.window_starts(train, SEQ_LEN)
  assert np.mean(train.domain[starts] == PYTHON) == pytest.approx(0.5, abs=0.02)


def test_austen_parts_are_the_dense_lms_splits(corpus_dir: Path,
                                               splits: dict[str, MixtureSplit]) -> None:
  """Each split's Austen segments, joined as the dense LM joins novels, are its split."""
  with pytest.warns(UserWarning, match="RDS"):  # rdata, on every read
    novels = janeausten.read_novels(corpus_dir)
  dense = janeausten.split_novels(novels, 0.05, 0.05)
  for name, split in splits.items():
    novels = [split.tokens[a:b].tobytes() for a, b in split.segments if split.domain[a] == AUSTEN]
    assert [split.source_names[split.source_id[a]] for a, _ in split.segments[:6]] == list(
        janeausten.NOVELS)
    assert b"\n".join(novels) == dense[name].tobytes()


def test_python_segments_are_whole_stdlib_files(splits: dict[str, MixtureSplit]) -> None:
  for split in splits.values():
    for start, end in split.segments:
      if split.domain[start] == PYTHON:
        relative = split.source_names[split.source_id[start]]
        assert split.tokens[start:end].tobytes() == (STDLIB / relative).read_bytes()


def test_python_files_are_disjoint_across_splits(splits: dict[str, MixtureSplit]) -> None:
  names = {split: _python_names(data) for split, data in splits.items()}
  assert len(names["train"]) > 100 and len(names["validation"]) >= 5 and len(names["test"]) >= 5
  assert not names["train"] & names["validation"]
  assert not names["train"] & names["test"]
  assert not names["validation"] & names["test"]


def test_file_list_is_sorted_and_leaves_out_tests_and_third_party() -> None:
  listed = mixture.python_files(STDLIB)
  assert listed == sorted(listed)
  assert {"os.py", "json/decoder.py", "collections/__init__.py"} <= set(listed)
  for relative in listed:
    assert not {"site-packages", "test", "tests", "idle_test", "encodings"} & set(
        relative.split("/")[:-1]), relative
    assert not relative.startswith(("config-", "_sysconfigdata")), relative
  assert (STDLIB / "test").is_dir()  # the exclusions are doing something here
  assert list(STDLIB.glob("_sysconfigdata*.py")) and list(STDLIB.glob("config-*/*.py"))


def test_a_files_split_does_not_depend_on_the_other_files() -> None:
  listed = mixture.python_files(STDLIB)
  full = {r: s for s, rs in mixture.assign_python_splits(listed, 0.05, 0.05).items() for r in rs}
  subset = listed[::7]
  part = {r: s for s, rs in mixture.assign_python_splits(subset, 0.05, 0.05).items() for r in rs}
  assert all(part[r] == full[r] for r in subset)
  shares = {s: sum(v == s for v in full.values()) / len(full) for s in mixture.SPLITS}
  assert shares["validation"] == pytest.approx(0.05, abs=0.03)


def test_fill_budget_skips_files_that_do_not_fit() -> None:
  sizes = {"a": 5, "b": 8, "c": 2, "d": 3}
  assert mixture.fill_budget(["a", "b", "c", "d"], sizes, budget=10) == ["a", "c", "d"]
  assert mixture.fill_budget(["b", "a"], sizes, budget=7) == ["a"]


# -- windows and batches -------------------------------------------------------------------------
def test_window_starts_by_hand() -> None:
  lengths = np.array([10, 3, 30])
  split = mixture._from_segments(np.zeros(43, np.uint8), lengths, np.array([0, 1, 1], np.int8),
                                 np.array([0, 1, 2], np.int32), ("n", "short.py", "long.py"))
  # seq_len 4 → windows of 5 tokens: [0,5) [4,9) in the first; none in the 3-token source;
  # [13,18) ... [37,42) in the last (43 would run past its end).
  assert mixture.window_starts(split, 4).tolist() == [0, 4, 13, 17, 21, 25, 29, 33, 37]


def test_windows_never_straddle_a_source(splits: dict[str, MixtureSplit]) -> None:
  for split in splits.values():
    starts = mixture.window_starts(split, SEQ_LEN)
    last = starts + SEQ_LEN  # the window's final token
    assert np.array_equal(split.source_id[starts], split.source_id[last])
    assert np.array_equal(split.domain[starts], split.domain[last])


def test_train_batches_are_tagged_windows_of_one_source(splits: dict[str, MixtureSplit]) -> None:
  train = splits["train"]
  tags = {train.tokens[s:s + SEQ_LEN + 1].tobytes(): (int(train.domain[s]), int(train.source_id[s]))
          for s in mixture.window_starts(train, SEQ_LEN)}
  batches = iter(mixture.train_batches(train, SEQ_LEN, batch_size=16, seed=0))
  for _ in range(3):
    batch = next(batches)
    assert batch["inputs"].shape == batch["targets"].shape == batch["weights"].shape == (16, SEQ_LEN)
    assert batch["inputs"].dtype == batch["targets"].dtype == np.int32
    assert batch["domain"].shape == batch["source_id"].shape == (16,)
    assert batch["domain"].dtype == batch["source_id"].dtype == np.int32
    assert np.array_equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    for i in range(16):
      window = np.concatenate([batch["inputs"][i], batch["targets"][i, -1:]]).astype(np.uint8)
      assert tags[window.tobytes()] == (batch["domain"][i], batch["source_id"][i])


def _first(split: MixtureSplit, seed: int, count: int) -> list[dict[str, np.ndarray]]:
  batches = iter(mixture.train_batches(split, SEQ_LEN, batch_size=8, seed=seed))
  return [next(batches) for _ in range(count)]


def _same(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> bool:
  return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


def test_train_batches_are_deterministic_given_the_seed(splits: dict[str, MixtureSplit]) -> None:
  assert _same(_first(splits["train"], 3, 3), _first(splits["train"], 3, 3))
  assert not _same(_first(splits["train"], 3, 3), _first(splits["train"], 4, 3))


def test_train_batches_resume_from_a_saved_state(splits: dict[str, MixtureSplit]) -> None:
  batches = iter(mixture.train_batches(splits["train"], SEQ_LEN, batch_size=8, seed=1))
  next(batches), next(batches)
  state = batches.get_state()
  expected = [next(batches), next(batches)]
  resumed = iter(mixture.train_batches(splits["train"], SEQ_LEN, batch_size=8, seed=1))
  resumed.set_state(state)
  assert _same([next(resumed), next(resumed)], expected)


def test_eval_batches_take_half_per_domain_and_cover_the_novels(
    splits: dict[str, MixtureSplit]) -> None:
  validation = splits["validation"]
  batches = list(mixture.eval_batches(validation, SEQ_LEN, num_examples=37, batch_size=16))
  assert [len(b["inputs"]) for b in batches] == [16, 16, 5]
  domain = np.concatenate([b["domain"] for b in batches])
  assert (np.sum(domain == AUSTEN), np.sum(domain == PYTHON)) == (19, 18)
  sources = set(np.concatenate([b["source_id"] for b in batches]).tolist())
  assert set(range(6)) <= sources  # every novel
  again = list(mixture.eval_batches(validation, SEQ_LEN, num_examples=37, batch_size=16))
  assert _same(batches, again)
  assert set(batches[0]) == {"inputs", "targets", "weights", "domain", "source_id"}


def test_too_few_windows_for_a_batch_is_a_clear_error() -> None:
  split = mixture._from_segments(np.zeros(20, np.uint8), np.array([20]), np.array([0], np.int8),
                                 np.array([0], np.int32), ("n",))
  with pytest.raises(ValueError, match="is larger than the"):
    mixture.train_batches(split, 4, batch_size=8, seed=0)


# -- the cache -----------------------------------------------------------------------------------
@pytest.fixture()
def small_stdlib(tmp_path: Path) -> Path:
  """A copy of a few real stdlib packages and modules, plus a test folder that must not count."""
  root = tmp_path / "stdlib"
  for package in ("json", "email", "collections", "urllib"):
    shutil.copytree(STDLIB / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
  for module in ("os.py", "argparse.py", "textwrap.py", "heapq.py", "bisect.py", "shlex.py"):
    shutil.copy(STDLIB / module, root / module)
  (root / "test").mkdir()
  shutil.copy(STDLIB / "heapq.py", root / "test" / "test_heapq_copy.py")
  return root


def _load_counting_builds(config: MixtureDataConfig, corpus_dir: Path,
                          monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, MixtureSplit], int]:
  builds = []
  real_build = mixture._build
  monkeypatch.setattr(mixture, "_build", lambda *a: builds.append(1) or real_build(*a))
  return mixture.load_mixture_splits(config, str(corpus_dir)), len(builds)


def test_cache_is_reused_and_invalidated_by_content(
    small_stdlib: Path, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "data_root"))
  config = _config(python_stdlib_dir=str(small_stdlib), python_bytes_per_austen_byte=0.1)
  cache_dir = tmp_path / "data_root" / "cache"
  first, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 1 and len(list(cache_dir.glob("mixture_*.npz"))) == 1
  assert all("test/" not in name for name in first["train"].source_names)
  again, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 0 and np.array_equal(again["train"].tokens, first["train"].tokens)
  assert np.array_equal(again["train"].source_id, first["train"].source_id)

  # An excluded file changes nothing.
  (small_stdlib / "test" / "test_heapq_copy.py").write_text("# changed\n")
  _, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 0

  # The same file list with one file's content changed (same size) is a new cache.
  used = sorted(_python_names(first["train"]))[0]
  data = bytearray((small_stdlib / used).read_bytes())
  data[0:1] = b"#" if data[0:1] != b"#" else b" "
  (small_stdlib / used).write_bytes(bytes(data))
  changed, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 1 and len(list(cache_dir.glob("mixture_*.npz"))) == 2
  assert not np.array_equal(changed["train"].tokens, first["train"].tokens)

  # Another file in the list (another interpreter) is a new cache too.
  shutil.copy(STDLIB / "random.py", small_stdlib / "random.py")
  _, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 1 and len(list(cache_dir.glob("mixture_*.npz"))) == 3
  capsys.readouterr()


def test_damaged_cache_is_rebuilt(small_stdlib: Path, corpus_dir: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "data_root"))
  config = _config(python_stdlib_dir=str(small_stdlib), python_bytes_per_austen_byte=0.1)
  first, _ = _load_counting_builds(config, corpus_dir, monkeypatch)
  (cache,) = (tmp_path / "data_root" / "cache").glob("mixture_*.npz")
  cache.write_bytes(cache.read_bytes()[:1000])
  rebuilt, builds = _load_counting_builds(config, corpus_dir, monkeypatch)
  assert builds == 1 and "damaged" in capsys.readouterr().err
  assert np.array_equal(rebuilt["validation"].tokens, first["validation"].tokens)


def test_missing_stdlib_folder_is_a_clear_error(tmp_path: Path, corpus_dir: Path) -> None:
  with pytest.raises(paths.DatasetNotFoundError, match="python_stdlib_dir"):
    mixture.load_mixture_splits(_config(python_stdlib_dir=str(tmp_path / "nowhere")),
                                str(corpus_dir))
