"""AlgoPerf's `jax_sharding_utils` helpers: a one-axis mesh over every device.

AlgoPerf JAX submissions import this module to replicate state and shard batches along the
batch dimension; the names and behaviour match theirs.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def get_mesh() -> Mesh:
  return Mesh(jax.devices(), (BATCH_AXIS,))


def get_replicate_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec())


def get_batch_dim_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec(BATCH_AXIS))


def shard_along_batch_dim(tree: Any) -> Any:
  return jax.device_put(tree, get_batch_dim_sharding())


def replicate(tree: Any) -> Any:
  return jax.device_put(tree, get_replicate_sharding())


def disp_shard_info(x: jax.Array) -> str:
  """A one-line description of how an array is laid out (for debugging)."""
  return f"shape={x.shape} sharding={x.sharding}"
