"""AlgoPerf v0.5's pmap API: what its submissions expect from the runner around them.

Every JAX entry of AlgoPerf's v0.5 and v0.6 leaderboards trains with `jax.pmap(...,
axis_name='batch')`: its runner gave it parameters and model state replicated with a leading
local-device axis (`flax.jax_utils.replicate`), batches shaped `[n_devices, per_device_batch,
...]`, and evaluated the first replica. AlgoPerf's current runner dropped that API; the lab
keeps it: the functions here replicate the model, reshape each batch and un-replicate for
evaluation. The submission's own functions are called unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from flax import jax_utils


class PmapApiError(ValueError):
  """The pmap API cannot run in this setting; the message says what to change."""


def check_supported(global_batch_size: int) -> None:
  """Refuses what v0.5's runner could not do either: several processes, uneven device splits."""
  if jax.process_count() != 1:
    raise PmapApiError("AlgoPerf's pmap API (v0.5) runs on one process here; run it on one host "
                       "or port the submission to the jit API (jax_sharding_utils).")
  devices = jax.local_device_count()
  if global_batch_size % devices:
    raise PmapApiError(f"the batch size {global_batch_size} does not split evenly over the "
                       f"{devices} local devices that the pmap API shards it over; choose a "
                       f"multiple of {devices} in get_batch_size.")


def replicate(tree: Any) -> Any:
  """Each array leaf copied to every local device, stacked on a new leading axis."""
  return jax_utils.replicate(tree)


def first_replica(tree: Any) -> Any:
  """The inverse of `replicate`: the copy on the first device, for evaluation."""
  return jax.tree.map(lambda x: x[0] if isinstance(x, jax.Array) else x, tree)


def _device_leading(x: Any, devices: int) -> np.ndarray:
  host = np.asarray(x)
  return host.reshape((devices, host.shape[0] // devices, *host.shape[1:]))


class DeviceLeadingQueue:
  """Yields each batch of `queue` reshaped to `[local devices, per-device batch, ...]`.

  `get_state` / `set_state` are the wrapped queue's, so checkpoints keep the data position.
  """

  def __init__(self, queue: Iterator[Any]):
    self._queue = queue
    self._devices = jax.local_device_count()

  def __iter__(self) -> "DeviceLeadingQueue":
    return self

  def __next__(self) -> Any:
    return jax.tree.map(lambda x: _device_leading(x, self._devices), next(self._queue))

  def get_state(self) -> Any:
    return self._queue.get_state()  # type: ignore[attr-defined]

  def set_state(self, state: Any) -> None:
    self._queue.set_state(state)  # type: ignore[attr-defined]
