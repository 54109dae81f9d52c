"""Decoder-only transformer: RMSNorm, causal attention with rotary positions, tied embeddings;
optionally routed experts in place of each block's MLP (`LmModelConfig.moe`, the lm_moe workload).

Shape suffixes: B batch, L sequence length, D model width, N heads, H head width, F MLP
width, V vocabulary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from workloads.layers import Dropout
from workloads.lm.moe import MoeConfig, MoeMlp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gelu": nn.gelu, "silu": nn.silu, "tanh": jnp.tanh, "relu": nn.relu}
NORM_POSITIONS = ("pre", "post")


@dataclasses.dataclass(frozen=True)
class LmModelConfig:
  vocab_size: int
  num_layers: int
  d_model: int
  num_heads: int
  mlp_dim: int
  max_seq_len: int
  activation: str = "gelu"
  norm_position: str = "pre"  # "pre": x + f(norm(x)); "post": norm(x + f(x))
  tie_embeddings: bool = True
  dropout_rate: float = 0.0
  init_scale: float = 1.0
  rope_base: float = 10000.0
  moe: MoeConfig | None = None  # when set, every block's MLP is routed experts (workloads/lm/moe.py)

  def __post_init__(self) -> None:
    if self.d_model % self.num_heads:
      raise ValueError(f"d_model={self.d_model} is not divisible by num_heads={self.num_heads}.")
    if (self.d_model // self.num_heads) % 2:
      raise ValueError("the head width d_model/num_heads must be even for rotary positions.")
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"activation {self.activation!r} unknown; choose from {sorted(ACTIVATIONS)}.")
    if self.norm_position not in NORM_POSITIONS:
      raise ValueError(f"norm_position {self.norm_position!r} unknown; choose from {NORM_POSITIONS}.")

  @property
  def head_dim(self) -> int:
    return self.d_model // self.num_heads


def _kernel_init(config: LmModelConfig) -> nn.initializers.Initializer:
  return nn.initializers.variance_scaling(config.init_scale, "fan_in", "truncated_normal")


def _partitioned(init: nn.initializers.Initializer,
                 names: tuple[str | None, ...]) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(init, names)


def rotary_embedding(x_BxLxNxH: jax.Array, base: float) -> jax.Array:
  """Rotates pairs of channels by a position-dependent angle (RoPE)."""
  _, length, _, width = x_BxLxNxH.shape
  half = width // 2
  inv_freq_h = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
  angle_LxH = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq_h[None, :]
  sin, cos = jnp.sin(angle_LxH)[None, :, None, :], jnp.cos(angle_LxH)[None, :, None, :]
  x1, x2 = x_BxLxNxH[..., :half], x_BxLxNxH[..., half:]
  return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x_BxLxNxH.dtype)


class CausalSelfAttention(nn.Module):
  config: LmModelConfig

  @nn.compact
  def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
    c = self.config
    projection = lambda name: nn.DenseGeneral(  # noqa: E731
        features=(c.num_heads, c.head_dim), use_bias=False, name=name,
        kernel_init=_partitioned(_kernel_init(c), ("embed", "heads", "head_dim")))
    q_BxLxNxH = rotary_embedding(projection("query")(x_BxLxD), c.rope_base)
    k_BxLxNxH = rotary_embedding(projection("key")(x_BxLxD), c.rope_base)
    v_BxLxNxH = projection("value")(x_BxLxD)
    out_BxLxNxH = jax.nn.dot_product_attention(q_BxLxNxH, k_BxLxNxH, v_BxLxNxH, is_causal=True)
    return nn.DenseGeneral(
        features=c.d_model, axis=(-2, -1), use_bias=False, name="out",
        kernel_init=_partitioned(_kernel_init(c), ("heads", "head_dim", "embed")))(out_BxLxNxH)


class Mlp(nn.Module):
  config: LmModelConfig

  @nn.compact
  def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
    c = self.config
    h_BxLxF = nn.Dense(c.mlp_dim, use_bias=False, name="wi",
                       kernel_init=_partitioned(_kernel_init(c), ("embed", "mlp")))(x_BxLxD)
    h_BxLxF = ACTIVATIONS[c.activation](h_BxLxF)
    return nn.Dense(c.d_model, use_bias=False, name="wo",
                    kernel_init=_partitioned(_kernel_init(c), ("mlp", "embed")))(h_BxLxF)


def rms_norm(name: str) -> nn.RMSNorm:
  return nn.RMSNorm(scale_init=_partitioned(nn.initializers.ones, ("embed",)), name=name)


class Block(nn.Module):
  config: LmModelConfig

  @nn.compact
  def __call__(self, x_BxLxD: jax.Array, dropout_rate: float | jax.Array,
               deterministic: bool) -> jax.Array:
    c = self.config
    mlp = (Mlp(c, name="mlp") if c.moe is None else
           MoeMlp(c.moe, ACTIVATIONS[c.activation], _kernel_init(c), name="mlp"))
    sublayers = (CausalSelfAttention(c, name="attention"), mlp)
    for sublayer in sublayers:
      norm = rms_norm(f"{sublayer.name}_norm")
      dropout = lambda y: Dropout()(y, dropout_rate, deterministic)  # noqa: E731
      if self.config.norm_position == "pre":
        x_BxLxD = x_BxLxD + dropout(sublayer(norm(x_BxLxD)))
      else:
        x_BxLxD = norm(x_BxLxD + dropout(sublayer(x_BxLxD)))
    return x_BxLxD


class DecoderLm(nn.Module):
  """Token ids [B, L] → next-token logits [B, L, V]."""

  config: LmModelConfig

  @nn.compact
  def __call__(self, tokens_BxL: jax.Array, *, dropout_rate: float | jax.Array = 0.0,
               deterministic: bool = True) -> jax.Array:
    c = self.config
    embed = nn.Embed(c.vocab_size, c.d_model, name="embed",
                     embedding_init=_partitioned(nn.initializers.normal(stddev=1.0),
                                                 ("vocab", "embed")))
    x_BxLxD = embed(tokens_BxL)
    x_BxLxD = Dropout()(x_BxLxD, dropout_rate, deterministic)
    for layer in range(c.num_layers):
      x_BxLxD = Block(c, name=f"block_{layer}")(x_BxLxD, dropout_rate, deterministic)
    if c.norm_position == "pre":
      x_BxLxD = rms_norm("final_norm")(x_BxLxD)
    if c.tie_embeddings:
      return embed.attend(x_BxLxD) / jnp.sqrt(c.d_model)
    return nn.Dense(c.vocab_size, use_bias=False, name="unembed",
                    kernel_init=_partitioned(_kernel_init(c), ("embed", "vocab")))(x_BxLxD)
