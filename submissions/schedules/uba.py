"""AdamW, linear warmup then UBA, the unified budget-aware schedule (one stage, shape knob phi).

Schedule: Tang et al., *Stepsize anything: A unified learning rate schedule for budgeted-iteration
training* (NeurIPS 2025): lr = peak * 2 (1 + cos(pi z)) / (2 phi + (2 - phi)(1 + cos(pi z))) with z
the fraction of the post-warmup budget spent; phi = 2 is cosine decay
(`submissions/lib/schedules/uba.py`, single stage, eta_min = 0). The authors published no code and
the paper's equation was not readable from here: Reference test: tests/reference/schedules_test.py
checks the rate for phi = 0.5, 1, 2 and 5 and 40 AdamW iterates for phi = 1 and 5 against that
expression written independently in float64 (tests/reference/ports/uba.py says where it was read),
and that phi = 2 is the cosine. Unit test (tests/submissions/schedules_test.py): values worked by
hand.

Defaults: phi 1 is the lab's choice (the rate held high for longer than cosine, REX's shape on the
cosine); the paper ties phi to the problem's condition number and gives no single default here. The
paper has no warmup; the lab's comes first. learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05
and warmup_factor 0.05 are the lab's AdamW baseline's (submissions/baselines/adamw.py), so the
schedule is the only difference.
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
