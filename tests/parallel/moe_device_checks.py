"""MoE load-balancing checks on 8 CPU devices, run in a subprocess (XLA_FLAGS precede JAX).

`python tests/parallel/moe_device_checks.py SECTION` prints one JSON line of findings;
tests/parallel/moe_parallel_test.py asserts on them. Sections: lbl, expert.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.parallel.device_checks import NUM_DEVICES, run_section

# A small lm_moe with 2 layers and 4 experts; 16 sequences, 2 per device.
MOE_OVERRIDES = (
    "--config.model.num_layers=2", "--config.model.d_model=32", "--config.model.num_heads=2",
    "--config.model.max_seq_len=32", "--config.data.seq_len=32", "--config.batch_size=16",
    "--config.moe.num_experts=4", "--config.moe.expert_mlp_dim=16",
    "--config.data.num_eval_train_examples=16", "--config.data.num_validation_examples=16",
    "--config.data.num_test_examples=16", "--config.data.eval_batch_size=16")


def run(section: str, timeout_sec: float = 300) -> dict[str, Any]:
  """Runs one section of this file on NUM_DEVICES forced host devices; its findings."""
  return run_section(__file__, section, timeout_sec)


def lbl_section() -> dict[str, Any]:
  """Per-layer LBLs of one real batch: global-batch and micro-batch LBL on an 8-device data
  mesh, the whole batch's LBL on one device, and each shard's own LBL computed on its device
  inside shard_map (the per-rank LBL of a data-parallel implementation), averaged."""
  import jax
  import numpy as np
  from jax.sharding import NamedSharding, PartitionSpec

  from algoperf_lab import registry, spec
  from algoperf_lab.parallel import MeshConfig, batch_sharding, make_mesh

  def workload_with(balance: str, groups: int) -> Any:
    workload = registry.make_workload("lm_moe", "tiny", MOE_OVERRIDES)
    workload.configure_options({"balance": balance, "lbl_micro_batches": groups})
    return workload

  def lbl_fn(workload: Any) -> Any:
    def lbl(params: Any, state: Any, batch: dict[str, Any]) -> jax.Array:
      _, new_state = workload.model_fn(params, batch, state, spec.ForwardPassMode.TRAIN, None,
                                       update_batch_norm=False)
      return new_state["stats"]["lbl"]
    return lbl

  base = workload_with("global_batch_lbl", NUM_DEVICES)
  params, state = base.init_model_fn(jax.random.PRNGKey(0))
  params, state = jax.tree.map(np.asarray, (params, state))
  queue = base.build_input_queue(jax.random.PRNGKey(1), "train", None, 16)
  batch = {key: np.asarray(value) for key, value in next(queue).items()}

  mesh = make_mesh(MeshConfig())
  replicated = NamedSharding(mesh, PartitionSpec())
  on_mesh = lambda workload: jax.jit(  # noqa: E731
      lbl_fn(workload), in_shardings=(replicated, replicated, batch_sharding(mesh)))
  sharded_batch = jax.device_put(batch, batch_sharding(mesh))
  findings: dict[str, Any] = {
      "batch_shard_shape": list(sharded_batch["inputs"].sharding.shard_shape(
          sharded_batch["inputs"].shape)),
      "global_on_mesh": on_mesh(base)(params, state, sharded_batch).tolist(),
      "micro_on_mesh": on_mesh(workload_with("micro_batch_lbl", NUM_DEVICES))(
          params, state, sharded_batch).tolist()}
  one = jax.devices()[0]
  whole = workload_with("global_batch_lbl", 1)
  findings["whole_batch_one_device"] = jax.jit(lbl_fn(whole))(
      *jax.device_put((params, state, batch), one)).tolist()
  per_shard = jax.shard_map(
      lambda p, s, b: jax.lax.pmean(lbl_fn(whole)(p, s, b), ("data", "fsdp")), mesh=mesh,
      in_specs=(PartitionSpec(), PartitionSpec(), PartitionSpec(("data", "fsdp"))),
      out_specs=PartitionSpec())
  findings["mean_of_per_shard_lbls"] = jax.jit(per_shard)(params, state, sharded_batch).tolist()
  return findings


def expert_section() -> dict[str, Any]:
  """The training objective (cross-entropy + LBL + z-loss) and its gradients on one device and
  under --sharding=expert on an 8-device mesh (expert=8, and data=2 x expert=4), with the
  expert kernels' per-device shapes."""
  import jax
  import numpy as np
  from jax.sharding import NamedSharding, PartitionSpec

  from algoperf_lab import registry, spec
  from algoperf_lab.parallel import MeshConfig, batch_sharding, make_mesh, param_shardings

  workload = registry.make_workload("lm_moe", "tiny",
                                    (*MOE_OVERRIDES, "--config.moe.num_experts=8"))
  workload.configure_options({"balance": "global_batch_lbl", "z_loss_coef": 1e-3})
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  params, state = jax.tree.map(np.asarray, (params, state))
  queue = workload.build_input_queue(jax.random.PRNGKey(1), "train", None, 16)
  batch = {key: np.asarray(value) for key, value in next(queue).items()}

  def objective(p: Any, s: Any, b: dict[str, Any]) -> jax.Array:
    logits, new_state = workload.model_fn(p, b, s, spec.ForwardPassMode.TRAIN, None, True)
    losses = workload.loss_fn(b["targets"], logits, b["weights"])
    return losses["summed"] / losses["n_valid_examples"] + workload.auxiliary_loss(new_state)

  value_and_grad = jax.value_and_grad(objective)
  one = jax.devices()[0]
  loss_one, grads_one = jax.jit(value_and_grad)(*jax.device_put((params, state, batch), one))
  grads_one = jax.tree.map(np.asarray, grads_one)
  findings: dict[str, Any] = {"loss_one_device": float(loss_one)}
  for name, config in {"expert8": MeshConfig(data=1, expert=8),
                       "data2_expert4": MeshConfig(data=2, expert=4)}.items():
    mesh = make_mesh(config)
    shardings = param_shardings(params, workload.param_logical_axes, mesh, "expert")
    replicated = NamedSharding(mesh, PartitionSpec())
    step = jax.jit(value_and_grad, in_shardings=(shardings, replicated, batch_sharding(mesh)),
                   out_shardings=(replicated, shardings))
    loss, grads = step(jax.device_put(params, shardings), jax.device_put(state, replicated),
                       jax.device_put(batch, batch_sharding(mesh)))
    wi = jax.device_put(params, shardings)["block_0"]["mlp"]["wi"]
    findings[name] = {
        "loss": float(loss),
        "max_relative_grad_difference": max(
            float(np.max(np.abs(np.asarray(g) - g1)) / (np.max(np.abs(g1)) + 1e-30))
            for g, g1 in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_one))),
        "wi_shape": list(wi.shape),
        "wi_device_shapes": sorted({tuple(s.data.shape) for s in wi.addressable_shards}),
        "wi_grad_spec": str(grads["block_0"]["mlp"]["wi"].sharding.spec),
        "router_spec": str(shardings["block_0"]["mlp"]["router"]["kernel"].spec),
        "batch_spec": str(batch_sharding(mesh).spec)}
  try:
    param_shardings(params, workload.param_logical_axes, make_mesh(MeshConfig(data=1, expert=8)),
                    "expert")
    bad = registry.make_workload("lm_moe", "tiny", (*MOE_OVERRIDES, "--config.moe.num_experts=6"))
    bad_params = jax.eval_shape(bad.init_model_fn, jax.random.PRNGKey(0))[0]
    param_shardings(bad_params, bad.param_logical_axes, make_mesh(MeshConfig(data=2, expert=4)),
                    "expert")
  except ValueError as error:
    findings["indivisible_error"] = str(error)
  return findings


SECTIONS = {"lbl": lbl_section, "expert": expert_section}

if __name__ == "__main__":
  print(json.dumps(SECTIONS[sys.argv[1]]()))
