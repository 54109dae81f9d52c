"""AdamW with linear warmup and cosine decay over `step_hint`, in the optax form.

The whole training algorithm is `make_optimizer`; the lab builds one jitted, buffer-donating
train step around it.

Loshchilov & Hutter 2019 ("Decoupled Weight Decay Regularization") as PyTorch's AdamW computes
it (torch/optim/adamw.py): x_t = x_{t−1} (1 − η_t λ) − η_t m̂_t / (√v̂_t + ε). optax.adamw is the
same: its decay also multiplies the scheduled η_t (the paper multiplies λ by the schedule
multiplier only, not the base rate), so no wrapper is needed. tests/reference/adamw_test.py
runs it beside a port of PyTorch's `_single_tensor_adamw`. AlgoPerf's AdamW baseline
(mlcommons/algorithmic-efficiency, algorithms/archived_paper_baselines/adamw/jax/submission.py)
is this same optax.adamw under the same warmup + cosine schedule (checked against a port of
AlgoPerf's schedule in tests/reference/nadamw_test.py).

Defaults: β1 = 0.9 and ε = 1e-8 are Kingma & Ba's and PyTorch's; learning_rate 0.002, β2 0.99,
weight_decay 0.05 and warmup_factor 0.05 (warmup over 5% of step_hint, then cosine to 0) are
this lab's own settings for its tiny workloads, set by hand when the lab was founded (no sweep
is recorded); β2 0.99 rather than 0.999 suits runs of a few hundred steps.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return optax.adamw(schedule, b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.weight_decay)
