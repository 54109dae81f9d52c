"""AdamW, linear warmup then cosine decay to 0 at step_hint (the AlgoPerf baseline schedule).

Schedule: Loshchilov & Hutter, *SGDR* (ICLR 2017), Eq. 5 without restarts
(`submissions/lib/schedules/cosine.py`), as Hugging Face `transformers`'
`get_cosine_schedule_with_warmup` computes it: the update after t < w steps runs at peak * t / w
(the first at 0), then peak * (1 + cos(pi (t - w) / (T - w))) / 2. Reference test:
tests/reference/schedules_test.py (the rate over step_hint and 40 AdamW iterates against a port of
transformers' schedule; after step_hint transformers' cosine rises again, the lab's holds 0). Unit
test (tests/submissions/schedules_test.py): values worked by hand.

Defaults: learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and warmup_factor 0.05 are the
lab's AdamW baseline's (submissions/baselines/adamw.py), so the schedule is the only difference.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

FINAL_LR_FRACTION = 0.0
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
