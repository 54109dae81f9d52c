"""Partition rules: FSDP dimension choice, optimizer-state rule, and (on 8 devices in a
subprocess) the LM sharded for real, with one loss on 1 device, data parallel and FSDP."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from algoperf_lab import spec
from algoperf_lab.parallel import (MeshConfig, batch_sharding, make_mesh,
                                   optimizer_state_shardings, param_shardings, shard_batch)
from algoperf_lab.parallel.partitioning import choose_fsdp_dimension
from tests.parallel import device_checks

BIG_KERNELS = ("['embed']['embedding']", "['block_0']['mlp']['wi']['kernel']",
               "['block_0']['mlp']['wo']['kernel']", "['block_0']['attention']['query']['kernel']",
               "['block_0']['attention']['out']['kernel']")


@pytest.fixture(scope="module")
def eight_devices() -> dict[str, Any]:
  return device_checks.run("partitioning")


# -- the FSDP dimension rule --------------------------------------------------------------------
@pytest.mark.parametrize("shape, names, size, expected", [
    ((256, 32), ("vocab", "embed"), 8, 0),         # both preferred: the larger
    ((32, 2, 16), ("embed", "heads", "head_dim"), 8, 0),  # heads=2 does not divide
    ((2, 16, 32), ("heads", "head_dim", "embed"), 8, 2),  # head_dim divides, not preferred
    ((2, 64), ("heads", "kv"), 8, 1),               # no preferred candidate: largest that divides
    ((3, 5), ("embed", "mlp"), 8, None),            # nothing divides: replicate
    ((64, 64), None, 8, 0),                          # no names: largest, first on a tie
    ((64, 128), None, 1, None),                      # fsdp size 1: nothing to split
    ((16, 64), (("embed", "x"), None), 8, 0),       # a tuple of names counts if any is preferred
])
def test_choose_fsdp_dimension(shape: tuple[int, ...], names: Any, size: int,
                               expected: int | None) -> None:
  assert choose_fsdp_dimension(shape, names, size) == expected


def _mesh() -> Any:
  return make_mesh(MeshConfig())


def test_param_shardings_accepts_shapes_of_every_kind() -> None:
  params = {"a": jnp.zeros((4, 2)), "b": jax.ShapeDtypeStruct((3,), jnp.float32),
            "c": spec.ShapeTuple((2, 2))}
  shardings = param_shardings(params, None, _mesh(), "fsdp")
  assert set(shardings) == {"a", "b", "c"}
  assert all(isinstance(s, NamedSharding) for s in shardings.values())


def test_param_shardings_rejects_bad_input() -> None:
  params = {"w": jnp.zeros((4, 2))}
  with pytest.raises(ValueError, match="unknown partitioning strategy"):
    param_shardings(params, None, _mesh(), "tensor")  # type: ignore[arg-type]
  with pytest.raises(ValueError, match="name 1 dimensions"):
    param_shardings(params, {"w": PartitionSpec("embed")}, _mesh(), "fsdp")
  with pytest.raises(ValueError, match="structure"):
    param_shardings(params, {"v": PartitionSpec("embed", "mlp")}, _mesh(), "fsdp")


def test_optimizer_state_follows_parameters_by_path_then_shape() -> None:
  mesh = _mesh()
  by_rows, by_columns = NamedSharding(mesh, PartitionSpec("fsdp")), NamedSharding(
      mesh, PartitionSpec(None, "fsdp"))
  params = {"wi": jnp.zeros((8, 4)), "wo": jnp.zeros((4, 8)), "norm": jnp.zeros((8,)),
            "twin": jnp.zeros((4, 8))}
  shardings = {"wi": by_rows, "wo": by_columns, "norm": by_rows, "twin": by_rows}
  opt_state = (optax.adamw(1e-3).init(params), lambda x: x)
  result = optimizer_state_shardings(opt_state, params, shardings, mesh)
  adam = result[0][0]
  assert adam.mu == shardings and adam.nu == shardings  # by path
  assert adam.count.spec == PartitionSpec()  # a scalar: replicated
  assert result[1] is None  # not an array
  flat = [jnp.zeros((8, 4)), jnp.zeros((8,)), jnp.zeros((4, 8)), jnp.zeros((3,))]
  by_shape = optimizer_state_shardings(flat, params, shardings, mesh)
  assert by_shape[0] == by_rows and by_shape[1] == by_rows  # one parameter shape, one sharding
  assert by_shape[2].spec == PartitionSpec()  # (4, 8): wo and twin disagree
  assert by_shape[3].spec == PartitionSpec()  # no parameter of this shape


def test_snapshot_stacks_are_sharded_like_their_parameter() -> None:
  """WSM's and LAWA's rings hold k copies of each parameter on a leading axis: that axis stays
  whole and the rest follows the parameter (it was replicated, k full copies per device)."""
  mesh = _mesh()
  by_rows, by_columns = NamedSharding(mesh, PartitionSpec("fsdp")), NamedSharding(
      mesh, PartitionSpec(None, "fsdp"))
  params = {"wi": jnp.zeros((8, 4)), "wo": jnp.zeros((4, 8))}
  shardings = {"wi": by_rows, "wo": by_columns}
  ring = {"snapshots": jax.tree.map(lambda x: jnp.zeros((3, *x.shape)), params),
          "count": jnp.zeros([], jnp.int32)}
  result = optimizer_state_shardings(ring, params, shardings, mesh)
  assert result["snapshots"]["wi"].spec == PartitionSpec(None, "fsdp")
  assert result["snapshots"]["wo"].spec == PartitionSpec(None, None, "fsdp")
  assert result["count"].spec == PartitionSpec()


def test_batch_sharding_splits_the_leading_dimension() -> None:
  mesh = _mesh()
  assert batch_sharding(mesh).spec == PartitionSpec(("data", "fsdp"))
  batch = shard_batch({"inputs": np.arange(8).reshape(4, 2)}, mesh)
  assert batch["inputs"].sharding == batch_sharding(mesh)
  np.testing.assert_array_equal(np.asarray(batch["inputs"]), np.arange(8).reshape(4, 2))


# -- 8 devices ---------------------------------------------------------------------------------
def test_fsdp_really_shards_the_lm(eight_devices: dict[str, Any]) -> None:
  params = eight_devices["layouts"]["fsdp"]["params"]
  for path, entry in params.items():
    shape, shard = entry["shape"], entry["shard"]
    assert np.prod(shard) * 8 == np.prod(shape), path  # every LM parameter divides by 8
    assert entry["addressable"] == [shard] * 8
  assert params["['embed']['embedding']"]["shard"] == [32, 32]  # vocab 256 / 8
  assert params["['block_0']['mlp']['wi']['kernel']"]["shard"] == [32, 8]  # mlp 64 / 8
  assert params["['block_0']['attention']['out']['kernel']"]["shard"] == [2, 16, 4]  # embed


def test_optimizer_state_is_sharded_like_the_parameters(eight_devices: dict[str, Any]) -> None:
  layouts = eight_devices["layouts"]["fsdp"]
  for path, entry in layouts["params"].items():
    for moment in ("mu", "nu"):
      assert layouts["opt_state"][f"[0].{moment}{path}"]["shard"] == entry["shard"]
  assert layouts["opt_state"]["[0].count"]["shard"] == []


def test_replicated_keeps_full_shapes(eight_devices: dict[str, Any]) -> None:
  for name in ("one_device", "data_parallel"):
    for state in ("params", "opt_state"):
      for path, entry in eight_devices["layouts"][name][state].items():
        assert entry["shard"] == entry["shape"], (name, path)
  batch = eight_devices["layouts"]["data_parallel"]["batch"]["['inputs']"]
  assert batch["shape"] == [16, 32] and batch["shard"] == [2, 32]


def test_fsdp_from_shapes_alone(eight_devices: dict[str, Any]) -> None:
  params = eight_devices["layouts"]["fsdp_inferred"]["params"]  # data=2 x fsdp=4, no names
  assert params["['embed']['embedding']"]["shard"] == [64, 32]
  assert params["['block_0']['attention']['query']['kernel']"]["shard"] == [8, 2, 16]
  for path in BIG_KERNELS:
    assert np.prod(params[path]["shard"]) < np.prod(params[path]["shape"]), path


def test_same_training_on_one_device_data_parallel_and_fsdp(eight_devices: dict[str, Any]) -> None:
  losses = eight_devices["losses"]
  for name in ("data_parallel", "fsdp"):
    np.testing.assert_allclose(losses[name], losses["one_device"], rtol=1e-5)
  assert losses["one_device"][1] < losses["one_device"][0]  # the step did train
  assert max(eight_devices["max_param_difference"].values()) < 1e-5


def test_uneven_batch_is_a_clear_error(eight_devices: dict[str, Any]) -> None:
  assert "into 8 pieces" in eight_devices["uneven_batch_error"]


def test_checkpoint_saved_replicated_restores_fsdp_sharded(eight_devices: dict[str, Any]) -> None:
  checkpoint = eight_devices["checkpoint"]
  assert checkpoint["step"] == 5 and checkpoint["equal"] and checkpoint["same_shardings"]
  assert checkpoint["layout"]["['embed']['embedding']"]["shard"] == [64, 32]
