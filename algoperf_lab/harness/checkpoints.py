"""Run checkpoints: an array pytree plus a JSON metadata dict per step, through orbax.

Each step directory holds two orbax items: `arrays` (StandardSave: params, optimizer state,
...) and `metadata` (JsonSave: whatever the caller needs to resume — step, submission clock,
eval history, data-iterator state, seeds — wrapped with the step, a 64-bit content digest of
every array, and a SHA-256 of both). The array digests are computed on the devices where the
arrays already are (one jitted pass of integer arithmetic) and checked after a restore, so
damaged array bytes are refused like any unreadable checkpoint instead of loading silently. Saves are asynchronous: `save` returns once the arrays are copied off the
device, the files are written in the background. `latest_restorable` falls back past
checkpoints that cannot be read; these are never deleted or overwritten: the next `save`
moves them into `<directory>/unreadable/` so that orbax's retention and step numbering
cannot touch them. On several processes every process calls every method (orbax
synchronises them) with the same metadata; the directory must be shared.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

PyTree: TypeAlias = Any
ARRAYS_ITEM = "arrays"
METADATA_ITEM = "metadata"
UNREADABLE_DIR = "unreadable"
_MAX_REASON_CHARS = 1000
_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, jax.ShapeDtypeStruct)


class CheckpointIntegrityError(ValueError):
  """A checkpoint was read but does not hold what was saved."""


@dataclasses.dataclass(frozen=True)
class Restored:
  step: int
  arrays: PyTree
  metadata: dict[str, Any]
  # Newer checkpoints that could not be read: (step directory, reason), newest first.
  skipped: list[tuple[str, str]]


# -- trees with non-array leaves ------------------------------------------------------------
def _is_array(leaf: Any) -> bool:
  return isinstance(leaf, _ARRAY_TYPES)


def split_arrays(tree: PyTree) -> tuple[PyTree, PyTree]:
  """(arrays, others): `tree` with None in place of its non-array / array leaves.

  Arrays are jax/numpy arrays and ShapeDtypeStructs; anything else (the update function in
  AlgoPerf's `(optax_state, update_fn)`, Python numbers) goes to `others` and is not saved.
  """
  arrays = jax.tree.map(lambda leaf: leaf if _is_array(leaf) else None, tree)
  others = jax.tree.map(lambda leaf: None if _is_array(leaf) else leaf, tree)
  return arrays, others


def merge_arrays(fresh_tree: PyTree, restored_arrays: PyTree) -> PyTree:
  """`fresh_tree` (e.g. a newly initialised optimizer state) with its arrays taken from
  `restored_arrays` (the restored first half of `split_arrays`); non-array leaves stay."""
  expected = jax.tree.structure(split_arrays(fresh_tree)[0])
  if jax.tree.structure(restored_arrays) != expected:
    raise ValueError(f"restored arrays have structure {jax.tree.structure(restored_arrays)}; "
                     f"the fresh tree's arrays have {expected}.")
  restored = iter(jax.tree.leaves(restored_arrays))
  leaves, treedef = jax.tree.flatten(fresh_tree)
  merged = []
  for leaf in leaves:
    if not _is_array(leaf):
      merged.append(leaf)
      continue
    value = next(restored)
    if tuple(value.shape) != tuple(leaf.shape) or value.dtype != leaf.dtype:
      raise ValueError(f"restored array {value.shape} {value.dtype} does not match the fresh "
                       f"{leaf.shape} {leaf.dtype}.")
    merged.append(value)
  return jax.tree.unflatten(treedef, merged)


# -- metadata integrity ---------------------------------------------------------------------
def _json_default(value: Any) -> Any:
  if isinstance(value, np.generic):
    return value.item()
  raise TypeError(f"checkpoint metadata must be JSON-serialisable; got {type(value).__name__} "
                  f"{value!r}.")


def _canonical_json(metadata: Any) -> str:
  return json.dumps(metadata, sort_keys=True, separators=(",", ":"), default=_json_default)


def _digest(text: str) -> str:
  return hashlib.sha256(text.encode()).hexdigest()


_ENVELOPE_KEYS = {"step", "sha256", "metadata", "array_digests"}


def _envelope_digest(metadata: Any, array_digests: Any) -> str:
  return _digest(_canonical_json({"metadata": metadata, "array_digests": array_digests}))


def _envelope(step: int, metadata: dict[str, Any], array_digests: list[str]) -> dict[str, Any]:
  metadata = json.loads(_canonical_json(metadata))
  return {"step": step, "sha256": _envelope_digest(metadata, array_digests), "metadata": metadata,
          "array_digests": array_digests}


def _verified_envelope(envelope: Any, step: int) -> tuple[dict[str, Any], list[str]]:
  """(metadata, array digests) of an envelope whose SHA-256 and step match."""
  if not isinstance(envelope, dict) or set(envelope) != _ENVELOPE_KEYS:
    raise CheckpointIntegrityError("metadata is not the envelope RunCheckpointer writes.")
  if envelope["step"] != step:
    raise CheckpointIntegrityError(f"metadata says step {envelope['step']}, directory {step}.")
  if _envelope_digest(envelope["metadata"], envelope["array_digests"]) != envelope["sha256"]:
    raise CheckpointIntegrityError("metadata content does not match its SHA-256.")
  return envelope["metadata"], envelope["array_digests"]


# -- array integrity ------------------------------------------------------------------------
def _fmix32(x: jax.Array) -> jax.Array:
  """MurmurHash3's 32-bit finaliser: every input bit flips each output bit with p ~ 1/2."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x85EBCA6B)
  x = x ^ (x >> 13)
  x = x * jnp.uint32(0xC2B2AE35)
  return x ^ (x >> 16)


def _words(leaf: jax.Array) -> jax.Array:
  """The array's bytes as uint32 words (narrower items widened, wider ones split)."""
  if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
    leaf = jax.random.key_data(leaf)
  if leaf.dtype == jnp.bool_:
    leaf = leaf.astype(jnp.uint8)
  unsigned = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}.get(leaf.dtype.itemsize)
  if unsigned is None:  # sub-byte types: compare the values
    return leaf.astype(jnp.float32).view(jnp.uint32)
  return jax.lax.bitcast_convert_type(leaf, unsigned).astype(jnp.uint32)


