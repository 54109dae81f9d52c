"""Where parameters, optimizer state and batches live on a mesh.

Strategies for parameters (and, through `optimizer_state_shardings`, optimizer state):
  "replicated"  data parallel: every device holds every parameter.
  "fsdp"        each parameter is split along the mesh's "fsdp" axis on one dimension: the
                largest dimension divisible by the fsdp size, preferring dimensions whose
                logical name is in `FSDP_PREFERRED_AXES`; replicated when none divides.
  "expert"      expert parallelism: each parameter with a dimension named "expert" (an MoE's
                expert kernels [E, in, out]) is split along the mesh's "expert" axis on that
                dimension, E/N experts per device; every other parameter is replicated.
Batches are split along their leading dimension over ("data", "fsdp") under all three, and
over "expert" too when that axis has more than one device (expert-parallel devices are data
parallel for everything but the experts). The "model" axis is left to a
future strategy; parameters are replicated over it.

Expert parallelism is GSPMD: the expert kernels and the batch carry their shardings and XLA
propagates them through the MoE layer, inserting the collectives that move tokens to their
experts' devices and back; no shard_map. Why: dropless dispatch sorts tokens into
data-dependent groups (`ragged_dot` group sizes), which a hand-written all_to_all would need
fixed per-device buffers for (capacity dispatch by another name); under GSPMD one model code
path serves 1 and N devices and both dispatch modes, and the equality with one device is what
tests/parallel/moe_parallel_test.py checks. What XLA chooses to communicate is not measured
here (CPU only).
All functions accept pytrees of arrays, `jax.ShapeDtypeStruct`s or `spec.ShapeTuple`s.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal, TypeAlias

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from algoperf_lab import spec

PyTree: TypeAlias = Any
Strategy: TypeAlias = Literal["replicated", "fsdp", "expert"]
STRATEGIES: tuple[str, ...] = ("replicated", "fsdp", "expert")
FSDP_AXIS = "fsdp"
EXPERT_AXIS = "expert"
BATCH_AXES = ("data", "fsdp")  # and "expert" when that axis has more than one device
# Logical names (as in the workloads' param_logical_axes) worth splitting under FSDP.
FSDP_PREFERRED_AXES = frozenset({"embed", "mlp", "vocab", "heads"})


def _shape(leaf: Any) -> tuple[int, ...] | None:
  if isinstance(leaf, spec.ShapeTuple):
    return leaf.shape_tuple
  shape = getattr(leaf, "shape", None)
  return None if shape is None else tuple(shape)


def _is_shape_leaf(leaf: Any) -> bool:
  return isinstance(leaf, spec.ShapeTuple)


def _names(logical: Any, shape: tuple[int, ...], where: str) -> tuple[Any, ...]:
  """One logical name (a str, a tuple of str, or None) per dimension."""
  if logical is None:
    return (None,) * len(shape)
  names = tuple(logical)
  if len(names) != len(shape):
    raise ValueError(f"{where}: logical axes {logical} name {len(names)} dimensions but the "
                     f"parameter has shape {shape}.")
  return names


def _is_preferred(name: Any, preferred: Collection[str]) -> bool:
  if isinstance(name, str):
    return name in preferred
  return isinstance(name, tuple) and any(part in preferred for part in name)


def choose_fsdp_dimension(shape: Sequence[int], logical_names: Sequence[Any] | None,
                          fsdp_size: int,
                          preferred_axes: Collection[str] = FSDP_PREFERRED_AXES) -> int | None:
  """The dimension to split over `fsdp_size` devices, or None to replicate.

  Candidates are dimensions divisible by `fsdp_size`; those with a preferred logical name win
  over the rest; among the winners the largest (the first on a tie) is chosen.
  """
  if fsdp_size <= 1:
    return None
  candidates = [dim for dim, size in enumerate(shape) if size > 0 and size % fsdp_size == 0]
  if logical_names is not None:
    preferred = [dim for dim in candidates if _is_preferred(logical_names[dim], preferred_axes)]
    candidates = preferred or candidates
  if not candidates:
    return None
  return max(candidates, key=lambda dim: (shape[dim], -dim))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def _fsdp_size(mesh: Mesh) -> int:
  if FSDP_AXIS not in mesh.axis_names:
    raise ValueError(f"the fsdp strategy needs a mesh axis named {FSDP_AXIS!r}; this mesh has "
                     f"{mesh.axis_names} (build it with algoperf_lab.parallel.make_mesh).")
  return mesh.shape[FSDP_AXIS]


def param_shardings(params: PyTree, logical_axes: PyTree | None, mesh: Mesh,
                    strategy: Strategy, *,
                    preferred_axes: Collection[str] = FSDP_PREFERRED_AXES) -> PyTree:
  """A NamedSharding per parameter, in a tree shaped like `params`.

  `logical_axes` is the workload's `param_logical_axes` (a PartitionSpec or tuple of logical
  names per parameter), or None to decide from shapes alone.
  """
  if strategy not in STRATEGIES:
    raise ValueError(f"unknown partitioning strategy {strategy!r}; choose from {STRATEGIES}.")
  leaves, treedef = jax.tree.flatten(params, is_leaf=_is_shape_leaf)
  if logical_axes is None:
    axes_leaves: list[Any] = [None] * len(leaves)
  else:
    try:
      axes_leaves = treedef.flatten_up_to(logical_axes)
    except (ValueError, TypeError) as error:
      raise ValueError(
          f"logical_axes do not have the structure of the parameters: {error}") from error
  fsdp_size = _fsdp_size(mesh) if strategy == "fsdp" else 1
  if strategy == "expert":
    return jax.tree.unflatten(treedef, [
        _expert_sharding(path, _shape(leaf), _names(logical, _shape(leaf) or (), path), mesh)
        for path, leaf, logical in zip(_leaf_paths(params), leaves, axes_leaves)])
  shardings = []
  for path, leaf, logical in zip(_leaf_paths(params), leaves, axes_leaves):
    shape = _shape(leaf)
    if shape is None:
      raise TypeError(f"parameter {path} has no shape ({type(leaf).__name__}).")
    names = _names(logical, shape, path)
    dim = choose_fsdp_dimension(shape, names if logical is not None else None, fsdp_size,
                                preferred_axes)
    partition = PartitionSpec() if dim is None else PartitionSpec(*([None] * dim), FSDP_AXIS)
    shardings.append(NamedSharding(mesh, partition))
  return jax.tree.unflatten(treedef, shardings)


def _leaf_paths(params: PyTree) -> list[str]:
  return [jax.tree_util.keystr(path) for path, _ in
          jax.tree_util.tree_flatten_with_path(params, is_leaf=_is_shape_leaf)[0]]


def _expert_sharding(path: str, shape: tuple[int, ...] | None, names: tuple[Any, ...],
                     mesh: Mesh) -> NamedSharding:
  """The "expert" dimension split over the mesh's expert axis; replicated without one."""
  if shape is None:
    raise TypeError(f"parameter {path} has no shape.")
  if EXPERT_AXIS not in mesh.axis_names:
    raise ValueError(f"the expert strategy needs a mesh axis named {EXPERT_AXIS!r}; this mesh "
                     f"has {mesh.axis_names}.")
  size = mesh.shape[EXPERT_AXIS]
  dims = [dim for dim, name in enumerate(names) if name == EXPERT_AXIS]
  if not dims:
    return replicated(mesh)
  if shape[dims[0]] % size:
    raise ValueError(f"parameter {path} has {shape[dims[0]]} experts, which the mesh's expert "
                     f"axis of {size} devices does not divide; choose --mesh_expert dividing it.")
  return NamedSharding(mesh, PartitionSpec(*([None] * dims[0]), EXPERT_AXIS))


