"""The routed-expert MLP of the MoE LM: top-k over E fine-grained experts plus shared experts.

Shape suffixes: B batch, L sequence length, D model width, T = B·L tokens, E routed experts,
K experts chosen per token, F one expert's hidden width, C one expert's capacity (tokens).

The router (float32) scores every token against every expert with a softmax or, with
`MoeConfig.score_function="sigmoid"`, DeepSeek-V3's sigmoid; the top-k choice reads the scores
plus a per-expert bias (DeepSeek-V3's auxiliary-loss-free balancing, zero unless the bias is
updated), the gate weights are the chosen unbiased scores renormalised to sum to 1. The gating
is `routing.top_k_routing` (workloads/lm/routing.py), the function the reference test checks.
DeepSeekMoE's shared experts are one dense MLP of width `num_shared_experts · expert_mlp_dim`
every token passes through.

Two dispatch modes, chosen by `MoeConfig.dispatch`:
- "dropless": the T·K (token, expert) pairs are sorted by expert and both expert matmuls
  are one grouped matmul each (`jax.lax.ragged_dot` with the experts' group sizes, or the
  same product over a block-padded layout, see `MoeConfig.grouped_matmul`), then unsorted;
  no token is ever dropped.
- "capacity": each expert takes at most C = ceil(capacity_factor · T·K / E) pairs, first
  choices of all tokens before second choices (GShard's priority), in token order; the rest
  are dropped (they contribute 0 to the output and are counted). Dense [E, C, D] buffers and
  batched matmuls: fixed shapes.

The layer records, through flax's `sow` in the "moe_stats" collection, what the workload
turns into the auxiliary losses and metrics: router logits [B, L, E], the per-expert
probabilities [B, L, E] (the softmax, or the sigmoid scores normalised over all experts: what
the load-balancing loss and the router entropy read), the k-hot choice [B, L, E] and the
dropped pairs per token [B, L].
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from workloads.lm import routing

DISPATCHES = ("dropless", "capacity")
GROUPED_MATMULS = ("ragged_dot", "blocked")
STATS = "moe_stats"  # the sow collection
ROUTER_BIAS = "router_bias"  # the variable collection holding the aux-loss-free bias


@dataclasses.dataclass(frozen=True)
class MoeConfig:
  num_experts: int
  top_k: int
  num_shared_experts: int
  expert_mlp_dim: int
  dispatch: str = "dropless"
  capacity_factor: float = 1.25
  # How dropless runs its grouped matmul: "ragged_dot" (jax.lax.ragged_dot: a grouped GEMM on
  # GPU/TPU, but on CPU XLA lowers it to E masked dense matmuls, measured 10x slower than one
  # batched matmul at tiny size) or "blocked" (each expert's rows padded to a multiple of
  # `matmul_block` rows, one batched matmul over the blocks: the same numbers, ≤ E·block rows
  # of padding).
  grouped_matmul: str = "ragged_dot"
  matmul_block: int = 64
  # The router's score function (routing.SCORE_FUNCTIONS); lm_moe sets it from its routing
  # options (workloads/lm/moe_workload.py), where a submission chooses it.
  score_function: str = "softmax"

  def __post_init__(self) -> None:
    if not 1 <= self.top_k <= self.num_experts:
      raise ValueError(f"top_k={self.top_k} must be between 1 and num_experts={self.num_experts}.")
    if self.dispatch not in DISPATCHES:
      raise ValueError(f"dispatch {self.dispatch!r} unknown; choose from {DISPATCHES}.")
    if self.grouped_matmul not in GROUPED_MATMULS:
      raise ValueError(f"grouped_matmul {self.grouped_matmul!r} unknown; choose from "
                       f"{GROUPED_MATMULS}.")
    if self.score_function not in routing.SCORE_FUNCTIONS:
      raise ValueError(f"score_function {self.score_function!r} unknown; choose from "
                       f"{routing.SCORE_FUNCTIONS}.")
    if self.capacity_factor <= 0:
      raise ValueError(f"capacity_factor={self.capacity_factor} must be above 0.")

  def capacity(self, num_tokens: int) -> int:
    return max(1, math.ceil(self.capacity_factor * num_tokens * self.top_k / self.num_experts))


def _blocked_layout(group_sizes_E: jax.Array, num_rows: int,
                    block: int) -> tuple[jax.Array, jax.Array, int]:
  """For rows sorted by group: each row's place in a layout where every group starts on a
  multiple of `block` [P], the group of each block [N], and N (a static bound)."""
  num_groups = group_sizes_E.shape[0]
  num_blocks = -(-num_rows // block) + num_groups
  padded_E = -(-group_sizes_E // block) * block
  start_E = jnp.cumsum(group_sizes_E) - group_sizes_E
  padded_start_E = jnp.cumsum(padded_E) - padded_E
  row_P = jnp.arange(num_rows)
  group_P = jnp.searchsorted(jnp.cumsum(group_sizes_E), row_P, side="right")
  place_P = padded_start_E[group_P] + row_P - start_E[group_P]
  block_group_N = jnp.searchsorted(jnp.cumsum(padded_E), jnp.arange(num_blocks) * block,
                                   side="right")
  return place_P, jnp.minimum(block_group_N, num_groups - 1), num_blocks


def _grouped_mlp(x_PxD: jax.Array, group_sizes_E: jax.Array, wi_ExDxF: jax.Array,
                 wo_ExFxD: jax.Array, activation: Callable[[jax.Array], jax.Array],
                 method: str, block: int) -> jax.Array:
  """Row p of the sorted pairs through the MLP of its expert (groups of consecutive rows)."""
  if method == "ragged_dot":
    h_PxF = activation(jax.lax.ragged_dot(x_PxD, wi_ExDxF, group_sizes_E))
    return jax.lax.ragged_dot(h_PxF, wo_ExFxD, group_sizes_E)
  place_P, block_group_N, num_blocks = _blocked_layout(group_sizes_E, x_PxD.shape[0], block)
  x_SxD = jnp.zeros((num_blocks * block, x_PxD.shape[1]), x_PxD.dtype).at[place_P].set(x_PxD)
  x_NxBxD = x_SxD.reshape(num_blocks, block, -1)
  h_NxBxF = activation(jnp.einsum("nbd,ndf->nbf", x_NxBxD, wi_ExDxF[block_group_N]))
  y_NxBxD = jnp.einsum("nbf,nfd->nbd", h_NxBxF, wo_ExFxD[block_group_N])
  return y_NxBxD.reshape(num_blocks * block, -1)[place_P]


def dropless_experts(x_TxD: jax.Array, experts_TxK: jax.Array, gates_TxK: jax.Array,
                     wi_ExDxF: jax.Array, wo_ExFxD: jax.Array,
                     activation: Callable[[jax.Array], jax.Array],
                     method: str = "ragged_dot", block: int = 64) -> jax.Array:
  """Σ_k gate · expert_k(x): the (token, expert) pairs sorted by expert, a grouped MLP, unsorted."""
  tokens, top_k = experts_TxK.shape
  num_experts = wi_ExDxF.shape[0]
  experts_P = experts_TxK.reshape(-1)  # P = T·K pairs, token-major
  order_P = jnp.argsort(experts_P, stable=True)
  group_sizes_E = jnp.bincount(experts_P, length=num_experts).astype(jnp.int32)
  y_PxD = _grouped_mlp(x_TxD[order_P // top_k], group_sizes_E, wi_ExDxF, wo_ExFxD, activation,
                       method, block)
  y_TxKxD = y_PxD[jnp.argsort(order_P)].reshape(tokens, top_k, -1)
  return jnp.einsum("tk,tkd->td", gates_TxK.astype(y_TxKxD.dtype), y_TxKxD)


def capacity_experts(x_TxD: jax.Array, experts_TxK: jax.Array, gates_TxK: jax.Array,
                     wi_ExDxF: jax.Array, wo_ExFxD: jax.Array,
                     activation: Callable[[jax.Array], jax.Array],
                     capacity: int) -> tuple[jax.Array, jax.Array]:
  """(Σ_k gate · expert_k(x) over the kept pairs [T, D], dropped pairs per token [T])."""
  tokens, top_k = experts_TxK.shape
  num_experts = wi_ExDxF.shape[0]
  experts_P = experts_TxK.T.reshape(-1)  # choice-major: all first choices, then second, ...
  onehot_PxE = jax.nn.one_hot(experts_P, num_experts, dtype=jnp.int32)
  position_P = jnp.sum((jnp.cumsum(onehot_PxE, axis=0) - 1) * onehot_PxE, axis=1)
  kept_P = position_P < capacity
  dummy = num_experts * capacity  # one extra row that dropped pairs write to and read from
  slot_P = jnp.where(kept_P, experts_P * capacity + position_P, dummy)
  token_P = jnp.tile(jnp.arange(tokens), top_k)
  buffer_SxD = jnp.zeros((dummy + 1, x_TxD.shape[1]), x_TxD.dtype).at[slot_P].set(x_TxD[token_P])
  x_ExCxD = buffer_SxD[:dummy].reshape(num_experts, capacity, -1)
  h_ExCxF = activation(jnp.einsum("ecd,edf->ecf", x_ExCxD, wi_ExDxF))
  y_ExCxD = jnp.einsum("ecf,efd->ecd", h_ExCxF, wo_ExFxD)
  y_SxD = jnp.concatenate([y_ExCxD.reshape(dummy, -1), jnp.zeros_like(y_ExCxD[0, :1])], axis=0)
  weight_P = jnp.where(kept_P, gates_TxK.T.reshape(-1), 0.0).astype(y_SxD.dtype)
  y_KxTxD = (y_SxD[slot_P] * weight_P[:, None]).reshape(top_k, tokens, -1)
  dropped_T = jnp.sum(~kept_P.reshape(top_k, tokens), axis=0)
  return y_KxTxD.sum(axis=0), dropped_T


class MoeMlp(nn.Module):
  """Routed experts (+ shared experts) in place of a block's MLP; [B, L, D] → [B, L, D]."""

  moe: MoeConfig
  activation: Callable[[jax.Array], jax.Array]
  kernel_init: nn.initializers.Initializer

  def _kernel(self, name: str, shape: tuple[int, ...],
              axes: tuple[str | None, ...]) -> jax.Array:
    """Expert kernels [E, in, out] initialised per expert like a Dense kernel [in, out]."""
    init = jax.vmap(self.kernel_init, in_axes=(0, None, None))
    per_expert = lambda key, shape, dtype=jnp.float32: init(  # noqa: E731
        jax.random.split(key, shape[0]), shape[1:], dtype)
    return self.param(name, nn.with_logical_partitioning(per_expert, axes), shape)

  @nn.compact
  def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
    m = self.moe
    batch, length, width = x_BxLxD.shape
    x_TxD = x_BxLxD.reshape(batch * length, width)
    router = nn.Dense(m.num_experts, use_bias=False, name="router", dtype=jnp.float32,
                      param_dtype=jnp.float32,
                      kernel_init=nn.with_logical_partitioning(self.kernel_init, ("embed", None)))
    logits_TxE = router(x_TxD.astype(jnp.float32))
    bias_E = self.variable(ROUTER_BIAS, "bias", jnp.zeros, (m.num_experts,), jnp.float32).value
    experts_TxK, gates_TxK, probs_TxE = routing.top_k_routing(logits_TxE, bias_E, m.top_k,
                                                              m.score_function)
    wi_ExDxF = self._kernel("wi", (m.num_experts, width, m.expert_mlp_dim),
                            ("expert", "embed", "mlp"))
    wo_ExFxD = self._kernel("wo", (m.num_experts, m.expert_mlp_dim, width),
                            ("expert", "mlp", "embed"))
    if m.dispatch == "dropless":
      y_TxD = dropless_experts(x_TxD, experts_TxK, gates_TxK, wi_ExDxF, wo_ExFxD, self.activation,
                               m.grouped_matmul, m.matmul_block)
      dropped_T = jnp.zeros((batch * length,), jnp.int32)
    else:
      y_TxD, dropped_T = capacity_experts(x_TxD, experts_TxK, gates_TxK, wi_ExDxF, wo_ExFxD,
                                          self.activation, m.capacity(batch * length))
    y_BxLxD = y_TxD.reshape(batch, length, width).astype(x_BxLxD.dtype)
    if m.num_shared_experts:
      shared_width = m.num_shared_experts * m.expert_mlp_dim
      dense = lambda features, name, axes: nn.Dense(  # noqa: E731
          features, use_bias=False, name=name,
          kernel_init=nn.with_logical_partitioning(self.kernel_init, axes))
      h_BxLxF = self.activation(dense(shared_width, "shared_wi", ("embed", "mlp"))(x_BxLxD))
      y_BxLxD = y_BxLxD + dense(width, "shared_wo", ("mlp", "embed"))(h_BxLxF)
    selected_TxE = jax.nn.one_hot(experts_TxK, m.num_experts, dtype=jnp.float32).sum(axis=1)
    for name, value in (("logits", logits_TxE), ("probs", probs_TxE),
                        ("selected", selected_TxE), ("dropped", dropped_T)):
      self.sow(STATS, name, value.reshape(batch, length, *value.shape[1:]))
    return y_BxLxD
