"""One process of the two-process test: joins through the ALGOPERF_LAB_* variables, builds a
global batch from its half, runs an FSDP-sharded matmul across both, prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from algoperf_lab.harness.checkpoints import RunCheckpointer  # noqa: E402
from algoperf_lab.parallel import (MeshConfig, batch_sharding, config_from_env,  # noqa: E402
                                   initialize, is_primary, make_mesh, param_shardings,
                                   process_batch_slice, shard_batch)

GLOBAL_BATCH = 8


def _error(function: Any, *args: Any) -> str:
  try:
    function(*args)
  except ValueError as error:
    return str(error)
  return ""


def _checkpoint_round_trip(w: jax.Array) -> dict[str, Any]:
  """Both processes save the sharded array to one directory, then restore it."""
  directory = os.environ.get("MULTIHOST_TEST_CHECKPOINT_DIR")
  if not directory:
    return {}
  with RunCheckpointer(directory) as checkpointer:
    checkpointer.save(3, {"w": w}, {"step": 3})
    checkpointer.wait()
    restored = checkpointer.latest_restorable({"w": w})
  restored_w = restored.arrays["w"]
  local_equal = all(np.array_equal(np.asarray(a.data), np.asarray(b.data))
                    for a, b in zip(restored_w.addressable_shards, w.addressable_shards))
  return {"checkpoint_step": restored.step, "checkpoint_metadata": restored.metadata,
          "checkpoint_equal": local_equal,
          "checkpoint_sharding_ok": restored_w.sharding == w.sharding}


def main() -> None:
  config = config_from_env()
  joined = initialize(config)
  joined_again = initialize(config)  # idempotent
  mesh = make_mesh(MeshConfig(data=-1, fsdp=2))
  rows = process_batch_slice(GLOBAL_BATCH)
  mesh_rows = process_batch_slice(GLOBAL_BATCH, mesh)
  inputs = np.arange(GLOBAL_BATCH * 3, dtype=np.float32).reshape(GLOBAL_BATCH, 3) / 10
  weights = np.linspace(-1, 1, 3 * 4, dtype=np.float32).reshape(3, 4)
  batch = shard_batch({"x": inputs[mesh_rows]}, mesh)
  sharding = param_shardings({"w": weights}, None, mesh, "fsdp")["w"]
  w = jax.make_array_from_callback(weights.shape, sharding, lambda index: weights[index])
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  loss = jax.jit(lambda b, w: ((b["x"] @ w) ** 2).mean(), out_shardings=replicated)(batch, w)
  print(json.dumps({
      "joined": joined, "joined_again": joined_again, "process_count": jax.process_count(),
      "process_index": jax.process_index(), "device_count": jax.device_count(),
      "local_device_count": jax.local_device_count(), "is_primary": is_primary(),
      "rows": [rows.start, rows.stop], "mesh_rows": [mesh_rows.start, mesh_rows.stop],
      "batch_shape": list(batch["x"].shape),
      "batch_sharding_ok": batch["x"].sharding == batch_sharding(mesh),
      "w_shard": list(w.sharding.shard_shape(w.shape)),
      "loss": float(loss), "expected_loss": float(((inputs @ weights) ** 2).mean()),
      "uneven_error": _error(process_batch_slice, 7),
      "uneven_mesh_error": _error(process_batch_slice, 6, mesh),
      **_checkpoint_round_trip(w)}), flush=True)


if __name__ == "__main__":
  main()
