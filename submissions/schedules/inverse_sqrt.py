"""AdamW, linear warmup then inverse square root decay (the original Transformer schedule).

Schedule: Vaswani et al., *Attention Is All You Need* (NeurIPS 2017), Eq. 3, rescaled to peak at
the end of warmup: lr = learning_rate * min(t / w, sqrt(w / t))
(`submissions/lib/schedules/inverse_sqrt.py`), which is Hugging Face `transformers`'
`get_inverse_sqrt_schedule(num_warmup_steps=w)`. Reference test: tests/reference/schedules_test.py
(the rate over step_hint and 40 AdamW iterates against a port of transformers' schedule). Unit test
(tests/submissions/schedules_test.py): values worked by hand.

Defaults: learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and warmup_factor 0.05 are the
lab's AdamW baseline's (submissions/baselines/adamw.py), so the schedule is the only difference.
(The paper's own constants, d_model^-0.5 and 4,000 warmup steps, set the peak; here the peak is
learning_rate and w a fraction of step_hint.)
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.inverse_sqrt import warmup_inverse_sqrt

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_inverse_sqrt(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
