"""AdamW, linear warmup then cosine decay to 10% of the peak at step_hint (the usual LLM recipe).

Schedule: Loshchilov & Hutter, *SGDR* (ICLR 2017), Eq. 5 without restarts, with eta_min = 10%
of the peak as in e.g. Hoffmann et al., *Chinchilla* (2022) (`submissions/lib/schedules/cosine.py`).
Unit test (tests/submissions/schedules_test.py): the rate at the warmup's middle and end,
halfway through the decay and at step_hint, against the formula worked by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

FINAL_LR_FRACTION = 0.1
HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor,
                       FINAL_LR_FRACTION)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
