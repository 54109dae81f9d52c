"""Puts host batches from a grain iterator on the devices, and exposes grain's position."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from algoperf_lab import jax_sharding_utils


class DeviceIterator:
  """Yields `place(batch)` for each host batch (default: split along the batch dimension).

  Every process reads the same global batch and places only its own rows (see
  jax_sharding_utils). `get_state` / `set_state` are the underlying iterator's, so that a
  checkpoint can record the input pipeline's position.
  """

  def __init__(self, iterator: Iterator[Any],
               place: Callable[[Any], Any] = jax_sharding_utils.shard_along_batch_dim):
    self._iterator = iterator
    self._place = place

  def __iter__(self) -> "DeviceIterator":
    return self

  def __next__(self) -> Any:
    return self._place(next(self._iterator))

  def get_state(self) -> Any:
    return self._iterator.get_state()

  def set_state(self, state: Any) -> None:
    self._iterator.set_state(state)
