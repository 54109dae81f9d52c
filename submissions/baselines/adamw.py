"""AdamW with linear warmup and cosine decay over `step_hint`, in the optax form.

The whole training algorithm is `make_optimizer`; the lab builds one jitted, buffer-donating
train step around it.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return optax.adamw(schedule, b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.weight_decay)
