"""AdamW, linear warmup then UBA, the unified budget-aware schedule (one stage, shape knob phi).

Schedule: Tang et al., *Stepsize anything: A unified learning rate schedule for
budgeted-iteration training* (2025): lr = peak * 2 (1 + cos(pi z)) / (2 phi + (2 - phi)(1 +
cos(pi z))) with z the fraction of the post-warmup budget spent; phi = 2 is cosine decay
(`submissions/lib/schedules/uba.py`, which notes the formula is written from the paper as
recalled and implements its single-stage case). Unit test (tests/submissions/schedules_test.py):
the rate at z = 0, 1/2 and 1 for phi = 1 and 4, and phi = 2 against cosine, worked by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.uba import warmup_uba

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "phi": 1.0,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_uba(hparams.learning_rate, workload.step_hint, hparams.warmup_factor, hparams.phi)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
