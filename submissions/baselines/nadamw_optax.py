"""NadamW, AlgoPerf's baseline, in the optax form: the same algorithm as `baselines/nadamw.py`.

AlgoPerf's `scale_by_nadam` chained with decoupled weight decay and a linear warmup + cosine
schedule over `step_hint` (submissions/lib/nadam.py), run through the lab's one jitted train
step like every optax-form submission, so a reference built on it pays for nothing it does not
use (no dropout masks at a rate of 0, no second jitted step of its own). The AlgoPerf-form file
stays for interoperability; tests/submissions/nadamw_forms_test.py shows the two give the same
iterates on the tiny LM, and tests/reference/nadamw_test.py checks this one against a port of
AlgoPerf's file.

Defaults: every value in HPARAMS, ε = 1e-8 and the schedule are AlgoPerf's self-tuning NadamW
baseline's (mlcommons/algorithmic-efficiency, algorithms/baselines/self_tuning/
jax_nadamw_full_budget.py); `label_smoothing` is read by the lab's step when given. The
AlgoPerf form's optional `grad_clip` is not offered here (the self-tuning baseline does not
clip).
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import nadamw as algoperf_form
from submissions.lib.nadam import nadamw
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = dict(algoperf_form.HPARAMS)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return nadamw(schedule, b1=1.0 - hparams.one_minus_beta1, b2=hparams.beta2,
                weight_decay=hparams.weight_decay)
