"""Mechanic (Cutkosky, Defazio & Mehta 2023) learning the scale s of AdamW's updates online.

submissions/lib/mechanic.py around optax.adamw: by default the authors' package
(optimizedlearning/mechanic, src/mechanic_pytorch/mechanic.py), checked against a port of it
in tests/reference/mechanic_test.py; `mechanic_form="optax"` is their JAX code
(optax.contrib.mechanize), checked against it there too. Both keep Δ in the state here
(`store_delta`, the authors' option). The scale Σs is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from algoperf_lab import spec
from submissions.lib import lr_free, mechanic

# Defaults of the authors' code (mechanic_pytorch `mechanize`): s_decay (here
# mechanic_weight_decay) 0.01, six betas 0.9..0.999999, s_init 1e-8, eps 1e-8; the tuner state
# as its `_init_state` starts it (s = 0, running max 1e-6). Departure: store_delta=True (their
# default is False, recomputing Δ from the parameters; in float32 that loses Δ while (Σs)·u is
# below the parameters' resolution, see submissions/lib/mechanic.py). mechanic_form="optax"
# selects the authors' JAX code instead (there s_init 1e-6 is the default). The base is AdamW
# with peak 1 under the schedule one would use anyway (their README: lr=1), here the lab's
# cosine decay, betas (0.9, 0.999) (PyTorch's AdamW defaults), and no decay of its own
# (PyTorch's AdamW would decay by 0.01; the lab leaves decay to Mechanic's λ).
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "base_weight_decay": 0.0,
    "mechanic_weight_decay": 0.01,
    "s_init": 1e-8,
    "store_delta": True,
    "mechanic_form": "pytorch",
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  base = optax.adamw(
      lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.base_weight_decay)
  return mechanic.mechanize(base, weight_decay=hparams.mechanic_weight_decay,
                            s_init=hparams.s_init, store_delta=hparams.store_delta,
                            form=hparams.mechanic_form)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"s": jnp.sum(lr_free.find_state(opt_state, mechanic.MechanicState).s)}
