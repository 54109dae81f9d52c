"""Padded graph batches with fixed sizes, so the train step compiles once.

A batch concatenates whole graphs. Its arrays have fixed sizes (G_max graphs, N_max nodes,
E_max edges); the last graph slot and at least one node slot are kept for padding: padding
nodes belong to the last graph and padding edges join the last node to itself, so they only
ever reach the padding graph, which the masks drop. Keys (shapes):

  node_features [N_max, 9] int32     edge_features [E_max, 3] int32
  senders, receivers [E_max] int32   node_graph_index [N_max] int32
  node_mask [N_max], edge_mask [E_max], graph_mask [G_max] bool
  targets [G_max, T] float32         target_mask [G_max, T] bool
  weights [G_max, T] float32 (target_mask × graph_mask, AlgoPerf's loss mask)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from algoperf_lab.data.batch_size import BatchSizeError
from workloads.gnn import molecules
from workloads.gnn.molecules import MoleculeDataset


def check_batch_size(batch_size: int, num_graphs: int, split: str) -> None:
  """Refuses a batch of more graphs than the split holds: packing would never fill it."""
  if not 1 <= batch_size <= num_graphs:
    raise BatchSizeError(f"batch size {batch_size} is not between 1 and the {num_graphs} graphs "
                         f"of the {split} split; return a smaller get_batch_size (or use more "
                         "molecules: --config.data.max_molecules).")


@dataclasses.dataclass(frozen=True)
class BatchBudget:
  """Array sizes of a padded batch: G_max graph slots, N_max node slots, E_max edge slots."""

  max_graphs: int
  max_nodes: int
  max_edges: int

  def __post_init__(self) -> None:
    if self.max_graphs < 2 or self.max_nodes < 2 or self.max_edges < 1:
      raise ValueError(f"{self}: need at least 2 graph slots, 2 node slots and 1 edge slot "
                       "(one graph slot and one node slot are kept for padding).")

  @classmethod
  def for_batch_size(cls, batch_size: int, nodes_per_graph: int,
                     edges_per_graph: int) -> BatchBudget:
    """Room for `batch_size` graphs of up to the given mean size, plus the padding slots."""
    return cls(max_graphs=batch_size + 1, max_nodes=batch_size * nodes_per_graph + 1,
               max_edges=batch_size * edges_per_graph)

  def fits(self, num_graphs: int, num_nodes: int, num_edges: int) -> bool:
    """Whether this many real graphs, nodes and edges fit beside the padding slots."""
    return (num_graphs <= self.max_graphs - 1 and num_nodes <= self.max_nodes - 1
            and num_edges <= self.max_edges)

  def check_graph(self, index: int, num_nodes: int, num_edges: int) -> None:
    if not self.fits(1, num_nodes, num_edges):
      raise ValueError(f"graph {index} has {num_nodes} nodes and {num_edges} edges, more than a "
                       f"whole batch holds ({self.max_nodes - 1} real nodes, {self.max_edges} "
                       "edges); raise data.nodes_per_graph / data.edges_per_graph.")


def next_greedy_batch(order: Sequence[int], start: int, num_nodes: np.ndarray,
                      num_edges: np.ndarray, budget: BatchBudget) -> list[int]:
  """Greedy packing: the graphs order[start], order[start + 1], ... that fill the next batch.

  It stops before the first graph that no longer fits (that graph starts the next batch), so
  graphs are never split or dropped. `order` may be any indexable sequence of graph indices
  (an endless stream too: at most `max_graphs` positions are read).
  """
  batch: list[int] = []
  nodes = edges = 0
  for position in range(start, min(len(order), start + budget.max_graphs)):
    index = int(order[position])
    n, e = int(num_nodes[index]), int(num_edges[index])
    budget.check_graph(index, n, e)
    if not budget.fits(len(batch) + 1, nodes + n, edges + e):
      break
    batch.append(index)
    nodes, edges = nodes + n, edges + e
  return batch


def pack_in_order(num_nodes: np.ndarray, num_edges: np.ndarray, order: np.ndarray,
                  budget: BatchBudget) -> Iterator[np.ndarray]:
  """Consecutive greedy batches of `order` (graph indices), covering every graph once."""
  start = 0
  while start < len(order):
    batch = next_greedy_batch(order, start, num_nodes, num_edges, budget)
    yield np.asarray(batch, np.int64)
    start += len(batch)


def pad_batch(dataset: MoleculeDataset, indices: np.ndarray,
              budget: BatchBudget) -> dict[str, np.ndarray]:
  """The graphs at `indices` as one padded batch (keys and shapes in the module docstring)."""
  graphs = dataset.graphs
  indices = np.asarray(indices, np.int64)
  nodes_per_graph, edges_per_graph = graphs.num_nodes[indices], graphs.num_edges[indices]
  num_graphs, num_nodes, num_edges = len(indices), nodes_per_graph.sum(), edges_per_graph.sum()
  if not budget.fits(num_graphs, num_nodes, num_edges):
    raise ValueError(f"{num_graphs} graphs with {num_nodes} nodes and {num_edges} edges do not "
                     f"fit in {budget}.")
  node_rows = molecules.concatenated_ranges(graphs.node_offsets[indices], nodes_per_graph)
  edge_rows = molecules.concatenated_ranges(graphs.edge_offsets[indices], edges_per_graph)
  first_node = np.repeat(np.cumsum(nodes_per_graph) - nodes_per_graph, edges_per_graph)
  pad_node, pad_graph = budget.max_nodes - 1, budget.max_graphs - 1

  def padded(values: np.ndarray, size: int, fill: int, dtype: type) -> np.ndarray:
    out = np.full((size, *values.shape[1:]), fill, dtype)
    out[:len(values)] = values
    return out

  graph_mask = np.arange(budget.max_graphs) < num_graphs
  target_mask = padded(dataset.label_mask[indices], budget.max_graphs, False, bool)
  targets = padded(np.where(dataset.label_mask[indices], dataset.labels[indices], 0.0),
                   budget.max_graphs, 0, np.float32)
  return {
      "node_features": padded(graphs.node_features[node_rows], budget.max_nodes, 0, np.int32),
      "edge_features": padded(graphs.edge_features[edge_rows], budget.max_edges, 0, np.int32),
      "senders": padded(graphs.senders[edge_rows] + first_node, budget.max_edges, pad_node,
                        np.int32),
      "receivers": padded(graphs.receivers[edge_rows] + first_node, budget.max_edges, pad_node,
                          np.int32),
      "node_graph_index": padded(np.repeat(np.arange(num_graphs), nodes_per_graph),
                                 budget.max_nodes, pad_graph, np.int32),
      "node_mask": np.arange(budget.max_nodes) < num_nodes,
      "edge_mask": np.arange(budget.max_edges) < num_edges,
      "graph_mask": graph_mask,
      "targets": targets,
      "target_mask": target_mask,
      "weights": (target_mask & graph_mask[:, None]).astype(np.float32),
  }
