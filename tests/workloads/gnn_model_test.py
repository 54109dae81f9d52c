"""The GNN model and workload: shapes per size and variant, graph independence, losses, params."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from algoperf_lab import registry, spec
from configs import gnn as gnn_configs
from workloads.gnn import batching, molecules
from workloads.gnn.batching import BatchBudget
from workloads.gnn.model import GnnModelConfig
from workloads.gnn.molecules import MoleculeDataset
from workloads.gnn.workload import GnnWorkload, mean_absolute_error

TRAIN, EVAL = spec.ForwardPassMode.TRAIN, spec.ForwardPassMode.EVAL
WORKLOADS = ("gnn", "gnn_gelu", "gnn_silu", "gnn_deep")
PARAMETER_COUNTS = {"tiny": (0.4e6, 0.6e6), "small": (2.5e6, 4e6), "full": (2.5e6, 4e6)}
SMALL_GNN_OVERRIDES = ("--config.model.latent_dim=32", "--config.model.hidden_dims=(32,)",
                       "--config.model.num_message_passing_steps=2",
                       "--config.model.dropout_rate=0.0")
SMILES = ("CCO", "c1ccccc1", "O", "CC(=O)N", "C#N", "OCC1OC(O)C(O)C1O")
BUDGET = BatchBudget(max_graphs=8, max_nodes=40, max_edges=80)


def _count(tree: Any) -> int:
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize("size", gnn_configs.SIZES)
@pytest.mark.parametrize("name", WORKLOADS)
def test_output_shapes_abstractly(name: str, size: str) -> None:
  workload = registry.make_workload(name, size)
  budget = workload.data_config.budget(workload.default_batch_size)
  ints = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.int32)  # noqa: E731
  graph = (ints(budget.max_nodes, 9), ints(budget.max_edges, 3), ints(budget.max_edges),
           ints(budget.max_edges), ints(budget.max_nodes))
  model = workload._model
  variables = jax.eval_shape(
      lambda key, *g: model.init(key, *g, num_graphs=budget.max_graphs), jax.random.PRNGKey(0),
      *graph)
  logits = jax.eval_shape(lambda v, *g: model.apply(v, *g, num_graphs=budget.max_graphs),
                          variables, *graph)
  num_tasks = 128 if size == "full" else 12
  assert logits.shape == (budget.max_graphs, num_tasks) and workload.num_tasks == num_tasks
  low, high = PARAMETER_COUNTS[size]
  if name == "gnn_deep":
    low, high = 1.8 * low, 2.2 * high
  assert low <= _count(variables["params"]) <= high


def test_variants_change_the_model_only() -> None:
  base = registry.make_workload("gnn", "tiny")
  for name, change in [("gnn_gelu", {"activation": "gelu"}), ("gnn_silu", {"activation": "silu"}),
                       ("gnn_deep", {"num_message_passing_steps": 6})]:
    variant = registry.make_workload(name, "tiny")
    assert variant.model_config == GnnModelConfig(**{**vars(base.model_config), **change})
    assert variant.data_config == base.data_config
    assert variant.base_workload == "gnn"  # type: ignore[attr-defined]


def test_sizes_targets_and_loss_types() -> None:
  tiny, full = registry.make_workload("gnn", "tiny"), registry.make_workload("gnn", "full")
  assert tiny.loss_type is spec.LossType.MEAN_SQUARED_ERROR
  assert tiny.target_metric_name == "mae"
  assert tiny.target_direction is spec.TargetDirection.LOWER_IS_BETTER
  assert full.loss_type is spec.LossType.SIGMOID_CROSS_ENTROPY
  assert full.target_metric_name == "mean_average_precision"
  assert full.target_direction is spec.TargetDirection.HIGHER_IS_BETTER
  assert (full.validation_target_value, full.test_target_value) == (0.28098, 0.268729)
  assert (full.max_allowed_runtime_sec, full.eval_period_time_sec) == (12_011, 240)
  assert full.default_batch_size == 512
  assert full.model_config == GnnModelConfig(256, (256,), 5, "relu", 0.1)


@pytest.mark.parametrize("changes, message", [
    ({"activation": "swish"}, "activation 'swish' unknown"),
    ({"hidden_dims": ()}, "at least one"),
    ({"num_message_passing_steps": 0}, ">= 1"),
])
def test_model_config_validation(changes: dict[str, Any], message: str) -> None:
  valid = dict(latent_dim=8, hidden_dims=[8, 8], num_message_passing_steps=1)
  assert GnnModelConfig(**valid).hidden_dims == (8, 8)  # a list from the config becomes a tuple
  with pytest.raises(ValueError, match=message):
    GnnModelConfig(**{**valid, **changes})


# -- a small workload on a few real molecules ----------------------------------------------------
@pytest.fixture(scope="module")
def molecule_set() -> MoleculeDataset:
  graphs, kept = molecules.graphs_from_smiles(SMILES)
  assert len(kept) == len(SMILES)
  labels = np.random.default_rng(0).standard_normal((len(SMILES), 12)).astype(np.float32)
  everything = np.arange(len(SMILES))
  return MoleculeDataset(graphs, labels, np.ones(labels.shape, bool),
                         {"train": everything, "validation": everything, "test": everything},
                         tuple(f"task{i}" for i in range(12)))


@pytest.fixture(scope="module")
def small_gnn() -> tuple[GnnWorkload, Any]:
  workload = registry.make_workload("gnn", "tiny", SMALL_GNN_OVERRIDES)
  params, _ = workload.init_model_fn(jax.random.PRNGKey(0))
  return workload, params  # type: ignore[return-value]


def _batch(dataset: MoleculeDataset, indices: list[int],
           budget: BatchBudget = BUDGET) -> dict[str, np.ndarray]:
  return batching.pad_batch(dataset, np.asarray(indices), budget)


def _apply(workload: GnnWorkload, params: Any, batch: Any, mode: spec.ForwardPassMode,
           rng: jax.Array, dropout_rate: Any) -> jax.Array:
  logits, _ = workload.model_fn(params, batch, None, mode, rng, update_batch_norm=False,
                                dropout_rate=dropout_rate)
  return logits


_jitted_apply = jax.jit(_apply, static_argnums=(0, 3, 5))


def _logits(workload: GnnWorkload, params: Any, batch: Any, mode: spec.ForwardPassMode = EVAL,
            rng: jax.Array | None = None, dropout_rate: float | None = None) -> np.ndarray:
  rng = rng if rng is not None else jax.random.PRNGKey(0)
  return np.asarray(_jitted_apply(workload, params, batch, mode, rng, dropout_rate))


def test_logits_shape_and_finite(small_gnn: tuple[GnnWorkload, Any],
                                 molecule_set: MoleculeDataset) -> None:
  workload, params = small_gnn
  logits = _logits(workload, params, _batch(molecule_set, [0, 1, 2]))
  assert logits.shape == (BUDGET.max_graphs, 12) and np.isfinite(logits).all()


def test_graphs_in_a_batch_do_not_interact(small_gnn: tuple[GnnWorkload, Any],
                                           molecule_set: MoleculeDataset) -> None:
  workload, params = small_gnn
  together = _logits(workload, params, _batch(molecule_set, [0, 1, 2, 3]))
  for position, index in enumerate([0, 1, 2, 3]):
    alone = _logits(workload, params, _batch(molecule_set, [index]))
    np.testing.assert_allclose(alone[0], together[position], rtol=1e-4, atol=1e-5)
  # Other padding sizes give the same outputs for the real graphs.
  roomy = _logits(workload, params, _batch(molecule_set, [0, 1, 2, 3], BatchBudget(16, 90, 200)))
  np.testing.assert_allclose(roomy[:4], together[:4], rtol=1e-4, atol=1e-5)
  # A graph's structure matters: different molecules, different outputs.
  assert not np.allclose(together[0], together[1], atol=1e-3)


def test_param_types(small_gnn: tuple[GnnWorkload, Any]) -> None:
  workload, _ = small_gnn
  types = workload.model_params_types
  assert types["node_embed"]["embed"]["embedding"] is spec.ParameterType.EMBEDDING
  assert types["edge_embed"]["embed"]["embedding"] is spec.ParameterType.EMBEDDING
  mlp = types["edge_mlp_0"]
  assert mlp["dense_0"]["kernel"] is spec.ParameterType.WEIGHT
  assert mlp["dense_0"]["bias"] is spec.ParameterType.BIAS
  assert mlp["layer_norm_0"]["scale"] is spec.ParameterType.LAYER_NORM_SCALE
  assert mlp["layer_norm_0"]["bias"] is spec.ParameterType.LAYER_NORM_BIAS
  assert types["readout"]["kernel"] is spec.ParameterType.WEIGHT
  assert set(types) == {"node_embed", "edge_embed", "readout",
                        *(f"{part}_mlp_{step}" for part in ("edge", "node", "global")
                          for step in range(2))}
  assert workload.is_output_params("readout") and not workload.is_output_params("node_embed")


def test_param_shapes_and_logical_axes(small_gnn: tuple[GnnWorkload, Any]) -> None:
  workload, params = small_gnn
  assert workload.param_shapes == jax.tree.map(lambda p: spec.ShapeTuple(p.shape), params)
  assert workload.param_shapes["node_embed"]["embed"]["embedding"].shape_tuple == (
      sum(molecules.NODE_FEATURE_SIZES), 32)
  # The edge MLP reads [edge, sender, receiver, global]: 4 x 32 inputs.
  assert params["edge_mlp_0"]["dense_0"]["kernel"].shape == (128, 32)
  assert params["node_mlp_0"]["dense_0"]["kernel"].shape == (96, 32)
  assert params["readout"]["kernel"].shape == (32, 12)
  axes = workload.param_logical_axes
  is_spec = lambda x: isinstance(x, PartitionSpec)  # noqa: E731
  assert jax.tree.structure(axes, is_leaf=is_spec) == jax.tree.structure(params)
  for spec_leaf, param in zip(jax.tree.leaves(axes, is_leaf=is_spec), jax.tree.leaves(params)):
    assert len(tuple(spec_leaf)) == param.ndim
  assert tuple(axes["node_embed"]["embed"]["embedding"]) == ("vocab", "embed")
  assert tuple(axes["edge_mlp_1"]["dense_0"]["kernel"]) == ("embed", "mlp")
  assert tuple(axes["readout"]["kernel"]) == ("embed", "tasks")


def test_param_logical_axes_before_init() -> None:
  with pytest.raises(ValueError, match="init_model_fn"):
    _ = registry.make_workload("gnn", "tiny").param_logical_axes


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_rate_may_be_traced(small_gnn: tuple[GnnWorkload, Any],
                                    molecule_set: MoleculeDataset) -> None:
  workload, params = small_gnn
  batch = _batch(molecule_set, [0, 1, 5])

  @jax.jit
  def train_logits(params: Any, rng: jax.Array, rate: jax.Array) -> jax.Array:
    return _apply(workload, params, batch, TRAIN, rng, dropout_rate=rate)

  evaluated = _logits(workload, params, batch)
  key = jax.random.PRNGKey(5)
  dropped = train_logits(params, key, jnp.float32(0.5))
  assert not np.allclose(dropped, evaluated, atol=1e-4)
  assert not np.allclose(dropped, train_logits(params, jax.random.PRNGKey(6), jnp.float32(0.5)),
                         atol=1e-4)
  np.testing.assert_allclose(train_logits(params, key, jnp.float32(0.0)), evaluated, rtol=1e-5,
                             atol=1e-5)
  # The config's rate (0 in this small config) applies when none is passed.
  np.testing.assert_allclose(_logits(workload, params, batch, TRAIN), evaluated, rtol=1e-5,
                             atol=1e-5)


# -- losses --------------------------------------------------------------------------------------
_jitted_loss = jax.jit(lambda workload, labels, logits, mask, smoothing: workload.loss_fn(
    labels, logits, mask, smoothing), static_argnums=(0, 4))
_jitted_per_task = jax.jit(lambda workload, labels, logits, mask: workload.per_task_loss_fn(
    labels, logits, mask), static_argnums=0)


def _normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _mask(seed: int, shape: tuple[int, ...]) -> np.ndarray:
  mask = (np.random.default_rng(seed).random(shape) < 0.6).astype(np.float32)
  mask[-1] = 0.0  # a padding graph
  mask[:, 2] = 0.0  # a task with no labels in this batch
  return mask


def test_squared_error_loss_masks_labels() -> None:
  workload = registry.make_workload("gnn", "tiny")
  labels, logits, mask = _normal(0, (6, 12)), _normal(1, (6, 12)), _mask(2, (6, 12))
  losses = {k: np.asarray(v) for k, v in _jitted_loss(workload, labels, logits, mask, 0.0).items()}
  assert losses["per_example"].shape == (6, 12)
  assert float(losses["n_valid_examples"]) == mask.sum()
  np.testing.assert_allclose(losses["summed"], (((logits - labels) ** 2) * mask).sum(), rtol=1e-5)
  noisy = logits + 100.0 * (1.0 - mask) * _normal(3, logits.shape)
  np.testing.assert_allclose(_jitted_loss(workload, labels, noisy, mask, 0.0)["summed"],
                             losses["summed"], rtol=1e-5)
  unmasked = _jitted_loss(workload, labels, logits, None, 0.0)
  assert float(unmasked["n_valid_examples"]) == 72.0


def test_sigmoid_loss_for_molpcba() -> None:
  workload = registry.make_workload("gnn", "full")
  labels = (np.random.default_rng(0).random((5, 128)) < 0.3).astype(np.float32)
  logits, mask = _normal(1, (5, 128)), _mask(2, (5, 128))
  losses = _jitted_loss(workload, labels, logits, mask, 0.0)
  probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
  cross_entropy = -(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
  np.testing.assert_allclose(losses["summed"], (cross_entropy * mask).sum(), rtol=1e-5)
  confident = 30.0 * (2 * labels - 1)
  plain = float(_jitted_loss(workload, labels, confident, mask, 0.0)["summed"])
  smoothed = float(_jitted_loss(workload, labels, confident, mask, 0.1)["summed"])
  assert plain < 1e-6 and smoothed > plain + 1.0


@pytest.mark.parametrize("size", ["tiny", "full"])
def test_per_task_losses_add_up_to_the_total(size: str) -> None:
  workload = registry.make_workload("gnn", size)
  tasks = workload.num_tasks
  labels = (np.random.default_rng(0).random((9, tasks)) < 0.5).astype(np.float32)
  logits, mask = _normal(1, (9, tasks)), _mask(2, (9, tasks))
  losses = _jitted_loss(workload, labels, logits, mask, 0.0)
  per_task_mean = np.asarray(_jitted_per_task(workload, labels, logits, mask))
  assert per_task_mean.shape == (tasks,) and per_task_mean[2] == 0.0  # a task without labels
  per_task_summed = np.asarray(losses["per_example"]).sum(axis=0)
  np.testing.assert_allclose(per_task_summed.sum(), losses["summed"], rtol=1e-5)
  counts = mask.sum(axis=0)
  np.testing.assert_allclose(per_task_mean * counts, per_task_summed, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose((per_task_mean * counts).sum() / counts.sum(),
                             float(losses["summed"]) / float(losses["n_valid_examples"]),
                             rtol=1e-5)
  # Without a mask every label counts: the per-task means average to the mean loss.
  unmasked = np.asarray(_jitted_per_task(workload, labels, logits, None))
  np.testing.assert_allclose(unmasked.mean(), float(_jitted_loss(
      workload, labels, logits, None, 0.0)["summed"]) / (9 * tasks), rtol=1e-5)


def test_mean_absolute_error_averages_tasks() -> None:
  targets = np.zeros((4, 2))
  predictions = np.array([[1.0, 10.0], [1.0, 10.0], [3.0, 10.0], [100.0, 10.0]])
  mask = np.array([[1, 1], [1, 0], [1, 0], [0, 0]], bool)
  assert mean_absolute_error(targets, predictions, mask) == pytest.approx((5 / 3 + 10) / 2)
