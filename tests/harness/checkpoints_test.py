"""RunCheckpointer: round trips, async saves, retention, fallback past damaged checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from algoperf_lab.harness.checkpoints import (UNREADABLE_DIR, RunCheckpointer, array_digests,
                                              merge_arrays, split_arrays)

OPTIMIZER = optax.adamw(1e-3)


def _params(seed: int = 0) -> dict[str, Any]:
  rng = np.random.default_rng(seed)
  return {"dense": {"kernel": jnp.asarray(rng.standard_normal((8, 4)), jnp.float32),
                    "bias": jnp.asarray(rng.standard_normal(4), jnp.bfloat16)},
          "embed": jnp.asarray(rng.standard_normal((5, 3)), jnp.float32)}


def _update_fn(updates: Any, state: Any, params: Any = None) -> Any:
  return OPTIMIZER.update(updates, state, params)


def _run_state(seed: int = 0) -> dict[str, Any]:
  """Params plus an AlgoPerf-style optimizer state: (optax state, update function)."""
  params = _params(seed)
  optax_state = OPTIMIZER.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  _, optax_state = OPTIMIZER.update(grads, optax_state, params)  # non-zero mu/nu, count=1
  return {"params": params, "optimizer_state": (optax_state, _update_fn)}


def _metadata(step: int) -> dict[str, Any]:
  return {"step": step, "submission_time_sec": 12.5 * step,
          "eval_history": [{"step": step, "validation/loss": 3.25, "train/loss": float("nan")}],
          "data_iterator": {"next_index": 7 * step}, "seed": 0}


def _assert_trees_equal(actual: Any, expected: Any) -> None:
  assert jax.tree.structure(actual) == jax.tree.structure(expected)
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
    if callable(e):
      assert a is e
      continue
    assert a.dtype == e.dtype and a.shape == e.shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


def _save(checkpointer: RunCheckpointer, step: int) -> dict[str, Any]:
  state = _run_state(step)
  assert checkpointer.save(step, split_arrays(state)[0], _metadata(step))
  return state


def _restore(checkpointer: RunCheckpointer) -> Any:
  return checkpointer.latest_restorable(split_arrays(_run_state())[0])


def test_split_and_merge_keep_non_array_leaves() -> None:
  state = _run_state()
  arrays, others = split_arrays(state)
  assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(arrays))
  assert jax.tree.leaves(others) == [_update_fn]
  fresh = {"params": _params(1), "optimizer_state": (OPTIMIZER.init(_params(1)), _update_fn)}
  _assert_trees_equal(merge_arrays(fresh, arrays), state)
  with pytest.raises(ValueError, match="structure"):
    merge_arrays(fresh, arrays["params"])


def test_round_trip_values_dtypes_and_metadata(tmp_path: Path) -> None:
  with RunCheckpointer(tmp_path / "checkpoints") as checkpointer:
    saved = _save(checkpointer, 10)
    checkpointer.wait()
    restored = _restore(checkpointer)
  assert restored is not None and restored.step == 10 and restored.skipped == []
  fresh = _run_state(seed=3)
  merged = merge_arrays(fresh, restored.arrays)
  _assert_trees_equal(merged, saved)
  assert isinstance(merged["optimizer_state"][0][0], optax.ScaleByAdamState)
  assert int(merged["optimizer_state"][0][0].count) == 1
  metadata = restored.metadata
  assert math.isnan(metadata["eval_history"][0].pop("train/loss"))
  expected = _metadata(10)
  expected["eval_history"][0].pop("train/loss")
  assert metadata == expected


def test_async_save_lets_the_caller_free_its_arrays(tmp_path: Path) -> None:
  checkpointer = RunCheckpointer(tmp_path, async_save=True)
  state = _run_state()
  arrays = split_arrays(state)[0]
  expected = jax.tree.map(np.asarray, arrays)
  checkpointer.save(1, arrays, _metadata(1))
  for leaf in jax.tree.leaves(arrays):
    leaf.delete()  # as a donating train step would, before the write has finished
  checkpointer.wait()
  restored = _restore(checkpointer)
  checkpointer.close()
  _assert_trees_equal(jax.tree.map(np.asarray, restored.arrays), expected)


def test_keeps_the_newest_and_never_saves_backwards(tmp_path: Path) -> None:
  checkpointer = RunCheckpointer(tmp_path, max_to_keep=2)
  for step in (1, 2, 3, 4):
    _save(checkpointer, step)
  checkpointer.wait()
  assert checkpointer.all_steps() == [3, 4]
  assert not checkpointer.save(4, split_arrays(_run_state())[0], _metadata(4))
  assert _restore(checkpointer).step == 4
  checkpointer.close()


def test_no_checkpoint_gives_none(tmp_path: Path) -> None:
  checkpointer = RunCheckpointer(tmp_path / "empty")
  assert _restore(checkpointer) is None
  checkpointer.close()


def test_non_json_metadata_fails_at_save(tmp_path: Path) -> None:
  checkpointer = RunCheckpointer(tmp_path)
  with pytest.raises(TypeError, match="JSON"):
    checkpointer.save(1, split_arrays(_run_state())[0], {"rng": object()})
  checkpointer.close()


def _truncate(path: Path) -> None:
  path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _overwrite(path: Path) -> None:
  path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _damage_array_data(step_dir: Path, damage: Any) -> None:
  data_files = [p for p in (step_dir / "arrays").rglob("*") if p.is_file() and p.parent.name == "d"]
  assert data_files, f"no array data files under {step_dir}"
  for path in data_files:
    damage(path)


def _edit_metadata(step_dir: Path) -> None:
  path = step_dir / "metadata" / "metadata"
  envelope = json.loads(path.read_text())
  envelope["metadata"]["submission_time_sec"] = 0.0  # valid JSON, wrong content
  path.write_text(json.dumps(envelope))


def _snapshot(directory: Path) -> dict[str, bytes]:
  return {str(path.relative_to(directory)): path.read_bytes()
          for path in directory.rglob("*") if path.is_file()}


# A failed restore leaves orbax's internal coroutines unfinished; that noise is expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize("damage", [
    lambda step_dir: _damage_array_data(step_dir, _truncate),
    lambda step_dir: _damage_array_data(step_dir, _overwrite),
    _edit_metadata,
], ids=["truncated_arrays", "overwritten_arrays", "edited_metadata"])
def test_falls_back_past_a_damaged_checkpoint_and_keeps_it(tmp_path: Path, damage: Any) -> None:
  checkpointer = RunCheckpointer(tmp_path, max_to_keep=2)
  older = _save(checkpointer, 1)
  _save(checkpointer, 2)
  checkpointer.wait()
  damage(tmp_path / "2")
  damaged = _snapshot(tmp_path / "2")

  restored = _restore(checkpointer)
  assert restored is not None and restored.step == 1
  _assert_trees_equal(restored.arrays, split_arrays(older)[0])
  assert [path for path, _ in restored.skipped] == [str(tmp_path / "2")]
  assert restored.skipped[0][1]
  assert _snapshot(tmp_path / "2") == damaged  # reading does not touch it

  # Resuming from step 1 and saving step 2 again moves the damaged one aside, intact.
  _save(checkpointer, 2)
  _save(checkpointer, 3)
  checkpointer.wait()
  assert _snapshot(tmp_path / UNREADABLE_DIR / "2") == damaged
  assert (tmp_path / UNREADABLE_DIR / "2.reason.txt").read_text().strip()
  assert checkpointer.all_steps() == [2, 3]
  assert _restore(checkpointer).step == 3
  checkpointer.close()


def test_restores_onto_the_targets_shardings(tmp_path: Path) -> None:
  mesh = jax.make_mesh((1,), ("fsdp",), axis_types=(jax.sharding.AxisType.Auto,))
  sharding = NamedSharding(mesh, PartitionSpec("fsdp"))
  checkpointer = RunCheckpointer(tmp_path)
  params = _params()
  checkpointer.save(1, params, {})
  target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                        params)
  restored = checkpointer.latest_restorable(target)
  checkpointer.close()
  assert all(leaf.sharding == sharding for leaf in jax.tree.leaves(restored.arrays))
  _assert_trees_equal(restored.arrays, params)
  with pytest.raises(ValueError, match="no sharding"):
    checkpointer.latest_restorable(jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params))


def _flip_bytes_in_largest_array_file(step_dir: Path, count: int = 64) -> Path:
  """Inverts `count` bytes in the middle of the biggest file under arrays/ (silent damage)."""
  files = [p for p in (step_dir / "arrays").rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  data = bytearray(largest.read_bytes())
  middle = len(data) // 2
  data[middle:middle + count] = bytes(b ^ 0xFF for b in data[middle:middle + count])
  largest.write_bytes(bytes(data))
  return largest


def test_flipped_array_bytes_are_caught_by_the_digest(tmp_path: Path) -> None:
  """Bytes flipped inside the array data read back without any error from orbax; the saved
  digest catches them, and the older checkpoint is used."""
  rng = np.random.default_rng(0)
  trees = {step: {"w": jnp.asarray(rng.standard_normal((256, 256)), jnp.float32),
                  "b": jnp.asarray(rng.standard_normal(256), jnp.bfloat16)} for step in (1, 2)}
  checkpointer = RunCheckpointer(tmp_path, max_to_keep=2)
  for step, tree in trees.items():
    checkpointer.save(step, tree, _metadata(step))
  checkpointer.wait()
  _flip_bytes_in_largest_array_file(tmp_path / "2")
  restored = checkpointer.latest_restorable(trees[1])
  checkpointer.close()
  assert restored is not None and restored.step == 1
  _assert_trees_equal(restored.arrays, trees[1])
  assert [path for path, _ in restored.skipped] == [str(tmp_path / "2")]
  assert "digest" in restored.skipped[0][1] and "['w']" in restored.skipped[0][1]


def test_array_digests_do_not_depend_on_sharding_and_see_every_change() -> None:
  values = np.arange(64, dtype=np.float32).reshape(8, 8)
  mesh = jax.make_mesh((1,), ("fsdp",), axis_types=(jax.sharding.AxisType.Auto,))
  sharded = jax.device_put(values, NamedSharding(mesh, PartitionSpec("fsdp")))
  assert array_digests([values]) == array_digests([sharded]) == array_digests([jnp.asarray(values)])
  swapped = values.copy()
  swapped[[0, 1]] = swapped[[1, 0]]  # same words, other places
  one_bit = values.copy()
  one_bit.view(np.uint32)[3, 3] ^= 1
  digests = {array_digests([v])[0] for v in (values, swapped, one_bit)}
  assert len(digests) == 3
  assert len(array_digests([jnp.ones(3, jnp.bool_), jnp.ones(2, jnp.bfloat16),
                            jax.random.key(0)])) == 3
