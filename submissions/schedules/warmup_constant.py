"""AdamW, linear warmup then a constant learning rate (no decay: the reference for WSD and WSM).

Schedule: `submissions/lib/schedules/constant.py`, Hugging Face `transformers`'
`get_constant_schedule_with_warmup`; the constant phase is the "stable" phase of WSD (Hu et al.,
*MiniCPM*, 2024) run to the end. Reference test: tests/reference/schedules_test.py (the rate over
step_hint and 40 AdamW iterates against a port of transformers' schedule). Unit test
(tests/submissions/schedules_test.py): values worked by hand.

Defaults: learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and warmup_factor 0.05 are the
lab's AdamW baseline's (submissions/baselines/adamw.py), so the schedule is the only difference.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.constant import warmup_constant

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_constant(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
