"""AdamW, SGDR: cosine annealing with warm restarts, `num_cycles` cycles ending at step_hint.

Schedule: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts* (ICLR
2017), Eq. 5 with eta_min = 0; each cycle `cycle_mult` (T_mult) times longer than the last, the
number of cycles fixed so the budget ends a cycle (`submissions/lib/schedules/sgdr.py`). Unit
test (tests/submissions/schedules_test.py): cycle boundaries and the rate at each cycle's start
and middle, for cycle_mult 1 and 2, against values worked by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.sgdr import warmup_sgdr

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "num_cycles": 3,
    "cycle_mult": 2.0,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_sgdr(hparams.learning_rate, workload.step_hint, hparams.warmup_factor,
                     hparams.num_cycles, hparams.cycle_mult)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
