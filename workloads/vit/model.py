"""Vision transformer (ViT) classifier, after AlgoPerf's imagenet_vit model.

Patches embedded by a strided convolution, fixed 2-D sin-cos (or learned) positions, encoder
blocks with LayerNorm (pre- or post-norm), a GELU (or gated GELU) MLP, global average pooling
(or attention pooling with a learned probe), a tanh pre-logits layer and a zero-initialised head.

Shape suffixes: B batch, H/W image height/width, C image channels, G patches per side, P
patches (G·G), Q probe tokens, D model width, N heads, K head width, F MLP width, M classes.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from workloads.layers import Dropout

POSEMBS = ("sincos2d", "learned")
POOLINGS = ("gap", "map")
NORM_POSITIONS = ("pre", "post")
MLPS = ("plain", "glu")


@dataclasses.dataclass(frozen=True)
class VitModelConfig:
  num_classes: int
  patch_size: int
  width: int
  depth: int
  num_heads: int
  mlp_dim: int
  posemb: str = "sincos2d"
  pooling: str = "gap"  # "gap": mean over patches; "map": attention pooling with a probe
  norm_position: str = "pre"  # "pre": x + f(norm(x)); "post": norm(x + f(x))
  mlp: str = "plain"  # "glu": gelu(x W) * (x V) before the output projection
  pre_logits: bool = True  # a tanh(Dense(width)) layer before the head
  head_zero_init: bool = True
  dropout_rate: float = 0.0

  def __post_init__(self) -> None:
    if self.width % self.num_heads:
      raise ValueError(f"width={self.width} is not divisible by num_heads={self.num_heads}.")
    if self.posemb == "sincos2d" and self.width % 4:
      raise ValueError(f"sincos2d position embeddings need width % 4 == 0, got {self.width}.")
    for field, allowed in (("posemb", POSEMBS), ("pooling", POOLINGS),
                           ("norm_position", NORM_POSITIONS), ("mlp", MLPS)):
      if getattr(self, field) not in allowed:
        raise ValueError(f"{field} {getattr(self, field)!r} unknown; choose from {allowed}.")

  @property
  def head_dim(self) -> int:
    return self.width // self.num_heads


_XAVIER = nn.initializers.xavier_uniform()
_BIAS = nn.initializers.normal(stddev=1e-6)


def _partitioned(init: nn.initializers.Initializer,
                 names: tuple[str | None, ...]) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(init, names)


def dense(features: int | tuple[int, ...], axes: tuple[str | None, ...], name: str,
          num_contracted: int = 1,
          kernel_init: nn.initializers.Initializer = _XAVIER) -> nn.DenseGeneral:
  """A DenseGeneral with kernel axes `axes` (inputs, then outputs) and bias axes the outputs'."""
  num_outputs = 1 if isinstance(features, int) else len(features)
  return nn.DenseGeneral(features, axis=tuple(range(-num_contracted, 0)), name=name,
                         kernel_init=_partitioned(kernel_init, axes),
                         bias_init=_partitioned(_BIAS, axes[-num_outputs:]))


def layer_norm(name: str) -> nn.LayerNorm:
  return nn.LayerNorm(epsilon=1e-6, name=name,
                      scale_init=_partitioned(nn.initializers.ones, ("embed",)),
                      bias_init=_partitioned(nn.initializers.zeros, ("embed",)))


def sincos_2d(patches_per_side: int, width: int, temperature: float = 10_000.0) -> np.ndarray:
  """Fixed positions [1, P, D]: sin and cos of the row and of the column at D/4 frequencies."""
  quarter = width // 4
  freq_D4 = temperature ** (-np.arange(quarter) / quarter)
  rows_P, cols_P = (a.reshape(-1) for a in np.mgrid[:patches_per_side, :patches_per_side])
  row_angle_PxD4, col_angle_PxD4 = rows_P[:, None] * freq_D4, cols_P[:, None] * freq_D4
  table_PxD = np.concatenate([np.sin(col_angle_PxD4), np.cos(col_angle_PxD4),
                              np.sin(row_angle_PxD4), np.cos(row_angle_PxD4)], axis=1)
  return table_PxD[None].astype(np.float32)


class Attention(nn.Module):
  """Multi-head attention of queries from one sequence over keys/values from another."""

  config: VitModelConfig

  @nn.compact
  def __call__(self, q_BxQxD: jax.Array, kv_BxPxD: jax.Array) -> jax.Array:
    c = self.config
    projection = lambda name: dense((c.num_heads, c.head_dim),  # noqa: E731
                                    ("embed", "heads", "head_dim"), name)
    out_BxQxNxK = jax.nn.dot_product_attention(projection("query")(q_BxQxD),
                                               projection("key")(kv_BxPxD),
                                               projection("value")(kv_BxPxD))
    return dense(c.width, ("heads", "head_dim", "embed"), "out", num_contracted=2)(out_BxQxNxK)


