"""Layers shared by the workload models."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class Dropout(nn.Module):
  """Dropout whose rate may be a traced value (AlgoPerf submissions pass it into their jit).

  A Python rate of 0, or `deterministic=True`, is the identity and needs no 'dropout' rng.
  """

  @nn.compact
  def __call__(self, x: jax.Array, rate: float | jax.Array, deterministic: bool) -> jax.Array:
    if deterministic or (isinstance(rate, (int, float)) and rate == 0.0):
      return x
    keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))
