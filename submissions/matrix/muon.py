"""Muon on the hidden matrices, AdamW on the rest; linear warmup and cosine decay over `step_hint`.

Muon, MomentUm Orthogonalized by Newton-Schulz (Jordan et al. 2024,
https://kellerjordan.github.io/posts/muon/; Bernstein & Newhouse 2024, "Old Optimizer, New
Norm", arXiv:2409.20325): Nesterov momentum of the gradient, replaced by the nearest
semi-orthogonal matrix (five quintic Newton-Schulz steps) and scaled by sqrt(max(1,
fan_out/fan_in)). optax.contrib.muon implements it and routes by `muon_weight_dimension_numbers`;
submissions/lib/param_labels.py builds that tree from the workload's parameter types and
shapes: 2-D weights and attention projections are Muon's, embeddings, the output layer,
norm gains and biases AdamW's, as Muon's authors prescribe. Defaults: Muon's reference
(lr 0.02, momentum 0.95, weight decay 0.01); AdamW's branch takes this lab's AdamW baseline
settings.
"""

from __future__ import annotations

from typing import Any

import optax
from optax import contrib

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine
from submissions.lib import param_labels

HPARAMS = {
    "learning_rate": 0.02,
    "beta": 0.95,
    "weight_decay": 0.01,
    "adam_learning_rate": 0.002,
    "adam_b1": 0.9,
    "adam_b2": 0.99,
    "adam_weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  def schedule(peak: float) -> optax.Schedule:
    return warmup_cosine(peak, workload.step_hint, hparams.warmup_factor)

  return contrib.muon(
      schedule(hparams.learning_rate), beta=hparams.beta, weight_decay=hparams.weight_decay,
      adam_learning_rate=schedule(hparams.adam_learning_rate), adam_b1=hparams.adam_b1,
      adam_b2=hparams.adam_b2, adam_weight_decay=hparams.adam_weight_decay,
      muon_weight_dimension_numbers=param_labels.workload_hidden_matrices(workload))