_SEEDS = (0x9E3779B9, 0x7F4A7C15)


@jax.jit
def _leaf_digests(leaves: list[jax.Array]) -> list[jax.Array]:
  """Per array, two 32-bit sums of hash(word, position): order-independent sums, so the result
  does not depend on how the array is sharded, yet a changed or moved word changes it."""
  digests = []
  for leaf in leaves:
    words = _words(leaf)
    position = jnp.arange(words.size, dtype=jnp.uint32).reshape(words.shape)
    digests.append(jnp.stack([jnp.sum(_fmix32(words ^ _fmix32(position ^ jnp.uint32(seed))),
                                      dtype=jnp.uint32) for seed in _SEEDS]))
  return digests


def array_digests(tree: PyTree) -> list[str]:
  """A 64-bit content digest (16 hex digits) of every array leaf of `tree`, in leaf order."""
  leaves = [jnp.asarray(leaf) if isinstance(leaf, (np.ndarray, np.generic)) else leaf
            for leaf in jax.tree.leaves(tree)]
  if not leaves:
    return []
  return ["".join(f"{int(word):08x}" for word in np.asarray(digest.addressable_data(0)))
          for digest in _leaf_digests(leaves)]


def _check_digests(restored: PyTree, expected: list[str]) -> None:
  actual = array_digests(restored)
  flat, _ = jax.tree_util.tree_flatten_with_path(restored)
  paths = [jax.tree_util.keystr(path) for path, _ in flat]
  if len(actual) != len(expected):
    raise CheckpointIntegrityError(f"{len(actual)} arrays restored, {len(expected)} saved.")
  damaged = [path for path, got, want in zip(paths, actual, expected) if got != want]
  if damaged:
    raise CheckpointIntegrityError(f"array content does not match its saved digest: {damaged}.")


# -- restore targets ------------------------------------------------------------------------
def _abstract_target(tree: PyTree) -> PyTree:
  """ShapeDtypeStructs with shardings (numpy leaves stay numpy: they restore as numpy)."""

  def abstract(path: Any, leaf: Any) -> Any:
    where = jax.tree_util.keystr(path)
    if isinstance(leaf, jax.Array):
      return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    if isinstance(leaf, jax.ShapeDtypeStruct):
      if leaf.sharding is None:
        raise ValueError(f"restore target {where} has no sharding; pass "
                         "jax.ShapeDtypeStruct(shape, dtype, sharding=...).")
      return leaf
    if isinstance(leaf, (np.ndarray, np.generic)):
      return leaf
    raise TypeError(f"restore target {where} is a {type(leaf).__name__}, not an array; "
                    "checkpoint split_arrays(tree)[0] and merge_arrays after restoring.")

  return jax.tree_util.tree_map_with_path(abstract, tree)


def _check_matches(restored: PyTree, target: PyTree) -> None:
  for (path, value), expected in zip(jax.tree_util.tree_flatten_with_path(restored)[0],
                                     jax.tree.leaves(target)):
    if tuple(value.shape) != tuple(expected.shape) or value.dtype != expected.dtype:
      raise CheckpointIntegrityError(
          f"{jax.tree_util.keystr(path)} restored as {value.shape} {value.dtype}, expected "
          f"{expected.shape} {expected.dtype}.")


