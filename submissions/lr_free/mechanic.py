"""Mechanic (Cutkosky, Defazio & Mehta 2023) learning the scale s of AdamW's updates online.

submissions/lib/mechanic.py around optax.adamw: Algorithm 1 of arXiv:2306.00144, checked by
hand in tests/submissions/lr_free_test.py. It replaces optax.contrib.mechanize, which
recomputes the summed base updates Δ from the parameters and so, with s_init = 1e-8, never
moves parameters of order 1 in float32 (the test shows it). The scale Σs is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from algoperf_lab import spec
from submissions.lib import lr_free, mechanic

# Defaults of the paper (Alg. 1) and the authors' optax code: lambda 0.01, s_init 1e-8, six
# betas, eps 1e-8; the base is AdamW with peak 1 under the schedule one would use anyway
# (here the lab's cosine decay), betas (0.9, 0.999), no decay of its own.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "base_weight_decay": 0.0,
    "mechanic_weight_decay": 0.01,
    "s_init": 1e-8,
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  base = optax.adamw(
      lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.base_weight_decay)
  return mechanic.mechanize(base, weight_decay=hparams.mechanic_weight_decay,
                            s_init=hparams.s_init)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"s": jnp.sum(lr_free.find_state(opt_state, mechanic.MechanicState).s)}
