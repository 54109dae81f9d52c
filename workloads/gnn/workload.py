"""The GNN workload: molecular property prediction, AlgoPerf's Workload contract.

tiny/small: QM9's 12 regression targets (standardised), mean squared error, metric `mae`.
full: ogbg-molpcba's 128 binary assays with missing labels, sigmoid cross-entropy, metric
`mean_average_precision`, at AlgoPerf's ogbg scale and targets. Both are multi-task and
expose `num_tasks` and `per_task_loss_fn`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from algoperf_lab import jax_sharding_utils, spec
from algoperf_lab.data.device_iterator import DeviceIterator
from algoperf_lab.config import dataclass_from_config
from algoperf_lab.configured_workload import ConfiguredWorkload
from configs import gnn as gnn_configs
from workloads.gnn import input_pipeline, ogb_molpcba
from workloads.gnn.input_pipeline import GnnDataConfig
from workloads.gnn.model import GnnModelConfig, GraphNetwork
from workloads.gnn.molecules import EDGE_FEATURE_SIZES, NODE_FEATURE_SIZES, MoleculeDataset

GRAPH_KEYS = ("node_features", "edge_features", "senders", "receivers", "node_graph_index")


class GnnWorkload(ConfiguredWorkload):
  """AlgoPerf-ogbg-style graph network on QM9 (tiny/small) or ogbg-molpcba (full)."""

  name = "gnn"
  description = ("graph network, QM9 12-target regression (tiny/small), "
                 "ogbg-molpcba 128 assays (full)")
  sizes = gnn_configs.SIZES

  @classmethod
  def get_config(cls, size: str) -> ml_collections.ConfigDict:
    return gnn_configs.get_config(size)

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__(config, size)
    self.model_config = dataclass_from_config(GnnModelConfig, config.model, f"{self.name}.model")
    self.data_config = dataclass_from_config(GnnDataConfig, config.data, f"{self.name}.data")
    self._model = GraphNetwork(self.model_config, self.num_tasks)
    self._dataset: MoleculeDataset | None = None
    self._eval_cache: dict[str, tuple[list[dict[str, np.ndarray]], list[spec.Batch]]] = {}
    self._eval_step = jax.jit(self._eval_logits_and_loss)

  # -- loss ------------------------------------------------------------------------------------
  @property
  def is_classification(self) -> bool:
    return self.data_config.source == "ogbg_molpcba"

  @property
  def loss_type(self) -> spec.LossType:
    return (spec.LossType.SIGMOID_CROSS_ENTROPY if self.is_classification
            else spec.LossType.MEAN_SQUARED_ERROR)

  @property
  def num_tasks(self) -> int:
    """How many outputs (tasks) each graph has: the width of logits, targets and weights."""
    return input_pipeline.num_tasks(self.data_config.source)

  @property
  def loss_is_mean_of_task_losses(self) -> bool:
    """Whether `loss_fn`'s mean equals the mean of `per_task_loss_fn` on every training batch:
    when every training molecule labels every task (QM9 without dropped labels), every task
    has the same label count, so the loss weighs the tasks equally (linear scalarisation
    then needs no per-task losses; submissions/lib/mtl.py)."""
    return self.data_config.source == "qm9" and self.data_config.corrupted_labels_dropped == 0

  # -- model -----------------------------------------------------------------------------------
  def _apply(self, params: Any, batch: spec.Batch, dropout_rate: float | jax.Array,
             deterministic: bool, rng: spec.RandomState | None) -> jax.Array:
    return self._model.apply(
        {"params": params}, *(batch[key] for key in GRAPH_KEYS),
        num_graphs=batch["graph_mask"].shape[0], dropout_rate=dropout_rate,
        deterministic=deterministic, rngs=None if deterministic else {"dropout": rng})

  def _dummy_graph(self) -> tuple[jax.Array, ...]:
    """The smallest graph batch, in GRAPH_KEYS order: two nodes, one edge (for shapes only)."""
    zeros = lambda *shape: jnp.zeros(shape, jnp.int32)  # noqa: E731
    return (zeros(2, len(NODE_FEATURE_SIZES)), zeros(1, len(EDGE_FEATURE_SIZES)), zeros(1),
            zeros(1), zeros(2))

  def init_model_fn(self, rng: spec.RandomState) -> tuple[Any, None]:
    init = lambda key: self._model.init(key, *self._dummy_graph(), num_graphs=2)  # noqa: E731
    return self._init_flax_params(init, rng), None

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: spec.Batch,
               model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
               update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[jax.Array, Any]:
    """Logits [G_max, T] for every graph slot (padding slots included; weights drop them)."""
    del update_batch_norm  # no batch norm here
    rate, deterministic = self._dropout(dropout_rate, self.model_config.dropout_rate, mode)
    logits_GxT = self._apply(params, augmented_and_preprocessed_input_batch, rate,
                             deterministic=deterministic, rng=rng)
    return logits_GxT, model_state

  def _per_label_loss(self, label_batch: jax.Array, logits_batch: jax.Array,
                      label_smoothing: float) -> jax.Array:
    if self.is_classification:
      smoothed = label_batch * (1.0 - label_smoothing) + 0.5 * label_smoothing
      return optax.sigmoid_binary_cross_entropy(logits_batch, smoothed)
    return jnp.square(logits_batch - label_batch)

  def loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
              mask_batch: jax.Array | None = None, label_smoothing: float = 0.0) -> spec.LossDict:
    """Per-label loss [G, T] (squared error, or sigmoid cross-entropy for molpcba).

    `summed` adds it over valid labels; `n_valid_examples` counts the valid labels.
    Label smoothing applies to the binary labels only.
    """
    per_label = self._per_label_loss(label_batch, logits_batch, label_smoothing)
    mask = jnp.ones_like(per_label) if mask_batch is None else mask_batch.astype(per_label.dtype)
    per_example = per_label * mask
    return {"summed": per_example.sum(), "n_valid_examples": mask.sum(), "per_example": per_example}

  def per_task_loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
                       mask_batch: jax.Array | None = None) -> jax.Array:
    """Each task's mean loss over its valid labels in the batch, [T]; 0 for a task with none.

    Weighting these by the per-task label counts (mask_batch.sum(0)) and dividing by the total
    count gives loss_fn's summed / n_valid_examples.
    """
    losses = self.loss_fn(label_batch, logits_batch, mask_batch)
    mask = (jnp.ones_like(losses["per_example"]) if mask_batch is None
            else mask_batch.astype(losses["per_example"].dtype))
    summed_T, count_T = losses["per_example"].sum(axis=0), mask.sum(axis=0)
    return jnp.where(count_T > 0, summed_T / jnp.maximum(count_T, 1.0), 0.0)

  def is_output_params(self, param_key: str) -> bool:
    return param_key == "readout"

  # -- data ------------------------------------------------------------------------------------
  def dataset(self, data_dir: str | None) -> MoleculeDataset:
    """The molecules, loaded (and converted, once, into the on-disk cache) on first use."""
    if self._dataset is None:
      self._dataset = input_pipeline.load_dataset(self.data_config, data_dir)
    return self._dataset

  def build_input_queue(self, data_rng: spec.RandomState, split: str, data_dir: str | None,
                        global_batch_size: int) -> Iterator[spec.Batch]:
    """Padded training batches of `global_batch_size` graph slots, as device arrays."""
    if split != "train":
      raise ValueError(f"build_input_queue serves the train split; evaluation reads {split!r} "
                       "through eval_model.")
    seed = int(jax.random.randint(data_rng, (), 0, np.iinfo(np.int32).max))
    batches = input_pipeline.train_batches(self.dataset(data_dir), split,
                                           self.data_config.budget(global_batch_size), seed)
    return DeviceIterator(iter(batches), place=jax_sharding_utils.replicate)

  # -- evaluation ------------------------------------------------------------------------------
  def _eval_logits_and_loss(self, params: Any,
                            batch: spec.Batch) -> tuple[jax.Array, jax.Array, jax.Array]:
    logits, _ = self.model_fn(params, batch, None, spec.ForwardPassMode.EVAL, None, False, 0.0)
    losses = self.loss_fn(batch["targets"], logits, batch["weights"])
    return logits, losses["summed"], losses["n_valid_examples"]

  def _eval_batches(self, split: str,
                    data_dir: str | None) -> tuple[list[dict[str, np.ndarray]], list[spec.Batch]]:
    """The split's evaluation batches, on the host and on the devices (built once)."""
    if split not in self._eval_cache:
      host = input_pipeline.eval_batches(
          self.dataset(data_dir), split, self.data_config.num_eval_examples(split),
          self.data_config.budget(self.data_config.eval_batch_size))
      self._eval_cache[split] = host, [jax_sharding_utils.replicate(b) for b in host]
    return self._eval_cache[split]

  def eval_model(self, global_batch_size: int, params: Any, model_state: Any,
                 rng: spec.RandomState, data_dir: str | None,
                 imagenet_v2_data_dir: str | None = None, global_step: int = 0) -> dict[str, float]:
    del global_batch_size, model_state, rng, imagenet_v2_data_dir, global_step
    results: dict[str, float] = {}
    for split in input_pipeline.SPLITS:
      host_batches, device_batches = self._eval_batches(split, data_dir)
      outputs = [self._eval_step(params, batch) for batch in device_batches]
      summed = float(sum(float(s) for _, s, _ in outputs))
      count = float(sum(float(n) for _, _, n in outputs))
      logits = np.concatenate([np.asarray(l)[b["graph_mask"]]
                               for (l, _, _), b in zip(outputs, host_batches)])
      targets = input_pipeline.real_graph_rows(host_batches, "targets")
      mask = input_pipeline.real_graph_rows(host_batches, "target_mask")
      results[f"{split}/loss"] = summed / count
      results[f"{split}/{self.targets.metric}"] = self._metric(targets, logits, mask)
      if not self.is_classification:  # per-task metrics; the target reads only the mean
        for k, value in enumerate(per_task_mean_absolute_error(targets, logits, mask)):
          if np.isfinite(value):  # a task with no labels in this split has no metric
            results[f"{split}/task_{k}/mae"] = value
    return results

  def _metric(self, targets: np.ndarray, logits: np.ndarray, mask: np.ndarray) -> float:
    if self.is_classification:
      return ogb_molpcba.mean_average_precision(targets, logits, mask)
    return mean_absolute_error(targets, logits, mask)


def per_task_mean_absolute_error(targets: np.ndarray, predictions: np.ndarray,
                                 mask: np.ndarray) -> list[float]:
  """Each task's mean |error| over its valid labels ([examples, tasks]); NaN for none."""
  mask = mask.astype(np.float64)
  counts = mask.sum(axis=0)
  summed = (np.abs(predictions - targets) * mask).sum(axis=0)
  return [float(s / c) if c > 0 else float("nan") for s, c in zip(summed, counts)]


def mean_absolute_error(targets: np.ndarray, predictions: np.ndarray, mask: np.ndarray) -> float:
  """Each task's mean |error| over its valid labels, averaged over tasks ([examples, tasks])."""
  per_task = np.asarray(per_task_mean_absolute_error(targets, predictions, mask))
  return float(per_task[np.isfinite(per_task)].mean())