def _key_name(key: Any) -> str:
  for attribute in ("key", "name", "idx"):
    if hasattr(key, attribute):
      return str(getattr(key, attribute))
  return str(key)


def _path_names(path: Sequence[Any]) -> tuple[str, ...]:
  return tuple(_key_name(key) for key in path)


def _with_leading_axis(sharding: Any, mesh: Mesh) -> NamedSharding:
  """`sharding` of a parameter, for a stack of that parameter along a new, unsplit axis 0."""
  spec_ = sharding.spec if isinstance(sharding, NamedSharding) else PartitionSpec()
  return NamedSharding(mesh, PartitionSpec(None, *spec_))


def optimizer_state_shardings(opt_state: PyTree, params: PyTree, shardings: PyTree,
                              mesh: Mesh) -> PyTree:
  """A sharding per optimizer-state leaf, in a tree shaped like `opt_state`.

  Rule, per leaf with a shape (e.g. optax's mu/nu, count):
    1. a parameter whose tree path is a suffix of the leaf's path (the longest such) and whose
       shape equals the leaf's: that parameter's sharding (`mu['block_0']['mlp']['wi']
       ['kernel']` follows `params['block_0']['mlp']['wi']['kernel']`);
    2. else, a leaf of shape (k, *shape) whose path ends in a parameter's path (a stack of k
       snapshots of that parameter, as WSM and LAWA keep): the parameter's sharding with an
       unsplit leading axis, so a snapshot ring costs k/devices of a parameter per device;
    3. else parameters with the same shape that all share one sharding: that sharding;
    4. else replicated (scalars such as `count`, preconditioners of other shapes).
  Leaves without a shape (functions in AlgoPerf's `(optax_state, update_fn)`) map to None.
  `params` gives the parameter shapes (arrays, ShapeDtypeStructs or ShapeTuples);
  `shardings` is `param_shardings(...)` for them.
  """
  param_entries = jax.tree_util.tree_flatten_with_path(params, is_leaf=_is_shape_leaf)[0]
  param_shardings_flat = jax.tree.structure(params, is_leaf=_is_shape_leaf).flatten_up_to(shardings)
  by_path = [(_path_names(path), _shape(leaf), sharding)
             for (path, leaf), sharding in zip(param_entries, param_shardings_flat)]
  by_shape: dict[tuple[int, ...], set[Any]] = {}
  for _, shape, sharding in by_path:
    by_shape.setdefault(shape, set()).add(sharding)

  def leaf_sharding(path: Sequence[Any], leaf: Any) -> Any:
    shape = _shape(leaf)
    if shape is None:
      return None
    names = _path_names(path)
    matches = [(len(param_path), sharding) for param_path, param_shape, sharding in by_path
               if param_shape == shape and len(param_path) <= len(names)
               and names[len(names) - len(param_path):] == param_path]
    if matches:
      return max(matches, key=lambda match: match[0])[1]
    stacked = [(len(param_path), sharding) for param_path, param_shape, sharding in by_path
               if len(shape) >= 1 and param_shape == shape[1:] and len(param_path) <= len(names)
               and names[len(names) - len(param_path):] == param_path]
    if stacked:
      return _with_leading_axis(max(stacked, key=lambda match: match[0])[1], mesh)
    same_shape = by_shape.get(shape, set())
    if len(same_shape) == 1:
      return next(iter(same_shape))
    return replicated(mesh)

  return jax.tree_util.tree_map_with_path(leaf_sharding, opt_state, is_leaf=_is_shape_leaf)


