"""Losses shared by the workloads, in the shape AlgoPerf's `loss_fn` returns them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from algoperf_lab import spec


def softmax_cross_entropy(label_batch: jax.Array, logits_batch: jax.Array,
                          mask_batch: jax.Array | None,
                          label_smoothing: float | jax.Array) -> spec.LossDict:
  """Cross-entropy per example (integer labels); `n_valid_examples` counts unmasked ones.

  `label_smoothing` may be a traced value; a Python 0 takes the integer-label fast path.
  """
  if isinstance(label_smoothing, (int, float)) and label_smoothing == 0.0:
    per_label = optax.softmax_cross_entropy_with_integer_labels(logits_batch, label_batch)
  else:
    one_hot = jax.nn.one_hot(label_batch, logits_batch.shape[-1], dtype=logits_batch.dtype)
    per_label = optax.softmax_cross_entropy(
        logits_batch, optax.smooth_labels(one_hot, label_smoothing))
  mask = jnp.ones_like(per_label) if mask_batch is None else mask_batch.astype(per_label.dtype)
  per_example = per_label * mask
  return {"summed": per_example.sum(), "n_valid_examples": mask.sum(), "per_example": per_example}
