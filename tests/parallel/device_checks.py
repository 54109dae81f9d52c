"""Sharding checks on 8 CPU devices, run in a subprocess (XLA_FLAGS must precede JAX's start).

`python tests/parallel/device_checks.py SECTION` prints one JSON line of findings that the
tests assert on; `run(section)` does that from a test. Sections: mesh, partitioning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NUM_DEVICES = 8
# Cheaper LLVM passes halve compile times; every setup compared runs under the same flags.
XLA_FLAGS = (f"--xla_force_host_platform_device_count={NUM_DEVICES} "
             "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")


def run_section(script: str, section: str, timeout_sec: float) -> dict[str, Any]:
  """Runs `python SCRIPT SECTION` on NUM_DEVICES forced host devices; its last JSON line."""
  env = {**os.environ, "XLA_FLAGS": XLA_FLAGS, "JAX_PLATFORMS": "cpu",
         "PYTHONPATH": str(REPO_ROOT)}
  completed = subprocess.run([sys.executable, script, section], env=env, cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=timeout_sec)
  if completed.returncode:
    raise AssertionError(f"{section} checks failed:\n{completed.stderr[-4000:]}")
  return json.loads(completed.stdout.strip().splitlines()[-1])


def run(section: str, timeout_sec: float = 240) -> dict[str, Any]:
  """Runs one section of this file on NUM_DEVICES forced host devices; its findings."""
  return run_section(__file__, section, timeout_sec)


def mesh_section() -> dict[str, Any]:
  import jax

  from algoperf_lab.parallel import MeshConfig, make_mesh

  shapes = {}
  for name, config in {"default": MeshConfig(), "fsdp8": MeshConfig(data=1, fsdp=8),
                       "2x2x1x2": MeshConfig(data=2, fsdp=2, model=2),
                       "fsdp_rest": MeshConfig(data=2, fsdp=-1),
                       "expert4": MeshConfig(expert=4)}.items():
    mesh = make_mesh(config)
    shapes[name] = dict(mesh.shape)
  shapes["first_device_only"] = dict(make_mesh(MeshConfig(), jax.devices()[:1]).shape)
  errors = {}
  for name, config in {"too_many": MeshConfig(data=4, fsdp=4),
                       "not_dividing": MeshConfig(fsdp=3)}.items():
    try:
      make_mesh(config)
    except ValueError as error:
      errors[name] = str(error)
  mesh = make_mesh(MeshConfig(fsdp=2))
  return {"device_count": jax.device_count(), "shapes": shapes, "errors": errors,
          "axis_types": [str(t) for t in mesh.axis_types]}


def _lm_setup() -> tuple[Any, Any, Any, dict[str, Any]]:
  import jax
  import numpy as np

  from algoperf_lab import registry
  from tests.helpers import SMALL_LM_OVERRIDES

  workload = registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES)
  params, _ = workload.init_model_fn(jax.random.PRNGKey(0))
  params = jax.tree.map(np.asarray, params)  # host copies: placing them needs no resharding
  queue = workload.build_input_queue(jax.random.PRNGKey(1), "train", None, 16)
  batch = {key: np.asarray(value) for key, value in next(queue).items()}
  return workload, params, workload.param_logical_axes, batch


def partitioning_section() -> dict[str, Any]:
  import jax
  import numpy as np
  import optax

  from algoperf_lab import spec
  from algoperf_lab.parallel import (MeshConfig, batch_sharding, make_mesh,
                                     optimizer_state_shardings, param_shardings, shard_batch)

  jax.config.update("jax_numpy_rank_promotion", "raise")
  workload, params, logical_axes, batch = _lm_setup()
  optimizer = optax.adamw(1e-2, weight_decay=0.1)

  def mean_loss(p: Any, b: dict[str, Any]) -> jax.Array:
    logits, _ = workload.model_fn(p, b, None, spec.ForwardPassMode.EVAL, None, False, 0.0)
    losses = workload.loss_fn(b["targets"], logits, b.get("weights"))
    return losses["summed"] / losses["n_valid_examples"]

  def train_step(p: Any, opt_state: Any, b: dict[str, Any]) -> tuple[Any, Any, jax.Array]:
    loss, grads = jax.value_and_grad(mean_loss)(p, b)
    updates, opt_state = optimizer.update(grads, opt_state, p)
    return optax.apply_updates(p, updates), opt_state, loss

  def layout(tree: Any) -> dict[str, Any]:
    return {jax.tree_util.keystr(path): {"shape": list(x.shape),
                                         "shard": list(x.sharding.shard_shape(x.shape)),
                                         "addressable": [list(s.data.shape)
                                                         for s in x.addressable_shards]}
            for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]}

  findings: dict[str, Any] = {"losses": {}, "layouts": {}}
  final_params = {}
  opt_state_host = jax.tree.map(np.asarray, jax.jit(optimizer.init)(params))
  setups = {"one_device": (MeshConfig(), jax.devices()[:1], "replicated"),
            "data_parallel": (MeshConfig(), None, "replicated"),
            "fsdp": (MeshConfig(data=1, fsdp=8), None, "fsdp")}
  for name, (config, devices, strategy) in setups.items():
    mesh = make_mesh(config, devices)
    shardings = param_shardings(params, logical_axes, mesh, strategy)
    opt_shardings = optimizer_state_shardings(opt_state_host, params, shardings, mesh)
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    step = jax.jit(train_step, in_shardings=(shardings, opt_shardings, batch_sharding(mesh)),
                   out_shardings=(shardings, opt_shardings, replicated))
    p = jax.device_put(params, shardings)
    opt_state = jax.device_put(opt_state_host, opt_shardings)
    sharded_batch = shard_batch(batch, mesh)
    losses = []
    for _ in range(2):
      p, opt_state, loss = step(p, opt_state, sharded_batch)
      losses.append(float(loss))
    findings["losses"][name] = losses
    findings["layouts"][name] = {"params": layout(p), "opt_state": layout(opt_state),
                                 "batch": layout(sharded_batch)}
    final_params[name] = jax.tree.map(np.asarray, p)
  findings["max_param_difference"] = {
      name: max(float(np.max(np.abs(a - b))) for a, b in zip(
          jax.tree.leaves(final_params["one_device"]), jax.tree.leaves(tree)))
      for name, tree in final_params.items()}
  # Shapes alone (no logical names), on a 2x4 data x fsdp mesh.
  mesh = make_mesh(MeshConfig(data=2, fsdp=4))
  inferred = jax.device_put(params, param_shardings(params, None, mesh, "fsdp"))
  findings["layouts"]["fsdp_inferred"] = {"params": layout(inferred)}
  try:
    shard_batch({"inputs": np.zeros((12, 4), np.int32)}, make_mesh(MeshConfig()))
  except ValueError as error:
    findings["uneven_batch_error"] = str(error)
  findings["checkpoint"] = _restore_onto_fsdp(params, logical_axes, layout)
  return findings


def _restore_onto_fsdp(params: Any, logical_axes: Any, layout: Any) -> dict[str, Any]:
  """Saves data-parallel (replicated) parameters, restores them FSDP-sharded."""
  import tempfile

  import jax
  import numpy as np

  from algoperf_lab.harness.checkpoints import RunCheckpointer
  from algoperf_lab.parallel import MeshConfig, make_mesh, param_shardings, with_shardings

  replicated_mesh, fsdp_mesh = make_mesh(MeshConfig()), make_mesh(MeshConfig(data=2, fsdp=4))
  saved = jax.device_put(params, param_shardings(params, logical_axes, replicated_mesh,
                                                 "replicated"))
  target = with_shardings(params, param_shardings(params, logical_axes, fsdp_mesh, "fsdp"))
  with tempfile.TemporaryDirectory() as directory:
    with RunCheckpointer(directory) as checkpointer:
      checkpointer.save(5, saved, {"step": 5})
      restored = checkpointer.latest_restorable(target)
  equal = all(np.array_equal(np.asarray(a), b)
              for a, b in zip(jax.tree.leaves(restored.arrays), jax.tree.leaves(params)))
  same_shardings = all(a.sharding == t.sharding for a, t in
                       zip(jax.tree.leaves(restored.arrays), jax.tree.leaves(target)))
  return {"step": restored.step, "equal": equal, "same_shardings": same_shardings,
          "layout": layout(restored.arrays)}


SECTIONS = {"mesh": mesh_section, "partitioning": partitioning_section}

if __name__ == "__main__":
  sys.path.insert(0, str(REPO_ROOT))
  print(json.dumps(SECTIONS[sys.argv[1]]()))
