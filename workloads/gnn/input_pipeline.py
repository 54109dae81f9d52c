"""The GNN's data: molecules from QM9 or ogbg-molpcba, and grain pipelines of padded batches.

Training: the split's graphs, shuffled (reshuffled every epoch) → greedy packing into padded
batches of fixed sizes → numpy dicts (the workload puts them on the devices). Deterministic
for a seed; the iterator's `get_state`/`set_state` give and restore its position.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import grain
import numpy as np

from workloads.gnn import batching, ogb_molpcba, qm9
from workloads.gnn.batching import BatchBudget
from workloads.gnn.molecules import MoleculeDataset
from workloads.gnn.task_corruption import TaskCorruption, corrupt_training_labels

SOURCES = ("qm9", "ogbg_molpcba")
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class GnnDataConfig:
  source: str  # "qm9" (tiny, small) or "ogbg_molpcba" (full)
  nodes_per_graph: int  # node and edge room per graph slot: the batch's fixed sizes
  edges_per_graph: int
  num_eval_train_examples: int
  num_validation_examples: int
  num_test_examples: int
  eval_batch_size: int
  max_molecules: int = 0  # qm9 only: > 0 keeps the first N molecules of a fixed permutation
  validation_fraction: float = 0.1  # qm9 only; ogbg-molpcba has its scaffold split
  test_fraction: float = 0.1
  corrupted_task: str = ""  # held-out variants: this task's training labels are corrupted
  corrupted_label_noise_std: float = 0.0  # (workloads/gnn/task_corruption.py)
  corrupted_labels_dropped: float = 0.0

  def __post_init__(self) -> None:
    if self.source not in SOURCES:
      raise ValueError(f"data.source {self.source!r} unknown; choose from {SOURCES}.")

  def budget(self, batch_size: int) -> BatchBudget:
    return BatchBudget.for_batch_size(batch_size, self.nodes_per_graph, self.edges_per_graph)

  def num_eval_examples(self, split: str) -> int:
    return {"train": self.num_eval_train_examples, "validation": self.num_validation_examples,
            "test": self.num_test_examples}[split]


def num_tasks(source: str) -> int:
  return qm9.NUM_TASKS if source == "qm9" else ogb_molpcba.NUM_TASKS


def load_dataset(config: GnnDataConfig, data_dir: str | None) -> MoleculeDataset:
  if config.source == "qm9":
    dataset = qm9.load(data_dir, config.max_molecules, config.validation_fraction,
                       config.test_fraction)
  else:
    dataset = ogb_molpcba.load(data_dir)
  corruption = TaskCorruption(config.corrupted_task, config.corrupted_label_noise_std,
                              config.corrupted_labels_dropped)
  return corrupt_training_labels(dataset, corruption)


class GreedyPackIterDataset(grain.IterDataset):
  """Graph indices, read in order from a MapDataset → index arrays of greedy batches."""

  def __init__(self, indices: grain.MapDataset, num_nodes: np.ndarray, num_edges: np.ndarray,
               budget: BatchBudget):
    super().__init__(indices)
    self._sizes = (num_nodes, num_edges)
    self._budget = budget

  def __iter__(self) -> _GreedyPackIterator:
    return _GreedyPackIterator(self._parent, *self._sizes, self._budget)  # type: ignore[arg-type]


class _GreedyPackIterator(grain.DatasetIterator):
  """Its state is the position in the index stream where the next batch starts."""

  def __init__(self, indices: grain.MapDataset, num_nodes: np.ndarray, num_edges: np.ndarray,
               budget: BatchBudget):
    super().__init__()
    self._indices, self._num_nodes, self._num_edges = indices, num_nodes, num_edges
    self._budget = budget
    self._position = 0

  def __next__(self) -> np.ndarray:
    batch = batching.next_greedy_batch(self._indices, self._position, self._num_nodes,
                                       self._num_edges, self._budget)
    if not batch:
      raise StopIteration
    self._position += len(batch)
    return np.asarray(batch, np.int64)

  def get_state(self) -> dict[str, Any]:
    return {"position": self._position}

  def set_state(self, state: dict[str, Any]) -> None:
    self._position = int(state["position"])


def train_batches(dataset: MoleculeDataset, split: str, budget: BatchBudget,
                  seed: int) -> grain.IterDataset:
  """Endless padded batches of the split's graphs, reshuffled every epoch; fixed for a seed."""
  split_indices = dataset.splits[split]
  if len(split_indices) == 0:
    raise ValueError(f"the {split} split holds no molecules.")
  batching.check_batch_size(budget.max_graphs - 1, len(split_indices), split)
  graph_indices = (grain.MapDataset.range(len(split_indices)).shuffle(seed=seed).repeat()
                   .map(lambda position: int(split_indices[position])))
  packed = GreedyPackIterDataset(graph_indices, dataset.graphs.num_nodes,
                                 dataset.graphs.num_edges, budget)
  return packed.map(functools.partial(batching.pad_batch, dataset, budget=budget))


def eval_batches(dataset: MoleculeDataset, split: str, num_examples: int,
                 budget: BatchBudget) -> list[dict[str, np.ndarray]]:
  """The split's first `num_examples` graphs (all of them if fewer), in order, as batches."""
  chosen = dataset.splits[split][:num_examples]
  graphs = dataset.graphs
  return [batching.pad_batch(dataset, indices, budget)
          for indices in batching.pack_in_order(graphs.num_nodes, graphs.num_edges, chosen, budget)]


def real_graph_rows(batches: Sequence[dict[str, np.ndarray]], key: str) -> np.ndarray:
  """`key` ([G_max, ...]) of every real graph across the batches, concatenated."""
  return np.concatenate([batch[key][batch["graph_mask"]] for batch in batches])
