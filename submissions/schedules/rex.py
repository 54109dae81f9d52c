"""AdamW, linear warmup then REX decay to zero at step_hint.

Schedule: Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an Improved
Schedule* (MLSys 2022), lr = peak * (1 - z) / (1/2 + (1 - z) / 2) with z the fraction of the
post-warmup budget spent (`submissions/lib/schedules/rex.py`). Unit test
(tests/submissions/schedules_test.py): the rate at z = 0, 1/2, 3/4 and 1, against the formula
worked by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.rex import warmup_rex

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_rex(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