def with_shardings(tree: PyTree, shardings: PyTree) -> PyTree:
  """ShapeDtypeStructs carrying `shardings`: abstract targets for jit and checkpoint restores."""
  return jax.tree.map(
      lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
      tree, shardings)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Splits the leading (batch) dimension over the mesh's ("data", "fsdp") axes, and its
  "expert" axis when that has more than one device."""
  axes = tuple(axis for axis in BATCH_AXES if axis in mesh.axis_names)
  if mesh.shape.get(EXPERT_AXIS, 1) > 1:
    axes = (*axes, EXPERT_AXIS)
  if not axes:
    raise ValueError(f"the mesh has none of the batch axes {BATCH_AXES}: {mesh.axis_names}.")
  return NamedSharding(mesh, PartitionSpec(axes))


def batch_shards(mesh: Mesh) -> int:
  """Into how many pieces the batch dimension is split (the product of the batch axes)."""
  sharding = batch_sharding(mesh)
  return int(np.prod([mesh.shape[axis] for axis in sharding.spec[0]]))


def local_batch_shards(mesh: Mesh) -> int:
  """How many distinct batch pieces this process's devices hold."""
  index_map = batch_sharding(mesh).addressable_devices_indices_map((batch_shards(mesh),))
  return len({index[0].start for index in index_map.values()})


def shard_batch(batch: PyTree, mesh: Mesh) -> PyTree:
  """Places a batch split along its leading dimension (see `batch_sharding`).

  On one process `batch` is the global batch. With several processes it is this process's
  rows (`multihost.process_batch_slice`); the global batch is assembled from every process's
  rows with `jax.make_array_from_process_local_data`.
  """
  sharding = batch_sharding(mesh)
  pieces = local_batch_shards(mesh)
  multi_process = jax.process_count() > 1

  def place(leaf: Any) -> jax.Array:
    if multi_process or not isinstance(leaf, jax.Array):
      leaf = np.asarray(leaf)
    if leaf.ndim == 0 or leaf.shape[0] % pieces:
      raise ValueError(f"a batch leaf of shape {leaf.shape} cannot be split along its leading "
                       f"dimension into {pieces} pieces (this process's share of the "
                       f"{batch_shards(mesh)} batch shards of the mesh {dict(mesh.shape)}).")
    return jax.make_array_from_process_local_data(sharding, leaf)

  return jax.tree.map(place, batch)