class Mlp(nn.Module):
  config: VitModelConfig
  glu: bool

  @nn.compact
  def __call__(self, x_BxPxD: jax.Array, dropout_rate: float | jax.Array,
               deterministic: bool) -> jax.Array:
    c = self.config
    h_BxPxF = nn.gelu(dense(c.mlp_dim, ("embed", "mlp"), "wi")(x_BxPxD))
    if self.glu:
      h_BxPxF = h_BxPxF * dense(c.mlp_dim, ("embed", "mlp"), "wi_linear")(x_BxPxD)
    h_BxPxF = Dropout()(h_BxPxF, dropout_rate, deterministic)
    return dense(c.width, ("mlp", "embed"), "wo")(h_BxPxF)


class EncoderBlock(nn.Module):
  config: VitModelConfig

  @nn.compact
  def __call__(self, x_BxPxD: jax.Array, dropout_rate: float | jax.Array,
               deterministic: bool) -> jax.Array:
    c = self.config
    attention = Attention(c, name="attention")
    mlp = Mlp(c, glu=c.mlp == "glu", name="mlp")
    sublayers = (("attention", lambda y: attention(y, y)),
                 ("mlp", lambda y: mlp(y, dropout_rate, deterministic)))
    for name, sublayer in sublayers:
      norm = layer_norm(f"{name}_norm")
      dropout = lambda y: Dropout()(y, dropout_rate, deterministic)  # noqa: E731
      if c.norm_position == "pre":
        x_BxPxD = x_BxPxD + dropout(sublayer(norm(x_BxPxD)))
      else:
        x_BxPxD = norm(x_BxPxD + dropout(sublayer(x_BxPxD)))
    return x_BxPxD


class MapHead(nn.Module):
  """Multi-head attention pooling: one learned probe attends over the patches."""

  config: VitModelConfig

  @nn.compact
  def __call__(self, x_BxPxD: jax.Array, dropout_rate: float | jax.Array,
               deterministic: bool) -> jax.Array:
    c = self.config
    probe_1xQxD = self.param("probe", _partitioned(_XAVIER, (None, None, "embed")),
                             (1, 1, c.width))
    probe_BxQxD = jnp.broadcast_to(probe_1xQxD, (x_BxPxD.shape[0], 1, c.width))
    y_BxQxD = Attention(c, name="attention")(probe_BxQxD, x_BxPxD)
    mlp_in_BxQxD = layer_norm("mlp_norm")(y_BxQxD)
    y_BxQxD = y_BxQxD + Mlp(c, glu=False, name="mlp")(mlp_in_BxQxD, dropout_rate, deterministic)
    return y_BxQxD[:, 0]


class LearnedPositions(nn.Module):
  """A learned table [1, P, D] (its leaf is named `embedding`, so its type is EMBEDDING)."""

  num_patches: int
  width: int

  @nn.compact
  def __call__(self) -> jax.Array:
    init = nn.initializers.normal(stddev=self.width ** -0.5)
    return self.param("embedding", _partitioned(init, (None, None, "embed")),
                      (1, self.num_patches, self.width))


class VisionTransformer(nn.Module):
  """Images [B, H, W, C] → class logits [B, M]."""

  config: VitModelConfig

  @nn.compact
  def __call__(self, images_BxHxWxC: jax.Array, *, dropout_rate: float | jax.Array = 0.0,
               deterministic: bool = True) -> jax.Array:
    c = self.config
    patches_BxGxGxD = nn.Conv(
        c.width, (c.patch_size, c.patch_size), strides=(c.patch_size, c.patch_size),
        padding="VALID", name="patch_embed",
        kernel_init=_partitioned(nn.initializers.lecun_normal(), (None, None, None, "embed")),
        bias_init=_partitioned(nn.initializers.zeros, ("embed",)))(images_BxHxWxC)
    batch, rows, cols, _ = patches_BxGxGxD.shape
    if rows != cols:
      raise ValueError(f"images must be square; got {images_BxHxWxC.shape[1:3]}.")
    x_BxPxD = patches_BxGxGxD.reshape(batch, rows * cols, c.width)
    if c.posemb == "sincos2d":
      x_BxPxD = x_BxPxD + jnp.asarray(sincos_2d(rows, c.width))
    else:
      x_BxPxD = x_BxPxD + LearnedPositions(x_BxPxD.shape[1], c.width, name="pos_embedding")()
    x_BxPxD = Dropout()(x_BxPxD, dropout_rate, deterministic)
    for layer in range(c.depth):
      x_BxPxD = EncoderBlock(c, name=f"block_{layer}")(x_BxPxD, dropout_rate, deterministic)
    if c.norm_position == "pre":
      x_BxPxD = layer_norm("encoder_norm")(x_BxPxD)
    if c.pooling == "gap":
      x_BxD = x_BxPxD.mean(axis=1)
    else:
      x_BxD = MapHead(c, name="map_head")(x_BxPxD, dropout_rate, deterministic)
    if c.pre_logits:
      x_BxD = jnp.tanh(dense(c.width, ("embed", "pre_logits"), "pre_logits")(x_BxD))
    head_init = nn.initializers.zeros if c.head_zero_init else _XAVIER
    return dense(c.num_classes, ("embed", "classes"), "head", kernel_init=head_init)(x_BxD)
