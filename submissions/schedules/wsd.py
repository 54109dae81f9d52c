"""AdamW, warmup-stable-decay (WSD): constant peak, then a cooldown of chosen length and shape.

Schedule: Hu et al., *MiniCPM* (2024); cooldown shapes (linear, 1 - sqrt, cosine) as compared
by Hägele et al., *Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations*
(NeurIPS 2024) (`submissions/lib/schedules/wsd.py`). Hyperparameters `cooldown_fraction` (of
step_hint) and `cooldown_shape`. Unit test (tests/submissions/schedules_test.py): warmup,
stable phase, a quarter and half way through the cooldown for each shape, and step_hint,
against the formulas worked by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.wsd import wsd

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "cooldown_fraction": 0.2,
    "cooldown_shape": "1-sqrt",
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = wsd(hparams.learning_rate, workload.step_hint, hparams.warmup_factor,
                 hparams.cooldown_fraction, hparams.cooldown_shape)
  return optax.adamw(schedule, b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.weight_decay)
