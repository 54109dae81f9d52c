"""A graph network in the style of AlgoPerf's ogbg model (jraph's GraphNetwork, no jraph).

Node and edge features are embedded (a sum of one learned vector per feature value), then
each message-passing step updates edges from [edge, sender, receiver, global], nodes from
[node, sum of incoming edges, global], and each graph's global from [global, sum of its
nodes, sum of its edges]; a dense readout maps the final global to one output per task.

Shape suffixes: N nodes, E edges, G graphs (the padded sizes of a batch), R rows (any of
those), F features per node or edge, D latent width (latent_dim after embedding, then the
MLPs' last hidden width), I an MLP's input width, T tasks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from workloads.gnn.molecules import EDGE_FEATURE_SIZES, NODE_FEATURE_SIZES
from workloads.layers import Dropout

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu, "tanh": jnp.tanh}


@dataclasses.dataclass(frozen=True)
class GnnModelConfig:
  latent_dim: int
  hidden_dims: tuple[int, ...]
  num_message_passing_steps: int
  activation: str = "relu"
  dropout_rate: float = 0.1

  def __post_init__(self) -> None:
    object.__setattr__(self, "hidden_dims", tuple(int(d) for d in self.hidden_dims))
    if not self.hidden_dims:
      raise ValueError("hidden_dims must name at least one MLP layer width.")
    if self.num_message_passing_steps < 1:
      raise ValueError(f"num_message_passing_steps={self.num_message_passing_steps} must be >= 1.")
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"activation {self.activation!r} unknown; "
                       f"choose from {sorted(ACTIVATIONS)}.")


def _partitioned(init: nn.initializers.Initializer,
                 names: tuple[str, ...]) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(init, names)


class FeatureEmbed(nn.Module):
  """Integer features [R, F] → [R, D]: the sum of one embedding per feature's value."""

  feature_sizes: Sequence[int]
  latent_dim: int

  @nn.compact
  def __call__(self, features_RxF: jax.Array) -> jax.Array:
    offsets_F = jnp.cumsum(jnp.asarray((0, *self.feature_sizes[:-1]), jnp.int32))
    stddev = 1.0 / len(self.feature_sizes) ** 0.5  # the sum has unit variance
    table = nn.Embed(sum(self.feature_sizes), self.latent_dim, name="embed",
                     embedding_init=_partitioned(nn.initializers.normal(stddev),
                                                 ("vocab", "embed")))
    return table(features_RxF + offsets_F[None, :]).sum(axis=1)


class Mlp(nn.Module):
  """Dense → LayerNorm → activation → dropout, once per width in hidden_dims."""

  hidden_dims: Sequence[int]
  activation: str

  @nn.compact
  def __call__(self, x_RxI: jax.Array, dropout_rate: float | jax.Array,
               deterministic: bool) -> jax.Array:
    for layer, width in enumerate(self.hidden_dims):
      x_RxI = nn.Dense(width, name=f"dense_{layer}",
                       kernel_init=_partitioned(nn.initializers.lecun_normal(), ("embed", "mlp")),
                       bias_init=_partitioned(nn.initializers.zeros, ("mlp",)))(x_RxI)
      x_RxI = nn.LayerNorm(name=f"layer_norm_{layer}",
                           scale_init=_partitioned(nn.initializers.ones, ("mlp",)),
                           bias_init=_partitioned(nn.initializers.zeros, ("mlp",)))(x_RxI)
      x_RxI = ACTIVATIONS[self.activation](x_RxI)
      x_RxI = Dropout()(x_RxI, dropout_rate, deterministic)
    return x_RxI


class GraphNetwork(nn.Module):
  """A padded graph batch → one output per graph and task, [G, T]."""

  config: GnnModelConfig
  num_outputs: int

  @nn.compact
  def __call__(self, node_features_NxF: jax.Array, edge_features_ExF: jax.Array,
               senders_E: jax.Array, receivers_E: jax.Array, node_graph_index_N: jax.Array,
               num_graphs: int, *, dropout_rate: float | jax.Array = 0.0,
               deterministic: bool = True) -> jax.Array:
    c = self.config
    num_nodes = node_features_NxF.shape[0]
    edge_graph_index_E = node_graph_index_N[senders_E]
    nodes_NxD = FeatureEmbed(NODE_FEATURE_SIZES, c.latent_dim, name="node_embed")(node_features_NxF)
    edges_ExD = FeatureEmbed(EDGE_FEATURE_SIZES, c.latent_dim, name="edge_embed")(edge_features_ExF)
    globals_GxD = jnp.zeros((num_graphs, c.latent_dim), nodes_NxD.dtype)
    mlp = lambda name: lambda x: Mlp(c.hidden_dims, c.activation, name=name)(  # noqa: E731
        x, dropout_rate, deterministic)
    for step in range(c.num_message_passing_steps):
      edges_ExD = mlp(f"edge_mlp_{step}")(jnp.concatenate(
          [edges_ExD, nodes_NxD[senders_E], nodes_NxD[receivers_E],
           globals_GxD[edge_graph_index_E]], axis=-1))
      incoming_NxD = jax.ops.segment_sum(edges_ExD, receivers_E, num_segments=num_nodes)
      nodes_NxD = mlp(f"node_mlp_{step}")(jnp.concatenate(
          [nodes_NxD, incoming_NxD, globals_GxD[node_graph_index_N]], axis=-1))
      node_sum_GxD = jax.ops.segment_sum(nodes_NxD, node_graph_index_N, num_segments=num_graphs)
      edge_sum_GxD = jax.ops.segment_sum(edges_ExD, edge_graph_index_E, num_segments=num_graphs)
      globals_GxD = mlp(f"global_mlp_{step}")(jnp.concatenate(
          [globals_GxD, node_sum_GxD, edge_sum_GxD], axis=-1))
    return nn.Dense(self.num_outputs, name="readout",
                    kernel_init=_partitioned(nn.initializers.lecun_normal(), ("embed", "tasks")),
                    bias_init=_partitioned(nn.initializers.zeros, ("tasks",)))(globals_GxD)
