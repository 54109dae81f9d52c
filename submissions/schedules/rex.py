"""AdamW, linear warmup then REX decay to zero at step_hint.

Schedule: Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an Improved Schedule*
(MLSys 2022), lr = peak * (1 - z) / (1/2 + (1 - z) / 2) with z the fraction of the post-warmup
budget spent, sampled every step (`submissions/lib/schedules/rex.py`). The authors published no
code; Reference test: tests/reference/schedules_test.py checks the rate over step_hint and 40 AdamW
iterates against the paper's profile (tests/reference/ports/rex.py says where it was read and that
the popular `IvanVassi/REX_LR` code uses 0.1 + 0.9 (1 - z) in the denominator instead). Unit test
(tests/submissions/schedules_test.py): values worked by hand.

Defaults: REX has no hyperparameter of its own. The paper uses no warmup; the lab warms up over
warmup_factor of step_hint first (as every lab schedule does), then runs REX over the rest.
learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and warmup_factor 0.05 are the lab's AdamW
baseline's (submissions/baselines/adamw.py), so the schedule is the only difference.
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
