"""AlgoPerf's `jax_sharding_utils` helpers: a one-axis mesh over every device.

AlgoPerf JAX submissions import this module to replicate state and shard batches along the
batch dimension; the names and behaviour match theirs. On several processes (multi-host),
host data given to `shard_along_batch_dim` is the global batch, which every process reads the
same way; each process places only the rows that its own devices hold.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def get_mesh() -> Mesh:
  return Mesh(jax.devices(), (BATCH_AXIS,))


def get_replicate_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec())


def get_batch_dim_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec(BATCH_AXIS))


def _is_host_data(x: Any) -> bool:
  return isinstance(x, (np.ndarray, np.generic, int, float))


def _place(x: Any, sharding: NamedSharding) -> Any:
  """device_put, or for host data on several processes, assembly from this process's rows."""
  if jax.process_count() == 1 or not _is_host_data(x):
    return jax.device_put(x, sharding)
  x = np.asarray(x)
  if sharding.spec == PartitionSpec():
    return jax.make_array_from_process_local_data(sharding, x, x.shape)
  rows = x.shape[0] // jax.process_count()
  start = jax.process_index() * rows  # get_mesh() orders devices by process
  return jax.make_array_from_process_local_data(sharding, x[start:start + rows], x.shape)


def shard_along_batch_dim(tree: Any) -> Any:
  sharding = get_batch_dim_sharding()
  return jax.tree.map(lambda x: _place(x, sharding), tree)


def replicate(tree: Any) -> Any:
  sharding = get_replicate_sharding()
  return jax.tree.map(lambda x: _place(x, sharding), tree)


def disp_shard_info(x: jax.Array) -> str:
  """A one-line description of how an array is laid out (for debugging)."""
  return f"shape={x.shape} sharding={x.sharding}"


def display_shard_info(x: jax.Array) -> None:
  """Prints, for each shard this process holds, its device, index and replica id (AlgoPerf's)."""
  for shard in x.addressable_shards:
    print(f"shard.device: {shard.device}, index: {shard.index}, replica_id: {shard.replica_id}.")