class RunCheckpointer:
  """Saves and restores one run's checkpoints under `directory` (local path or gs://)."""

  def __init__(self, directory: str | os.PathLike[str], max_to_keep: int = 2,
               async_save: bool = True):
    # orbax wants absolute paths; a relative local workdir (runs/x) is resolved here.
    is_url = "://" in os.fspath(directory)
    self.directory = epath.Path(directory if is_url else os.path.abspath(directory))
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=async_save)
    self._manager = ocp.CheckpointManager(self.directory, options=options,
                                          item_names=(ARRAYS_ITEM, METADATA_ITEM))
    self._unreadable: dict[int, str] = {}

  def save(self, step: int, arrays: PyTree, metadata: dict[str, Any]) -> bool:
    """Starts writing checkpoint `step`; False (nothing written) if `step` is not newer
    than the latest checkpoint. The arrays may be donated or deleted once this returns."""
    _canonical_json(metadata)  # non-JSON metadata fails here, not in the background
    envelope = _envelope(step, metadata, array_digests(arrays))
    self._set_aside_unreadable()
    return self._manager.save(step, args=ocp.args.Composite(**{
        ARRAYS_ITEM: ocp.args.StandardSave(arrays), METADATA_ITEM: ocp.args.JsonSave(envelope)}))

  def wait(self) -> None:
    """Blocks until every started save is on disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()

  def __enter__(self) -> RunCheckpointer:
    return self

  def __exit__(self, *exc_info: Any) -> None:
    self.close()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def readable_metadata(self) -> list[tuple[int, dict[str, Any]]]:
    """(step, metadata) of every checkpoint whose metadata item reads back intact, newest
    first; the arrays are not read (a caller can refuse another run's checkpoints before
    touching anything). Checkpoints whose metadata cannot be read are left out."""
    self._manager.wait_until_finished()
    self._manager.reload()
    readable = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self._manager.restore(step, args=ocp.args.Composite(**{
            METADATA_ITEM: ocp.args.JsonRestore()}))
        metadata, _ = _verified_envelope(restored[METADATA_ITEM], step)
      except Exception:  # unreadable: latest_restorable reports and sets it aside later
        continue
      readable.append((step, metadata))
    return readable

  def latest_restorable(self, abstract_arrays: PyTree) -> Restored | None:
    """The newest checkpoint that reads back intact, restored onto `abstract_arrays`.

    `abstract_arrays` gives structure, shapes, dtypes and shardings: ShapeDtypeStructs with
    `sharding=` (or arrays, whose shardings are used). A checkpoint that raises while
    restoring, or whose metadata or array digests fail their integrity check, is listed in `skipped` and the
    next older one is tried. None when no checkpoint can be read.
    """
    target = _abstract_target(abstract_arrays)
    self._manager.wait_until_finished()
    self._manager.reload()
    skipped: list[tuple[str, str]] = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self._manager.restore(step, args=ocp.args.Composite(**{
            ARRAYS_ITEM: ocp.args.StandardRestore(target), METADATA_ITEM: ocp.args.JsonRestore()}))
        metadata, digests = _verified_envelope(restored[METADATA_ITEM], step)
        _check_matches(restored[ARRAYS_ITEM], target)
        _check_digests(restored[ARRAYS_ITEM], digests)
      except Exception as error:  # any failure to read back means: try an older checkpoint
        reason = f"{type(error).__name__}: {error}"[:_MAX_REASON_CHARS]
        skipped.append((str(self._step_directory(step)), reason))
        self._unreadable[step] = reason
        logging.warning("checkpoint step %d is unreadable, trying an older one: %s", step, reason)
        continue
      return Restored(step=step, arrays=restored[ARRAYS_ITEM], metadata=metadata,
                      skipped=skipped)
    return None

  def _step_directory(self, step: int) -> epath.Path:
    return self.directory / str(step)

  def _set_aside_unreadable(self) -> None:
    """Moves checkpoints `latest_restorable` could not read to `unreadable/` (kept intact)."""
    if not self._unreadable:
      return
    if jax.process_index() == 0:
      for step in sorted(self._unreadable):
        source = self._step_directory(step)
        if not source.exists():
          continue
        destination_root = self.directory / UNREADABLE_DIR
        destination_root.mkdir(parents=True, exist_ok=True)
        destination, copy = destination_root / str(step), 1
        while destination.exists():
          destination, copy = destination_root / f"{step}.{copy}", copy + 1
        source.rename(destination)
        (destination.parent / f"{destination.name}.reason.txt").write_text(
            self._unreadable[step] + "\n")
    if jax.process_count() > 1:
      ocp.multihost.sync_global_processes("RunCheckpointer:set_aside_unreadable")
    self._unreadable.clear()
    self._manager.reload()
